"""The transport's connection: one amqpmodel connection, as py-amqp's is one socket.

``drain_events`` is what kombu and Celery wait in: it runs the callbacks the
broker has queued for this connection (deliveries, returns, cancels,
closes) and, as py-amqp's does, raises ``socket.timeout`` when none came
within ``timeout`` seconds (``socket.timeout`` is ``TimeoutError``).
"""

from __future__ import annotations

import time
from typing import Any

import amqpmodel

from . import _errors
from ._channel import Channel as TransportChannel

__all__ = ["CLIENT_PROPERTIES", "REPLACED", "Connection"]

# the close of a connection whose default broker was replaced (recoverable, as
# RabbitMQ's close at shutdown)
REPLACED = (320, "CONNECTION_FORCED - the default broker was replaced")

# what the transport tells the broker about itself; consumer_cancel_notify as
# py-amqp asks for it, so a deleted queue cancels its consumers (spec 7.8)
CLIENT_PROPERTIES: dict[str, Any] = {
    "product": "amqpmodel.kombu",
    "product_version": amqpmodel.__version__,
    "capabilities": {
        "consumer_cancel_notify": True,
        "connection.blocked": True,
        "authentication_failure_close": True,
    },
}


class Connection:
    """A connection of the transport, with the parts of py-amqp's ``Connection``
    that kombu uses (``channel``, ``drain_events``, ``close``, ``connected``)."""

    Channel = TransportChannel

    def __init__(
        self,
        broker: amqpmodel.Broker,
        virtual_host: str = "/",
        userid: str = "guest",
        confirm_publish: bool = False,
        follows_default: bool = False,
    ) -> None:
        try:
            self.core = broker.connect(
                virtual_host, user=userid, client_properties=CLIENT_PROPERTIES
            )
        except amqpmodel.AMQPError as error:
            raise _errors.connection_refused(error) from error
        self.broker = broker
        self.virtual_host = virtual_host
        self.userid = userid
        self.confirm_publish = confirm_publish
        # reached as the default broker: once another broker is made the default (a
        # test ended), kombu sees this connection lost and reconnects to the new one,
        # so a connection kept in kombu's global pools cannot reach an old broker
        self.follows_default = follows_default
        self.client: Any = None  # the kombu Connection, set by the transport
        self.channels: dict[int, TransportChannel] = {}
        self.heartbeat = 0
        self.server_properties: dict[str, Any] = {
            "product": "amqpmodel",
            "version": amqpmodel.__version__,
            "platform": "Python",
        }
        # a connection-level refusal of a publish, not yet seen by the client
        self._refused: BaseException | None = None
        self._gone = False  # the client closed it or was told it is closed
        self._internal = 0

    def __repr__(self) -> str:
        state = "open" if self.connected else "closed"
        return f"<amqpmodel.kombu.Connection {self.userid}@{self.virtual_host} {state}>"

    @property
    def connected(self) -> bool:
        """True until the client has closed the connection or been told the broker
        did: as py-amqp's socket, which looks connected until a read finds the
        broker's connection.close, so kombu reconnects only after that error."""
        if self.follows_default and not self._gone and self._replaced():
            # kombu drops a connection it finds lost without closing it
            self._gone = True
            self.core.close(*REPLACED)
        return not self._gone

    def _replaced(self) -> bool:
        return amqpmodel.default_broker() is not self.broker

    def internal_event(self) -> None:
        """Count a callback the client does not see (a channel's close it already
        reported), so that a drain that ran only those still times out."""
        self._internal += 1

    def refuse(self, error: BaseException) -> None:
        """Remember a publish's connection-level refusal for the next drain or call."""
        self._refused = error

    def forget(self, channel: TransportChannel) -> None:
        """Drop a closed channel."""
        if self.channels.get(channel.channel_id) is channel:
            del self.channels[channel.channel_id]

    def check_open(self) -> None:
        """Raise what py-amqp would raise on its next read if the connection is gone:
        a refused publish's connection error, or the broker's close."""
        refused = self._refused
        if refused is not None:
            self._refused = None
            raise refused
        if self.follows_default and self.core.is_open and self._replaced():
            self.core.close(*REPLACED)
        if self.core.is_closed:
            self._gone = True
            raise _errors.closed_connection_error(self.core.close_reason)

    def channel(self, channel_id: int | None = None) -> TransportChannel:
        """Open a channel (the lowest free number unless ``channel_id`` is given)."""
        self.check_open()
        if channel_id is not None and channel_id in self.channels:
            return self.channels[channel_id]  # as py-amqp: the channel already open
        try:
            channel = self.Channel(self, channel_id)
        except amqpmodel.ConnectionClosed as error:
            raise _errors.closed_connection_error(self.core.close_reason) from error
        except amqpmodel.AMQPError as error:
            raise _errors.translate(error) from error
        self.channels[channel.channel_id] = channel
        return channel

    def drain_events(self, timeout: float | None = None) -> None:
        """Run the callbacks that are pending, waiting up to ``timeout`` seconds
        (None: for ever) for some; ``TimeoutError`` (``socket.timeout``) if none came."""
        self.check_open()
        for channel in list(self.channels.values()):
            channel.raise_refusal()  # the channel.close that followed a refused publish
        deadline = None if timeout is None else time.monotonic() + timeout
        remaining = timeout
        while True:
            internal = self._internal
            ran = self.core.process_data_events(time_limit=remaining)
            if self.core.is_closed:
                self.check_open()  # the broker closed it during the wait: py-amqp raises
            if ran > self._internal - internal:
                return
            self.check_open()
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not ran:
                    raise TimeoutError("timed out")

    def close(self) -> None:
        """Close the connection (idempotent): unacked messages go back to their
        queues, redelivered (spec 7.13), exclusive queues are deleted."""
        self._gone = True
        for channel in list(self.channels.values()):
            channel.collect()
        self.channels.clear()
        self.core.close()

    def collect(self) -> None:
        """Let go of the connection (after a fork); in process that is a close."""
        self.close()
