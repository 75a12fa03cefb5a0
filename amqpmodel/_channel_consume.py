"""Consuming on a channel (spec 7): basic.get, basic.consume and basic.cancel, deliveries, basic.qos."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._access import check_resource
from ._channel_base import amqp_method, call_one
from ._dispatch import release
from ._errors import (
    AMQPError,
    NotAllowed,
    NotImplementedByBroker,
)
from ._methods import BasicCancel, Deliver, GetOk
from ._properties import BasicProperties, Message, check_field_table, delivered_properties
from ._queue import Consumer, Queue
from ._ready import QueueEntry
from ._reply_to import REPLY_TO, ReplyConsumer, check_reply_consumer
from ._timers import INFINITY
from ._trace import trace_deliver
from ._validation import boolean, generate_name, integer, short_string

if TYPE_CHECKING:
    from ._channel import Channel

__all__ = [
    "basic_get",
    "basic_consume",
    "_new_consumer_tag",
    "_drop_reply_consumer",
    "_deliver_reply",
    "basic_cancel",
    "_take_undelivered",
    "_pause_deliveries",
    "_remove_consumer",
    "_forget_consumer",
    "_consumer_queues",
    "_broker_cancel",
    "_deliver",
    "basic_qos",
]


def basic_get(
    self: Channel, queue: str, auto_ack: bool = False
) -> tuple[GetOk, BasicProperties, bytes] | tuple[None, None, None]:
    """basic.get: one message or ``(None, None, None)`` (spec 7.9)."""
    # acquire/release: a with-statement costs twice as much on this hot path
    self._lock.acquire()
    try:
        if self._closed is not None:
            self._enter()
        elif (due := self._timers.next_raw) != INFINITY and due <= self._raw_now():
            self._broker.tick()  # a timer is due: settle it first
        try:
            if type(auto_ack) is not bool:
                auto_ack = boolean(auto_ack, "auto_ack")
            target = self._vhost.queues.get(queue) if type(queue) is str else None
            if target is None or (target.owner is not None and target.owner is not self.connection):
                # the general path: name checks, the last-declared queue, errors
                name = self._queue_name(queue)
                check_resource(self, "read", "queue", name)  # spec 15.4: before existence
                target = self._existing_queue(name)
            elif ("read", "queue", queue) not in self._access.cache:
                check_resource(self, "read", "queue", queue)
            target._check_get()
            entry = target._get()
        except AMQPError as error:
            self._fail(error, 60, 70)
            raise
        if entry is None:
            return None, None, None
        self._delivery_tag += 1
        tag = self._delivery_tag
        stats = target.stats
        stats.delivered += 1
        if auto_ack is True:
            stats.acked += 1
            if target._journal is not None:
                target._journal.message_removed(entry)
        else:
            self._unacked[tag] = (entry, target, None)
            if not self._ack_armed:
                self._watch_acks(tag)
            target._unacked += 1
        # an entry reads like its message (a Message is its own entry)
        method = GetOk(
            tag, entry.redelivered, entry.exchange, entry.routing_key, target._ready.count
        )
        properties = entry.properties
        if properties.headers is not None and self.connection._private_properties:
            properties = delivered_properties(properties)  # the queue's copy stays as it is
        if self._vhost.tracing:
            trace_deliver(self, target, entry.message, entry.redelivered)  # spec 17.4
        return method, properties, entry.body
    finally:
        self._lock.release()


@amqp_method(60, 20)
def basic_consume(
    self: Channel,
    queue: str,
    on_message_callback: Callable[..., Any],
    auto_ack: bool = False,
    exclusive: bool = False,
    consumer_tag: str | None = None,
    arguments: dict[str, Any] | None = None,
    on_cancel_callback: Callable[..., Any] | None = None,
) -> str:
    """Subscribe; ``on_message_callback(channel, method, properties, body)`` runs on drain."""
    if not callable(on_message_callback):
        raise TypeError("on_message_callback must be callable")
    auto_ack, exclusive = boolean(auto_ack, "auto_ack"), boolean(exclusive, "exclusive")
    tag = short_string(consumer_tag if consumer_tag is not None else "", "consumer tag")
    args = check_field_table(arguments if arguments is not None else {}, "arguments")
    if queue == REPLY_TO:
        check_reply_consumer(self, auto_ack)
        tag = self._new_consumer_tag(tag)
        reply_consumer = ReplyConsumer(self, tag, on_message_callback)
        self._reply_consumer = reply_consumer
        self._vhost._reply_consumers[reply_consumer.key] = reply_consumer
        return tag
    name = self._queue_name(queue)
    check_resource(self, "read", "queue", name)  # spec 15.4: before existence
    target = self._existing_queue(name)
    tag = self._new_consumer_tag(tag)
    priority = target._check_consume(self, auto_ack, exclusive, args)
    target._registered += 1
    consumer = Consumer(
        tag,
        self,
        target,
        on_message_callback,
        auto_ack=auto_ack,
        exclusive=exclusive,
        priority=priority,
        prefetch=self._prefetch,
        on_cancel=on_cancel_callback,
        registered=target._registered,
        arguments=args,
    )
    self._consumers[tag] = consumer
    self._consumer_seq += 1
    consumer._channel_seq = self._consumer_seq
    consumed = self._consumed.get(target)
    if consumed is None:
        consumed = self._consumed[target] = {}
    consumed[consumer] = None
    target._add_consumer(consumer)
    return tag


def _new_consumer_tag(self: Channel, tag: str) -> str:
    if tag == "":
        return generate_name("amq.ctag-")
    reply_consumer = self._reply_consumer
    if tag in self._consumers or (reply_consumer is not None and reply_consumer.tag == tag):
        raise NotAllowed(f"attempt to reuse consumer tag '{tag}'")  # spec 7.1
    return tag


def _drop_reply_consumer(self: Channel) -> None:
    reply_consumer = self._reply_consumer
    if reply_consumer is not None:
        self._reply_consumer = None
        self._vhost._reply_consumers.pop(reply_consumer.key, None)


def _deliver_reply(self: Channel, reply_consumer: ReplyConsumer, message: Message) -> None:
    """A direct reply: straight to the consumer, no queue, no ack."""
    self._delivery_tag += 1
    properties = message.properties
    if self.connection._private_properties:
        properties = delivered_properties(properties)  # the publisher's object stays as it is
    self.connection._push(
        (
            reply_consumer.callback,
            self,
            Deliver(
                reply_consumer.tag,
                self._delivery_tag,
                False,
                message.exchange,
                message.routing_key,
            ),
            properties,
            message.body,
        )
    )


@amqp_method(60, 30)
def basic_cancel(self: Channel, consumer_tag: str) -> list[tuple[Deliver, BasicProperties, bytes]]:
    """Cancel a consumer (unknown tags are fine, spec 7.7).

    As pika's BlockingChannel does, deliveries assigned to the consumer but
    not yet given to its callback are requeued (manual acks) or returned
    as a list (auto_ack); its other unacked messages stay unacked (2.12).
    """
    tag = short_string(consumer_tag, "consumer tag")
    consumer = self._consumers.get(tag)
    if consumer is None:
        if self._reply_consumer is not None and self._reply_consumer.tag == tag:
            self._drop_reply_consumer()
        return []
    undelivered = self._take_undelivered(consumer)
    self._remove_consumer(consumer)
    returned = []
    for method, properties, body in undelivered:
        if consumer.auto_ack:
            returned.append((method, properties, body))
        else:
            self._settle_tags([method.delivery_tag], "cancel")
    return returned


def _take_undelivered(self: Channel, consumer: Consumer) -> list[tuple[Any, Any, Any]]:
    """Deliveries to ``consumer`` not yet run: pending, or behind the running callback."""
    mine = []
    for events in (self.connection._batch, self.connection._pending):
        if not events:
            continue
        found = [
            event
            for event in events
            if event[1] is self
            and isinstance(event[2], Deliver)
            and event[2].consumer_tag == consumer.tag
        ]
        for event in found:
            try:
                events.remove(event)
            except ValueError:  # another thread's drain has just taken it
                continue
            mine.append(event)
    mine.sort(key=lambda event: event[2].delivery_tag)
    return [(event[2], event[3], event[4]) for event in mine]


def _pause_deliveries(self: Channel, paused: bool) -> None:
    """Hold back (or resume) deliveries to this channel's consumers.

    A driver whose client stops reading pauses its channels so that ready
    messages stay in their queues, as RabbitMQ's credit flow keeps them,
    instead of piling up in a socket buffer. Called under the broker lock.
    """
    if self._paused == paused:
        return
    self._paused = paused
    if not paused:
        if self._held_by_pause:
            release(self._held_by_pause)
        for queue in self._consumer_queues():
            if queue._ready.count and not queue._deleted:
                queue._dispatch()


def _consumer_queues(self: Channel) -> list[Queue]:
    """The queues this channel consumes from, in the order of their first consumer here.

    The order in which queues get to use credit the channel frees (spec 7.5),
    found without a walk over every consumer of the channel.
    """
    consumed = self._consumed
    if len(consumed) < 2:
        return list(consumed)
    return sorted(consumed, key=lambda queue: next(iter(consumed[queue]))._channel_seq)


def _forget_consumer(self: Channel, consumer: Consumer) -> None:
    self._consumers.pop(consumer.tag, None)
    consumed = self._consumed.get(consumer.queue)
    if consumed is not None:
        consumed.pop(consumer, None)
        if not consumed:
            del self._consumed[consumer.queue]


def _remove_consumer(self: Channel, consumer: Consumer) -> None:
    self._forget_consumer(consumer)
    consumer.queue._remove_consumer(consumer)


def _broker_cancel(self: Channel, consumer: Consumer) -> None:
    """The queue went away: cancel the consumer and tell the client (spec 7.8)."""
    self._forget_consumer(consumer)
    consumer.queue._consumers.remove(consumer)
    if not self.connection.consumer_cancel_notify:
        return
    method = BasicCancel(consumer.tag)
    if consumer.on_cancel is not None:
        self.connection._push((call_one, self, consumer.on_cancel, method, None))
    for callback in self._cancel_callbacks:
        self.connection._push((call_one, self, callback, method, None))


def _deliver(self: Channel, consumer: Consumer, queue: Queue, entry: QueueEntry) -> None:
    """Assign a message to a consumer: delivery tag, unacked record, pending callback."""
    self._delivery_tag += 1
    tag = self._delivery_tag
    queue.stats.delivered += 1
    if consumer.auto_ack:
        queue.stats.acked += 1
        if queue._journal is not None:
            queue._journal.message_removed(entry)
    else:
        self._unacked[tag] = (entry, queue, consumer)
        if not self._ack_armed:
            self._watch_acks(tag)
        if consumer.timeout_watch is not None:
            consumer.timeout_watch.delivered(tag, self._now())  # 4.3 quorum (spec 11.32)
        consumer.unacked += 1
        self._global_unacked += 1
        queue._unacked += 1
    properties = entry.properties
    if (
        properties.headers is not None
        and self.connection._private_properties
        and not entry.properties_owned
    ):
        properties = delivered_properties(properties)  # the queue's copy stays as it is
    self.connection._push(
        (
            consumer.callback,
            self,
            Deliver(consumer.tag, tag, entry.redelivered, entry.exchange, entry.routing_key),
            properties,
            entry.body,
        )
    )
    if self._vhost.tracing:
        trace_deliver(self, queue, entry.message, entry.redelivered)  # spec 17.4


@amqp_method(60, 10)
def basic_qos(
    self: Channel, prefetch_size: int = 0, prefetch_count: int = 0, global_qos: bool = False
) -> None:
    prefetch_size = integer(prefetch_size, "prefetch_size", 32)
    prefetch_count = integer(prefetch_count, "prefetch_count", 16)  # spec 10.4
    global_qos = boolean(global_qos, "global_qos")
    if prefetch_size:
        raise NotImplementedByBroker(f"prefetch_size!=0 ({prefetch_size})")  # spec 7.5
    if global_qos and not self._broker.rabbitmq_version.global_qos:
        global_qos = False  # spec 0.x.1: 4.3 denies global qos and takes it as per-consumer
    if global_qos:
        self._global_prefetch = prefetch_count  # spec 0.1
        if self._held_by_prefetch and (not prefetch_count or self._global_unacked < prefetch_count):
            release(self._held_by_prefetch)
        for queue in self._consumer_queues():
            if queue._ready.count:
                queue._dispatch()
    else:
        self._prefetch = prefetch_count
