"""A quorum queue's entries and ready messages (spec 11.13-11.17, 11.23) and its single
active consumer (11.24): what ``_queue_quorum.py`` builds the queue from.

- ``QuorumEntry``: a message with its count of returns, shown as headers;
- ``QuorumReady``: the returns list, then two priority levels taken 2:1; the
  3.13 (no priorities) and 4.3 (strict levels 0-31) variants;
- ``PrioritySingleActiveConsumers``: hand-over to a higher x-priority.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from heapq import heappop, heappush
from typing import TYPE_CHECKING, ClassVar

from ._dispatch import REMOVED, SingleActiveConsumers
from ._field_values import TAGGED_INTS
from ._properties import BasicProperties, Message, copy_table, with_headers
from ._ready import Entry, QueueEntry

if TYPE_CHECKING:
    from ._consumer import Consumer

__all__ = [
    "HIGH_PRIORITY_ABOVE",
    "IgnoredPriorityQuorumReady",
    "PrioritySingleActiveConsumers",
    "QuorumEntry",
    "QuorumReady",
    "StrictQuorumReady",
    "entry_count",
]

_LONG = TAGGED_INTS[b"l"]
HIGH_PRIORITY_ABOVE = 4  # spec 11.23: priority 5 and up is high


class QuorumEntry(Entry):
    """A message in a quorum queue with its count of returns (spec 11.13).

    ``order`` places it among the ready messages: its enqueue order, or a
    later one when a requeue sent it to the back (11.17).
    """

    __slots__ = ("acquired", "count", "order")

    storage: ClassVar[str] = "always"  # spec 11.34: stored whatever the delivery mode

    def __init__(self, message: Message, seq: int, deadline: float | None = None) -> None:
        # no super().__init__: one call less on the publish path
        self.message = message
        self.seq = seq
        self.deadline = deadline
        self.redelivered = False
        self.count = 0
        self.acquired = 0  # 4.3's second counter (spec 11.15); 0 before 4.3
        self.order = seq

    @property
    def stored_counters(self) -> int:
        """Its counters as a store keeps them (spec 22.19), in one integer: 0 before
        any return, else 1 + the count + 2**32 x the acquired count (4.3, 11.15).
        1 is what other types store for "delivered before" (and what a data dir
        from before the counters held): ``restore_counters`` reads it as a count
        of one."""
        if not self.count and not self.acquired:
            return 1 if self.redelivered else 0
        return 1 + self.count + (self.acquired << 32)

    def restore_counters(self, stored: int, crashed: bool, two_counters: bool) -> None:
        """Counters read back as ``stored_counters`` wrote them (spec 22.19).

        A message stored only as delivered (value 1: a data dir from before the
        counters were kept) has counted one return, as redelivered means a count
        (11.14). After a crash the model does not know which messages consumers
        held (RabbitMQ returns those, counting one more, 22.19): every message
        comes back flagged redelivered (22.18) with its counters as last
        recorded. Counting one more for each would drop messages nobody had
        taken under ``x-delivery-limit: 0``; counting none lets a message held
        at the crash be delivered once more than its limit allows.
        """
        if stored > 1:
            self.count = (stored - 1) & 0xFFFFFFFF
            self.acquired = (stored - 1) >> 32
            # a data dir another version wrote: 4.3 counts every return as acquired
            self.acquired = (self.acquired or self.count) if two_counters else 0
        if self.count or self.acquired:
            self.redelivered = True
        elif self.redelivered and not crashed:
            self.count = 1
            if two_counters:
                self.acquired = 1
        if crashed:
            self.redelivered = True

    @property
    def properties_owned(self) -> bool:  # type: ignore[override]
        return bool(self.count or self.acquired)  # then ``properties`` is new each time

    @property
    def properties(self) -> BasicProperties:
        """The message's properties, with ``x-delivery-count`` once it came back (11.14)
        and, from 4.3, ``x-acquired-count`` (11.15), each once its counter is > 0."""
        properties = self.message.properties
        if not self.count and not self.acquired:
            return properties
        # the delivery's own headers, tables and arrays included: a handler may change them
        headers = copy_table(properties.headers) if properties.headers else {}
        if self.acquired:
            headers["x-acquired-count"] = _LONG(self.acquired)
        if self.count:
            headers["x-delivery-count"] = _LONG(self.count)
        return with_headers(properties, headers)


def _order(entry: QueueEntry) -> int:
    """Where a ready message stands among the others: a message that never came back is
    its own entry in a broker without a store, and its enqueue order is its ``seq``."""
    return entry.order if type(entry) is QuorumEntry else entry.seq


def entry_count(entry: QueueEntry) -> int:
    """How many times an entry came back (a message that never did has no counter)."""
    return entry.count if type(entry) is QuorumEntry else 0


class QuorumReady:
    """Ready messages: the returns list, then a high and a normal level taken 2:1 (11.23).

    Every third dequeue from the levels, when both hold messages, takes the
    one enqueued first instead of the high one, so normal messages are not
    starved. The same interface as ``Fifo``.
    """

    __slots__ = ("count", "high", "normal", "returns", "_counter")

    def __init__(self) -> None:
        self.returns: deque[QueueEntry] = deque()
        self.high: deque[QueueEntry] = deque()
        self.normal: deque[QueueEntry] = deque()
        self.count = 0
        self._counter = 0

    def __len__(self) -> int:
        return self.count

    def push(self, entry: QueueEntry) -> None:
        priority = entry.message.properties.priority
        if priority is not None and priority > HIGH_PRIORITY_ABOVE:
            self.high.append(entry)
        else:
            self.normal.append(entry)
        self.count += 1

    def requeue(self, entry: QueueEntry) -> None:
        """A returned message: the returns list, ahead of everything (spec 11.16)."""
        self.returns.append(entry)
        self.count += 1

    def push_back(self, entry: QuorumEntry, order: int) -> None:
        """A requeue without a delivery limit: the back of the queue, normal level (11.17)."""
        entry.order = order
        self.normal.append(entry)
        self.count += 1

    def _level(self, counter: int) -> deque[QueueEntry]:
        high, normal = self.high, self.normal
        if high and normal and counter == 2:
            return high if _order(high[0]) < _order(normal[0]) else normal
        return high if high else normal

    def head(self) -> QueueEntry | None:
        if self.returns:
            return self.returns[0]
        if not self.count:
            return None
        return self._level(self._counter)[0]

    def pop(self) -> QueueEntry:
        self.count -= 1
        if self.returns:
            return self.returns.popleft()
        level = self._level(self._counter)
        self._counter = 0 if self._counter == 2 else self._counter + 1
        return level.popleft()

    def __iter__(self) -> Iterator[QueueEntry]:
        """In delivery order (a dry run of ``pop``)."""
        yield from self.returns
        high, normal = list(self.high), list(self.normal)
        h = n = 0
        counter = self._counter
        while h < len(high) or n < len(normal):
            if h < len(high) and n < len(normal):
                take_high = counter != 2 or _order(high[h]) < _order(normal[n])
            else:
                take_high = h < len(high)
            if take_high:
                yield high[h]
                h += 1
            else:
                yield normal[n]
                n += 1
            counter = 0 if counter == 2 else counter + 1

    def clear(self) -> None:
        self.returns.clear()
        self.high.clear()
        self.normal.clear()
        self.count = 0


class StrictQuorumReady(QuorumReady):
    """RabbitMQ 4.3's priorities (spec 11.23, 0.x.8): levels 0-31, the highest first,
    values clamped, a missing priority counting as 4; the returns list still first.
    ``high``/``normal`` stay empty: the levels are kept here."""

    __slots__ = ("levels",)

    def __init__(self) -> None:
        super().__init__()
        self.levels: list[deque[QueueEntry]] = [deque() for _ in range(32)]

    def push(self, entry: QueueEntry) -> None:
        priority = entry.message.properties.priority
        level = 4 if priority is None else max(0, min(31, priority))
        self.levels[level].append(entry)
        self.count += 1

    def push_back(self, entry: QuorumEntry, order: int) -> None:
        entry.order = order
        self.push(entry)

    def _top(self) -> deque[QueueEntry]:
        for level in reversed(self.levels):
            if level:
                return level
        raise IndexError("no ready message")

    def head(self) -> QueueEntry | None:
        if self.returns:
            return self.returns[0]
        return self._top()[0] if self.count else None

    def pop(self) -> QueueEntry:
        self.count -= 1
        if self.returns:
            return self.returns.popleft()
        return self._top().popleft()

    def __iter__(self) -> Iterator[QueueEntry]:
        yield from self.returns
        for level in reversed(self.levels):
            yield from level

    def clear(self) -> None:
        super().clear()
        for level in self.levels:
            level.clear()


class IgnoredPriorityQuorumReady(QuorumReady):
    """RabbitMQ 3.13: quorum queues ignore ``priority`` (spec 11.23, 0.x.8)."""

    __slots__ = ()

    def push(self, entry: QueueEntry) -> None:
        self.normal.append(entry)
        self.count += 1


class PrioritySingleActiveConsumers(SingleActiveConsumers):
    """Single active consumer of a quorum queue: a waiting consumer with a higher
    x-priority takes over once the active one has no unacked messages, and the
    active one gets nothing new meanwhile (spec 11.24)."""

    __slots__ = ()

    def _contender(self) -> Consumer | None:
        standby = self._standby
        while standby and standby[0][2]._state == REMOVED:
            heappop(standby)
            self._stale -= 1
        active = self.active
        if active is not None and standby and -standby[0][0] > active.priority:
            return standby[0][2]
        return None

    def _hand_over(self) -> bool:
        """Switch to a higher-priority contender if the active one is idle; False while
        a contender waits for the active one's unacked messages."""
        contender = self._contender()
        if contender is None:
            return True
        active = self.active
        assert active is not None
        if active.unacked:
            return False
        heappop(self._standby)
        heappush(self._standby, (-active.priority, active.registered, active))
        self.active = contender
        return True

    def first(self) -> Consumer:
        self._hand_over()
        return super().first()

    def next(self) -> Consumer | None:
        if self.active is None or not self._hand_over():
            return None
        active = self.active
        return active if active.has_room() else None
