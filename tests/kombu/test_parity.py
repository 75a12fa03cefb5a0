"""The same kombu code over amqpmodel:// and over py-amqp on a socket (amqpmodel's
server, which is checked against RabbitMQ elsewhere): the same messages, the
same properties and delivery info, the same errors at the same calls."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import amqp.exceptions
import kombu
import pytest
from kombu import Consumer, Exchange, Producer, Queue

from amqpmodel import Broker
from amqpmodel.testing import assert_accounted

pytest.importorskip("pamqp")
from amqpmodel.server import serve  # noqa: E402

pytestmark = pytest.mark.timeout(20)

Scenario = Callable[[kombu.Connection], Any]


def run_both(scenario: Scenario) -> list[Any]:
    """Run ``scenario`` on both kinds of connection, each on a fresh broker."""
    results = []
    for wire in (False, True):
        broker = Broker()
        if wire:
            with serve(broker) as url:
                with kombu.Connection(url.replace("amqp://", "pyamqp://")) as conn:
                    results.append(scenario(conn))
        else:
            with kombu.Connection("amqpmodel://", transport_options={"broker": broker}) as conn:
                results.append(scenario(conn))
        assert_accounted(broker)
    return results


def describe(message: kombu.Message) -> dict[str, Any]:
    info = dict(message.delivery_info)
    info.pop("consumer_tag", None)
    return {
        "body": message.body,
        "headers": message.headers,
        "properties": message.properties,
        "content_type": message.content_type,
        "content_encoding": message.content_encoding,
        "delivery_info": info,
    }


def error_of(call: Callable[[], Any]) -> tuple[list[str], int, str, str]:
    """The py-amqp classes of the error ``call`` raises, its code, text and method."""
    with pytest.raises(amqp.exceptions.AMQPError) as raised:
        call()
    error = raised.value
    classes = [c.__name__ for c in type(error).__mro__ if c.__module__ == "amqp.exceptions"]
    return classes, error.reply_code, error.reply_text, error.method_name


def test_messages_look_the_same() -> None:
    def scenario(conn: kombu.Connection) -> list[dict[str, Any]]:
        queue = Queue("parity", Exchange("parity-x", type="topic"), routing_key="a.*")
        producer = Producer(conn.default_channel)
        producer.publish(
            {"n": 1},
            exchange="parity-x",
            routing_key="a.b",
            declare=[queue],
            headers={
                "s": "é",
                "b": b"raw",
                "t": (1, 2.5, None),
                "d": {"x": True},
                "when": datetime.datetime(2024, 5, 6, 7, 8, 9),
            },
            priority=4,
            correlation_id="c",
            reply_to="r",
            expiration=60,
            message_id="m",
            timestamp=1_700_000_000,
            type="kind",
            app_id="app",
        )
        producer.publish("plain text", exchange="parity-x", routing_key="a.c")
        bound = queue(conn.default_channel)
        first = bound.get()
        first.requeue()
        seen = [describe(m) for m in (bound.get(no_ack=True), bound.get(no_ack=True))]
        got: list[kombu.Message] = []
        producer.publish(b"\x00bytes", exchange="parity-x", routing_key="a.d", serializer="raw")
        with Consumer(conn.channel(), [queue], callbacks=[lambda b, m: got.append(m)]):
            conn.drain_events(timeout=2)
        got[0].ack()
        seen.append(describe(got[0]))
        return seen

    in_process, wire = run_both(scenario)
    assert in_process == wire
    assert in_process[0]["delivery_info"]["redelivered"] is True


def test_errors_are_the_same() -> None:
    def scenario(conn: kombu.Connection) -> list[Any]:
        channel = conn.channel()
        channel.queue_declare("q", durable=True, auto_delete=False)
        found = [error_of(lambda: channel.queue_declare("q", durable=False, auto_delete=False))]
        found.append(channel.queue_declare("q", passive=True)[1:])  # reopened
        found.append(error_of(lambda: channel.queue_declare("missing", passive=True)))
        found.append(error_of(lambda: channel.exchange_declare("amq.x", "direct")))
        Producer(channel).publish("lost", exchange="missing", routing_key="q")
        found.append(error_of(lambda: channel.queue_declare("q", passive=True)))
        found.append(channel.queue_declare("q", passive=True)[1:])
        return found

    in_process, wire = run_both(scenario)
    assert in_process == wire
    assert in_process[0][:2] == (
        ["PreconditionFailed", "IrrecoverableChannelError", "ChannelError", "AMQPError"],
        406,
    )


def test_returns_and_broker_cancels_are_the_same() -> None:
    def scenario(conn: kombu.Connection) -> list[Any]:
        found: list[Any] = []

        def on_return(error: Any, exchange: str, routing_key: str, message: Any) -> None:
            found.append(
                (
                    type(error).__mro__[1 if "kombu" in type(error).__module__ else 0].__name__,
                    error.reply_code,
                    error.reply_text,
                    exchange,
                    routing_key,
                    message.body,
                )
            )

        producer = Producer(conn.default_channel, on_return=on_return)
        producer.publish("back", routing_key="nowhere", mandatory=True)
        conn.drain_events(timeout=2)
        queue = Queue("doomed")
        channel = conn.channel()
        queue(channel).declare()
        Consumer(channel, [queue]).consume()
        conn.default_channel.queue_delete("doomed")
        with pytest.raises(amqp.exceptions.ConsumerCancelled) as raised:
            conn.drain_events(timeout=2)
        found.append(raised.value.args[2:])  # (method_sig, method_name); tags differ
        return found

    in_process, wire = run_both(scenario)
    assert in_process == wire
    assert in_process[0][1:] == (312, "NO_ROUTE", "", "nowhere", "back")


def test_unknown_vhost_is_refused_the_same() -> None:
    found = []
    for url in ("amqpmodel:///nowhere", None):
        broker = Broker()
        if url is None:
            with serve(broker) as wire_url:
                conn = kombu.Connection(
                    wire_url.replace("amqp://", "pyamqp://").replace("%2F", "nowhere")
                )
                with pytest.raises(amqp.exceptions.NotAllowed) as raised:
                    conn.connect()
                conn.release()
        else:
            conn = kombu.Connection(url, transport_options={"broker": broker})
            with pytest.raises(amqp.exceptions.NotAllowed) as raised:
                conn.connect()
            conn.release()
        found.append((raised.value.reply_code, raised.value.reply_text))
    assert found[0] == found[1]


def test_an_unknown_user_is_refused_the_same() -> None:
    found = []
    for url in ("amqpmodel://nobody@localhost//", None):
        broker = Broker()
        if url is None:
            with serve(broker) as wire_url:
                conn = kombu.Connection(wire_url.replace("amqp://guest", "pyamqp://nobody"))
                with pytest.raises(amqp.exceptions.AccessRefused) as raised:
                    conn.connect()
                conn.release()
        else:
            conn = kombu.Connection(url, transport_options={"broker": broker})
            with pytest.raises(amqp.exceptions.AccessRefused) as raised:
                conn.connect()
            conn.release()
        found.append((raised.value.reply_code, raised.value.reply_text, raised.value.method_sig))
    assert found[0] == found[1]
    assert found[0][:2] == (
        403,
        "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. "
        "For details see the broker logfile.",
    )
