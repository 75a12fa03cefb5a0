"""Read-only inspection of a queue: its counts, consumers, ready messages and how it
prints (in a shell and in Jupyter). Bound into ``Queue`` as properties and methods,
as ``_channel_inspect.py`` is into ``Channel``; the queue types override some."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._consumer import Consumer
    from ._properties import Message
    from ._queue import Queue

__all__ = [
    "consumer_count",
    "consumers",
    "declare_ok_consumers",
    "exclusive",
    "is_deleted",
    "message_bytes_ready",
    "messages",
    "messages_persistent",
    "messages_ready",
    "messages_unacknowledged",
    "peek",
    "queue_repr",
    "queue_repr_html",
    "single_active_consumer",
]


def exclusive(self: Queue) -> bool:
    return self.owner is not None


def messages_ready(self: Queue) -> int:
    return self._ready.count


def messages_unacknowledged(self: Queue) -> int:
    return self._unacked


def messages(self: Queue) -> int:
    return self._ready.count + self._unacked


def message_bytes_ready(self: Queue) -> int:
    return self._ready_bytes


def messages_persistent(self: Queue) -> int:
    """Persistent messages (delivery_mode 2), ready or unacknowledged: the ones a
    restart keeps when the queue is durable and the broker has a data dir (spec 22.4)."""
    count = sum(1 for entry in self._ready if entry.properties.delivery_mode == 2)
    for channel in self._vhost._channels():
        count += sum(
            1
            for entry, queue, _ in channel._unacked.values()
            if queue is self and entry.properties.delivery_mode == 2
        )
    return count


def consumer_count(self: Queue) -> int:
    return len(self._consumers)


def declare_ok_consumers(self: Queue) -> int:
    """declare-ok's consumer_count (spec 2.6; a stream says 0, 12.18)."""
    return len(self._consumers)


def consumers(self: Queue) -> list[Consumer]:
    return list(self._consumers)


def single_active_consumer(self: Queue) -> Consumer | None:
    """The consumer that receives messages when x-single-active-consumer is set."""
    if self._args.single_active_consumer and self._consumers:
        return self._active_consumer()
    return None


def is_deleted(self: Queue) -> bool:
    return self._deleted


def peek(self: Queue) -> list[Message]:
    """Ready messages in the order they would be delivered; changes nothing."""
    return [entry.message for entry in self._ready]


def queue_repr(self: Queue) -> str:
    # persistent messages matter only where a restart can keep them (spec 22.4)
    persistent = f" persistent={self.messages_persistent}" if self.durable else ""
    return (
        f"<Queue {self.name!r} ready={self.messages_ready} "
        f"unacked={self._unacked}{persistent} consumers={len(self._consumers)}>"
    )


def queue_repr_html(self: Queue) -> str:
    from ._inspect import queue_html

    return queue_html(self)
