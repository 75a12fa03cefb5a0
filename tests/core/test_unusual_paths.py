"""The in-process core on its unusual paths: ack timeouts, cancelling inside a
callback, consuming loops ended from another thread, fast paths taking the same
values as the general ones, accounting while queues go away mid-flight, and a
stateful machine that mixes all of them (every queue keeps its accounting
identity)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest

from amqpmodel import (
    Broker,
    Channel,
    ChannelClosed,
    MonotonicClock,
    VirtualClock,
)
from amqpmodel.testing import assert_accounted

TIMEOUT_TEXT_PREFIX = "PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out."


# ----------------------------------------------------------------- consumer ack timeout (spec 0.8)


def test_ack_timeout_check_terminates_with_fractional_timeout_spec_0_8() -> None:
    # spec 0.8: the once-a-minute check must close the channel, not spin forever.
    # At epoch-sized clock values, delivered + 0.1 rounds down, so "now - delivered"
    # at the rescheduled deadline is a hair under 0.1 and the check reschedules
    # itself at the same instant, forever (inside VirtualClock.advance).
    script = textwrap.dedent(
        """
        from amqpmodel import Broker, VirtualClock
        clock = VirtualClock(start=1_700_000_000.0)
        broker = Broker(clock=clock, consumer_timeout=0.1)
        ch = broker.connect().channel()
        ch.queue_declare("q")
        ch.basic_publish("", "q", b"m")
        ch.basic_get("q")
        clock.advance(1.0)
        print("closed" if ch.is_closed else "open")
        """
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=5
        )
    except subprocess.TimeoutExpired:
        pytest.fail(
            "VirtualClock.advance never returned: the ack check reschedules itself at 'now'"
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "closed"


def _timed_out_channel(queue: str = "q") -> tuple[Broker, Channel]:
    """A channel (MonotonicClock) whose only unacked delivery is past consumer_timeout."""
    broker = Broker(clock=MonotonicClock(), consumer_timeout=0.05)
    ch = broker.connect().channel()
    ch.queue_declare(queue)
    ch.basic_publish("", queue, b"m")
    method, _, _ = ch.basic_get(queue)
    assert method is not None
    time.sleep(0.2)  # past the timeout and past the first (coarse) check
    return broker, ch


def test_consume_after_ack_timeout_raises_channel_closed_spec_0_8() -> None:
    # spec 0.8, 9.3: basic_consume's own tick closes the channel (timeout); the
    # call must then fail with the close, not register a consumer on a closed channel
    broker, ch = _timed_out_channel()
    got: list[Any] = []
    try:
        with pytest.raises(ChannelClosed) as info:
            ch.basic_consume("q", lambda c, m, p, b: got.append(b))
        assert info.value.reply_code == 406
        assert info.value.reply_text.startswith(TIMEOUT_TEXT_PREFIX)
    finally:
        queue = broker.queues["q"]
        # whatever happened, the message must be ready again (spec 7.13), not stuck
        assert queue.messages_ready == 1, (queue.messages_ready, queue.messages_unacknowledged)
        assert queue.consumer_count == 0
        assert_accounted(broker)


def test_declare_after_ack_timeout_raises_channel_closed_spec_0_8() -> None:
    # spec 0.8, 9.3: a method on a channel that its own tick closed raises, and has no effect
    broker, ch = _timed_out_channel()
    with pytest.raises(ChannelClosed) as info:
        ch.queue_declare("created-on-a-closed-channel")
    assert info.value.reply_code == 406
    assert "created-on-a-closed-channel" not in broker.queues


def test_basic_ack_after_ack_timeout_raises_channel_closed_spec_0_8() -> None:
    # spec 0.8: RabbitMQ checks unacked ages periodically, not on every ack; in
    # process the check runs on tick() and on every call but publish/get/ack
    # (docs/api.md). Once it has run, the channel is closed and the ack fails.
    broker, ch = _timed_out_channel()
    broker.tick()
    with pytest.raises(ChannelClosed) as info:
        ch.basic_ack(1)
    assert info.value.reply_code == 406
    assert broker.queues["q"].messages_ready == 1


def test_tx_rollback_restored_delivery_still_times_out_spec_0_8_8_8(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    # spec 8.8: rollback makes the buffered ack outstanding again; spec 0.8: an
    # outstanding delivery older than consumer_timeout closes the channel
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    ch.tx_select()
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.basic_ack(method.delivery_tag)  # buffered
    clock.advance(61)  # the first check sees no outstanding delivery
    ch.tx_rollback()  # outstanding again (delivered at t=0)
    assert ch.is_open
    clock.advance(1800 + 60)
    assert ch.is_closed
    assert broker.queues["q"].messages_ready == 1


# ----------------------------------------------------------------- basic_cancel inside a callback


def test_basic_cancel_in_callback_requeues_deliveries_not_yet_run_spec_2_12() -> None:
    # docs/api.md basic_cancel: "deliveries assigned but not yet run are requeued
    # (manual acks)"; here the cancel runs inside the first delivery's callback
    broker = Broker(clock=VirtualClock())
    ch = broker.connect().channel()
    ch.queue_declare("q")
    for i in range(3):
        ch.basic_publish("", "q", b"m%d" % i)
    seen: list[bytes] = []

    def on_message(channel: Channel, method: Any, properties: Any, body: bytes) -> None:
        seen.append(body)
        channel.basic_ack(method.delivery_tag)
        channel.basic_cancel(method.consumer_tag)

    ch.basic_consume("q", on_message)
    broker.run_until_idle()
    queue = broker.queues["q"]
    assert seen == [b"m0"], "callback ran after its consumer was cancelled"
    assert queue.messages_ready == 2 and queue.messages_unacknowledged == 0
    assert_accounted(broker)


def test_basic_cancel_in_callback_returns_auto_ack_deliveries_not_yet_run() -> None:
    # docs/api.md basic_cancel: auto_ack deliveries assigned but not yet run are
    # returned in the list, not given to the callback after cancel-ok
    broker = Broker(clock=VirtualClock())
    ch = broker.connect().channel()
    ch.queue_declare("q")
    for i in range(3):
        ch.basic_publish("", "q", b"m%d" % i)
    seen: list[bytes] = []
    returned: list[Any] = []

    def on_message(channel: Channel, method: Any, properties: Any, body: bytes) -> None:
        seen.append(body)
        if len(seen) == 1:
            returned.extend(channel.basic_cancel(method.consumer_tag))

    ch.basic_consume("q", on_message, auto_ack=True)
    broker.run_until_idle()
    assert seen == [b"m0"]
    assert [body for _, _, body in returned] == [b"m1", b"m2"]


def test_stop_consuming_in_callback_stops_further_callbacks() -> None:
    # pika: stop_consuming from a callback cancels the consumers; nothing more is delivered
    broker = Broker(clock=VirtualClock())
    ch = broker.connect().channel()
    ch.queue_declare("q")
    for i in range(3):
        ch.basic_publish("", "q", b"m%d" % i)
    seen: list[bytes] = []

    def on_message(channel: Channel, method: Any, properties: Any, body: bytes) -> None:
        seen.append(body)
        channel.basic_ack(method.delivery_tag)
        channel.stop_consuming()

    ch.basic_consume("q", on_message)
    ch.start_consuming()
    assert seen == [b"m0"]
    assert broker.queues["q"].messages_ready == 2
    assert_accounted(broker)


# ----------------------------------------------------------------- threads


def _run_in_thread(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_start_consuming_returns_when_channel_closed_from_another_thread() -> None:
    # spec 7.13 / docs/api.md start_consuming: runs "until every consumer of this
    # channel is cancelled"; closing the channel cancels them
    broker = Broker()
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", lambda c, m, p, b: None)
    thread = _run_in_thread(ch.start_consuming)
    time.sleep(0.1)
    ch.close()
    thread.join(1.0)
    alive = thread.is_alive()
    conn.close()  # frees the blocked thread either way
    thread.join(2.0)
    assert not alive, "start_consuming kept waiting after its channel was closed"


def test_stop_consuming_from_another_thread_ends_start_consuming() -> None:
    # docs/api.md: stop_consuming cancels the consumers and ends start_consuming
    broker = Broker()
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", lambda c, m, p, b: None)
    thread = _run_in_thread(ch.start_consuming)
    time.sleep(0.1)
    ch.stop_consuming()
    thread.join(1.0)
    alive = thread.is_alive()
    conn.close()
    thread.join(2.0)
    assert not alive, "start_consuming kept waiting after stop_consuming"


def test_consume_generator_ends_when_channel_closed_from_another_thread() -> None:
    # docs/api.md consume(): "ends when the consumer is cancelled"
    broker = Broker()
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("q")
    items: list[Any] = []
    generator = ch.consume("q")
    thread = _run_in_thread(lambda: items.extend(generator))
    time.sleep(0.1)
    ch.close()
    thread.join(1.0)
    alive = thread.is_alive()
    conn.close()
    thread.join(2.0)
    assert not alive, "consume() kept blocking after its channel was closed"
    assert items == []


def test_consume_generator_ends_when_cancelled_from_another_thread() -> None:
    # docs/api.md: cancel() ends consume()
    broker = Broker()
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("q")
    items: list[Any] = []
    generator = ch.consume("q")
    thread = _run_in_thread(lambda: items.extend(generator))
    time.sleep(0.1)
    ch.cancel()
    thread.join(1.0)
    alive = thread.is_alive()
    conn.close()
    thread.join(2.0)
    assert not alive, "consume() kept blocking after cancel()"


def test_run_until_idle_from_two_threads_keeps_one_consumers_deliveries_in_order() -> None:
    # deliveries to one consumer run one at a time, in delivery-tag order, even
    # when two threads drain (Broker is documented thread-safe)
    broker = Broker()
    ch = broker.connect().channel()
    ch.queue_declare("q")
    started_first = threading.Event()
    release_first = threading.Event()
    order: list[tuple[str, int]] = []

    def on_message(channel: Channel, method: Any, properties: Any, body: bytes) -> None:
        order.append(("start", method.delivery_tag))
        if method.delivery_tag == 1:
            started_first.set()
            release_first.wait(1.0)
        order.append(("end", method.delivery_tag))

    ch.basic_consume("q", on_message, auto_ack=True)
    ch.basic_publish("", "q", b"one")
    first = _run_in_thread(broker.run_until_idle)
    assert started_first.wait(2.0)
    ch.basic_publish("", "q", b"two")
    second = _run_in_thread(broker.run_until_idle)
    second.join(0.3)
    release_first.set()
    first.join(2.0)
    second.join(2.0)
    assert order == [("start", 1), ("end", 1), ("start", 2), ("end", 2)]


# ----------------------------------------------------------------- fast paths


def test_basic_get_auto_ack_accepts_the_same_values_as_basic_consume(
    broker: Broker, ch: Channel
) -> None:
    # basic_consume takes auto_ack=1 as no-ack; basic_get must agree (no unacked left)
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    method, _, _ = ch.basic_get("q", auto_ack=1)  # type: ignore[arg-type]
    assert method is not None
    assert broker.queues["q"].messages_unacknowledged == 0


# ----------------------------------------------------------------- accounting in unusual paths


def _identity(queue: Any) -> None:
    queue._check()  # api.md: asserts the accounting identity and the unacked count
    stats = queue.stats
    assert stats.enqueued == (
        stats.acked
        + queue.messages_ready
        + queue.messages_unacknowledged
        + stats.dead_lettered
        + sum(stats.dropped.values())
    ), stats


def test_deleted_queue_settles_unacked_by_ack_nack_reject_spec_2_10(
    broker: Broker, ch: Channel
) -> None:
    # spec 2.10, 7.8: deleting a queue leaves its unacked deliveries settleable
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": ""})
    for i in range(4):
        ch.basic_publish("", "q", b"m%d" % i)
    tags = [ch.basic_get("q")[0].delivery_tag for _ in range(4)]  # type: ignore[union-attr]
    queue = broker.queues["q"]
    assert ch.queue_delete("q").message_count == 0
    ch.basic_ack(tags[0])
    ch.basic_nack(tags[1], requeue=True)
    ch.basic_reject(tags[2], requeue=False)
    ch.basic_nack(tags[3], requeue=False)
    assert queue.messages_unacknowledged == 0 and queue.messages_ready == 0
    _identity(queue)


def test_queue_expiry_with_unacked_then_requeue_spec_2_9(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("q", arguments={"x-expires": 1000})
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    method, _, _ = ch.basic_get("q")
    assert method is not None
    queue = broker.queues["q"]
    clock.advance(1.0)
    assert "q" not in broker.queues  # spec 2.9: get does not keep it in use
    assert queue.stats.dropped["expired_queue"] == 1
    ch.basic_recover()
    _identity(queue)
    ch.queue_declare("q", arguments={"x-expires": 1000})
    assert broker.queues["q"].messages_ready == 0  # a new queue: nothing comes back


def test_tx_commit_after_queue_deleted_spec_8_8(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"before")
    ch.tx_select()
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.basic_publish("", "q", b"in-tx")
    ch.basic_ack(method.delivery_tag)
    queue = broker.queues["q"]
    other = broker.connect().channel()
    other.queue_delete("q")
    ch.tx_commit()
    _identity(queue)
    assert queue.stats.acked == 1


def test_tx_rollback_after_queue_deleted_then_close_spec_8_8(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    ch.tx_select()
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.basic_ack(method.delivery_tag)
    queue = broker.queues["q"]
    broker.connect().channel().queue_delete("q")
    ch.tx_rollback()
    _identity(queue)
    ch.close()
    assert queue.stats.dropped["deleted"] == 1
    _identity(queue)


def test_reject_dead_letters_into_the_same_queue_to_a_waiting_consumer_spec_4_1(
    broker: Broker, ch: Channel
) -> None:
    # spec 4.1, 4.7: "rejected" never counts as a cycle
    ch.queue_declare(
        "q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "q"}
    )
    ch.basic_qos(prefetch_count=2)
    got: list[Any] = []
    ch.basic_consume("q", lambda c, m, p, b: got.append(m))
    for i in range(3):
        ch.basic_publish("", "q", b"m%d" % i)
    broker.run_until_idle()
    ch.basic_nack(0, multiple=True, requeue=False)
    broker.run_until_idle()
    queue = broker.queues["q"]
    _identity(queue)
    assert queue.stats.dead_lettered == 2
    assert queue.messages_unacknowledged == 2 and queue.messages_ready == 1
    heads = [m for m in got[2:]]
    assert all(not m.redelivered for m in heads)


def test_reject_publish_dlx_into_itself_is_dropped_as_cycle_spec_5_3_4_7(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare(
        "q",
        arguments={
            "x-max-length": 1,
            "x-overflow": "reject-publish-dlx",
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "q",
        },
    )
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    queue = broker.queues["q"]
    assert queue.messages_ready == 1
    assert queue.stats.dead_lettered == 1
    _identity(queue)


def test_priority_requeue_over_limit_drops_highest_priority_spec_5_5_6_2(
    broker: Broker, ch: Channel
) -> None:
    from amqpmodel import BasicProperties

    ch.queue_declare("q", arguments={"x-max-priority": 5, "x-max-length": 2})
    ch.basic_publish("", "q", b"hi", BasicProperties(priority=5))
    ch.basic_publish("", "q", b"lo", BasicProperties(priority=1))
    method, _, body = ch.basic_get("q")
    assert body == b"hi" and method is not None
    ch.basic_publish("", "q", b"zero")
    ch.basic_nack(method.delivery_tag, requeue=True)
    queue = broker.queues["q"]
    assert [m.body for m in queue.peek()] == [b"lo", b"zero"]
    assert queue.stats.dropped["maxlen"] == 1
    _identity(queue)


def test_single_active_consumer_failover_with_unacked_spec_7_6(broker: Broker) -> None:
    conn = broker.connect()
    ch1, ch2 = conn.channel(), conn.channel()
    ch1.queue_declare("q", arguments={"x-single-active-consumer": True})
    got1: list[Any] = []
    got2: list[Any] = []
    ch1.basic_consume("q", lambda c, m, p, b: got1.append(b))
    ch2.basic_consume("q", lambda c, m, p, b: got2.append(b))
    for i in range(3):
        ch1.basic_publish("", "q", b"m%d" % i)
    broker.run_until_idle()
    assert got1 == [b"m0", b"m1", b"m2"] and got2 == []
    ch1.close()
    broker.run_until_idle()
    assert got2 == [b"m0", b"m1", b"m2"]
    _identity(broker.queues["q"])
    conn.close()


def test_exclusive_queue_deleted_on_close_with_consumers_on_two_channels_spec_2_5_7_13(
    broker: Broker,
) -> None:
    conn = broker.connect()
    ch1, ch2 = conn.channel(), conn.channel()
    ch1.queue_declare("x", exclusive=True)
    ch1.basic_qos(prefetch_count=1)
    ch2.basic_qos(prefetch_count=1)
    ch1.basic_consume("x", lambda c, m, p, b: None)
    ch2.basic_consume("x", lambda c, m, p, b: None)
    for i in range(5):
        ch1.basic_publish("", "x", b"m%d" % i)
    queue = broker.queues["x"]
    conn.close()
    assert "x" not in broker.queues
    assert queue.messages_unacknowledged == 0
    _identity(queue)
    assert queue.stats.dropped["deleted"] == 5


def test_global_prefetch_shared_by_consumers_on_two_queues_spec_7_5(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("a")
    ch.queue_declare("b")
    ch.basic_qos(prefetch_count=2, global_qos=True)
    got: list[Any] = []
    ch.basic_consume("a", lambda c, m, p, b: got.append(m))
    ch.basic_consume("b", lambda c, m, p, b: got.append(m))
    for q in ("a", "b", "a", "b"):
        ch.basic_publish("", q, q.encode())
    broker.run_until_idle()
    assert len(got) == 2
    ch.basic_ack(got[0].delivery_tag)
    broker.run_until_idle()
    assert len(got) == 3
    ch.basic_nack(got[1].delivery_tag, requeue=False)
    broker.run_until_idle()
    assert len(got) == 4
    for q in ("a", "b"):
        _identity(broker.queues[q])


def test_purge_with_consumers_keeps_unacked_spec_2_11(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    got: list[Any] = []
    ch.basic_consume("q", lambda c, m, p, b: got.append(m))
    for i in range(3):
        ch.basic_publish("", "q", b"m%d" % i)
    broker.run_until_idle()
    assert ch.queue_purge("q").message_count == 2
    ch.basic_reject(got[0].delivery_tag, requeue=True)
    broker.run_until_idle()
    assert got[-1].redelivered
    _identity(broker.queues["q"])


# ----------------------------------------------------------------- random unusual paths


from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule  # noqa: E402

from amqpmodel import AMQPError, BasicProperties  # noqa: E402

_QUEUE_ARGS = [
    {},
    {"x-max-priority": 3, "x-max-length": 2},
    {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "q0", "x-message-ttl": 500},
    {
        "x-expires": 700,
        "x-overflow": "reject-publish-dlx",
        "x-max-length": 1,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": "q0",
    },
]


class UnusualPaths(RuleBasedStateMachine):
    """Channels that consume, get, settle, commit, roll back and close while queues
    are deleted, expire, purge and dead-letter; every queue object ever created
    keeps its accounting identity (api.md QueueStats)."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = VirtualClock()
        self.broker = Broker(clock=self.clock, consumer_timeout=None)
        self.conn = self.broker.connect()
        self.channels: list[Channel] = []
        self.seen: list[Any] = []
        self.tags: dict[int, list[int]] = {}

    def _channel(self, index: int) -> Channel:
        live = [c for c in self.channels if c.is_open]
        if len(live) < 3:
            try:
                channel = self.conn.channel()
            except AMQPError:
                return live[0]
            self.channels.append(channel)
            live.append(channel)
        return live[index % len(live)]

    def _try(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except (AMQPError, ChannelClosed):
            return None

    def _on_message(self, channel: Channel, method: Any, properties: Any, body: bytes) -> None:
        self.tags.setdefault(id(channel), []).append(method.delivery_tag)

    @rule(q=st.integers(0, 3))
    def declare(self, q: int) -> None:
        ch = self._channel(q)
        queue = self._try(ch.queue_declare, f"q{q}", arguments=_QUEUE_ARGS[q])
        if queue is not None:
            self.seen.append(self.broker.queues[f"q{q}"])

    @rule(
        q=st.integers(0, 3),
        prio=st.sampled_from([None, 0, 2, 7]),
        ttl=st.sampled_from([None, "0", "300"]),
    )
    def publish(self, q: int, prio: Any, ttl: Any) -> None:
        ch = self._channel(q)
        props = (
            None if prio is None and ttl is None else BasicProperties(priority=prio, expiration=ttl)
        )
        self._try(ch.basic_publish, "", f"q{q}", b"x", props)

    @rule(c=st.integers(0, 5), q=st.integers(0, 3), auto_ack=st.booleans())
    def get(self, c: int, q: int, auto_ack: bool) -> None:
        ch = self._channel(c)
        result = self._try(ch.basic_get, f"q{q}", auto_ack=auto_ack)
        if result and result[0] is not None and not auto_ack:
            self.tags.setdefault(id(ch), []).append(result[0].delivery_tag)

    @rule(c=st.integers(0, 5), q=st.integers(0, 3), prefetch=st.integers(0, 2), glob=st.booleans())
    def consume(self, c: int, q: int, prefetch: int, glob: bool) -> None:
        ch = self._channel(c)
        self._try(ch.basic_qos, prefetch_count=prefetch, global_qos=glob)
        if ch.is_open:
            self._try(ch.basic_consume, f"q{q}", self._on_message)

    @rule(c=st.integers(0, 5))
    def cancel_one(self, c: int) -> None:
        ch = self._channel(c)
        if ch.consumer_tags:
            self._try(ch.basic_cancel, ch.consumer_tags[0])

    @rule(
        c=st.integers(0, 5),
        action=st.sampled_from(["ack", "nack", "reject", "ackall", "nackall"]),
        requeue=st.booleans(),
    )
    def settle(self, c: int, action: str, requeue: bool) -> None:
        ch = self._channel(c)
        outstanding = ch.unacked_delivery_tags
        if not outstanding:
            return
        tag = outstanding[-1]
        if action == "ack":
            self._try(ch.basic_ack, tag)
        elif action == "nack":
            self._try(ch.basic_nack, tag, requeue=requeue)
        elif action == "reject":
            self._try(ch.basic_reject, tag, requeue=requeue)
        elif action == "ackall":
            self._try(ch.basic_ack, 0, multiple=True)
        else:
            self._try(ch.basic_nack, 0, multiple=True, requeue=requeue)

    @rule(
        c=st.integers(0, 5),
        what=st.sampled_from(["select", "commit", "rollback", "recover", "close"]),
    )
    def channel_op(self, c: int, what: str) -> None:
        ch = self._channel(c)
        if what == "select":
            self._try(ch.tx_select)
        elif what == "commit":
            self._try(ch.tx_commit)
        elif what == "rollback":
            self._try(ch.tx_rollback)
        elif what == "recover":
            self._try(ch.basic_recover)
        else:
            ch.close()

    @rule(q=st.integers(0, 3), what=st.sampled_from(["delete", "purge"]))
    def queue_op(self, q: int, what: str) -> None:
        ch = self._channel(q)
        if what == "delete":
            self._try(ch.queue_delete, f"q{q}")
        else:
            self._try(ch.queue_purge, f"q{q}")

    @rule(ms=st.integers(0, 1000))
    def advance(self, ms: int) -> None:
        self.clock.advance(ms / 1000)

    @rule()
    def drain(self) -> None:
        self.broker.run_until_idle()

    @invariant()
    def every_queue_accounted(self) -> None:
        for queue in {id(q): q for q in self.seen}.values():
            _identity(queue)

    def teardown(self) -> None:
        self.conn.close()
        for queue in {id(q): q for q in self.seen}.values():
            _identity(queue)
            assert queue.messages_unacknowledged == 0


TestUnusualPaths = UnusualPaths.TestCase
TestUnusualPaths.settings = settings(
    max_examples=400,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
