"""Consumer acknowledgement timeout (spec 0.8): an unacked delivery older than
``consumer_timeout`` (30 minutes by default) closes its channel with 406.

RabbitMQ checks once a minute, so a channel closes between the timeout and a
minute after it; the tests allow that window and no more.
"""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import Broker, Channel, ChannelClosed, PreconditionFailed, VirtualClock

TIMEOUT_TEXT = (
    "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value used: "
    "1800000 ms. This timeout value can be configured, see consumers doc guide to learn more"
)


def _consume_without_ack(ch: Channel, queue: str = "q") -> list[int]:
    tags: list[int] = []
    ch.basic_consume(queue, lambda c, m, p, b: tags.append(m.delivery_tag))
    return tags


def test_unacked_delivery_closes_channel_after_30_minutes_spec_0_8(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    closed: list[Any] = []
    ch.add_on_close_callback(lambda channel, reason: closed.append(reason))
    ch.queue_declare("q")
    tags = _consume_without_ack(ch)
    ch.basic_publish("", "q", b"slow")
    broker.run_until_idle()
    assert tags == [1]
    clock.advance(1799)
    assert ch.is_open
    clock.advance(61)
    assert ch.is_closed
    with pytest.raises(ChannelClosed) as info:
        ch.basic_ack(1)
    assert info.value.reply_code == 406
    assert info.value.reply_text == TIMEOUT_TEXT
    broker.run_until_idle()
    assert isinstance(closed[0], PreconditionFailed)
    assert closed[0].reply_text == TIMEOUT_TEXT
    queue = broker.queues["q"]
    assert queue.messages_ready == 1  # requeued by the close (spec 7.13)
    assert queue.messages_unacknowledged == 0 and queue.consumer_count == 0


def test_basic_get_without_ack_times_out_too_spec_0_8(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    method, _, _ = ch.basic_get("q")
    assert method is not None
    clock.advance(1860)
    assert ch.is_closed and ch.connection.is_open  # a channel error, not a connection error
    method, _, _ = broker.connect().channel().basic_get("q", auto_ack=True)
    assert method is not None and method.redelivered


def test_acked_in_time_keeps_channel_open_spec_0_8(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("q")
    tags = _consume_without_ack(ch)
    for minute in range(90):  # one message a minute, each acked 20 minutes later
        ch.basic_publish("", "q", b"%d" % minute)
        broker.run_until_idle()
        if minute >= 20:
            ch.basic_ack(tags[minute - 20])
        clock.advance(60)
    assert ch.is_open


def test_age_is_measured_from_each_delivery_spec_0_8(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("q")
    tags = _consume_without_ack(ch)
    ch.basic_publish("", "q", b"first")
    broker.run_until_idle()
    clock.advance(1000)
    ch.basic_publish("", "q", b"second")
    broker.run_until_idle()
    ch.basic_ack(tags[0])
    clock.advance(1000)  # the first would be 2000 s old; the second is 1000 s old
    assert ch.is_open
    clock.advance(860)
    assert ch.is_closed


def test_auto_ack_consumers_never_time_out_spec_0_8(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("q")
    got: list[bytes] = []
    ch.basic_consume("q", lambda c, m, p, b: got.append(b), auto_ack=True)
    ch.basic_publish("", "q", b"m")
    broker.run_until_idle()
    clock.advance(7200)
    assert got == [b"m"] and ch.is_open


def test_other_channels_are_not_affected_spec_0_8(broker: Broker, clock: VirtualClock) -> None:
    conn = broker.connect()
    slow, fast = conn.channel(), conn.channel()
    slow.queue_declare("q")
    _consume_without_ack(slow)
    slow.basic_publish("", "q", b"m")
    broker.run_until_idle()
    clock.advance(1860)
    assert slow.is_closed and fast.is_open and conn.is_open


def test_timeout_can_be_configured_or_disabled_spec_0_8() -> None:
    clock = VirtualClock()
    broker = Broker(clock=clock, consumer_timeout=5)
    ch = broker.connect().channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    ch.basic_get("q")
    clock.advance(4)
    assert ch.is_open
    clock.advance(1)
    assert ch.is_closed
    with pytest.raises(ChannelClosed) as info:
        ch.basic_get("q")
    assert "Timeout value used: 5000 ms" in info.value.reply_text

    clock = VirtualClock()
    broker = Broker(clock=clock, consumer_timeout=None)
    ch = broker.connect().channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    ch.basic_get("q")
    clock.advance(10 * 86400)
    assert ch.is_open
    ch.basic_ack(1)


# --------------------------------------------------------------------------- x-consumer-timeout
# RabbitMQ 3.12-4.2 read a classic queue's x-consumer-timeout argument (milliseconds)
# when checking a channel's oldest unacked delivery (spec 0.8); the broker-wide
# consumer_timeout applies to queues without it.


def _text(ms: int) -> str:
    return (
        "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. Timeout value "
        f"used: {ms} ms. This timeout value can be configured, see consumers doc guide to "
        "learn more"
    )


def test_queue_argument_shortens_the_timeout_spec_0_8(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("q", arguments={"x-consumer-timeout": 90_000})
    tags = _consume_without_ack(ch)
    ch.basic_publish("", "q", b"m")
    broker.run_until_idle()
    assert tags == [1]
    clock.advance(89)
    assert ch.is_open
    clock.advance(61)  # checked at least once a minute after the 90 s
    assert ch.is_closed
    with pytest.raises(ChannelClosed) as info:
        ch.basic_ack(1)
    assert (info.value.reply_code, info.value.reply_text) == (406, _text(90_000))
    assert broker.queues["q"].messages_ready == 1  # requeued (spec 7.13)


def test_queue_argument_lengthens_the_timeout_spec_0_8(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("q", arguments={"x-consumer-timeout": 2 * 3600 * 1000})
    ch.basic_publish("", "q", b"m")
    method, _, _ = ch.basic_get("q")  # basic.get deliveries count too
    assert method is not None
    clock.advance(3600)  # past the broker's 30 minutes
    assert ch.is_open
    clock.advance(3600 + 60)
    assert ch.is_closed
    with pytest.raises(ChannelClosed) as info:
        ch.basic_get("q")
    assert info.value.reply_text == _text(7_200_000)


def test_queue_argument_applies_when_the_broker_timeout_is_off_spec_0_8() -> None:
    clock = VirtualClock()
    broker = Broker(clock=clock, consumer_timeout=None)
    ch = broker.connect().channel()
    ch.queue_declare("plain")
    ch.queue_declare("timed", arguments={"x-consumer-timeout": 60_000})
    for name in ("plain", "timed"):
        ch.basic_publish("", name, name.encode())
    assert ch.basic_get("plain")[0] is not None  # tag 1: never times out
    clock.advance(86400)
    assert ch.is_open
    assert ch.basic_get("timed")[0] is not None  # tag 2
    clock.advance(3600)
    assert ch.is_open  # only the oldest unacked delivery is looked at, and it has no limit
    ch.basic_ack(1)
    clock.advance(60)
    assert ch.is_closed
    with pytest.raises(ChannelClosed) as info:
        ch.basic_ack(2)
    assert info.value.reply_text == _text(60_000)


def test_only_the_oldest_unacked_delivery_is_checked_spec_0_8(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("long", arguments={"x-consumer-timeout": 3 * 3600 * 1000})
    ch.queue_declare("short", arguments={"x-consumer-timeout": 60_000})
    ch.basic_publish("", "long", b"l")
    ch.basic_publish("", "short", b"s")
    assert ch.basic_get("long")[0] is not None  # tag 1, the oldest
    assert ch.basic_get("short")[0] is not None  # tag 2
    clock.advance(3600)
    assert ch.is_open  # the short one is an hour old, but only the oldest counts
    ch.basic_ack(1)
    clock.advance(60)  # now the short one is the oldest, and long overdue
    assert ch.is_closed
    assert broker.queues["short"].messages_ready == 1


@pytest.mark.parametrize("value", ["soon", 1.5, True, {"ms": 5}])
def test_queue_argument_that_is_not_an_integer_disables_the_timeout_spec_0_8(
    broker: Broker, clock: VirtualClock, ch: Channel, value: Any
) -> None:
    # RabbitMQ 4.2 accepts any value and acts only on an integer
    ch.queue_declare("q", arguments={"x-consumer-timeout": value})
    ch.basic_publish("", "q", b"m")
    assert ch.basic_get("q")[0] is not None
    clock.advance(30 * 86400)
    assert ch.is_open
    ch.basic_ack(1)


def test_redeclare_with_another_consumer_timeout_is_equivalent_spec_2_3(ch: Channel) -> None:
    # x-consumer-timeout is not among the arguments compared on redeclare
    ch.queue_declare("q", arguments={"x-consumer-timeout": 60_000})
    ch.queue_declare("q", arguments={"x-consumer-timeout": 120_000})
    ch.queue_declare("q")
    assert ch.is_open


def test_untimed_queue_sets_no_timers_when_the_broker_timeout_is_off_spec_0_8() -> None:
    # 10 000 unacked deliveries and ten years of virtual time: no periodic check runs
    clock = VirtualClock()
    broker = Broker(clock=clock, consumer_timeout=None)
    ch = broker.connect().channel()
    ch.queue_declare("timed", arguments={"x-consumer-timeout": 60_000})
    ch.queue_declare("plain")
    ch.basic_publish("", "timed", b"t")
    assert ch.basic_get("timed")[0] is not None
    ch.basic_ack(1)
    for _ in range(10_000):
        ch.basic_publish("", "plain", b"p")
        assert ch.basic_get("plain")[0] is not None
    clock.advance(3600)  # the check stops: nothing unacked can time out
    clock.advance(10 * 365 * 86400)
    assert ch.is_open
    ch.basic_ack(0, multiple=True)
    assert broker.queues["plain"].messages == 0


# review findings: transactions (spec 8.8) and deleted queues


def _close_time(clock: VirtualClock, ch: Channel, limit: float = 4000) -> float | None:
    start = clock.now()
    while ch.is_open and clock.now() - start < limit:
        clock.advance(1)
    return clock.now() if ch.is_closed else None


def _off() -> tuple[VirtualClock, Broker, Channel]:
    clock = VirtualClock()
    broker = Broker(clock=clock, consumer_timeout=None)
    return clock, broker, broker.connect().channel()


def test_rollback_keeps_the_delivery_time_of_a_held_ack_spec_0_8_spec_8_8() -> None:
    clock, _, ch = _off()
    t0 = clock.now()
    ch.queue_declare("q", arguments={"x-consumer-timeout": 600_000})
    for _ in range(2):
        ch.basic_publish("", "q", b"x")
    ch.tx_select()
    ch.basic_get("q")  # tag 1 at t0: due at t0 + 600
    clock.advance(1)
    ch.basic_ack(1)  # held by the transaction
    clock.advance(99)
    ch.basic_get("q")  # tag 2, younger
    clock.advance(100)  # checks run with tag 2 as the oldest
    ch.tx_rollback()  # tag 1 is unacked again, delivered at t0
    closed_at = _close_time(clock, ch)
    assert closed_at is not None and 600 <= closed_at - t0 <= 660


def test_rollback_after_the_checks_stopped_keeps_the_delivery_time_spec_0_8_spec_8_8() -> None:
    clock, _, ch = _off()
    t0 = clock.now()
    ch.queue_declare("q", arguments={"x-consumer-timeout": 600_000})
    ch.queue_declare("untimed")
    ch.basic_publish("", "q", b"x")
    ch.basic_publish("", "untimed", b"x")
    ch.tx_select()
    ch.basic_get("q")  # tag 1, due at t0 + 600
    ch.basic_get("untimed")  # tag 2, no limit
    ch.basic_ack(1)  # held: only tag 2 is unacked, and it cannot time out
    clock.advance(100)
    ch.tx_rollback()
    closed_at = _close_time(clock, ch)
    assert closed_at is not None and 600 <= closed_at - t0 <= 660


def test_held_acks_that_cannot_time_out_leave_no_timer_spec_0_8_spec_8_8() -> None:
    clock, broker, ch = _off()
    ch.queue_declare("q", arguments={"x-consumer-timeout": 600_000})
    ch.queue_declare("untimed")
    ch.basic_publish("", "q", b"x")
    ch.basic_publish("", "untimed", b"x")
    ch.tx_select()
    ch.basic_get("q")
    ch.basic_get("untimed")
    ch.basic_ack(1)
    ch.tx_commit()
    ch.basic_ack(2)  # held, never committed; it has no limit
    clock.advance(3600)
    ticks: list[float] = []
    tick = broker.tick
    broker.tick = lambda: (ticks.append(clock.now()), tick())[1]  # type: ignore[method-assign]
    clock.advance(365 * 86400)
    assert len(ticks) == 1  # only advance's own final tick: no check keeps running
    assert ch.is_open


def test_deleted_queue_falls_back_to_the_broker_timeout_spec_0_8() -> None:
    # RabbitMQ looks the queue up by name at each check
    clock, _, ch = _off()
    ch.queue_declare("q", arguments={"x-consumer-timeout": 60_000})
    ch.basic_publish("", "q", b"x")
    ch.basic_get("q")
    ch.queue_delete("q")
    clock.advance(3000)
    assert ch.is_open  # the broker has no timeout

    clock = VirtualClock()
    broker = Broker(clock=clock, consumer_timeout=3600)
    ch = broker.connect().channel()
    t0 = clock.now()
    ch.queue_declare("q", arguments={"x-consumer-timeout": 60_000})
    ch.basic_publish("", "q", b"x")
    ch.basic_get("q")
    ch.queue_delete("q")
    closed_at = _close_time(clock, ch)
    assert closed_at is not None and 3600 <= closed_at - t0 <= 3660


def test_queue_declared_again_under_the_name_sets_the_timeout_spec_0_8() -> None:
    clock, _, ch = _off()
    t0 = clock.now()
    ch.queue_declare("q", arguments={"x-consumer-timeout": 60_000})
    ch.basic_publish("", "q", b"x")
    ch.basic_get("q")
    ch.queue_delete("q")
    ch.queue_declare("q", arguments={"x-consumer-timeout": 1_200_000})
    closed_at = _close_time(clock, ch)
    assert closed_at is not None and 1200 <= closed_at - t0 <= 1260


def test_a_closed_channel_is_not_kept_alive_by_its_pending_ack_check() -> None:
    # the ack-timeout check holds its channel weakly: a channel closed with unacked
    # deliveries (and all it refers to) goes when nothing else holds it
    import gc
    import weakref

    broker = Broker()
    connection = broker.connect()
    channel = connection.channel()
    channel.queue_declare("q")
    channel.basic_publish("", "q", b"x")
    channel.basic_get("q")  # unacked: a check is armed
    ref = weakref.ref(channel)
    channel.close()
    del channel
    gc.collect()
    assert ref() is None
    assert broker.queues["q"].messages_ready == 1  # requeued by the close (spec 7.13)
