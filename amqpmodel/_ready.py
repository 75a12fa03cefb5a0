"""The ready-message stores of a queue: FIFO with requeue to original position, and per-priority FIFOs.

Invariant that makes requeue O(log n) instead of an insertion into the
middle of a deque: within one priority level, every message that has been
delivered and requeued was enqueued before every message never delivered
(delivery always takes the head). So a level is a heap of requeued messages
(ordered by enqueue sequence) followed by a deque of fresh ones (spec 2.12).
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from collections.abc import Iterator
from heapq import heappop, heappush
from typing import TYPE_CHECKING, ClassVar

from ._properties import Annotations, BasicProperties, Message

if TYPE_CHECKING:
    pass

__all__ = ["Entry", "Fifo", "PriorityFifo", "QueueEntry", "ReadyStore"]


class Entry:
    """A message in one of several queues it reached: ``seq`` orders it (spec 2.12),
    ``deadline`` is its TTL (3.1). A message in a single queue is its own entry."""

    __slots__ = ("deadline", "message", "redelivered", "seq")

    # how a store keeps it (see ``Journal.message_removed``): "persistent" by its
    # delivery mode, "always" whatever that is (quorum queues; a stream's: LogJournal)
    storage: ClassVar[str] = "persistent"
    # its ``properties`` are made for this delivery alone: no private copy needed
    properties_owned: ClassVar[bool] = False

    def __init__(self, message: Message, seq: int, deadline: float | None = None) -> None:
        self.message = message
        self.seq = seq
        self.deadline = deadline
        self.redelivered = False

    def __lt__(self, other: QueueEntry) -> bool:
        return self.seq < other.seq

    # the message's fields, so that code reads an Entry and a Message alike
    @property
    def exchange(self) -> str:
        return self.message.exchange

    @property
    def routing_key(self) -> str:
        return self.message.routing_key

    @property
    def properties(self) -> BasicProperties:
        return self.message.properties

    @property
    def body(self) -> bytes:
        return self.message.body

    @property
    def annotations(self) -> Annotations | None:
        return self.message.annotations

    def __repr__(self) -> str:
        return f"<Entry #{self.seq} {self.message.routing_key!r} deadline={self.deadline}>"


# what a queue holds: a Message of its own, or an Entry for a message it shares
QueueEntry = Entry | Message


class Fifo:
    """One level: requeued messages (heap by seq), then fresh ones (deque).

    ``count`` is kept as an attribute because the hot path reads it on every
    publish and delivery and a Python-level ``__len__`` costs a call.
    """

    __slots__ = ("count", "fresh", "requeued")

    def __init__(self) -> None:
        self.fresh: deque[QueueEntry] = deque()
        self.requeued: list[QueueEntry] = []
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def push(self, entry: QueueEntry) -> None:
        self.fresh.append(entry)
        self.count += 1

    def requeue(self, entry: QueueEntry) -> None:
        heappush(self.requeued, entry)
        self.count += 1

    def head(self) -> QueueEntry | None:
        if self.requeued:
            return self.requeued[0]
        return self.fresh[0] if self.fresh else None

    def pop(self) -> QueueEntry:
        self.count -= 1
        if self.requeued:
            return heappop(self.requeued)
        return self.fresh.popleft()

    def __iter__(self) -> Iterator[QueueEntry]:
        yield from sorted(self.requeued)
        yield from self.fresh

    def clear(self) -> None:
        self.fresh.clear()
        self.requeued.clear()
        self.count = 0


class PriorityFifo:
    """A FIFO per priority level; always take from the highest non-empty level (spec 6.2, 6.3)."""

    __slots__ = ("_levels", "_nonempty", "count", "max_priority")

    def __init__(self, max_priority: int) -> None:
        self.max_priority = max(1, max_priority)  # spec 6.1
        self._levels: dict[int, Fifo] = {}
        self._nonempty: list[int] = []  # negated priorities, ascending: highest level first
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def level_of(self, entry: QueueEntry) -> int:
        priority = entry.properties.priority
        if priority is None:
            return 0
        return priority if priority < self.max_priority else self.max_priority

    def _level(self, priority: int) -> Fifo:
        level = self._levels.get(priority)
        if level is None:
            level = self._levels[priority] = Fifo()
        if not level.count:
            insort(self._nonempty, -priority)
        return level

    def push(self, entry: QueueEntry) -> None:
        self._level(self.level_of(entry)).push(entry)
        self.count += 1

    def requeue(self, entry: QueueEntry) -> None:
        self._level(self.level_of(entry)).requeue(entry)
        self.count += 1

    def head(self) -> QueueEntry | None:
        if not self._nonempty:
            return None
        return self._levels[-self._nonempty[0]].head()

    def pop(self) -> QueueEntry:
        priority = -self._nonempty[0]
        level = self._levels[priority]
        entry = level.pop()
        if not level.count:
            del self._nonempty[0]
        self.count -= 1
        return entry

    def __iter__(self) -> Iterator[QueueEntry]:
        for negated in list(self._nonempty):
            yield from self._levels[-negated]

    def clear(self) -> None:
        self._levels.clear()
        self._nonempty.clear()
        self.count = 0


ReadyStore = Fifo | PriorityFifo
