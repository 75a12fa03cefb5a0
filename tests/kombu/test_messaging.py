"""kombu's Producer, Consumer and SimpleQueue over amqpmodel://, with RabbitMQ's semantics."""

from __future__ import annotations

import socket
from typing import Any

import kombu
import pytest
from kombu import Consumer, Exchange, Producer, Queue

from amqpmodel import Broker, VirtualClock
from amqpmodel.testing import assert_accounted

pytestmark = pytest.mark.timeout(10)


def collect(conn: kombu.Connection, consumer: Consumer, count: int) -> list[kombu.Message]:
    """Drain until ``count`` messages reached ``consumer`` (one drain at a time)."""
    got: list[kombu.Message] = []
    consumer.register_callback(lambda body, message: got.append(message))
    while len(got) < count:
        conn.drain_events(timeout=1)
    return got


def test_producer_consumer_with_manual_acks(conn: kombu.Connection, amqp_broker: Broker) -> None:
    exchange = Exchange("orders", type="direct")
    queue = Queue("orders.created", exchange, routing_key="created")
    producer = Producer(conn.default_channel, exchange=exchange)
    producer.publish({"id": 1}, routing_key="created", declare=[queue], headers={"tenant": "a"})

    assert amqp_broker.queues["orders.created"].messages_ready == 1
    with Consumer(conn.channel(), [queue], accept=["json"]) as consumer:
        [message] = collect(conn, consumer, 1)
        assert message.payload == {"id": 1}
        assert message.headers == {"tenant": "a"}
        assert message.content_type == "application/json"
        assert message.content_encoding == "utf-8"
        assert message.delivery_info["exchange"] == "orders"
        assert message.delivery_info["routing_key"] == "created"
        assert message.delivery_info["redelivered"] is False
        assert message.properties["delivery_mode"] == 2
        assert amqp_broker.queues["orders.created"].messages_unacknowledged == 1
        message.ack()
    queue_state = amqp_broker.queues["orders.created"]
    assert (queue_state.messages_ready, queue_state.messages_unacknowledged) == (0, 0)
    assert queue_state.stats.acked == 1


def test_requeue_sets_redelivered_and_reject_drops(
    conn: kombu.Connection, amqp_broker: Broker
) -> None:
    queue = Queue("work", routing_key="work")
    Producer(conn.default_channel).publish(b"job", routing_key="work", declare=[queue])
    with Consumer(conn.channel(), [queue]) as consumer:
        [first] = collect(conn, consumer, 1)
        assert first.delivery_info["redelivered"] is False
        first.requeue()
        [again] = collect(conn, consumer, 1)[-1:]
        assert again.delivery_info["redelivered"] is True
        assert again.body == b"job"
        again.reject()
    stats = amqp_broker.queues["work"].stats
    assert stats.dropped == {"rejected": 1}
    assert amqp_broker.queues["work"].messages == 0


def test_prefetch_limits_unacked_deliveries(conn: kombu.Connection, amqp_broker: Broker) -> None:
    queue = Queue("jobs", routing_key="jobs")
    producer = Producer(conn.default_channel)
    for n in range(5):
        producer.publish(n, routing_key="jobs", declare=[queue])
    got: list[kombu.Message] = []
    with Consumer(conn.channel(), [queue], prefetch_count=2, callbacks=[]) as consumer:
        consumer.register_callback(lambda body, message: got.append(message))
        conn.drain_events(timeout=1)
        with pytest.raises(socket.timeout):
            conn.drain_events(timeout=0.05)
        assert [m.payload for m in got] == [0, 1]
        state = amqp_broker.queues["jobs"]
        assert (state.messages_ready, state.messages_unacknowledged) == (3, 2)
        got[0].ack()
        conn.drain_events(timeout=1)
        assert [m.payload for m in got] == [0, 1, 2]
        for message in got[1:]:
            message.ack()
        while len(got) < 5:
            conn.drain_events(timeout=1)
        for message in got[3:]:
            message.ack()
    assert amqp_broker.queues["jobs"].stats.acked == 5


def test_simple_queue_put_get(conn: kombu.Connection, amqp_broker: Broker) -> None:
    with conn.SimpleQueue("simple") as simple:
        simple.put({"hello": "world"})
        simple.put("text")
        assert simple.qsize() == 2
        first = simple.get(timeout=1)
        assert first.payload == {"hello": "world"}
        first.ack()
        # get() consumes: the second message was delivered too, and waits unacked in
        # the SimpleQueue's buffer, so a basic.get (get_nowait) finds the queue empty
        assert amqp_broker.queues["simple"].messages_unacknowledged == 1
        with pytest.raises(simple.Empty):
            simple.get_nowait()
        second = simple.get(timeout=1)
        assert second.payload == "text"
        second.ack()
        with pytest.raises(simple.Empty):
            simple.get(timeout=0.05)
    assert amqp_broker.queues["simple"].stats.acked == 2


def test_drain_events_timeout_raises_socket_timeout(conn: kombu.Connection) -> None:
    conn.connect()
    with pytest.raises(socket.timeout):
        conn.drain_events(timeout=0.01)
    with pytest.raises(socket.timeout):
        conn.drain_events(timeout=0)
    assert socket.timeout is TimeoutError


def bodies(conn: kombu.Connection, queue: Queue) -> list[Any]:
    """Every message of ``queue``, by basic.get, acked."""
    found = []
    bound = queue(conn.default_channel)
    while (message := bound.get(no_ack=True)) is not None:
        found.append(message.payload)
    return found


def test_fanout_topic_and_headers_exchanges(conn: kombu.Connection) -> None:
    fanout = Exchange("news", type="fanout")
    topic = Exchange("logs", type="topic")
    headers = Exchange("matching", type="headers")
    queues = {
        "news.a": Queue("news.a", fanout),
        "news.b": Queue("news.b", fanout),
        "errors": Queue("errors", topic, routing_key="*.error"),
        "all-logs": Queue("all-logs", topic, routing_key="#"),
        "pdf": Queue("pdf", headers, binding_arguments={"x-match": "all", "format": "pdf"}),
    }
    for queue in queues.values():
        queue(conn.default_channel).declare()
    producer = Producer(conn.default_channel)
    producer.publish("extra", exchange=fanout)
    producer.publish("disk full", exchange=topic, routing_key="kernel.error")
    producer.publish("booted", exchange=topic, routing_key="kernel.info")
    producer.publish("report", exchange=headers, headers={"format": "pdf"})
    producer.publish("photo", exchange=headers, headers={"format": "png"})
    assert bodies(conn, queues["news.a"]) == ["extra"]
    assert bodies(conn, queues["news.b"]) == ["extra"]
    assert bodies(conn, queues["errors"]) == ["disk full"]
    assert bodies(conn, queues["all-logs"]) == ["disk full", "booted"]
    assert bodies(conn, queues["pdf"]) == ["report"]


def test_exchange_to_exchange_binding(conn: kombu.Connection, amqp_broker: Broker) -> None:
    upstream = Exchange("upstream", type="topic")(conn.default_channel)
    downstream = Exchange("downstream", type="fanout")(conn.default_channel)
    upstream.declare()
    downstream.declare()
    downstream.bind_to(upstream, routing_key="billing.#")
    sink = Queue("sink", downstream)
    sink(conn.default_channel).declare()
    producer = Producer(conn.default_channel)
    producer.publish("invoice", exchange="upstream", routing_key="billing.invoice")
    producer.publish("hello", exchange="upstream", routing_key="chat.hello")
    assert bodies(conn, sink) == ["invoice"]
    assert any(
        b.source == "upstream" and b.destination == "downstream" for b in amqp_broker.bindings
    )
    downstream.unbind_from(upstream, routing_key="billing.#")
    producer.publish("invoice 2", exchange="upstream", routing_key="billing.invoice")
    assert bodies(conn, sink) == []


def test_message_ttl_dead_letters_on_the_virtual_clock(
    conn: kombu.Connection, amqp_broker: Broker, amqp_clock: VirtualClock
) -> None:
    dead = Queue("audit", Exchange("dlx", type="fanout"))
    dead(conn.default_channel).declare()
    orders = Queue(
        "unpaid",
        message_ttl=30 * 60,  # kombu's seconds, sent as x-message-ttl in ms
        queue_arguments={"x-dead-letter-exchange": "dlx"},
    )
    orders(conn.default_channel).declare()
    assert amqp_broker.queues["unpaid"].arguments["x-message-ttl"] == 1_800_000
    Producer(conn.default_channel).publish({"order": 42}, routing_key="unpaid")
    amqp_clock.advance(29 * 60)
    assert amqp_broker.queues["audit"].messages_ready == 0
    amqp_clock.advance(60)
    assert amqp_broker.queues["unpaid"].stats.dead_lettered == 1
    message = dead(conn.default_channel).get(no_ack=True)
    assert message.payload == {"order": 42}
    [death] = message.headers["x-death"]
    assert death["reason"] == "expired"
    assert death["queue"] == "unpaid"
    assert death["count"] == 1


def test_per_message_expiration(conn: kombu.Connection, amqp_clock: VirtualClock) -> None:
    queue = Queue("short-lived")
    queue(conn.default_channel).declare()
    Producer(conn.default_channel).publish("soon gone", routing_key="short-lived", expiration=5)
    amqp_clock.advance(5)
    assert queue(conn.default_channel).get() is None


def test_priorities(conn: kombu.Connection) -> None:
    queue = Queue("urgent-first", max_priority=10)
    queue(conn.default_channel).declare()
    producer = Producer(conn.default_channel)
    for body, priority in [("low", 1), ("high", 9), ("none", 0), ("mid", 5)]:
        producer.publish(body, routing_key="urgent-first", priority=priority)
    assert bodies(conn, queue) == ["high", "mid", "low", "none"]


def test_unacked_messages_are_requeued_when_the_connection_closes(
    amqp_broker: Broker, conn: kombu.Connection
) -> None:
    queue = Queue("tasks")
    Producer(conn.default_channel).publish("t1", routing_key="tasks", declare=[queue])
    worker = kombu.Connection("amqpmodel://")
    consumer = Consumer(worker.channel(), [queue])
    consumer.consume()
    collect(worker, consumer, 1)
    assert amqp_broker.queues["tasks"].messages_unacknowledged == 1
    worker.release()  # the worker goes away without acking
    state = amqp_broker.queues["tasks"]
    assert (state.messages_ready, state.messages_unacknowledged) == (1, 0)
    again = queue(conn.default_channel).get()
    assert again.delivery_info["redelivered"] is True
    again.ack()


def test_mandatory_publish_is_returned_to_on_return(conn: kombu.Connection) -> None:
    returned: list[tuple[Any, ...]] = []
    producer = Producer(conn.default_channel, on_return=lambda *args: returned.append(args))
    producer.publish("lost", routing_key="nowhere", mandatory=True)
    conn.drain_events(timeout=1)
    [(error, exchange, routing_key, message)] = returned
    assert (error.reply_code, error.reply_text) == (312, "NO_ROUTE")
    assert (exchange, routing_key) == ("", "nowhere")
    assert message.body == "lost"  # decoded by its content_encoding, as py-amqp does


def test_accounting_after_a_mixed_workload(conn: kombu.Connection, amqp_broker: Broker) -> None:
    queue = Queue("mixed", max_length=3)
    producer = Producer(conn.default_channel)
    for n in range(5):
        producer.publish(n, routing_key="mixed", declare=[queue])
    bound = queue(conn.default_channel)
    bound.get().ack()
    bound.get().reject()
    bound.get().requeue()
    assert_accounted(amqp_broker)
    stats = amqp_broker.queues["mixed"].stats
    assert stats.enqueued == 5
    assert stats.dropped == {"maxlen": 2, "rejected": 1}
    assert stats.acked == 1
    assert amqp_broker.queues["mixed"].messages_ready == 1
