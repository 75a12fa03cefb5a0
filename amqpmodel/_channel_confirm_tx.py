"""Publisher confirms and transactions on a channel (spec 8), and their wait for the store (spec 22)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._channel_base import Unacked, amqp_method, call_one
from ._errors import PreconditionFailed
from ._methods import BasicAck, BasicNack
from ._queue import Queue

if TYPE_CHECKING:
    from ._channel import Channel

__all__ = [
    "confirm_delivery",
    "_confirm",
    "_release_confirm",
    "_wait_for_store",
    "tx_select",
    "_require_tx",
    "tx_commit",
    "_after_commit",
    "tx_rollback",
]


@amqp_method(85, 10)
def confirm_delivery(self: Channel, ack_nack_callback: Callable[[Any], Any] | None = None) -> None:
    """Enter publisher-confirm mode (pika's name for confirm.select); may repeat (spec 8.1)."""
    if self._transactional:
        raise PreconditionFailed("cannot switch from tx to confirm mode")  # spec 8.7
    self._confirming = True
    if ack_nack_callback is not None:
        self._ack_nack_callback = ack_nack_callback


def _confirm(self: Channel, ack: bool) -> None:
    callback = self._ack_nack_callback
    if callback is None:
        return  # a blocking publish: _deliver_publish waits for the store itself
    journal = self._broker._journal
    if journal is not None and (self._held_confirms or journal.dirty):
        # spec 22.28: after the store's commit; later confirms of this channel wait
        # behind it, so that confirms stay in order (a multiple ack covers them all)
        self._held_confirms += 1
        journal.hold_confirm(self, self._publish_seq, ack)
        return
    method = (
        BasicAck(self._publish_seq, False) if ack else BasicNack(self._publish_seq, False, False)
    )
    self.connection._push((call_one, self, callback, method, None))


def _release_confirm(self: Channel, seq: int, ack: bool) -> None:
    """The store committed (or failed) the batch this confirm waited for."""
    self._held_confirms -= 1
    callback = self._ack_nack_callback
    if callback is not None and self._closed is None:
        method = BasicAck(seq, False) if ack else BasicNack(seq, False, False)
        self.connection._push((call_one, self, callback, method, None))


def _wait_for_store(self: Channel) -> bool:
    """A blocking confirmed publish or tx.commit: wait until what it wrote is
    committed (spec 22.28, 22.33); False when the write failed."""
    journal = self._broker._journal
    if journal is None or not journal.dirty:
        return True
    return journal.wait(journal.open_batch()) is None


@amqp_method(90, 10)
def tx_select(self: Channel) -> None:
    if self._confirming:
        raise PreconditionFailed("cannot switch from confirm to tx mode")  # spec 8.7
    self._transactional = True
    self._plain_publish = False  # transactional publishes wait for tx.commit (spec 8.8)


def _require_tx(self: Channel) -> None:
    if not self._transactional:
        raise PreconditionFailed("channel is not transactional")


@amqp_method(90, 20)
def tx_commit(self: Channel, on_committed: Callable[[], Any] | None = None) -> None:
    """tx.commit; returns once the transaction's persistent messages are stored
    (spec 22.33). A driver passes ``on_committed`` instead of waiting: it runs on
    this connection's next drain after the store's commit."""
    self._require_tx()
    publishes, self._tx_publishes = self._tx_publishes, []
    settles, self._tx_settles = self._tx_settles, []
    rejected = False
    for message, queues, mandatory, ttl_ms in publishes:
        # routed at publish, delivered by queue name at commit (a queue deleted
        # and declared again in between gets it, as on RabbitMQ)
        live: list[Queue] = []
        for queue in queues:
            current = queue if not queue._deleted else self._vhost.queues.get(queue.name)
            if current is not None:
                live.append(current)
        if live:
            rejected = self._enqueue(message, live, ttl_ms) or rejected
        else:
            if not self._vhost.was_held(message):  # held to route later: not lost (13.5)
                self._vhost.dropped["unroutable"] += 1
                if self._broker._losses is not None:
                    self._record_unroutable(message, mandatory)
            if mandatory:
                self._return(message)  # spec 8.8: returns come before commit-ok
    for action, records, _ in settles:
        self._apply_settles(records, action)
    if rejected:
        raise PreconditionFailed("partial tx completion")  # spec 5.6
    journal = self._broker._journal
    if on_committed is not None:
        if journal is not None and journal.dirty:
            journal.after_commit(self, on_committed)
        else:
            self.connection._push((_call_after_commit, self, on_committed, None, None))
    elif not self._wait_for_store():
        raise PreconditionFailed("partial tx completion: the store could not write")


def _after_commit(self: Channel, callback: Callable[[], Any], error: BaseException | None) -> None:
    """A tx.commit that waited for the store: reply, or close the channel if the
    write failed (nothing uncommitted is reported as committed)."""
    if self._closed is not None:
        return
    if error is None:
        self.connection._push((_call_after_commit, self, callback, None, None))
    else:
        failure = PreconditionFailed(
            f"partial tx completion: the store could not write ({error})", 90, 20
        )
        self._shutdown(failure.reply_code, failure.reply_text, failure)


@amqp_method(90, 30)
def tx_rollback(self: Channel) -> None:
    self._require_tx()
    self._tx_publishes.clear()
    restored: list[tuple[int, Unacked]] = []
    for _, records, _ in self._tx_settles:
        restored.extend(records)
    self._tx_settles.clear()
    if restored:
        merged = sorted([*self._unacked.items(), *restored])
        self._unacked.clear()
        self._unacked.update(merged)
        # restored with their delivery times (the marks kept them): the next
        # check looks at the oldest again (spec 0.8)
        if not self._ack_armed and any(self._record_can_time_out(r) for _, r in restored):
            self._arm_ack_check(self._now() + self._ACK_CHECK_INTERVAL)


def _call_after_commit(channel: Channel, callback: Callable[[], Any], _: Any, __: Any) -> None:
    callback()
