"""``BlockingConnection`` and ``BlockingChannel``: pika's own, opened in process.

These are subclasses of pika's classes, so everything a pika application
uses (methods, defaults, return values, exceptions, ``isinstance`` checks)
is pika's; only the connection's transport differs (``_transport.py``). The
one addition is that the channel also accepts the pika 0.x call forms the
RabbitMQ tutorials were printed with (``_legacy.py``).
"""

from __future__ import annotations

import threading
from typing import Any

import pika.adapters.blocking_connection as _pika_blocking
import pika.connection

from amqpmodel import Broker, default_broker
from amqpmodel.server import ServerSettings

from . import _legacy
from ._transport import InProcessFactory

__all__ = [
    "PATCHES",
    "PATCHES_LOCK",
    "BlockingChannel",
    "BlockingConnection",
    "PikaBlockingConnection",
    "target_broker",
]

PikaBlockingConnection = _pika_blocking.BlockingConnection

# active patch_pika patches, innermost last: (broker, the class pika's names point at)
PATCHES: list[tuple[Broker, type[BlockingConnection]]] = []
PATCHES_LOCK = threading.Lock()


def target_broker() -> Broker:
    """The broker an unnamed connection reaches: the innermost ``patch_pika``'s, else
    the process-wide default."""
    with PATCHES_LOCK:
        if PATCHES:
            return PATCHES[-1][0]
    return default_broker()


class BlockingChannel(_pika_blocking.BlockingChannel):  # type: ignore[misc]
    """pika's ``BlockingChannel``, also taking pika 0.x's call forms (with a
    ``DeprecationWarning`` that names the 1.x form)."""

    basic_consume = _legacy.basic_consume
    exchange_declare = _legacy.exchange_declare
    queue_declare = _legacy.queue_declare
    queue_delete = _legacy.queue_delete
    queue_purge = _legacy.queue_purge
    queue_unbind = _legacy.queue_unbind
    basic_get = _legacy.basic_get
    basic_qos = _legacy.basic_qos


class BlockingConnection(_pika_blocking.BlockingConnection):  # type: ignore[misc]
    """pika's ``BlockingConnection`` to a ``Broker`` in this process.

    ``parameters`` are pika's (``ConnectionParameters``, ``URLParameters`` or a
    sequence of them, tried in turn): host and port are ignored, credentials
    and virtual host are checked as the socket server checks them (so a wrong
    password raises pika's ``ProbableAuthenticationError`` and an unknown
    vhost ``ProbableAccessDeniedError``, as against RabbitMQ). ``broker``
    defaults to the one installed by ``amqpmodel.testing.patch_pika``, else
    ``amqpmodel.default_broker()``.
    """

    def __init__(
        self,
        parameters: pika.connection.Parameters | list[pika.connection.Parameters] | None = None,
        _impl_class: None = None,
        *,
        broker: Broker | None = None,
        settings: ServerSettings | None = None,
    ) -> None:
        if _impl_class is not None:  # pika's own parameter, "for tests/debugging only"
            raise TypeError("an in-process connection has no implementation class to choose")
        self.broker = broker if broker is not None else target_broker()
        super().__init__(
            parameters, _impl_class=InProcessFactory(self.broker, settings or ServerSettings())
        )

    @property
    def server_properties(self) -> dict[str, Any]:
        """What the broker announced in connection.start (product, version, capabilities)."""
        properties: dict[str, Any] = self._impl.server_properties
        return properties

    def channel(self, channel_number: int | None = None) -> BlockingChannel:
        channel = super().channel(channel_number)
        # the same object pika's callbacks are given, now taking the 0.x forms too
        channel.__class__ = BlockingChannel
        assert isinstance(channel, BlockingChannel)
        return channel

    add_timeout = _legacy.add_timeout
