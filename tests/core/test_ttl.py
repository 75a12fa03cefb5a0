"""Message TTL (spec 3.1-3.5) and validation of the x-message-ttl argument (spec 2.7)."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import (
    BasicProperties,
    Broker,
    Channel,
    Connection,
    PreconditionFailed,
    VirtualClock,
)

MAX_TTL = 315_360_000_000


def _declare(ch: Channel, name: str, **arguments: Any) -> None:
    ch.queue_declare(name, arguments=arguments or None)


def _publish(ch: Channel, queue: str, body: str, expiration: str | None = None, **kw: Any) -> None:
    properties = (
        BasicProperties(expiration=expiration, **kw) if expiration is not None or kw else None
    )
    ch.basic_publish("", queue, body, properties)


def _get_body(ch: Channel, queue: str) -> bytes | None:
    method, _, body = ch.basic_get(queue, auto_ack=True)
    return None if method is None else body


def _drain(ch: Channel, queue: str) -> list[bytes]:
    bodies = []
    while (body := _get_body(ch, queue)) is not None:
        bodies.append(body)
    return bodies


# ----------------------------------------------------------------- 3.1 effective TTL


def test_queue_ttl_expires_message_at_deadline_spec_3_1(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 1000})
    _publish(ch, "q", "a")
    clock.advance(0.75)
    assert broker.queues["q"].messages_ready == 1
    clock.advance(0.25)
    queue = broker.queues["q"]
    assert queue.messages_ready == 0
    assert queue.stats.dropped["expired"] == 1
    assert _get_body(ch, "q") is None


def test_message_expiration_alone_spec_3_1(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q")
    _publish(ch, "q", "a", expiration="2500")
    clock.advance(2.25)
    assert broker.queues["q"].messages_ready == 1
    clock.advance(0.25)
    assert broker.queues["q"].messages_ready == 0
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_lower_message_expiration_wins_over_queue_ttl_spec_3_1(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 10_000})
    _publish(ch, "q", "short", expiration="1000")
    _publish(ch, "q", "plain")
    clock.advance(1.0)
    # the short one was at the head: gone; the other keeps the queue TTL
    assert [m.body for m in broker.queues["q"].peek()] == [b"plain"]
    clock.advance(8.75)
    assert broker.queues["q"].messages_ready == 1
    clock.advance(0.25)
    assert broker.queues["q"].messages_ready == 0
    assert broker.queues["q"].stats.dropped["expired"] == 2


def test_lower_queue_ttl_wins_over_message_expiration_spec_3_1(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 1000})
    _publish(ch, "q", "long", expiration="60000")
    clock.advance(1.0)
    assert broker.queues["q"].messages_ready == 0
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_expiry_fixed_at_enqueue_not_reset_by_requeue_spec_3_1(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 10_000})
    _publish(ch, "q", "a")
    clock.advance(5)
    method, _, body = ch.basic_get("q")
    assert body == b"a"
    ch.basic_nack(method.delivery_tag, requeue=True)
    # still due at t=10, not t=15
    clock.advance(4.75)
    assert broker.queues["q"].messages_ready == 1
    clock.advance(0.25)
    assert broker.queues["q"].messages_ready == 0
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_unacked_message_does_not_expire_while_held_spec_3_1(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 1000})
    _publish(ch, "q", "a")
    method, _, _ = ch.basic_get("q")
    clock.advance(5)
    queue = broker.queues["q"]
    assert queue.messages_unacknowledged == 1
    ch.basic_ack(method.delivery_tag)
    assert queue.stats.acked == 1
    assert queue.stats.dropped["expired"] == 0


def test_ttl_measured_from_each_message_enqueue_spec_3_1(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 1000})
    _publish(ch, "q", "a")
    clock.advance(0.5)
    _publish(ch, "q", "b")
    clock.advance(0.5)
    assert [m.body for m in broker.queues["q"].peek()] == [b"b"]
    clock.advance(0.5)
    assert broker.queues["q"].peek() == []


# ----------------------------------------------------------------- 3.2 expiration validation


@pytest.mark.parametrize("expiration", ["abc", "-1", "5x", "", " 5", "1.5", str(MAX_TTL + 1)])
def test_invalid_expiration_fails_publish_with_406_spec_3_2(
    broker: Broker, conn: Connection, expiration: str
) -> None:
    ch = conn.channel()
    _declare(ch, "q")
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_publish("", "q", b"x", BasicProperties(expiration=expiration))
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith("PRECONDITION_FAILED - invalid expiration")
    assert ch.is_closed
    assert broker.queues["q"].stats.enqueued == 0
    assert broker.queues["q"].messages_ready == 0


@pytest.mark.parametrize("expiration", ["0", "1", "60000", str(MAX_TTL)])
def test_valid_expiration_accepted_spec_3_2(
    broker: Broker, ch: Channel, clock: VirtualClock, expiration: str
) -> None:
    _declare(ch, "q")
    ch.basic_consume("q", lambda *a: None, auto_ack=True)  # so TTL 0 is delivered too (3.4)
    ch.basic_publish("", "q", b"x", BasicProperties(expiration=expiration))
    assert ch.is_open
    assert broker.queues["q"].stats.enqueued == 1
    assert broker.queues["q"].stats.delivered == 1


# ----------------------------------------------------------------- 3.3 expiry only at the head


def test_expired_message_behind_live_one_stays_and_counts_spec_3_3(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q")
    _publish(ch, "q", "live")
    _publish(ch, "q", "dies", expiration="1000")
    clock.advance(2)
    assert ch.queue_declare("q", passive=True).message_count == 2
    assert broker.queues["q"].stats.dropped["expired"] == 0
    assert _get_body(ch, "q") == b"live"
    # the expired one is now at the head: never returned
    assert _get_body(ch, "q") is None
    assert broker.queues["q"].stats.dropped["expired"] == 1
    assert broker.queues["q"].messages_ready == 0


def test_expired_message_never_delivered_to_consumer_spec_3_3(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q")
    received: list[bytes] = []
    tags: list[int] = []

    def on_message(channel: Channel, method: Any, properties: Any, body: bytes) -> None:
        received.append(body)
        tags.append(method.delivery_tag)

    ch.basic_qos(prefetch_count=1)
    ch.basic_consume("q", on_message)
    _publish(ch, "q", "first")
    _publish(ch, "q", "second", expiration="1000")
    _publish(ch, "q", "third")
    broker.run_until_idle()
    assert received == [b"first"]
    clock.advance(2)
    ch.basic_ack(tags[0])
    broker.run_until_idle()
    assert received == [b"first", b"third"]
    ch.basic_ack(tags[1])
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_expired_message_skipped_by_get_after_requeue_of_head_spec_3_3(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q")
    _publish(ch, "q", "a", expiration="1000")
    _publish(ch, "q", "b")
    method, _, _ = ch.basic_get("q")
    clock.advance(2)
    ch.basic_nack(method.delivery_tag, requeue=True)
    # "a" went back to the head with its deadline long past (3.5)
    assert _get_body(ch, "q") == b"b"
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_priority_queue_expired_low_level_waits_for_higher_levels_spec_3_3(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-max-priority": 5})
    _publish(ch, "q", "low", expiration="1000", priority=1)
    _publish(ch, "q", "high", priority=5)
    clock.advance(2)
    queue = broker.queues["q"]
    assert queue.messages_ready == 2
    assert queue.stats.dropped["expired"] == 0
    assert _get_body(ch, "q") == b"high"
    assert _get_body(ch, "q") is None
    assert queue.stats.dropped["expired"] == 1


def test_priority_queue_expired_at_highest_level_goes_at_once_spec_3_3(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-max-priority": 5})
    _publish(ch, "q", "low", priority=1)
    _publish(ch, "q", "high", expiration="1000", priority=5)
    clock.advance(1)
    queue = broker.queues["q"]
    assert [m.body for m in queue.peek()] == [b"low"]
    assert queue.stats.dropped["expired"] == 1


def test_get_ok_message_count_includes_expired_behind_head_spec_3_3(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q")
    _publish(ch, "q", "live1")
    _publish(ch, "q", "live2")
    _publish(ch, "q", "dies", expiration="1000")
    clock.advance(2)
    method, _, _ = ch.basic_get("q", auto_ack=True)
    assert method is not None
    assert method.message_count == 2


# ----------------------------------------------------------------- 3.4 TTL 0


def test_ttl_zero_without_consumer_expires_at_once_spec_3_4(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 0})
    _publish(ch, "q", "a")
    queue = broker.queues["q"]
    assert queue.messages_ready == 0
    assert queue.stats.dropped["expired"] == 1
    assert _get_body(ch, "q") is None


def test_ttl_zero_message_expiration_without_consumer_spec_3_4(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q")
    _publish(ch, "q", "a", expiration="0")
    assert _get_body(ch, "q") is None
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_ttl_zero_delivered_to_waiting_consumer_spec_3_4(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 0})
    received: list[bytes] = []
    ch.basic_consume("q", lambda c, m, p, body: received.append(body), auto_ack=True)
    _publish(ch, "q", "a")
    _publish(ch, "q", "b")
    broker.run_until_idle()
    assert received == [b"a", b"b"]
    assert broker.queues["q"].stats.dropped["expired"] == 0


def test_ttl_zero_expires_when_consumer_is_at_prefetch_limit_spec_3_4(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 0})
    received: list[Any] = []
    ch.basic_qos(prefetch_count=1)
    ch.basic_consume("q", lambda c, m, p, body: received.append((m.delivery_tag, body)))
    _publish(ch, "q", "a")
    _publish(ch, "q", "b")  # the consumer is full: expires
    broker.run_until_idle()
    assert [body for _, body in received] == [b"a"]
    ch.basic_ack(received[0][0])
    broker.run_until_idle()
    assert [body for _, body in received] == [b"a"]
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_ttl_zero_dead_lettered_expired_spec_3_4(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "dlq")
    ch.queue_declare(
        "q2",
        arguments={
            "x-message-ttl": 0,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "dlq",
        },
    )
    _publish(ch, "q2", "a")
    method, properties, body = ch.basic_get("dlq", auto_ack=True)
    assert body == b"a"
    assert properties.headers["x-death"][0]["reason"] == "expired"
    assert properties.headers["x-death"][0]["queue"] == "q2"
    assert broker.queues["q2"].stats.dead_lettered == 1


def test_ttl_zero_mandatory_gives_no_return_spec_3_4(
    broker: Broker, conn: Connection, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 0})
    returns: list[Any] = []
    ch.add_on_return_callback(lambda *args: returns.append(args))
    ch.basic_publish("", "q", b"a", mandatory=True)
    conn.process_data_events()
    broker.run_until_idle()
    assert returns == []
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_ttl_zero_mandatory_confirmed_with_ack_spec_3_4(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 0})
    confirms: list[Any] = []
    ch.confirm_delivery(confirms.append)
    ch.basic_publish("", "q", b"a", mandatory=True)  # neither UnroutableError nor NackError
    broker.run_until_idle()
    assert [type(c).__name__ for c in confirms] == ["BasicAck"]


# ----------------------------------------------------------------- 3.5 requeue after the deadline


def test_requeued_past_deadline_expires_at_head_spec_3_5(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q", **{"x-message-ttl": 1000})
    _publish(ch, "q", "a")
    method, _, _ = ch.basic_get("q")
    clock.advance(3)
    ch.basic_reject(method.delivery_tag, requeue=True)
    queue = broker.queues["q"]
    assert queue.messages_ready == 0
    assert queue.stats.dropped["expired"] == 1
    assert ch.basic_get("q") == (None, None, None)


def test_requeued_past_deadline_dead_lettered_expired_spec_3_5(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "dlq")
    _declare(
        ch,
        "q",
        **{"x-message-ttl": 1000, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"},
    )
    _publish(ch, "q", "a")
    method, _, _ = ch.basic_get("q")
    clock.advance(3)
    ch.basic_nack(method.delivery_tag, requeue=True)
    _, properties, body = ch.basic_get("dlq", auto_ack=True)
    assert body == b"a"
    assert properties.headers["x-death"][0]["reason"] == "expired"


def test_requeued_on_channel_close_past_deadline_expires_spec_3_5(
    broker: Broker, conn: Connection, clock: VirtualClock
) -> None:
    ch = conn.channel()
    _declare(ch, "q", **{"x-message-ttl": 1000})
    _publish(ch, "q", "a")
    _publish(ch, "q", "b", expiration="60000")
    ch.basic_get("q")
    clock.advance(2)
    ch.close()
    other = conn.channel()
    # "a" came back after its deadline and "b" now heads the queue
    assert _get_body(other, "q") is None
    assert broker.queues["q"].stats.dropped["expired"] == 2


def test_requeued_behind_live_head_stays_until_it_reaches_head_spec_3_5(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q")
    _publish(ch, "q", "first")
    _publish(ch, "q", "second", expiration="1000")
    m1, _, _ = ch.basic_get("q")
    m2, _, _ = ch.basic_get("q")
    clock.advance(2)
    ch.basic_nack(m2.delivery_tag, requeue=True)
    assert broker.queues["q"].messages_ready == 0  # expired at the head at once
    ch.basic_nack(m1.delivery_tag, requeue=True)
    method, _, body = ch.basic_get("q", auto_ack=True)
    assert body == b"first"
    assert method.redelivered is True
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_get_when_all_messages_expired_returns_empty_spec_3_5(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _declare(ch, "q")
    for index in range(5):
        _publish(ch, "q", f"m{index}", expiration=str(100 * (index + 1)))
    clock.advance(0.35)
    assert broker.queues["q"].messages_ready == 2
    clock.advance(10)
    assert ch.basic_get("q") == (None, None, None)
    assert broker.queues["q"].stats.dropped["expired"] == 5


# ----------------------------------------------------------------- 2.7 x-message-ttl argument


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (-1, "{value_negative,-1}"),
        (MAX_TTL + 1, None),
        ("1000", None),
        (1.5, None),
        (True, None),
    ],
)
def test_invalid_x_message_ttl_refused_406_spec_2_7(
    broker: Broker, conn: Connection, value: Any, detail: str | None
) -> None:
    ch = conn.channel()
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", arguments={"x-message-ttl": value})
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith(
        "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue 'q' in vhost '/'"
    )
    if detail is not None:
        assert detail in info.value.reply_text
    assert ch.is_closed
    assert "q" not in broker.queues


@pytest.mark.parametrize("value", [0, 1, 60_000, MAX_TTL])
def test_valid_x_message_ttl_accepted_spec_2_7(broker: Broker, ch: Channel, value: int) -> None:
    ch.queue_declare("q", arguments={"x-message-ttl": value})
    assert broker.queues["q"].arguments["x-message-ttl"] == value
    assert ch.is_open


def test_bad_x_message_ttl_on_existing_queue_is_not_rechecked_as_creation_spec_2_7(
    broker: Broker, conn: Connection
) -> None:
    # validation happens when the queue is created; a redeclare with a different
    # value is an equivalence failure instead (spec 2.3)
    ch = conn.channel()
    ch.queue_declare("q", arguments={"x-message-ttl": 1000})
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", arguments={"x-message-ttl": 2000})
    assert info.value.reply_code == 406
    assert "inequivalent arg 'x-message-ttl'" in info.value.reply_text
