"""The tables of a broker's entities: queues, exchanges, bindings, connections, channels, consumers, messages.

Columns carry the facts RabbitMQ's management API and ``rabbitmqctl list_*``
report for the same object (spec 18.8, 18.10, 18.11), under their names where
a table has room for them. Every function reads, under the broker lock, and
changes nothing; none is on a message's path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ._table import Cell, CellValue, Table
from ._values import arguments_cell, body_cell, field_text, headers_cell, properties_cell

if TYPE_CHECKING:
    from amqpmodel._broker import Broker
    from amqpmodel._channel import Channel
    from amqpmodel._connection import Connection
    from amqpmodel._consumer import Consumer
    from amqpmodel._exchange import Binding, Exchange
    from amqpmodel._properties import Message
    from amqpmodel._queue import Queue

__all__ = [
    "bindings_table",
    "channel_label",
    "channels_table",
    "connection_label",
    "connections_table",
    "consumers_table",
    "exchanges_table",
    "messages_table",
    "queue_features",
    "queues_table",
    "resources_table",
    "type_figures",
    "unacked_table",
]

MESSAGES_SHOWN = 20  # ready or unacked messages a queue's view lists

# queue arguments shown as the management UI's feature marks (its "Features" column)
_QUEUE_FEATURES = (
    ("x-message-ttl", "TTL"),
    ("x-expires", "Exp"),
    ("x-max-length", "Lim"),
    ("x-max-length-bytes", "Lim B"),
    ("x-overflow", "Ovfl"),
    ("x-dead-letter-exchange", "DLX"),
    ("x-dead-letter-routing-key", "DLK"),
    ("x-max-priority", "Pri"),
    ("x-single-active-consumer", "SAC"),
)


# ----------------------------------------------------------------- resources (spec 21)


def resources_table(broker: Broker, title: str = "resource alarms") -> Table:
    """Memory (the message bytes held, against the high watermark) and, with a data
    dir, disk (free space, against the free limit), and whether each alarm is on."""
    alarms = broker._alarms
    active = alarms.active
    rows: list[tuple[CellValue, ...]] = [
        (
            "memory",
            alarms.memory_use.total,
            alarms.memory_limit,
            "ON: publishers blocked" if "memory" in active else "-",
        )
    ]
    if alarms.disk_free is not None:
        rows.append(
            (
                "disk free",
                alarms.disk_free,
                alarms.disk_limit,
                "ON: publishers blocked" if "disk" in active else "-",
            )
        )
    note = "bytes at the last check; memory is message bytes held (see Broker.memory_use)"
    return Table.of(title, ("resource", "bytes", "limit", "alarm"), rows, ("bytes", "limit"), note)


# ----------------------------------------------------------------- queues


def type_figures(queue: Queue) -> dict[str, Any]:
    """The figures only a queue of this type has (a quorum queue's delivery limit, a
    stream's offsets): the one place every view asks for them. A queue class that
    has such figures defines ``type_figures() -> dict[str, value]``; a classic
    queue has none."""
    figures = getattr(queue, "type_figures", None)
    if figures is None:
        return {}
    return dict(figures())


def queue_features(queue: Queue) -> Cell:
    """D, AD, Excl and the arguments' marks, as the management UI shows them, with
    the arguments themselves on hover."""
    marks = [
        mark
        for mark, on in (("D", queue.durable), ("AD", queue.auto_delete), ("Excl", queue.exclusive))
        if on
    ]
    marks += [mark for key, mark in _QUEUE_FEATURES if key in queue.arguments]
    title = arguments_cell(queue.arguments).text or None
    return Cell(" ".join(marks), title=title)


_QUEUE_COLUMNS = (
    "name",
    "type",
    "features",
    "ready",
    "unacked",
    "persistent",
    "consumers",
    "type figures",
    "arguments",
)
_QUEUE_NUMERIC = ("ready", "unacked", "persistent", "consumers")


def _queue_row(queue: Queue) -> tuple[CellValue, ...]:
    figures = type_figures(queue)
    return (
        queue.name,
        queue.queue_type,
        queue_features(queue),
        queue.messages_ready,
        queue.messages_unacknowledged,
        # persistent messages matter only where a restart can keep them (spec 22.4)
        queue.messages_persistent if queue.durable else "",
        queue.consumer_count,
        Cell(
            ", ".join(f"{k} {'none' if v is None else field_text(v)}" for k, v in figures.items())
        ),
        arguments_cell(queue.arguments),
    )


def policy_cell(entity: Queue | Exchange) -> Cell:
    """The policy and operator policy in force, with the effective definition on hover
    (spec 14.19); empty when neither applies."""
    names = [p.name for p in (entity.policy, entity.operator_policy) if p is not None]
    if not names:
        return Cell("")
    if entity.operator_policy is not None:
        names[-1] = f"{names[-1]} (operator)"
    return Cell(", ".join(names), title=field_text(entity.effective_policy_definition))


def _with_policies(
    columns: Sequence[str], rows: list[tuple[CellValue, ...]], entities: list[Any]
) -> tuple[Sequence[str], list[tuple[CellValue, ...]]]:
    """Add a policy column when a policy applies to any of the rows."""
    cells = [policy_cell(entity) for entity in entities]
    if not any(cell.text for cell in cells):
        return columns, rows
    return (*columns, "policy"), [(*row, cell) for row, cell in zip(rows, cells, strict=True)]


def queues_table(queues: Iterable[Queue], title: str = "queues") -> Table:
    listed = list(queues)
    rows = [_queue_row(q) for q in listed]
    columns: Sequence[str] = _QUEUE_COLUMNS
    if not any(row[7].text for row in rows if isinstance(row[7], Cell)):
        # no queue of a type with figures of its own: leave the column out
        columns = tuple(c for c in _QUEUE_COLUMNS if c != "type figures")
        rows = [row[:7] + row[8:] for row in rows]
    columns, rows = _with_policies(columns, rows, listed)
    return Table.of(f"{title} ({len(rows)})", columns, rows, _QUEUE_NUMERIC)


# ----------------------------------------------------------------- exchanges and bindings


def _exchange_features(exchange: Exchange) -> Cell:
    marks = [
        mark
        for mark, on in (
            ("D", exchange.durable),
            ("AD", exchange.auto_delete),
            ("I", exchange.internal),
            ("AE", exchange.alternate_exchange is not None),
        )
        if on
    ]
    return Cell(" ".join(marks), title=arguments_cell(exchange.arguments).text or None)


def exchanges_table(exchanges: Iterable[Exchange], title: str = "exchanges") -> Table:
    listed = list(exchanges)
    rows: list[tuple[CellValue, ...]] = [
        (
            exchange.name or "(AMQP default)",
            exchange.type,
            _exchange_features(exchange),
            len(exchange.bindings),
            exchange.messages_delayed if exchange.type == "x-delayed-message" else "",
            arguments_cell(exchange.arguments),
        )
        for exchange in listed
    ]
    columns, rows = _with_policies(
        ("name", "type", "features", "bindings", "delayed", "arguments"), rows, listed
    )
    return Table.of(f"{title} ({len(rows)})", columns, rows, ("bindings", "delayed"))


def bindings_table(bindings: Iterable[Binding], title: str = "bindings") -> Table:
    rows = [
        (
            b.source or "(AMQP default)",
            b.destination_type,
            b.destination,
            b.routing_key,
            arguments_cell(b.arguments),
        )
        for b in bindings
    ]
    return Table.of(
        f"{title} ({len(rows)})",
        ("source", "destination type", "destination", "routing key", "arguments"),
        rows,
    )


# ----------------------------------------------------------------- connections, channels, consumers


def connection_label(connection: Connection) -> str:
    """What names a connection in a view: the name its client gave
    (``client_properties["connection_name"]``, as RabbitMQ shows it), else
    ``user@vhost #n`` with n its place among the broker's connections."""
    name = getattr(connection, "name", None)
    if isinstance(name, str) and name:
        return name
    given = connection.client_properties.get("connection_name")
    if isinstance(given, (str, bytes)) and given:
        return field_text(given)
    connections = connection.broker.connections
    number = connections.index(connection) + 1 if connection in connections else 0
    return f"{connection.user}@{connection.vhost.name} #{number}"


def channel_label(channel: Channel) -> str:
    """A channel as RabbitMQ names it: its connection's name, then the number."""
    return f"{connection_label(channel.connection)} ({channel.channel_number})"


def _client(connection: Connection) -> str:
    properties = connection.client_properties
    product = properties.get("product")
    version = properties.get("version")
    return " ".join(field_text(v) for v in (product, version) if v is not None)


def connections_table(connections: Iterable[Connection], title: str = "connections") -> Table:
    rows = [
        (
            connection_label(connection),
            connection.user,
            connection.vhost.name,
            "running" if connection.is_open else "closed",
            len(connection.channels),
            _client(connection),
        )
        for connection in connections
    ]
    return Table.of(
        f"{title} ({len(rows)})",
        ("name", "user", "vhost", "state", "channels", "client"),
        rows,
        ("channels",),
    )


def _channel_row(channel: Channel) -> tuple[CellValue, ...]:
    # the facts of RabbitMQ's channel object (spec 18.8), read where the management
    # API reads them; mode C = confirm, T = transactional, as rabbitmqctl shows it
    from amqpmodel.driver import channel_state

    state = channel_state(channel)
    return (
        channel_label(channel),
        channel.connection.user,
        channel.connection.vhost.name,
        ("C" if state.confirm else "") + ("T" if state.transactional else ""),
        state.prefetch_count,
        state.global_prefetch_count,
        state.consumer_count,
        state.messages_unacknowledged,
        state.messages_unconfirmed,
        state.messages_uncommitted,
        state.acks_uncommitted,
        "running" if channel.is_open else "closed",
    )


_CHANNEL_COLUMNS = (
    "channel",
    "user",
    "vhost",
    "mode",
    "prefetch",
    "global prefetch",
    "consumers",
    "unacked",
    "unconfirmed",
    "uncommitted",
    "acks uncommitted",
    "state",
)


def channels_table(channels: Iterable[Channel], title: str = "channels") -> Table:
    rows = [_channel_row(channel) for channel in channels]
    return Table.of(f"{title} ({len(rows)})", _CHANNEL_COLUMNS, rows, _CHANNEL_COLUMNS[4:11])


def consumer_status(consumer: Consumer) -> str:
    """RabbitMQ's activity_status: "up", or for a single-active-consumer queue
    "single_active" / "waiting" (spec 7.6)."""
    active = consumer.queue.single_active_consumer  # None unless the queue has one
    if active is None:
        return "up"
    return "single_active" if active is consumer else "waiting"


def consumers_table(consumers: Iterable[Consumer], title: str = "consumers") -> Table:
    rows = [
        (
            consumer.tag,
            consumer.queue.name,
            channel_label(consumer.channel),
            not consumer.auto_ack,
            consumer.exclusive,
            consumer.prefetch,
            consumer.unacked,
            consumer_status(consumer),
            arguments_cell(getattr(consumer, "arguments", None)),
        )
        for consumer in consumers
    ]
    return Table.of(
        f"{title} ({len(rows)})",
        (
            "consumer tag",
            "queue",
            "channel",
            "ack required",
            "exclusive",
            "prefetch",
            "unacked",
            "activity status",
            "arguments",
        ),
        rows,
        ("prefetch", "unacked"),
    )


# ----------------------------------------------------------------- messages


def messages_table(
    messages: Sequence[Message], title: str = "ready messages", total: int | None = None
) -> Table:
    """Messages with their properties and headers (x-death included), first ones first."""
    shown = messages[:MESSAGES_SHOWN]
    rows = [
        (
            position,
            message.exchange or "(AMQP default)",
            message.routing_key,
            message.redelivered,
            properties_cell(message.properties),
            headers_cell(message.properties.headers),
            body_cell(message.body),
        )
        for position, message in enumerate(shown, 1)
    ]
    total = len(messages) if total is None else total
    note = f"the first {len(shown)} of {total}" if total > len(shown) else ""
    return Table.of(
        f"{title} ({total})",
        ("#", "exchange", "routing key", "redelivered", "properties", "headers", "body"),
        rows,
        ("#",),
        note,
    )


_SETTLING = {"ack": "acked", "reject": "rejected"}


def unacked_table(queue: Queue, title: str = "unacknowledged messages") -> Table:
    """The messages of ``queue`` held by consumers (or basic.get) and not yet
    settled, with who holds them: channel, consumer tag, delivery tag."""
    held: list[tuple[Channel, Any]] = []
    vhost = queue._vhost
    for connection in vhost._broker.connections:
        if connection.vhost is not vhost:
            continue
        for channel in connection.channels.values():
            held.extend((channel, unacked) for unacked in channel.unacked_messages(queue))
    shown = held[:MESSAGES_SHOWN]
    rows = []
    for channel, unacked in shown:
        message = unacked.message
        settling = unacked.settling
        rows.append(
            (
                channel_label(channel),
                unacked.consumer_tag if unacked.consumer_tag is not None else "(basic.get)",
                unacked.delivery_tag,
                unacked.redelivered,
                message.exchange or "(AMQP default)",
                message.routing_key,
                properties_cell(message.properties),
                headers_cell(message.properties.headers),
                body_cell(message.body),
                "" if settling is None else f"{_SETTLING.get(settling, 'requeued')} at tx.commit",
            )
        )
    note = f"the first {len(shown)} of {len(held)}" if len(held) > len(shown) else ""
    return Table.of(
        f"{title} ({len(held)})",
        (
            "held by channel",
            "consumer tag",
            "delivery tag",
            "redelivered",
            "exchange",
            "routing key",
            "properties",
            "headers",
            "body",
            "pending",
        ),
        rows,
        ("delivery tag",),
        note,
    )
