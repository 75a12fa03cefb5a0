"""pika.BlockingConnection against the socket server: the AMQP model seen over the wire."""

from __future__ import annotations

import datetime
import decimal
import time
from collections.abc import Callable

import pika
import pika.exceptions
import pytest
from pika.adapters.blocking_connection import BlockingChannel

from amqpmodel import Broker, VirtualClock

TIMEOUT = 5.0


def drain_one(ch: BlockingChannel, queue: str, timeout: float = TIMEOUT) -> tuple:
    """basic.get, retrying until a message is there (deliveries over the wire are asynchronous)."""
    deadline = time.monotonic() + timeout
    while True:
        method, props, body = ch.basic_get(queue)
        if method is not None:
            return method, props, body
        if time.monotonic() > deadline:
            raise AssertionError(f"no message on {queue!r} within {timeout} s")
        ch.connection.sleep(0.005)


def consume_n(ch: BlockingChannel, queue: str, n: int, **kwargs: object) -> list[tuple]:
    """Consume exactly ``n`` messages with ``ch.consume`` and an inactivity timeout."""
    got: list[tuple] = []
    for method, props, body in ch.consume(queue, inactivity_timeout=TIMEOUT, **kwargs):
        assert method is not None, f"only {len(got)} of {n} messages arrived"
        got.append((method, props, body))
        if len(got) == n:
            break
    return got


# --------------------------------------------------------------------------- basics


def test_declare_publish_get_default_exchange(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 1.2, 2.6, 7.9
    ok = pika_channel.queue_declare("q")
    assert ok.method.queue == "q"
    assert ok.method.message_count == 0
    assert ok.method.consumer_count == 0
    pika_channel.basic_publish("", "q", b"hello")
    pika_channel.basic_publish("", "q", b"world")
    ok = pika_channel.queue_declare("q", passive=True)
    assert ok.method.message_count == 2
    assert server_broker.queues["q"].messages_ready == 2
    method, _, body = pika_channel.basic_get("q")
    assert body == b"hello"
    assert method.delivery_tag == 1
    assert method.redelivered is False
    assert method.exchange == ""
    assert method.routing_key == "q"
    assert method.message_count == 1
    pika_channel.basic_ack(method.delivery_tag)
    method, _, body = pika_channel.basic_get("q", auto_ack=True)
    assert body == b"world"
    assert method.delivery_tag == 2  # spec 7.10
    assert pika_channel.basic_get("q") == (None, None, None)
    pika_channel.connection.process_data_events(0)
    assert server_broker.queues["q"].messages == 0
    assert server_broker.queues["q"].stats.acked == 2


def test_server_named_queue(pika_channel: BlockingChannel, server_broker: Broker) -> None:
    # spec 2.2
    name = pika_channel.queue_declare("", exclusive=True).method.queue
    assert name.startswith("amq.gen-")
    assert len(name) == len("amq.gen-") + 22
    assert name in server_broker.queues
    assert server_broker.queues[name].exclusive


def test_exclusive_queue_deleted_when_connection_closes(
    connect_pika: Callable[..., pika.BlockingConnection], server_broker: Broker, wait
) -> None:  # spec 2.5
    connection = connect_pika()
    connection.channel().queue_declare("excl", exclusive=True)
    assert "excl" in server_broker.queues
    connection.close()
    wait(lambda: "excl" not in server_broker.queues)


def test_exclusive_queue_locked_for_other_connection(
    connect_pika: Callable[..., pika.BlockingConnection],
) -> None:  # spec 2.5
    owner = connect_pika().channel()
    owner.queue_declare("locked", exclusive=True)
    other = connect_pika().channel()
    other.basic_publish("", "locked", b"allowed")  # publishing is allowed
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        other.queue_declare("locked", passive=True)
    assert info.value.reply_code == 405
    assert info.value.reply_text.startswith(
        "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'locked' in vhost '/'"
    )
    assert owner.queue_declare("locked", passive=True).method.message_count == 1


@pytest.mark.parametrize(
    ("exchange_type", "binding_key", "arguments", "routing_key", "headers", "routed"),
    [
        ("direct", "k", None, "k", None, True),
        ("direct", "k", None, "K", None, False),  # spec 1.12: case-sensitive
        ("fanout", "ignored", None, "anything", None, True),
        ("topic", "a.*.c", None, "a.b.c", None, True),
        ("topic", "a.#", None, "a", None, True),  # spec 1.14
        ("topic", "a.*", None, "a.b.c", None, False),  # spec 1.15
        ("headers", "", {"x-match": "all", "h": 1}, "", {"h": 1}, True),
        ("headers", "", {"x-match": "any", "h": 1, "i": 2}, "", {"i": 2}, True),
        ("headers", "", {"x-match": "all", "h": 1, "i": 2}, "", {"i": 2}, False),
    ],
)
def test_exchange_types_route(
    pika_channel: BlockingChannel,
    exchange_type: str,
    binding_key: str,
    arguments: dict | None,
    routing_key: str,
    headers: dict | None,
    routed: bool,
) -> None:  # spec 1.12, 1.14, 1.17
    pika_channel.exchange_declare("x", exchange_type)
    pika_channel.queue_declare("q")
    pika_channel.queue_bind("q", "x", binding_key, arguments=arguments)
    pika_channel.confirm_delivery()
    pika_channel.basic_publish("x", routing_key, b"m", pika.BasicProperties(headers=headers))
    count = pika_channel.queue_declare("q", passive=True).method.message_count
    assert count == (1 if routed else 0)


def test_predeclared_exchanges_usable(pika_channel: BlockingChannel) -> None:  # spec 1.1
    for name, kind in [
        ("amq.direct", "direct"),
        ("amq.topic", "topic"),
        ("amq.fanout", "fanout"),
        ("amq.headers", "headers"),
        ("amq.match", "headers"),
    ]:
        pika_channel.exchange_declare(name, kind, passive=True)
        pika_channel.exchange_declare(name, kind, durable=True)


def test_bind_unbind_and_state_in_process(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 1.22
    pika_channel.exchange_declare("ex", "direct")
    pika_channel.queue_declare("q")
    pika_channel.queue_bind("q", "ex", "rk")
    pika_channel.queue_bind("q", "ex", "rk")  # no duplicate
    bindings = [b for b in server_broker.bindings if b.source == "ex"]
    assert [(b.destination, b.routing_key) for b in bindings] == [("q", "rk")]
    pika_channel.queue_unbind("q", "ex", "rk")
    pika_channel.queue_unbind("q", "ex", "rk")  # unbind of nothing: ok
    assert not [b for b in server_broker.bindings if b.source == "ex"]
    pika_channel.exchange_delete("ex")
    assert "ex" not in server_broker.exchanges


def test_exchange_to_exchange_binding(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 1.21
    pika_channel.exchange_declare("src", "topic")
    pika_channel.exchange_declare("dst", "direct")
    pika_channel.queue_declare("q")
    pika_channel.exchange_bind("dst", "src", "a.*")
    pika_channel.queue_bind("q", "dst", "a.b")
    pika_channel.basic_publish("src", "a.b", b"via e2e")
    pika_channel.basic_publish("src", "a.c", b"dst drops it")
    method, _, body = drain_one(pika_channel, "q")
    assert body == b"via e2e"
    assert method.exchange == "src"  # the exchange the client published to
    pika_channel.basic_ack(method.delivery_tag)
    assert pika_channel.queue_declare("q", passive=True).method.message_count == 0
    pika_channel.exchange_unbind("dst", "src", "a.*")
    pika_channel.basic_publish("src", "a.b", b"unbound")
    assert pika_channel.queue_declare("q", passive=True).method.message_count == 0
    assert server_broker.queues["q"].stats.enqueued == 1


def test_queue_purge_and_delete_counts(pika_channel: BlockingChannel) -> None:
    # spec 2.10, 2.11
    pika_channel.queue_declare("q")
    for i in range(3):
        pika_channel.basic_publish("", "q", str(i))
    method, _, _ = drain_one(pika_channel, "q")  # one unacked
    assert pika_channel.queue_purge("q").method.message_count == 2
    pika_channel.basic_publish("", "q", b"x")
    pika_channel.basic_ack(method.delivery_tag)
    assert pika_channel.queue_delete("q").method.message_count == 1
    assert pika_channel.queue_delete("q").method.message_count == 0  # missing: ok


# --------------------------------------------------------------------------- consumers, acks


def test_consume_with_callback_and_ack(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 7.2, 7.10
    pika_channel.queue_declare("q")
    for i in range(3):
        pika_channel.basic_publish("", "q", f"m{i}")
    received: list[tuple[str, int, bytes]] = []

    def on_message(ch: BlockingChannel, method, props, body: bytes) -> None:
        received.append((method.consumer_tag, method.delivery_tag, body))
        ch.basic_ack(method.delivery_tag)
        if len(received) == 3:
            ch.stop_consuming()

    tag = pika_channel.basic_consume("q", on_message, consumer_tag="my-tag")
    assert tag == "my-tag"
    pika_channel.connection.call_later(TIMEOUT, pika_channel.stop_consuming)
    pika_channel.start_consuming()
    assert received == [("my-tag", 1, b"m0"), ("my-tag", 2, b"m1"), ("my-tag", 3, b"m2")]
    pika_channel.connection.process_data_events(0)
    assert server_broker.queues["q"].stats.acked == 3
    assert server_broker.queues["q"].messages == 0


def test_consumer_count_visible(pika_channel: BlockingChannel, server_broker: Broker) -> None:
    # spec 2.6
    pika_channel.queue_declare("q")
    pika_channel.basic_consume("q", lambda *a: None)
    pika_channel.basic_consume("q", lambda *a: None)
    assert pika_channel.queue_declare("q", passive=True).method.consumer_count == 2
    assert server_broker.queues["q"].consumer_count == 2


def test_nack_requeue_redelivers_then_reject_drops(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 2.12, 4.1
    pika_channel.queue_declare("q")
    pika_channel.basic_publish("", "q", b"a")
    pika_channel.basic_publish("", "q", b"b")
    first, _, body = drain_one(pika_channel, "q")
    assert body == b"a" and not first.redelivered
    pika_channel.basic_nack(first.delivery_tag, requeue=True)
    again, _, body = drain_one(pika_channel, "q")
    assert body == b"a"  # back at its original position, ahead of b
    assert again.redelivered is True
    assert again.delivery_tag != first.delivery_tag  # spec 7.10
    pika_channel.basic_reject(again.delivery_tag, requeue=False)
    last, _, body = drain_one(pika_channel, "q")
    assert body == b"b"
    pika_channel.basic_nack(last.delivery_tag, requeue=False)
    pika_channel.connection.process_data_events(0)
    assert pika_channel.queue_declare("q", passive=True).method.message_count == 0
    assert server_broker.queues["q"].stats.dropped.get("rejected") == 2


def test_ack_multiple(pika_channel: BlockingChannel, server_broker: Broker) -> None:
    # spec 7.11
    pika_channel.queue_declare("q")
    for i in range(4):
        pika_channel.basic_publish("", "q", str(i))
    tags = [drain_one(pika_channel, "q")[0].delivery_tag for _ in range(4)]
    pika_channel.basic_ack(tags[2], multiple=True)
    pika_channel.queue_declare("q", passive=True)  # a round trip after the ack
    assert server_broker.queues["q"].messages_unacknowledged == 1
    pika_channel.basic_ack(0, multiple=True)
    pika_channel.queue_declare("q", passive=True)
    assert server_broker.queues["q"].messages_unacknowledged == 0
    assert server_broker.queues["q"].stats.acked == 4


def test_unknown_delivery_tag_closes_channel_406(pika_channel: BlockingChannel) -> None:
    # spec 7.11
    pika_channel.queue_declare("q")
    pika_channel.basic_publish("", "q", b"x")
    method, _, _ = drain_one(pika_channel, "q")
    pika_channel.basic_ack(method.delivery_tag)
    pika_channel.basic_ack(method.delivery_tag)  # double ack
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        pika_channel.queue_declare("q", passive=True)
    assert info.value.reply_code == 406
    assert (
        info.value.reply_text == f"PRECONDITION_FAILED - unknown delivery tag {method.delivery_tag}"
    )


def test_qos_prefetch_count_respected(
    connect_pika: Callable[..., pika.BlockingConnection], server_broker: Broker, wait
) -> None:  # spec 7.5
    publisher = connect_pika().channel()
    publisher.queue_declare("q")
    for i in range(10):
        publisher.basic_publish("", "q", str(i))
    connection = connect_pika()
    ch = connection.channel()
    ch.basic_qos(prefetch_count=3)
    received: list = []
    ch.basic_consume("q", lambda c, m, p, b: received.append(m))
    connection.process_data_events(0.2)
    assert len(received) == 3
    queue = server_broker.queues["q"]
    assert queue.messages_unacknowledged == 3
    assert queue.messages_ready == 7
    ch.basic_ack(received[0].delivery_tag)
    wait(lambda: len(received) == 4, pump=lambda: connection.process_data_events(0.01))
    connection.process_data_events(0.1)
    assert len(received) == 4  # one ack frees exactly one slot
    ch.basic_ack(0, multiple=True)
    wait(lambda: len(received) == 7, pump=lambda: connection.process_data_events(0.01))
    ch.basic_ack(0, multiple=True)
    wait(lambda: len(received) == 10, pump=lambda: connection.process_data_events(0.01))
    ch.basic_ack(0, multiple=True)
    wait(lambda: queue.messages == 0)


def test_qos_global_channel_limit(
    connect_pika: Callable[..., pika.BlockingConnection], server_broker: Broker
) -> None:  # spec 0.1, 7.5
    connection = connect_pika()
    ch = connection.channel()
    ch.queue_declare("a")
    ch.queue_declare("b")
    for i in range(5):
        ch.basic_publish("", "a", str(i))
        ch.basic_publish("", "b", str(i))
    ch.basic_qos(prefetch_count=3, global_qos=True)
    received: list = []
    ch.basic_consume("a", lambda c, m, p, b: received.append(m))
    ch.basic_consume("b", lambda c, m, p, b: received.append(m))
    connection.process_data_events(0.2)
    assert len(received) == 3
    assert (
        server_broker.queues["a"].messages_unacknowledged
        + server_broker.queues["b"].messages_unacknowledged
        == 3
    )
    ch.basic_ack(0, multiple=True)
    ch.close()  # nothing unacked beyond what we saw is lost: the rest is requeued


def test_unacked_requeued_redelivered_when_connection_closes(
    connect_pika: Callable[..., pika.BlockingConnection], server_broker: Broker, wait
) -> None:  # spec 7.13, 2.12
    first = connect_pika()
    ch = first.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"one")
    ch.basic_publish("", "q", b"two")
    method, _, body = drain_one(ch, "q")
    assert body == b"one"
    assert server_broker.queues["q"].messages_unacknowledged == 1
    first.close()
    wait(lambda: server_broker.queues["q"].messages_unacknowledged == 0)
    other = connect_pika().channel()
    method, _, body = drain_one(other, "q")
    assert body == b"one"  # original position
    assert method.redelivered is True
    other.basic_ack(method.delivery_tag)
    method, _, body = drain_one(other, "q")
    assert body == b"two"
    assert method.redelivered is False
    other.basic_ack(method.delivery_tag)


def test_unacked_requeued_when_channel_closes(
    pika_connection: pika.BlockingConnection, server_broker: Broker
) -> None:  # spec 7.13
    ch = pika_connection.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"x")
    drain_one(ch, "q")
    ch.close()
    other = pika_connection.channel()
    method, _, _ = drain_one(other, "q")
    assert method.redelivered is True
    other.basic_ack(method.delivery_tag)


def test_basic_recover_requeues(pika_channel: BlockingChannel) -> None:  # spec 7.12
    pika_channel.queue_declare("q")
    pika_channel.basic_publish("", "q", b"x")
    drain_one(pika_channel, "q")
    pika_channel.basic_recover(requeue=True)
    method, _, body = drain_one(pika_channel, "q")
    assert body == b"x" and method.redelivered
    pika_channel.basic_ack(method.delivery_tag)


def test_consume_generator_and_cancel(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 2.12 (basic.cancel does not requeue)
    pika_channel.queue_declare("q")
    for i in range(3):
        pika_channel.basic_publish("", "q", f"{i}")
    got = consume_n(pika_channel, "q", 2)
    assert [body for _, _, body in got] == [b"0", b"1"]
    pika_channel.basic_ack(got[0][0].delivery_tag)
    pika_channel.cancel()  # pika rejects (requeue) what it had buffered but not handed out
    pika_channel.queue_declare("q", passive=True)  # a round trip: the rejects have arrived
    queue = server_broker.queues["q"]
    assert queue.consumer_count == 0
    assert queue.messages_unacknowledged == 1  # b"1" stays unacked after the cancel
    assert queue.messages_ready == 1
    pika_channel.basic_ack(got[1][0].delivery_tag)  # ... and can still be acked
    pika_channel.queue_declare("q", passive=True)
    assert queue.messages_unacknowledged == 0
    assert queue.stats.acked == 2


def test_consumer_cancel_notification_on_queue_delete(
    connect_pika: Callable[..., pika.BlockingConnection],
) -> None:  # spec 7.8, 2.10
    connection = connect_pika()
    ch = connection.channel()
    ch.queue_declare("doomed")
    cancelled: list = []
    ch.basic_consume("doomed", lambda *a: None, consumer_tag="c1")
    ch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
    other = connect_pika().channel()
    other.queue_delete("doomed")
    deadline = time.monotonic() + TIMEOUT
    while not cancelled and time.monotonic() < deadline:
        connection.process_data_events(0.01)
    assert cancelled == ["c1"]
    assert ch.is_open


# --------------------------------------------------------------------------- confirms, returns, tx


def test_publisher_confirms_ack_routed_and_unroutable(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 8.1, 8.2
    pika_channel.confirm_delivery()
    pika_channel.queue_declare("q")
    pika_channel.basic_publish("", "q", b"routed")  # returns only after the ack
    pika_channel.basic_publish("", "nowhere", b"unroutable, not mandatory")  # acked at once
    assert server_broker.queues["q"].messages_ready == 1


def test_confirm_mandatory_unroutable_raises_unroutable_error(
    pika_channel: BlockingChannel,
) -> None:  # spec 8.2, 8.4
    pika_channel.confirm_delivery()
    with pytest.raises(pika.exceptions.UnroutableError) as info:
        pika_channel.basic_publish("", "nowhere", b"lost", mandatory=True)
    (returned,) = info.value.messages
    assert returned.method.reply_code == 312
    assert returned.method.reply_text == "NO_ROUTE"
    assert returned.method.exchange == ""
    assert returned.method.routing_key == "nowhere"
    assert returned.body == b"lost"
    assert pika_channel.is_open


def test_confirm_reject_publish_overflow_raises_nack_error(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 5.3, 8.3
    pika_channel.queue_declare(
        "full", arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
    )
    pika_channel.confirm_delivery()
    pika_channel.basic_publish("", "full", b"fits")
    with pytest.raises(pika.exceptions.NackError) as info:
        pika_channel.basic_publish("", "full", b"refused")
    assert info.value.messages == []  # pika lists only returned messages here
    assert server_broker.queues["full"].messages_ready == 1
    assert server_broker.queues["full"].stats.dropped.get("overflow") == 1


def test_mandatory_return_callback_without_confirms(
    pika_connection: pika.BlockingConnection,
) -> None:  # spec 8.4
    ch = pika_connection.channel()
    returns: list = []
    ch.add_on_return_callback(lambda c, method, props, body: returns.append((method, props, body)))
    ch.basic_publish(
        "amq.direct",
        "no-binding",
        b"back",
        pika.BasicProperties(message_id="m1", headers={"h": "v"}),
        mandatory=True,
    )
    deadline = time.monotonic() + TIMEOUT
    while not returns and time.monotonic() < deadline:
        pika_connection.process_data_events(0.01)
    ((method, props, body),) = returns
    assert (method.reply_code, method.reply_text) == (312, "NO_ROUTE")
    assert (method.exchange, method.routing_key) == ("amq.direct", "no-binding")
    assert props.message_id == "m1"
    assert props.headers == {"h": "v"}
    assert body == b"back"


def test_confirm_ack_callback_sequence(pika_connection: pika.BlockingConnection) -> None:
    # spec 8.1: every publish acked exactly once, sequence from 1
    ch = pika_connection.channel()
    ch.queue_declare("q")
    ch.confirm_delivery()
    for i in range(20):
        ch.basic_publish("", "q", str(i))
    assert ch.queue_declare("q", passive=True).method.message_count == 20


def test_tx_commit_and_rollback(pika_channel: BlockingChannel, server_broker: Broker) -> None:
    # spec 8.8
    pika_channel.queue_declare("q")
    pika_channel.tx_select()
    pika_channel.tx_select()  # repeats fine (spec 8.7)
    pika_channel.basic_publish("", "q", b"buffered")
    assert pika_channel.queue_declare("q", passive=True).method.message_count == 0
    pika_channel.tx_commit()
    assert server_broker.queues["q"].messages_ready == 1
    pika_channel.basic_publish("", "q", b"dropped")
    pika_channel.tx_rollback()
    assert server_broker.queues["q"].messages_ready == 1
    method, _, body = pika_channel.basic_get("q")
    assert body == b"buffered"
    pika_channel.basic_ack(method.delivery_tag)
    pika_channel.tx_rollback()  # the ack is dropped: outstanding again, nothing requeued
    assert server_broker.queues["q"].messages_unacknowledged == 1
    assert server_broker.queues["q"].messages_ready == 0
    pika_channel.basic_ack(method.delivery_tag)
    pika_channel.tx_commit()
    assert server_broker.queues["q"].messages == 0


def test_tx_commit_on_non_transactional_channel_406(pika_channel: BlockingChannel) -> None:
    # spec 8.7
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        pika_channel.tx_commit()
    assert info.value.reply_code == 406
    assert info.value.reply_text == "PRECONDITION_FAILED - channel is not transactional"


def test_tx_after_confirm_406(pika_channel: BlockingChannel) -> None:  # spec 8.7
    pika_channel.confirm_delivery()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        pika_channel.tx_select()
    assert info.value.reply_code == 406
    assert info.value.reply_text == "PRECONDITION_FAILED - cannot switch from confirm to tx mode"


def test_tx_commit_partial_completion_406(pika_channel: BlockingChannel) -> None:
    # spec 5.6
    pika_channel.queue_declare(
        "full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
    )
    pika_channel.tx_select()
    pika_channel.basic_publish("", "full", b"refused")
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        pika_channel.tx_commit()
    assert info.value.reply_code == 406
    assert info.value.reply_text == "PRECONDITION_FAILED - partial tx completion"


# --------------------------------------------------------------------------- TTL, DLX


def test_message_ttl_expires_in_real_time(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 3.1, 3.3
    pika_channel.queue_declare("q", arguments={"x-message-ttl": 50})
    pika_channel.basic_publish("", "q", b"short-lived")
    pika_channel.basic_publish("", "q", b"per-message", pika.BasicProperties(expiration="20000"))
    assert pika_channel.queue_declare("q", passive=True).method.message_count == 2
    time.sleep(0.15)
    assert pika_channel.queue_declare("q", passive=True).method.message_count == 0
    assert server_broker.queues["q"].stats.dropped.get("expired") == 2


def test_dead_letter_on_ttl_with_x_death(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 4.1, 4.3, 4.4, 4.5, 4.6
    pika_channel.exchange_declare("dlx", "fanout")
    pika_channel.queue_declare("dead")
    pika_channel.queue_bind("dead", "dlx")
    pika_channel.queue_declare("work", arguments={"x-dead-letter-exchange": "dlx"})
    pika_channel.basic_publish("", "work", b"late", pika.BasicProperties(expiration="50"))
    method, props, body = drain_one(pika_channel, "dead")
    assert body == b"late"
    assert method.exchange == "dlx"
    assert method.routing_key == "work"
    assert props.expiration is None
    (death,) = props.headers["x-death"]
    assert death["reason"] == "expired"
    assert death["queue"] == "work"
    assert death["count"] == 1
    assert death["exchange"] == ""
    assert death["routing-keys"] == ["work"]
    assert death["original-expiration"] == "50"
    assert isinstance(death["time"], datetime.datetime)
    assert props.headers["x-first-death-reason"] == "expired"
    assert props.headers["x-first-death-queue"] == "work"
    assert props.headers["x-last-death-reason"] == "expired"
    pika_channel.basic_ack(method.delivery_tag)
    assert server_broker.queues["work"].stats.dead_lettered == 1


def test_dead_letter_on_reject_with_routing_key(pika_channel: BlockingChannel) -> None:
    # spec 4.1, 4.3
    pika_channel.queue_declare("dead")
    pika_channel.queue_declare(
        "work",
        arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dead"},
    )
    pika_channel.basic_publish("", "work", b"bad")
    method, _, _ = drain_one(pika_channel, "work")
    pika_channel.basic_reject(method.delivery_tag, requeue=False)
    method, props, body = drain_one(pika_channel, "dead")
    assert body == b"bad"
    assert method.routing_key == "dead"
    assert props.headers["x-death"][0]["reason"] == "rejected"
    pika_channel.basic_ack(method.delivery_tag)


def test_ttl_with_virtual_clock_advanced_from_test_thread(
    virtual_url: str,
    virtual_clock: VirtualClock,
    virtual_broker: Broker,
    connect_pika: Callable[..., pika.BlockingConnection],
) -> None:  # spec 3.1, 4.1
    ch = connect_pika(virtual_url).channel()
    ch.queue_declare("dead")
    ch.queue_declare(
        "work",
        arguments={
            "x-message-ttl": 60_000,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "dead",
        },
    )
    ch.basic_publish("", "work", b"slow")
    assert ch.queue_declare("work", passive=True).method.message_count == 1
    virtual_clock.advance(59.9)
    assert ch.queue_declare("work", passive=True).method.message_count == 1
    virtual_clock.advance(0.2)
    assert ch.queue_declare("work", passive=True).method.message_count == 0
    method, _, body = drain_one(ch, "dead")
    assert body == b"slow"
    ch.basic_ack(method.delivery_tag)
    assert virtual_broker.queues["work"].stats.dead_lettered == 1


def test_queue_expires_with_virtual_clock(
    virtual_url: str,
    virtual_clock: VirtualClock,
    virtual_broker: Broker,
    connect_pika: Callable[..., pika.BlockingConnection],
) -> None:  # spec 2.9
    ch = connect_pika(virtual_url).channel()
    ch.queue_declare("temp", arguments={"x-expires": 1000})
    virtual_clock.advance(1.5)
    assert "temp" not in virtual_broker.queues
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        ch.queue_declare("temp", passive=True)
    assert info.value.reply_code == 404


# --------------------------------------------------------------------------- content


def test_headers_of_various_types_round_trip(pika_channel: BlockingChannel) -> None:
    # the server resends field tables unchanged (pika cannot encode float)
    headers = {
        "int": 42,
        "negative": -7,
        "big": 2**40,
        "str": "text ü",
        "true": True,
        "false": False,
        "nested": {"a": 1, "b": {"c": "deep"}},
        "list": [1, "two", [3], {"four": 4}],
        "bytes": b"\x00\x01\xff",
        # pika decodes a timestamp as an aware UTC datetime
        "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
        "decimal": decimal.Decimal("3.14"),
        "none": None,
    }
    pika_channel.queue_declare("q")
    pika_channel.basic_publish("", "q", b"", pika.BasicProperties(headers=headers))
    method, props, body = drain_one(pika_channel, "q")
    pika_channel.basic_ack(method.delivery_tag)
    assert body == b""
    assert props.headers == headers
    assert type(props.headers["true"]) is bool
    assert isinstance(props.headers["decimal"], decimal.Decimal)


def test_all_properties_round_trip(pika_channel: BlockingChannel, server_broker: Broker) -> None:
    properties = pika.BasicProperties(
        content_type="application/json",
        content_encoding="gzip",
        headers={"k": "v"},
        delivery_mode=2,
        priority=5,
        correlation_id="corr",
        reply_to="replies",
        expiration="60000",
        message_id="mid",
        timestamp=1_700_000_000,
        type="kind",
        user_id="guest",  # must equal the logged-in user (spec 8.6)
        app_id="tests",
    )
    pika_channel.queue_declare("q")
    pika_channel.basic_publish("", "q", b"{}", properties)
    pika_channel.queue_declare("q", passive=True)  # a round trip: the publish has arrived
    (stored,) = server_broker.queues["q"].peek()
    assert stored.properties.timestamp in (
        1_700_000_000,
        datetime.datetime.fromtimestamp(1_700_000_000, datetime.timezone.utc),
    )
    method, props, _ = drain_one(pika_channel, "q")
    pika_channel.basic_ack(method.delivery_tag)
    for name in (
        "content_type",
        "content_encoding",
        "headers",
        "delivery_mode",
        "priority",
        "correlation_id",
        "reply_to",
        "expiration",
        "message_id",
        "timestamp",
        "type",
        "user_id",
        "app_id",
    ):
        assert getattr(props, name) == getattr(properties, name), name
        if name != "timestamp":
            assert getattr(stored.properties, name) == getattr(properties, name), name


def test_user_id_mismatch_406(pika_channel: BlockingChannel) -> None:  # spec 8.6
    pika_channel.queue_declare("q")
    pika_channel.basic_publish("", "q", b"x", pika.BasicProperties(user_id="mallory"))
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        pika_channel.queue_declare("q", passive=True)
    assert info.value.reply_code == 406
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - user_id property set to 'mallory' but authenticated user was 'guest'"
    )


@pytest.mark.parametrize("size", [131072 - 8, 131072 - 7, 1024 * 1024 + 3])
def test_large_body_split_over_frame_max(
    pika_channel: BlockingChannel, server_broker: Broker, size: int
) -> None:  # spec 10.3: frame_max 131072, body frames reassembled both ways
    body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    pika_channel.queue_declare("q")
    pika_channel.basic_publish("", "q", body)
    pika_channel.queue_declare("q", passive=True)  # a round trip: the publish has arrived
    (stored,) = server_broker.queues["q"].peek()
    assert stored.body == body
    method, _, received = drain_one(pika_channel, "q")
    pika_channel.basic_ack(method.delivery_tag)
    assert received == body


def test_empty_body_and_str_body(pika_channel: BlockingChannel) -> None:
    pika_channel.queue_declare("q")
    pika_channel.basic_publish("", "q", b"")
    pika_channel.basic_publish("", "q", "ünïcode")
    _, _, first = pika_channel.basic_get("q", auto_ack=True)
    _, _, second = pika_channel.basic_get("q", auto_ack=True)
    assert first == b""
    assert second == "ünïcode".encode()


def test_cc_and_bcc_headers_route_and_bcc_is_stripped(pika_channel: BlockingChannel) -> None:
    # spec 1.2, 4.6
    for name in ("main", "copy", "blind"):
        pika_channel.queue_declare(name)
    pika_channel.basic_publish(
        "", "main", b"m", pika.BasicProperties(headers={"CC": ["copy"], "BCC": ["blind"]})
    )
    for name in ("main", "copy", "blind"):
        method, props, body = drain_one(pika_channel, name)
        pika_channel.basic_ack(method.delivery_tag)
        assert body == b"m"
        assert props.headers == {"CC": ["copy"]}


def test_priority_queue_over_wire(pika_channel: BlockingChannel) -> None:  # spec 6.2
    pika_channel.queue_declare("p", arguments={"x-max-priority": 5})
    for priority in (1, 9, 3, None):
        pika_channel.basic_publish("", "p", str(priority), pika.BasicProperties(priority=priority))
    bodies = [pika_channel.basic_get("p", auto_ack=True)[2] for _ in range(4)]
    assert bodies == [b"9", b"3", b"1", b"None"]


# --------------------------------------------------------------------------- channel errors


def closed_by_broker(call: Callable[[], object]) -> pika.exceptions.ChannelClosedByBroker:
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        call()
    return info.value


def test_404_passive_declare_missing_queue(pika_channel: BlockingChannel) -> None:  # spec 2.6
    error = closed_by_broker(lambda: pika_channel.queue_declare("missing", passive=True))
    assert error.reply_code == 404
    assert error.reply_text == "NOT_FOUND - no queue 'missing' in vhost '/'"
    assert pika_channel.is_closed


def test_404_publish_to_missing_exchange(pika_channel: BlockingChannel) -> None:  # spec 1.8
    pika_channel.basic_publish("no-such-x", "rk", b"x")
    error = closed_by_broker(lambda: pika_channel.queue_declare("", exclusive=True))
    assert error.reply_code == 404
    assert error.reply_text == "NOT_FOUND - no exchange 'no-such-x' in vhost '/'"


def test_404_publish_to_missing_exchange_with_confirms(pika_channel: BlockingChannel) -> None:
    # spec 1.8: the channel closes instead of an ack
    pika_channel.confirm_delivery()
    error = closed_by_broker(lambda: pika_channel.basic_publish("no-such-x", "rk", b"x"))
    assert error.reply_code == 404


def test_404_consume_missing_queue(pika_channel: BlockingChannel) -> None:  # spec 7.2
    error = closed_by_broker(lambda: pika_channel.basic_consume("missing", lambda *a: None))
    assert error.reply_code == 404
    assert error.reply_text == "NOT_FOUND - no queue 'missing' in vhost '/'"


def test_404_bind_missing_exchange(pika_channel: BlockingChannel) -> None:  # spec 1.22
    pika_channel.queue_declare("q")
    error = closed_by_broker(lambda: pika_channel.queue_bind("q", "missing-x", "k"))
    assert error.reply_code == 404
    assert error.reply_text == "NOT_FOUND - no exchange 'missing-x' in vhost '/'"


def test_404_passive_exchange(pika_channel: BlockingChannel) -> None:  # spec 1.8
    error = closed_by_broker(lambda: pika_channel.exchange_declare("ghost", passive=True))
    assert error.reply_code == 404
    assert error.reply_text == "NOT_FOUND - no exchange 'ghost' in vhost '/'"


def test_405_exclusive_flag_differs(
    connect_pika: Callable[..., pika.BlockingConnection],
) -> None:  # spec 2.4
    ch = connect_pika().channel()
    ch.queue_declare("shared")
    error = closed_by_broker(lambda: ch.queue_declare("shared", exclusive=True))
    assert error.reply_code == 405
    assert error.reply_text.startswith("RESOURCE_LOCKED")


def test_406_inequivalent_durable(pika_channel: BlockingChannel) -> None:  # spec 2.3
    pika_channel.queue_declare("q", durable=True)
    error = closed_by_broker(lambda: pika_channel.queue_declare("q", durable=False))
    assert error.reply_code == 406
    assert error.reply_text == (
        "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': "
        "received 'false' but current is 'true'"
    )


def test_406_inequivalent_exchange_type(pika_channel: BlockingChannel) -> None:  # spec 1.7
    pika_channel.exchange_declare("x", "direct")
    error = closed_by_broker(lambda: pika_channel.exchange_declare("x", "fanout"))
    assert error.reply_code == 406
    assert error.reply_text.startswith(
        "PRECONDITION_FAILED - inequivalent arg 'type' for exchange 'x' in vhost '/'"
    )


def test_406_unknown_exchange_type(pika_channel: BlockingChannel) -> None:  # spec 1.6
    error = closed_by_broker(lambda: pika_channel.exchange_declare("x", "bogus"))
    assert error.reply_code == 406
    assert error.reply_text == "PRECONDITION_FAILED - unknown exchange type 'bogus'"


def test_406_invalid_queue_argument(pika_channel: BlockingChannel) -> None:  # spec 2.7
    error = closed_by_broker(
        lambda: pika_channel.queue_declare("q", arguments={"x-max-priority": 300})
    )
    assert error.reply_code == 406
    assert error.reply_text.startswith("PRECONDITION_FAILED - invalid arg 'x-max-priority'")


def test_406_invalid_expiration(pika_channel: BlockingChannel) -> None:  # spec 3.2
    pika_channel.queue_declare("q")
    pika_channel.confirm_delivery()
    error = closed_by_broker(
        lambda: pika_channel.basic_publish("", "q", b"x", pika.BasicProperties(expiration="abc"))
    )
    assert error.reply_code == 406
    assert error.reply_text.startswith("PRECONDITION_FAILED - invalid expiration")


def test_406_queue_in_use_if_unused(
    connect_pika: Callable[..., pika.BlockingConnection],
) -> None:  # spec 2.10
    ch = connect_pika().channel()
    ch.queue_declare("busy")
    ch.basic_consume("busy", lambda *a: None)
    other = connect_pika().channel()
    error = closed_by_broker(lambda: other.queue_delete("busy", if_unused=True))
    assert error.reply_code == 406
    assert error.reply_text == "PRECONDITION_FAILED - queue 'busy' in vhost '/' in use" or (
        error.reply_text == "PRECONDITION_FAILED - queue 'busy' in use"
    )


def test_403_reserved_queue_name(pika_channel: BlockingChannel) -> None:  # spec 2.1
    error = closed_by_broker(lambda: pika_channel.queue_declare("amq.mine"))
    assert error.reply_code == 403
    assert error.reply_text == (
        "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'"
    )


def test_403_default_exchange_operations(pika_channel: BlockingChannel) -> None:  # spec 1.3
    pika_channel.queue_declare("q")
    error = closed_by_broker(lambda: pika_channel.queue_bind("q", "", "q"))
    assert error.reply_code == 403
    assert error.reply_text == "ACCESS_REFUSED - operation not permitted on the default exchange"


def test_403_delete_amq_exchange(pika_channel: BlockingChannel) -> None:  # spec 1.4
    error = closed_by_broker(lambda: pika_channel.exchange_delete("amq.direct"))
    assert error.reply_code == 403
    assert error.reply_text.startswith("ACCESS_REFUSED")


def test_403_exclusive_consumer(pika_connection: pika.BlockingConnection) -> None:  # spec 7.3
    first = pika_connection.channel()
    first.queue_declare("q")
    first.basic_consume("q", lambda *a: None, exclusive=True)
    second = pika_connection.channel()
    error = closed_by_broker(lambda: second.basic_consume("q", lambda *a: None))
    assert error.reply_code == 403
    assert error.reply_text == "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use" or (
        error.reply_text == "ACCESS_REFUSED - queue 'q' in exclusive use"
    )
    assert first.is_open  # spec 9.1: other channels go on


def test_403_publish_to_internal_exchange(pika_channel: BlockingChannel) -> None:  # spec 1.11
    pika_channel.exchange_declare("inner", "fanout", internal=True)
    pika_channel.confirm_delivery()
    error = closed_by_broker(lambda: pika_channel.basic_publish("inner", "", b"x"))
    assert error.reply_code == 403
    assert error.reply_text.startswith("ACCESS_REFUSED")


def test_channel_error_leaves_connection_and_other_channels_usable(
    pika_connection: pika.BlockingConnection, server_broker: Broker
) -> None:  # spec 9.1, 9.3
    good = pika_connection.channel()
    good.queue_declare("q")
    good.basic_publish("", "q", b"x")
    bad = pika_connection.channel()
    drain_one(bad, "q")
    closed_by_broker(lambda: bad.queue_declare("missing", passive=True))
    assert good.is_open and pika_connection.is_open
    method, _, _ = drain_one(good, "q")
    assert method.redelivered  # the closed channel's unacked message was requeued
    good.basic_ack(method.delivery_tag)
    with pytest.raises(pika.exceptions.ChannelWrongStateError):
        bad.queue_declare("q", passive=True)


# --------------------------------------------------------------------------- connection errors


def closed_connection(
    connection: pika.BlockingConnection, call: Callable[[], object]
) -> pika.exceptions.ConnectionClosedByBroker:
    with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as info:
        call()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            connection.process_data_events(0.01)
    return info.value


def test_530_reuse_consumer_tag(pika_connection: pika.BlockingConnection) -> None:  # spec 7.1
    ch = pika_connection.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", lambda *a: None, consumer_tag="dup")
    # pika refuses a duplicate tag itself, so send the frame below its API
    error = closed_connection(
        pika_connection,
        lambda: ch._impl._send_method(pika.spec.Basic.Consume(queue="q", consumer_tag="dup")),
    )
    assert error.reply_code == 530
    assert error.reply_text == "NOT_ALLOWED - attempt to reuse consumer tag 'dup'"


def test_540_immediate_publish(pika_connection: pika.BlockingConnection) -> None:  # spec 8.5
    ch = pika_connection.channel()
    error = closed_connection(
        pika_connection,
        lambda: ch._impl._send_method(
            pika.spec.Basic.Publish(exchange="", routing_key="q", immediate=True),
            (pika.BasicProperties(), b"now"),
        ),
    )
    assert error.reply_code == 540
    assert error.reply_text == "NOT_IMPLEMENTED - immediate=true"


def test_540_prefetch_size(pika_connection: pika.BlockingConnection) -> None:  # spec 7.5
    ch = pika_connection.channel()
    error = closed_connection(pika_connection, lambda: ch.basic_qos(prefetch_size=1))
    assert error.reply_code == 540
    assert error.reply_text.startswith("NOT_IMPLEMENTED")


def test_540_recover_requeue_false(pika_connection: pika.BlockingConnection) -> None:
    # spec 7.12
    ch = pika_connection.channel()
    error = closed_connection(pika_connection, lambda: ch.basic_recover(requeue=False))
    assert error.reply_code == 540
    assert error.reply_text.startswith("NOT_IMPLEMENTED")


def test_wrong_password_is_an_authentication_error(make_url: Callable[..., str]) -> None:
    with pytest.raises(
        (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError)
    ) as info:
        pika.BlockingConnection(_parameters(make_url(password="wrong")))
    assert "403" in str(info.value)
    assert "ACCESS_REFUSED" in str(info.value)


def test_unknown_user_is_an_authentication_error(make_url: Callable[..., str]) -> None:
    with pytest.raises(
        (pika.exceptions.ProbableAuthenticationError, pika.exceptions.AuthenticationError)
    ):
        pika.BlockingConnection(_parameters(make_url(user="nobody", password="x")))


def test_added_user_can_log_in(
    make_url: Callable[..., str],
    server_broker: Broker,
    connect_pika: Callable[..., pika.BlockingConnection],
) -> None:
    server_broker.add_user("alice", "s3cret")
    server_broker.set_permissions("alice")  # spec 15.4
    connection = connect_pika(make_url(user="alice", password="s3cret"))
    ch = connection.channel()
    ch.queue_declare("q")
    ch.confirm_delivery()
    ch.basic_publish("", "q", b"x", pika.BasicProperties(user_id="alice"))
    assert server_broker.queues["q"].messages_ready == 1


def test_unknown_vhost_530(make_url: Callable[..., str]) -> None:  # spec 9.1
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError) as info:
        pika.BlockingConnection(_parameters(make_url(vhost="nope")))
    assert "530" in str(info.value)
    assert "NOT_ALLOWED" in str(info.value)


def test_other_vhost_is_separate(
    make_url: Callable[..., str],
    server_broker: Broker,
    connect_pika: Callable[..., pika.BlockingConnection],
) -> None:
    server_broker.add_vhost("other")
    ch = connect_pika(make_url(vhost="other")).channel()
    ch.queue_declare("q")
    assert "q" in server_broker.vhost("other").queues
    assert "q" not in server_broker.queues


def _parameters(url: str) -> pika.URLParameters:
    params = pika.URLParameters(url)
    params.socket_timeout = TIMEOUT
    params.stack_timeout = TIMEOUT
    params.connection_attempts = 1
    return params


# --------------------------------------------------------------------------- in-process and wire together


def test_in_process_publish_reaches_wire_consumer(
    pika_connection: pika.BlockingConnection, server_broker: Broker
) -> None:  # the core wakes the server connection from another thread
    ch = pika_connection.channel()
    ch.queue_declare("shared")
    received: list[bytes] = []
    ch.basic_consume(
        "shared", lambda c, m, p, body: (received.append(body), c.basic_ack(m.delivery_tag))
    )
    local = server_broker.connect()
    try:
        local.channel().basic_publish("", "shared", b"from in-process")
        deadline = time.monotonic() + TIMEOUT
        while not received and time.monotonic() < deadline:
            pika_connection.process_data_events(0.01)
    finally:
        local.close()
    assert received == [b"from in-process"]


def test_wire_publish_reaches_in_process_consumer(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:
    local = server_broker.connect()
    try:
        local_ch = local.channel()
        local_ch.queue_declare("shared")
        received: list[bytes] = []
        local_ch.basic_consume("shared", lambda c, m, p, body: received.append(body), auto_ack=True)
        pika_channel.confirm_delivery()
        pika_channel.basic_publish("", "shared", b"from the wire")
        deadline = time.monotonic() + TIMEOUT
        while not received and time.monotonic() < deadline:
            local.process_data_events(time_limit=0.01)
        assert received == [b"from the wire"]
    finally:
        local.close()


def test_alternate_exchange_counts_as_routed_for_mandatory(
    pika_channel: BlockingChannel,
) -> None:  # spec 1.23, 1.24
    pika_channel.exchange_declare("ae", "fanout")
    pika_channel.queue_declare("caught")
    pika_channel.queue_bind("caught", "ae")
    pika_channel.exchange_declare("main", "direct", arguments={"alternate-exchange": "ae"})
    pika_channel.confirm_delivery()
    pika_channel.basic_publish("main", "unbound", b"x", mandatory=True)  # no UnroutableError
    method, _, body = drain_one(pika_channel, "caught")
    assert method.exchange == "main"
    pika_channel.basic_ack(method.delivery_tag)


def test_ttl_zero_without_consumer_expires(
    pika_channel: BlockingChannel, server_broker: Broker
) -> None:  # spec 3.4
    pika_channel.queue_declare("q", arguments={"x-message-ttl": 0})
    pika_channel.confirm_delivery()
    pika_channel.basic_publish("", "q", b"gone", mandatory=True)  # routed: no return
    assert pika_channel.queue_declare("q", passive=True).method.message_count == 0
    assert server_broker.queues["q"].stats.dropped.get("expired") == 1
