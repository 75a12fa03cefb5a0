"""Content assembly: a basic.publish's header and body frames, into one core publish.

The functions are methods of ``ServerConnection``, bound in its class body.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from amqpmodel import (
    AMQPError,
    BasicProperties,
    ChannelError,
    FrameError,
    FrameSyntaxError,
    NackError,
    PreconditionFailed,
    UnexpectedFrame,
    UnroutableError,
)

from ._codec import DecodeError, decode_properties

if TYPE_CHECKING:
    from ._protocol import ServerChannel, ServerConnection

__all__ = ["Content", "content_body", "content_header", "publish"]

_CONTENT_HEADER = struct.Struct(">HHQ")


class Content:
    """A basic.publish waiting for its content header and body frames."""

    __slots__ = ("method", "properties", "size", "parts", "received")

    def __init__(self, method: Any) -> None:
        self.method: Any = method
        self.properties: BasicProperties | None = None
        self.size = 0
        self.parts: list[bytes] = []
        self.received = 0


def content_header(self: ServerConnection, number: int, payload: bytes) -> None:
    server_channel = self._server_channels.get(number)
    if server_channel is None:
        if number in self._closing_channels:
            return
        raise ChannelError("expected 'channel.open'", 60, 40)
    content = server_channel.content
    if content is None or content.properties is not None:
        raise UnexpectedFrame("expected method frame, got non method frame instead", 60, 40)
    if len(payload) < 14:
        raise FrameError("content header frame too short", 60, 40)
    class_id, _, size = _CONTENT_HEADER.unpack_from(payload)
    if class_id != 60:
        raise UnexpectedFrame(f"content header for class {class_id} after basic.publish", 60, 40)
    encoded = payload[12:]
    last = self._last_properties
    if last is not None and last[0] == encoded:
        # a publisher sends the same properties again and again: decoded once; without a
        # headers table nothing in them can change, so messages may share them
        content.properties = last[1]
    else:
        try:
            properties = decode_properties(encoded)
        except DecodeError as error:
            raise FrameSyntaxError(str(error), 60, 40) from None
        content.properties = properties
        if properties.headers is None:
            self._last_properties = (encoded, properties)
    content.size = size
    limit = self.broker.max_message_size
    if size > limit:
        server_channel.content = None
        self._channel_error(
            server_channel,
            PreconditionFailed(f"message size {size} is larger than configured max size {limit}"),
            content.method,
        )
        return
    if size == 0:
        self._publish(server_channel, content, b"")


def content_body(self: ServerConnection, number: int, payload: bytes) -> None:
    server_channel = self._server_channels.get(number)
    if server_channel is None:
        if number in self._closing_channels:
            return
        raise ChannelError("expected 'channel.open'", 60, 40)
    content = server_channel.content
    if content is None or content.properties is None:
        raise UnexpectedFrame("expected method frame, got non method frame instead", 60, 40)
    content.received += len(payload)
    if content.received > content.size:
        raise FrameError(
            f"content body is larger than the {content.size} bytes its header announced"
        )
    if content.received == content.size and not content.parts:
        self._publish(server_channel, content, payload)
        return
    content.parts.append(payload)
    if content.received == content.size:
        self._publish(server_channel, content, b"".join(content.parts))


def publish(
    self: ServerConnection, server_channel: ServerChannel, content: Content, body: bytes
) -> None:
    server_channel.content = None
    method = content.method
    try:
        server_channel.core.basic_publish(
            method.exchange,
            method.routing_key,
            body,
            content.properties,
            method.mandatory,
            method.immediate,
        )
    except (UnroutableError, NackError):
        pass  # a confirming channel: the client learns it from basic.return / basic.nack
    except AMQPError as error:
        if error.is_connection_error:
            self._connection_error(error, 60, 40)
        else:
            self._channel_error(server_channel, error, method)
    if self.broker.resource_alarms:
        self._block_publisher()  # spec 21.3: under a resource alarm, nothing more is read
