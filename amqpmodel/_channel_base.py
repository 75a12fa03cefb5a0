"""What the parts of ``Channel`` share: the AMQP-method wrapper (spec 9), the unacked record, ``call_one``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from ._errors import AMQPError
from ._queue import Consumer, Queue
from ._ready import QueueEntry

if TYPE_CHECKING:
    from ._channel import Channel

__all__ = ["Unacked", "amqp_method", "call_one"]

P = ParamSpec("P")
R = TypeVar("R")

# (entry, queue, consumer or None for basic.get): what an unacked delivery tag refers to
Unacked = tuple[QueueEntry, Queue, "Consumer | None"]


def amqp_method(
    class_id: int, method_id: int
) -> Callable[[Callable[Concatenate[Channel, P], R]], Callable[Concatenate[Channel, P], R]]:
    """Run a channel method under the broker lock, turning refusals into closes (spec 9)."""

    def decorate(
        method: Callable[Concatenate[Channel, P], R],
    ) -> Callable[Concatenate[Channel, P], R]:
        @functools.wraps(method)
        def wrapper(self: Channel, /, *args: P.args, **kwargs: P.kwargs) -> R:
            # acquire/release: a with-statement costs twice as much on this hot path
            self._lock.acquire()
            try:
                self._enter()
                try:
                    return method(self, *args, **kwargs)
                except AMQPError as error:
                    self._fail(error, class_id, method_id)
                    raise
            finally:
                self._lock.release()

        return wrapper

    return decorate


def call_one(channel: Channel, callback: Callable[[Any], Any], argument: Any, _: Any) -> None:
    callback(argument)
