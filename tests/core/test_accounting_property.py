"""Random publish/get/ack/nack/advance/purge against a model of one limited queue and its DLX queue.

After every step: the accounting identity holds for both queues (API doc, QueueStats) and
the ready messages are in the order the model predicts: highest priority level first,
enqueue order within a level, requeued messages back at their original place (spec 2.12,
3.1, 3.3, 4.1, 5.2, 5.3, 5.5, 6.2, 6.3).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from amqpmodel import BasicProperties, Broker, NackError, Queue, VirtualClock
from amqpmodel.testing import assert_accounted

_ID_BYTES = 4


class _Model:
    """One message in the model of queue "q"."""

    __slots__ = ("deadline", "ident", "level", "redelivered", "seq", "size")

    def __init__(self, ident: int, seq: int, level: int, deadline: float | None, size: int) -> None:
        self.ident = ident
        self.seq = seq
        self.level = level
        self.deadline = deadline
        self.size = size
        self.redelivered = False

    def __repr__(self) -> str:
        return f"<#{self.ident} L{self.level} seq={self.seq} dl={self.deadline}>"


def _ident(body: bytes) -> int:
    return int.from_bytes(body[:_ID_BYTES], "big")


def _identity_holds(queue: Queue) -> None:
    stats = queue.stats
    total = (
        stats.acked
        + queue.messages_ready
        + queue.messages_unacknowledged
        + stats.dead_lettered
        + sum(stats.dropped.values())
    )
    assert stats.enqueued == total, (queue.name, stats)


optional_small = st.none() | st.integers(0, 4)


class LimitedQueueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.broker = Broker(clock=VirtualClock())
        self.clock = self.broker.clock
        assert isinstance(self.clock, VirtualClock)
        self.conn = self.broker.connect()
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()
        self.dlq_ch = self.conn.channel()
        self.ready: list[_Model] = []
        self.unacked: dict[int, _Model] = {}
        self.dlq: list[tuple[int, str]] = []
        self.next_ident = 0
        self.next_seq = 0
        self.enqueued = 0
        self.acked = 0
        self.delivered = 0
        self.dead_lettered = 0
        self.dropped: Counter[str] = Counter()  # what left without a DLX, by reason
        self.purged = 0

    # ----------------------------------------------------------------- configuration

    @initialize(
        max_length=optional_small,
        max_bytes=st.none() | st.integers(0, 40),
        overflow=st.sampled_from([None, "drop-head", "reject-publish", "reject-publish-dlx"]),
        max_priority=st.none() | st.integers(0, 3),
        message_ttl=st.none() | st.integers(0, 3000),
        has_dlx=st.booleans(),
    )
    def configure(
        self,
        max_length: int | None,
        max_bytes: int | None,
        overflow: str | None,
        max_priority: int | None,
        message_ttl: int | None,
        has_dlx: bool,
    ) -> None:
        self.max_length = max_length
        self.max_bytes = max_bytes
        self.overflow = overflow or "drop-head"
        self.max_priority = max_priority
        self.message_ttl = message_ttl
        self.has_dlx = has_dlx
        arguments: dict[str, Any] = {}
        if max_length is not None:
            arguments["x-max-length"] = max_length
        if max_bytes is not None:
            arguments["x-max-length-bytes"] = max_bytes
        if overflow is not None:
            arguments["x-overflow"] = overflow
        if max_priority is not None:
            arguments["x-max-priority"] = max_priority
        if message_ttl is not None:
            arguments["x-message-ttl"] = message_ttl
        if has_dlx:
            self.ch.exchange_declare("dlx", "fanout")
            self.ch.queue_declare("dlq")
            self.ch.queue_bind("dlq", "dlx")
            arguments["x-dead-letter-exchange"] = "dlx"
        else:
            self.ch.queue_declare("dlq")  # exists, but nothing reaches it
        self.ch.queue_declare("q", arguments=arguments)
        self.q = self.broker.queues["q"]
        self.dlq_queue = self.broker.queues["dlq"]

    # ----------------------------------------------------------------- the model

    def _level(self, priority: int | None) -> int:
        if self.max_priority is None or priority is None:
            return 0
        return min(priority, max(1, self.max_priority))  # spec 6.1, 6.2

    def _order(self) -> list[_Model]:
        return sorted(self.ready, key=lambda m: (-m.level, m.seq))  # spec 6.3, 2.12

    def _head(self) -> _Model | None:
        order = self._order()
        return order[0] if order else None

    def _bytes(self) -> int:
        return sum(m.size for m in self.ready)

    def _over(self) -> bool:
        return (self.max_length is not None and len(self.ready) > self.max_length) or (
            self.max_bytes is not None and self._bytes() > self.max_bytes
        )

    def _would_overflow(self, size: int) -> bool:
        return (self.max_length is not None and len(self.ready) + 1 > self.max_length) or (
            self.max_bytes is not None and self._bytes() + size > self.max_bytes
        )

    def _dead_letter(self, ident: int, reason: str) -> None:
        if self.has_dlx:
            self.dead_lettered += 1
            self.dlq.append((ident, reason))
        else:
            self.dropped[reason] += 1

    def _drop_head_over_limit(self) -> None:
        # spec 5.2, 5.5: only drop-head drops; reject-publish leaves an over-full queue alone
        if self.overflow != "drop-head":
            return
        while self.ready and self._over():
            head = self._order()[0]
            self.ready.remove(head)
            self._dead_letter(head.ident, "maxlen")

    def _expire_head(self) -> None:
        now = self.clock.now()
        while True:
            head = self._head()
            if head is None or head.deadline is None or head.deadline > now:
                return  # spec 3.3: only at the head
            self.ready.remove(head)
            self._dead_letter(head.ident, "expired")

    # ----------------------------------------------------------------- rules

    @rule(
        ttl=st.none() | st.integers(0, 3000),
        priority=st.none() | st.integers(0, 5),
        size=st.integers(0, 10),
    )
    def publish(self, ttl: int | None, priority: int | None, size: int) -> None:
        ident = self.next_ident
        self.next_ident += 1
        body = ident.to_bytes(_ID_BYTES, "big") + b"." * size
        properties = BasicProperties(
            expiration=None if ttl is None else str(ttl), priority=priority
        )
        rejected = False
        try:
            self.ch.basic_publish("", "q", body, properties)
        except NackError:
            rejected = True
        self.enqueued += 1
        now = self.clock.now()
        if self.overflow != "drop-head" and self._would_overflow(len(body)):
            # spec 5.3
            assert rejected, "expected basic.nack for a reject-publish overflow"
            if self.overflow == "reject-publish-dlx":
                self._dead_letter(ident, "maxlen")
            else:
                self.dropped["overflow"] += 1
            return
        assert not rejected, "unexpected basic.nack"
        effective = ttl
        if self.message_ttl is not None and (effective is None or self.message_ttl < effective):
            effective = self.message_ttl  # spec 3.1
        deadline = None if effective is None else now + effective / 1000
        self.ready.append(_Model(ident, self.next_seq, self._level(priority), deadline, len(body)))
        self.next_seq += 1
        self._drop_head_over_limit()
        self._expire_head()

    @rule()
    def get(self) -> None:
        method, _, body = self.ch.basic_get("q")
        head = self._head()
        if head is None:
            assert method is None, "get-ok from a queue the model says is empty"
            return
        assert method is not None, f"get-empty but the model has {self._order()}"
        assert _ident(body) == head.ident, (_ident(body), self._order())
        assert method.redelivered is head.redelivered  # spec 2.12
        self.ready.remove(head)
        self.delivered += 1
        self._expire_head()
        assert method.message_count == len(self.ready)  # spec 7.9
        self.unacked[method.delivery_tag] = head

    @precondition(lambda self: bool(self.unacked))
    @rule(pick=st.integers(0, 1000))
    def ack(self, pick: int) -> None:
        tags = sorted(self.unacked)
        tag = tags[pick % len(tags)]
        self.ch.basic_ack(tag)
        del self.unacked[tag]
        self.acked += 1

    @precondition(lambda self: bool(self.unacked))
    @rule(pick=st.integers(0, 1000), requeue=st.booleans())
    def nack(self, pick: int, requeue: bool) -> None:
        tags = sorted(self.unacked)
        tag = tags[pick % len(tags)]
        self.ch.basic_nack(tag, requeue=requeue)
        entry = self.unacked.pop(tag)
        if requeue:
            entry.redelivered = True
            self.ready.append(entry)  # its seq puts it back in its original place
            self._drop_head_over_limit()
            self._expire_head()  # spec 3.5
        else:
            self._dead_letter(entry.ident, "rejected")  # spec 4.1

    @rule(milliseconds=st.integers(0, 4000))
    def advance(self, milliseconds: int) -> None:
        self.clock.advance(milliseconds / 1000)
        self._expire_head()

    @rule()
    def purge(self) -> None:
        count = self.ch.queue_purge("q").message_count
        assert count == len(self.ready)  # spec 2.11
        self.purged += count
        self.ready.clear()

    @precondition(lambda self: self.has_dlx)
    @rule()
    def get_dead_letter(self) -> None:
        method, properties, body = self.dlq_ch.basic_get("dlq", auto_ack=True)
        if not self.dlq:
            assert method is None
            return
        assert method is not None
        ident, reason = self.dlq.pop(0)
        assert _ident(body) == ident
        death = properties.headers["x-death"][0]
        assert (death["queue"], death["reason"], death["count"]) == ("q", reason, 1)
        assert properties.expiration is None  # spec 4.6
        assert method.exchange == "dlx"
        assert method.message_count == len(self.dlq)

    # ----------------------------------------------------------------- after every step

    @invariant()
    def accounting_identity(self) -> None:
        if not hasattr(self, "q"):
            return
        for queue in (self.q, self.dlq_queue):
            _identity_holds(queue)
            queue._check()

    @invariant()
    def matches_model(self) -> None:
        if not hasattr(self, "q"):
            return
        q = self.q
        assert [_ident(m.body) for m in q.peek()] == [m.ident for m in self._order()]
        assert q.messages_ready == len(self.ready)
        assert q.message_bytes_ready == self._bytes()
        assert q.messages_unacknowledged == len(self.unacked)
        stats = q.stats
        assert stats.enqueued == self.enqueued
        assert stats.acked == self.acked
        assert stats.delivered == self.delivered
        assert stats.dead_lettered == self.dead_lettered
        assert stats.dropped["purged"] == self.purged
        # without a DLX, what would have been dead-lettered is dropped (the label may vary
        # between "maxlen" and "overflow" for reject-publish-dlx)
        assert sum(stats.dropped.values()) == self.purged + sum(self.dropped.values())
        assert stats.dropped["rejected"] == self.dropped["rejected"]
        assert stats.dropped["expired"] == self.dropped["expired"]
        assert [_ident(m.body) for m in self.dlq_queue.peek()] == [i for i, _ in self.dlq]
        reasons = [m.properties.headers["x-death"][0]["reason"] for m in self.dlq_queue.peek()]
        assert reasons == [r for _, r in self.dlq]
        # spec 3.3: after any operation settles, the head is never an expired message
        head = self._head()
        if head is not None and head.deadline is not None:
            assert head.deadline > self.clock.now()

    def teardown(self) -> None:
        self.conn.close()
        assert_accounted(self.broker)


LimitedQueueMachine.TestCase.settings = settings(
    max_examples=400,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLimitedQueueAccounting = LimitedQueueMachine.TestCase
