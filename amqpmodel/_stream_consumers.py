"""A stream's consumers: each one's place in the log and filter (spec 12.11, 12.20), and
the credit a settle gives back (12.15), which reads on at once in the usual case."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._arguments import text
from ._dispatch import FULL
from ._ready import QueueEntry

if TYPE_CHECKING:
    from ._consumer import Consumer
    from ._queue_stream import StreamQueue

__all__ = ["Reader", "StreamConsumers", "filter_values", "matches"]


class Reader:
    """A consumer's place in the stream and its filter (12.11, 12.20), with what a
    delivery to it needs, looked up once when it subscribes (see ``StreamQueue._read``)."""

    __slots__ = (
        "callback",
        "channel",
        "filters",
        "match_unfiltered",
        "offset",
        "private",
        "push",
        "tag",
        "unacked",
    )

    def __init__(
        self,
        consumer: Consumer,
        offset: int,
        filters: frozenset[str] | None,
        match_unfiltered: bool,
    ) -> None:
        self.offset = offset
        self.filters = filters
        self.match_unfiltered = match_unfiltered
        channel = consumer.channel
        self.channel = channel
        self.unacked = channel._unacked
        self.push = channel.connection._push
        # an in-process connection hands each delivery its own properties, filled as
        # the handler reads them; the socket server encodes them at once, so its
        # readers share them (a bounded cache: see StreamQueue._shared_properties)
        self.private = channel.connection._private_properties
        self.callback = consumer.callback
        self.tag = consumer.tag


class StreamConsumers(dict["Consumer", None]):
    """A stream's consumers; ``active`` are those with credit that may have more to read.

    The settle path gives credit back with ``reinstate`` (as for a classic
    queue's consumers, see ``_dispatch.py``); a consumer that used up its
    credit or read to the end leaves ``active`` until credit or a new message.
    """

    __slots__ = ("active", "exclusive", "queue", "readers", "single")

    def __init__(self, queue: StreamQueue) -> None:
        super().__init__()
        self.queue = queue
        self.active: dict[Consumer, None] = {}
        self.readers: dict[Consumer, Reader] = {}
        self.exclusive = 0
        self.single: Consumer | None = None  # no fast path: every consumer reads every message

    def first(self) -> Consumer:
        return next(iter(self))

    def add(self, consumer: Consumer) -> None:
        self[consumer] = None
        self.active[consumer] = None

    def remove(self, consumer: Consumer) -> bool:
        if consumer not in self:
            return False
        del self[consumer]
        self.active.pop(consumer, None)
        self.readers.pop(consumer, None)
        return True

    def clear(self) -> None:
        super().clear()
        self.active.clear()
        self.readers.clear()

    def reinstate(self, consumer: Consumer) -> bool:
        """A settle gave ``consumer`` credit back (12.15): it reads on.

        The usual case, one credit and an unfiltered reader with the next
        message there, is delivered here at once, and True tells the ack path
        that nothing is left to dispatch: a stream's ack costs that one
        delivery, with no dispatch round. Otherwise the consumer waits in
        ``active`` for ``StreamQueue._dispatch``.
        """
        reader = self.readers.get(consumer)
        if reader is None:
            return False  # cancelled: its channel's closing settles what it had
        consumer._state = 0
        log = self.queue._ready
        offset = reader.offset
        index = offset - log.first_offset
        if (
            consumer.unacked + 1 == consumer.prefetch
            and reader.filters is None
            and not reader.channel._global_prefetch
            and 0 <= index < log.count
        ):
            self.queue._deliver_at(consumer, reader, offset, log.entries[index])
            reader.offset = offset + 1
            consumer._state = FULL
            return True
        self.active[consumer] = None
        return False

    def next(self) -> Consumer | None:
        return None  # a stream has no "next consumer": see StreamQueue._dispatch

    def _check(self) -> None:
        assert set(self.readers) == set(self), "a consumer without a reader"


def filter_values(value: Any) -> frozenset[str] | None:
    """``x-stream-filter``: a longstr, or an array whose longstr elements count (12.20)."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return frozenset(text(v) for v in value if isinstance(text(v), str))
    shown = text(value)
    return frozenset((shown,)) if isinstance(shown, str) else None


def matches(reader: Reader, entry: QueueEntry) -> bool:
    headers = entry.message.properties.headers
    value = text(headers.get("x-stream-filter-value")) if headers else None
    if value is None or not isinstance(value, str):
        return reader.match_unfiltered
    assert reader.filters is not None
    return value in reader.filters
