"""Queues: ready messages, TTL at the head, length limits, dispatch to consumers, expiry.

``Consumer`` and ``QueueStats`` live in ``_consumer.py`` and are re-exported here.

A queue never calls user code: delivering a message means assigning it a
delivery tag on the consumer's channel and appending it to that connection's
pending events (DESIGN.md, "How a message flows").
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import _queue_inspect
from ._arguments import QueueArguments
from ._consumer import Consumer, QueueStats
from ._dispatch import ConsumerSet, RoundRobinConsumers, SingleActiveConsumers
from ._errors import AccessRefused, PreconditionFailed
from ._losses import record_length_drop
from ._policies import Policy, effective_definition, policy_arguments
from ._properties import Message
from ._queue_check import check_queue
from ._queue_types import CLASSIC, QueueType, check_consume_arguments
from ._ready import Entry, Fifo, PriorityFifo, QueueEntry

if TYPE_CHECKING:
    from ._channel import Channel
    from ._connection import Connection
    from ._journal import Journal, QueueJournal
    from ._vhost import VirtualHost

__all__ = ["Consumer", "Queue", "QueueStats"]


class Queue:
    """A classic queue of a virtual host; the base of the other queue types."""

    # the type's name as RabbitMQ shows it (x-queue-type, management "type", spec 11.37)
    queue_type = "classic"
    kind: QueueType = CLASSIC

    __slots__ = (
        "arguments",
        "auto_delete",
        "durable",
        "name",
        "operator_policy",
        "owner",
        "policy",
        "stats",
        "vhost_name",
        "_args",
        "_bindings_in",
        "_consumers",
        "_declared",
        "_deleted",
        "_ever_consumed",
        "_expires_at",
        "_expiry_timer",
        "_journal",
        "_journal_id",
        "_may_expire",
        "_plain",
        "_ready",
        "_ready_bytes",
        "_registered",
        "_sequence",
        "_ttl_timer",
        "_unacked",
        "_vhost",
        "__weakref__",
    )

    def __init__(
        self,
        vhost: VirtualHost,
        name: str,
        *,
        durable: bool,
        auto_delete: bool,
        owner: Connection | None,
        arguments: dict[str, Any],
        parsed: QueueArguments,
    ) -> None:
        self._vhost = vhost
        self._sequence = vhost._broker._sequence
        self.vhost_name = vhost.name
        self.name = name
        self.durable = durable
        self.auto_delete = auto_delete
        self.owner = owner  # the connection of an exclusive queue (spec 2.5)
        self.arguments = arguments
        self._declared = parsed  # from the arguments alone; ``_args`` adds the policies
        self._args = parsed
        self.policy: Policy | None = None  # the policy and operator policy in force (14.19)
        self.operator_policy: Policy | None = None
        # no TTL, no length limit: publishing needs neither the clock nor limit checks
        self._plain = parsed.unlimited
        self._ready: Fifo | PriorityFifo = (
            PriorityFifo(parsed.max_priority) if parsed.max_priority is not None else Fifo()
        )
        self._ready_bytes = 0
        self._unacked = 0
        # in delivery order: highest x-priority first, round-robin within (spec 7.4, 7.6)
        self._consumers: ConsumerSet = (
            SingleActiveConsumers() if parsed.single_active_consumer else RoundRobinConsumers()
        )
        self._registered = 0
        self._ever_consumed = False
        self._deleted = False
        self._may_expire = False
        self._ttl_timer: float | None = None  # deadline of the armed head-expiry timer
        self._expires_at: float | None = None
        self._expiry_timer: float | None = None
        self._bindings_in: dict[Any, Any] = {}
        self.stats = QueueStats()
        # the store's change feed, for a durable queue of a broker with a data dir (spec 22)
        self._journal: QueueJournal | None = None
        self._journal_id = 0

    def _use_journal(self, journal: Journal | None) -> None:
        """The store's journal starts (or stops) recording this queue; a queue type
        may record through a view of it (see ``QueueJournal``)."""
        self._journal = journal

    # ----------------------------------------------------------------- inspection

    exclusive = property(_queue_inspect.exclusive)
    messages_ready = property(_queue_inspect.messages_ready)
    messages_unacknowledged = property(_queue_inspect.messages_unacknowledged)
    messages = property(_queue_inspect.messages)
    message_bytes_ready = property(_queue_inspect.message_bytes_ready)
    messages_persistent = property(_queue_inspect.messages_persistent)
    consumer_count = property(_queue_inspect.consumer_count)
    _declare_ok_consumers = property(_queue_inspect.declare_ok_consumers)
    consumers = property(_queue_inspect.consumers)
    single_active_consumer = property(_queue_inspect.single_active_consumer)
    is_deleted = property(_queue_inspect.is_deleted)
    peek = _queue_inspect.peek
    __repr__ = _queue_inspect.queue_repr
    _repr_html_ = _queue_inspect.queue_repr_html

    def _messages_held(self) -> int:
        """Messages neither ready nor unacked that the queue still owns (a quorum
        queue's pending dead-letters); 0 for a classic queue."""
        return 0

    def _restore_first_offset(self, offset: int) -> None:
        """A stream's first offset (see ``driver.restore_stream_offset``); others have none."""

    def _restore_ready(
        self,
        messages: list[QueueEntry],
        counters: Mapping[int, int] | None = None,
        crashed: bool = False,
    ) -> None:
        """Put back ready messages a store read, in enqueue order (see ``driver``);
        ``counters`` and ``crashed`` matter to quorum queues only."""
        ready = self._ready
        size = 0
        expiring = False
        for entry in messages:
            ready.push(entry)
            size += len(entry.body)
            if entry.deadline is not None:
                expiring = True
        self._ready_bytes += size
        self.stats.enqueued += len(messages)
        if expiring:
            self._may_expire = True

    def _check(self) -> None:
        """Assert the queue's invariants (used by property-based tests)."""
        check_queue(self)

    # ----------------------------------------------------------------- policies (spec 14)

    @property
    def effective_policy_definition(self) -> dict[str, Any]:
        """The merged definitions of the policy and operator policy in force (14.19)."""
        return effective_definition(self.policy, self.operator_policy)

    def _set_policies(self, policy: Policy | None, operator: Policy | None) -> None:
        """The policies that apply changed (14.14): the settings in force follow."""
        self.policy, self.operator_policy = policy, operator
        old = self._args
        self._args = policy_arguments(
            self.queue_type, self._declared, effective_definition(policy, operator)
        )
        if self._args != old:
            self._settings_changed(old)

    def _settings_changed(self, old: QueueArguments) -> None:
        """A policy change: limits re-applied at once with the overflow in force before
        (14.15), a new expiry restarts its timer (14.17); a TTL is fixed at enqueue
        (14.16) and dead-letter settings are read when used, so both just follow."""
        args = self._args
        self._plain = args.unlimited
        now = self._vhost._now()
        if old.overflow == "drop-head" and (
            args.max_length is not None or args.max_length_bytes is not None
        ):
            self._drop_head_over_limit(now)
        if args.expires != old.expires:
            self._expires_at = None
            self._touch()

    # ----------------------------------------------------------------- what a type allows

    def _check_consume(
        self, channel: Channel, auto_ack: bool, exclusive: bool, arguments: dict[str, Any]
    ) -> int:
        """Refuse a basic.consume this queue does not take (spec 7.3, 11.10); the
        consumer's x-priority."""
        check_consume_arguments(
            self.kind,
            arguments,
            self._vhost.describe("queue", self.name),
            self._vhost._broker.rabbitmq_version,  # 4.3 refuses x-consumer-timeout (0.x.11)
        )
        consumers = self._consumers
        if (exclusive and (consumers or self._args.single_active_consumer)) or consumers.exclusive:
            raise AccessRefused(
                f"queue '{self.name}' in vhost '{self.vhost_name}' in exclusive use"
            )
        return int(arguments.get("x-priority", 0))

    def _check_get(self) -> None:
        """Refuse a basic.get this queue does not take (classic queues take every one)."""

    def _check_purge(self) -> None:
        """Refuse a queue.purge this queue does not take (classic queues take every one)."""

    def _check_delete(self, if_unused: bool, if_empty: bool) -> None:
        """queue.delete's conditions (spec 2.10)."""
        if if_unused and self._consumers:
            raise PreconditionFailed(f"queue '{self.name}' in vhost '{self.vhost_name}' in use")
        if if_empty and self.messages_ready:
            raise PreconditionFailed(f"queue '{self.name}' in vhost '{self.vhost_name}' not empty")

    def _touch_on_declare(self) -> None:
        """A declare of the existing queue restarts x-expires (spec 2.9)."""
        self._touch()

    # ----------------------------------------------------------------- publishing

    def _would_overflow(self, size: int) -> bool:
        args = self._args
        return (args.max_length is not None and self._ready.count + 1 > args.max_length) or (
            args.max_length_bytes is not None and self._ready_bytes + size > args.max_length_bytes
        )

    def _publish(
        self,
        message: Message,
        ttl_ms: int | None,
        now: float | None = None,
        only_queue: bool = False,
        told: bool = False,
    ) -> bool:
        """Take a routed message; False when reject-publish refused it (spec 5.3).

        ``now`` is read from the clock only when a TTL or a limit needs it.
        ``only_queue``: no other queue takes this message object, so it can be
        its own entry here (see ``Message``). ``told``: a refusal reaches the
        publisher (a confirming channel's basic.nack), so it is no silent loss.
        """
        self.stats.enqueued += 1
        ready = self._ready
        entry: QueueEntry
        if self._plain and ttl_ms is None:
            # no TTL, no limits: the hot path
            if only_queue:
                message.seq = next(self._sequence)
                entry = message
            else:
                entry = Entry(message, next(self._sequence))
            if self._journal is not None and message.properties.delivery_mode == 2:
                self._journal.message_enqueued(self, entry)  # spec 22.4, 22.28
            if self._consumers:
                if not ready.count:
                    consumer = self._consumers.next()
                    if consumer is not None:
                        consumer.channel._deliver(consumer, self, entry)  # spec 5.2: not enqueued
                        return True
                ready.push(entry)
                self._ready_bytes += len(message.body)
                self._dispatch()
            else:
                ready.push(entry)
                self._ready_bytes += len(message.body)
            return True
        if now is None:
            now = self._vhost._now()
        args = self._args
        if args.overflow != "drop-head" and self._would_overflow(len(message.body)):
            if args.overflow == "reject-publish-dlx":
                self._dead_letter(message, "maxlen", now)
            else:
                self.stats.dropped["overflow"] += 1
                if not told and self._vhost._broker._losses is not None:
                    record_length_drop(self, "overflow", message)
            return False
        if args.message_ttl is not None and (ttl_ms is None or args.message_ttl < ttl_ms):
            ttl_ms = args.message_ttl  # spec 3.1: the lower TTL wins
        deadline = None if ttl_ms is None else now + ttl_ms / 1000
        if only_queue:
            message.seq = next(self._sequence)
            message.deadline = deadline
            entry = message
        else:
            entry = Entry(message, next(self._sequence), deadline)
        if self._journal is not None and message.properties.delivery_mode == 2:
            self._journal.message_enqueued(self, entry)  # spec 22.4, 22.28
        if not ready.count and self._consumers:
            consumer = self._consumers.next()
            if consumer is not None:
                # spec 5.2, 3.4: a free consumer takes it without enqueueing
                consumer.channel._deliver(consumer, self, entry)
                return True
        ready.push(entry)
        self._ready_bytes += len(message.body)
        if entry.deadline is not None:
            self._may_expire = True
        if args.max_length is not None or args.max_length_bytes is not None:
            self._drop_head_over_limit(now)
        if self._may_expire:
            self._expire_head(now)
        if self._consumers and ready.count:
            self._dispatch()
        return True

    def _drop_head_over_limit(self, now: float) -> None:
        args = self._args
        ready = self._ready
        max_length = args.max_length
        max_bytes = args.max_length_bytes
        while ready.count and (
            (max_length is not None and ready.count > max_length)
            or (max_bytes is not None and self._ready_bytes > max_bytes)
        ):
            entry = ready.pop()
            self._ready_bytes -= len(entry.body)
            self._dead_letter_or_drop(entry, "maxlen", now)

    # ----------------------------------------------------------------- expiry (spec 3)

    def _expire_head(self, now: float) -> None:
        """Drop (or dead-letter) expired messages at the head only (spec 3.3)."""
        ready = self._ready
        expired = 0
        paused_gc = False
        try:
            while True:
                head = ready.head()
                if head is None:
                    self._may_expire = False
                    return
                deadline = head.deadline
                if deadline is None or deadline > now:
                    break
                ready.pop()
                self._ready_bytes -= len(head.body)
                self._dead_letter_or_drop(head, "expired", deadline)
                expired += 1
                if expired == 1000 and gc.isenabled():
                    # a mass expiry (a clock.advance over many TTLs) creates many
                    # objects and no garbage cycles: collecting meanwhile only
                    # re-walks the live heap again and again
                    gc.disable()
                    paused_gc = True
        finally:
            if paused_gc:
                gc.enable()
        if deadline is not None and (self._ttl_timer is None or deadline < self._ttl_timer):
            self._ttl_timer = deadline
            self._vhost._timers.schedule(deadline, self._on_ttl_timer)

    def _on_ttl_timer(self, deadline: float, now: float) -> None:
        if self._ttl_timer == deadline:
            self._ttl_timer = None
        if not self._deleted:
            self._expire_head(now)
            if self._consumers and self._ready.count:
                self._dispatch()

    # ----------------------------------------------------------------- dead-lettering (spec 4)

    def _dead_letter_or_drop(self, entry: QueueEntry, reason: str, now: float) -> None:
        if self._journal is not None:
            self._journal.message_removed(entry)
        if self._args.dead_letter_exchange is None:
            self.stats.dropped[reason] += 1
            if reason == "maxlen" and self._vhost._broker._losses is not None:
                record_length_drop(self, reason, entry.message)
        else:
            self._dead_letter(entry.message, reason, now)

    def _dead_letter(self, message: Message, reason: str, now: float) -> None:
        if self._args.dead_letter_exchange is None:
            self.stats.dropped[reason] += 1
            if reason == "maxlen" and self._vhost._broker._losses is not None:
                record_length_drop(self, "overflow", message)  # reject-publish-dlx without a DLX
            return
        self.stats.dead_lettered += 1
        self._vhost._dead_letter(self, message, reason, now)

    # ----------------------------------------------------------------- consumers and dispatch

    def _active_consumer(self) -> Consumer:
        # spec 7.6: the first registered is active; on failover the highest
        # x-priority, earliest registered
        return self._consumers.first()

    def _next_consumer(self) -> Consumer | None:
        """The consumer for the next message (spec 7.4-7.6; see ``_dispatch.py``)."""
        return self._consumers.next()

    def _dispatch(self) -> None:
        """Assign ready messages to consumers with room, head first."""
        ready = self._ready
        consumers = self._consumers
        only = consumers.single
        if only is not None and not self._may_expire:
            # the common case: one consumer, nothing to expire at the head
            deliver = only.channel._deliver
            while ready.count and only.has_room():
                entry = ready.pop()
                self._ready_bytes -= len(entry.body)
                deliver(only, self, entry)
            return
        now = self._vhost._now() if self._may_expire else 0.0
        next_consumer = consumers.next
        while ready.count:
            if self._may_expire:
                self._expire_head(now)
                if not ready.count:
                    break
            consumer = next_consumer()
            if consumer is None:
                return
            entry = ready.pop()
            self._ready_bytes -= len(entry.body)
            consumer.channel._deliver(consumer, self, entry)

    def _add_consumer(self, consumer: Consumer) -> None:
        """Register a consumer behind the others of its priority: O(log n) (spec 7.4, 7.6)."""
        self._consumers.add(consumer)
        self._ever_consumed = True
        self._expires_at = None  # spec 2.9: a queue with consumers is in use
        if self._ready.count:
            self._dispatch()

    def _remove_consumer(self, consumer: Consumer) -> None:
        if not self._consumers.remove(consumer):
            return
        if not self._consumers:
            self._touch()  # spec 2.9: the last consumer leaving restarts x-expires
            if self.auto_delete and self._ever_consumed:
                self._vhost._delete_queue(self, reason="deleted")  # spec 2.8
                return
        elif self._ready.count:
            self._dispatch()

    # ----------------------------------------------------------------- settling deliveries

    def _requeue(
        self, entry: QueueEntry, now: float, settle: bool = True, how: str = "requeue"
    ) -> None:
        """Put an unacked message back at its original position (spec 2.12); ``how`` it
        came back matters to quorum queues only (see ``Channel._apply_settles``).

        A batch (multiple nack, recover, close) passes ``settle=False`` for each
        message and calls ``_settle_after_requeue`` once: the whole batch is
        back before heads are dropped or expired (spec 5.5), as RabbitMQ does.
        """
        self._unacked -= 1
        if self._deleted:
            self.stats.dropped["deleted"] += 1
            return
        entry.redelivered = True
        self._ready.requeue(entry)
        self._back_in_ready(entry, now, settle)

    def _back_in_ready(self, entry: QueueEntry, now: float, settle: bool) -> None:
        """A returned entry is ready again: its bytes, its TTL, the batch's settling."""
        self._ready_bytes += len(entry.body)
        if entry.deadline is not None:
            self._may_expire = True
        if settle:
            self._settle_after_requeue(now)

    def _settle_after_requeue(self, now: float) -> None:
        if self._deleted:
            return
        if self._args.overflow == "drop-head" and (
            self._args.max_length is not None or self._args.max_length_bytes is not None
        ):
            self._drop_head_over_limit(now)  # spec 5.5
        if self._may_expire:
            self._expire_head(now)

    def _reject(self, entry: QueueEntry, now: float) -> None:
        """An unacked message was rejected without requeue: dead-letter "rejected" (spec 4.1)."""
        self._unacked -= 1
        if self._deleted:
            self.stats.dropped["deleted"] += 1
            return
        self._dead_letter_or_drop(entry, "rejected", now)

    # ----------------------------------------------------------------- basic.get, purge, expiry

    def _get(self) -> QueueEntry | None:
        if self._args.expires is not None:
            self._touch()  # spec 2.9
        ready = self._ready
        if self._may_expire:
            self._expire_head(self._vhost._now())
        if not ready.count:
            return None
        entry = ready.pop()
        self._ready_bytes -= len(entry.body)
        if self._may_expire:
            self._expire_head(self._vhost._now())
        return entry

    def _purge(self) -> int:
        count = self._ready.count
        journal = self._journal
        if journal is not None:
            for entry in self._ready:
                journal.message_removed(entry)
        self._ready.clear()
        self._ready_bytes = 0
        self._may_expire = False
        if count:
            self.stats.dropped["purged"] += count
        return count

    def _touch(self) -> None:
        """Restart the x-expires timer (spec 2.9) when the queue has no consumers."""
        expires = self._args.expires
        if expires is None or self._consumers or self._deleted:
            return
        now = self._vhost._now()
        self._expires_at = now + expires / 1000
        if self._expiry_timer is None:
            self._expiry_timer = self._expires_at
            self._vhost._timers.schedule(self._expires_at, self._on_expiry_timer)

    def _on_expiry_timer(self, deadline: float, now: float) -> None:
        self._expiry_timer = None
        if self._deleted or self._expires_at is None:
            return
        if self._expires_at <= now:
            self._vhost._delete_queue(self, reason="expired_queue")
        else:
            self._expiry_timer = self._expires_at
            self._vhost._timers.schedule(self._expires_at, self._on_expiry_timer)
