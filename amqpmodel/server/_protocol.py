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

This module owns the connection's state, its output, the frame loop, the
channels and the errors. The rest of ``ServerConnection`` lives by
responsibility and is bound into its class body: ``_negotiation`` (channel 0),
``_handlers`` (the channel methods), ``_content`` (content assembly),
``_callbacks`` (core callbacks to frames, the drains), ``_flow`` (blocked
publishers, held output, turns).
"""

from __future__ import annotations

import logging
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from pamqp import commands

from amqpmodel import (
    AMQPError,
    BasicProperties,
    Broker,
    Channel,
    ChannelError,
    CommandInvalid,
    Connection,
    ConnectionClosed,
    FrameError,
    InternalError,
    NotAllowed,
    UnexpectedFrame,
)

from . import _callbacks, _content, _flow, _logs, _negotiation
from ._codec import (
    FRAME_BODY,
    FRAME_END,
    FRAME_HEADER,
    FRAME_HEARTBEAT,
    FRAME_METHOD,
    PROTOCOL_HEADER,
    DecodeError,
    Method,
    decode_method,
    has_malformed_utf8,
    heartbeat_frame,
    make_method,
    method_frame,
    method_ids,
)
from ._content import Content
from ._flow import InputHeld
from ._handlers import HANDLERS, NO_REPLY
from ._negotiation import ServerSettings

__all__ = ["ServerChannel", "ServerConnection", "ServerSettings"]

log = logging.getLogger("amqpmodel.server")

_FRAME_PREFIX = struct.Struct(">BHI")


class ServerChannel:
    """The wire side of one core channel."""

    __slots__ = ("number", "core", "content", "ack_upto", "acks_unsent")

    def __init__(self, number: int, core: Channel) -> None:
        self.number = number
        self.core = core
        self.content: Content | None = None
        self.ack_upto = 0
        self.acks_unsent = 0


class ServerConnection:
    """The protocol state of one client connection."""

    def __init__(
        self,
        broker: Broker,
        write: Callable[[bytes | memoryview], None],
        close: Callable[[], None],
        *,
        peer: str = "?",
        local: str = "?",
        loopback: bool = True,
        settings: ServerSettings | None = None,
        wakeup: Callable[[], None] | None = None,
        connection_count: Callable[[], int] | None = None,
    ) -> None:
        self.broker = broker
        # the server's open sockets, this one included (for max_connections)
        self._connection_count = connection_count
        self._write = write
        self._close_transport = close
        # the client closed with connection.close and has its close-ok: as on
        # RabbitMQ, the socket is the client's to close (the driver hangs up
        # itself only if the client does not)
        self.linger = False
        # the login was refused: as RabbitMQ, the driver keeps the socket a few seconds
        # (slowing down retries; the client reads the close at leisure) unless the client
        # answers or hangs up first
        self.login_refused = False
        self.peer = peer
        # the server's end of the socket: "peer -> local" names the connection, as
        # RabbitMQ's logs and management API name it
        self.local = local
        self.connected_at = time.time()  # wall clock, for the management API
        self.auth_mechanism = ""  # the login's mechanism, once connection.start-ok came
        self.loopback = loopback
        self.settings = settings or ServerSettings()
        self._wakeup = wakeup
        self._state = "header"
        self._buffer = b""
        self._offset = 0  # where the input not yet handled starts in _buffer
        self._held_input: list[bytes] = []  # what arrived while input was held (_flow)
        self._out: list[bytes | memoryview] = []
        self._big_parts = False  # _out holds a large body: written part by part
        # output the socket could not take yet (see _flow): parts as they are
        self._held_out: deque[bytes | memoryview] = deque()
        self._output_paused = False  # the socket's buffer is over its high-water mark
        self._more_input = False  # frames wait for this connection's next turn
        self._blocked = False  # spec 21.3: published under a resource alarm, not read
        self._blocked_sent = False  # connection.blocked sent, connection.unblocked owed
        self._frames_per_turn = self.settings.frames_per_turn or (1 << 62)
        # the last content properties decoded without headers, by their encoded bytes
        self._last_properties: tuple[bytes, BasicProperties] | None = None
        self.channel_max = self.settings.channel_max
        self.frame_max = self.settings.frame_max
        self.heartbeat = 0
        self.user = ""
        self.client_properties: dict[str, Any] = {}
        self.core: Connection | None = None
        self._server_channels: dict[int, ServerChannel] = {}
        self._closing_channels: set[int] = set()  # channel.close sent, close-ok awaited
        self._unconfirmed: set[ServerChannel] = set()
        self._received = True
        self._sent = False
        self._silent_ticks = 0
        self.closed = False

    def __repr__(self) -> str:
        return f"<ServerConnection {self.user or '-'}@{self.peer} {self._state}>"

    @property
    def name(self) -> str:
        """The connection's name as RabbitMQ gives it, "peer -> local" (logs, management API)."""
        return f"{self.peer} -> {self.local}"

    @property
    def state(self) -> str:
        """The protocol state: "header", "start_ok", "tune_ok" and "open" while negotiating,
        "opened", "closing" (connection.close sent, close-ok awaited), "closed"."""
        return self._state

    # ----------------------------------------------------------------- output

    def _send_method(self, channel: int, method: Method) -> None:
        self._out.append(method_frame(channel, method))

    _flush = _flow.flush

    def _finish(self) -> None:
        """Close the socket after sending what is buffered."""
        if not self.closed:
            self._write_everything()
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
        _logs.connection_error(
            self, error, class_id or error.class_id, method_id or error.method_id
        )
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
            make_method(
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
        if self._state == "opened" and (self._blocked or self._output_paused or self._more_input):
            self._held_input.append(data)  # kept in order for when it may be handled (_flow)
            return
        self._take_input(data)
        self._run_input()

    def _take_input(self, data: bytes) -> None:
        """Append ``data`` (and what was held before it) to what is left to handle."""
        if self._held_input:
            self._held_input.append(data)
            data = b"".join(self._held_input)
            self._held_input.clear()
        if self._offset < len(self._buffer):
            self._buffer = self._buffer[self._offset :] + data
        else:
            self._buffer = data
        self._offset = 0

    def _run_input(self) -> None:
        """Handle the buffered input, up to a turn's worth of frames."""
        buffer = self._buffer
        self._more_input = False
        try:
            offset = self._frames(buffer, self._offset)
        except AMQPError as error:
            self._connection_error(error)
            offset = len(buffer)
        except Exception:  # a bug of ours: never take the server down
            log.exception("internal error on connection %s", self.peer)
            self._connection_error(InternalError("internal error"))
            offset = len(buffer)
        if offset < len(buffer):
            self._offset = offset
        else:
            self._buffer = b""
            self._offset = 0
        if self.core is not None and self.core.has_pending:
            self.drain()
        else:
            self._flush_confirms()
            self._flush()
        if self._state == "closed" and not self.closed:
            self._finish()

    def _frames(self, buffer: bytes, offset: int) -> int:
        """Handle the complete frames in ``buffer`` from ``offset``, at most a turn's
        worth (``frames_per_turn``), and none after a publish that blocked the
        connection (spec 21.3); return where the frames not handled start."""
        size = len(buffer)
        if self._state == "header":
            if size - offset < 8:
                return offset
            if buffer[offset : offset + 8] != PROTOCOL_HEADER:
                self._out.append(PROTOCOL_HEADER)  # what we speak; then hang up
                self._state = "closed"
                return size
            self._start()
            offset += 8
        # frame_max bounds the whole frame, but as RabbitMQ we let a payload of up to
        # frame_max octets through (clients that forget the 8 octets of framing are common)
        payload_max = self.frame_max
        turn = self._frames_per_turn
        try:
            while size - offset >= 7 and self._state != "closed":
                if not turn:
                    self._more_input = True  # the rest waits for the next turn
                    break
                turn -= 1
                frame_type, channel, length = _FRAME_PREFIX.unpack_from(buffer, offset)
                if length > payload_max:
                    raise FrameError(
                        f"type {frame_type}, all octets = <<>>: "
                        f"{{frame_too_large,{length},{self.frame_max - 8}}}"
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
        except InputHeld:
            pass  # a publish blocked the connection: the rest waits in the buffer
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
            ids = struct.unpack_from(">HH", payload) if len(payload) >= 4 else (0, 0)
            raise FrameError(f"cannot decode method frame: {error}", *ids) from None
        if type(method) is not commands.Basic.Publish and has_malformed_utf8(method):
            raise FrameError("Malformed UTF-8 in shortstr")  # ids 0, 0 as RabbitMQ
        return method

    # ----------------------------------------------------------------- methods

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

    # ----------------------------------------------------------------- channel 0 (_negotiation)

    _start = _negotiation.send_start
    _connection_method = _negotiation.connection_method
    _start_ok = _negotiation.on_start_ok
    _tune_ok = _negotiation.on_tune_ok
    _open = _negotiation.on_open

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
            raise ChannelError("expected 'channel.open'", *method_ids(method))

    def _channel_open(self, number: int, method: Method) -> None:
        # spec 21.10: channel_max limits how many channels are open, not their numbers
        if len(self._server_channels) >= self.channel_max:
            raise NotAllowed(
                f"number of channels opened ({len(self._server_channels)}) has reached the "
                f"negotiated channel_max ({self.channel_max})",
                20,
                10,
            )
        assert self.core is not None
        core = self.core.channel(number)
        server_channel = ServerChannel(number, core)
        self._server_channels[number] = server_channel
        core.add_on_return_callback(self._on_return)
        core.add_on_cancel_callback(self._make_cancel_callback(server_channel))
        core.add_on_close_callback(self._on_channel_closed)
        self._send_method(number, make_method(commands.Channel.OpenOk, channel_id=""))

    def _channel_error(
        self, server_channel: ServerChannel, error: AMQPError, method: Method | None
    ) -> None:
        """channel.close for a channel-level error (spec 9.1, 9.3)."""
        if self._state != "opened":
            return
        if isinstance(error, ConnectionClosed):
            # the broker closed this connection (an operator, a test, shutdown) and the
            # client's method arrived before our drain told it: connection.close, its reason
            self._connection_error(error)
            return
        self._send_before_close(server_channel.core)
        class_id, method_id = (
            method_ids(method) if method is not None else (error.class_id, error.method_id)
        )
        # a close of the broker's own (a consumer timeout) follows no method: "none"
        _logs.channel_error(
            self, server_channel.number, error, *((class_id, method_id) if method else (0, 0))
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
            make_method(
                commands.Channel.Close,
                reply_code=error.reply_code,
                reply_text=error.reply_text,
                class_id=class_id,
                method_id=method_id,
            ),
        )

    def _channel_method(self, server_channel: ServerChannel, method: Method) -> None:
        handler = HANDLERS.get(type(method))
        if handler not in NO_REPLY and self.core is not None and self.core.has_pending:
            self.drain_pending_only()  # returns and confirms before this method's reply
        try:
            if handler is None:
                raise CommandInvalid(
                    f"method {method.name} is not allowed from a client", *method_ids(method)
                )
            handler(self, server_channel, method)
        except AMQPError as error:
            if error.is_connection_error:
                class_id, method_id = method_ids(method)
                self._connection_error(error, class_id, method_id)
            else:
                self._channel_error(server_channel, error, method)

    # ----------------------------------------------------------------- content (_content)

    _content_header = _content.content_header
    _content_body = _content.content_body
    _publish = _content.publish

    # ----------------------------------------------------------------- core callbacks (_callbacks)

    _on_deliver = _callbacks.on_deliver
    _on_return = _callbacks.on_return
    _make_confirm_callback = _callbacks.make_confirm_callback
    _flush_channel_confirms = _callbacks.flush_channel_confirms
    _flush_confirms = _callbacks.flush_confirms
    _make_cancel_callback = _callbacks.make_cancel_callback
    _on_channel_closed = _callbacks.on_channel_closed
    _send_before_close = _callbacks.send_before_close
    drain_pending_only = _callbacks.drain_pending_only
    drain = _callbacks.drain

    # ----------------------------------------------------------------- flow control (_flow)

    _block_publisher = _flow.block_publisher
    _write_everything = _flow.write_everything
    alarms_changed = _flow.alarms_changed
    pause_output = _flow.pause_output
    resume_input = _flow.resume_input
    wants_input = property(_flow.wants_input)
    input_waiting = property(_flow.input_waiting)
    flow_state = property(_flow.flow_state)

    # ----------------------------------------------------------------- socket events

    def connection_lost(self) -> None:
        """The socket closed: the core connection closes, requeueing unacked messages (spec 7.13)."""
        self.closed = True
        self._state = "closed"
        self._buffer = b""
        self._held_input.clear()
        self._held_out.clear()
        self._close_core(320, "CONNECTION_FORCED - client disconnected")

    def heartbeat_tick(self) -> None:
        """Called every heartbeat/2 seconds: send a heartbeat if idle; hang up after two silent intervals."""
        if self.closed or not self.heartbeat:
            return
        # spec 21.5: no missed heartbeats while we do not read (blocked, output not
        # drained, input waiting for its turn)
        if self._received or (self._state == "opened" and not self.wants_input):
            self._received = False
            self._silent_ticks = 0
        else:
            self._silent_ticks += 1
            if self._silent_ticks >= 4:
                _logs.heartbeats_missed(self)
                self._out.clear()
                self._held_out.clear()
                self._finish()
                return
        if not self._sent:
            self._out.append(heartbeat_frame())
            self._flush()
        self._sent = False
