"""The firehose tracer (spec 17): publish.<x> and deliver.<q> copies on amq.rabbitmq.trace."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import BasicProperties, Broker, Channel, NotFound


@pytest.fixture
def traced(broker: Broker, ch: Channel) -> Channel:
    ch.queue_declare("trace")
    ch.queue_bind("trace", "amq.rabbitmq.trace", "#")
    broker.trace_on()
    return ch


def traces(ch: Channel) -> list[tuple[str, dict[str, Any], bytes]]:
    out = []
    while True:
        method, properties, body = ch.basic_get("trace", auto_ack=True)
        if method is None:
            return out
        out.append((method.routing_key, properties.headers, body))


def test_off_by_default_spec_17_1(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("trace")
    ch.queue_bind("trace", "amq.rabbitmq.trace", "#")
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"x")
    assert broker.queues["trace"].messages_ready == 0


def test_publish_trace_headers_spec_17_3_17_5_17_6(traced: Channel) -> None:
    traced.queue_declare("q")
    traced.basic_publish(
        "",
        "q",
        b"body",
        BasicProperties(content_type="text/plain", priority=3, headers={"CC": ["nowhere"]}),
    )
    [(key, headers, body)] = traces(traced)
    assert (key, body) == ("publish.", b"body")
    assert headers["exchange_name"] == ""
    assert headers["routing_keys"] == ["q", "nowhere"]
    assert headers["routed_queues"] == ["q"]
    assert headers["properties"]["content_type"] == "text/plain"
    assert headers["properties"]["priority"] == 3
    assert headers["user"] == "guest" and headers["vhost"] == "/"
    assert headers["channel"] == traced.channel_number
    assert headers["node"].startswith("rabbit@")


def test_unroutable_publish_is_traced_spec_17_3(traced: Channel) -> None:
    traced.exchange_declare("x", "direct")
    traced.basic_publish("x", "none", b"lost")
    [(key, headers, _)] = traces(traced)
    assert key == "publish.x" and headers["routed_queues"] == []


def test_get_and_deliver_are_traced_spec_17_4(broker: Broker, traced: Channel) -> None:
    traced.queue_declare("q")
    traced.basic_publish("", "q", b"a")
    traced.basic_publish("", "q", b"b")
    traces(traced)  # the publish traces
    method, _, _ = traced.basic_get("q")
    traced.basic_reject(method.delivery_tag, requeue=True)
    traced.basic_consume("q", lambda c, m, p, b: c.basic_ack(m.delivery_tag))
    broker.run_until_idle()
    got = [(key, headers["redelivered"], body) for key, headers, body in traces(traced)]
    assert got == [("deliver.q", 0, b"a"), ("deliver.q", 1, b"a"), ("deliver.q", 0, b"b")]


def test_trace_messages_are_not_traced_again_spec_17_7(broker: Broker, traced: Channel) -> None:
    traced.queue_declare("q")
    traced.basic_publish("", "q", b"x")
    method, _, _ = traced.basic_get("trace", auto_ack=True)  # its own get is not traced
    assert method is not None
    assert broker.queues["trace"].messages_ready == 0


def test_dead_lettering_is_not_traced_spec_17_7(broker: Broker, traced: Channel) -> None:
    traced.queue_declare("dead")
    traced.queue_declare(
        "q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dead"}
    )
    traced.basic_publish("", "q", b"x")
    method, _, _ = traced.basic_get("q")
    traces(traced)
    traced.basic_reject(method.delivery_tag, requeue=False)
    assert traces(traced) == []
    assert broker.queues["dead"].messages_ready == 1


def test_trace_off_and_unknown_vhost_spec_17_1(broker: Broker, traced: Channel) -> None:
    broker.trace_on()  # twice is harmless
    broker.trace_off()
    traced.queue_declare("q")
    traced.basic_publish("", "q", b"x")
    assert traces(traced) == []
    with pytest.raises(NotFound):
        broker.trace_on("nowhere")
