"""Settling deliveries on a channel (spec 7.11, 7.12): basic.ack, basic.nack, basic.reject, basic.recover."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._channel_base import Unacked, amqp_method
from ._dispatch import FULL, release
from ._errors import AMQPError, NotImplementedByBroker, PreconditionFailed
from ._queue import Queue
from ._timers import INFINITY
from ._validation import boolean, integer

if TYPE_CHECKING:
    from ._channel import Channel

__all__ = [
    "_collect",
    "_apply_settles",
    "_settle_tags",
    "_settle",
    "basic_ack",
    "basic_nack",
    "basic_reject",
    "basic_recover",
    "_requeue_all",
]


def _collect(self: Channel, delivery_tag: Any, multiple: Any) -> list[tuple[int, Unacked]]:
    tag = integer(delivery_tag, "delivery_tag", 64)
    multiple = boolean(multiple, "multiple")
    unacked = self._unacked
    if multiple:
        if tag == 0:
            collected = list(unacked.items())
            unacked.clear()
            return collected
        if tag not in unacked:
            raise PreconditionFailed(f"unknown delivery tag {tag}")
        tags: list[int] = []
        for outstanding in unacked:
            if outstanding > tag:
                break
            tags.append(outstanding)
        return [(t, unacked.pop(t)) for t in tags]
    record = unacked.pop(tag, None)
    if record is None:
        raise PreconditionFailed(f"unknown delivery tag {tag}")
    return [(tag, record)]


def _apply_settles(self: Channel, settles: list[tuple[int, Unacked]], action: str) -> None:
    """Settle the collected records, then let their queues dispatch.

    ``action``: "ack", "reject" (no requeue), or how the messages go back to
    their queues, which quorum queues count apart (spec 11.13, 11.15):
    "requeue" (basic.reject), "nack", "recover", "lost" (channel closed),
    "cancel" (deliveries a cancelled consumer's callback never ran for).
    """
    now = self._broker.clock.now() if action != "ack" else 0.0
    touched: dict[Queue, None] = {}
    for _, (entry, queue, consumer) in settles:
        if consumer is not None:
            consumer.unacked -= 1
            self._global_unacked -= 1
            if consumer._state == FULL:
                # room again (spec 7.5); a stream's consumer may read on here, before
                # the rest of the batch is settled (what reinstate returns is for
                # basic_ack's shortcut: the dispatch below runs anyway)
                queue._consumers.reinstate(consumer)
        if action == "ack":
            if queue._journal is not None:
                queue._journal.message_removed(entry)
            queue._unacked -= 1
            queue.stats.acked += 1
        elif action == "reject":
            queue._reject(entry, now)
        else:
            queue._requeue(entry, now, False, action)
        touched[queue] = None
    if action != "ack" and action != "reject":
        for queue in touched:
            queue._settle_after_requeue(now)  # spec 5.5: after the whole batch is back
    if self._global_prefetch:
        if self._held_by_prefetch and self._global_unacked < self._global_prefetch:
            release(self._held_by_prefetch)
        for consumer_queue in self._consumer_queues():
            touched[consumer_queue] = None
    for queue in touched:
        if queue._ready.count and queue._consumers:
            queue._dispatch()


def _settle_tags(self: Channel, tags: list[int], action: str) -> None:
    self._apply_settles(
        [(tag, self._unacked.pop(tag)) for tag in tags if tag in self._unacked], action
    )


def _settle(self: Channel, delivery_tag: Any, multiple: Any, action: str) -> None:
    settles = self._collect(delivery_tag, multiple)
    if self._transactional:
        self._tx_settles.append((action, settles, False))  # spec 8.8
    else:
        self._apply_settles(settles, action)


def basic_ack(self: Channel, delivery_tag: int = 0, multiple: bool = False) -> None:
    # acquire/release: a with-statement costs twice as much on this hot path
    self._lock.acquire()
    try:
        if self._closed is not None:
            self._enter()
        elif (due := self._timers.next_raw) != INFINITY and due <= self._raw_now():
            self._broker.tick()  # a timer is due: settle it first
        if (
            not multiple
            and not self._transactional
            and type(delivery_tag) is int
            and (record := self._unacked.pop(delivery_tag, None)) is not None
        ):
            # the hot path: one tag, no transaction
            entry, queue, consumer = record
            if queue._journal is not None:
                queue._journal.message_removed(entry)
            queue._unacked -= 1
            queue.stats.acked += 1
            if consumer is not None:
                consumer.unacked -= 1
                self._global_unacked -= 1
                if consumer._state == FULL and queue._consumers.reinstate(consumer):
                    return  # room again (spec 7.5), and a stream's consumer read on at once
                if self._global_prefetch:
                    self._apply_settles([], "ack")
                elif queue._ready.count and queue._consumers:
                    queue._dispatch()
            return
        try:
            self._settle(delivery_tag, multiple, "ack")
        except AMQPError as error:
            self._fail(error, 60, 80)
            raise
    finally:
        self._lock.release()


@amqp_method(60, 120)
def basic_nack(
    self: Channel, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
) -> None:
    self._settle(delivery_tag, multiple, "nack" if boolean(requeue, "requeue") else "reject")


@amqp_method(60, 90)
def basic_reject(self: Channel, delivery_tag: int, requeue: bool = True) -> None:
    self._settle(delivery_tag, False, "requeue" if boolean(requeue, "requeue") else "reject")


@amqp_method(60, 110)
def basic_recover(self: Channel, requeue: bool = True) -> None:
    if not boolean(requeue, "requeue"):
        raise NotImplementedByBroker("requeue=false")  # spec 7.12
    self._requeue_all("recover")


def _requeue_all(self: Channel, how: str) -> None:
    """Every unacked delivery back to its queue (basic.recover, or the channel closing)."""
    if self._unacked:
        settles = list(self._unacked.items())
        self._unacked.clear()
        self._apply_settles(settles, how)
