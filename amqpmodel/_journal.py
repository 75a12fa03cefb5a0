"""The durable-state change feed: what a store must write, in batches, and the confirms that wait for it.

The core stays free of I/O (DESIGN.md): it only *records* here what changed
in the state RabbitMQ keeps across a restart (spec 22.1-22.4): virtual hosts,
users, durable exchanges, durable queues, bindings between durable
entities, and persistent messages in durable queues. A store driver takes
the recorded changes a batch at a time (``take``), writes them, and reports
back (``committed`` or ``failed``); publisher confirms and transaction
commits that depend on a batch are released only then (spec 22.28, 22.33).

Everything arriving while the driver writes one batch gathers in the next,
so the cost of a commit is paid per batch, not per message; a message acked
before its batch was taken is never written at all.

Entity changes (``Batch.ops``) are plain tuples, in the order they happened:

=====================================================  ==========================================
``("vhost", name)`` / ``("vhost-", name)``             a virtual host added / deleted (and all in it)
``("user", name, password_hash, tags)``                a user added or changed
``("user-", name)``                                    a user deleted
``("exchange", vhost, name, type, auto_delete,         a durable exchange declared
internal, arguments)``
``("exchange-", vhost, name)``                         it was deleted (with its bindings)
``("queue", queue_id, vhost, name, auto_delete,        a durable queue declared
arguments)``
``("queue-", queue_id, vhost, name)``                  it was deleted (with its messages and bindings)
``("binding", vhost, source, destination_type,         a binding between durable entities added
destination, routing_key, arguments)``
``("binding-", ...the same...)``                       it was removed
``("redelivered", [(seq, value), ...])``               these were delivered (22.17): the stored
                                                       ``redelivered`` value (1; a quorum
                                                       message's counters, 22.19, as it
                                                       returns)
``("delayed", seq, vhost, exchange, due_ms, delay,     a message an x-delayed-message exchange holds,
message, routing_keys)``                               whatever its delivery mode (spec 13.10)
``("delayed-", [seq, ...])``                           these were released when due (13.7)
``("delayed-exchange-", vhost, exchange)``             the exchange was deleted: what it held goes
``("stream-first", queue_id, offset)``                 a stream's retention moved its first offset
``("access", kind, key, value)``                       a permission, topic permission or vhost limit
                                                       set (value None: cleared)
``("policy", operator, vhost, name, as_dict)``         a policy (or operator policy) set
``("policy-", operator, vhost, name)``                 it was cleared
=====================================================  ==========================================

Messages: ``Batch.inserts`` maps an entry's ``seq`` (unique in the broker,
its enqueue order, spec 2.12) to ``(queue_id, entry)``; ``Batch.deletes``
lists the ``seq`` of entries that left their queue (acked, expired,
dropped, dead-lettered, purged) and were written by an earlier batch.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ._broker import Broker
    from ._channel import Channel
    from ._exchange import Binding, Exchange
    from ._policies import Policy
    from ._properties import Message
    from ._queue import Queue
    from ._ready import QueueEntry

__all__ = ["Batch", "Journal", "QueueJournal"]

PERSISTENT = 2  # delivery_mode of a persistent message (spec 22.4)


class QueueJournal(Protocol):
    """What a queue records in the journal: a ``Journal``, or a queue type's view of
    it (a stream's ``LogJournal``), set by ``Queue._use_journal``."""

    def message_enqueued(self, queue: Queue, entry: QueueEntry) -> None: ...

    def message_removed(self, entry: QueueEntry) -> None: ...

    def stream_first_offset(self, queue: Queue, offset: int) -> None: ...

    def queue_deleted(self, queue: Queue) -> None: ...

    def redelivered(self, values: list[tuple[int, int]]) -> None: ...


class Batch:
    """One group of changes, written and committed together by a store."""

    __slots__ = ("after", "confirms", "deletes", "done", "error", "inserts", "number", "ops")

    def __init__(self, number: int) -> None:
        self.number = number
        self.ops: list[tuple[Any, ...]] = []
        self.inserts: dict[int, tuple[int, QueueEntry]] = {}
        self.deletes: list[int] = []
        # confirms released when this batch is committed: (channel, publish seq no, ack)
        self.confirms: list[tuple[Channel, int, bool]] = []
        # (channel, callback) run on its connection once this batch is committed: the
        # replies that wait for it (tx.commit-ok over the wire)
        self.after: list[tuple[Channel, Callable[[], Any]]] = []
        self.done = False
        self.error: BaseException | None = None

    def __bool__(self) -> bool:
        return bool(self.ops or self.inserts or self.deletes or self.confirms or self.after)

    def __repr__(self) -> str:
        return (
            f"<Batch #{self.number} ops={len(self.ops)} inserts={len(self.inserts)} "
            f"deletes={len(self.deletes)} confirms={len(self.confirms)}>"
        )


class Journal:
    """Records durable-state changes for a store; see the module docstring.

    The core calls the recording methods under the broker lock; a store calls
    ``take``, ``committed`` and ``failed`` (each takes the lock itself) from
    its writer thread.
    """

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._open = Batch(1)
        self._wakeup: Callable[[], None] | None = None
        # something was recorded since the last take (the open batch may have become
        # empty again: an insert cancelled by its ack); one check per record
        self._dirty = False
        self._queue_ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"<Journal open={self._open!r}>"

    # ----------------------------------------------------------------- for the store

    def set_wakeup(self, wakeup: Callable[[], None] | None) -> None:
        """``wakeup()`` is called (under the broker lock, so it must not block) when the
        open batch goes from empty to not empty."""
        self._wakeup = wakeup

    @property
    def dirty(self) -> bool:
        """Whether anything was recorded since the store last took a batch."""
        return self._dirty

    def _mark(self) -> None:
        if not self._dirty:
            self._dirty = True
            if self._wakeup is not None:
                self._wakeup()

    def take(self) -> Batch | None:
        """The open batch, for writing (a new one opens); None when it is empty."""
        with self._broker._lock:
            self._dirty = False
            batch = self._open
            if not batch:
                return None
            self._open = Batch(batch.number + 1)
            return batch

    def committed(self, batch: Batch) -> None:
        """``batch`` is written and committed: release its confirms and waiters."""
        with self._broker._lock:
            batch.done = True
            for channel, seq, ack in batch.confirms:
                channel._release_confirm(seq, ack)
            for channel, callback in batch.after:
                channel._after_commit(callback, None)
            self._broker._condition.notify_all()

    def failed(self, batch: Batch, error: BaseException) -> None:
        """Writing ``batch`` failed: nack its confirms (spec 8.3), fail its waiters, and
        keep its changes for the next batch, so that a store that recovers (space
        freed) writes them after all."""
        with self._broker._lock:
            batch.done = True
            batch.error = error
            for channel, seq, _ in batch.confirms:
                channel._release_confirm(seq, False)
            for channel, callback in batch.after:
                channel._after_commit(callback, error)
            batch.confirms = []
            batch.after = []
            current = self._open
            current.ops[:0] = batch.ops
            inserts = batch.inserts
            inserts.update(current.inserts)
            current.inserts = inserts
            current.deletes[:0] = batch.deletes
            if current:
                self._mark()
            self._broker._condition.notify_all()

    def flush(self) -> BaseException | None:
        """Block until everything recorded so far is committed (or failed: returned)."""
        with self._broker._lock:
            return self.wait(self._open)

    def adopt(self, queue: Queue, queue_id: int) -> None:
        """A queue restored from the store (see ``amqpmodel.driver.restore_queue``)."""
        queue._use_journal(self)
        queue._journal_id = queue_id
        ids = self._queue_ids
        self._queue_ids = itertools.count(max(queue_id + 1, next(ids)))

    # ----------------------------------------------------------------- recording (core, under the lock)

    def _record(self, op: tuple[Any, ...]) -> None:
        self._open.ops.append(op)
        self._mark()

    def vhost_added(self, name: str) -> None:
        self._record(("vhost", name))

    def vhost_deleted(self, name: str) -> None:
        self._record(("vhost-", name))

    def user_set(self, name: str, password_hash: str, tags: tuple[str, ...]) -> None:
        self._record(("user", name, password_hash, tags))

    def user_deleted(self, name: str) -> None:
        self._record(("user-", name))

    def exchange_declared(self, exchange: Exchange) -> None:
        self._record(
            (
                "exchange",
                exchange.vhost_name,
                exchange.name,
                exchange.type,
                exchange.auto_delete,
                exchange.internal,
                exchange.arguments,
            )
        )

    def exchange_deleted(self, exchange: Exchange) -> None:
        self._record(("exchange-", exchange.vhost_name, exchange.name))

    def queue_declared(self, queue: Queue) -> None:
        """A durable queue: from now on its persistent messages are recorded."""
        queue_id = next(self._queue_ids)
        queue._use_journal(self)
        queue._journal_id = queue_id
        self._record(
            ("queue", queue_id, queue.vhost_name, queue.name, queue.auto_delete, queue.arguments)
        )

    def queue_deleted(self, queue: Queue) -> None:
        self._record(("queue-", queue._journal_id, queue.vhost_name, queue.name))
        queue._use_journal(None)

    def binding_changed(self, vhost: str, binding: Binding, added: bool) -> None:
        self._record(
            (
                "binding" if added else "binding-",
                vhost,
                binding.source,
                binding.destination_type,
                binding.destination,
                binding.routing_key,
                binding.arguments,
            )
        )

    def redelivered(self, values: list[tuple[int, int]]) -> None:
        """Stored messages were delivered: (seq, the ``redelivered`` value to store)."""
        self._record(("redelivered", values))

    def delayed_held(
        self,
        exchange: Exchange,
        seq: int,
        due_ms: int,
        delay: int,
        message: Message,
        routing_keys: tuple[str, ...],
    ) -> None:
        """A delayed exchange took a message (stored whatever its delivery mode and the
        exchange's durability, spec 13.10; recovery keeps those of durable exchanges)."""
        self._record(
            (
                "delayed",
                seq,
                exchange.vhost_name,
                exchange.name,
                due_ms,
                delay,
                message,
                routing_keys,
            )
        )

    def delayed_released(self, seqs: list[int]) -> None:
        self._record(("delayed-", seqs))

    def delayed_exchange_deleted(self, exchange: Exchange) -> None:
        self._record(("delayed-exchange-", exchange.vhost_name, exchange.name))

    def access_changed(
        self, kind: str, key: tuple[str, ...], value: dict[str, Any] | None
    ) -> None:
        """A permission ("permission", key (user, vhost)), topic permission ("topic",
        (user, vhost, exchange)), vhost limit ("vhost-limits", (vhost,)) or user limit
        ("user-limits", (user,)) set to ``value``, or cleared (None) (spec 15, 22)."""
        self._record(("access", kind, key, value))

    def policy_changed(self, policy: Policy, operator: bool, present: bool) -> None:
        """A policy or operator policy set (``present``) or cleared (spec 14, 22)."""
        if present:
            self._record(("policy", operator, policy.vhost, policy.name, policy.as_dict()))
        else:
            self._record(("policy-", operator, policy.vhost, policy.name))

    def stream_first_offset(self, queue: Queue, offset: int) -> None:
        """Retention removed a stream's oldest messages: the offset of the first one
        kept, so that offsets are never reused after a restart (spec 12.17)."""
        self._record(("stream-first", queue._journal_id, offset))

    def message_enqueued(self, queue: Queue, entry: QueueEntry) -> None:
        """A message entered a durable queue (the caller checked it is to be stored:
        persistent, or in a queue type that stores every message)."""
        self._open.inserts[entry.seq] = (queue._journal_id, entry)
        if not self._dirty:
            self._mark()

    def message_removed(self, entry: QueueEntry) -> None:
        """An entry of a durable queue left it for good (acked, dropped, dead-lettered...)."""
        storage = entry.storage
        if storage != "always" and (
            storage != "persistent" or entry.message.properties.delivery_mode != PERSISTENT
        ):
            return  # transient: never stored
        batch = self._open
        if batch.inserts.pop(entry.seq, None) is None:
            batch.deletes.append(entry.seq)
            if not self._dirty:
                self._mark()

    def hold_confirm(self, channel: Channel, seq: int, ack: bool) -> None:
        """Release the confirm of publish ``seq`` on ``channel`` when the open batch is
        committed (or nack it if that fails)."""
        self._open.confirms.append((channel, seq, ack))
        self._mark()

    def after_commit(self, channel: Channel, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` on ``channel``'s connection once the open batch is committed
        (the channel is closed instead if that fails)."""
        self._open.after.append((channel, callback))
        self._mark()

    def sync_entities(self) -> None:
        """Wait (under the broker lock) until recorded entity changes are committed: a
        declare, delete or bind of a durable entity is answered once it is stored, as
        RabbitMQ's metadata store does. Messages never wait here."""
        if self._open.ops and self._wakeup is not None:
            self.wait(self._open)

    def open_batch(self) -> Batch:
        """The batch that changes recorded now will be committed in (to wait for it)."""
        return self._open

    def wait(self, batch: Batch) -> BaseException | None:
        """Block (under the broker lock, which waiting releases) until ``batch`` is
        committed or failed; returns the failure, if any."""
        if not batch and batch is self._open:
            return None
        broker = self._broker
        broker._waiters += 1
        try:
            while not batch.done:
                broker._condition.wait(1.0)
        finally:
            broker._waiters -= 1
        return batch.error
