"""A stream's log: its retained messages in segments (spec 12.7-12.10), and the log as
the store's journal sees it."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, ClassVar

from ._properties import Annotations, BasicProperties, Message
from ._ready import QueueEntry

if TYPE_CHECKING:
    from ._journal import Journal
    from ._queue import Queue

__all__ = [
    "MESSAGE_OVERHEAD",
    "Retired",
    "LogJournal",
    "StreamLog",
    "Stored",
]

MESSAGE_OVERHEAD = 64  # bytes counted per message on top of its body, for segment sizes


class StreamLog:
    """The retained messages and their segments; ``count`` as a ready store has it."""

    __slots__ = (
        "count",
        "entries",
        "first_offset",
        "now",
        "run_starts",
        "run_times",
        "segment_limit",
        "segments",
        "segment_bytes",
        "total_bytes",
    )

    def __init__(self, segment_limit: int, now: Callable[[], float]) -> None:
        """``segment_limit``: x-stream-max-segment-size-bytes (read once, 12.6); ``now``:
        the broker's clock, for ``push``."""
        self.segment_limit = segment_limit
        self.now = now
        self.entries: list[QueueEntry] = []  # oldest first
        # write times, as RabbitMQ keeps them (milliseconds), one per run of messages
        # written in the same millisecond: run_starts[i] is the first offset of run i.
        # A message then costs no more than in a classic queue.
        self.run_starts: list[int] = []
        self.run_times: list[float] = []
        self.first_offset = 0
        self.count = 0
        self.segments: list[int] = [0]  # the first offset of each segment, oldest first
        self.segment_bytes: list[int] = [0]  # the size of each segment (model bytes)
        self.total_bytes = 0  # body bytes retained

    @property
    def next_offset(self) -> int:
        return self.first_offset + self.count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[QueueEntry]:
        return iter(self.entries)

    def head(self) -> QueueEntry | None:
        return self.entries[0] if self.entries else None

    def at(self, offset: int) -> QueueEntry:
        return self.entries[offset - self.first_offset]

    def clear(self) -> None:
        self.entries.clear()
        self.run_starts.clear()
        self.run_times.clear()
        self.first_offset += self.count
        self.count = 0
        self.segments = [self.first_offset]
        self.segment_bytes = [0]
        self.total_bytes = 0

    def append(self, entry: QueueEntry, written: float | None = None) -> bool:
        """Add a message written at ``written`` (seconds; None: now); True when it
        opened a new segment (a roll-over, 12.10)."""
        if written is None:
            written = self.now()
        segment_limit = self.segment_limit
        written = int(written * 1000) / 1000  # RabbitMQ's millisecond timestamps
        if not self.run_times or self.run_times[-1] != written:
            self.run_starts.append(self.first_offset + self.count)
            self.run_times.append(written)
        size = len(entry.body) + MESSAGE_OVERHEAD
        rolled = False
        if self.segment_bytes[-1] and self.segment_bytes[-1] + size > segment_limit:
            self.segments.append(self.next_offset)
            self.segment_bytes.append(0)
            rolled = True
        self.entries.append(entry)
        self.count += 1
        self.segment_bytes[-1] += size
        self.total_bytes += len(entry.body)
        return rolled

    # the channel's shortcut (``queue._ready.push``) for a stream that nothing stores,
    # ages or limits: a message written now, and a roll-over needs no retention run
    push = append

    def drop_segments(self, keep_from: int) -> list[QueueEntry]:
        """Delete the segments before index ``keep_from``; the messages they held."""
        if keep_from <= 0:
            return []
        cut = self.segments[keep_from] - self.first_offset
        gone = self.entries[:cut]
        del self.entries[:cut]
        del self.segments[:keep_from]
        del self.segment_bytes[:keep_from]
        self.first_offset += cut
        self.count -= cut
        self.total_bytes -= sum(len(entry.body) for entry in gone)
        # the runs that ended before the new first offset go; one may now start at it
        keep = bisect_right(self.run_starts, self.first_offset) - 1
        if keep > 0:
            del self.run_starts[:keep]
            del self.run_times[:keep]
        if self.run_starts:
            self.run_starts[0] = self.first_offset
        return gone

    def written_at(self, offset: int) -> float:
        """When the message at ``offset`` was written (milliseconds precision)."""
        return self.run_times[bisect_right(self.run_starts, offset) - 1]

    def first_written_at_or_after(self, when: float) -> int:
        """The offset of the first message written at or after ``when`` (else next)."""
        index = bisect_left(self.run_times, when)
        if index == len(self.run_times):
            return self.next_offset
        return max(self.run_starts[index], self.first_offset)


class LogJournal:
    """A stream's side of the store's journal (spec 12.19, 22.19).

    A channel settling a delivery calls ``message_removed`` with the message's
    entry, as for any queue; a stream's messages leave by retention only
    (12.7), so only a ``Retired`` (retention's removal) goes through. The
    other calls a queue makes go to the journal as they are; an appended
    message comes as a ``Stored``, with its write time.
    """

    __slots__ = ("journal",)

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def message_removed(self, entry: QueueEntry | Retired) -> None:
        if type(entry) is Retired:
            self.journal.message_removed(entry)  # type: ignore[arg-type]  # reads as one

    def message_enqueued(self, queue: Queue, entry: QueueEntry) -> None:
        self.journal.message_enqueued(queue, entry)

    def stream_first_offset(self, queue: Queue, offset: int) -> None:
        self.journal.stream_first_offset(queue, offset)

    def queue_deleted(self, queue: Queue) -> None:
        self.journal.queue_deleted(queue)

    def redelivered(self, values: list[tuple[int, int]]) -> None:
        self.journal.redelivered(values)


class Retired:
    """A message retention removed, as the store's change feed wants it."""

    __slots__ = ("entry",)

    storage: ClassVar[str] = "always"

    def __init__(self, entry: QueueEntry) -> None:
        self.entry = entry

    @property
    def seq(self) -> int:
        return self.entry.seq

    @property
    def message(self) -> Message:
        return self.entry.message


class Stored(Retired):
    """A stream message as the store's change feed records it: the entry with its
    write time in the ``deadline`` column (a stream's messages have no TTL), so a
    restart gives the log its times back."""

    __slots__ = ("deadline",)

    redelivered: ClassVar[bool] = False

    def __init__(self, entry: QueueEntry, written: float) -> None:
        super().__init__(entry)
        self.deadline = written

    @property
    def exchange(self) -> str:
        return self.entry.exchange

    @property
    def routing_key(self) -> str:
        return self.entry.routing_key

    @property
    def body(self) -> bytes:
        return self.entry.body

    @property
    def annotations(self) -> Annotations | None:
        return self.entry.annotations

    @property
    def properties(self) -> BasicProperties:
        return self.entry.message.properties
