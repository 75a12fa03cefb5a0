"""The view layer, public: tables and the topology picture of a broker, for any driver that shows one.

Jupyter gets these through the entities' ``_repr_html_`` and ``_repr_svg_``,
a REPL through their ``repr()``; a driver that shows a broker elsewhere (a
management web page) calls the same functions, so every view shows the same
facts. Each function reads the broker's state under its lock and returns a
``Table`` (``to_html()``: a fragment with a plain ``<table>``; ``to_text()``:
aligned columns) or SVG text; nothing here changes the broker or runs on a
message's path. No Jupyter module is imported.

    >>> from amqpmodel import Broker
    >>> from amqpmodel import views
    >>> broker = Broker()
    >>> broker.connect().channel().queue_declare("hello").method.queue
    'hello'
    >>> table = views.queues_table(broker.vhost("/").queues.values())
    >>> table.title, table.columns[:4], table.rows[0][:2]
    ('queues (1)', ('name', 'type', 'features', 'ready'), ('hello', 'classic'))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._channel_inspect import UnackedMessage
from ._inspect import queue_tables, vhost_tables
from ._views._rows import (
    bindings_table,
    channel_label,
    channels_table,
    connection_label,
    connections_table,
    consumers_table,
    exchanges_table,
    messages_table,
    queues_table,
    type_figures,
    unacked_table,
)
from ._views._table import Cell, Table, tables_html, tables_text

if TYPE_CHECKING:
    from ._vhost import VirtualHost

__all__ = [
    "Cell",
    "Table",
    "UnackedMessage",
    "bindings_table",
    "channel_label",
    "channels_table",
    "connection_label",
    "connections_table",
    "consumers_table",
    "exchanges_table",
    "messages_table",
    "queue_tables",
    "queues_table",
    "tables_html",
    "tables_text",
    "topology_svg",
    "type_figures",
    "unacked_table",
    "vhost_tables",
]


def topology_svg(vhost: VirtualHost) -> str:
    """The topology picture of ``vhost`` as an SVG document (what Jupyter shows for
    ``vhost.topology()``): boxes with ``<title>`` hover texts, edges by kind, a legend."""
    return vhost.topology()._repr_svg_()
