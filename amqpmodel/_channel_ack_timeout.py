"""The consumer ack timeout of a channel (spec 0.8): when its oldest unacked delivery is too old.

The check interval is the class attribute ``Channel._ACK_CHECK_INTERVAL``, read
through ``self`` so that it can be changed on the class or on one channel.
"""

from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING

from ._channel_base import Unacked
from ._errors import PreconditionFailed
from ._queue import Queue
from ._timers import INFINITY

if TYPE_CHECKING:
    from ._channel import Channel

__all__ = [
    "_ack_timeout_ms",
    "_record_can_time_out",
    "_any_can_time_out",
    "_held_tags",
    "_watch_acks",
    "_arm_ack_check",
    "_check_acks",
]


def _ack_timeout_ms(self: Channel, queue: Queue) -> float:
    """How long a delivery from ``queue`` may stay unacked, in ms (infinite: no limit).

    The ``x-consumer-timeout`` of the queue now under that name if it has
    one, else the broker's ``consumer_timeout`` (spec 0.8; RabbitMQ
    3.12-4.2 look the queue up by name at each check, so a deleted queue's
    deliveries fall back to the broker's timeout).

    RabbitMQ 4.3 has no channel-level timeout: classic queues and streams never
    time out, quorum queues time out per consumer (spec 0.x.10, 11.32, 12.24).
    """
    if not self._broker.rabbitmq_version.channel_consumer_timeout:
        return INFINITY
    current = self._vhost.queues.get(queue.name)
    own = current._args.consumer_timeout_ms if current is not None else None
    if own is not None:
        return own
    timeout = self._broker.consumer_timeout
    return INFINITY if timeout is None else timeout * 1000


def _record_can_time_out(self: Channel, record: Unacked) -> bool:
    return self._ack_timeout_ms(record[1]) != INFINITY


def _any_can_time_out(self: Channel) -> bool:
    """Whether an unacked delivery can time out; remembers the one found, for next time."""
    unacked = self._unacked
    hint = self._ack_hint
    if hint in unacked and self._record_can_time_out(unacked[hint]):
        return True
    for tag, record in unacked.items():
        if self._record_can_time_out(record):
            self._ack_hint = tag
            return True
    return False


def _held_tags(self: Channel) -> list[int]:
    """Tags acked inside the open transaction that can time out once a rollback restores them."""
    return [
        tag
        for _, records, _ in self._tx_settles
        for tag, record in records
        if self._record_can_time_out(record)
    ]


def _watch_acks(self: Channel, tag: int) -> None:
    """An unacked delivery while no check is due: arm one if this delivery can time out.

    No check due means no unacked delivery on the channel can time out, so
    only this one needs looking at.
    """
    timeout = self._ack_timeout_ms(self._unacked[tag][1])
    if timeout == INFINITY:
        return  # the next delivery looks again
    now = self._now()
    marks = self._ack_marks
    if not marks or marks[-1][0] < tag:
        marks.append((tag, now))
    self._arm_ack_check(now + max(min(self._ACK_CHECK_INTERVAL, timeout / 1000), 0.001))


def _arm_ack_check(self: Channel, when: float) -> None:
    self._ack_armed = True
    # held weakly: a channel closed meanwhile (with its connection, its server, a
    # drop-in's whole client) must not stay reachable until the check comes due
    channel = weakref.ref(self)

    def check(deadline: float, now: float) -> None:
        alive = channel()
        if alive is not None:
            alive._check_acks(deadline, now)

    self._timers.schedule(when, check, coarse=True)


def _check_acks(self: Channel, deadline: float, now: float) -> None:
    """Timer: close the channel with 406 when its oldest unacked delivery is too old.

    As RabbitMQ, only the oldest delivery is looked at, with its own
    queue's timeout. Acks held in a transaction are not unacked, but a
    rollback brings them back with their delivery times, so the marks that
    date them are kept.
    """
    self._ack_armed = False
    marks = self._ack_marks
    if self._closed is not None:
        marks.clear()
        return
    held = self._held_tags() if self._tx_settles else []
    oldest = next(iter(self._unacked), None)
    timeout = INFINITY if oldest is None else self._ack_timeout_ms(self._unacked[oldest][1])
    if timeout == INFINITY and not self._any_can_time_out():
        if not held:
            marks.clear()  # nothing can time out, not even after a rollback
        return  # no check until a delivery or a rollback can time out again
    assert oldest is not None
    floor = min(oldest, *held) if held else oldest
    while len(marks) > 1 and marks[0][0] < floor and marks[1][0] <= floor:
        del marks[0]  # marks before the oldest delivery that matters no longer matter
    delivered_by = next((t for tag, t in marks if tag >= oldest), now)
    expires_at = delivered_by + timeout / 1000  # infinite for a delivery without a limit
    if now >= expires_at:
        marks.clear()
        error = PreconditionFailed(
            f"delivery acknowledgement on channel {self.channel_number} timed out. "
            f"Timeout value used: {round(timeout)} ms. This timeout value can be "
            "configured, see consumers doc guide to learn more",
            60,
            80,
        )
        self._shutdown(error.reply_code, error.reply_text, error)
        return
    if not marks or self._delivery_tag > marks[-1][0]:
        marks.append((self._delivery_tag, now))
    # strictly later than now: the same instant would fire again at once
    next_check = max(min(now + self._ACK_CHECK_INTERVAL, expires_at), math.nextafter(now, INFINITY))
    self._arm_ack_check(next_check)
