"""The kombu ``Transport`` for ``amqpmodel://``: which broker a URL reaches, and the
transport's capabilities and error classes.

It is not one of kombu's virtual transports (``kombu/transport/virtual``),
which emulate exchanges inside kombu and so lose RabbitMQ's semantics, as
``memory://`` does: like ``pyamqp``, it hands every declare, bind, publish,
consume and ack to a broker, here an in-process ``amqpmodel.Broker``.

- The broker: ``transport_options={"broker": b}`` if given, else the process's
  default broker (``amqpmodel.default_broker()``); the URL's host and port
  are ignored, as there is no socket.
- The virtual host: the URL's (``amqpmodel:///staging``), "/" by default.
- The user: the URL's userid, guest by default; not password-checked (the
  caller is in this process), but an unknown user or vhost is refused as
  RabbitMQ refuses it (403, 530), with one of ``connection_errors``.
- ``transport_options={"confirm_publish": True}`` makes every publish wait
  for its confirm, as with pyamqp.

Celery's worker drives a transport without ``implements.asynchronous`` with
its blocking loop (``celery.worker.loops.synloop``), which calls
``drain_events(timeout=...)``; that is what this transport offers, since it
has no file descriptor for an event loop to poll. There are no heartbeats:
nothing can go silent in process.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import base

import amqpmodel

from . import _errors
from ._connection import Connection as TransportConnection

__all__ = ["Transport"]


class Transport(base.Transport):
    """kombu transport backed by an in-process amqpmodel ``Broker``."""

    Connection = TransportConnection

    default_port = None
    driver_type = "amqp"  # AMQP 0-9-1 semantics: Celery treats it as it treats RabbitMQ
    driver_name = "amqpmodel"

    connection_errors = _errors.CONNECTION_ERRORS  # type: ignore[assignment]
    channel_errors = _errors.CHANNEL_ERRORS  # type: ignore[assignment]
    recoverable_connection_errors = _errors.RECOVERABLE_CONNECTION_ERRORS
    recoverable_channel_errors = _errors.RECOVERABLE_CHANNEL_ERRORS

    implements = base.Transport.implements.extend(asynchronous=False, heartbeats=False)

    def driver_version(self) -> str:
        return amqpmodel.__version__

    @property
    def default_connection_params(self) -> dict[str, Any]:
        return {"userid": "guest", "password": "guest", "virtual_host": "/"}

    def broker(self) -> amqpmodel.Broker:
        """The broker this transport's connections reach (see the module docstring)."""
        broker = self._options().get("broker")
        if broker is None:
            return amqpmodel.default_broker()
        if not isinstance(broker, amqpmodel.Broker):
            raise TypeError(
                f"transport option 'broker' must be an amqpmodel.Broker, got {broker!r}"
            )
        return broker

    def _options(self) -> dict[str, Any]:
        client = self.client
        if client is None:
            raise RuntimeError("the transport's kombu Connection is gone")
        return dict(client.transport_options or {})

    def establish_connection(self) -> TransportConnection:
        options = self._options()
        client: Any = self.client
        explicit = options.get("broker") is not None
        connection = self.Connection(
            self.broker(),
            virtual_host=client.virtual_host or "/",
            userid=client.userid or "guest",
            confirm_publish=bool(options.get("confirm_publish", False)),
            follows_default=not explicit,
        )
        connection.client = client
        return connection

    def close_connection(self, connection: TransportConnection) -> None:
        connection.client = None
        connection.close()

    def verify_connection(self, connection: TransportConnection) -> bool:
        return connection.connected

    def create_channel(self, connection: TransportConnection) -> Any:
        return connection.channel()

    def close_channel(self, channel: Any) -> None:
        channel.close()

    def drain_events(self, connection: TransportConnection, **kwargs: Any) -> None:
        connection.drain_events(**kwargs)

    def _collect(self, connection: TransportConnection | None) -> None:
        # kombu's Connection.collect (after a fork): drop the connection without
        # the socket timeouts it would otherwise set up for a close
        if connection is not None:
            connection.collect()

    def qos_semantics_matches_spec(self, connection: TransportConnection) -> bool:
        # basic.qos global=false limits each consumer, global=true the channel
        # (spec 0.1), as RabbitMQ 4 does; kombu's answer for RabbitMQ >= 4.0
        return True

    def get_heartbeat_interval(self, connection: TransportConnection) -> int:
        return 0
