"""kombu on the py-amqp transport (``amqp://`` URLs) against the socket server."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import amqp
import amqp.exceptions
import kombu
import pytest
from kombu import Consumer, Exchange, Producer, Queue

from amqpmodel import Broker

TIMEOUT = 5.0


@pytest.fixture
def kombu_connection(amqp_url: str) -> Iterator[kombu.Connection]:
    connection = kombu.Connection(amqp_url, connect_timeout=TIMEOUT, transport_options={})
    connection.connect()
    assert connection.transport_cls == "amqp" or "amqp" in type(connection.transport).__module__
    yield connection
    connection.release()


@pytest.fixture
def confirming_connection(amqp_url: str) -> Iterator[kombu.Connection]:
    connection = kombu.Connection(
        amqp_url, connect_timeout=TIMEOUT, transport_options={"confirm_publish": True}
    )
    connection.connect()
    yield connection
    connection.release()


def drain_until(connection: kombu.Connection, condition, timeout: float = TIMEOUT) -> None:
    """drain_events until ``condition()`` holds; socket.timeout fails the test."""
    while not condition():
        connection.drain_events(timeout=timeout)


def test_producer_consumer_direct(
    kombu_connection: kombu.Connection, server_broker: Broker
) -> None:
    # spec 1.12, 7.2
    exchange = Exchange("orders", type="direct")
    queue = Queue("orders.new", exchange, routing_key="new")
    received: list[tuple[object, dict]] = []

    def on_message(body: object, message: kombu.Message) -> None:
        received.append((body, dict(message.delivery_info)))
        message.ack()

    with kombu_connection.channel() as channel:
        producer = Producer(channel)
        with Consumer(channel, [queue], callbacks=[on_message], accept=["json"]):
            producer.publish({"id": 1}, exchange=exchange, routing_key="new", declare=[queue])
            producer.publish({"id": 2}, exchange=exchange, routing_key="other")
            producer.publish({"id": 3}, exchange=exchange, routing_key="new")
            drain_until(kombu_connection, lambda: len(received) == 2)
    assert [body for body, _ in received] == [{"id": 1}, {"id": 3}]
    info = received[0][1]
    assert info["exchange"] == "orders"
    assert info["routing_key"] == "new"
    assert info["redelivered"] is False
    assert server_broker.queues["orders.new"].stats.acked == 2


@pytest.mark.parametrize(
    ("exchange_type", "binding_key", "bind_arguments", "routing_key", "headers", "routed"),
    [
        ("fanout", "", None, "whatever", None, True),
        ("topic", "logs.#", None, "logs.app.error", None, True),
        ("topic", "logs.*", None, "logs.app.error", None, False),
        ("headers", "", {"x-match": "all", "kind": "a"}, "", {"kind": "a"}, True),
        ("headers", "", {"x-match": "all", "kind": "a"}, "", {"kind": "b"}, False),
    ],
)
def test_exchange_types(
    kombu_connection: kombu.Connection,
    exchange_type: str,
    binding_key: str,
    bind_arguments: dict | None,
    routing_key: str,
    headers: dict | None,
    routed: bool,
) -> None:  # spec 1.12, 1.14, 1.17
    exchange = Exchange("x", type=exchange_type)
    queue = Queue("q", exchange, routing_key=binding_key, binding_arguments=bind_arguments)
    with kombu_connection.channel() as channel:
        queue(channel).declare()
        Producer(channel).publish(
            b"m", exchange=exchange, routing_key=routing_key, headers=headers or {}
        )
        bound = queue(channel)
        _, count, _ = bound.queue_declare(passive=True)
        assert count == (1 if routed else 0)
        bound.purge()


def test_simple_queue(kombu_connection: kombu.Connection, server_broker: Broker) -> None:
    simple = kombu_connection.SimpleQueue("simple")
    try:
        simple.put({"n": 1})
        simple.put("text")
        first = simple.get(block=True, timeout=TIMEOUT)
        assert first.payload == {"n": 1}
        first.ack()
        second = simple.get(block=True, timeout=TIMEOUT)
        assert second.payload == "text"
        second.ack()
        with pytest.raises(simple.Empty):
            simple.get(block=True, timeout=0.1)
    finally:
        simple.close()
    assert server_broker.queues["simple"].stats.acked == 2


def test_reject_and_requeue(kombu_connection: kombu.Connection, server_broker: Broker) -> None:
    # spec 2.12, 4.1
    queue = Queue("q")
    deliveries: list[tuple[bytes, bool]] = []

    def on_message(body: object, message: kombu.Message) -> None:
        deliveries.append((message.body, message.delivery_info["redelivered"]))
        if not message.delivery_info["redelivered"]:
            message.requeue()
        elif message.body == b"first":
            message.reject()
        else:
            message.ack()

    with kombu_connection.channel() as channel:
        producer = Producer(channel)
        with Consumer(channel, [queue], callbacks=[on_message], accept=None):
            producer.publish(b"first", routing_key="q", serializer=None, declare=[queue])
            producer.publish(b"second", routing_key="q", serializer=None)
            drain_until(kombu_connection, lambda: len(deliveries) == 4)
    assert sorted(deliveries) == [
        (b"first", False),
        (b"first", True),
        (b"second", False),
        (b"second", True),
    ]
    stats = server_broker.queues["q"].stats
    assert stats.acked == 1
    assert stats.dropped.get("rejected") == 1


def test_basic_get_via_queue(kombu_connection: kombu.Connection) -> None:  # spec 7.9
    with kombu_connection.channel() as channel:
        queue = Queue("q")(channel)
        queue.declare()
        Producer(channel).publish({"a": 1}, routing_key="q")
        Producer(channel).publish({"a": 2}, routing_key="q")
        message = queue.get(no_ack=False)
        assert message is not None
        assert message.payload == {"a": 1}
        assert message.delivery_info["message_count"] == 1
        message.ack()
        message = queue.get(no_ack=True)
        assert message.payload == {"a": 2}
        assert queue.get() is None


def test_confirm_publish(confirming_connection: kombu.Connection, server_broker: Broker) -> None:
    # spec 8.1, 8.2
    with confirming_connection.channel() as channel:
        queue = Queue("q")
        producer = Producer(channel)
        producer.publish({"x": 1}, routing_key="q", declare=[queue])
        producer.publish({"x": 2}, routing_key="unrouted")  # acked at once
        assert server_broker.queues["q"].messages_ready == 1  # publish returned after the ack


def test_confirm_publish_nack_raises(
    confirming_connection: kombu.Connection, server_broker: Broker
) -> None:  # spec 5.3, 8.3
    with confirming_connection.channel() as channel:
        queue = Queue("full", queue_arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
        producer = Producer(channel)
        producer.publish(b"1", routing_key="full", declare=[queue])
        with pytest.raises(amqp.exceptions.MessageNacked):
            producer.publish(b"2", routing_key="full")
    assert server_broker.queues["full"].stats.dropped.get("overflow") == 1


def test_not_found_error(kombu_connection: kombu.Connection) -> None:  # spec 2.6
    with kombu_connection.channel() as channel:
        with pytest.raises(amqp.exceptions.NotFound) as info:
            channel.queue_declare("missing", passive=True)
    assert info.value.reply_code == 404
    assert info.value.reply_text == "NOT_FOUND - no queue 'missing' in vhost '/'"
    assert info.value.method_name == "Queue.declare" or info.value.method_sig == (50, 10)


def test_precondition_failed(kombu_connection: kombu.Connection) -> None:  # spec 1.7
    with kombu_connection.channel() as channel:
        Exchange("x", type="direct")(channel).declare()
    with kombu_connection.channel() as channel:
        with pytest.raises(amqp.exceptions.PreconditionFailed) as info:
            Exchange("x", type="topic")(channel).declare()
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith(
        "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in vhost '/'"
    )


def test_access_refused(kombu_connection: kombu.Connection) -> None:  # spec 1.4
    with kombu_connection.channel() as channel:
        with pytest.raises(amqp.exceptions.AccessRefused) as info:
            channel.exchange_delete("amq.fanout")
    assert info.value.reply_code == 403


def test_resource_locked(amqp_url: str, kombu_connection: kombu.Connection) -> None:
    # spec 2.5
    with kombu_connection.channel() as channel:
        channel.queue_declare("mine", exclusive=True)
        with kombu.Connection(amqp_url, connect_timeout=TIMEOUT) as other:
            with other.channel() as other_channel:
                with pytest.raises(amqp.exceptions.ResourceLocked) as info:
                    other_channel.basic_get("mine")
    assert info.value.reply_code == 405


def test_server_generated_consumer_tag(kombu_connection: kombu.Connection) -> None:
    # spec 7.1: py-amqp sends an empty tag and uses the server's
    with kombu_connection.channel() as channel:
        channel.queue_declare("q")
        tag = channel.basic_consume("q", consumer_tag="", callback=lambda m: None)
        assert tag.startswith("amq.ctag-")
        assert len(tag) == len("amq.ctag-") + 22
        channel.basic_cancel(tag)


def test_reuse_consumer_tag_closes_connection_530(kombu_connection: kombu.Connection) -> None:
    # spec 7.1
    channel = kombu_connection.default_channel
    channel.queue_declare("q")
    channel.basic_consume("q", consumer_tag="dup", callback=lambda m: None)
    with pytest.raises(amqp.exceptions.NotAllowed) as info:
        channel.basic_consume("q", consumer_tag="dup", callback=lambda m: None)
        kombu_connection.drain_events(timeout=TIMEOUT)
    assert info.value.reply_code == 530
    assert info.value.reply_text == "NOT_ALLOWED - attempt to reuse consumer tag 'dup'"


def test_prefetch_size_not_implemented_540(kombu_connection: kombu.Connection) -> None:
    # spec 7.5
    channel = kombu_connection.default_channel
    with pytest.raises(amqp.exceptions.AMQPNotImplementedError) as info:
        channel.basic_qos(prefetch_size=1, prefetch_count=0, a_global=False)
    assert info.value.reply_code == 540


def test_wrong_password(make_url) -> None:
    connection = kombu.Connection(make_url(password="bad"), connect_timeout=TIMEOUT)
    with pytest.raises(amqp.exceptions.AccessRefused) as info:
        connection.connect()
    assert info.value.reply_code == 403
    connection.release()


def test_drain_events_timeout(kombu_connection: kombu.Connection) -> None:
    with kombu_connection.channel() as channel:
        with Consumer(channel, [Queue("idle")], callbacks=[lambda b, m: None]):
            with pytest.raises(socket.timeout):
                kombu_connection.drain_events(timeout=0.05)


def test_immediate_publish_540(kombu_connection: kombu.Connection) -> None:  # spec 8.5
    channel = kombu_connection.default_channel
    channel.basic_publish(amqp.Message(b"now"), exchange="", routing_key="q", immediate=True)
    with pytest.raises(amqp.exceptions.AMQPNotImplementedError) as info:
        kombu_connection.drain_events(timeout=TIMEOUT)
    assert info.value.reply_code == 540
    assert info.value.reply_text == "NOT_IMPLEMENTED - immediate=true"


def test_double_ack_406(kombu_connection: kombu.Connection) -> None:  # spec 7.11
    with kombu_connection.channel() as channel:
        channel.queue_declare("q")
        channel.basic_publish(amqp.Message(b"x"), exchange="", routing_key="q")
        message = channel.basic_get("q")
        assert message is not None
        channel.basic_ack(message.delivery_tag)
        channel.basic_ack(message.delivery_tag)
        with pytest.raises(amqp.exceptions.PreconditionFailed) as info:
            channel.queue_declare("q", passive=True)
    assert info.value.reply_code == 406
    assert (
        info.value.reply_text
        == f"PRECONDITION_FAILED - unknown delivery tag {message.delivery_tag}"
    )


def test_message_properties_and_headers(kombu_connection: kombu.Connection) -> None:
    # py-amqp encodes floats: they round-trip too
    headers = {"f": 1.5, "i": 3, "s": "x", "l": [1, "a"], "t": {"k": True}}
    with kombu_connection.channel() as channel:
        channel.queue_declare("q")
        channel.basic_publish(
            amqp.Message(
                b"body",
                content_type="text/plain",
                correlation_id="c",
                reply_to="r",
                priority=3,
                delivery_mode=2,
                application_headers=headers,
            ),
            exchange="",
            routing_key="q",
        )
        message = channel.basic_get("q", no_ack=True)  # same channel: after the publish
    assert message is not None
    assert message.body == b"body"
    assert message.properties["content_type"] == "text/plain"
    assert message.properties["correlation_id"] == "c"
    assert message.properties["reply_to"] == "r"
    assert message.properties["priority"] == 3
    assert message.properties["delivery_mode"] == 2
    assert message.properties["application_headers"] == headers


def test_large_message(kombu_connection: kombu.Connection) -> None:  # spec 10.3
    body = b"0123456789abcdef" * 65536  # 1 MiB, several frames each way
    with kombu_connection.channel() as channel:
        channel.queue_declare("q")
        channel.basic_publish(amqp.Message(body), exchange="", routing_key="q")
        channel.queue_declare("q", passive=True)
        message = channel.basic_get("q", no_ack=True)
    assert message is not None
    assert message.body == body
