"""A shovel's source: a consumer on this broker, through the in-process API.

RabbitMQ's shovel reaches a source ``amqp://`` (no host) with a direct
connection to its own node; here that is ``broker.connect``. Deliveries are
collected by the consumer callback when the shovel's thread drains the
connection, and acked, nacked or left unacked by that thread; closing the
connection requeues whatever is unacked, flagged redelivered (spec 7.13), so
nothing the shovel took is lost when it stops or fails (except with no-ack,
as on RabbitMQ).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from amqpmodel import AMQPError, BasicProperties, Broker, Channel, Connection, NotFound

from ._definition import ShovelDefinition
from ._uri import AmqpUri

__all__ = ["Delivery", "LocalSource", "ShovelFailure", "local_user"]

Delivery = tuple[Any, BasicProperties, bytes]  # (Deliver, properties, body)


class ShovelFailure(Exception):
    """A shovel stopped working; ``reason`` is what its status shows (spec 20.8)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def local_user(broker: Broker, uri: AmqpUri) -> str:
    """Whom a direct connection to this broker acts as: the URI's user when it names
    one, else (RabbitMQ's direct connection needs no user) guest or an administrator."""
    if uri.username is not None:
        return uri.username
    users = broker.users
    if "guest" in users:
        return "guest"
    for name, (_, tags) in users.items():
        if "administrator" in tags:
            return name
    return next(iter(users), "guest")


class LocalSource:
    """The consuming end of one run of a shovel (a new one for each restart)."""

    def __init__(self, broker: Broker, definition: ShovelDefinition, uri: AmqpUri) -> None:
        self.broker = broker
        self.definition = definition
        self.uri = uri
        self.connection: Connection | None = None
        self.channel: Channel | None = None
        self.queue = ""
        self.deliveries: deque[Delivery] = deque()
        self.cancelled = False

    def connect(self, wakeup: Callable[[], None] | None) -> None:
        try:
            self.connection = self.broker.connect(
                self.uri.vhost,
                user=local_user(self.broker, self.uri),
                client_properties={
                    "connection_name": f"Shovel {self.definition.name}",
                    "product": "amqpmodel shovel",
                    "capabilities": {"consumer_cancel_notify": True},
                },
            )
            self.channel = self.connection.channel()
        except AMQPError as error:
            raise ShovelFailure("failed to connect to source") from error
        if wakeup is not None:
            self.connection.set_wakeup(wakeup)

    def _declare(self) -> None:
        """``src_decl_queue``, ``src_check_queue`` or ``src_decl_exchange`` (spec 20.3)."""
        definition = self.definition
        connection, channel = self.connection, self.channel
        assert connection is not None and channel is not None
        if definition.src_queue is None:
            self.queue = channel.queue_declare("", exclusive=True).queue
            channel.queue_bind(
                self.queue, definition.src_exchange or "", definition.src_exchange_key
            )
            return
        self.queue = definition.src_queue
        check = connection.channel()
        try:
            check.queue_declare(self.queue, passive=True)
        except NotFound:
            if definition.src_predeclared:
                raise
            declare = connection.channel()
            declare.queue_declare(self.queue, durable=True, arguments=definition.src_queue_args)
            declare.close()
        finally:
            check.close()

    def start(self, no_ack: bool) -> int | str:
        """Declare, set the prefetch, and consume; returns how many messages to move
        ("unlimited" unless ``src-delete-after`` says, spec 20.5)."""
        channel = self.channel
        assert channel is not None
        definition = self.definition
        try:
            self._declare()
            if not no_ack:
                channel.basic_qos(prefetch_count=definition.prefetch_count)
            remaining: int | str = "unlimited"
            if definition.delete_after == "queue-length":
                remaining = channel.queue_declare(self.queue, passive=True).message_count
            elif definition.delete_after != "never":
                remaining = int(definition.delete_after)
            if remaining == 0:
                return 0
            channel.basic_consume(
                self.queue,
                self._on_message,
                auto_ack=no_ack,
                arguments=definition.src_consumer_args or None,
                on_cancel_callback=self._on_cancel,
            )
        except AMQPError as error:
            raise ShovelFailure(error.reply_text) from error
        return remaining

    def _on_message(
        self, channel: Channel, method: Any, properties: BasicProperties, body: bytes
    ) -> None:
        self.deliveries.append((method, properties, body))

    def _on_cancel(self, method: Any) -> None:
        # the queue went away: RabbitMQ's shovel stops to restart ({shutdown, restart})
        self.cancelled = True

    def drain(self) -> None:
        """Run the consumer callbacks pending now (the deliveries land in ``deliveries``)."""
        connection = self.connection
        if connection is not None:
            connection.drain()

    def wait(self, timeout: float) -> None:
        """Block up to ``timeout`` seconds (real time) for deliveries."""
        connection = self.connection
        if connection is not None and connection.is_open:
            connection.process_data_events(time_limit=timeout)

    def wake(self) -> None:
        """From any thread: end a ``wait`` now."""
        connection = self.connection
        if connection is not None:
            try:
                connection.add_callback_threadsafe(_nothing)
            except AMQPError:
                pass

    def check(self) -> None:
        """Raise the failure the source has had, if any."""
        if self.cancelled:
            raise ShovelFailure("needed a restart")
        connection = self.connection
        if connection is not None and connection.close_reason is not None:
            raise ShovelFailure(connection.close_reason[1])
        channel = self.channel
        if channel is not None and channel.is_closed:
            raise ShovelFailure("source channel closed")

    def ack(self, delivery_tag: int) -> None:
        self._settle(lambda channel: channel.basic_ack(delivery_tag))

    def nack(self, delivery_tag: int) -> None:
        """A message the destination refused goes back to the source queue (basic.nack
        with requeue, as RabbitMQ's shovel sends it)."""
        self._settle(lambda channel: channel.basic_nack(delivery_tag, requeue=True))

    def _settle(self, settle: Callable[[Channel], None]) -> None:
        channel = self.channel
        assert channel is not None
        try:
            settle(channel)
        except AMQPError as error:
            self.check()
            raise ShovelFailure(error.reply_text) from error

    def close(self) -> None:
        """Close the connection: what it holds unacked goes back, redelivered."""
        connection = self.connection
        self.deliveries.clear()
        if connection is not None:
            connection.set_wakeup(None)
            try:
                connection.close()
            except AMQPError:
                pass


def _nothing() -> None:
    pass
