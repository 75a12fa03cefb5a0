"""The invariants of a queue's accounting, asserted by tests (``Queue._check``).

Every message routed to a queue is acked, ready, unacked, dead-lettered,
dropped for a counted reason, or held by the queue type (a quorum queue's
pending dead-letters); consumers never hold more than their prefetch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._queue import Queue

__all__ = ["check_queue"]


def check_queue(queue: Queue) -> None:
    """Assert a classic or quorum queue's invariants (a stream has its own)."""
    entries = list(queue._ready)
    assert len(entries) == len(queue._ready), "ready count disagrees with ready entries"
    assert sum(len(e.body) for e in entries) == queue._ready_bytes, "ready bytes disagree"
    unacked = 0
    for channel in queue._vhost._channels():
        unacked += sum(1 for record in channel._unacked.values() if record[1] is queue)
        # settled inside an uncommitted transaction: still unacked for the queue (spec 8.8)
        unacked += sum(
            1 for _, records, _ in channel._tx_settles for _, r in records if r[1] is queue
        )
    assert unacked == queue._unacked, f"unacked {queue._unacked} but channels hold {unacked}"
    stats = queue.stats
    total = (
        stats.acked
        + len(queue._ready)
        + queue._unacked
        + stats.dead_lettered
        + sum(stats.dropped.values())
        + queue._messages_held()
    )
    assert stats.enqueued == total, f"accounting: enqueued {stats.enqueued} != {total} ({stats})"
    for consumer in queue._consumers.keys():
        if consumer.prefetch and not consumer.auto_ack:
            assert consumer.unacked <= consumer.prefetch, "consumer over its prefetch"
    queue._consumers._check()
