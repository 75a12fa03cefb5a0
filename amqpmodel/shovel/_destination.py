"""A shovel's destination: another broker through pika, or this broker in process.

Each publish returns once the message is where the ack mode says it must be
before the source is acked (spec 20.5): with on-confirm, after the
destination's basic.ack (pika's ``BlockingChannel`` in confirm mode waits for
it: one message in flight at a time, so a failure leaves at most one message
published and unconfirmed); with on-publish and no-ack, once it is written to
the socket. A nack returns False; anything that ends the session raises
``ShovelFailure`` with the reason RabbitMQ's shovel status shows.
"""

from __future__ import annotations

import datetime
import logging
import random
from typing import TYPE_CHECKING, Any

from amqpmodel import AMQPError, BasicProperties, Broker, Channel, Connection, NackError, NotFound
from amqpmodel.driver import TaggedInt

from ._definition import ShovelDefinition
from ._source import ShovelFailure, local_user
from ._uri import AmqpUri

if TYPE_CHECKING:
    import pika

__all__ = ["Destination", "LocalDestination", "PikaDestination", "connect_destination"]

log = logging.getLogger("amqpmodel.shovel")


class Destination:
    """What the shovel's loop needs of a destination."""

    uri: AmqpUri
    blocked = False

    def publish(
        self, exchange: str, routing_key: str, properties: BasicProperties, body: bytes
    ) -> bool:
        raise NotImplementedError

    def wait(self, timeout: float) -> bool:
        """Serve the destination's I/O for up to ``timeout`` seconds (until ``wake``);
        False when the destination has nothing to wait on (the source waits instead)."""
        return False

    def wake(self) -> None:
        """From any thread: end a ``wait`` now."""

    def close(self) -> None:
        raise NotImplementedError


def connect_destination(
    broker: Broker, definition: ShovelDefinition, uris: tuple[AmqpUri, ...]
) -> Destination:
    """Connect to one of ``uris`` (a random one, then the others, as RabbitMQ) and set it
    up: the queue declared (spec 20.4), confirms selected for on-confirm."""
    candidates = list(uris)
    random.shuffle(candidates)
    failure: Exception | None = None
    for uri in candidates:
        try:
            if uri.is_local:
                return LocalDestination(broker, definition, uri)
            return PikaDestination(definition, uri)
        except _ConnectFailed as error:
            log.error(
                "Shovel '%s' in vhost '%s' failed to connect (URI: %s): %s",
                definition.name,
                definition.vhost,
                uri.without_credentials,
                error.cause,
            )
            failure = error
    raise ShovelFailure("failed to connect to destination") from failure


class _ConnectFailed(Exception):
    def __init__(self, cause: object) -> None:
        super().__init__(str(cause))
        self.cause = cause


class LocalDestination(Destination):
    """A destination in this broker (a ``dest-uri`` without a host): in-process publishes,
    confirmed as they return."""

    def __init__(self, broker: Broker, definition: ShovelDefinition, uri: AmqpUri) -> None:
        self.uri = uri
        self.confirming = definition.ack_mode == "on-confirm"
        try:
            self.connection: Connection = broker.connect(
                uri.vhost,
                user=local_user(broker, uri),
                client_properties={"connection_name": f"Shovel {definition.name}"},
            )
        except AMQPError as error:
            raise _ConnectFailed(error.reply_text) from error
        try:
            if definition.dest_queue is not None:
                self._ensure_queue(definition)
            self.channel: Channel = self.connection.channel()
            if self.confirming:
                self.channel.confirm_delivery()
        except AMQPError as error:
            self.close()
            raise ShovelFailure(error.reply_text) from error

    def _ensure_queue(self, definition: ShovelDefinition) -> None:
        assert definition.dest_queue is not None
        check = self.connection.channel()
        try:
            check.queue_declare(definition.dest_queue, passive=True)
        except NotFound:
            if definition.dest_predeclared:
                raise
            declare = self.connection.channel()
            declare.queue_declare(
                definition.dest_queue, durable=True, arguments=definition.dest_queue_args
            )
            declare.close()
        finally:
            check.close()

    def publish(
        self, exchange: str, routing_key: str, properties: BasicProperties, body: bytes
    ) -> bool:
        try:
            self.channel.basic_publish(exchange, routing_key, body, properties)
        except NackError:
            return False
        except AMQPError as error:
            raise ShovelFailure(error.reply_text) from error
        self.connection.drain()  # nothing should be pending; never let it pile up
        return True

    def close(self) -> None:
        try:
            self.connection.close()
        except AMQPError:
            pass


class PikaDestination(Destination):
    """A destination on the network, through pika's ``BlockingConnection``; owned by the
    shovel's thread (only ``wake`` may be called from another)."""

    def __init__(self, definition: ShovelDefinition, uri: AmqpUri) -> None:
        import pika
        import pika.compat
        import pika.exceptions

        self.pika = pika
        self.uri = uri
        self.confirming = definition.ack_mode == "on-confirm"
        try:
            parameters = pika.URLParameters(uri.uri)
            parameters.client_properties = {"connection_name": f"Shovel {definition.name}"}
            self.connection: pika.BlockingConnection = pika.BlockingConnection(parameters)
        except (pika.exceptions.AMQPError, OSError, ValueError) as error:
            raise _ConnectFailed(error) from error
        self.connection.add_on_connection_blocked_callback(self._on_blocked)
        self.connection.add_on_connection_unblocked_callback(self._on_unblocked)
        try:
            if definition.dest_queue is not None:
                self._ensure_queue(definition)
            self.channel = self.connection.channel()
            if self.confirming:
                self.channel.confirm_delivery()
        except pika.exceptions.AMQPError as error:
            self.close()
            raise ShovelFailure(self._reason(error)) from error

    def _on_blocked(self, connection: Any, method: Any) -> None:
        self.blocked = True

    def _on_unblocked(self, connection: Any, method: Any) -> None:
        self.blocked = False

    def _ensure_queue(self, definition: ShovelDefinition) -> None:
        queue = definition.dest_queue
        assert queue is not None
        check = self.connection.channel()
        try:
            check.queue_declare(queue, passive=True)
        except self.pika.exceptions.ChannelClosedByBroker as error:
            if error.reply_code != 404 or definition.dest_predeclared:
                raise
            declare = self.connection.channel()
            declare.queue_declare(queue, durable=True, arguments=definition.dest_queue_args)
            declare.close()
        if check.is_open:
            check.close()

    def _reason(self, error: Exception) -> str:
        """What a pika error means for the shovel's status (RabbitMQ's terminate reasons)."""
        exceptions = self.pika.exceptions
        if isinstance(error, exceptions.ChannelClosedByBroker):
            return str(error.reply_text)
        if isinstance(error, exceptions.ConnectionClosedByBroker):
            return "needed a restart"
        if isinstance(error, exceptions.AMQPHeartbeatTimeout):
            return "heartbeat timeout"
        if isinstance(error, (exceptions.StreamLostError, OSError)):
            return "socket closed"
        return str(error) or type(error).__name__

    def publish(
        self, exchange: str, routing_key: str, properties: BasicProperties, body: bytes
    ) -> bool:
        exceptions = self.pika.exceptions
        try:
            self.channel.basic_publish(exchange, routing_key, body, self._properties(properties))
        except exceptions.NackError:
            return False
        except (exceptions.AMQPError, OSError) as error:
            raise ShovelFailure(self._reason(error)) from error
        return True

    def wait(self, timeout: float) -> bool:
        try:
            self.connection.process_data_events(time_limit=timeout)
        except (self.pika.exceptions.AMQPError, OSError) as error:
            raise ShovelFailure(self._reason(error)) from error
        if not self.channel.is_open:
            raise ShovelFailure("needed a restart")
        return True

    def wake(self) -> None:
        try:
            self.connection.add_callback_threadsafe(_nothing)
        except Exception:  # closed or closing: the shovel's thread is on its way out
            pass

    def close(self) -> None:
        try:
            if self.connection.is_open:
                self.connection.close()
        except Exception as error:  # a destination that is gone already
            log.debug("closing a shovel's destination connection: %s", error)

    def _properties(self, properties: BasicProperties) -> pika.BasicProperties:
        fields = {
            name: getattr(properties, name)
            for name in (
                "content_type",
                "content_encoding",
                "delivery_mode",
                "priority",
                "correlation_id",
                "reply_to",
                "expiration",
                "message_id",
                "type",
                "user_id",
                "app_id",
                "cluster_id",
            )
        }
        timestamp = properties.timestamp
        if isinstance(timestamp, datetime.datetime):
            zone = timestamp.tzinfo or datetime.timezone.utc
            timestamp = int(timestamp.replace(tzinfo=zone).timestamp())
        headers = properties.headers
        return self.pika.BasicProperties(
            timestamp=timestamp,
            headers=None if headers is None else self._value(headers),
            **fields,
        )

    def _value(self, value: Any) -> Any:
        """A header value as pika encodes it: 64-bit integers stay 64-bit (pika's ``long``);
        other integer widths and 32-bit floats take pika's types (its encoder has no
        others); strings that are not UTF-8 go as byte arrays."""
        if isinstance(value, dict):
            return {key: self._value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._value(item) for item in value]
        if isinstance(value, TaggedInt):
            if value.amqp_tag in (b"l", b"L"):
                return self.pika.compat.long(value)
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return value.encode("utf-8", "surrogateescape")
        return value


def _nothing() -> None:
    pass
