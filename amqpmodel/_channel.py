"""Channels: the AMQP methods, delivery tags, unacked records, prefetch, confirms, transactions, returns.

Method and argument names follow pika's ``BlockingChannel``. Every method
takes the broker lock, settles due timers, does its work, and queues any
callbacks for the connection's next drain; a refusal raises the
``AMQPError`` RabbitMQ would send, after closing this channel (spec 9.3) or
the whole connection (spec 9.1).
"""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import attrs

from ._arguments import (
    check_exchange_equivalent,
    check_queue_equivalent,
    parse_queue_arguments,
    type_name,
)
from ._errors import (
    AccessRefused,
    AMQPError,
    ChannelClosed,
    ConnectionClosed,
    NackError,
    NotAllowed,
    NotFound,
    NotImplementedByBroker,
    PreconditionFailed,
    ResourceLocked,
    UnroutableError,
)
from ._exchange import Exchange, exchange_type_factory
from ._methods import (
    BasicAck,
    BasicCancel,
    BasicNack,
    BasicReturn,
    Deliver,
    ExchangeBindOk,
    ExchangeDeclareOk,
    ExchangeDeleteOk,
    ExchangeUnbindOk,
    GetOk,
    QueueBindOk,
    QueueDeclareOk,
    QueueDeleteOk,
    QueuePurgeOk,
    QueueUnbindOk,
)
from ._properties import (
    EMPTY_PROPERTIES,
    Annotations,
    BasicProperties,
    Message,
    check_field_table,
    to_properties,
)
from ._queue import Consumer, Queue
from ._ready import QueueEntry
from ._reply_to import REPLY_TO, REPLY_TO_PREFIX, ReplyConsumer, check_reply_consumer, reply_key
from ._timers import INFINITY
from ._validation import (
    boolean,
    entity_name,
    generate_name,
    integer,
    parse_expiration,
    short_string,
)

if TYPE_CHECKING:
    from ._connection import Connection

__all__ = ["Channel"]

P = ParamSpec("P")
R = TypeVar("R")

# (entry, queue, consumer or None for basic.get): what an unacked delivery tag refers to
_Unacked = tuple[QueueEntry, Queue, "Consumer | None"]


def _amqp_method(
    class_id: int, method_id: int
) -> Callable[[Callable[Concatenate[Channel, P], R]], Callable[Concatenate[Channel, P], R]]:
    """Run a channel method under the broker lock, turning refusals into closes (spec 9)."""

    def decorate(
        method: Callable[Concatenate[Channel, P], R],
    ) -> Callable[Concatenate[Channel, P], R]:
        @functools.wraps(method)
        def wrapper(self: Channel, /, *args: P.args, **kwargs: P.kwargs) -> R:
            # acquire/release: a with-statement costs twice as much on this hot path
            self._lock.acquire()
            try:
                self._enter()
                try:
                    return method(self, *args, **kwargs)
                except AMQPError as error:
                    self._fail(error, class_id, method_id)
                    raise
            finally:
                self._lock.release()

        return wrapper

    return decorate


def _call_one(channel: Channel, callback: Callable[[Any], Any], argument: Any, _: Any) -> None:
    callback(argument)


def _call_after_commit(channel: Channel, callback: Callable[[], Any], _: Any, __: Any) -> None:
    callback()


class Channel:
    """An AMQP channel of a connection (pika ``BlockingChannel`` names and arguments)."""

    def __init__(self, connection: Connection, channel_number: int) -> None:
        self.connection = connection
        self.channel_number = channel_number
        self._broker = connection.broker
        self._lock = connection.broker._lock
        self._timers = connection.broker._timers
        self._now = connection.broker.clock.now
        self._raw_now = connection.broker._raw_now  # for the hot paths' due-timer check
        self._vhost = connection.vhost
        self._queues = connection.vhost.queues  # the same dict, for the publish hot path
        self._closed: tuple[int, str] | None = None
        self._delivery_tag = 0
        self._unacked: dict[int, _Unacked] = {}
        self._consumers: dict[str, Consumer] = {}
        self._prefetch = 0  # per-consumer limit for consumers created from now on (spec 7.5)
        self._global_prefetch = 0
        self._global_unacked = 0  # consumer deliveries awaiting ack (basic.get excluded)
        self._last_queue: str | None = None
        self._confirming = False
        self._publish_seq = 0
        self._ack_nack_callback: Callable[[Any], Any] | None = None
        self._held_confirms = 0  # confirms waiting for the store's commit (spec 22.28)
        self._transactional = False
        self._tx_publishes: list[tuple[Message, list[Queue], bool, int | None]] = []
        self._tx_settles: list[tuple[str, list[tuple[int, _Unacked]], bool]] = []
        self._return_callbacks: list[Callable[..., Any]] = []
        self._cancel_callbacks: list[Callable[..., Any]] = []
        self._close_callbacks: list[Callable[..., Any]] = []
        self._consuming = False
        self._generator: _ConsumeGenerator | None = None
        # consumer ack timeout (spec 0.8): (delivery tag, time) marks taken while
        # unacked deliveries exist; a delivery with a tag up to a mark's tag was
        # made no later than that mark's time. Empty when not watching.
        self._ack_marks: list[tuple[int, float]] = []
        self._ack_hint = 0  # an unacked delivery that can time out, if still unacked
        self._ack_armed = False  # a check of the oldest unacked delivery's age is due
        self._reply_consumer: ReplyConsumer | None = None  # direct reply-to
        self._paused = False  # deliveries held back: the client is not reading (flow control)

    def __repr__(self) -> str:
        state = "open" if self._closed is None else "closed"
        return f"<Channel {self.channel_number} {state} unacked={len(self._unacked)} consumers={len(self._consumers)}>"

    # ----------------------------------------------------------------- state

    @property
    def is_open(self) -> bool:
        return self._closed is None

    @property
    def is_closed(self) -> bool:
        return self._closed is not None

    @property
    def consumer_tags(self) -> list[str]:
        return list(self._consumers)

    @property
    def next_publish_seq_no(self) -> int:
        return self._publish_seq + 1

    @property
    def unacked_delivery_tags(self) -> list[int]:
        return list(self._unacked)

    def _enter(self) -> None:
        if self._closed is not None:
            connection_closed = self.connection._closed
            if connection_closed is not None:
                raise ConnectionClosed(*connection_closed)
            raise ChannelClosed(*self._closed)
        self._broker.tick()
        if self._closed is not None:  # the tick closed it (consumer ack timeout, spec 0.8)
            raise ChannelClosed(*self._closed)

    def _fail(self, error: AMQPError, class_id: int, method_id: int) -> None:
        if not error.class_id:
            error.class_id, error.method_id = class_id, method_id
        if error.is_connection_error:
            self.connection._close_by_broker(error.reply_code, error.reply_text, error)
        else:
            self._shutdown(error.reply_code, error.reply_text, error)

    def _shutdown(self, reply_code: int, reply_text: str, error: AMQPError | None) -> None:
        """Close: requeue unacked (spec 7.13), drop consumers and the transaction (9.3)."""
        if self._closed is not None:
            return
        self._closed = (reply_code, reply_text)
        self._drop_reply_consumer()
        self._tx_publishes.clear()
        for _, settles, _ in self._tx_settles:
            for tag, record in settles:
                self._unacked[tag] = record
        self._tx_settles.clear()
        for consumer in list(self._consumers.values()):
            self._remove_consumer(consumer)
        self._requeue_all()
        self.connection._channels.pop(self.channel_number, None)
        for callback in self._close_callbacks:
            self.connection._push((_call_close_callback, None, callback, self, error))
        self._broker._signal(self.connection)

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Close the channel; idempotent (spec 7.13)."""
        with self._lock:
            self._shutdown(reply_code, reply_text, None)

    # ----------------------------------------------------------------- name shortcuts (spec 2.2)

    def _queue_name(self, queue: Any) -> str:
        if (
            type(queue) is str
            and 0 < len(queue) < 64
            and queue.isascii()
            and "\r" not in queue
            and "\n" not in queue
        ):
            return queue  # the common case, without the general checks
        name = entity_name(queue, "queue name")
        if name == "":
            if self._last_queue is None:
                raise NotFound("no previously declared queue")
            return self._last_queue
        return name

    def _existing_queue(self, name: str) -> Queue:
        queue = self._vhost.queues.get(name)
        if queue is None:
            raise NotFound(f"no queue '{name}' in vhost '{self._vhost.name}'")
        self._check_exclusive(queue)
        return queue

    def _check_exclusive(self, queue: Queue) -> None:
        if queue.owner is not None and queue.owner is not self.connection:
            raise ResourceLocked(
                f"cannot obtain exclusive access to locked queue '{queue.name}' in vhost "
                f"'{self._vhost.name}'. It could be originally declared on another connection "
                "or the exclusive property value does not match that of the original declaration."
            )

    def _existing_exchange(self, name: str) -> Exchange:
        exchange = self._vhost.exchanges.get(name)
        if exchange is None:
            raise NotFound(f"no exchange '{name}' in vhost '{self._vhost.name}'")
        return exchange

    @staticmethod
    def _not_default(name: str) -> None:
        if name == "":
            raise AccessRefused("operation not permitted on the default exchange")  # spec 1.3

    # ----------------------------------------------------------------- exchanges (spec 1)

    @_amqp_method(40, 10)
    def exchange_declare(
        self,
        exchange: str,
        exchange_type: Any = "direct",
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> ExchangeDeclareOk:
        name = entity_name(exchange, "exchange name")
        type_name = short_string(getattr(exchange_type, "value", exchange_type), "exchange type")
        passive, durable = boolean(passive, "passive"), boolean(durable, "durable")
        auto_delete, internal = boolean(auto_delete, "auto_delete"), boolean(internal, "internal")
        args = check_field_table(arguments if arguments is not None else {}, "arguments")
        self._not_default(name)
        vhost = self._vhost
        if passive:
            self._existing_exchange(name)
            return ExchangeDeclareOk()
        if exchange_type_factory(type_name) is None:
            raise PreconditionFailed(f"unknown exchange type '{type_name}'")  # spec 1.6
        existing = vhost.exchanges.get(name)
        if existing is None:
            if name.startswith("amq."):
                raise AccessRefused(
                    f"exchange name '{name}' contains reserved prefix 'amq.*'"
                )  # 1.5
            created = vhost.exchanges[name] = Exchange(
                name,
                type_name,
                durable=durable,
                auto_delete=auto_delete,
                internal=internal,
                arguments=args,
                vhost_name=vhost.name,
            )
            if durable and self._broker._journal is not None:
                self._broker._journal.exchange_declared(created)  # spec 22.1
                self._broker._journal.sync_entities()
        else:
            check_exchange_equivalent(
                vhost.describe("exchange", name),
                (
                    existing.type,
                    existing.durable,
                    existing.auto_delete,
                    existing.internal,
                    existing.arguments.get("alternate-exchange"),
                ),
                (type_name, durable, auto_delete, internal, args.get("alternate-exchange")),
            )
        return ExchangeDeclareOk()

    @_amqp_method(40, 20)
    def exchange_delete(
        self, exchange: str | None = None, if_unused: bool = False
    ) -> ExchangeDeleteOk:
        name = entity_name(exchange if exchange is not None else "", "exchange name")
        if_unused = boolean(if_unused, "if_unused")
        self._not_default(name)
        vhost = self._vhost
        if name.startswith("amq."):
            raise AccessRefused(
                f"deletion of system exchange '{name}' in vhost '{vhost.name}' not allowed"
            )
        existing = vhost.exchanges.get(name)
        if existing is None:
            return ExchangeDeleteOk()  # spec 1.9
        if if_unused and existing._bindings_out:
            raise PreconditionFailed(f"exchange '{name}' in vhost '{vhost.name}' in use")
        vhost.delete_exchange(existing)
        self._sync_entities()
        return ExchangeDeleteOk()

    def _binding_parts(
        self, source: Any, routing_key: Any, arguments: dict[str, Any] | None
    ) -> tuple[str, str, dict[str, Any]]:
        return (
            entity_name(source, "exchange name"),
            short_string(routing_key, "routing key"),
            check_field_table(arguments if arguments is not None else {}, "arguments"),
        )

    @_amqp_method(40, 30)
    def exchange_bind(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> ExchangeBindOk:
        destination_name = entity_name(destination, "destination exchange name")
        source_name, key, args = self._binding_parts(source, routing_key, arguments)
        self._not_default(source_name)
        self._not_default(destination_name)
        source_exchange = self._existing_exchange(source_name)
        destination_exchange = self._existing_exchange(destination_name)
        self._vhost.add_binding(source_exchange, destination_exchange, key, args)
        self._sync_entities()
        return ExchangeBindOk()

    @_amqp_method(40, 40)
    def exchange_unbind(
        self,
        destination: str | None = None,
        source: str | None = None,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> ExchangeUnbindOk:
        destination_name = entity_name(
            destination if destination is not None else "", "destination exchange name"
        )
        source_name, key, args = self._binding_parts(
            source if source is not None else "", routing_key, arguments
        )
        self._not_default(source_name)
        self._not_default(destination_name)
        source_exchange = self._vhost.exchanges.get(source_name)
        destination_exchange = self._vhost.exchanges.get(destination_name)
        if source_exchange is not None and destination_exchange is not None:
            self._vhost.remove_binding(source_exchange, destination_exchange, key, args)
            self._sync_entities()
        return ExchangeUnbindOk()

    # ----------------------------------------------------------------- queues (spec 2)

    @_amqp_method(50, 10)
    def queue_declare(
        self,
        queue: str,
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> QueueDeclareOk:
        name = entity_name(queue, "queue name")
        passive, durable = boolean(passive, "passive"), boolean(durable, "durable")
        exclusive, auto_delete = (
            boolean(exclusive, "exclusive"),
            boolean(auto_delete, "auto_delete"),
        )
        args = check_field_table(arguments if arguments is not None else {}, "arguments")
        vhost = self._vhost
        if name == REPLY_TO or (
            name.startswith(REPLY_TO_PREFIX) and name in vhost._reply_consumers
        ):
            return QueueDeclareOk(name, 0, 1)  # direct reply-to's pseudo-queue, as RabbitMQ
        if passive:
            existing = self._existing_queue(name)  # "" is not the last queue here: 404
            existing._touch()  # spec 2.9
            self._last_queue = name
            return QueueDeclareOk(name, existing.messages_ready, existing.consumer_count)
        if name == "":
            name = generate_name("amq.gen-")
        elif name.startswith("amq."):
            raise AccessRefused(f"queue name '{name}' contains reserved prefix 'amq.*'")  # spec 2.1
        where = vhost.describe("queue", name)
        found = vhost.queues.get(name)
        if found is not None:
            existing = found
            self._check_exclusive(existing)
            if existing.exclusive != exclusive:
                raise ResourceLocked(
                    f"cannot obtain exclusive access to locked queue '{name}' in vhost "
                    f"'{vhost.name}'. It could be originally declared on another connection "
                    "or the exclusive property value does not match that of the original declaration."
                )  # spec 2.4
            check_queue_equivalent(
                where,
                (existing.durable, existing.auto_delete, existing.arguments),
                (durable, auto_delete, args),
            )
            existing._touch()
        else:
            parsed = parse_queue_arguments(args, where)
            owner = self.connection if exclusive else None
            existing = Queue(
                vhost,
                name,
                durable=durable,
                auto_delete=auto_delete,
                owner=owner,
                arguments=args,
                parsed=parsed,
            )
            vhost.queues[name] = existing
            if owner is not None:
                owner._exclusive_queues[name] = existing
            elif durable and self._broker._journal is not None:
                self._broker._journal.queue_declared(existing)  # spec 22.1, 22.7
            existing._touch()
        self._last_queue = name
        self._sync_entities()
        return QueueDeclareOk(name, existing.messages_ready, existing.consumer_count)

    def _queue_binding_parts(
        self, queue: Any, exchange: Any, routing_key: Any, arguments: dict[str, Any] | None
    ) -> tuple[Queue, Exchange, str, dict[str, Any]]:
        raw_queue = entity_name(queue, "queue name")
        queue_name = self._queue_name(raw_queue)
        exchange_name = entity_name(exchange if exchange is not None else "", "exchange name")
        if routing_key is None:
            routing_key = raw_queue  # as pika: no routing key means the queue name
        key = short_string(routing_key, "routing key")
        if raw_queue == "" and key == "":
            key = queue_name  # spec 2.2: both empty mean the last declared queue
        args = check_field_table(arguments if arguments is not None else {}, "arguments")
        self._not_default(exchange_name)
        source = self._existing_exchange(exchange_name)
        target = self._existing_queue(queue_name)
        return target, source, key, args

    @_amqp_method(50, 20)
    def queue_bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> QueueBindOk:
        target, source, key, args = self._queue_binding_parts(
            queue, exchange, routing_key, arguments
        )
        self._vhost.add_binding(source, target, key, args)
        self._sync_entities()
        return QueueBindOk()

    @_amqp_method(50, 50)
    def queue_unbind(
        self,
        queue: str,
        exchange: str | None = None,
        routing_key: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> QueueUnbindOk:
        try:
            target, source, key, args = self._queue_binding_parts(
                queue, exchange, routing_key, arguments
            )
        except NotFound:
            return QueueUnbindOk()  # as RabbitMQ: unbinding from or to nothing is fine
        self._vhost.remove_binding(source, target, key, args)
        self._sync_entities()
        return QueueUnbindOk()

    @_amqp_method(50, 30)
    def queue_purge(self, queue: str) -> QueuePurgeOk:
        target = self._existing_queue(self._queue_name(queue))
        return QueuePurgeOk(target._purge())  # spec 2.11

    @_amqp_method(50, 40)
    def queue_delete(
        self, queue: str, if_unused: bool = False, if_empty: bool = False
    ) -> QueueDeleteOk:
        name = self._queue_name(queue)
        if_unused, if_empty = boolean(if_unused, "if_unused"), boolean(if_empty, "if_empty")
        vhost = self._vhost
        target = vhost.queues.get(name)
        if target is None:
            return QueueDeleteOk(0)  # spec 2.10
        self._check_exclusive(target)
        if if_unused and target._consumers:
            raise PreconditionFailed(f"queue '{name}' in vhost '{vhost.name}' in use")
        if if_empty and target.messages_ready:
            raise PreconditionFailed(f"queue '{name}' in vhost '{vhost.name}' not empty")
        count = vhost._delete_queue(target, reason="deleted")
        self._sync_entities()
        return QueueDeleteOk(count)

    # ----------------------------------------------------------------- publishing (spec 1, 3.2, 8)

    def basic_publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: BasicProperties | Any = None,
        mandatory: bool = False,
        immediate: bool = False,
    ) -> None:
        """Publish a message. On a confirming channel, raise ``UnroutableError`` for a
        returned mandatory message and ``NackError`` for a nacked one (as pika)."""
        # acquire/release: a with-statement costs twice as much on this hot path
        self._lock.acquire()
        try:
            if self._closed is not None:
                self._enter()
            elif (due := self._timers.next_raw) != INFINITY and due <= self._raw_now():
                self._broker.tick()  # a timer is due: settle it first
            if (
                exchange == ""
                and (properties is None or properties is EMPTY_PROPERTIES)
                and type(body) is bytes
                and not immediate
                and not self._transactional
            ):
                # the hot path: the default exchange to an existing plain queue that
                # nobody consumes from; anything else (errors included) takes the
                # general path below
                queue = self._queues.get(routing_key)
                if (
                    queue is not None
                    and queue._plain
                    and not queue._consumers
                    and len(body) <= self._broker.max_message_size
                ):
                    queue.stats.enqueued += 1
                    # the message is its own queue entry (see Message)
                    message = Message(
                        "", routing_key, EMPTY_PROPERTIES, body, None, next(queue._sequence)
                    )
                    queue._ready.push(message)
                    queue._ready_bytes += len(body)
                    if self._confirming:  # a plain queue never refuses: ack (spec 8.2)
                        self._publish_seq += 1
                        if self._ack_nack_callback is not None:
                            self._confirm(True)
                    return
            try:
                outcome = self._publish(
                    exchange, routing_key, body, properties, mandatory, immediate
                )
            except AMQPError as error:
                self._fail(error, 60, 40)
                raise
        finally:
            self._lock.release()
        if outcome is not None:
            raise outcome

    def _publish(
        self,
        exchange: Any,
        routing_key: Any,
        body: Any,
        properties: Any,
        mandatory: bool,
        immediate: bool,
    ) -> Exception | None:
        if immediate:
            raise NotImplementedByBroker("immediate=true")  # spec 8.5
        if type(body) is not bytes:
            body = _to_body(body)
        if type(exchange) is not str or len(exchange) > 127:
            exchange = entity_name(exchange, "exchange name")
        if type(routing_key) is not str or len(routing_key) > 63:
            routing_key = short_string(routing_key, "routing key")
        vhost = self._vhost
        target = vhost.exchanges.get(exchange)
        if target is None:
            if not exchange.isascii():
                entity_name(exchange, "exchange name")  # 501 for a name that is not UTF-8
            raise NotFound(f"no exchange '{exchange}' in vhost '{vhost.name}'")  # spec 1.8
        if target.internal:
            raise AccessRefused(
                f"cannot publish to internal exchange '{exchange}' in vhost '{vhost.name}'"
            )
        if len(body) > self._broker.max_message_size:
            raise PreconditionFailed(
                f"message size {len(body)} is larger than configured max size {self._broker.max_message_size}"
            )
        if properties is None or properties is EMPTY_PROPERTIES:
            props = EMPTY_PROPERTIES
            keys: tuple[str, ...] = (routing_key,)
            annotations = None
            ttl_ms = None
        else:
            props = to_properties(properties)
            if props.user_id is not None and props.user_id != self.connection.user:
                raise PreconditionFailed(
                    f"user_id property set to '{props.user_id}' but authenticated user was '{self.connection.user}'"
                )  # spec 8.6
            ttl_ms = parse_expiration(props.expiration) if props.expiration is not None else None
            keys, props, annotations = _cc_bcc(routing_key, props)
            if props.reply_to == REPLY_TO:
                props = attrs.evolve(props, reply_to=reply_key(self))
        message = Message(exchange, routing_key, props, body, annotations)
        queues = vhost.route(target, keys, props.headers)
        if self._confirming:
            self._publish_seq += 1
        if (
            not queues
            and target is vhost.default_exchange
            and routing_key.startswith(REPLY_TO_PREFIX)
        ):
            reply_consumer = vhost._reply_consumers.get(routing_key)
            if reply_consumer is not None:  # direct reply-to: no queue in between
                reply_consumer.channel._deliver_reply(reply_consumer, message)
                if self._confirming:
                    self._confirm(True)
                return None
        if self._transactional:
            self._tx_publishes.append((message, queues, mandatory, ttl_ms))  # spec 8.8
            return None
        if len(queues) == 1 and not self._confirming:
            queues[0]._publish(message, ttl_ms, None, True)
            return None
        return self._deliver_publish(message, queues, mandatory, ttl_ms)

    def _deliver_publish(
        self, message: Message, queues: list[Queue], mandatory: bool, ttl_ms: int | None
    ) -> Exception | None:
        """Enqueue a routed message; return what a confirming basic_publish must raise."""
        if not queues:
            self._vhost.dropped["unroutable"] += 1
            if mandatory:
                self._return(message)  # spec 8.4
                if self._confirming:
                    self._confirm(True)  # spec 8.2: return before ack
                    return UnroutableError([_ReturnedMessage(message)])
            if self._confirming:
                self._confirm(True)
            return None
        rejected = self._enqueue(message, queues, ttl_ms)
        if self._confirming:
            self._confirm(not rejected)
            if rejected or (self._ack_nack_callback is None and not self._wait_for_store()):
                return NackError([_ReturnedMessage(message)])
        return None

    @staticmethod
    def _enqueue(message: Message, queues: list[Queue], ttl_ms: int | None) -> bool:
        """Hand a routed message to its queues; True when at least one refused it."""
        if len(queues) == 1:
            return not queues[0]._publish(message, ttl_ms, None, True)
        rejected = False
        for queue in queues:
            if not queue._publish(message, ttl_ms):
                rejected = True  # spec 5.4: still lands in the others
        return rejected

    def _return(self, message: Message) -> None:
        method = BasicReturn(312, "NO_ROUTE", message.exchange, message.routing_key)
        for callback in self._return_callbacks:
            self.connection._push((callback, self, method, message.properties, message.body))

    def _confirm(self, ack: bool) -> None:
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
            BasicAck(self._publish_seq, False)
            if ack
            else BasicNack(self._publish_seq, False, False)
        )
        self.connection._push((_call_one, self, callback, method, None))

    def _release_confirm(self, seq: int, ack: bool) -> None:
        """The store committed (or failed) the batch this confirm waited for."""
        self._held_confirms -= 1
        callback = self._ack_nack_callback
        if callback is not None and self._closed is None:
            method = BasicAck(seq, False) if ack else BasicNack(seq, False, False)
            self.connection._push((_call_one, self, callback, method, None))

    def _after_commit(self, callback: Callable[[], Any], error: BaseException | None) -> None:
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

    def _sync_entities(self) -> None:
        journal = self._broker._journal
        if journal is not None:
            journal.sync_entities()

    def _wait_for_store(self) -> bool:
        """A blocking confirmed publish or tx.commit: wait until what it wrote is
        committed (spec 22.28, 22.33); False when the write failed."""
        journal = self._broker._journal
        if journal is None or not journal.dirty:
            return True
        return journal.wait(journal.open_batch()) is None

    # ----------------------------------------------------------------- consuming (spec 7)

    def basic_get(
        self, queue: str, auto_ack: bool = False
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
                if target is None or (
                    target.owner is not None and target.owner is not self.connection
                ):
                    # the general path: name checks, the last-declared queue, errors
                    target = self._existing_queue(self._queue_name(queue))
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
            return method, entry.properties, entry.body
        finally:
            self._lock.release()

    @_amqp_method(60, 20)
    def basic_consume(
        self,
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
        target = self._existing_queue(self._queue_name(queue))
        tag = self._new_consumer_tag(tag)
        where = self._vhost.describe("queue", target.name)
        priority = args.get("x-priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise PreconditionFailed(
                f"invalid arg 'x-priority' for {where}: \"expected integer, got {type_name(priority)}\""
            )
        consumers = target._consumers
        if (exclusive and (consumers or target._args.single_active_consumer)) or any(
            c.exclusive for c in consumers
        ):
            raise AccessRefused(
                f"queue '{target.name}' in vhost '{self._vhost.name}' in exclusive use"
            )  # 7.3
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
        )
        self._consumers[tag] = consumer
        target._add_consumer(consumer)
        return tag

    def _new_consumer_tag(self, tag: str) -> str:
        if tag == "":
            return generate_name("amq.ctag-")
        reply_consumer = self._reply_consumer
        if tag in self._consumers or (reply_consumer is not None and reply_consumer.tag == tag):
            raise NotAllowed(f"attempt to reuse consumer tag '{tag}'")  # spec 7.1
        return tag

    def _drop_reply_consumer(self) -> None:
        reply_consumer = self._reply_consumer
        if reply_consumer is not None:
            self._reply_consumer = None
            self._vhost._reply_consumers.pop(reply_consumer.key, None)

    def _deliver_reply(self, reply_consumer: ReplyConsumer, message: Message) -> None:
        """A direct reply: straight to the consumer, no queue, no ack."""
        self._delivery_tag += 1
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
                message.properties,
                message.body,
            )
        )

    @_amqp_method(60, 30)
    def basic_cancel(self, consumer_tag: str) -> list[tuple[Deliver, BasicProperties, bytes]]:
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
                self._settle_tags([method.delivery_tag], "requeue")
        return returned

    def _take_undelivered(self, consumer: Consumer) -> list[tuple[Any, Any, Any]]:
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

    def _pause_deliveries(self, paused: bool) -> None:
        """Hold back (or resume) deliveries to this channel's consumers.

        A driver whose client stops reading pauses its channels so that ready
        messages stay in their queues, as RabbitMQ's credit flow keeps them,
        instead of piling up in a socket buffer. Called under the broker lock.
        """
        if self._paused == paused:
            return
        self._paused = paused
        if not paused:
            for queue in {consumer.queue: None for consumer in self._consumers.values()}:
                if queue._ready.count and not queue._deleted:
                    queue._dispatch()

    def _remove_consumer(self, consumer: Consumer) -> None:
        self._consumers.pop(consumer.tag, None)
        consumer.queue._remove_consumer(consumer)

    def _broker_cancel(self, consumer: Consumer) -> None:
        """The queue went away: cancel the consumer and tell the client (spec 7.8)."""
        self._consumers.pop(consumer.tag, None)
        if not self.connection.consumer_cancel_notify:
            return
        method = BasicCancel(consumer.tag)
        if consumer.on_cancel is not None:
            self.connection._push((_call_one, self, consumer.on_cancel, method, None))
        for callback in self._cancel_callbacks:
            self.connection._push((_call_one, self, callback, method, None))

    def _deliver(self, consumer: Consumer, queue: Queue, entry: QueueEntry) -> None:
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
            consumer.unacked += 1
            self._global_unacked += 1
            queue._unacked += 1
        self.connection._push(
            (
                consumer.callback,
                self,
                Deliver(consumer.tag, tag, entry.redelivered, entry.exchange, entry.routing_key),
                entry.properties,
                entry.body,
            )
        )

    # ----------------------------------------------------------------- consumer ack timeout (spec 0.8)

    _ACK_CHECK_INTERVAL = 60.0  # seconds between checks, as RabbitMQ's channel tick

    def _ack_timeout_ms(self, queue: Queue) -> float:
        """How long a delivery from ``queue`` may stay unacked, in ms (infinite: no limit).

        The ``x-consumer-timeout`` of the queue now under that name if it has
        one, else the broker's ``consumer_timeout`` (spec 0.8; RabbitMQ
        3.12-4.2 look the queue up by name at each check, so a deleted queue's
        deliveries fall back to the broker's timeout).
        """
        current = self._vhost.queues.get(queue.name)
        own = current._args.consumer_timeout_ms if current is not None else None
        if own is not None:
            return own
        timeout = self._broker.consumer_timeout
        return INFINITY if timeout is None else timeout * 1000

    def _record_can_time_out(self, record: _Unacked) -> bool:
        return self._ack_timeout_ms(record[1]) != INFINITY

    def _any_can_time_out(self) -> bool:
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

    def _held_tags(self) -> list[int]:
        """Tags acked inside the open transaction that can time out once a rollback restores them."""
        return [
            tag
            for _, records, _ in self._tx_settles
            for tag, record in records
            if self._record_can_time_out(record)
        ]

    def _watch_acks(self, tag: int) -> None:
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

    def _arm_ack_check(self, when: float) -> None:
        self._ack_armed = True
        self._timers.schedule(when, self._check_acks, coarse=True)

    def _check_acks(self, deadline: float, now: float) -> None:
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
        next_check = max(
            min(now + self._ACK_CHECK_INTERVAL, expires_at), math.nextafter(now, INFINITY)
        )
        self._arm_ack_check(next_check)

    @_amqp_method(60, 10)
    def basic_qos(
        self, prefetch_size: int = 0, prefetch_count: int = 0, global_qos: bool = False
    ) -> None:
        prefetch_size = integer(prefetch_size, "prefetch_size", 32)
        prefetch_count = integer(prefetch_count, "prefetch_count", 16)  # spec 10.4
        global_qos = boolean(global_qos, "global_qos")
        if prefetch_size:
            raise NotImplementedByBroker(f"prefetch_size!=0 ({prefetch_size})")  # spec 7.5
        if global_qos:
            self._global_prefetch = prefetch_count  # spec 0.1
            for consumer in list(self._consumers.values()):
                if consumer.queue._ready.count:
                    consumer.queue._dispatch()
        else:
            self._prefetch = prefetch_count

    # ----------------------------------------------------------------- settling (spec 7.11, 7.12)

    def _collect(self, delivery_tag: Any, multiple: Any) -> list[tuple[int, _Unacked]]:
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

    def _apply_settles(self, settles: list[tuple[int, _Unacked]], action: str) -> None:
        """ack / requeue / reject the collected records, then let their queues dispatch."""
        now = self._broker.clock.now() if action != "ack" else 0.0
        touched: dict[Queue, None] = {}
        for _, (entry, queue, consumer) in settles:
            if consumer is not None:
                consumer.unacked -= 1
                self._global_unacked -= 1
            if action == "ack":
                if queue._journal is not None:
                    queue._journal.message_removed(entry)
                queue._unacked -= 1
                queue.stats.acked += 1
            elif action == "requeue":
                queue._requeue(entry, now, settle=False)
            else:
                queue._reject(entry, now)
            touched[queue] = None
        if action == "requeue":
            for queue in touched:
                queue._settle_after_requeue(now)  # spec 5.5: after the whole batch is back
        if self._global_prefetch:
            for consumer in self._consumers.values():
                touched[consumer.queue] = None
        for queue in touched:
            if queue._ready.count and queue._consumers:
                queue._dispatch()

    def _settle_tags(self, tags: list[int], action: str) -> None:
        self._apply_settles(
            [(tag, self._unacked.pop(tag)) for tag in tags if tag in self._unacked], action
        )

    def _settle(self, delivery_tag: Any, multiple: Any, action: str) -> None:
        settles = self._collect(delivery_tag, multiple)
        if self._transactional:
            self._tx_settles.append((action, settles, False))  # spec 8.8
        else:
            self._apply_settles(settles, action)

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
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

    @_amqp_method(60, 120)
    def basic_nack(
        self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True
    ) -> None:
        self._settle(delivery_tag, multiple, "requeue" if boolean(requeue, "requeue") else "reject")

    @_amqp_method(60, 90)
    def basic_reject(self, delivery_tag: int, requeue: bool = True) -> None:
        self._settle(delivery_tag, False, "requeue" if boolean(requeue, "requeue") else "reject")

    @_amqp_method(60, 110)
    def basic_recover(self, requeue: bool = True) -> None:
        if not boolean(requeue, "requeue"):
            raise NotImplementedByBroker("requeue=false")  # spec 7.12
        self._requeue_all()

    def _requeue_all(self) -> None:
        if self._unacked:
            settles = list(self._unacked.items())
            self._unacked.clear()
            self._apply_settles(settles, "requeue")

    # ----------------------------------------------------------------- confirms and transactions (spec 8)

    @_amqp_method(85, 10)
    def confirm_delivery(self, ack_nack_callback: Callable[[Any], Any] | None = None) -> None:
        """Enter publisher-confirm mode (pika's name for confirm.select); may repeat (spec 8.1)."""
        if self._transactional:
            raise PreconditionFailed("cannot switch from tx to confirm mode")  # spec 8.7
        self._confirming = True
        if ack_nack_callback is not None:
            self._ack_nack_callback = ack_nack_callback

    @_amqp_method(90, 10)
    def tx_select(self) -> None:
        if self._confirming:
            raise PreconditionFailed("cannot switch from confirm to tx mode")  # spec 8.7
        self._transactional = True

    def _require_tx(self) -> None:
        if not self._transactional:
            raise PreconditionFailed("channel is not transactional")

    @_amqp_method(90, 20)
    def tx_commit(self, on_committed: Callable[[], Any] | None = None) -> None:
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
                self._vhost.dropped["unroutable"] += 1
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

    @_amqp_method(90, 30)
    def tx_rollback(self) -> None:
        self._require_tx()
        self._tx_publishes.clear()
        restored: list[tuple[int, _Unacked]] = []
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

    @_amqp_method(20, 20)
    def flow(self, active: bool) -> bool:
        """channel.flow: RabbitMQ refuses to stop a channel's deliveries this way (spec 9.4)."""
        if not boolean(active, "active"):
            raise NotImplementedByBroker("active=false")
        return True

    # ----------------------------------------------------------------- callbacks

    def add_on_return_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(channel, BasicReturn, properties, body)`` for returned messages (spec 8.4)."""
        self._return_callbacks.append(callback)

    def add_on_cancel_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(BasicCancel)`` when the broker cancels a consumer of this channel (spec 7.8)."""
        self._cancel_callbacks.append(callback)

    def add_on_close_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(channel, reason)`` when the channel closes; reason is the AMQPError or None."""
        self._close_callbacks.append(callback)

    def start_consuming(self) -> None:
        """Run callbacks until every consumer of this channel is cancelled or stop_consuming (pika)."""
        self._consuming = True

        def done() -> bool:
            return not (self._consuming and self._consumers and self._closed is None)

        while not done():
            self.connection._process(None, done)  # returns when another thread stops us too
        self._consuming = False

    def stop_consuming(self, consumer_tag: str | None = None) -> None:
        """Cancel this channel's consumers (or one) and end start_consuming."""
        with self._lock:
            if self._closed is not None:
                self._consuming = False
                return
            tags = [consumer_tag] if consumer_tag is not None else list(self._consumers)
            for tag in tags:
                self.basic_cancel(tag)
            self._consuming = False
            self._broker._signal(self.connection)

    def consume(
        self,
        queue: str,
        auto_ack: bool = False,
        exclusive: bool = False,
        arguments: dict[str, Any] | None = None,
        inactivity_timeout: float | None = None,
    ) -> Iterator[tuple[Any, Any, Any]]:
        """A generator of ``(method, properties, body)``, blocking until messages arrive (pika).

        Yields ``(None, None, None)`` after ``inactivity_timeout`` seconds with
        nothing; ends when the consumer is cancelled (``cancel()``, broker).
        """
        if self._generator is not None:
            if self._generator.queue != queue:
                raise ValueError("consume() is already active on this channel for another queue")
            return self._generator.iterate(inactivity_timeout)
        generator = _ConsumeGenerator(self, queue)
        generator.tag = self.basic_consume(
            queue,
            generator.on_message,
            auto_ack=auto_ack,
            exclusive=exclusive,
            arguments=arguments,
            on_cancel_callback=generator.on_cancel,
        )
        self._generator = generator
        return generator.iterate(inactivity_timeout)

    def cancel(self) -> int:
        """End ``consume()``; requeue what it had received but not yielded. Returns that count."""
        generator = self._generator
        if generator is None:
            return 0
        self._generator = None
        with self._lock:
            if self._closed is not None:
                return 0
            self.basic_cancel(generator.tag)
            tags = [method.delivery_tag for method, _, _ in generator.buffer if generator.manual]
            count = len(generator.buffer)
            generator.buffer.clear()
            generator.cancelled = True
            if tags:
                self._settle_tags(tags, "requeue")
            self._broker._signal(self.connection)  # wake a consume() blocked in another thread
            return count

    def get_waiting_message_count(self) -> int:
        """Deliveries received by consume() but not yet yielded."""
        return len(self._generator.buffer) if self._generator is not None else 0


def _call_close_callback(
    _: Any, callback: Callable[..., Any], channel: Channel, reason: Any
) -> None:
    callback(channel, reason)


class _ConsumeGenerator:
    """The consumer behind ``Channel.consume``: buffers deliveries until the generator yields them."""

    def __init__(self, channel: Channel, queue: str) -> None:
        self.channel = channel
        self.queue = queue
        self.tag = ""
        self.buffer: deque[tuple[Any, Any, Any]] = deque()
        self.cancelled = False
        self.manual = True

    def on_message(
        self, channel: Channel, method: Deliver, properties: BasicProperties, body: bytes
    ) -> None:
        self.buffer.append((method, properties, body))

    def on_cancel(self, method: BasicCancel) -> None:
        self.cancelled = True

    def iterate(
        self, inactivity_timeout: float | None
    ) -> Generator[tuple[Any, Any, Any], None, None]:
        channel = self.channel
        connection = channel.connection
        consumer = channel._consumers.get(self.tag)
        self.manual = consumer is not None and not consumer.auto_ack
        while True:
            if self.buffer:
                yield self.buffer.popleft()
                continue
            if self.cancelled or channel._closed is not None or channel._generator is not self:
                return
            deadline = None if inactivity_timeout is None else time.monotonic() + inactivity_timeout

            def done() -> bool:
                return (
                    bool(self.buffer)
                    or self.cancelled
                    or channel._closed is not None
                    or channel._generator is not self
                )

            while not done():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                connection._process(remaining, done)
            if not self.buffer:
                if self.cancelled or channel._closed is not None or channel._generator is not self:
                    return
                yield None, None, None  # inactivity_timeout passed


class _ReturnedMessage:
    """What UnroutableError / NackError list, shaped like pika's ReturnedMessage."""

    __slots__ = ("body", "method", "properties")

    def __init__(self, message: Message) -> None:
        self.method = BasicReturn(312, "NO_ROUTE", message.exchange, message.routing_key)
        self.properties = message.properties
        self.body = message.body


def _to_body(body: Any) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, bytes):
        return bytes(body)
    from ._errors import FrameSyntaxError

    raise FrameSyntaxError(f"body must be bytes or str, got {type(body).__name__}")


def _cc_bcc(
    routing_key: str, properties: BasicProperties
) -> tuple[tuple[str, ...], BasicProperties, Annotations | None]:
    """Routing keys from CC and BCC headers; BCC removed from the message (spec 1.2, 4.6, 8.6)."""
    headers = properties.headers
    if not headers or ("CC" not in headers and "BCC" not in headers):
        return (routing_key,), properties, None
    keys = [routing_key]
    bcc: list[str] = []
    for name, into in (("CC", keys), ("BCC", bcc)):
        if name not in headers:
            continue
        value = headers[name]
        if not isinstance(value, list) or not all(isinstance(v, (str, bytes)) for v in value):
            raise PreconditionFailed(f"invalid header '{name}': expected an array of longstr")
        into.extend(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value)
    annotations = None
    if "BCC" in headers:
        stripped = {k: v for k, v in headers.items() if k != "BCC"}
        from attrs import evolve

        properties = evolve(properties, headers=stripped)
        annotations = Annotations(bcc=tuple(bcc))
    all_keys = tuple(dict.fromkeys([*keys, *bcc]))
    return all_keys, properties, annotations
