"""What every handler of the management API shares: the broker, the AMQP server beside
it (for what only the wire knows of a connection), names of connections and
channels, the node's identity, and the rate sampler."""

from __future__ import annotations

import itertools
import socket
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import attrs

from amqpmodel import AMQPError, Broker, Channel, Connection, __version__
from amqpmodel.driver import global_parameter, inspection_lock

from ._http import ApiError, amqp_error
from ._rates import Rates

if TYPE_CHECKING:
    from amqpmodel.server import Server, ServerConnection

__all__ = ["MODELLED_RABBITMQ_VERSION", "ClientConnection", "Context"]

# the RabbitMQ release amqpmodel follows by default (README, "Compatibility notes"); the
# API reports the broker's own (broker.rabbitmq_version, spec 0.x), as tools read
# rabbitmq_version to pick features; product_name/product_version say what this is
MODELLED_RABBITMQ_VERSION = "4.2.9"

MANAGEMENT_CLIENT = {"product": "amqpmodel management", "connection_name": "management"}


@attrs.frozen
class ClientConnection:
    """A connection as the management API lists it: the core's, with its wire side
    (None for an in-process connection, ``broker.connect()``)."""

    name: str
    core: Connection
    wire: ServerConnection | None


class Context:
    """State shared by the handlers of one management server."""

    def __init__(
        self,
        broker: Broker,
        *,
        amqp: Server | None = None,
        loopback_users: tuple[str, ...] = ("guest",),
        host: str = "127.0.0.1",
    ) -> None:
        self.broker = broker
        self.amqp = amqp
        self.loopback_users = loopback_users
        self.host = host
        self.node = f"rabbit@{socket.gethostname().split('.')[0] or 'localhost'}"
        self.started = time.time()
        self.version = __version__
        self.listeners: list[dict[str, Any]] = []
        self.rates = Rates(broker)
        self._names: weakref.WeakKeyDictionary[Connection, str] = weakref.WeakKeyDictionary()
        self._numbers = itertools.count(1)
        self._own: weakref.WeakSet[Connection] = weakref.WeakSet()

    @property
    def cluster_name(self) -> str:
        """The global parameter ``cluster_name`` (a definitions import may set it), else
        the node's name, as RabbitMQ names a cluster it was not given a name for."""
        name = global_parameter(self.broker, "cluster_name")
        return name if isinstance(name, str) and name else self.node

    # ----------------------------------------------------------------- connections

    def lock(self) -> Any:
        return inspection_lock(self.broker)

    def connections(self) -> list[ClientConnection]:
        """Open client connections, wire and in-process, without the API's own."""
        wires: dict[Connection, ServerConnection] = {}
        if self.amqp is not None:
            for wire in self.amqp.client_connections():
                if wire.core is not None:
                    wires[wire.core] = wire
        found = []
        for core in self.broker.connections:
            if core in self._own or not core.is_open:
                continue
            on_wire = wires.get(core)
            found.append(ClientConnection(self._name(core, on_wire), core, on_wire))
        return found

    def by_core(self) -> dict[Connection, ClientConnection]:
        """Each listed connection by its core connection: build once per request."""
        return {record.core: record for record in self.connections()}

    def _name(self, core: Connection, wire: ServerConnection | None) -> str:
        name = self._names.get(core)
        if name is None:
            if wire is not None:
                name = f"{wire.peer} -> {wire.local}"
            else:
                name = f"in-process {next(self._numbers)}"
            self._names[core] = name
        return name

    def connection(self, name: str) -> ClientConnection:
        for record in self.connections():
            if record.name == name:
                return record
        raise ApiError(404, "Object Not Found", "Not Found")

    def channels(self) -> Iterator[tuple[ClientConnection, Channel]]:
        for record in self.connections():
            for number in sorted(record.core.channels):
                channel = record.core.channels[number]
                if channel.is_open:
                    yield record, channel

    # ----------------------------------------------------------------- acting on the broker

    @contextmanager
    def channel(self, vhost: str, user: str) -> Iterator[Channel]:
        """A channel of a private in-process connection as ``user`` on ``vhost``, so an
        action runs every check an AMQP client's would; AMQP refusals become HTTP
        errors (spec 18.4). The connection closes afterwards."""
        try:
            connection = self.broker.connect(vhost, user, dict(MANAGEMENT_CLIENT))
        except AMQPError as error:
            raise amqp_error(error) from None
        self._own.add(connection)
        try:
            yield connection.channel()
        except AMQPError as error:
            raise amqp_error(error) from None
        finally:
            connection.close()
