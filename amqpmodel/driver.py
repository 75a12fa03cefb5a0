"""The driver interface: what a driver of the core (the socket adapter, the store, a
management API, a shovel) may use beyond the public in-process API.

The core is a state machine without I/O or threads of its own (DESIGN.md).
Drivers move its events to the outside world and bring outside state in, and
they use only this module, the names exported by ``amqpmodel``, and the
public methods below; no driver touches an underscored name of the core (a
test walks ``amqpmodel/server/``, ``amqpmodel/store/`` and the drop-ins to make sure).

Events for a connection (``Connection``):
    ``set_wakeup(fn)``: ``fn()`` when callbacks become pending (under the broker
    lock, maybe from another thread); ``has_pending``, ``drain()``,
    ``is_draining``, ``run_pending_now(channel)``, ``close_reason``,
    ``pause_deliveries(paused)``, ``encodes_deliveries()`` (the driver turns each
    delivery into bytes at once, so it needs no private copy of its headers).
Time (``Broker``):
    ``next_deadline()``, ``tick()``, ``add_deadline_listener(fn)``,
    ``remove_deadline_listener(fn)``.
Durable state (``Journal``, for a store):
    what changed (entities declared and deleted, messages enqueued and
    removed) in batches, with the confirms waiting for each batch; and the
    ``restore_*`` functions below, which rebuild a broker's state from what a
    store read back, before the first client is served.
Runtime parameters (for a plugin such as the shovel):
    ``ParameterComponent`` (validate a component's values, hear of sets and
    clears, stop at ``broker.close()``), ``register_parameter_component``;
    ``erlang_term``/``erlang_proplist`` (values as RabbitMQ's validation texts
    print them); ``Broker.add_parameter_listener`` hears of every change.
Wire values:
    ``EncodedProperties`` (properties that keep their wire bytes),
    ``TaggedInt``/``TAGGED_INTS``/``Float32`` (header values that keep their
    AMQP type), ``is_utf8``.
Inspection (for a management API, metrics, views): ``inspection_lock(broker)``
    (hold it to read several entities consistently while other threads use the
    broker), ``channel_state(channel)`` (prefetch, confirm and transaction state,
    counters), ``exchange_type_names()`` (the registered exchange types).
Metadata (for a management API): ``vhost_metadata``/``set_vhost_metadata`` (a vhost's
    description, tags, default queue type), ``list_global_parameters``,
    ``global_parameter``, ``set_global_parameter``, ``clear_global_parameter``
    (``cluster_name`` and others, spec 16.4); both travel in definitions.
Versions: ``rabbitmq_version(name)`` (the ``RabbitMQVersion`` profile of "4.2",
    "3.13.2", ...; ``broker.rabbitmq_version`` is the broker's), for a driver whose
    behaviour differs by RabbitMQ version (connection.start, the management API).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from ._broker import Broker
from ._broker_access import restore_access
from ._broker_policies import restore_policy
from ._exchange import Exchange, exchange_type_factory
from ._exchange_delayed import DelayedMessageExchangeType
from ._field_values import TAGGED_INTS, Float32, TaggedInt
from ._journal import PERSISTENT, Batch, Journal
from ._metadata import (
    clear_global_parameter,
    global_parameter,
    list_global_parameters,
    set_global_parameter,
    set_vhost_metadata,
    vhost_metadata,
)
from ._parameters import (
    ParameterComponent,
    erlang_proplist,
    erlang_term,
    register_parameter_component,
)
from ._policies import apply_policies
from ._properties import _PROPERTY_NAMES as PROPERTY_NAMES
from ._properties import (
    EMPTY_PROPERTIES,
    Annotations,
    BasicProperties,
    Death,
    EncodedProperties,
    Message,
)
from ._queue import Queue
from ._queue_registry import queue_class
from ._queue_types import parse_queue_arguments
from ._validation import is_utf8
from ._version import RabbitMQVersion, rabbitmq_version

if TYPE_CHECKING:
    from ._channel import Channel

__all__ = [
    "EMPTY_PROPERTIES",
    "PERSISTENT",
    "PROPERTY_NAMES",
    "TAGGED_INTS",
    "Annotations",
    "Batch",
    "BasicProperties",
    "ChannelState",
    "Death",
    "EncodedProperties",
    "Float32",
    "Journal",
    "Message",
    "ParameterComponent",
    "RabbitMQVersion",
    "TaggedInt",
    "attach_journal",
    "clear_global_parameter",
    "global_parameter",
    "list_global_parameters",
    "set_global_parameter",
    "set_vhost_metadata",
    "vhost_metadata",
    "erlang_proplist",
    "erlang_term",
    "channel_state",
    "exchange_type_names",
    "inspection_lock",
    "rabbitmq_version",
    "record_delivered",
    "register_parameter_component",
    "is_utf8",
    "restore_access",
    "restore_binding",
    "restore_delayed",
    "restore_exchange",
    "restore_messages",
    "restore_policy",
    "restore_queue",
    "restore_user",
    "restore_stream_offset",
    "restore_vhost",
]

log = logging.getLogger("amqpmodel.store")


def restore_vhost(broker: Broker, name: str) -> None:
    """Bring back a virtual host (with its predeclared exchanges, spec 1.1)."""
    broker.add_vhost(name, grant_default_user=False)  # permissions come back on their own


def restore_user(broker: Broker, name: str, password_hash: str, tags: tuple[str, ...]) -> None:
    broker._set_user(name, password_hash, tuple(tags))


def restore_exchange(
    broker: Broker,
    vhost: str,
    name: str,
    exchange_type: str,
    *,
    auto_delete: bool,
    internal: bool,
    arguments: dict[str, Any],
) -> bool:
    """Bring back a durable exchange (spec 22.1); False (and a warning) when its type
    is not registered in this process (a plugin type registered by the last run)."""
    host = broker.vhosts[vhost]
    if exchange_type_factory(exchange_type) is None:
        log.warning(
            "exchange '%s' in vhost '%s' not recovered: unknown exchange type '%s'",
            name,
            vhost,
            exchange_type,
        )
        return False
    created = host.exchanges[name] = Exchange(
        name,
        exchange_type,
        durable=True,
        auto_delete=auto_delete,
        internal=internal,
        arguments=arguments,
        vhost_name=vhost,
    )
    apply_policies(host, created)  # policies are restored first (spec 22.23)
    return True


def restore_queue(
    broker: Broker,
    queue_id: int,
    vhost: str,
    name: str,
    *,
    auto_delete: bool,
    arguments: dict[str, Any],
) -> Queue:
    """Bring back a durable queue, empty (spec 22.1); its messages follow."""
    host = broker.vhosts[vhost]
    parsed = parse_queue_arguments(arguments, host.describe("queue", name))
    queue = queue_class(parsed.queue_type)(
        host,
        name,
        durable=True,
        auto_delete=auto_delete,
        owner=None,
        arguments=arguments,
        parsed=parsed,
    )
    queue._journal_id = queue_id
    host.queues[name] = queue
    apply_policies(host, queue)  # policies are restored first (spec 22.23)
    return queue


def restore_messages(
    queue: Queue,
    messages: Iterable[Message],
    counters: Mapping[int, int] | None = None,
    crashed: bool = False,
) -> None:
    """Put back a queue's messages in enqueue order (spec 22.12, 22.13); each one's
    ``seq``, ``deadline`` (absolute, spec 22.21) and ``redelivered`` as stored.

    ``counters`` maps a message's seq to the ``redelivered`` value stored for it
    when that is more than 1 (a quorum message's counters, spec 22.19);
    ``crashed``: the broker did not stop cleanly (22.18)."""
    queue._restore_ready(list(messages), counters, crashed)


def restore_stream_offset(queue: Queue, first_offset: int) -> None:
    """Give a stream, before its messages come back, the offset of its first retained
    message (offsets are never reused, spec 12.17); other queue types ignore it."""
    queue._restore_first_offset(first_offset)


def restore_binding(
    broker: Broker,
    vhost: str,
    source: str,
    destination_type: str,
    destination: str,
    routing_key: str,
    arguments: dict[str, Any],
) -> bool:
    """Bring back a binding between durable entities (spec 22.2); False when an end
    is missing (an exchange whose type is gone)."""
    host = broker.vhosts[vhost]
    source_exchange = host.exchanges.get(source)
    target: Queue | Exchange | None = (
        host.queues.get(destination)
        if destination_type == "queue"
        else host.exchanges.get(destination)
    )
    if source_exchange is None or target is None:
        return False
    host.add_binding(source_exchange, target, routing_key, arguments)
    return True


def restore_delayed(
    broker: Broker,
    vhost: str,
    exchange: str,
    seq: int,
    due_ms: int,
    delay: int,
    message: Message,
    routing_keys: tuple[str, ...],
) -> bool:
    """Give a stored delayed message back to its x-delayed-message exchange (spec
    13.10); False when that exchange did not come back (it was not durable, or its
    type is gone): the message is then dropped. Overdue ones are released at the
    next ``tick()``."""
    host = broker.vhosts.get(vhost)
    target = host.exchanges.get(exchange) if host is not None else None
    if host is None or target is None:
        return False
    router = target._router
    if not isinstance(router, DelayedMessageExchangeType):
        return False
    router.restore(host, target, (message, tuple(routing_keys), seq, delay), due_ms)
    return True


def attach_journal(broker: Broker, next_seq: int) -> Journal:
    """Start recording durable-state changes, after a restore (or on a fresh broker).

    Then, as a queue starting after recovery does: expired head messages go
    (dead-lettered "expired", spec 22.21), length limits are applied again
    (22.23), and each queue's x-expires period starts afresh (22.22).
    """
    with broker._lock:
        journal = Journal(broker)
        sequence = itertools.count(max(next_seq, next(broker._sequence)))
        broker._sequence = sequence
        queues = [q for vhost in broker.vhosts.values() for q in vhost.queues.values()]
        for queue in queues:
            queue._sequence = sequence
            if queue.durable and queue.owner is None:
                journal.adopt(queue, queue._journal_id)
        broker._journal = journal
        now = broker.clock.now()
        for queue in queues:
            if queue._deleted:
                continue
            args = queue._args
            if args.overflow == "drop-head" and (
                args.max_length is not None or args.max_length_bytes is not None
            ):
                queue._drop_head_over_limit(now)
            if queue._may_expire:
                queue._expire_head(now)
            queue._touch()
        return journal


def record_delivered(broker: Broker, journal: Journal) -> None:
    """At a clean stop: record which stored messages were delivered at least once, so
    that they alone come back redelivered (spec 22.17; unacked ones were requeued,
    flagged, when their connections closed)."""
    with broker._lock:
        values = [
            (entry.seq, getattr(entry, "stored_counters", 1))  # a quorum message's: 22.19
            for vhost in broker.vhosts.values()
            for queue in vhost.queues.values()
            if queue._journal is journal
            for entry in queue._ready
            if entry.redelivered
            and (entry.storage == "always" or entry.message.properties.delivery_mode == PERSISTENT)
        ]
        if values:
            journal.redelivered(values)


# ----------------------------------------------------------------- inspection


def inspection_lock(broker: Broker) -> threading.RLock:
    """The broker's lock: hold it (``with inspection_lock(broker):``) while reading
    several entities, so that no other thread changes them meanwhile. Never call
    user code or block while holding it."""
    return broker._lock


@attrs.frozen(slots=True)
class ChannelState:
    """What a management API shows of a channel (RabbitMQ's channel object, spec 18.8).

    ``publishes_confirmed`` counts the publishes numbered in confirm mode (the
    channel's publish sequence), ``deliveries`` every delivery and basic.get-ok
    (the channel's delivery tags): counters a driver samples to compute rates.
    """

    prefetch_count: int
    global_prefetch_count: int
    confirm: bool
    transactional: bool
    consumer_count: int
    messages_unacknowledged: int
    messages_unconfirmed: int
    messages_uncommitted: int
    acks_uncommitted: int
    publishes_confirmed: int
    deliveries: int


def channel_state(channel: Channel) -> ChannelState:
    """A snapshot of ``channel``'s flow state and counters; read-only."""
    with channel._lock:
        return ChannelState(
            prefetch_count=channel._prefetch,
            global_prefetch_count=channel._global_prefetch,
            confirm=channel._confirming,
            transactional=channel._transactional,
            consumer_count=len(channel._consumers),
            messages_unacknowledged=len(channel._unacked),
            messages_unconfirmed=channel._held_confirms,
            messages_uncommitted=len(channel._tx_publishes),
            acks_uncommitted=sum(len(records) for _, records, _ in channel._tx_settles),
            publishes_confirmed=channel._publish_seq,
            deliveries=channel._delivery_tag,
        )


def exchange_type_names() -> list[str]:
    """The exchange types that can be declared now: built-in, plugin and registered ones."""
    from ._exchange import _EXCHANGE_TYPES

    return list(_EXCHANGE_TYPES)
