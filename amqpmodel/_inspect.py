"""What each entity shows in Jupyter (``_repr_html_``): its tables from the view layer (``_views``).

The entities' ``_repr_html_`` methods call these; each reads under the broker
lock, so a view is consistent while other threads use the broker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._views._rows import (
    bindings_table,
    channels_table,
    connections_table,
    consumers_table,
    exchanges_table,
    messages_table,
    queues_table,
    resources_table,
    unacked_table,
)
from ._views._table import Table, tables_html

if TYPE_CHECKING:
    from ._broker import Broker
    from ._channel import Channel
    from ._connection import Connection
    from ._exchange import Exchange
    from ._queue import Queue
    from ._vhost import VirtualHost

__all__ = [
    "broker_html",
    "channel_html",
    "connection_html",
    "exchange_html",
    "queue_html",
    "queue_tables",
    "vhost_html",
    "vhost_tables",
]


def queue_tables(queue: Queue) -> list[Table]:
    """A queue: its row, its ready messages and the messages consumers hold."""
    with queue._vhost._broker._lock:
        ready = queue.peek()
        return [
            queues_table([queue], f"queue {queue.name!r}"),
            messages_table(ready, "ready messages"),
            unacked_table(queue),
            consumers_table(queue.consumers),
        ]


def queue_html(queue: Queue) -> str:
    return tables_html(queue_tables(queue))


def exchange_html(exchange: Exchange) -> str:
    title = f"exchange {exchange.name!r} ({exchange.type})"
    if exchange.type == "x-delayed-message":  # held messages are counted, and shown (13.7)
        title += f", {exchange.messages_delayed} delayed"
    return tables_html(
        [exchanges_table([exchange], title), bindings_table(exchange.bindings, "bindings from it")]
    )


def vhost_tables(vhost: VirtualHost) -> list[Table]:
    """A vhost: its queues, exchanges and bindings, and who is connected to it."""
    broker = vhost._broker
    with broker._lock:
        connections = [c for c in broker.connections if c.vhost is vhost]
        channels = [ch for c in connections for ch in c.channels.values()]
        return [
            queues_table(vhost.queues.values(), f"queues of vhost {vhost.name!r}"),
            exchanges_table(vhost.exchanges.values()),
            bindings_table(vhost.bindings),
            connections_table(connections),
            channels_table(channels),
            consumers_table([consumer for ch in channels for consumer in ch.consumers]),
        ]


def vhost_html(vhost: VirtualHost) -> str:
    return tables_html(vhost_tables(vhost))


def broker_html(broker: Broker) -> str:
    """The default vhost's tables, then the other vhosts listed."""
    with broker._lock:
        tables = vhost_tables(broker.vhost("/")) if "/" in broker.vhosts else []
        others = [
            (
                name,
                len(vhost.queues),
                len(vhost.exchanges),
                sum(1 for c in broker.connections if c.vhost is vhost),
            )
            for name, vhost in broker.vhosts.items()
            if name != "/"
        ]
    if others:
        tables.append(
            Table.of(
                f"other vhosts ({len(others)})",
                ("name", "queues", "exchanges", "connections"),
                others,
                ("queues", "exchanges", "connections"),
            )
        )
    if broker.resource_alarms:  # spec 21.1-21.3: why publishers wait
        tables.insert(0, resources_table(broker))
    return tables_html(tables)


def connection_html(connection: Connection) -> str:
    with connection.broker._lock:
        channels = list(connection.channels.values())
        return tables_html(
            [
                connections_table([connection], "connection"),
                channels_table(channels),
                consumers_table([consumer for ch in channels for consumer in ch.consumers]),
            ]
        )


def channel_html(channel: Channel) -> str:
    with channel._lock:
        held = channel.unacked_messages()
        rows = [
            (
                u.delivery_tag,
                u.queue,
                u.consumer_tag if u.consumer_tag is not None else "(basic.get)",
                u.redelivered,
                u.message.routing_key,
            )
            for u in held
        ]
        return tables_html(
            [
                channels_table([channel], "channel"),
                consumers_table(channel.consumers),
                Table.of(
                    f"unacknowledged deliveries ({len(rows)})",
                    ("delivery tag", "queue", "consumer tag", "redelivered", "routing key"),
                    rows[:50],
                    ("delivery tag",),
                    f"the first 50 of {len(rows)}" if len(rows) > 50 else "",
                ),
            ]
        )
