"""Priority queues (spec 6.1-6.3), with TTL, length limits and requeue inside them."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import BasicProperties, Broker, Channel, Connection, PreconditionFailed, VirtualClock


def _pq(ch: Channel, name: str = "q", max_priority: int = 5, **arguments: Any) -> None:
    ch.queue_declare(name, arguments={"x-max-priority": max_priority, **arguments})


def _pub(ch: Channel, body: str, priority: int | None = None, queue: str = "q", **kw: Any) -> None:
    properties = BasicProperties(priority=priority, **kw) if priority is not None or kw else None
    ch.basic_publish("", queue, body, properties)


def _bodies(ch: Channel, queue: str = "q") -> list[str]:
    result = []
    while True:
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return result
        result.append(body.decode())


def _bodies_one(ch: Channel) -> str | None:
    method, _, body = ch.basic_get("q", auto_ack=True)
    return None if method is None else body.decode()


def _ready(broker: Broker, queue: str = "q") -> list[str]:
    return [m.body.decode() for m in broker.queues[queue].peek()]


# ----------------------------------------------------------------- 6.1 x-max-priority


@pytest.mark.parametrize("value", [0, 1, 10, 255])
def test_max_priority_in_range_accepted_spec_6_1(broker: Broker, ch: Channel, value: int) -> None:
    ch.queue_declare("q", arguments={"x-max-priority": value})
    assert broker.queues["q"].arguments["x-max-priority"] == value


@pytest.mark.parametrize("value", [256, -1, "5", 2.0, True])
def test_max_priority_out_of_range_refused_spec_6_1(
    broker: Broker, conn: Connection, value: Any
) -> None:
    ch = conn.channel()
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", arguments={"x-max-priority": value})
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith(
        "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/'"
    )
    assert "q" not in broker.queues
    assert ch.is_closed


def test_max_priority_zero_acts_as_one_spec_6_1(broker: Broker, ch: Channel) -> None:
    _pq(ch, max_priority=0)
    _pub(ch, "zero-a", 0)
    _pub(ch, "none")
    _pub(ch, "one", 1)
    _pub(ch, "nine", 9)  # capped at 1
    _pub(ch, "zero-b", 0)
    assert _bodies(ch) == ["one", "nine", "zero-a", "none", "zero-b"]


def test_max_priority_one_two_levels_spec_6_1(broker: Broker, ch: Channel) -> None:
    _pq(ch, max_priority=1)
    _pub(ch, "a", 0)
    _pub(ch, "b", 1)
    _pub(ch, "c", 200)
    assert _bodies(ch) == ["b", "c", "a"]


def test_max_priority_255_uses_all_levels_spec_6_1(broker: Broker, ch: Channel) -> None:
    _pq(ch, max_priority=255)
    for priority in (3, 255, 0, 128, 254):
        _pub(ch, f"p{priority}", priority)
    assert _bodies(ch) == ["p255", "p254", "p128", "p3", "p0"]


def test_max_priority_redeclare_must_match_spec_2_3(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    _pq(ch, max_priority=5)
    with pytest.raises(PreconditionFailed) as info:
        _pq(ch, max_priority=6)
    assert "inequivalent arg 'x-max-priority'" in info.value.reply_text


# ----------------------------------------------------------------- 6.2 ordering


def test_higher_priority_first_fifo_within_level_spec_6_2(broker: Broker, ch: Channel) -> None:
    _pq(ch, max_priority=10)
    _pub(ch, "low-1", 1)
    _pub(ch, "high-1", 8)
    _pub(ch, "mid-1", 4)
    _pub(ch, "high-2", 8)
    _pub(ch, "low-2", 1)
    _pub(ch, "mid-2", 4)
    assert _ready(broker) == ["high-1", "high-2", "mid-1", "mid-2", "low-1", "low-2"]
    assert _bodies(ch) == ["high-1", "high-2", "mid-1", "mid-2", "low-1", "low-2"]


def test_missing_priority_is_zero_spec_6_2(broker: Broker, ch: Channel) -> None:
    _pq(ch)
    _pub(ch, "none-1")
    _pub(ch, "zero", 0)
    _pub(ch, "one", 1)
    _pub(ch, "none-2")
    assert _bodies(ch) == ["one", "none-1", "zero", "none-2"]


def test_priority_above_max_is_max_spec_6_2(broker: Broker, ch: Channel) -> None:
    _pq(ch, max_priority=5)
    _pub(ch, "at-max", 5)
    _pub(ch, "above", 9)
    _pub(ch, "way-above", 255)
    _pub(ch, "below", 4)
    _pub(ch, "at-max-2", 5)
    assert _bodies(ch) == ["at-max", "above", "way-above", "at-max-2", "below"]


def test_priority_property_delivered_unchanged_spec_6_2(broker: Broker, ch: Channel) -> None:
    _pq(ch, max_priority=2)
    _pub(ch, "m", 9)
    _, properties, _ = ch.basic_get("q", auto_ack=True)
    assert properties.priority == 9


def test_queue_without_max_priority_ignores_priority_spec_6_2(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    _pub(ch, "a", 0)
    _pub(ch, "b", 9)
    _pub(ch, "c")
    _pub(ch, "d", 5)
    assert _bodies(ch) == ["a", "b", "c", "d"]


def test_priority_order_for_consumer_spec_6_2(broker: Broker, ch: Channel) -> None:
    _pq(ch)
    for body, priority in (("a", 1), ("b", 3), ("c", 2), ("d", 3)):
        _pub(ch, body, priority)
    received: list[str] = []
    ch.basic_consume("q", lambda c, m, p, body: received.append(body.decode()), auto_ack=True)
    broker.run_until_idle()
    assert received == ["b", "d", "c", "a"]


def test_message_count_counts_all_levels_spec_6_2(broker: Broker, ch: Channel) -> None:
    _pq(ch)
    for priority in (0, 1, 5, 5, None):
        _pub(ch, "m", priority)
    assert ch.queue_declare("q", arguments={"x-max-priority": 5}).message_count == 5
    method, _, _ = ch.basic_get("q", auto_ack=True)
    assert method.message_count == 4


# ----------------------------------------------------------------- 6.3 highest level always


def test_always_highest_non_empty_level_no_rotation_spec_6_3(broker: Broker, ch: Channel) -> None:
    _pq(ch)
    for index in range(20):
        _pub(ch, f"low{index}", 1)
    for index in range(20):
        _pub(ch, f"high{index}", 5)
    got = _bodies(ch)
    assert got == [f"high{i}" for i in range(20)] + [f"low{i}" for i in range(20)]


def test_new_high_priority_overtakes_waiting_low_for_consumer_spec_6_3(
    broker: Broker, ch: Channel
) -> None:
    _pq(ch)
    received: list[Any] = []
    ch.basic_qos(prefetch_count=1)
    ch.basic_consume("q", lambda c, m, p, body: received.append((m.delivery_tag, body.decode())))
    _pub(ch, "low-1", 1)  # delivered at once: the consumer was free
    _pub(ch, "low-2", 1)
    _pub(ch, "low-3", 1)
    _pub(ch, "high", 4)
    broker.run_until_idle()
    order = []
    while received:
        tag, body = received.pop(0)
        order.append(body)
        ch.basic_ack(tag)
        broker.run_until_idle()
    assert order == ["low-1", "high", "low-2", "low-3"]


def test_higher_level_refilled_keeps_precedence_spec_6_3(broker: Broker, ch: Channel) -> None:
    _pq(ch)
    _pub(ch, "low-1", 0)
    _pub(ch, "low-2", 0)
    _pub(ch, "high-1", 5)
    assert _bodies_one(ch) == "high-1"
    assert _bodies_one(ch) == "low-1"
    _pub(ch, "high-2", 5)
    assert _bodies_one(ch) == "high-2"
    assert _bodies_one(ch) == "low-2"


# ----------------------------------------------------------------- TTL inside priority queues (3.3)


def test_queue_ttl_in_priority_queue_expires_head_levels_spec_3_3(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _pq(ch, **{"x-message-ttl": 1000})
    _pub(ch, "low", 1)
    clock.advance(0.5)
    _pub(ch, "high", 5)
    clock.advance(0.5)  # low is past its deadline but high is the head
    assert _ready(broker) == ["high", "low"]
    assert broker.queues["q"].stats.dropped["expired"] == 0
    clock.advance(0.5)  # high expires at the head, then low is at the head and expired
    assert _ready(broker) == []
    assert broker.queues["q"].stats.dropped["expired"] == 2


def test_expired_high_level_message_skipped_spec_3_3(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _pq(ch)
    _pub(ch, "low", 1)
    _pub(ch, "high-dies", 5, expiration="1000")
    _pub(ch, "high-lives", 5)
    clock.advance(1)
    assert _bodies(ch) == ["high-lives", "low"]
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_expired_low_level_under_live_high_counted_then_dropped_spec_3_3(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _pq(ch)
    _pub(ch, "low-dies", 0, expiration="100")
    _pub(ch, "high", 3)
    clock.advance(1)
    assert ch.queue_declare("q", arguments={"x-max-priority": 5}).message_count == 2
    assert _bodies(ch) == ["high"]
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_expired_in_priority_queue_dead_lettered_with_priority_spec_3_3(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _pq(ch, "dlq")
    _pq(
        ch,
        **{"x-message-ttl": 1000, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"},
    )
    _pub(ch, "low", 1)
    _pub(ch, "high", 4)
    clock.advance(1)
    # dead-lettered head first: high then low; the DLQ orders them by priority again
    assert broker.queues["q"].stats.dead_lettered == 2
    got = []
    while True:
        method, properties, body = ch.basic_get("dlq", auto_ack=True)
        if method is None:
            break
        got.append((body.decode(), properties.priority, properties.headers["x-death"][0]["reason"]))
    assert got == [("high", 4, "expired"), ("low", 1, "expired")]


# ----------------------------------------------------------------- length limits inside priority queues (5.2)


def test_drop_head_takes_highest_level_head_spec_5_2(broker: Broker, ch: Channel) -> None:
    _pq(ch, **{"x-max-length": 3})
    _pub(ch, "low-a", 1)
    _pub(ch, "low-b", 1)
    _pub(ch, "high-c", 3)
    _pub(ch, "high-d", 3)  # over: the head (high-c) goes
    assert _ready(broker) == ["high-d", "low-a", "low-b"]
    _pub(ch, "mid-e", 2)  # over: high-d goes
    assert _ready(broker) == ["mid-e", "low-a", "low-b"]
    assert broker.queues["q"].stats.dropped["maxlen"] == 2


def test_drop_head_new_high_message_can_drop_itself_spec_5_2(broker: Broker, ch: Channel) -> None:
    _pq(ch, **{"x-max-length": 2})
    _pub(ch, "low-a", 0)
    _pub(ch, "low-b", 0)
    _pub(ch, "high", 5)  # it is the head once enqueued, so it is dropped
    assert _ready(broker) == ["low-a", "low-b"]
    assert broker.queues["q"].stats.dropped["maxlen"] == 1


def test_drop_head_bytes_in_priority_queue_dead_letters_spec_5_2(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("dlq")
    _pq(
        ch,
        **{
            "x-max-length-bytes": 6,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "dlq",
        },
    )
    _pub(ch, "aaa", 1)
    _pub(ch, "bbb", 4)
    _pub(ch, "cc", 2)  # 8 bytes: bbb (highest level) goes
    assert _ready(broker) == ["cc", "aaa"]
    method, properties, body = ch.basic_get("dlq", auto_ack=True)
    assert body == b"bbb"
    assert properties.headers["x-death"][0]["reason"] == "maxlen"


def test_reject_publish_in_priority_queue_refuses_new_regardless_spec_5_3(
    broker: Broker, ch: Channel
) -> None:
    _pq(ch, **{"x-max-length": 2, "x-overflow": "reject-publish"})
    _pub(ch, "low-a", 0)
    _pub(ch, "low-b", 0)
    _pub(ch, "high", 5)
    assert _ready(broker) == ["low-a", "low-b"]
    assert broker.queues["q"].stats.dropped["overflow"] == 1


# ----------------------------------------------------------------- requeue inside priority queues (2.12)


def test_requeue_back_to_original_position_within_level_spec_2_12(
    broker: Broker, ch: Channel
) -> None:
    _pq(ch)
    for body in ("a", "b", "c"):
        _pub(ch, body, 2)
    _pub(ch, "x", 1)
    ma, _, _ = ch.basic_get("q")
    mb, _, _ = ch.basic_get("q")
    ch.basic_nack(mb.delivery_tag, requeue=True)
    ch.basic_nack(ma.delivery_tag, requeue=True)
    assert _ready(broker) == ["a", "b", "c", "x"]
    got = []
    while True:
        method, _, body = ch.basic_get("q", auto_ack=True)
        if method is None:
            break
        got.append((body.decode(), method.redelivered))
    assert got == [("a", True), ("b", True), ("c", False), ("x", False)]


def test_requeued_low_priority_stays_behind_higher_spec_2_12(broker: Broker, ch: Channel) -> None:
    _pq(ch)
    _pub(ch, "low", 1)
    method, _, _ = ch.basic_get("q")
    _pub(ch, "high", 4)
    _pub(ch, "low-later", 1)
    ch.basic_reject(method.delivery_tag, requeue=True)
    assert _bodies(ch) == ["high", "low", "low-later"]


def test_recover_requeues_into_levels_spec_2_12(broker: Broker, ch: Channel) -> None:
    _pq(ch, max_priority=3)
    for body, priority in (("h1", 3), ("h2", 3), ("l1", 0), ("l2", 0), ("capped", 9)):
        _pub(ch, body, priority)
    taken = [ch.basic_get("q")[2].decode() for _ in range(4)]
    assert taken == ["h1", "h2", "capped", "l1"]
    ch.basic_recover(requeue=True)
    assert _ready(broker) == ["h1", "h2", "capped", "l1", "l2"]
    assert _bodies(ch) == ["h1", "h2", "capped", "l1", "l2"]


def test_requeue_over_limit_in_priority_queue_drops_highest_head_spec_5_5(
    broker: Broker, ch: Channel
) -> None:
    _pq(ch, **{"x-max-length": 2})
    _pub(ch, "low", 0)
    _pub(ch, "high", 5)
    method, _, _ = ch.basic_get("q")  # high
    _pub(ch, "mid", 3)
    assert _ready(broker) == ["mid", "low"]
    ch.basic_nack(method.delivery_tag, requeue=True)  # high returns to the head and is dropped
    assert _ready(broker) == ["mid", "low"]
    assert broker.queues["q"].stats.dropped["maxlen"] == 1


def test_requeued_expired_in_lower_level_waits_spec_3_5(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _pq(ch, **{"x-message-ttl": 1000})
    _pub(ch, "low", 0)
    method, _, _ = ch.basic_get("q")
    _pub(ch, "high", 5, expiration="60000")
    clock.advance(2)  # the queue TTL (1 s) caps high's 60 s expiration: gone
    assert broker.queues["q"].stats.dropped["expired"] == 1
    ch.basic_nack(method.delivery_tag, requeue=True)  # low is past its deadline: at the head now
    assert _ready(broker) == []
    assert broker.queues["q"].stats.dropped["expired"] == 2


def test_requeued_expired_low_behind_live_high_stays_spec_3_5(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    _pq(ch)
    _pub(ch, "low", 0, expiration="1000")
    method, _, _ = ch.basic_get("q")
    _pub(ch, "high", 5)
    clock.advance(2)
    ch.basic_nack(method.delivery_tag, requeue=True)
    assert _ready(broker) == ["high", "low"]
    assert _bodies(ch) == ["high"]
    assert broker.queues["q"].stats.dropped["expired"] == 1
