"""The transport's channel: py-amqp's ``Channel`` API, answered by an amqpmodel channel.

kombu's ``Producer``, ``Consumer``, ``Queue``, ``Exchange`` and
``SimpleQueue`` call a channel with py-amqp's method names and arguments
(``no_ack``, ``nowait``, ``a_global``, ``callback(message)``) and expect
py-amqp's answers (``queue_declare`` returns ``(queue, message_count,
consumer_count)``). Each method here hands the call to the core channel, which
does what RabbitMQ does.

What py-amqp does around RabbitMQ's replies is kept too, because kombu and
Celery rely on it:

- a channel the broker closes with an error is reopened at once (py-amqp's
  ``_do_revive``), so the raising call's channel object stays usable;
- ``basic_publish`` waits for nothing, so a refused publish (no such
  exchange) surfaces at the channel's next synchronous call or at the
  connection's next ``drain_events``, and publishes in between are lost, as
  on the wire; with ``confirm_publish`` it surfaces from the publish itself;
- a consumer the broker cancels (its queue was deleted) calls its
  ``on_cancel``, or raises ``ConsumerCancelled`` from ``drain_events``;
- a returned message goes to ``events['basic_return']`` handlers, or is
  raised from ``drain_events`` when there are none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import amqp
import amqp.exceptions as amqp_errors
from amqp.protocol import queue_declare_ok_t
from kombu.transport import base

import amqpmodel

from . import _errors
from ._message import Message as ReceivedMessage
from ._message import received
from ._properties import to_properties

if TYPE_CHECKING:
    from ._connection import Connection

__all__ = ["Channel"]

R = TypeVar("R")

# class and method ids of basic.cancel (py-amqp's method_sig)
_BASIC_CANCEL = (60, 30)


class Channel(base.StdChannel):
    """A channel of the transport, with py-amqp's ``Channel`` methods."""

    Message = ReceivedMessage

    def __init__(self, connection: Connection, channel_id: int | None = None) -> None:
        self.connection: Connection | None = connection  # None once closed, as py-amqp
        self._owner = connection
        self.core = connection.core.channel(channel_id)
        self.channel_id: int = self.core.channel_number
        self.is_open = True
        # py-amqp's event handlers: basic_return(exc, exchange, routing_key, message),
        # and after confirm_select basic_ack / basic_nack(delivery_tag, multiple)
        self.events: defaultdict[str, set[Callable[..., Any]]] = defaultdict(set)
        self.callbacks: dict[str, Callable[[Any], Any] | None] = {}
        self.cancel_callbacks: dict[str, Callable[[str], Any]] = {}
        self.no_ack_consumers: set[str] = set()  # type: ignore[assignment]
        self._confirm_publish = connection.confirm_publish
        self._confirming = False
        # a refusal of an earlier basic_publish, not yet seen by the client
        self._refused: BaseException | None = None
        self._watch(self.core)

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<amqpmodel.kombu.Channel {self.channel_id} {state}>"

    # ----------------------------------------------------------------- lifecycle

    def _watch(self, core: amqpmodel.Channel) -> None:
        core.add_on_return_callback(self._on_return)
        core.add_on_cancel_callback(self._on_broker_cancel)
        core.add_on_close_callback(self._on_core_close)

    def _revive(self) -> None:
        """Open a fresh core channel with the same number, as py-amqp reopens a
        channel the broker closed; its consumers were gone with the old one."""
        self.callbacks.clear()
        self.cancel_callbacks.clear()
        self.no_ack_consumers.clear()
        self._confirming = False
        if self.connection is None or self.connection.core.is_closed:
            return
        try:
            self.core = self.connection.core.channel(self.channel_id)
        except (amqpmodel.AMQPError, amqpmodel.ConnectionClosed):
            return
        self._watch(self.core)

    def _on_core_close(self, core: amqpmodel.Channel, reason: amqpmodel.AMQPError | None) -> None:
        # runs on a drain: the broker closed the channel on its own (a consumer ack
        # timeout, spec 0.8) and py-amqp would raise the close from drain_events;
        # closes this channel already reported (or our own close) are ignored
        connection = self._owner
        if connection.core.is_closed:
            return
        if core is not self.core or reason is None or self._refused is not None:
            connection.internal_event()
            return
        self._revive()
        raise _errors.translate(reason)

    def _call(self, method: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """Call a core channel method as a synchronous py-amqp method would be answered."""
        self.raise_refusal()
        if not self.is_open or self.connection is None:
            raise _errors.closed_channel_error(None)
        self.connection.check_open()
        try:
            return method(*args, **kwargs)
        # the "already closed" errors and the confirm reports are AMQPErrors too,
        # but refuse nothing: they come before the refusals
        except amqpmodel.ChannelClosed as error:
            raise _errors.closed_channel_error((error.reply_code, error.reply_text)) from error
        except amqpmodel.ConnectionClosed as error:
            raise _errors.closed_connection_error((error.reply_code, error.reply_text)) from error
        except (amqpmodel.UnroutableError, amqpmodel.NackError):
            raise
        except amqpmodel.AMQPError as error:
            if not error.is_connection_error:
                self._revive()
            raise _errors.translate(error) from error

    def raise_refusal(self) -> None:
        """Raise (once) the refusal of an earlier publish, reopening the channel."""
        refused = self._refused
        if refused is not None:
            self._refused = None
            self._revive()
            raise refused

    def close(self, reply_code: int = 0, reply_text: str = "", method_sig: Any = (0, 0)) -> None:
        """Close the channel (idempotent): its unacked messages are requeued (spec 7.13)."""
        if not self.is_open:
            return
        self.is_open = False
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.forget(self)
        self.core.close()

    def collect(self) -> None:
        """Forget the channel without talking to the broker (after a connection loss)."""
        self.is_open = False
        self.connection = None

    def flow(self, active: bool) -> None:
        """channel.flow: RabbitMQ refuses active=false from a client (540)."""
        if not active:
            connection = self.connection
            if connection is not None:
                connection.core.close(540, "NOT_IMPLEMENTED - active=false")
            raise _errors.closed_connection_error((540, "NOT_IMPLEMENTED - active=false"))

    # ----------------------------------------------------------------- entities

    def exchange_declare(
        self,
        exchange: str,
        type: str,
        passive: bool = False,
        durable: bool = False,
        auto_delete: bool = True,
        nowait: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self._call(
            self.core.exchange_declare,
            exchange,
            exchange_type=type,
            passive=passive,
            durable=durable,
            auto_delete=auto_delete,
            arguments=arguments,
        )

    def exchange_delete(self, exchange: str, if_unused: bool = False, nowait: bool = False) -> None:
        self._call(self.core.exchange_delete, exchange, if_unused=if_unused)

    def exchange_bind(
        self,
        destination: str,
        source: str = "",
        routing_key: str = "",
        nowait: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self._call(
            self.core.exchange_bind, destination, source, routing_key or "", arguments=arguments
        )

    def exchange_unbind(
        self,
        destination: str,
        source: str = "",
        routing_key: str = "",
        nowait: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self._call(
            self.core.exchange_unbind, destination, source, routing_key or "", arguments=arguments
        )

    def queue_declare(
        self,
        queue: str = "",
        passive: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        auto_delete: bool = True,
        nowait: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> Any:
        """Declare a queue; ``(queue, message_count, consumer_count)`` unless ``nowait``."""
        ok = self._call(
            self.core.queue_declare,
            queue,
            passive=passive,
            durable=durable,
            exclusive=exclusive,
            auto_delete=auto_delete,
            arguments=arguments,
        )
        if nowait:
            return None
        return queue_declare_ok_t(ok.queue, ok.message_count, ok.consumer_count)

    def queue_bind(
        self,
        queue: str,
        exchange: str = "",
        routing_key: str = "",
        nowait: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self._call(self.core.queue_bind, queue, exchange, routing_key or "", arguments=arguments)

    def queue_unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        nowait: bool = False,
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self._call(self.core.queue_unbind, queue, exchange, routing_key or "", arguments=arguments)

    def queue_purge(self, queue: str = "", nowait: bool = False) -> int | None:
        """Purge a queue; the number of messages purged unless ``nowait``."""
        ok = self._call(self.core.queue_purge, queue)
        return None if nowait else ok.message_count

    def queue_delete(
        self, queue: str = "", if_unused: bool = False, if_empty: bool = False, nowait: bool = False
    ) -> int | None:
        """Delete a queue; the number of messages deleted unless ``nowait``."""
        ok = self._call(self.core.queue_delete, queue, if_unused=if_unused, if_empty=if_empty)
        return None if nowait else ok.message_count

    # ----------------------------------------------------------------- publish

    def prepare_message(
        self,
        body: Any,
        priority: int | None = None,
        content_type: str | None = None,
        content_encoding: str | None = None,
        headers: dict[str, Any] | None = None,
        properties: dict[str, Any] | None = None,
    ) -> Any:
        """The ``amqp.Message`` kombu's ``Producer`` publishes."""
        return amqp.Message(
            body,
            priority=priority,
            content_type=content_type,
            content_encoding=content_encoding,
            application_headers=headers,
            **(properties or {}),
        )

    def prepare_queue_arguments(self, arguments: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """kombu's queue options (``message_ttl``, ``max_priority``...) as RabbitMQ's x-arguments."""
        return base.to_rabbitmq_queue_arguments(arguments, **kwargs)  # type: ignore[no-any-return]

    def basic_publish(
        self,
        msg: Any,
        exchange: str = "",
        routing_key: str = "",
        mandatory: bool = False,
        immediate: bool = False,
        timeout: float | None = None,
        confirm_timeout: float | None = None,
    ) -> None:
        """Publish ``msg`` (an ``amqp.Message``). Without ``confirm_publish`` a
        refusal is raised later (see the module docstring), as on the wire."""
        if self.connection is None or not self.is_open:
            raise _errors.closed_connection_error(None)
        self.connection.check_open()
        if self._refused is not None:
            return  # the broker ignores methods on a channel it has closed
        if isinstance(msg, (str, bytes)):
            msg = amqp.Message(msg)
        body = msg.body
        if isinstance(body, str):
            # as py-amqp: a text body is sent in its content_encoding, utf-8 by default
            body = body.encode(msg.properties.setdefault("content_encoding", "utf-8"))
        properties = to_properties(msg.properties)
        if self._confirm_publish:
            self._publish_confirmed(exchange, routing_key, body, properties, mandatory, immediate)
            return
        try:
            self.core.basic_publish(exchange, routing_key, body, properties, mandatory, immediate)
        except (amqpmodel.UnroutableError, amqpmodel.NackError):
            pass  # after confirm_select: the confirm goes to events['basic_ack'/'basic_nack']
        except amqpmodel.ChannelClosed as error:
            raise _errors.closed_channel_error((error.reply_code, error.reply_text)) from error
        except amqpmodel.ConnectionClosed as error:
            raise _errors.closed_connection_error((error.reply_code, error.reply_text)) from error
        except amqpmodel.AMQPError as error:
            refused = _errors.translate(error)
            refused.__cause__ = error
            if error.is_connection_error:
                self.connection.refuse(refused)
            else:
                self._refused = refused

    def _publish_confirmed(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: amqpmodel.BasicProperties | None,
        mandatory: bool,
        immediate: bool,
    ) -> None:
        # py-amqp's basic_publish_confirm: select confirms once, then wait for the
        # ack, handling a basic.return that comes before it (spec 8.2)
        if not self._confirming:
            self._call(self.core.confirm_delivery)
            self._confirming = True
        try:
            self._call(
                self.core.basic_publish,
                exchange,
                routing_key,
                body,
                properties,
                mandatory,
                immediate,
            )
        except amqpmodel.UnroutableError:
            pass  # acked after its return, which the returns below deliver
        except amqpmodel.NackError as error:
            raise amqp_errors.MessageNacked() from error
        finally:
            if self.connection is not None and self.connection.core.is_open:
                self.connection.core.run_pending_now(self.core)

    def _on_return(
        self,
        core: amqpmodel.Channel,
        method: amqpmodel.BasicReturn,
        properties: amqpmodel.BasicProperties,
        body: bytes,
    ) -> None:
        # py-amqp: each basic_return handler gets (exception, exchange, routing_key,
        # message); without a handler the return is raised
        error = _errors.returned(method.reply_code, method.reply_text)
        message = received(self, properties, body, {})
        handlers = self.events["basic_return"]
        if not handlers:
            raise error
        for handler in list(handlers):
            handler(error, method.exchange, method.routing_key, message)

    # ----------------------------------------------------------------- consume and get

    def basic_consume(
        self,
        queue: str = "",
        consumer_tag: str = "",
        no_local: bool = False,
        no_ack: bool = False,
        exclusive: bool = False,
        nowait: bool = False,
        callback: Callable[[Any], Any] | None = None,
        arguments: dict[str, Any] | None = None,
        on_cancel: Callable[[str], Any] | None = None,
    ) -> str:
        """Start a consumer; ``callback(amqp.Message)`` runs on ``drain_events``."""
        if nowait and not consumer_tag:
            raise ValueError("Consumer tag must be specified when nowait is True")
        tag = self._call(
            self.core.basic_consume,
            queue,
            self._on_deliver,
            auto_ack=no_ack,
            exclusive=exclusive,
            consumer_tag=consumer_tag or None,
            arguments=arguments,
        )
        self.callbacks[tag] = callback
        if on_cancel is not None:
            self.cancel_callbacks[tag] = on_cancel
        if no_ack:
            self.no_ack_consumers.add(tag)
        return tag

    def _on_deliver(
        self,
        core: amqpmodel.Channel,
        method: amqpmodel.Deliver,
        properties: amqpmodel.BasicProperties,
        body: bytes,
    ) -> None:
        if core is not self.core:
            return
        delivery_info = {
            "consumer_tag": method.consumer_tag,
            "delivery_tag": method.delivery_tag,
            "redelivered": method.redelivered,
            "exchange": method.exchange,
            "routing_key": method.routing_key,
        }
        callback = self.callbacks.get(method.consumer_tag)
        if callback is not None:
            callback(received(self, properties, body, delivery_info))

    def basic_cancel(self, consumer_tag: str, nowait: bool = False) -> None:
        """Cancel a consumer. Its deliveries already on their way reach its
        callback first (auto-ack) or go back to the queue (manual acks)."""
        undelivered = self._call(self.core.basic_cancel, consumer_tag)
        for method, properties, body in undelivered:
            self._on_deliver(self.core, method, properties, body)
        self.callbacks.pop(consumer_tag, None)
        self.cancel_callbacks.pop(consumer_tag, None)
        self.no_ack_consumers.discard(consumer_tag)

    def _on_broker_cancel(self, method: amqpmodel.BasicCancel) -> None:
        tag = method.consumer_tag
        self.callbacks.pop(tag, None)
        self.no_ack_consumers.discard(tag)
        on_cancel = self.cancel_callbacks.pop(tag, None)
        if on_cancel is None:
            raise amqp_errors.ConsumerCancelled(tag, _BASIC_CANCEL)
        on_cancel(tag)

    def basic_get(self, queue: str = "", no_ack: bool = False) -> Any:
        """Get one message (an ``amqp.Message``), or None when the queue is empty."""
        method, properties, body = self._call(self.core.basic_get, queue, auto_ack=no_ack)
        if method is None:
            return None
        return received(
            self,
            properties,
            body or b"",
            {
                "delivery_tag": method.delivery_tag,
                "redelivered": method.redelivered,
                "exchange": method.exchange,
                "routing_key": method.routing_key,
                "message_count": method.message_count,
            },
        )

    def message_to_python(self, raw_message: Any) -> ReceivedMessage:
        """kombu's ``Message`` for a received ``amqp.Message``."""
        return ReceivedMessage(raw_message, channel=self)

    # ----------------------------------------------------------------- settle and qos

    def basic_ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self._call(self.core.basic_ack, delivery_tag, multiple)

    def basic_nack(self, delivery_tag: int, multiple: bool = False, requeue: bool = True) -> None:
        self._call(self.core.basic_nack, delivery_tag, multiple, requeue)

    def basic_reject(self, delivery_tag: int, requeue: bool) -> None:
        self._call(self.core.basic_reject, delivery_tag, requeue)

    def basic_recover(self, requeue: bool = False) -> None:
        self._call(self.core.basic_recover, requeue)

    def basic_recover_async(self, requeue: bool = False) -> None:
        self.basic_recover(requeue)

    def basic_qos(self, prefetch_size: int, prefetch_count: int, a_global: bool) -> None:
        self._call(self.core.basic_qos, prefetch_size, prefetch_count, a_global)

    # ----------------------------------------------------------------- confirms and tx

    def confirm_select(self, nowait: bool = False) -> None:
        """Publisher confirms; each arrives on a drain at ``events['basic_ack']`` or
        ``events['basic_nack']`` handlers, as py-amqp hands them over."""
        self._call(self.core.confirm_delivery, self._on_confirm)
        self._confirming = True

    def _on_confirm(self, confirm: amqpmodel.BasicAck | amqpmodel.BasicNack) -> None:
        name = "basic_ack" if isinstance(confirm, amqpmodel.BasicAck) else "basic_nack"
        for handler in list(self.events[name]):
            handler(confirm.delivery_tag, confirm.multiple)

    def tx_select(self) -> None:
        self._call(self.core.tx_select)

    def tx_commit(self) -> None:
        self._call(self.core.tx_commit)

    def tx_rollback(self) -> None:
        self._call(self.core.tx_rollback)
