"""The dicts and lists ``broker.queues``, ``broker.exchanges``, ``broker.bindings`` (and friends) return: tables when shown.

Each is a plain ``dict`` or ``list`` subclass filled with a snapshot of the
entities at the moment it was read, so everything code did with the dict or
list before (indexing, iteration, ``==`` with a plain dict or list, ``json``,
pickling) behaves as it did; only ``repr()`` (a table of text) and
``_repr_html_()`` (the same table in Jupyter) differ. A snapshot does not
follow later declares and deletes: read the property again (the vhost's own
``queues`` and ``exchanges`` dicts are live).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._rows import (
    bindings_table,
    channels_table,
    connections_table,
    consumers_table,
    exchanges_table,
    queues_table,
)
from ._table import Table

if TYPE_CHECKING:
    from amqpmodel._channel import Channel
    from amqpmodel._connection import Connection
    from amqpmodel._consumer import Consumer
    from amqpmodel._exchange import Binding, Exchange
    from amqpmodel._queue import Queue

__all__ = [
    "BindingList",
    "ChannelList",
    "ChannelTable",
    "ConnectionList",
    "ConsumerList",
    "ExchangeTable",
    "QueueTable",
]


class _ShownAsTable:
    """``repr()`` as a text table, ``_repr_html_()`` as an HTML one; the subclass says
    which ``table()``."""

    __slots__ = ()

    def table(self) -> Table:
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.table().to_text()

    def _repr_html_(self) -> str:
        return self.table().to_html()


class QueueTable(_ShownAsTable, dict[str, "Queue"]):
    """Queues by name (a snapshot); shown as ``rabbitmqctl list_queues`` would."""

    __slots__ = ("title",)

    def __init__(self, queues: dict[str, Queue], title: str = "queues") -> None:
        super().__init__(queues)
        self.title = title

    def table(self) -> Table:
        return queues_table(self.values(), self.title)


class ExchangeTable(_ShownAsTable, dict[str, "Exchange"]):
    """Exchanges by name (a snapshot), the default exchange under ``""``."""

    __slots__ = ("title",)

    def __init__(self, exchanges: dict[str, Exchange], title: str = "exchanges") -> None:
        super().__init__(exchanges)
        self.title = title

    def table(self) -> Table:
        return exchanges_table(self.values(), self.title)


class ChannelTable(_ShownAsTable, dict[int, "Channel"]):
    """A connection's channels by number (a snapshot)."""

    __slots__ = ("title",)

    def __init__(self, channels: dict[int, Channel], title: str = "channels") -> None:
        super().__init__(channels)
        self.title = title

    def table(self) -> Table:
        return channels_table(self.values(), self.title)


class BindingList(_ShownAsTable, list["Binding"]):
    """Bindings as ``rabbitmqctl list_bindings`` lists them (a snapshot)."""

    __slots__ = ("title",)

    def __init__(self, bindings: list[Binding], title: str = "bindings") -> None:
        super().__init__(bindings)
        self.title = title

    def table(self) -> Table:
        return bindings_table(self, self.title)


class ConnectionList(_ShownAsTable, list["Connection"]):
    """Open connections (a snapshot)."""

    __slots__ = ("title",)

    def __init__(self, connections: list[Connection], title: str = "connections") -> None:
        super().__init__(connections)
        self.title = title

    def table(self) -> Table:
        return connections_table(self, self.title)


class ChannelList(_ShownAsTable, list["Channel"]):
    """Open channels (a snapshot)."""

    __slots__ = ("title",)

    def __init__(self, channels: list[Channel], title: str = "channels") -> None:
        super().__init__(channels)
        self.title = title

    def table(self) -> Table:
        return channels_table(self, self.title)


class ConsumerList(_ShownAsTable, list["Consumer"]):
    """Consumers (a snapshot)."""

    __slots__ = ("title",)

    def __init__(self, consumers: list[Consumer], title: str = "consumers") -> None:
        super().__init__(consumers)
        self.title = title

    def table(self) -> Table:
        return consumers_table(self, self.title)
