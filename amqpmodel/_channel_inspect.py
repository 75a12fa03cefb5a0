"""Read-only inspection of a channel: the deliveries it holds unacknowledged and its consumers.

Views (``amqpmodel.views``, Jupyter) and drivers (a management API's queue
page) show which messages a consumer holds and for whom; these functions
read that without changing anything, under the broker lock. Bound into
``Channel`` as public methods, as the other ``_channel_*`` parts are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from ._channel import Channel
    from ._consumer import Consumer
    from ._properties import Message
    from ._queue import Queue

__all__ = ["UnackedMessage", "channel_consumers", "unacked_messages"]


@attrs.frozen(slots=True)
class UnackedMessage:
    """A delivery a channel holds, awaiting basic.ack, nack or reject (spec 7.11).

    ``consumer_tag`` is None for a message fetched with basic.get. ``settling``
    names the settle ("ack", "nack", "reject") made inside a transaction not
    committed yet: until the commit the message stays unacknowledged for its
    queue (spec 8.8). ``message`` is the queued message itself: read it, never
    change it.
    """

    delivery_tag: int
    queue: str
    consumer_tag: str | None
    redelivered: bool
    message: Message
    settling: str | None = None


def unacked_messages(self: Channel, queue: Queue | None = None) -> list[UnackedMessage]:
    """The deliveries this channel holds unacknowledged, by delivery tag; only those
    of ``queue`` when given. A snapshot: changes nothing, costs O(unacked)."""
    with self._lock:
        found = [
            UnackedMessage(
                tag,
                record[1].name,
                record[2].tag if record[2] is not None else None,
                record[0].redelivered,
                record[0].message,
            )
            for tag, record in self._unacked.items()
            if queue is None or record[1] is queue
        ]
        for action, records, _ in self._tx_settles:
            found.extend(
                UnackedMessage(
                    tag,
                    record[1].name,
                    record[2].tag if record[2] is not None else None,
                    record[0].redelivered,
                    record[0].message,
                    action,
                )
                for tag, record in records
                if queue is None or record[1] is queue
            )
    found.sort(key=lambda unacked: unacked.delivery_tag)
    return found


def channel_consumers(self: Channel) -> list[Consumer]:
    """This channel's consumers, in the order they were registered."""
    with self._lock:
        return list(self._consumers.values())
