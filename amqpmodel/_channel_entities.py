"""exchange.* and queue.* on a channel (spec 1, 2): declare, delete, bind, unbind, purge; name shortcuts (2.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._access import check_passive, check_queue_limit, check_resource, check_topic
from ._arguments import check_exchange_equivalent, check_queue_equivalent, text
from ._channel_base import amqp_method
from ._errors import (
    AccessRefused,
    AMQPError,
    CommandInvalid,
    NotFound,
    PreconditionFailed,
    ResourceLocked,
)
from ._exchange import Exchange, exchange_type_known
from ._methods import (
    ExchangeBindOk,
    ExchangeDeclareOk,
    ExchangeDeleteOk,
    ExchangeUnbindOk,
    QueueBindOk,
    QueueDeclareOk,
    QueueDeleteOk,
    QueuePurgeOk,
    QueueUnbindOk,
)
from ._policies import apply_policies
from ._properties import check_field_table
from ._queue import Queue
from ._queue_registry import queue_class
from ._queue_types import (
    QUEUE_TYPES,
    RELAXED_QUORUM_KEYS,
    augment_arguments,
    check_properties,
    check_stream_limits,
    check_transient_nonexclusive,
    declared_type,
    equivalence_keys,
    parse_queue_arguments,
)
from ._reply_to import REPLY_TO, REPLY_TO_PREFIX
from ._validation import boolean, entity_name, generate_name, short_string

if TYPE_CHECKING:
    from ._channel import Channel

__all__ = [
    "_queue_name",
    "_existing_queue",
    "_check_exclusive",
    "_existing_exchange",
    "_not_default",
    "exchange_declare",
    "exchange_delete",
    "_binding_parts",
    "exchange_bind",
    "exchange_unbind",
    "queue_declare",
    "_queue_binding_parts",
    "queue_bind",
    "queue_unbind",
    "queue_purge",
    "queue_delete",
    "_sync_entities",
]


def _queue_name(self: Channel, queue: Any) -> str:
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


def _existing_queue(self: Channel, name: str) -> Queue:
    queue = self._vhost.queues.get(name)
    if queue is None:
        raise NotFound(f"no queue '{name}' in vhost '{self._vhost.name}'")
    self._check_exclusive(queue)
    return queue


def _check_exclusive(self: Channel, queue: Queue) -> None:
    if queue.owner is not None and queue.owner is not self.connection:
        raise ResourceLocked(
            f"cannot obtain exclusive access to locked queue '{queue.name}' in vhost "
            f"'{self._vhost.name}'. It could be originally declared on another connection "
            "or the exclusive property value does not match that of the original declaration."
        )


def _existing_exchange(self: Channel, name: str) -> Exchange:
    exchange = self._vhost.exchanges.get(name)
    if exchange is None:
        raise NotFound(f"no exchange '{name}' in vhost '{self._vhost.name}'")
    return exchange


def _not_default(name: str) -> None:
    if name == "":
        raise AccessRefused("operation not permitted on the default exchange")  # spec 1.3


# ----------------------------------------------------------------- exchanges (spec 1)


@amqp_method(40, 10)
def exchange_declare(
    self: Channel,
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
        check_passive(self, "exchange", name)  # spec 15.5: before existence
        self._existing_exchange(name)
        return ExchangeDeclareOk()
    check_resource(self, "configure", "exchange", name)  # spec 15.4, 15.6
    version = self._broker.rabbitmq_version
    if not exchange_type_known(type_name, version):
        raise _unknown_exchange_type(type_name, version.unknown_exchange_type_code)  # spec 1.6
    existing = vhost.exchanges.get(name)
    if existing is None:
        if name.startswith("amq."):
            raise AccessRefused(f"exchange name '{name}' contains reserved prefix 'amq.*'")  # 1.5
        if type_name == "x-delayed-message":
            inner = text(args.get("x-delayed-type"))  # the plugin checks it as a type (13.2)
            if (
                isinstance(inner, str)
                and inner != type_name
                and not exchange_type_known(inner, version)
            ):
                raise _unknown_exchange_type(inner, version.unknown_exchange_type_code)
        alternate = text(args.get("alternate-exchange"))
        if isinstance(alternate, str):  # spec 15.4: write on the AE, read on the exchange
            check_resource(self, "write", "exchange", alternate)
            check_resource(self, "read", "exchange", name)
        created = vhost.exchanges[name] = Exchange(
            name,
            type_name,
            durable=durable,
            auto_delete=auto_delete,
            internal=internal,
            arguments=args,
            vhost_name=vhost.name,
        )
        apply_policies(vhost, created)  # spec 14.14
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


def _unknown_exchange_type(type_name: str, reply_code: int) -> AMQPError:
    """406 (channel), or 503 COMMAND_INVALID closing the connection in RabbitMQ
    3.13.0-3.13.2 (spec 1.6, 0.x.12)."""
    reason = f"unknown exchange type '{type_name}'"
    if reply_code == CommandInvalid.reply_code:
        return CommandInvalid(reason)
    return PreconditionFailed(reason)


@amqp_method(40, 20)
def exchange_delete(
    self: Channel, exchange: str | None = None, if_unused: bool = False
) -> ExchangeDeleteOk:
    name = entity_name(exchange if exchange is not None else "", "exchange name")
    if_unused = boolean(if_unused, "if_unused")
    self._not_default(name)
    vhost = self._vhost
    if name.startswith("amq."):
        raise AccessRefused(
            f"deletion of system exchange '{name}' in vhost '{vhost.name}' not allowed"
        )
    check_resource(self, "configure", "exchange", name)  # spec 15.4
    existing = vhost.exchanges.get(name)
    if existing is None:
        return ExchangeDeleteOk()  # spec 1.9
    if if_unused and existing._bindings_out:
        raise PreconditionFailed(f"exchange '{name}' in vhost '{vhost.name}' in use")
    vhost.delete_exchange(existing)
    self._sync_entities()
    return ExchangeDeleteOk()


def _binding_parts(
    self: Channel, source: Any, routing_key: Any, arguments: dict[str, Any] | None
) -> tuple[str, str, dict[str, Any]]:
    return (
        entity_name(source, "exchange name"),
        short_string(routing_key, "routing key"),
        check_field_table(arguments if arguments is not None else {}, "arguments"),
    )


@amqp_method(40, 30)
def exchange_bind(
    self: Channel,
    destination: str,
    source: str,
    routing_key: str = "",
    arguments: dict[str, Any] | None = None,
) -> ExchangeBindOk:
    destination_name = entity_name(destination, "destination exchange name")
    source_name, key, args = self._binding_parts(source, routing_key, arguments)
    self._not_default(source_name)
    self._not_default(destination_name)
    check_resource(self, "write", "exchange", destination_name)  # spec 15.4
    check_resource(self, "read", "exchange", source_name)
    source_exchange = self._existing_exchange(source_name)
    destination_exchange = self._existing_exchange(destination_name)
    if source_exchange.type == "topic":
        check_topic(self, "read", source_name, key)  # spec 15.11
    self._vhost.add_binding(source_exchange, destination_exchange, key, args)
    self._sync_entities()
    return ExchangeBindOk()


@amqp_method(40, 40)
def exchange_unbind(
    self: Channel,
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
    check_resource(self, "write", "exchange", destination_name)  # spec 15.4
    check_resource(self, "read", "exchange", source_name)
    source_exchange = self._vhost.exchanges.get(source_name)
    destination_exchange = self._vhost.exchanges.get(destination_name)
    if source_exchange is not None and source_exchange.type == "topic":
        check_topic(self, "read", source_name, key)  # spec 15.11
    if source_exchange is not None and destination_exchange is not None:
        self._vhost.remove_binding(source_exchange, destination_exchange, key, args)
        self._sync_entities()
    return ExchangeUnbindOk()


# ----------------------------------------------------------------- queues (spec 2)


@amqp_method(50, 10)
def queue_declare(
    self: Channel,
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
    if name == REPLY_TO or (name.startswith(REPLY_TO_PREFIX) and name in vhost._reply_consumers):
        return QueueDeclareOk(name, 0, 1)  # direct reply-to's pseudo-queue, as RabbitMQ
    if passive:
        check_passive(self, "queue", name)  # spec 15.5: before existence
        existing = self._existing_queue(name)  # "" is not the last queue here: 404
        existing._touch_on_declare()  # spec 2.9, 11.33
        self._last_queue = name
        return QueueDeclareOk(name, existing.messages_ready, existing._declare_ok_consumers)
    queue_type = QUEUE_TYPES.get(declared_type(args, vhost.default_queue_type))
    if name == "":
        if queue_type is not None and not queue_type.server_named:
            raise PreconditionFailed(
                f"Cannot declare a server-named queue for type {queue_type.module}"
            )  # spec 11.5
        name = generate_name("amq.gen-")
    elif name.startswith("amq."):
        raise AccessRefused(f"queue name '{name}' contains reserved prefix 'amq.*'")  # spec 2.1
    check_resource(self, "configure", "queue", name)  # spec 15.4, 15.6: before existence
    where = vhost.describe("queue", name)
    version = self._broker.rabbitmq_version
    # spec 11.3: a declare without x-queue-type gets one, stored with the queue (3.13:
    # only when the vhost has a default queue type, 0.x.16)
    if version.queue_type_injection or vhost.default_queue_type_is_set:
        args = augment_arguments(args, vhost.default_queue_type, durable, exclusive, auto_delete)
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
        keys = equivalence_keys(existing.queue_type, version)
        if (
            self._broker.quorum_relaxed_checks_on_redeclaration
            and existing.queue_type == "quorum"
            and declared_type(args) == "classic"
        ):
            keys = RELAXED_QUORUM_KEYS  # spec 11.28: a classic redeclare of a quorum queue
        check_queue_equivalent(
            where,
            (existing.durable, existing.auto_delete, existing.arguments),
            (durable, auto_delete, args),
            keys,
            missing_queue_type_is_classic=version.queue_type_injection,  # spec 0.x.17
        )
        existing._touch_on_declare()
    else:
        parsed = parse_queue_arguments(args, where, version)
        kind = QUEUE_TYPES[parsed.queue_type]
        check_transient_nonexclusive(version, durable, exclusive)  # spec 0.x.3, before 11.4
        check_properties(kind, where, durable, exclusive, auto_delete)  # spec 11.4
        if kind.name == "stream":
            check_stream_limits(args)  # spec 12.2
        if parsed.dead_letter_exchange is not None:  # spec 15.4: write on the DLX, read on it
            check_resource(self, "write", "exchange", parsed.dead_letter_exchange)
            check_resource(self, "read", "queue", name)
        check_queue_limit(self._broker, vhost.name, name, len(vhost.queues))  # spec 15.14
        owner = self.connection if exclusive else None
        existing = queue_class(parsed.queue_type)(
            vhost,
            name,
            durable=durable,
            auto_delete=auto_delete,
            owner=owner,
            arguments=args,
            parsed=parsed,
        )
        vhost.queues[name] = existing
        apply_policies(vhost, existing)  # spec 14.14
        if owner is not None:
            owner._exclusive_queues[name] = existing
        elif durable and self._broker._journal is not None:
            self._broker._journal.queue_declared(existing)  # spec 22.1, 22.7
        existing._touch()
    self._last_queue = name
    self._sync_entities()
    return QueueDeclareOk(name, existing.messages_ready, existing._declare_ok_consumers)


def _queue_binding_parts(
    self: Channel, queue: Any, exchange: Any, routing_key: Any, arguments: dict[str, Any] | None
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
    check_resource(self, "write", "queue", queue_name)  # spec 15.4
    check_resource(self, "read", "exchange", exchange_name)
    source = self._existing_exchange(exchange_name)
    target = self._existing_queue(queue_name)
    if source.type == "topic":
        check_topic(self, "read", exchange_name, key)  # spec 15.11
    return target, source, key, args


@amqp_method(50, 20)
def queue_bind(
    self: Channel,
    queue: str,
    exchange: str,
    routing_key: str | None = None,
    arguments: dict[str, Any] | None = None,
) -> QueueBindOk:
    target, source, key, args = self._queue_binding_parts(queue, exchange, routing_key, arguments)
    self._vhost.add_binding(source, target, key, args)
    self._sync_entities()
    return QueueBindOk()


@amqp_method(50, 50)
def queue_unbind(
    self: Channel,
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


@amqp_method(50, 30)
def queue_purge(self: Channel, queue: str) -> QueuePurgeOk:
    name = self._queue_name(queue)
    check_resource(self, "read", "queue", name)  # spec 15.4
    target = self._existing_queue(name)
    target._check_purge()  # spec 12.14
    return QueuePurgeOk(target._purge())  # spec 2.11


@amqp_method(50, 40)
def queue_delete(
    self: Channel, queue: str, if_unused: bool = False, if_empty: bool = False
) -> QueueDeleteOk:
    name = self._queue_name(queue)
    if_unused, if_empty = boolean(if_unused, "if_unused"), boolean(if_empty, "if_empty")
    vhost = self._vhost
    check_resource(self, "configure", "queue", name)  # spec 15.4
    target = vhost.queues.get(name)
    if target is None:
        return QueueDeleteOk(0)  # spec 2.10
    self._check_exclusive(target)
    target._check_delete(if_unused, if_empty)  # spec 2.10, 11.26, 12.18
    count = vhost._delete_queue(target, reason="deleted")
    self._sync_entities()
    return QueueDeleteOk(count)


def _sync_entities(self: Channel) -> None:
    journal = self._broker._journal
    if journal is not None:
        journal.sync_entities()
