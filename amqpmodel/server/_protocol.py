"""One AMQP 0-9-1 client connection, as a state machine with no I/O of its own.

The driver (``_server.py``) feeds it bytes (``data_received``), tells it when
the socket went away (``connection_lost``) and when a heartbeat interval
passed (``heartbeat_tick``), and runs ``drain`` when the core has events for
this connection. Everything the client must see goes out through the
``write`` function it was given; ``close`` ends the socket.

Each method frame becomes a call of the same core ``Channel`` method an
in-process user makes; the core's callbacks (deliveries, returns, confirms,
cancels) become frames. Errors follow spec 9: a channel-level ``AMQPError``
closes that channel with channel.close, a connection-level one closes the
connection with connection.close, and anything unexpected is logged and
closes this connection with 541, never the server.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Any

from pamqp import commands, decode

from amqpmodel import (
    AMQPError,
    BasicAck,
    BasicCancel,
    BasicProperties,
    BasicReturn,
    Broker,
    Channel,
    ChannelError,
    CommandInvalid,
    Connection,
    Deliver,
    FrameError,
    FrameSyntaxError,
    InternalError,
    NackError,
    NotAllowed,
    PreconditionFailed,
    UnexpectedFrame,
    UnroutableError,
    __version__,
)

from ._codec import (
    FRAME_BODY,
    FRAME_END,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    PROTOCOL_HEADER,
    DecodeError,
    Method,
    content_frames,
    decode_method,
    decode_properties,
    deliver_frame,
    get_ok_frame,
    has_malformed_utf8,
    heartbeat_frame,
    method_frame,
)

__all__ = ["ServerConnection", "ServerSettings"]

log = logging.getLogger("amqpmodel.server")

_FRAME_PREFIX = struct.Struct(">BHI")
_CONTENT_HEADER = struct.Struct(">HHQ")
FRAME_MIN = 8192  # spec 10.3


class ServerSettings:
    """What connection.tune offers (spec 10.3) and who may log in."""

    def __init__(
        self,
        channel_max: int = 2047,
        frame_max: int = 131072,
        heartbeat: int = 60,
        loopback_users: tuple[str, ...] = ("guest",),
    ) -> None:
        self.channel_max = channel_max
        self.frame_max = frame_max
        self.heartbeat = heartbeat
        self.loopback_users = loopback_users


def _make(method_class: type[Method], **values: Any) -> Method:
    """A pamqp method object without pamqp's client-side argument checks."""
    method = method_class.__new__(method_class)
    for name in method_class.__slots__:
        setattr(method, name, values.get(name))
    return method


_CAPABILITIES = {
    "publisher_confirms": True,
    "exchange_exchange_bindings": True,
    "basic.nack": True,
    "consumer_cancel_notify": True,
    "connection.blocked": True,
    "consumer_priorities": True,
    "authentication_failure_close": True,
    "per_consumer_qos": True,
    "direct_reply_to": True,
}


def _ids(method: Method) -> tuple[int, int]:
    return method.index >> 16, method.index & 0xFFFF


class _Content:
    """A basic.publish waiting for its content header and body frames."""

    __slots__ = ("method", "properties", "size", "parts", "received")

    def __init__(self, method: Any) -> None:
        self.method: Any = method
        self.properties: BasicProperties | None = None
        self.size = 0
        self.parts: list[bytes] = []
        self.received = 0


class _ServerChannel:
    """The wire side of one core channel."""

    __slots__ = ("number", "core", "content", "ack_upto", "acks_unsent")

    def __init__(self, number: int, core: Channel) -> None:
        self.number = number
        self.core = core
        self.content: _Content | None = None
        self.ack_upto = 0
        self.acks_unsent = 0


class ServerConnection:
    """The protocol state of one client connection."""

    def __init__(
        self,
        broker: Broker,
        write: Callable[[bytes], None],
        close: Callable[[], None],
        *,
        peer: str = "?",
        loopback: bool = True,
        settings: ServerSettings | None = None,
        wakeup: Callable[[], None] | None = None,
    ) -> None:
        self.broker = broker
        self._write = write
        self._close_transport = close
        # the client closed with connection.close and has its close-ok: as on
        # RabbitMQ, the socket is the client's to close (the driver hangs up
        # itself only if the client does not)
        self.linger = False
        self.peer = peer
        self.loopback = loopback
        self.settings = settings or ServerSettings()
        self._wakeup = wakeup
        self._state = "header"
        self._buffer = b""
        self._out: list[bytes] = []
        self.channel_max = self.settings.channel_max
        self.frame_max = self.settings.frame_max
        self.heartbeat = 0
        self.user = ""
        self.client_properties: dict[str, Any] = {}
        self.core: Connection | None = None
        self._server_channels: dict[int, _ServerChannel] = {}
        self._closing_channels: set[int] = set()  # channel.close sent, close-ok awaited
        self._unconfirmed: set[_ServerChannel] = set()
        self._received = True
        self._sent = False
        self._silent_ticks = 0
        self.closed = False

    def __repr__(self) -> str:
        return f"<ServerConnection {self.user or '-'}@{self.peer} {self._state}>"

    @property
    def state(self) -> str:
        """The protocol state: "header", "start_ok", "tune_ok" and "open" while negotiating,
        "opened", "closing" (connection.close sent, close-ok awaited), "closed"."""
        return self._state

    # ----------------------------------------------------------------- output

    def _send_method(self, channel: int, method: Method) -> None:
        self._out.append(method_frame(channel, method))

    def _flush(self) -> None:
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self._sent = True
            if not self.closed:
                self._write(data)

    def _finish(self) -> None:
        """Close the socket after sending what is buffered."""
        self._flush()
        if not self.closed:
            self.closed = True
            self._state = "closed"
            self._close_core(320, "CONNECTION_FORCED - closed")
            self._close_transport()

    def _close_core(self, reply_code: int, reply_text: str) -> None:
        core = self.core
        if core is not None and core.is_open:
            core.close(reply_code, reply_text)

    def _connection_error(self, error: AMQPError, class_id: int = 0, method_id: int = 0) -> None:
        """connection.close with the error's code and text (spec 9.1); wait for close-ok."""
        if self._state in ("closing", "closed"):
            return
        log.info("closing connection %s: %s", self.peer, error.reply_text)
        if self._state == "opened":
            self._send_before_close(None)
        self._close_core(error.reply_code, error.reply_text)
        self._send_connection_close(
            error.reply_code,
            error.reply_text,
            class_id or error.class_id,
            method_id or error.method_id,
        )

    def _send_connection_close(
        self, reply_code: int, reply_text: str, class_id: int = 0, method_id: int = 0
    ) -> None:
        """connection.close; from now on only close-ok (or close) is read (AMQP 0-9-1, 2.2.4)."""
        self._send_method(
            0,
            _make(
                commands.Connection.Close,
                reply_code=reply_code,
                reply_text=reply_text,
                class_id=class_id,
                method_id=method_id,
            ),
        )
        self._state = "closing"

    def close(
        self,
        reply_code: int = 320,
        reply_text: str = "CONNECTION_FORCED - broker forced connection closure",
    ) -> None:
        """Close from the server side (shutdown): connection.close, then wait for close-ok."""
        if self._state in ("header", "start_ok", "tune_ok", "open"):
            self._finish()
            return
        self._close_core(reply_code, reply_text)
        if self._state == "opened":
            self._send_connection_close(reply_code, reply_text)
        self._flush()

    # ----------------------------------------------------------------- input

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self._received = True
        buffer = self._buffer + data if self._buffer else data
        try:
            consumed = self._frames(buffer)
        except AMQPError as error:
            self._connection_error(error)
            consumed = len(buffer)
        except Exception:  # a bug of ours: never take the server down
            log.exception("internal error on connection %s", self.peer)
            self._connection_error(InternalError("internal error"))
            consumed = len(buffer)
        self._buffer = buffer[consumed:] if consumed < len(buffer) else b""
        if self.core is not None and self.core.has_pending:
            self.drain()
        else:
            self._flush_confirms()
            self._flush()
        if self._state == "closed" and not self.closed:
            self._finish()

    def _frames(self, buffer: bytes) -> int:
        """Handle every complete frame in ``buffer``; return the bytes used."""
        offset = 0
        size = len(buffer)
        if self._state == "header":
            if size < 8:
                return 0
            if buffer[:8] != PROTOCOL_HEADER:
                self._out.append(PROTOCOL_HEADER)  # what we speak; then hang up
                self._state = "closed"
                return size
            self._start()
            offset = 8
        payload_max = self.frame_max - 8
        while size - offset >= 7 and self._state != "closed":
            frame_type, channel, length = _FRAME_PREFIX.unpack_from(buffer, offset)
            if length > payload_max:
                raise FrameError(
                    f"type {frame_type}, frame size {length + 8} is larger than frame_max {self.frame_max}"
                )
            end = offset + 7 + length
            if end >= size:
                break
            if buffer[end] != FRAME_END:
                raise FrameError(f"type {frame_type}, channel {channel}: frame_end_marker_missing")
            payload = buffer[offset + 7 : end]
            offset = end + 1
            if self._state == "closing":
                if frame_type == FRAME_METHOD and channel == 0:
                    self._closing_method(payload)
                continue
            if frame_type == FRAME_METHOD:
                self._method(channel, payload)
            elif frame_type == FRAME_HEADER:
                self._content_header(channel, payload)
            elif frame_type == FRAME_BODY:
                self._content_body(channel, payload)
            elif frame_type == FRAME_HEARTBEAT:
                if channel != 0:
                    raise FrameError(f"heartbeat frame on channel {channel}")
                if length:
                    raise FrameError(f"heartbeat frame with a {length}-byte payload")
            else:
                raise FrameError(f"unknown frame type {frame_type}")
        return offset

    def _closing_method(self, payload: bytes) -> None:
        """We sent connection.close: only close and close-ok matter now."""
        try:
            method = decode_method(payload)
        except (KeyError, DecodeError):
            return
        if isinstance(method, commands.Connection.Close):
            self._send_method(0, commands.Connection.CloseOk())
            self._state = "closed"
        elif isinstance(method, commands.Connection.CloseOk):
            self._state = "closed"

    def _decode(self, payload: bytes) -> Method:
        try:
            method = decode_method(payload)
        except KeyError:
            index = struct.unpack_from(">I", payload)[0]
            raise CommandInvalid(
                f"unknown method: class {index >> 16}, method {index & 0xFFFF}"
            ) from None
        except DecodeError as error:
            raise FrameError(f"cannot decode method frame: {error}") from None
        if type(method) is not commands.Basic.Publish and has_malformed_utf8(method):
            raise FrameError("Malformed UTF-8 in shortstr")  # ids 0, 0 as RabbitMQ
        return method

    # ----------------------------------------------------------------- connection negotiation

    def _start(self) -> None:
        self._send_method(
            0,
            _make(
                commands.Connection.Start,
                version_major=0,
                version_minor=9,
                server_properties={
                    "product": "amqpmodel",
                    "version": __version__,
                    "platform": "Python",
                    "copyright": "amqpmodel contributors",
                    "information": "An in-process broker that behaves like RabbitMQ",
                    "cluster_name": "amqpmodel",
                    "capabilities": _CAPABILITIES,
                },
                mechanisms="PLAIN AMQPLAIN",
                locales="en_US",
            ),
        )
        self._state = "start_ok"

    def _method(self, channel: int, payload: bytes) -> None:
        if channel == 0 or self._state != "opened":
            method = self._decode(payload)
            if channel != 0:
                raise ChannelError(f"unexpected method on channel {channel} before connection.open")
            self._connection_method(method)
            return
        server_channel = self._server_channels.get(channel)
        if server_channel is None:
            self._unopened_channel_method(channel, payload)
            return
        method = self._decode(payload)
        content = server_channel.content
        if content is not None:
            if content.properties is None:
                text = "expected content header for class 60, got non content header frame instead"
            else:
                text = "expected content body, got non content body frame instead"
            raise UnexpectedFrame(text, 60, 40)  # the ids of the incomplete basic.publish
        self._channel_method(server_channel, method)

    def _connection_method(self, method: Method) -> None:
        state = self._state
        if state == "start_ok" and isinstance(method, commands.Connection.StartOk):
            self._start_ok(method)
        elif state == "tune_ok" and isinstance(method, commands.Connection.TuneOk):
            self._tune_ok(method)
        elif state == "open" and isinstance(method, commands.Connection.Open):
            self._open(method)
        elif state == "opened" and isinstance(method, commands.Connection.Close):
            self._send_before_close(None)
            self._close_core(200, "closed by client")
            self._send_method(0, commands.Connection.CloseOk())
            self._state = "closed"
            self.linger = True
        elif state == "opened" and isinstance(method, commands.Connection.UpdateSecret):
            self._send_method(0, commands.Connection.UpdateSecretOk())
        elif state == "opened" and isinstance(
            method, (commands.Connection.Blocked, commands.Connection.Unblocked)
        ):
            pass
        elif state == "opened" and isinstance(method, commands.Connection.CloseOk):
            self._state = "closed"
        elif state == "opened":
            raise ChannelError(
                f"unexpected method {method.name} on channel 0", *_ids(method)
            )  # spec 9.4: channel.open on 0, a second connection.open...
        else:
            raise CommandInvalid(
                f"unexpected method {method.name} in connection state '{state}'", *_ids(method)
            )

    def _start_ok(self, method: Any) -> None:
        client_properties = (
            method.client_properties if isinstance(method.client_properties, dict) else {}
        )
        self.client_properties = client_properties
        mechanism = method.mechanism
        response = method.response
        if isinstance(response, str):
            response = response.encode("utf-8", "surrogateescape")
        user: str | None = None
        password: str | None = None
        if mechanism == "PLAIN":
            parts = response.split(b"\x00")
            if len(parts) == 3:
                user, password = (
                    parts[1].decode("utf-8", "replace"),
                    parts[2].decode("utf-8", "replace"),
                )
        elif mechanism == "AMQPLAIN":
            try:
                _, table = decode.field_table(struct.pack(">I", len(response)) + response)
            except Exception:
                table = {}
            login, secret = table.get("LOGIN"), table.get("PASSWORD")
            if isinstance(login, (str, bytes)) and isinstance(secret, (str, bytes)):
                user = login if isinstance(login, str) else login.decode("utf-8", "replace")
                password = secret if isinstance(secret, str) else secret.decode("utf-8", "replace")
        else:
            raise CommandInvalid(f"unknown authentication mechanism '{mechanism}'", 10, 11)
        refused = user is None or password is None or not self.broker.authenticate(user, password)
        if not refused and not self.loopback and user in self.settings.loopback_users:
            log.warning("user '%s' can only connect via localhost (%s refused)", user, self.peer)
            refused = True
        if refused:
            log.warning(
                "login refused for user %r from %s (mechanism %s)", user, self.peer, mechanism
            )
            capabilities = client_properties.get("capabilities")
            if isinstance(capabilities, dict) and capabilities.get("authentication_failure_close"):
                self._send_connection_close(
                    403,
                    f"ACCESS_REFUSED - Login was refused using authentication mechanism "
                    f"{mechanism}. For details see the broker logfile.",
                    10,
                    11,
                )
            self._state = "closed"
            return
        assert user is not None
        self.user = user
        settings = self.settings
        self._send_method(
            0,
            _make(
                commands.Connection.Tune,
                channel_max=settings.channel_max,
                frame_max=settings.frame_max,
                heartbeat=settings.heartbeat,
            ),
        )
        self._state = "tune_ok"

    def _tune_ok(self, method: Any) -> None:
        settings = self.settings
        frame_max = method.frame_max or settings.frame_max
        if frame_max > settings.frame_max:
            raise NotAllowed(f"frame_max={frame_max} > {settings.frame_max} max size", 10, 31)
        if frame_max < FRAME_MIN:
            raise NotAllowed(f"frame_max={frame_max} < {FRAME_MIN} min size", 10, 31)
        channel_max = method.channel_max or settings.channel_max
        if channel_max > settings.channel_max:
            raise NotAllowed(f"channel_max={channel_max} > {settings.channel_max} max size", 10, 31)
        self.frame_max = frame_max
        self.channel_max = channel_max
        self.heartbeat = method.heartbeat
        self._state = "open"

    def _open(self, method: Any) -> None:
        vhost = method.virtual_host
        if vhost not in self.broker.vhosts:
            raise NotAllowed(f"vhost {vhost} not found", 10, 40)
        self.core = self.broker.connect(vhost, self.user, self.client_properties)
        self.core.set_wakeup(self._wakeup)
        self._send_method(0, _make(commands.Connection.OpenOk, known_hosts=""))
        self._state = "opened"
        log.info("connection %s opened: user '%s', vhost '%s'", self.peer, self.user, vhost)

    # ----------------------------------------------------------------- channels

    def _unopened_channel_method(self, number: int, payload: bytes) -> None:
        if number in self._closing_channels:
            # channel.close sent: discard everything but close/close-ok (AMQP 0-9-1, 2.3.5.2)
            try:
                method = self._decode(payload)
            except AMQPError:
                return
            if isinstance(method, commands.Channel.CloseOk):
                self._closing_channels.discard(number)
            elif isinstance(method, commands.Channel.Close):
                self._send_method(number, commands.Channel.CloseOk())
            return
        method = self._decode(payload)
        if isinstance(method, commands.Channel.Open):
            self._channel_open(number, method)
        elif isinstance(method, commands.Channel.CloseOk):
            pass
        else:
            raise ChannelError("expected 'channel.open'", *_ids(method))

    def _channel_open(self, number: int, method: Method) -> None:
        if len(self._server_channels) >= self.channel_max:
            raise NotAllowed(
                f"number of channels opened ({len(self._server_channels)}) has reached the "
                f"negotiated channel_max ({self.channel_max})",
                20,
                10,
            )
        if number > self.channel_max:  # AMQP: channels are numbered 1..channel_max
            raise NotAllowed(
                f"channel number {number} is above the negotiated channel_max ({self.channel_max})",
                20,
                10,
            )
        assert self.core is not None
        core = self.core.channel(number)
        server_channel = _ServerChannel(number, core)
        self._server_channels[number] = server_channel
        core.add_on_return_callback(self._on_return)
        core.add_on_cancel_callback(self._make_cancel_callback(server_channel))
        core.add_on_close_callback(self._on_channel_closed)
        self._send_method(number, _make(commands.Channel.OpenOk, channel_id=""))

    def _channel_error(
        self, server_channel: _ServerChannel, error: AMQPError, method: Method | None
    ) -> None:
        """channel.close for a channel-level error (spec 9.1, 9.3)."""
        if self._state != "opened":
            return
        self._send_before_close(server_channel.core)
        class_id, method_id = (
            _ids(method) if method is not None else (error.class_id, error.method_id)
        )
        server_channel.core.close(
            error.reply_code, error.reply_text
        )  # idempotent; the core may have closed it
        number = server_channel.number
        self._server_channels.pop(number, None)
        self._unconfirmed.discard(server_channel)
        self._closing_channels.add(number)
        self._send_method(
            number,
            _make(
                commands.Channel.Close,
                reply_code=error.reply_code,
                reply_text=error.reply_text,
                class_id=class_id,
                method_id=method_id,
            ),
        )

    def _channel_method(self, server_channel: _ServerChannel, method: Method) -> None:
        handler = _HANDLERS.get(type(method))
        if handler not in _NO_REPLY and self.core is not None and self.core.has_pending:
            self.drain_pending_only()  # returns and confirms before this method's reply
        try:
            if handler is None:
                raise CommandInvalid(
                    f"method {method.name} is not allowed from a client", *_ids(method)
                )
            handler(self, server_channel, method)
        except AMQPError as error:
            if error.is_connection_error:
                class_id, method_id = _ids(method)
                self._connection_error(error, class_id, method_id)
            else:
                self._channel_error(server_channel, error, method)

    # ----------------------------------------------------------------- content

    def _content_header(self, number: int, payload: bytes) -> None:
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
            raise UnexpectedFrame(
                f"content header for class {class_id} after basic.publish", 60, 40
            )
        try:
            content.properties = decode_properties(payload[12:])
        except DecodeError as error:
            raise FrameSyntaxError(str(error), 60, 40) from None
        content.size = size
        limit = self.broker.max_message_size
        if size > limit:
            server_channel.content = None
            self._channel_error(
                server_channel,
                PreconditionFailed(
                    f"message size {size} is larger than configured max size {limit}"
                ),
                content.method,
            )
            return
        if size == 0:
            self._publish(server_channel, content, b"")

    def _content_body(self, number: int, payload: bytes) -> None:
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

    def _publish(self, server_channel: _ServerChannel, content: _Content, body: bytes) -> None:
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

    # ----------------------------------------------------------------- core callbacks -> frames

    def _on_deliver(
        self, core: Channel, method: Deliver, properties: BasicProperties, body: bytes
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

    def _on_return(
        self, core: Channel, method: BasicReturn, properties: BasicProperties, body: bytes
    ) -> None:
        number = core.channel_number
        self._send_method(
            number,
            _make(
                commands.Basic.Return,
                reply_code=method.reply_code,
                reply_text=method.reply_text,
                exchange=method.exchange,
                routing_key=method.routing_key,
            ),
        )
        self._out += content_frames(number, properties, body, self.frame_max)

    def _make_confirm_callback(self, server_channel: _ServerChannel) -> Callable[[Any], None]:
        def on_confirm(method: Any) -> None:
            if isinstance(method, BasicAck):
                server_channel.ack_upto = method.delivery_tag
                server_channel.acks_unsent += 1
                self._unconfirmed.add(server_channel)
            else:
                self._flush_channel_confirms(server_channel)
                self._send_method(
                    server_channel.number,
                    _make(
                        commands.Basic.Nack,
                        delivery_tag=method.delivery_tag,
                        multiple=False,
                        requeue=False,
                    ),
                )

        return on_confirm

    def _flush_channel_confirms(self, server_channel: _ServerChannel) -> None:
        """Send the acks gathered since the last flush, as one multiple ack when several (spec 8.1)."""
        unsent = server_channel.acks_unsent
        if unsent:
            server_channel.acks_unsent = 0
            self._send_method(
                server_channel.number,
                _make(
                    commands.Basic.Ack, delivery_tag=server_channel.ack_upto, multiple=unsent > 1
                ),
            )

    def _flush_confirms(self) -> None:
        if self._unconfirmed:
            for server_channel in self._unconfirmed:
                self._flush_channel_confirms(server_channel)
            self._unconfirmed.clear()

    def _make_cancel_callback(
        self, server_channel: _ServerChannel
    ) -> Callable[[BasicCancel], None]:
        def on_cancel(method: BasicCancel) -> None:
            if self._server_channels.get(server_channel.number) is server_channel:
                self._send_method(
                    server_channel.number,
                    _make(commands.Basic.Cancel, consumer_tag=method.consumer_tag, nowait=False),
                )

        return on_cancel

    def _on_channel_closed(self, core: Channel, reason: AMQPError | None) -> None:
        """The core closed a channel on its own (not by a method we handled): tell the client."""
        if self._state != "opened":
            return  # connection.close was sent: nothing may follow it (AMQP 0-9-1, 2.2.4)
        server_channel = self._server_channels.get(core.channel_number)
        if server_channel is None or server_channel.core is not core or reason is None:
            return
        self._channel_error(server_channel, reason, None)

    def _send_before_close(self, channel: Channel | None) -> None:
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

    def drain_pending_only(self) -> None:
        """Send what the core has pending now (returns, confirms, deliveries) before a
        reply or a close that must come after it, as RabbitMQ orders them."""
        core = self.core
        if core is not None and core.has_pending and not core.is_draining:
            core.drain()
        self._flush_confirms()

    def drain(self) -> None:
        """Run the core's pending callbacks for this connection and send what they produced."""
        core = self.core
        if core is None or self.closed:
            return
        try:
            for _ in range(100):
                if not core.drain():
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

    # ----------------------------------------------------------------- socket events

    def connection_lost(self) -> None:
        """The socket closed: the core connection closes, requeueing unacked messages (spec 7.13)."""
        self.closed = True
        self._state = "closed"
        self._close_core(320, "CONNECTION_FORCED - client disconnected")

    def heartbeat_tick(self) -> None:
        """Called every heartbeat/2 seconds: send a heartbeat if idle; hang up after two silent intervals."""
        if self.closed or not self.heartbeat:
            return
        if self._received:
            self._received = False
            self._silent_ticks = 0
        else:
            self._silent_ticks += 1
            if self._silent_ticks >= 4:
                log.warning(
                    "missed heartbeats from client %s, timeout: %ss", self.peer, self.heartbeat
                )
                self._out.clear()
                self._finish()
                return
        if not self._sent:
            self._out.append(heartbeat_frame())
            self._flush()
        self._sent = False


# ----------------------------------------------------------------- method handlers


def _reply(
    connection: ServerConnection, server_channel: _ServerChannel, method: Method, reply: Method
) -> None:
    if not getattr(method, "nowait", False):
        connection._send_method(server_channel.number, reply)


def _exchange_declare(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.exchange_declare(
        m.exchange,
        m.exchange_type,
        m.passive,
        m.durable,
        m.auto_delete,
        m.internal,
        m.arguments or {},
    )
    _reply(c, s, m, commands.Exchange.DeclareOk())


def _exchange_delete(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.exchange_delete(m.exchange, m.if_unused)
    _reply(c, s, m, commands.Exchange.DeleteOk())


def _exchange_bind(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.exchange_bind(m.destination, m.source, m.routing_key, m.arguments or {})
    _reply(c, s, m, commands.Exchange.BindOk())


def _exchange_unbind(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.exchange_unbind(m.destination, m.source, m.routing_key, m.arguments or {})
    _reply(c, s, m, commands.Exchange.UnbindOk())


def _queue_declare(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    ok = s.core.queue_declare(
        m.queue, m.passive, m.durable, m.exclusive, m.auto_delete, m.arguments or {}
    )
    _reply(
        c,
        s,
        m,
        _make(
            commands.Queue.DeclareOk,
            queue=ok.queue,
            message_count=ok.message_count,
            consumer_count=ok.consumer_count,
        ),
    )


def _queue_bind(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.queue_bind(m.queue, m.exchange, m.routing_key, m.arguments or {})
    _reply(c, s, m, commands.Queue.BindOk())


def _queue_unbind(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.queue_unbind(m.queue, m.exchange, m.routing_key, m.arguments or {})
    _reply(c, s, m, commands.Queue.UnbindOk())


def _queue_purge(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    ok = s.core.queue_purge(m.queue)
    _reply(c, s, m, _make(commands.Queue.PurgeOk, message_count=ok.message_count))


def _queue_delete(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    ok = s.core.queue_delete(m.queue, m.if_unused, m.if_empty)
    _reply(c, s, m, _make(commands.Queue.DeleteOk, message_count=ok.message_count))


def _basic_qos(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.basic_qos(m.prefetch_size, m.prefetch_count, m.global_)
    c._send_method(s.number, commands.Basic.QosOk())


def _basic_consume(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    tag = s.core.basic_consume(
        m.queue, c._on_deliver, m.no_ack, m.exclusive, m.consumer_tag, m.arguments or {}
    )
    _reply(
        c, s, m, _make(commands.Basic.ConsumeOk, consumer_tag=tag)
    )  # spec 7.2: before the first deliver


def _basic_cancel(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    # deliveries already assigned went out before this method (``_channel_method``)
    for method, properties, body in s.core.basic_cancel(m.consumer_tag):
        c._on_deliver(s.core, method, properties, body)
    _reply(c, s, m, _make(commands.Basic.CancelOk, consumer_tag=m.consumer_tag))


def _basic_publish(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.content = _Content(m)


def _basic_get(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    ok, properties, body = s.core.basic_get(m.queue, m.no_ack)
    if ok is None:
        c._send_method(s.number, _make(commands.Basic.GetEmpty, cluster_id=""))
        return
    assert properties is not None and body is not None
    c._out.append(
        get_ok_frame(
            s.number,
            ok.delivery_tag,
            ok.redelivered,
            ok.exchange,
            ok.routing_key,
            ok.message_count,
        )
    )
    c._out += content_frames(s.number, properties, body, c.frame_max)


def _basic_ack(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.basic_ack(m.delivery_tag, m.multiple)


def _basic_nack(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.basic_nack(m.delivery_tag, m.multiple, m.requeue)


def _basic_reject(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.basic_reject(m.delivery_tag, m.requeue)


def _basic_recover(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.basic_recover(m.requeue)
    if isinstance(m, commands.Basic.Recover):
        c._send_method(s.number, commands.Basic.RecoverOk())


def _confirm_select(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.confirm_delivery(c._make_confirm_callback(s))
    _reply(c, s, m, commands.Confirm.SelectOk())


def _tx_select(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.tx_select()
    c._send_method(s.number, commands.Tx.SelectOk())


def _tx_commit(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.tx_commit()
    c.drain_pending_only()  # spec 8.8: returns come before commit-ok
    c._send_method(s.number, commands.Tx.CommitOk())


def _tx_rollback(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.tx_rollback()
    c._send_method(s.number, commands.Tx.RollbackOk())


def _channel_flow(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    active = s.core.flow(m.active)
    c._send_method(s.number, _make(commands.Channel.FlowOk, active=active))


def _channel_flow_ok(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    pass


def _channel_close(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    s.core.close()
    c._server_channels.pop(s.number, None)
    c._unconfirmed.discard(s)
    c._send_method(s.number, commands.Channel.CloseOk())


def _channel_close_ok(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    pass


def _channel_open_again(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    raise ChannelError(f"second 'channel.open' seen on channel {s.number}", *_ids(m))  # spec 9.4


def _access_request(c: ServerConnection, s: _ServerChannel, m: Any) -> None:
    c._send_method(s.number, _make(_ACCESS.RequestOk, ticket=1))


_NO_REPLY = frozenset({_basic_publish, _basic_ack, _basic_nack, _basic_reject})

_HANDLERS: dict[type[Method], Callable[[ServerConnection, _ServerChannel, Any], None]] = {
    commands.Exchange.Declare: _exchange_declare,
    commands.Exchange.Delete: _exchange_delete,
    commands.Exchange.Bind: _exchange_bind,
    commands.Exchange.Unbind: _exchange_unbind,
    commands.Queue.Declare: _queue_declare,
    commands.Queue.Bind: _queue_bind,
    commands.Queue.Unbind: _queue_unbind,
    commands.Queue.Purge: _queue_purge,
    commands.Queue.Delete: _queue_delete,
    commands.Basic.Qos: _basic_qos,
    commands.Basic.Consume: _basic_consume,
    commands.Basic.Cancel: _basic_cancel,
    commands.Basic.Publish: _basic_publish,
    commands.Basic.Get: _basic_get,
    commands.Basic.Ack: _basic_ack,
    commands.Basic.Nack: _basic_nack,
    commands.Basic.Reject: _basic_reject,
    commands.Basic.Recover: _basic_recover,
    commands.Basic.RecoverAsync: _basic_recover,
    commands.Confirm.Select: _confirm_select,
    commands.Tx.Select: _tx_select,
    commands.Tx.Commit: _tx_commit,
    commands.Tx.Rollback: _tx_rollback,
    commands.Channel.Flow: _channel_flow,
    commands.Channel.FlowOk: _channel_flow_ok,
    commands.Channel.Close: _channel_close,
    commands.Channel.CloseOk: _channel_close_ok,
    commands.Channel.Open: _channel_open_again,
}
_ACCESS: Any = getattr(commands, "Access", None)
if _ACCESS is not None:  # pamqp drops the deprecated access class in some versions
    _HANDLERS[_ACCESS.Request] = _access_request
