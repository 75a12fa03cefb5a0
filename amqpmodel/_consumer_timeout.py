"""RabbitMQ 4.3's per-consumer timeout of quorum queues (spec 11.32, 0.x.10).

Up to 4.2 the ack timeout is the channel's (``_channel_ack_timeout.py``); from 4.3
a quorum queue's consumer is timed on its own: the consumer argument
``x-consumer-timeout``, else the queue's (argument or policy, the lower), else the
broker's ``consumer_timeout``. When its oldest unacked delivery is older, the
consumer's unacked messages go back (a timeout counts as acquired only, 11.15)
and it is cancelled with basic.cancel if its client announced
``consumer_cancel_notify``, else its channel is closed with 406.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from ._arguments import is_int
from ._dispatch import REMOVED
from ._errors import PreconditionFailed

if TYPE_CHECKING:
    from ._consumer import Consumer
    from ._queue import Queue

__all__ = ["ConsumerTimeout", "watch_consumer"]


class ConsumerTimeout:
    """One consumer's deliveries in order, with the time of each, and its timer."""

    __slots__ = ("armed", "consumer", "deliveries", "seconds")

    def __init__(self, consumer: Consumer, seconds: float) -> None:
        self.consumer = consumer
        self.seconds = seconds
        self.deliveries: deque[tuple[int, float]] = deque()
        self.armed = False

    def delivered(self, tag: int, now: float) -> None:
        self.deliveries.append((tag, now))
        if not self.armed:
            self._arm(now + self.seconds)

    def _arm(self, when: float) -> None:
        self.armed = True
        self.consumer.channel._timers.schedule(when, self._check, coarse=True)

    def _check(self, deadline: float, now: float) -> None:
        self.armed = False
        consumer = self.consumer
        channel = consumer.channel
        if consumer._state == REMOVED or channel._closed is not None:
            return
        unacked = channel._unacked
        deliveries = self.deliveries
        while deliveries and deliveries[0][0] not in unacked:
            deliveries.popleft()  # settled meanwhile
        if not deliveries:
            return
        expires_at = deliveries[0][1] + self.seconds
        if now < expires_at:
            self._arm(expires_at)
            return
        self._expire()

    def _expire(self) -> None:
        consumer = self.consumer
        channel = consumer.channel
        mine = [(tag, record) for tag, record in channel._unacked.items() if record[2] is consumer]
        for tag, _ in mine:
            del channel._unacked[tag]
        self.deliveries.clear()
        notify = channel.connection.consumer_cancel_notify
        if notify:
            channel._broker_cancel(consumer)  # basic.cancel; out of the queue first
        else:
            channel._remove_consumer(consumer)
        channel._apply_settles(mine, "timeout")  # back to the queue, acquired only (11.15)
        if notify:
            return
        error = PreconditionFailed(
            f"delivery acknowledgement on channel {channel.channel_number} timed out. "
            "Timeout value used: -1 ms. This timeout value can be configured, see "
            "consumers doc guide to learn more",
            60,
            80,
        )
        channel._shutdown(error.reply_code, error.reply_text, error)


def watch_consumer(queue: Queue, consumer: Consumer) -> None:
    """Start timing a new manual-ack consumer of a 4.3 quorum queue, if a timeout applies."""
    if consumer.auto_ack:
        return
    own = consumer.arguments.get("x-consumer-timeout")
    timeout_ms: float | None = float(own) if is_int(own) else None
    if timeout_ms is None:
        timeout_ms = queue._args.consumer_timeout_ms
    if timeout_ms is None:
        broker_timeout = queue._vhost._broker.consumer_timeout
        timeout_ms = None if broker_timeout is None else broker_timeout * 1000
    if timeout_ms is None or math.isinf(timeout_ms):
        return
    consumer.timeout_watch = ConsumerTimeout(consumer, timeout_ms / 1000)
