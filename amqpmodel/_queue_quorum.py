"""Quorum queues (spec 11) as an AMQP 0-9-1 client sees them on one node.

What differs from a classic queue, and where it lives here:

- a returned message (reject or nack with requeue, recover, a closed channel)
  counts one more delivery; past the delivery limit (20 by default) it is
  dead-lettered with reason ``delivery_limit`` (11.11-11.14), and while a
  limit is in force returns wait in a returns list delivered before anything
  else (11.16);
- two priority levels, 2:1 in favour of the high one (11.23);
- reject-publish keeps refusing until the queue is back under 80% of its
  limit (11.22); reject-publish-dlx acts as drop-head (11.21);
- at-least-once dead-lettering holds a message until its targets took it (11.19);
- single active consumer hands over to a higher x-priority (11.24);
- refusals of what the type does not do (11.25, 11.26, 11.29).

Every message is stored with a data dir, whatever its delivery mode (11.34).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._consumer_timeout import watch_consumer
from ._errors import NotImplementedByBroker, ResourceLocked
from ._losses import record_length_drop
from ._properties import Message
from ._queue import Queue
from ._queue_types import QUORUM, QueueType, check_consume_arguments
from ._quorum_ready import (
    HIGH_PRIORITY_ABOVE,
    IgnoredPriorityQuorumReady,
    PrioritySingleActiveConsumers,
    QuorumEntry,
    QuorumReady,
    StrictQuorumReady,
    entry_count,
)
from ._ready import QueueEntry

if TYPE_CHECKING:
    from ._arguments import QueueArguments
    from ._channel import Channel
    from ._consumer import Consumer
    from ._journal import Journal
    from ._vhost import VirtualHost

__all__ = ["QuorumEntry", "QuorumQueue", "QuorumReady"]

_DEAD_LETTER_RETRY_S = 180.0  # spec 11.19: an at-least-once dead-letter is retried this often


class QuorumQueue(Queue):
    """A quorum queue: durable, shared, replicated in RabbitMQ, one member here."""

    __slots__ = ("_dead_letter_held", "_rejecting", "_simple", "_two_levels", "_version")

    queue_type = "quorum"
    kind: QueueType = QUORUM

    def __init__(
        self, vhost: VirtualHost, name: str, *, parsed: QueueArguments, **options: Any
    ) -> None:
        """As ``Queue``'s (``options``: durable, auto_delete, owner, arguments)."""
        version = vhost._broker.rabbitmq_version
        self._version = version
        self._two_levels = version.quorum_priorities == "two-levels"
        self._simple = parsed.unlimited
        super().__init__(vhost, name, parsed=parsed, **options)
        self._ready: Any = {
            "strict": StrictQuorumReady,
            "ignored": IgnoredPriorityQuorumReady,
        }.get(version.quorum_priorities, QuorumReady)()
        if not parsed.delivery_limit_declared and version.quorum_default_delivery_limit is None:
            # 3.13: no default delivery limit (spec 0.x.6)
            self._declared = attrs.evolve(parsed, delivery_limit=None)
            self._args = attrs.evolve(self._args, delivery_limit=None)
        # ``_simple``: no TTL, no length limit, the publish hot path below; ``_plain``
        # (the channel's shortcut, which bypasses _publish) only while nothing stores it
        self._plain = self._simple and self._two_levels
        if parsed.single_active_consumer:
            self._consumers = PrioritySingleActiveConsumers()
        self._rejecting = False  # reject-publish refuses until under the soft limit (11.22)
        # at-least-once dead-letters waiting for their targets (11.19): still ours
        self._dead_letter_held: deque[tuple[QueueEntry, str]] = deque()

    # ----------------------------------------------------------------- the store

    def _use_journal(self, journal: Journal | None) -> None:
        """A stored quorum queue keeps every message (11.34): the channel's shortcut for
        plain queues, which records nothing, is off while a store keeps it."""
        self._journal = journal
        self._plain = journal is None and self._simple and self._two_levels

    # ----------------------------------------------------------------- inspection

    @property
    def messages(self) -> int:
        return int(self._ready.count) + self._unacked + len(self._dead_letter_held)

    @property
    def messages_persistent(self) -> int:
        """Every message of a quorum queue is kept by a restart (spec 11.34)."""
        return int(self._ready.count) + self._unacked + len(self._dead_letter_held)

    @property
    def delivery_counts(self) -> dict[int, int]:
        """How many ready or held messages came back how many times (11.13): {count: n}."""
        counts: dict[int, int] = {}
        for entry in self._ready:
            count = entry_count(entry)
            counts[count] = counts.get(count, 0) + 1
        return counts

    @property
    def messages_dead_letter_pending(self) -> int:
        """At-least-once dead-letters not yet taken by their targets (spec 11.19)."""
        return len(self._dead_letter_held)

    def type_figures(self) -> dict[str, Any]:
        """The type's own figures for views: delivery limit and counts of returns."""
        limit = self._args.delivery_limit
        return {
            "delivery limit": "none" if limit is None else limit,
            "returned": sum(n for count, n in self.delivery_counts.items() if count),
            "dead-letter pending": len(self._dead_letter_held),
        }

    def _messages_held(self) -> int:
        return len(self._dead_letter_held)

    # ----------------------------------------------------------------- what the type allows

    def _check_consume(
        self, channel: Channel, auto_ack: bool, exclusive: bool, arguments: dict[str, Any]
    ) -> int:
        """Consumer arguments of another type are refused (11.10); a channel with an
        active global limit cannot consume (11.29); exclusive is not enforced (11.25)."""
        where = self._vhost.describe("queue", self.name)
        check_consume_arguments(self.kind, arguments, where, self._version)
        if channel._global_prefetch:
            raise NotImplementedByBroker(f"{where} does not support global qos")
        return int(arguments.get("x-priority", 0))

    def _check_get(self) -> None:
        if self._args.single_active_consumer:
            raise ResourceLocked(
                f"cannot obtain access to locked queue '{self.name}' in vhost "
                f"'{self.vhost_name}'. basic.get operations are not supported by "
                f"{self._version.sac_get_queue_type_shown} queues with single active consumer"
            )  # spec 11.25, 0.x.20

    def _check_delete(self, if_unused: bool, if_empty: bool) -> None:
        flag = "if-unused" if if_unused else "if-empty" if if_empty else None
        if flag is not None:
            raise NotImplementedByBroker(
                f"cannot delete queue '{self.name}' in vhost '{self.vhost_name}'. queue.delete "
                f"operations with {flag} flag set are not supported by quorum queues"
            )  # spec 11.26

    def _touch_on_declare(self) -> None:
        """A redeclare does not renew x-expires (spec 11.33)."""

    def _add_consumer(self, consumer: Consumer) -> None:
        if self._version.quorum_consumer_timeout:
            watch_consumer(self, consumer)  # 4.3: timed per consumer (spec 11.32)
        super()._add_consumer(consumer)

    def _settings_changed(self, old: QueueArguments) -> None:
        """A policy change applies to the running queue, limits evaluated at once (14.18)."""
        args = self._args
        self._simple = args.unlimited
        self._plain = self._simple and self._two_levels and self._journal is None
        if args.overflow == "reject-publish":
            self._rejecting = self._over_limit(soft=False)
        elif args.max_length is not None or args.max_length_bytes is not None:
            self._drop_head_over_limit(self._vhost._now())
        if args.expires != old.expires:
            self._expires_at = None
            self._touch()

    # ----------------------------------------------------------------- publishing

    def _over_limit(self, soft: bool) -> bool:
        """Over the length limits (11.20), or for ``soft`` above 80% of them (11.22)."""
        args = self._args
        count = self._ready.count + len(self._dead_letter_held)
        size = self._ready_bytes + sum(len(e.body) for e, _ in self._dead_letter_held)
        for limit, value in ((args.max_length, count), (args.max_length_bytes, size)):
            if limit is not None and value > (int(limit * 0.8) if soft else limit):
                return True
        return False

    def _publish(
        self,
        message: Message,
        ttl_ms: int | None,
        now: float | None = None,
        only_queue: bool = False,
        told: bool = False,
    ) -> bool:
        """Take a routed message; False when reject-publish refused it (spec 11.22)."""
        if (
            self._simple  # no TTL, no length limit
            and self._two_levels
            and ttl_ms is None
            and only_queue
            and self._journal is None
            and not self._consumers
        ):
            # the hot path: the message is its own entry (see below), straight to its level
            self.stats.enqueued += 1
            message.seq = next(self._sequence)
            ready = self._ready
            priority = message.properties.priority
            if priority is not None and priority > HIGH_PRIORITY_ABOVE:
                ready.high.append(message)
            else:
                ready.normal.append(message)
            ready.count += 1
            self._ready_bytes += len(message.body)
            return True
        self.stats.enqueued += 1
        args = self._args
        limited = args.max_length is not None or args.max_length_bytes is not None
        if now is None and (limited or ttl_ms is not None or args.message_ttl is not None):
            now = self._vhost._now()
        if self._rejecting:
            if self._over_limit(soft=True):
                self.stats.dropped["overflow"] += 1
                if not told and self._vhost._broker._losses is not None:
                    record_length_drop(self, "overflow", message)
                return False
            self._rejecting = False
        if args.message_ttl is not None and (ttl_ms is None or args.message_ttl < ttl_ms):
            ttl_ms = args.message_ttl  # spec 11.35, 3.1
        deadline = None
        if ttl_ms is not None:
            assert now is not None
            deadline = now + ttl_ms / 1000
            self._may_expire = True
        entry: QueueEntry
        if only_queue and self._journal is None:
            # the message is its own entry until it first comes back (see _requeue); a
            # stored queue needs entries that say they are stored whatever the mode
            message.seq = next(self._sequence)
            message.deadline = deadline
            entry = message
        else:
            entry = QuorumEntry(message, next(self._sequence), deadline)
        if self._journal is not None:
            self._journal.message_enqueued(self, entry)  # spec 11.34
        ready = self._ready
        if not ready.count and self._consumers:
            consumer = self._consumers.next()
            if consumer is not None:
                consumer.channel._deliver(consumer, self, entry)
                return True
        ready.push(entry)
        self._ready_bytes += len(message.body)
        if limited:
            assert now is not None
            if args.overflow == "reject-publish":
                self._rejecting = self._over_limit(soft=False)  # this one is still taken
            else:
                self._drop_head_over_limit(now)  # drop-head; reject-publish-dlx acts so (11.21)
        if self._may_expire:
            self._expire_head(self._vhost._now() if now is None else now)
        if self._consumers and ready.count:
            self._dispatch()
        return True

    def _drop_head_over_limit(self, now: float) -> None:
        ready = self._ready
        while ready.count and self._over_limit(soft=False):
            entry = ready.pop()
            self._ready_bytes -= len(entry.body)
            self._dead_letter_or_drop(entry, "maxlen", now)

    # ----------------------------------------------------------------- returns (spec 11.13-11.17)

    def _requeue(
        self, entry: QueueEntry, now: float, settle: bool = True, how: str = "requeue"
    ) -> None:
        """A delivery came back: count it, dead-letter it past the limit (11.12), else
        the returns list, or the back of the queue with no limit (11.17)."""
        self._unacked -= 1
        if self._deleted:
            self.stats.dropped["deleted"] += 1
            return
        if type(entry) is not QuorumEntry:  # its first return: it needs a count now
            assert isinstance(entry, Message)
            entry = QuorumEntry(entry, entry.seq, entry.deadline)
        if self._version.quorum_acquired_count:
            # 4.3 (spec 11.15): every return is acquired; only a reject with requeue
            # or a lost channel is a failed delivery, which the limit counts
            entry.acquired += 1
            if how in ("requeue", "lost"):
                entry.count += 1
        else:
            entry.count += 1  # 4.0-4.2: one counter, every return (11.13)
        entry.redelivered = True
        if self._journal is not None:
            self._journal.redelivered([(entry.seq, entry.stored_counters)])  # spec 22.19
        limit = self._args.delivery_limit
        if limit is not None and entry.count > limit:
            self._dead_letter_or_drop(entry, "delivery_limit", now)
            return
        if limit is None and how != "lost" and self._version.quorum_requeue_to_back:
            self._ready.push_back(entry, next(self._sequence))
        else:
            self._ready.requeue(entry)
        self._back_in_ready(entry, now, settle)

    def _settle_after_requeue(self, now: float) -> None:
        if self._deleted:
            return
        args = self._args
        if args.overflow != "reject-publish" and (
            args.max_length is not None or args.max_length_bytes is not None
        ):
            self._drop_head_over_limit(now)
        if self._may_expire:
            self._expire_head(now)

    # ----------------------------------------------------------------- dead-lettering (11.18, 11.19)

    def _at_least_once(self) -> bool:
        args = self._args
        return (
            args.dead_letter_strategy == "at-least-once"
            and args.dead_letter_exchange is not None
            and args.overflow == "reject-publish"
        )

    def _dead_letter_or_drop(self, entry: QueueEntry, reason: str, now: float) -> None:
        if not self._at_least_once():
            super()._dead_letter_or_drop(entry, reason, now)
            return
        if self._vhost._dead_letter(self, entry.message, reason, now, confirmed=True):
            self.stats.dead_lettered += 1
            if self._journal is not None:
                self._journal.message_removed(entry)
            return
        # not taken by every target: kept, counted against the limits, retried (11.19)
        if not self._dead_letter_held:
            self._vhost._timers.schedule(now + _DEAD_LETTER_RETRY_S, self._retry_dead_letters)
        self._dead_letter_held.append((entry, reason))

    def _retry_dead_letters(self, deadline: float, now: float) -> None:
        if self._deleted:
            return
        held, self._dead_letter_held = self._dead_letter_held, deque()
        for entry, reason in held:
            if self._vhost._dead_letter(self, entry.message, reason, now, confirmed=True):
                self.stats.dead_lettered += 1
                if self._journal is not None:
                    self._journal.message_removed(entry)
            else:
                self._dead_letter_held.append((entry, reason))
        if self._dead_letter_held:
            self._vhost._timers.schedule(now + _DEAD_LETTER_RETRY_S, self._retry_dead_letters)

    def _purge(self) -> int:
        count = super()._purge()
        self._rejecting = False
        return count

    def _restore_ready(
        self,
        messages: list[QueueEntry],
        counters: Mapping[int, int] | None = None,
        crashed: bool = False,
    ) -> None:
        """Messages read back by a store, in enqueue order, with their counters as
        ``QuorumEntry.stored_counters`` gave them (spec 22.19)."""
        stored = counters or {}
        two_counters = self._version.quorum_acquired_count
        entries: list[QueueEntry] = []
        for message in messages:
            entry = QuorumEntry(message.message, message.seq, message.deadline)
            entry.redelivered = message.redelivered
            entry.restore_counters(stored.get(entry.seq, 0), crashed, two_counters)
            entries.append(entry)
        super()._restore_ready(entries)
