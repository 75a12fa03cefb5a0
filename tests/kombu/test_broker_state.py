"""The kombu transport and the rest of the broker: other clients' messages, timers
that close channels, and which broker a pooled connection reaches."""

from __future__ import annotations

import socket

import amqp.exceptions
import kombu
import kombu.pools
import pytest
from kombu import Consumer, Producer, Queue

import amqpmodel
from amqpmodel import BasicProperties, Broker, VirtualClock
from amqpmodel.driver import TAGGED_INTS, Float32
from amqpmodel.kombu import use_broker

pytestmark = pytest.mark.timeout(10)


def test_a_message_from_an_in_process_client_reads_as_from_rabbitmq(
    conn: kombu.Connection, amqp_broker: Broker
) -> None:
    core = amqp_broker.connect().channel()
    core.queue_declare("mixed")
    headers = {"short": TAGGED_INTS[b"s"](7), "single": Float32(0.5), "bytes": b"abc"}
    core.basic_publish(
        "", "mixed", b"{}", BasicProperties(content_type="application/json", headers=headers)
    )
    message = Queue("mixed")(conn.default_channel).get(no_ack=True)
    assert message.payload == {}
    assert message.headers == {"short": 7, "single": 0.5, "bytes": "abc"}
    assert [type(v) for v in message.headers.values()] == [int, float, str]


def test_kombu_messages_read_the_same_in_process(
    conn: kombu.Connection, amqp_broker: Broker
) -> None:
    Producer(conn.default_channel).publish(
        {"n": 1}, routing_key="q", declare=[Queue("q")], headers={"k": (1, 2)}
    )
    method, properties, body = amqp_broker.connect().channel().basic_get("q", auto_ack=True)
    assert body == b'{"n": 1}'
    assert properties.content_type == "application/json"
    assert properties.headers == {"k": [1, 2]}
    assert properties.delivery_mode == 2


def test_consumer_ack_timeout_closes_the_channel_from_drain_events(
    amqp_broker: Broker, amqp_clock: VirtualClock
) -> None:
    amqp_broker.consumer_timeout = 60.0
    with kombu.Connection("amqpmodel://", transport_options={"broker": amqp_broker}) as conn:
        queue = Queue("slow")
        Producer(conn.default_channel).publish("job", routing_key="slow", declare=[queue])
        channel = conn.channel()
        got: list[kombu.Message] = []
        consumer = Consumer(channel, [queue], callbacks=[lambda body, m: got.append(m)])
        consumer.consume()
        conn.drain_events(timeout=1)
        assert len(got) == 1
        amqp_clock.advance(61)
        with pytest.raises(amqp.exceptions.PreconditionFailed) as raised:
            conn.drain_events(timeout=1)
        assert raised.value.reply_code == 406
        assert "delivery acknowledgement on channel" in raised.value.reply_text
        assert amqp_broker.queues["slow"].messages_ready == 1  # requeued
        # the channel was reopened, as py-amqp reopens it
        assert channel.queue_declare("slow", passive=True).message_count == 1


def test_cancel_of_an_auto_ack_consumer_hands_over_what_was_on_its_way(
    conn: kombu.Connection, amqp_broker: Broker
) -> None:
    queue = Queue("inflight")
    producer = Producer(conn.default_channel)
    for n in range(3):
        producer.publish(n, routing_key="inflight", declare=[queue])
    got: list[object] = []
    consumer = Consumer(
        conn.channel(), [queue], no_ack=True, callbacks=[lambda b, m: got.append(b)]
    )
    consumer.consume()  # three deliveries wait for a drain
    consumer.cancel()
    assert got == [0, 1, 2]  # none lost although auto-acked
    assert amqp_broker.queues["inflight"].messages == 0


def test_exclusive_queue_goes_with_its_connection(amqp_broker: Broker) -> None:
    with kombu.Connection("amqpmodel://", transport_options={"broker": amqp_broker}) as conn:
        Queue("mine", exclusive=True)(conn.default_channel).declare()
        assert amqp_broker.queues["mine"].exclusive
        with kombu.Connection("amqpmodel://", transport_options={"broker": amqp_broker}) as other:
            with pytest.raises(amqp.exceptions.ResourceLocked) as raised:
                other.default_channel.queue_declare("mine", passive=True)
            assert raised.value.reply_code == 405
    assert "mine" not in amqp_broker.queues


def test_a_pooled_connection_follows_the_default_broker() -> None:
    first, second = Broker(), Broker()
    with use_broker(first):
        with kombu.pools.producers[kombu.Connection("amqpmodel://")].acquire(block=True) as p:
            p.publish("one", routing_key="q", declare=[Queue("q")], retry=True)
    with use_broker(second):
        # the pool hands back the producer on the first broker's connection: kombu
        # finds that connection lost (320) and reconnects, to the second broker
        with kombu.pools.producers[kombu.Connection("amqpmodel://")].acquire(block=True) as p:
            p.publish("two", routing_key="q", declare=[Queue("q")], retry=True)
    assert first.queues["q"].messages_ready == 1
    assert second.queues["q"].messages_ready == 1
    assert not first.connections  # closed when found replaced
    kombu.pools.reset()


def test_an_explicit_broker_is_kept_when_the_default_changes(amqp_broker: Broker) -> None:
    with kombu.Connection("amqpmodel://", transport_options={"broker": amqp_broker}) as conn:
        conn.default_channel.queue_declare("q", auto_delete=False)
        with use_broker(Broker()):
            assert conn.connected
            assert conn.default_channel.queue_declare("q", passive=True).queue == "q"


def test_drain_on_a_closed_connection_is_a_recoverable_connection_error(
    conn: kombu.Connection, amqp_broker: Broker
) -> None:
    conn.connect()
    [connection] = amqp_broker.connections
    connection.close(
        320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
    )
    with pytest.raises(conn.recoverable_connection_errors) as raised:
        conn.drain_events(timeout=0)
    assert not isinstance(raised.value, socket.timeout)
    assert isinstance(raised.value, amqpmodel.ConnectionClosed)
    assert raised.value.reply_text.endswith("reason 'shutdown'")
    assert not conn.connected
