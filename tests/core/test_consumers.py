"""Consumer rules of spec section 7 (and 10.4): consume, tags, exclusivity,
priorities, prefetch, single active consumer, cancel, get, acks, recover, close,
and how callbacks are drained."""

from __future__ import annotations

import re
from typing import Any

import pytest

from amqpmodel import (
    AccessRefused,
    BasicCancel,
    BasicProperties,
    Broker,
    CallbacksDidNotSettle,
    Channel,
    ChannelClosed,
    Connection,
    ConnectionClosed,
    Deliver,
    FrameSyntaxError,
    GetOk,
    NotAllowed,
    NotFound,
    NotImplementedByBroker,
    PreconditionFailed,
)

GENERATED_TAG = re.compile(r"amq\.ctag-[A-Za-z0-9_-]{22}")


class Recorder:
    """An on_message_callback that records deliveries and can ack them."""

    def __init__(self, ack: bool = False) -> None:
        self.ack = ack
        self.deliveries: list[tuple[Deliver, BasicProperties, bytes]] = []
        self.channels: list[Channel] = []

    def __call__(self, ch: Channel, method: Deliver, props: BasicProperties, body: bytes) -> None:
        self.deliveries.append((method, props, body))
        self.channels.append(ch)
        if self.ack:
            ch.basic_ack(method.delivery_tag)

    @property
    def bodies(self) -> list[bytes]:
        return [body for _, _, body in self.deliveries]

    @property
    def tags(self) -> list[int]:
        return [method.delivery_tag for method, _, _ in self.deliveries]


def publish(ch: Channel, queue: str, body: str | bytes = b"m") -> None:
    ch.basic_publish("", queue, body)


def publish_n(ch: Channel, queue: str, count: int) -> None:
    for i in range(count):
        publish(ch, queue, str(i))


# ----------------------------------------------------------------- draining callbacks


def test_callbacks_do_not_run_inside_channel_methods(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    recorder = Recorder()
    ch.basic_consume("q", recorder)
    publish(ch, "q", b"x")
    assert recorder.deliveries == []
    assert broker.queues["q"].messages_unacknowledged == 1
    assert broker.run_until_idle() == 1
    assert recorder.bodies == [b"x"]
    assert recorder.channels == [ch]
    ch.basic_ack(recorder.tags[0])


def test_process_data_events_runs_pending_callbacks(conn: Connection, ch: Channel) -> None:
    ch.queue_declare("q")
    recorder = Recorder(ack=True)
    ch.basic_consume("q", recorder)
    publish_n(ch, "q", 3)
    assert conn.process_data_events() == 3
    assert recorder.bodies == [b"0", b"1", b"2"]
    assert conn.process_data_events() == 0


def test_process_data_events_only_drains_its_own_connection(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    other = broker.connect()
    try:
        recorder = Recorder(ack=True)
        other.channel().basic_consume("q", recorder)
        publish(ch, "q")
        ch.connection.process_data_events()
        assert recorder.deliveries == []
        other.process_data_events()
        assert recorder.bodies == [b"m"]
    finally:
        other.close()


def test_start_consuming_until_stop_consuming_from_callback(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    publish_n(ch, "q", 5)
    seen: list[bytes] = []

    def on_message(c: Channel, m: Deliver, p: BasicProperties, body: bytes) -> None:
        seen.append(body)
        c.basic_ack(m.delivery_tag)
        if len(seen) == 3:
            c.stop_consuming()

    ch.basic_qos(prefetch_count=1)
    ch.basic_consume("q", on_message)
    ch.start_consuming()
    assert seen == [b"0", b"1", b"2"]
    queue = broker.queues["q"]
    assert queue.consumer_count == 0  # stop_consuming cancels the consumers
    assert queue.messages_ready == 2
    assert queue.messages_unacknowledged == 0


def test_start_consuming_returns_when_consumers_are_cancelled_by_broker_spec_7_8(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    publish(ch, "q")
    other = conn.channel()

    def on_message(c: Channel, m: Deliver, p: BasicProperties, body: bytes) -> None:
        c.basic_ack(m.delivery_tag)
        other.queue_delete("q")

    ch.basic_consume("q", on_message)
    ch.start_consuming()
    assert "q" not in broker.queues


def test_callback_may_publish_ack_and_declare_without_recursion(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("in")
    depth = 0
    max_depth = 0
    forwarded = Recorder(ack=True)

    def on_message(c: Channel, m: Deliver, p: BasicProperties, body: bytes) -> None:
        nonlocal depth, max_depth
        depth += 1
        max_depth = max(max_depth, depth)
        declared = c.queue_declare("out")
        assert declared.queue == "out"
        c.basic_publish("", "out", body + b"!")
        if len(body) < 3:
            c.basic_publish("", "in", body + b"+")
        c.basic_ack(m.delivery_tag)
        depth -= 1

    ch.basic_consume("in", on_message)
    ch.queue_declare("out")
    ch.basic_consume("out", forwarded)
    publish(ch, "in", b"a")
    broker.run_until_idle()
    assert max_depth == 1
    assert forwarded.bodies == [b"a!", b"a+!", b"a++!"]
    assert broker.queues["in"].messages == 0
    assert broker.queues["out"].messages == 0


def test_callback_caused_deliveries_run_in_a_later_round(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    order: list[str] = []

    def on_message(c: Channel, m: Deliver, p: BasicProperties, body: bytes) -> None:
        order.append(f"start {body.decode()}")
        if body == b"first":
            c.basic_publish("", "q", b"second")
        c.basic_ack(m.delivery_tag)
        order.append(f"end {body.decode()}")

    ch.basic_consume("q", on_message)
    publish(ch, "q", b"first")
    broker.run_until_idle()
    assert order == ["start first", "end first", "start second", "end second"]


def test_run_until_idle_raises_for_callbacks_that_never_settle(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    calls = 0

    def always_requeue(c: Channel, m: Deliver, p: BasicProperties, body: bytes) -> None:
        nonlocal calls
        calls += 1
        c.basic_nack(m.delivery_tag, requeue=True)

    tag = ch.basic_consume("q", always_requeue)
    publish(ch, "q")
    with pytest.raises(CallbacksDidNotSettle):
        broker.run_until_idle(max_rounds=5)
    assert 1 <= calls <= 6
    ch.basic_cancel(tag)
    queue = broker.queues["q"]
    assert queue.messages == 1


def test_run_until_idle_with_nothing_pending_returns_zero(broker: Broker) -> None:
    assert broker.run_until_idle(max_rounds=0) == 0


def test_add_callback_threadsafe_runs_on_drain(broker: Broker, conn: Connection) -> None:
    calls: list[int] = []
    conn.add_callback_threadsafe(lambda: calls.append(1))
    assert calls == []
    broker.run_until_idle()
    assert calls == [1]


# ----------------------------------------------------------------- 7.1 consumer tags


def test_empty_consumer_tag_generated_spec_7_1(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    tag = ch.basic_consume("q", Recorder())
    assert GENERATED_TAG.fullmatch(tag), tag
    tag2 = ch.basic_consume("q", Recorder(), consumer_tag="")
    assert GENERATED_TAG.fullmatch(tag2), tag2
    assert tag != tag2
    assert broker.queues["q"].consumer_count == 2


def test_given_consumer_tag_used_in_deliveries_spec_7_1(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    recorder = Recorder(ack=True)
    assert ch.basic_consume("q", recorder, consumer_tag="my-tag") == "my-tag"
    publish(ch, "q")
    broker.run_until_idle()
    assert recorder.deliveries[0][0].consumer_tag == "my-tag"


def test_reuse_of_active_consumer_tag_is_connection_error_530_spec_7_1(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    ch.queue_declare("r")
    ch.basic_consume("q", Recorder(), consumer_tag="dup")
    with pytest.raises(NotAllowed) as info:
        ch.basic_consume("r", Recorder(), consumer_tag="dup")
    assert info.value.reply_code == 530
    assert info.value.is_connection_error
    assert info.value.reply_text == "NOT_ALLOWED - attempt to reuse consumer tag 'dup'"
    assert conn.is_closed
    assert ch.is_closed
    assert broker.queues["q"].consumer_count == 0
    assert broker.queues["r"].consumer_count == 0


def test_reuse_of_consumer_tag_after_cancel_ok_spec_7_1(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_consume("q", Recorder(), consumer_tag="t")
    ch.basic_cancel("t")
    assert ch.basic_consume("q", Recorder(), consumer_tag="t") == "t"
    assert broker.queues["q"].consumer_count == 1


def test_same_consumer_tag_on_other_channel_ok_spec_7_1(broker: Broker, conn: Connection) -> None:
    one, two = conn.channel(), conn.channel()
    one.queue_declare("q")
    one.basic_consume("q", Recorder(), consumer_tag="t")
    assert two.basic_consume("q", Recorder(), consumer_tag="t") == "t"
    assert broker.queues["q"].consumer_count == 2


# ----------------------------------------------------------------- 7.2 consume


def test_consume_from_missing_queue_404_spec_7_2(ch: Channel) -> None:
    with pytest.raises(NotFound) as info:
        ch.basic_consume("nope", Recorder())
    assert info.value.reply_code == 404
    assert info.value.reply_text == "NOT_FOUND - no queue 'nope' in vhost '/'"
    assert ch.is_closed


def test_consume_ok_before_first_deliver_spec_7_2(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    publish_n(ch, "q", 2)
    recorder = Recorder(ack=True)
    tag = ch.basic_consume("q", recorder)  # returns (consume-ok) with no callback run
    assert recorder.deliveries == []
    broker.run_until_idle()
    assert [m.consumer_tag for m, _, _ in recorder.deliveries] == [tag, tag]
    assert recorder.bodies == [b"0", b"1"]


def test_deliver_fields_spec_7_2(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.topic", routing_key="a.*")
    recorder = Recorder(ack=True)
    tag = ch.basic_consume("q", recorder)
    props = BasicProperties(content_type="text/plain", headers={"h": 1})
    ch.basic_publish("amq.topic", "a.b", b"body", properties=props)
    broker.run_until_idle()
    (method, got_props, body) = recorder.deliveries[0]
    assert method == Deliver(tag, 1, False, "amq.topic", "a.b")
    assert got_props.content_type == "text/plain"
    assert got_props.headers == {"h": 1}
    assert body == b"body"


# ----------------------------------------------------------------- 7.3 exclusive consumers

_IN_EXCLUSIVE_USE = "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use"


def test_exclusive_consume_on_queue_with_consumers_403_spec_7_3(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", Recorder())
    other = conn.channel()
    with pytest.raises(AccessRefused) as info:
        other.basic_consume("q", Recorder(), exclusive=True)
    assert info.value.reply_code == 403
    assert info.value.reply_text == _IN_EXCLUSIVE_USE
    assert other.is_closed
    assert ch.is_open
    assert broker.queues["q"].consumer_count == 1


@pytest.mark.parametrize("exclusive", [False, True])
def test_any_consume_while_exclusive_consumer_403_spec_7_3(
    broker: Broker, conn: Connection, exclusive: bool
) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", Recorder(), exclusive=True)
    other = broker.connect()
    try:
        other_ch = other.channel()
        with pytest.raises(AccessRefused) as info:
            other_ch.basic_consume("q", Recorder(), exclusive=exclusive)
        assert info.value.reply_code == 403
        assert info.value.reply_text == _IN_EXCLUSIVE_USE
    finally:
        other.close()
    same_channel = conn.channel()
    with pytest.raises(AccessRefused):
        same_channel.basic_consume("q", Recorder())


def test_exclusive_consume_on_single_active_consumer_queue_403_spec_7_3(
    ch: Channel,
) -> None:
    ch.queue_declare("q", arguments={"x-single-active-consumer": True})
    with pytest.raises(AccessRefused) as info:
        ch.basic_consume("q", Recorder(), exclusive=True)
    assert info.value.reply_code == 403
    assert info.value.reply_text == _IN_EXCLUSIVE_USE


def test_exclusive_consumer_gone_allows_others_spec_7_3(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    tag = ch.basic_consume("q", Recorder(), exclusive=True)
    ch.basic_cancel(tag)
    ch.basic_consume("q", Recorder())
    ch.basic_consume("q", Recorder())
    assert broker.queues["q"].consumer_count == 2


def test_exclusive_consumer_on_empty_queue_ok_spec_7_3(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    recorder = Recorder(ack=True)
    ch.basic_consume("q", recorder, exclusive=True)
    publish(ch, "q")
    broker.run_until_idle()
    assert recorder.bodies == [b"m"]


# ----------------------------------------------------------------- 7.4 priorities, round-robin


def test_round_robin_among_equal_consumers_spec_7_4(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    recorders = [Recorder(ack=True) for _ in range(3)]
    for recorder in recorders:
        ch.basic_consume("q", recorder)
    publish_n(ch, "q", 7)
    broker.run_until_idle()
    assert [r.bodies for r in recorders] == [
        [b"0", b"3", b"6"],
        [b"1", b"4"],
        [b"2", b"5"],
    ]


def test_higher_priority_consumer_gets_messages_first_spec_7_4(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    low, high = Recorder(ack=True), Recorder(ack=True)
    ch.basic_consume("q", low)
    ch.basic_consume("q", high, arguments={"x-priority": 10})
    publish_n(ch, "q", 4)
    broker.run_until_idle()
    assert high.bodies == [b"0", b"1", b"2", b"3"]
    assert low.bodies == []


def test_lower_priority_gets_messages_when_higher_blocked_by_prefetch_spec_7_4(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=2)
    high = Recorder()
    high_tag = ch.basic_consume("q", high, arguments={"x-priority": 5})
    ch.basic_qos(prefetch_count=0)
    low = Recorder()
    ch.basic_consume("q", low)
    publish_n(ch, "q", 5)
    broker.run_until_idle()
    assert high.bodies == [b"0", b"1"]
    assert low.bodies == [b"2", b"3", b"4"]
    ch.basic_ack(0, multiple=True)
    ch.basic_cancel(high_tag)


def test_negative_priority_consumer_ranks_below_default_spec_7_4(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    negative, default = Recorder(ack=True), Recorder(ack=True)
    ch.basic_consume("q", negative, arguments={"x-priority": -3})
    ch.basic_consume("q", default)
    publish_n(ch, "q", 3)
    broker.run_until_idle()
    assert default.bodies == [b"0", b"1", b"2"]
    assert negative.bodies == []


def test_round_robin_among_highest_priority_only_spec_7_4(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    low = Recorder(ack=True)
    ch.basic_consume("q", low)
    first, second = Recorder(ack=True), Recorder(ack=True)
    ch.basic_consume("q", first, arguments={"x-priority": 2})
    ch.basic_consume("q", second, arguments={"x-priority": 2})
    publish_n(ch, "q", 4)
    broker.run_until_idle()
    assert first.bodies == [b"0", b"2"]
    assert second.bodies == [b"1", b"3"]
    assert low.bodies == []


@pytest.mark.parametrize("bad", ["5", 1.5, True])
def test_non_integer_consumer_priority_406_spec_7_4(broker: Broker, ch: Channel, bad: Any) -> None:
    ch.queue_declare("q")
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_consume("q", Recorder(), arguments={"x-priority": bad})
    assert info.value.reply_code == 406
    assert "x-priority" in info.value.reply_text
    assert ch.is_closed
    assert broker.queues["q"].consumer_count == 0


# ----------------------------------------------------------------- 7.5 basic.qos


def test_prefetch_size_nonzero_is_connection_error_540_spec_7_5(conn: Connection) -> None:
    ch = conn.channel()
    with pytest.raises(NotImplementedByBroker) as info:
        ch.basic_qos(prefetch_size=1024)
    assert info.value.reply_code == 540
    assert info.value.is_connection_error
    assert info.value.reply_text.startswith("NOT_IMPLEMENTED")
    assert conn.is_closed


def test_per_consumer_prefetch_limits_unacked_spec_7_5(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=2)
    recorder = Recorder()
    ch.basic_consume("q", recorder)
    publish_n(ch, "q", 5)
    broker.run_until_idle()
    assert recorder.bodies == [b"0", b"1"]
    queue = broker.queues["q"]
    assert (queue.messages_ready, queue.messages_unacknowledged) == (3, 2)
    ch.basic_ack(recorder.tags[0])
    broker.run_until_idle()
    assert recorder.bodies == [b"0", b"1", b"2"]
    ch.basic_ack(0, multiple=True)
    broker.run_until_idle()
    assert recorder.bodies == [b"0", b"1", b"2", b"3", b"4"]
    ch.basic_ack(0, multiple=True)


def test_per_consumer_prefetch_applies_to_consumers_created_after_spec_7_5(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("a")
    ch.queue_declare("b")
    before = Recorder()
    ch.basic_consume("a", before)  # unlimited
    ch.basic_qos(prefetch_count=1)
    after = Recorder()
    ch.basic_consume("b", after)
    publish_n(ch, "a", 3)
    publish_n(ch, "b", 3)
    broker.run_until_idle()
    assert len(before.deliveries) == 3
    assert len(after.deliveries) == 1
    ch.basic_ack(0, multiple=True)


def test_per_consumer_prefetch_is_per_consumer_not_shared_spec_7_5(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    one, two = Recorder(), Recorder()
    ch.basic_consume("q", one)
    ch.basic_consume("q", two)
    publish_n(ch, "q", 4)
    broker.run_until_idle()
    assert (len(one.deliveries), len(two.deliveries)) == (1, 1)
    assert broker.queues["q"].messages_ready == 2
    ch.basic_ack(0, multiple=True)


def test_prefetch_zero_is_unlimited_spec_7_5(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=3)
    ch.basic_qos(prefetch_count=0)
    recorder = Recorder()
    ch.basic_consume("q", recorder)
    publish_n(ch, "q", 50)
    broker.run_until_idle()
    assert len(recorder.deliveries) == 50
    ch.basic_ack(0, multiple=True)


def test_global_prefetch_limits_channel_spec_7_5(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("a")
    ch.queue_declare("b")
    ch.basic_qos(prefetch_count=3, global_qos=True)
    one, two = Recorder(), Recorder()
    ch.basic_consume("a", one)
    ch.basic_consume("b", two)
    publish_n(ch, "a", 5)
    publish_n(ch, "b", 5)
    broker.run_until_idle()
    assert len(one.deliveries) + len(two.deliveries) == 3
    ch.basic_ack(one.tags[0])
    broker.run_until_idle()
    assert len(one.deliveries) + len(two.deliveries) == 4
    ch.basic_ack(0, multiple=True)
    broker.run_until_idle()
    assert len(one.deliveries) + len(two.deliveries) == 7
    ch.basic_ack(0, multiple=True)


def test_global_and_per_consumer_limits_both_enforced_spec_7_5(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("a")
    ch.queue_declare("b")
    ch.basic_qos(prefetch_count=2)  # per consumer
    ch.basic_qos(prefetch_count=3, global_qos=True)  # whole channel
    one, two = Recorder(), Recorder()
    ch.basic_consume("a", one)
    ch.basic_consume("b", two)
    publish_n(ch, "a", 5)
    publish_n(ch, "b", 5)
    broker.run_until_idle()
    assert len(one.deliveries) <= 2
    assert len(two.deliveries) <= 2
    assert len(one.deliveries) + len(two.deliveries) == 3
    ch.basic_ack(0, multiple=True)


def test_global_prefetch_does_not_limit_other_channels_spec_7_5(
    broker: Broker, conn: Connection
) -> None:
    one, two = conn.channel(), conn.channel()
    one.queue_declare("q")
    one.basic_qos(prefetch_count=1, global_qos=True)
    limited, free = Recorder(), Recorder()
    one.basic_consume("q", limited)
    two.basic_consume("q", free)
    publish_n(one, "q", 6)
    broker.run_until_idle()
    assert len(limited.deliveries) == 1
    assert len(free.deliveries) == 5
    one.basic_ack(0, multiple=True)
    two.basic_ack(0, multiple=True)


def test_auto_ack_consumer_ignores_prefetch_spec_7_5(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    ch.basic_qos(prefetch_count=1, global_qos=True)
    recorder = Recorder()
    ch.basic_consume("q", recorder, auto_ack=True)
    publish_n(ch, "q", 5)
    broker.run_until_idle()
    assert len(recorder.deliveries) == 5
    assert broker.queues["q"].messages == 0


def test_basic_get_ignores_prefetch_spec_7_5(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1, global_qos=True)
    publish_n(ch, "q", 3)
    for _ in range(3):
        ok, _, _ = ch.basic_get("q")
        assert ok is not None
    assert broker.queues["q"].messages_unacknowledged == 3
    ch.basic_ack(0, multiple=True)


def test_prefetch_count_is_16_bit_spec_10_4(conn: Connection) -> None:
    ch = conn.channel()
    ch.basic_qos(prefetch_count=65535)
    with pytest.raises(FrameSyntaxError):
        ch.basic_qos(prefetch_count=65536)


# ----------------------------------------------------------------- 7.6 single active consumer


def _sac_queue(ch: Channel) -> None:
    ch.queue_declare("q", arguments={"x-single-active-consumer": True})


def test_single_active_consumer_first_registered_gets_all_spec_7_6(
    broker: Broker, ch: Channel
) -> None:
    _sac_queue(ch)
    first, second = Recorder(ack=True), Recorder(ack=True)
    ch.basic_consume("q", first)
    ch.basic_consume("q", second, arguments={"x-priority": 10})
    publish_n(ch, "q", 4)
    broker.run_until_idle()
    assert first.bodies == [b"0", b"1", b"2", b"3"]
    assert second.bodies == []
    assert broker.queues["q"].consumer_count == 2


def test_single_active_consumer_failover_to_highest_priority_earliest_spec_7_6(
    broker: Broker, ch: Channel
) -> None:
    _sac_queue(ch)
    recorders = {name: Recorder(ack=True) for name in ("a", "b", "c", "d")}
    tags = {
        "a": ch.basic_consume("q", recorders["a"]),
        "b": ch.basic_consume("q", recorders["b"]),
        "c": ch.basic_consume("q", recorders["c"], arguments={"x-priority": 5}),
        "d": ch.basic_consume("q", recorders["d"], arguments={"x-priority": 5}),
    }
    order = []
    for name in ("a", "c", "d", "b"):
        publish(ch, "q", name)
        broker.run_until_idle()
        got = [n for n, r in recorders.items() if r.bodies and r.bodies[-1] == name.encode()]
        order.append(got)
        ch.basic_cancel(tags[got[0]])
    assert order == [["a"], ["c"], ["d"], ["b"]]


def test_single_active_consumer_blocked_by_prefetch_does_not_spill_spec_7_6(
    broker: Broker, ch: Channel
) -> None:
    _sac_queue(ch)
    ch.basic_qos(prefetch_count=1)
    active, waiting = Recorder(), Recorder()
    ch.basic_consume("q", active)
    ch.basic_consume("q", waiting)
    publish_n(ch, "q", 3)
    broker.run_until_idle()
    assert active.bodies == [b"0"]
    assert waiting.bodies == []
    assert broker.queues["q"].messages_ready == 2
    ch.basic_ack(0, multiple=True)


def test_single_active_consumer_failover_on_channel_close_requeues_spec_7_6(
    broker: Broker, conn: Connection
) -> None:
    setup = conn.channel()
    _sac_queue(setup)
    first_ch, second_ch = conn.channel(), conn.channel()
    first, second = Recorder(), Recorder(ack=True)
    first_ch.basic_consume("q", first)
    second_ch.basic_consume("q", second)
    publish_n(setup, "q", 2)
    broker.run_until_idle()
    assert first.bodies == [b"0", b"1"]
    first_ch.close()
    broker.run_until_idle()
    assert second.bodies == [b"0", b"1"]
    assert [m.redelivered for m, _, _ in second.deliveries] == [True, True]


# ----------------------------------------------------------------- 7.7 cancel


def test_cancel_unknown_tag_is_ok_spec_7_7(ch: Channel) -> None:
    ch.basic_cancel("never-existed")
    assert ch.is_open


def test_cancel_stops_deliveries_spec_7_7(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    recorder = Recorder(ack=True)
    tag = ch.basic_consume("q", recorder)
    ch.basic_cancel(tag)
    ch.basic_cancel(tag)  # twice is fine too
    publish(ch, "q")
    broker.run_until_idle()
    assert recorder.deliveries == []
    assert broker.queues["q"].messages_ready == 1


# ----------------------------------------------------------------- 7.8 cancel notification


def test_queue_delete_notifies_consumers_spec_7_8(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    cancels: list[BasicCancel] = []
    channel_cancels: list[BasicCancel] = []
    ch.add_on_cancel_callback(channel_cancels.append)
    tag1 = ch.basic_consume("q", Recorder(), on_cancel_callback=cancels.append)
    tag2 = ch.basic_consume("q", Recorder(), on_cancel_callback=cancels.append)
    conn.channel().queue_delete("q")
    assert cancels == []  # callbacks run on drain
    broker.run_until_idle()
    assert sorted(c.consumer_tag for c in cancels) == sorted([tag1, tag2])
    assert all(isinstance(c, BasicCancel) for c in cancels)
    assert sorted(c.consumer_tag for c in channel_cancels) == sorted([tag1, tag2])
    # the consumers are gone: their tags can be reused
    ch.queue_declare("q")
    assert ch.basic_consume("q", Recorder(), consumer_tag=tag1) == tag1


def test_queue_delete_from_other_connection_notifies_spec_7_8(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    cancels: list[BasicCancel] = []
    tag = ch.basic_consume("q", Recorder(), on_cancel_callback=cancels.append)
    other = broker.connect()
    try:
        other.channel().queue_delete("q")
    finally:
        other.close()
    broker.run_until_idle()
    assert cancels == [BasicCancel(tag)]
    assert ch.is_open


def test_cancel_notification_only_for_clients_announcing_it_spec_7_8(broker: Broker) -> None:
    quiet = broker.connect(client_properties={"capabilities": {"consumer_cancel_notify": False}})
    loud = broker.connect(client_properties={"capabilities": {"consumer_cancel_notify": True}})
    try:
        quiet_ch, loud_ch = quiet.channel(), loud.channel()
        loud_ch.queue_declare("q")
        quiet_cancels: list[BasicCancel] = []
        loud_cancels: list[BasicCancel] = []
        quiet_ch.basic_consume("q", Recorder(), on_cancel_callback=quiet_cancels.append)
        loud_ch.basic_consume("q", Recorder(), on_cancel_callback=loud_cancels.append)
        loud_ch.queue_delete("q")
        broker.run_until_idle()
        assert quiet_cancels == []
        assert len(loud_cancels) == 1
    finally:
        quiet.close()
        loud.close()


def test_client_cancel_does_not_call_on_cancel_callback_spec_7_8(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    cancels: list[BasicCancel] = []
    tag = ch.basic_consume("q", Recorder(), on_cancel_callback=cancels.append)
    ch.basic_cancel(tag)
    broker.run_until_idle()
    assert cancels == []


# ----------------------------------------------------------------- 7.9 basic.get


def test_basic_get_fields_spec_7_9(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.direct", routing_key="rk")
    props = BasicProperties(message_id="m1", delivery_mode=2)
    ch.basic_publish("amq.direct", "rk", b"one", properties=props)
    ch.basic_publish("amq.direct", "rk", b"two")
    ch.basic_publish("amq.direct", "rk", b"three")
    ok, got_props, body = ch.basic_get("q")
    assert isinstance(ok, GetOk)
    assert ok == GetOk(1, False, "amq.direct", "rk", 2)
    assert got_props is not None and got_props.message_id == "m1"
    assert got_props.delivery_mode == 2
    assert body == b"one"
    ok2, _, _ = ch.basic_get("q")
    assert ok2 is not None and ok2.message_count == 1
    ch.basic_ack(0, multiple=True)


def test_basic_get_message_count_excludes_unacked_spec_7_9(ch: Channel) -> None:
    ch.queue_declare("q")
    publish_n(ch, "q", 3)
    counts = []
    for _ in range(3):
        ok, _, _ = ch.basic_get("q")
        assert ok is not None
        counts.append(ok.message_count)
    assert counts == [2, 1, 0]
    ch.basic_ack(0, multiple=True)


def test_basic_get_empty_spec_7_9(ch: Channel) -> None:
    ch.queue_declare("q")
    assert ch.basic_get("q") == (None, None, None)
    assert ch.basic_get("q", auto_ack=True) == (None, None, None)


def test_basic_get_auto_ack_leaves_nothing_unacked_spec_7_9(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    publish(ch, "q")
    ok, _, body = ch.basic_get("q", auto_ack=True)
    assert ok is not None and body == b"m"
    queue = broker.queues["q"]
    assert queue.messages == 0
    assert queue.stats.acked == 1


def test_basic_get_missing_queue_404_spec_7_9(ch: Channel) -> None:
    with pytest.raises(NotFound) as info:
        ch.basic_get("nope")
    assert info.value.reply_text == "NOT_FOUND - no queue 'nope' in vhost '/'"


def test_basic_get_redelivered_flag_spec_7_9(ch: Channel) -> None:
    ch.queue_declare("q")
    publish(ch, "q")
    ok, _, _ = ch.basic_get("q")
    assert ok is not None and ok.redelivered is False
    ch.basic_reject(ok.delivery_tag, requeue=True)
    again, _, _ = ch.basic_get("q", auto_ack=True)
    assert again is not None and again.redelivered is True


# ----------------------------------------------------------------- 7.10 delivery tags


def test_delivery_tags_start_at_one_and_count_every_delivery_spec_7_10(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    publish_n(ch, "q", 6)
    tags = []
    for auto_ack in (False, True, False):
        ok, _, _ = ch.basic_get("q", auto_ack=auto_ack)
        assert ok is not None
        tags.append(ok.delivery_tag)
    recorder = Recorder()
    ch.basic_consume("q", recorder, auto_ack=True)
    broker.run_until_idle()
    tags.extend(recorder.tags)
    assert tags == [1, 2, 3, 4, 5, 6]
    ch.basic_ack(0, multiple=True)


def test_delivery_tags_are_per_channel_spec_7_10(conn: Connection) -> None:
    one, two = conn.channel(), conn.channel()
    one.queue_declare("q")
    publish_n(one, "q", 4)
    assert one.basic_get("q")[0] == GetOk(1, False, "", "q", 3)
    ok_two = two.basic_get("q")[0]
    assert ok_two is not None and ok_two.delivery_tag == 1
    ok_one = one.basic_get("q")[0]
    assert ok_one is not None and ok_one.delivery_tag == 2
    one.basic_ack(0, multiple=True)
    two.basic_ack(0, multiple=True)


def test_redelivery_gets_new_tag_spec_7_10(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    publish(ch, "q")
    recorder = Recorder()
    ch.basic_consume("q", recorder)
    broker.run_until_idle()
    ch.basic_nack(recorder.tags[0], requeue=True)
    broker.run_until_idle()
    assert recorder.tags == [1, 2]
    assert [m.redelivered for m, _, _ in recorder.deliveries] == [False, True]
    ch.basic_ack(2)
    assert broker.queues["q"].messages == 0


# ----------------------------------------------------------------- 7.11 acks


def _unacked_gets(ch: Channel, count: int) -> list[int]:
    ch.queue_declare("q")
    publish_n(ch, "q", count)
    tags = []
    for _ in range(count):
        ok, _, _ = ch.basic_get("q")
        assert ok is not None
        tags.append(ok.delivery_tag)
    return tags


def test_multiple_ack_with_tag_zero_settles_everything_spec_7_11(
    broker: Broker, ch: Channel
) -> None:
    _unacked_gets(ch, 4)
    ch.basic_ack(0, multiple=True)
    queue = broker.queues["q"]
    assert queue.messages_unacknowledged == 0
    assert queue.stats.acked == 4


def test_multiple_ack_settles_up_to_tag_spec_7_11(broker: Broker, ch: Channel) -> None:
    _unacked_gets(ch, 5)
    ch.basic_ack(3, multiple=True)
    queue = broker.queues["q"]
    assert queue.messages_unacknowledged == 2
    ch.basic_ack(5)
    ch.basic_ack(4)
    assert queue.messages_unacknowledged == 0


def test_multiple_ack_skips_already_settled_tags_spec_7_11(broker: Broker, ch: Channel) -> None:
    _unacked_gets(ch, 4)
    ch.basic_ack(2)
    ch.basic_ack(3, multiple=True)
    assert broker.queues["q"].messages_unacknowledged == 1
    assert ch.is_open
    ch.basic_ack(4)


def test_multiple_nack_requeues_up_to_tag_spec_7_11(broker: Broker, ch: Channel) -> None:
    _unacked_gets(ch, 3)
    ch.basic_nack(2, multiple=True, requeue=True)
    queue = broker.queues["q"]
    assert queue.messages_ready == 2
    assert queue.messages_unacknowledged == 1
    ch.basic_nack(0, multiple=True, requeue=False)
    assert queue.messages_unacknowledged == 0
    assert queue.stats.dropped["rejected"] == 1
    ch.queue_purge("q")


def _assert_unknown_tag(info: pytest.ExceptionInfo[PreconditionFailed], tag: int) -> None:
    assert info.value.reply_code == 406
    assert not info.value.is_connection_error
    assert info.value.reply_text == f"PRECONDITION_FAILED - unknown delivery tag {tag}"


def test_double_ack_406_spec_7_11(broker: Broker, ch: Channel) -> None:
    tags = _unacked_gets(ch, 2)
    ch.basic_ack(tags[0])
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_ack(tags[0])
    _assert_unknown_tag(info, tags[0])
    assert ch.is_closed
    # spec 9.3: the channel's other unacked message is requeued
    assert broker.queues["q"].messages_ready == 1
    assert broker.queues["q"].messages_unacknowledged == 0


def test_ack_of_never_delivered_tag_406_spec_7_11(ch: Channel) -> None:
    _unacked_gets(ch, 1)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_ack(99)
    _assert_unknown_tag(info, 99)


def test_ack_on_wrong_channel_406_spec_7_11(broker: Broker, conn: Connection) -> None:
    one, two = conn.channel(), conn.channel()
    _unacked_gets(one, 1)
    two.queue_declare("r")
    publish(two, "r")
    two.basic_get("r")
    # tag 1 exists on `two` too, so use a tag only `one` has
    publish(one, "q")
    ok, _, _ = one.basic_get("q")
    assert ok is not None and ok.delivery_tag == 2
    with pytest.raises(PreconditionFailed) as info:
        two.basic_ack(2)
    _assert_unknown_tag(info, 2)
    assert two.is_closed
    assert one.is_open
    one.basic_ack(0, multiple=True)
    assert broker.queues["q"].messages == 0


def test_ack_of_auto_ack_delivery_406_spec_7_11(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    publish(ch, "q")
    ok, _, _ = ch.basic_get("q", auto_ack=True)
    assert ok is not None
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_ack(ok.delivery_tag)
    _assert_unknown_tag(info, ok.delivery_tag)


def test_ack_of_no_ack_consumer_delivery_406_spec_7_11(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    recorder = Recorder()
    ch.basic_consume("q", recorder, auto_ack=True)
    publish(ch, "q")
    broker.run_until_idle()
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_ack(recorder.tags[0])
    _assert_unknown_tag(info, recorder.tags[0])


def test_ack_tag_zero_without_multiple_406_spec_7_11(ch: Channel) -> None:
    _unacked_gets(ch, 1)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_ack(0)
    _assert_unknown_tag(info, 0)


def test_multiple_ack_with_unknown_tag_406_spec_7_11(ch: Channel) -> None:
    tags = _unacked_gets(ch, 3)
    ch.basic_ack(tags[2])
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_ack(tags[2], multiple=True)
    _assert_unknown_tag(info, tags[2])


def test_multiple_ack_tag_zero_with_nothing_outstanding_ok_spec_7_11(ch: Channel) -> None:
    ch.basic_ack(0, multiple=True)
    ch.basic_nack(0, multiple=True)
    assert ch.is_open


@pytest.mark.parametrize("method", ["nack", "reject"])
def test_nack_and_reject_of_unknown_tag_406_spec_7_11(ch: Channel, method: str) -> None:
    _unacked_gets(ch, 1)
    with pytest.raises(PreconditionFailed) as info:
        if method == "nack":
            ch.basic_nack(7)
        else:
            ch.basic_reject(7)
    _assert_unknown_tag(info, 7)


def test_delivery_tag_is_64_bit_spec_10_4(ch: Channel) -> None:
    _unacked_gets(ch, 1)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_ack(2**64 - 1)
    _assert_unknown_tag(info, 2**64 - 1)


def test_delivery_tag_over_64_bit_refused_spec_10_4(conn: Connection) -> None:
    ch = conn.channel()
    with pytest.raises(FrameSyntaxError):
        ch.basic_ack(2**64)


def test_calls_on_channel_closed_by_error_raise_channel_closed_spec_7_11(ch: Channel) -> None:
    _unacked_gets(ch, 1)
    with pytest.raises(PreconditionFailed):
        ch.basic_ack(5)
    with pytest.raises(ChannelClosed) as info:
        ch.basic_ack(1)
    assert info.value.reply_code == 406
    assert info.value.reply_text == "PRECONDITION_FAILED - unknown delivery tag 5"


# ----------------------------------------------------------------- 7.12 basic.recover


def test_recover_requeues_every_unacked_on_channel_spec_7_12(
    broker: Broker, conn: Connection
) -> None:
    ch, other = conn.channel(), conn.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=10)
    recorder = Recorder()
    tag = ch.basic_consume("q", recorder)
    publish_n(ch, "q", 2)
    broker.run_until_idle()
    ch.basic_cancel(tag)  # its two deliveries stay unacked (spec 2.12)
    publish(ch, "q", b"got")
    ch.basic_get("q")
    publish(ch, "q", b"other")
    other_ok, _, _ = other.basic_get("q")
    assert other_ok is not None
    queue = broker.queues["q"]
    assert queue.messages_unacknowledged == 4
    ch.basic_recover(requeue=True)
    assert queue.messages_unacknowledged == 1  # only the other channel's
    assert [m.body for m in queue.peek()] == [b"0", b"1", b"got"]
    other.basic_ack(other_ok.delivery_tag)
    for expected in (b"0", b"1", b"got"):
        ok, _, body = ch.basic_get("q", auto_ack=True)
        assert ok is not None and ok.redelivered is True
        assert body == expected


def test_recover_redelivers_to_consumer_spec_7_12(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    recorder = Recorder()
    ch.basic_consume("q", recorder)
    publish_n(ch, "q", 2)
    broker.run_until_idle()
    ch.basic_recover()
    broker.run_until_idle()
    assert recorder.bodies == [b"0", b"1", b"0", b"1"]
    assert [m.redelivered for m, _, _ in recorder.deliveries] == [False, False, True, True]
    assert recorder.tags == [1, 2, 3, 4]
    with pytest.raises(PreconditionFailed):
        ch.basic_ack(1)  # the old tags are gone


def test_recover_without_requeue_is_connection_error_540_spec_7_12(conn: Connection) -> None:
    ch = conn.channel()
    with pytest.raises(NotImplementedByBroker) as info:
        ch.basic_recover(requeue=False)
    assert info.value.reply_code == 540
    assert info.value.is_connection_error
    assert conn.is_closed


# ----------------------------------------------------------------- 7.13 close


def test_channel_close_requeues_and_cancels_spec_7_13(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    recorder = Recorder()
    ch.basic_consume("q", recorder)
    publish_n(ch, "q", 2)
    broker.run_until_idle()
    queue = broker.queues["q"]
    assert queue.messages_unacknowledged == 2
    ch.close()
    assert queue.consumer_count == 0
    assert queue.messages_unacknowledged == 0
    assert queue.messages_ready == 2
    reader = conn.channel()
    ok, _, body = reader.basic_get("q", auto_ack=True)
    assert ok is not None and ok.redelivered is True and body == b"0"
    with pytest.raises(ChannelClosed):
        ch.basic_ack(1)


def test_channel_close_leaves_other_channels_alone_spec_7_13(
    broker: Broker, conn: Connection
) -> None:
    one, two = conn.channel(), conn.channel()
    one.queue_declare("q")
    publish_n(one, "q", 2)
    one.basic_get("q")
    ok, _, _ = two.basic_get("q")
    assert ok is not None
    recorder = Recorder()
    two.basic_consume("q", recorder)
    one.close()
    broker.run_until_idle()
    queue = broker.queues["q"]
    assert queue.consumer_count == 1
    # one's message came back and went to two's consumer; two's get is untouched
    assert recorder.bodies == [b"0"]
    assert recorder.deliveries[0][0].redelivered is True
    assert queue.messages_unacknowledged == 2
    two.basic_ack(0, multiple=True)
    assert queue.messages == 0


def test_connection_close_requeues_cancels_and_deletes_exclusive_spec_7_13(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("shared")
    publish_n(ch, "shared", 2)
    conn = broker.connect()
    c1, c2 = conn.channel(), conn.channel()
    c1.queue_declare("mine", exclusive=True)
    c1.basic_consume("shared", Recorder())
    c2.basic_get("shared")
    broker.run_until_idle()
    shared = broker.queues["shared"]
    assert shared.messages_unacknowledged == 2
    conn.close()
    assert conn.is_closed
    assert shared.consumer_count == 0
    assert shared.messages_unacknowledged == 0
    assert [m.body for m in shared.peek()] == [b"0", b"1"]
    assert "mine" not in broker.queues
    with pytest.raises(ConnectionClosed):
        conn.channel()


def test_connection_close_pending_callbacks_do_not_run_spec_7_13(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    conn = broker.connect()
    recorder = Recorder()
    conn.channel().basic_consume("q", recorder)
    publish(ch, "q")
    conn.close()
    broker.run_until_idle()
    assert recorder.deliveries == []
    assert broker.queues["q"].messages_ready == 1


def test_close_is_idempotent_spec_7_13(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    publish(ch, "q")
    ch.basic_get("q")
    ch.close()
    ch.close()
    conn.close()
    conn.close()
    assert broker.queues["q"].messages_ready == 1


def test_channel_close_with_undelivered_callbacks_requeues_them_spec_7_13(
    broker: Broker, conn: Connection
) -> None:
    setup = conn.channel()
    setup.queue_declare("q")
    ch = conn.channel()
    recorder = Recorder()
    ch.basic_consume("q", recorder)
    publish_n(setup, "q", 2)
    ch.close()
    broker.run_until_idle()
    assert recorder.deliveries == []
    queue = broker.queues["q"]
    assert queue.messages_ready == 2
    assert queue.messages_unacknowledged == 0


def test_channel_error_removes_consumers_spec_7_13(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_consume("q", Recorder())
    with pytest.raises(PreconditionFailed):
        ch.basic_ack(42)
    assert broker.queues["q"].consumer_count == 0


def test_single_active_consumer_counts_all_consumers_spec_7_6(broker: Broker, ch: Channel) -> None:
    _sac_queue(ch)
    ch.basic_consume("q", Recorder())
    ch.basic_consume("q", Recorder())
    ch.basic_consume("q", Recorder())
    assert ch.queue_declare("q", passive=True).consumer_count == 3
    assert broker.queues["q"].consumer_count == 3


def test_single_active_consumer_new_high_priority_does_not_take_over_spec_7_6(
    broker: Broker, ch: Channel
) -> None:
    _sac_queue(ch)
    first = Recorder(ack=True)
    ch.basic_consume("q", first)
    publish(ch, "q", b"before")
    broker.run_until_idle()
    late = Recorder(ack=True)
    ch.basic_consume("q", late, arguments={"x-priority": 100})
    publish(ch, "q", b"after")
    broker.run_until_idle()
    assert first.bodies == [b"before", b"after"]
    assert late.bodies == []


def test_new_channel_delivery_tags_start_at_one_again_spec_7_10(conn: Connection) -> None:
    first = conn.channel()
    first.queue_declare("q")
    publish_n(first, "q", 3)
    first.basic_get("q", auto_ack=True)
    first.basic_get("q", auto_ack=True)
    first.close()
    second = conn.channel()
    ok, _, _ = second.basic_get("q", auto_ack=True)
    assert ok is not None and ok.delivery_tag == 1
