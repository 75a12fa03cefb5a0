"""A queue's consumers and counters: ``Consumer`` (one basic.consume, its prefetch
room) and ``QueueStats`` (where every message routed to the queue went).

Kept apart from ``_queue.py`` (the queue's contents and their life cycle):
channels and views read these without needing the queue's machinery.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._channel import Channel
    from ._consumer_timeout import ConsumerTimeout
    from ._dispatch import Waitlist
    from ._queue import Queue

__all__ = ["Consumer", "QueueStats"]


@attrs.define(slots=True)
class QueueStats:
    """Where every message routed to a queue went.

    Identity (checked by ``Queue._check``): ``enqueued == acked + ready +
    unacked + dead_lettered + sum(dropped.values())``. Drop reasons: "expired",
    "maxlen", "rejected", "purged", "overflow", "deleted", "expired_queue".
    """

    enqueued: int = 0
    delivered: int = 0
    acked: int = 0
    dead_lettered: int = 0
    dropped: Counter[str] = attrs.field(factory=Counter)


class Consumer:
    """A basic.consume subscription on one queue from one channel.

    ``_rank``, ``_position``, ``_state`` and ``_waitlist`` are its place in its
    queue's dispatch order (see ``_dispatch.py``); ``_channel_seq`` orders it
    among its channel's consumers.
    """

    __slots__ = (
        "_channel_seq",
        "_position",
        "_rank",
        "_state",
        "_waitlist",
        "arguments",
        "auto_ack",
        "callback",
        "channel",
        "exclusive",
        "on_cancel",
        "prefetch",
        "priority",
        "queue",
        "registered",
        "tag",
        "timeout_watch",
        "unacked",
    )

    def __init__(
        self,
        tag: str,
        channel: Channel,
        queue: Queue,
        callback: Callable[..., Any],
        *,
        auto_ack: bool,
        exclusive: bool,
        priority: int,
        prefetch: int,
        on_cancel: Callable[..., Any] | None,
        registered: int,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self.tag = tag
        self.channel = channel
        self.queue = queue
        self.callback = callback
        self.auto_ack = auto_ack
        self.exclusive = exclusive
        self.priority = priority
        self.prefetch = prefetch
        self.on_cancel = on_cancel
        self.registered = registered
        self.arguments = arguments if arguments is not None else {}
        self.unacked = 0
        self._rank = -priority
        self._position = 0
        self._state = 0  # SINGLE until its queue places it
        self._waitlist: Waitlist | None = None
        self._channel_seq = 0
        # 4.3's per-consumer timeout of quorum queues (see _consumer_timeout.py); None: none
        self.timeout_watch: ConsumerTimeout | None = None

    def __lt__(self, other: object) -> bool:
        return False  # heap entries tie only on out-of-date ones; either may come first

    def has_room(self) -> bool:
        # ``channel._paused``: its connection cannot take more now (the server's flow
        # control); a consumer with a prefetch limit is bounded by that limit anyway
        if self.auto_ack:
            return not self.channel._paused  # spec 7.5: no_ack consumers ignore prefetch
        if self.prefetch:
            if self.unacked >= self.prefetch:
                return False
        elif self.channel._paused:
            return False
        channel = self.channel
        return not channel._global_prefetch or channel._global_unacked < channel._global_prefetch

    def __repr__(self) -> str:
        return f"<Consumer {self.tag!r} on {self.queue.name!r} unacked={self.unacked}>"
