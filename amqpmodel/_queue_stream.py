"""Streams (spec 12) as an AMQP 0-9-1 client sees them: an append-only log read by offset.

A stream never removes a message because it was read: each consumer has its
own position (an offset), chosen by ``x-stream-offset`` when it subscribes
(12.11), and every delivery carries its offset in an ``x-stream-offset``
header (12.17). Acks, nacks and rejects only give credit back (12.15).
Messages leave by retention only, whole segments at a time, oldest first and
never the newest (12.7-12.10).

Model rules, stated once here:
- a segment holds messages until adding one would take its size over
  ``x-stream-max-segment-size-bytes``, counting each message as its body
  length plus ``MESSAGE_OVERHEAD`` bytes (12.10); each publish is its own chunk;
- retention by ``x-max-length-bytes`` compares those segment sizes (12.7);
- retention runs when a segment fills up (roll-over), every hour of the
  broker's clock while ``x-max-age`` is set (so a ``VirtualClock`` ages a
  stream), and when ``apply_retention()`` is called (12.9);
- filtering is exact by default (12.22): a message is delivered to a
  filtering consumer iff its ``x-stream-filter-value`` is requested, or it has
  none and ``x-stream-match-unfiltered`` is true. RabbitMQ's per-chunk Bloom
  filter may also let through non-matching messages of a chunk that has a
  match (12.21); ``Broker.stream_chunk_size = N`` groups N consecutive
  messages into a chunk and delivers a whole chunk when any of its messages
  matches, to reproduce those false positives.

A log entry is the message itself when no other queue took it (as in a
classic queue); offsets are positions, ``first_offset`` plus the index in the
log; write times are kept per millisecond, as RabbitMQ's timestamps are, one
per run of messages written in the same millisecond (see ``StreamLog``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._arguments import is_int, text
from ._dispatch import FULL
from ._errors import NotImplementedByBroker, PreconditionFailed
from ._field_values import TAGGED_INTS
from ._methods import Deliver
from ._properties import BasicProperties, Message, clone_properties, offset_properties
from ._queue import Queue
from ._queue_types import STREAM, QueueType, check_consume_arguments, parse_max_age
from ._ready import Entry, QueueEntry
from ._stream_consumers import Reader, StreamConsumers, filter_values, matches
from ._stream_log import LogJournal, Retired, Stored, StreamLog
from ._trace import trace_deliver

if TYPE_CHECKING:
    from ._arguments import QueueArguments
    from ._channel import Channel
    from ._consumer import Consumer
    from ._journal import Journal
    from ._vhost import VirtualHost

__all__ = ["StreamQueue"]

_HOUR = 3600.0
_LONG = TAGGED_INTS[b"l"]
_DELIVERED_CACHE = 4096  # offsets whose delivered properties are kept for other readers


class StreamQueue(Queue):
    """A stream: durable, shared, replicated in RabbitMQ, one member here."""

    __slots__ = ("_age_timer", "_chunk_size", "_delivered")

    queue_type = "stream"
    kind: QueueType = STREAM

    def __init__(
        self, vhost: VirtualHost, name: str, *, parsed: QueueArguments, **options: Any
    ) -> None:
        """As ``Queue``'s (``options``: durable, auto_delete, owner, arguments)."""
        super().__init__(vhost, name, parsed=parsed, **options)
        self._ready: Any = StreamLog(self._args.segment_size_bytes, vhost._broker.clock.now)
        self._consumers: Any = StreamConsumers(self)
        self._refresh_plain()
        self._age_timer: float | None = None
        self._chunk_size = max(1, vhost._broker.stream_chunk_size)
        # the delivered properties of recent offsets: consumers reading near each other
        # share them instead of building one per delivery; bounded, so no cost per message
        self._delivered: dict[int, BasicProperties] = {}

    # ----------------------------------------------------------------- the store

    def _use_journal(self, journal: Journal | None) -> None:
        """A stream records through a ``LogJournal``: a settle removes nothing."""
        self._journal = None if journal is None else LogJournal(journal)
        self._refresh_plain()

    def _refresh_plain(self) -> None:
        """The channel's publish shortcut (``StreamLog.push``) serves a stream that
        nothing stores and that has no retention to run (12.7-12.9)."""
        args = self._args
        self._plain = (
            self._journal is None and args.max_length_bytes is None and args.max_age_ms is None
        )

    # ----------------------------------------------------------------- inspection

    @property
    def first_offset(self) -> int:
        """The offset of the oldest retained message ("first", 12.11)."""
        return int(self._ready.first_offset)

    @property
    def next_offset(self) -> int:
        """The offset the next message written will get ("next")."""
        return int(self._ready.next_offset)

    @property
    def segment_count(self) -> int:
        return len(self._ready.segments)

    @property
    def messages(self) -> int:
        return int(self._ready.count)

    @property
    def messages_persistent(self) -> int:
        """Every message of a stream is kept by a restart (spec 12.19, 22.19)."""
        return int(self._ready.count)

    @property
    def _declare_ok_consumers(self) -> int:
        return 0  # spec 12.18

    def offset_of(self, consumer: Consumer) -> int:
        """The offset a consumer reads next."""
        return int(self._consumers.readers[consumer].offset)

    def type_figures(self) -> dict[str, Any]:
        log = self._ready
        return {
            "first offset": log.first_offset,
            "last offset": log.next_offset - 1 if log.count else None,
            "segments": len(log.segments),
            "bytes": log.total_bytes,
        }

    def peek(self) -> list[Message]:
        return [entry.message for entry in self._ready]

    def _check(self) -> None:
        log = self._ready
        assert len(log.entries) == log.count
        assert sum(len(e.body) for e in log.entries) == log.total_bytes == self._ready_bytes
        assert log.segments[0] <= log.first_offset or not log.count
        stats = self.stats
        assert stats.enqueued == log.count + sum(stats.dropped.values()), "stream accounting"
        unacked = sum(
            1
            for channel in self._vhost._channels()
            for record in channel._unacked.values()
            if record[1] is self
        )
        assert unacked == self._unacked
        self._consumers._check()

    # ----------------------------------------------------------------- what the type allows

    def _check_consume(
        self, channel: Channel, auto_ack: bool, exclusive: bool, arguments: dict[str, Any]
    ) -> int:
        """Arguments first (12.4, 12.12), then prefetch, no-ack and global qos (12.13)."""
        where = self._vhost.describe("queue", self.name)
        check_consume_arguments(self.kind, arguments, where, self._vhost._broker.rabbitmq_version)
        self._start_offset(arguments.get("x-stream-offset"), where)
        if not channel._prefetch:
            raise PreconditionFailed(f"consumer prefetch count is not set for stream {where}")
        if auto_ack:
            raise NotImplementedByBroker(
                f"automatic acknowledgement not supported by stream {where}"
            )
        if channel._global_prefetch:
            raise NotImplementedByBroker(f"{where} does not support global qos")
        return 0

    def _check_get(self) -> None:
        raise NotImplementedByBroker(
            f"basic.get not supported by stream queues queue '{self.name}' in vhost "
            f"'{self.vhost_name}'"
        )  # spec 12.14

    def _check_purge(self) -> None:
        raise NotImplementedByBroker(
            f"queue.purge not supported by stream queues queue '{self.name}' in vhost "
            f"'{self.vhost_name}'"
        )  # spec 12.14

    def _check_delete(self, if_unused: bool, if_empty: bool) -> None:
        """if-unused and if-empty are ignored: a stream is always deleted (12.18)."""

    def _start_offset(self, value: Any, where: str) -> int:
        """Where a consumer with this ``x-stream-offset`` starts (12.11); 406 (12.12)."""
        log = self._ready
        if value is None:
            return int(log.next_offset)
        shown = text(value)
        if shown == "first":
            return int(log.first_offset)
        if shown == "last":
            return int(log.next_offset - 1 if log.count else log.next_offset)
        if shown == "next":
            return int(log.next_offset)
        if isinstance(value, datetime.datetime):
            return int(log.first_written_at_or_after(value.timestamp()))
        if is_int(value):
            return int(max(log.first_offset, min(int(value), log.next_offset)))
        if isinstance(shown, str):
            interval = parse_max_age(shown)
            if interval is not None:
                now = self._vhost._now()
                return int(log.first_written_at_or_after(now - interval / 1000))
            raise PreconditionFailed(
                f"invalid arg 'x-stream-offset' for {where}: "
                f'{{invalid_stream_offset_arg,{{longstr,<<"{shown}">>}}}}'
            )
        return int(log.next_offset)  # another type: taken as an offset by RabbitMQ, kept simple

    # ----------------------------------------------------------------- consumers

    def _add_consumer(self, consumer: Consumer) -> None:
        arguments = consumer.arguments
        start = self._start_offset(
            arguments.get("x-stream-offset"), self._vhost.describe("queue", self.name)
        )
        filters = filter_values(arguments.get("x-stream-filter"))
        match_unfiltered = (
            filters is not None and arguments.get("x-stream-match-unfiltered") is True
        )
        self._consumers.readers[consumer] = Reader(consumer, start, filters, match_unfiltered)
        self._consumers.add(consumer)
        self._ever_consumed = True
        self._dispatch()

    def _remove_consumer(self, consumer: Consumer) -> None:
        self._consumers.remove(consumer)  # nothing is lost: the log keeps it all (12.16)

    def _dispatch(self) -> None:
        """Each active consumer reads forward while it has credit (12.15)."""
        active = self._consumers.active
        if not active:
            return
        if len(active) == 1:  # the usual case on an ack: the consumer it gave credit to
            self._read(active.popitem()[0])
            return
        consumers = list(active)
        active.clear()
        for consumer in consumers:
            self._read(consumer)

    def _read(self, consumer: Consumer) -> None:
        """Deliver to ``consumer`` from its offset until its credit or the log ends."""
        reader = self._consumers.readers[consumer]
        log = self._ready
        offset = max(reader.offset, log.first_offset)  # retention may have passed it
        end = log.first_offset + log.count
        channel = reader.channel
        room = consumer.prefetch - consumer.unacked
        if channel._global_prefetch:  # set after subscribing (12.13 refuses it before)
            room = min(room, channel._global_prefetch - channel._global_unacked)
        filters = reader.filters
        entries = log.entries
        while room > 0 and offset < end:
            if filters is None or self._passes(reader, offset):
                self._deliver_at(consumer, reader, offset, entries[offset - log.first_offset])
                room -= 1
            offset += 1
        reader.offset = offset
        if room <= 0:
            if consumer.unacked < consumer.prefetch:
                # the channel's limit binds, not its own: it reads on when the channel
                # has room (a settle there dispatches this queue, Channel._apply_settles)
                self._consumers.active[consumer] = None
            else:
                consumer._state = FULL  # its own settle gives credit back (reinstate)

    def _deliver_at(
        self, consumer: Consumer, reader: Reader, offset: int, entry: QueueEntry
    ) -> None:
        """Deliver ``entry``, at ``offset``, to ``consumer``, which has the credit.

        ``Channel._deliver``'s steps, without the branches a stream never takes:
        its deliveries are never auto-acked (12.13) and have no consumer timeout
        watch (a quorum queue's). The unacked record holds the message's entry
        (an ack removes nothing from a store: see ``LogJournal``); the
        properties carry the offset (12.17).
        """
        message = entry if type(entry) is Message else entry.message
        properties: BasicProperties = (
            offset_properties(message.properties, offset)
            if reader.private
            else self._shared_properties(message, offset)
        )
        channel = reader.channel
        channel._delivery_tag = tag = channel._delivery_tag + 1
        reader.unacked[tag] = (entry, self, consumer)
        if not channel._ack_armed:
            channel._watch_acks(tag)
        consumer.unacked += 1
        channel._global_unacked += 1
        self._unacked += 1
        self.stats.delivered += 1
        reader.push(
            (
                reader.callback,
                channel,
                Deliver(reader.tag, tag, False, message.exchange, message.routing_key),
                properties,
                message.body,
            )
        )
        if self._vhost.tracing:
            trace_deliver(channel, self, message, False)  # spec 17.4

    def _shared_properties(self, message: Message, offset: int) -> BasicProperties:
        cache = self._delivered
        properties = cache.get(offset)
        if properties is not None:
            return properties
        properties = _with_offset(message, offset)
        if len(cache) >= _DELIVERED_CACHE:
            del cache[next(iter(cache))]
        cache[offset] = properties
        return properties

    def _passes(self, reader: Reader, offset: int) -> bool:
        """The filter of 12.20-12.22: exact, or whole chunks of ``_chunk_size``."""
        log = self._ready
        size = self._chunk_size
        if size == 1:
            return matches(reader, log.at(offset))
        start = max(log.first_offset, offset - (offset - log.first_offset) % size)
        stop = min(log.next_offset, start + size)
        return any(matches(reader, log.at(o)) for o in range(start, stop))

    # ----------------------------------------------------------------- writing

    def _publish(
        self,
        message: Message,
        ttl_ms: int | None,
        now: float | None = None,
        only_queue: bool = False,
        told: bool = False,
    ) -> bool:
        """Append a message (no TTL, no overflow, no nack: spec 12.19)."""
        self.stats.enqueued += 1
        if now is None:
            now = self._vhost._now()
        entry: QueueEntry
        if only_queue:
            message.seq = next(self._sequence)
            entry = message
        else:
            entry = Entry(message, next(self._sequence))
        log = self._ready
        rolled = log.append(entry, now)
        self._ready_bytes += len(entry.body)
        if self._journal is not None:
            # spec 12.19, 22.19; the record carries the write time
            self._journal.message_enqueued(self, Stored(entry, now))  # type: ignore[arg-type]
        if rolled:
            self._retain(now)
        if self._args.max_age_ms is not None and self._age_timer is None:
            self._arm_age_timer(now)
        consumers = self._consumers
        if consumers:
            consumers.active.update(dict.fromkeys(c for c in consumers if c._state != 2))
            self._dispatch()
        return True

    def _settings_changed(self, old: QueueArguments) -> None:
        """Retention runs when its settings change (12.9); segment and filter sizes are
        read only at creation (12.6)."""
        now = self._vhost._now()
        self._refresh_plain()
        self._retain(now)
        if self._args.max_age_ms is not None and self._age_timer is None:
            self._arm_age_timer(now)

    def apply_retention(self) -> int:
        """Run retention now (the hourly timer's work, 12.9); messages removed."""
        with self._vhost._broker._lock:
            return self._retain(self._vhost._now())

    def _retain(self, now: float) -> int:
        """Delete whole segments, oldest first, never the newest (12.7, 12.8)."""
        log = self._ready
        args = self._args
        keep_from = 0
        if args.max_length_bytes is not None:
            total = 0
            keep_from = len(log.segments) - 1
            for index in range(len(log.segments) - 1, -1, -1):
                size = log.segment_bytes[index]
                if index != len(log.segments) - 1 and total + size > args.max_length_bytes:
                    break
                total += size
                keep_from = index
        if args.max_age_ms is not None:
            horizon = now - args.max_age_ms / 1000
            while keep_from < len(log.segments) - 1 and self._segment_newest(keep_from) < horizon:
                keep_from += 1
        gone = log.drop_segments(keep_from)
        if gone:
            self._ready_bytes = log.total_bytes
            self.stats.dropped["retention"] += len(gone)
            if self._journal is not None:
                self._journal.stream_first_offset(self, log.first_offset)
                for entry in gone:
                    self._journal.message_removed(Retired(entry))  # type: ignore[arg-type]
        return len(gone)

    def _segment_newest(self, index: int) -> float:
        log = self._ready
        stop = (
            (log.segments[index + 1] - log.first_offset)
            if index + 1 < len(log.segments)
            else log.count
        )
        return log.written_at(log.first_offset + stop - 1) if stop > 0 else float("inf")

    def _arm_age_timer(self, now: float) -> None:
        self._age_timer = now + _HOUR
        self._vhost._timers.schedule(self._age_timer, self._on_age_timer, coarse=True)

    def _on_age_timer(self, deadline: float, now: float) -> None:
        self._age_timer = None
        if self._deleted:
            return
        self._retain(now)
        if self._args.max_age_ms is not None:
            self._arm_age_timer(now)

    # ----------------------------------------------------------------- settling (12.15)

    def _requeue(
        self, entry: QueueEntry, now: float, settle: bool = True, how: str = "requeue"
    ) -> None:
        """A nack or reject with requeue only gives credit back (12.15)."""
        self._unacked -= 1
        self.stats.acked += 1

    def _settle_after_requeue(self, now: float) -> None:
        pass

    def _reject(self, entry: QueueEntry, now: float) -> None:
        """A reject without requeue only gives credit back: nothing is dead-lettered."""
        self._unacked -= 1
        self.stats.acked += 1

    def _get(self) -> QueueEntry | None:  # pragma: no cover - refused by _check_get
        return None

    def _purge(self) -> int:  # pragma: no cover - refused by _check_purge
        return 0

    def _touch(self) -> None:
        """Streams have no x-expires."""

    def _restore_first_offset(self, offset: int) -> None:
        log = self._ready
        assert not log.count, "the offset comes before the messages"
        log.first_offset = offset
        log.segments = [offset]

    def _drop_head_over_limit(self, now: float) -> None:
        """Limits are re-applied at recovery (spec 22.23): for a stream, retention."""
        self._retain(now)

    def _restore_ready(
        self,
        messages: list[QueueEntry],
        counters: Mapping[int, int] | None = None,
        crashed: bool = False,
    ) -> None:
        """Messages a store read back, with their write times in ``deadline``."""
        log = self._ready
        now = self._vhost._now()
        for entry in messages:
            written = entry.deadline if entry.deadline is not None else now
            entry.redelivered = False  # a stream never redelivers (12.16), crash or not
            if isinstance(entry, Message):
                entry.deadline = None  # a stream message expires by retention only
            log.append(entry, written)
            self._ready_bytes += len(entry.body)
        self.stats.enqueued += len(messages)


def _with_offset(message: Message, offset: int) -> BasicProperties:
    """The message's properties with its ``x-stream-offset`` header (spec 12.17), for
    readers that share them: the socket server encodes a delivery at once, so a
    shallow copy of the headers is enough (in process: ``offset_properties``)."""
    original = message.properties
    headers = dict(original.headers) if original.headers else {}
    headers["x-stream-offset"] = _LONG(offset)
    return clone_properties(original, headers)
