"""Core callbacks to frames: deliveries, returns, confirms, cancels, channel closes.

Also the drains that run those callbacks. The functions are methods of
``ServerConnection``, bound in its class body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pamqp import commands

from amqpmodel import (
    AMQPError,
    BasicAck,
    BasicCancel,
    BasicProperties,
    BasicReturn,
    Channel,
    Deliver,
    InternalError,
)

from ._codec import BIG_PART, content_frames, deliver_frame, make_method

if TYPE_CHECKING:
    from ._protocol import ServerChannel, ServerConnection

__all__ = [
    "drain",
    "drain_pending_only",
    "flush_channel_confirms",
    "flush_confirms",
    "make_cancel_callback",
    "make_confirm_callback",
    "on_channel_closed",
    "on_deliver",
    "on_return",
    "send_before_close",
]

log = logging.getLogger("amqpmodel.server")


def on_deliver(
    self: ServerConnection, core: Channel, method: Deliver, properties: BasicProperties, body: bytes
) -> None:
    number = core.channel_number
    out = self._out
    out.append(
        deliver_frame(
            number,
            method.consumer_tag,
            method.delivery_tag,
            method.redelivered,
            method.exchange,
            method.routing_key,
        )
    )
    out += content_frames(number, properties, body, self.frame_max)
    if len(body) >= BIG_PART:
        self._big_parts = True


def on_return(
    self: ServerConnection,
    core: Channel,
    method: BasicReturn,
    properties: BasicProperties,
    body: bytes,
) -> None:
    number = core.channel_number
    self._send_method(
        number,
        make_method(
            commands.Basic.Return,
            reply_code=method.reply_code,
            reply_text=method.reply_text,
            exchange=method.exchange,
            routing_key=method.routing_key,
        ),
    )
    self._out += content_frames(number, properties, body, self.frame_max)
    if len(body) >= BIG_PART:
        self._big_parts = True


def make_confirm_callback(
    self: ServerConnection, server_channel: ServerChannel
) -> Callable[[Any], None]:
    def on_confirm(method: Any) -> None:
        if isinstance(method, BasicAck):
            server_channel.ack_upto = method.delivery_tag
            server_channel.acks_unsent += 1
            self._unconfirmed.add(server_channel)
        else:
            self._flush_channel_confirms(server_channel)
            self._send_method(
                server_channel.number,
                make_method(
                    commands.Basic.Nack,
                    delivery_tag=method.delivery_tag,
                    multiple=False,
                    requeue=False,
                ),
            )

    return on_confirm


def flush_channel_confirms(self: ServerConnection, server_channel: ServerChannel) -> None:
    """Send the acks gathered since the last flush, as one multiple ack when several (spec 8.1)."""
    unsent = server_channel.acks_unsent
    if unsent:
        server_channel.acks_unsent = 0
        self._send_method(
            server_channel.number,
            make_method(
                commands.Basic.Ack, delivery_tag=server_channel.ack_upto, multiple=unsent > 1
            ),
        )


def flush_confirms(self: ServerConnection) -> None:
    if self._unconfirmed:
        for server_channel in self._unconfirmed:
            self._flush_channel_confirms(server_channel)
        self._unconfirmed.clear()


def make_cancel_callback(
    self: ServerConnection, server_channel: ServerChannel
) -> Callable[[BasicCancel], None]:
    def on_cancel(method: BasicCancel) -> None:
        if self._server_channels.get(server_channel.number) is server_channel:
            self._send_method(
                server_channel.number,
                # RabbitMQ's own cancel asks for no cancel-ok: nowait=true
                make_method(commands.Basic.Cancel, consumer_tag=method.consumer_tag, nowait=True),
            )

    return on_cancel


def on_channel_closed(self: ServerConnection, core: Channel, reason: AMQPError | None) -> None:
    """The core closed a channel on its own (not by a method we handled): tell the client."""
    if self._state != "opened":
        return  # connection.close was sent: nothing may follow it (AMQP 0-9-1, 2.2.4)
    server_channel = self._server_channels.get(core.channel_number)
    if server_channel is None or server_channel.core is not core or reason is None:
        return
    self._channel_error(server_channel, reason, None)


def send_before_close(self: ServerConnection, channel: Channel | None) -> None:
    """Returns and confirms that earlier methods caused, for ``channel`` (None: every
    channel), go out before its channel.close or the connection.close, as on RabbitMQ.

    Run here directly rather than by a drain: the core skips events of a channel it
    has closed, and deliveries to a closing channel are requeued, not sent.
    """
    core = self.core
    if core is None or core.is_draining:
        return  # inside a drain's callback: nothing runs or is flushed here, as before
    core.run_pending_now(channel)
    self._flush_confirms()


def drain_pending_only(self: ServerConnection) -> None:
    """Send what the core has pending now (returns, confirms, deliveries) before a
    reply or a close that must come after it, as RabbitMQ orders them."""
    core = self.core
    if core is not None and core.has_pending and not core.is_draining:
        core.drain()
    self._flush_confirms()


def drain(self: ServerConnection) -> None:
    """Run the core's pending callbacks for this connection and send what they produced."""
    core = self.core
    if core is None or self.closed:
        return
    try:
        # while the client does not drain its socket, deliveries wait in the core
        # (sharing their bodies with the queues) rather than in our output (_flow)
        for _ in range(100):
            if self._output_paused or not core.drain():
                break
    except Exception:
        log.exception("internal error draining connection %s", self.peer)
        self._connection_error(InternalError("internal error"))
    if core.is_closed and self._state == "opened":
        code, text = core.close_reason or (
            320,
            "CONNECTION_FORCED - broker forced connection closure",
        )
        self._send_connection_close(code, text)
    self._flush_confirms()
    self._flush()
    if self._state == "closed":
        self._finish()
