"""The queue class of each queue type (spec 11, 12): what queue.declare and a store's
recovery create for an ``x-queue-type``."""

from __future__ import annotations

from ._queue import Queue
from ._queue_quorum import QuorumQueue
from ._queue_stream import StreamQueue

__all__ = ["queue_class"]

_CLASSES: dict[str, type[Queue]] = {
    "classic": Queue,
    "quorum": QuorumQueue,
    "stream": StreamQueue,
}


def queue_class(queue_type: str) -> type[Queue]:
    """The class for a validated queue type name."""
    return _CLASSES[queue_type]
