"""A raw AMQP 0-9-1 client on a plain socket, for tests that must see every frame.

Frames are built with pamqp and written as they are; replies are read with a
timeout and decoded one frame at a time, so a test can tell exactly what the
server sent, in which order, and whether it is reading at all.
"""

from __future__ import annotations

import socket
import struct
import time
import urllib.parse
from typing import Any

from pamqp import body as pamqp_body
from pamqp import commands
from pamqp import frame as pamqp_frame
from pamqp import header as pamqp_header

__all__ = ["RawClient", "encode", "publish_frames"]

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"


def encode(value: Any, channel: int = 1) -> bytes:
    """One frame: a pamqp method, content header or body, or a heartbeat."""
    return pamqp_frame.marshal(value, channel)


def publish_frames(
    routing_key: str,
    body: bytes,
    *,
    exchange: str = "",
    channel: int = 1,
    mandatory: bool = False,
    properties: commands.Basic.Properties | None = None,
) -> bytes:
    """basic.publish, its content header and its body frames (none for an empty body)."""
    frames = encode(
        commands.Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=mandatory),
        channel,
    ) + encode(
        pamqp_header.ContentHeader(0, len(body), properties or commands.Basic.Properties()),
        channel,
    )
    limit = 131072 - 8  # the frame_max RawClient negotiates, less the frame's own octets
    for start in range(0, len(body), limit):
        frames += encode(pamqp_body.ContentBody(body[start : start + limit]), channel)
    return frames


class RawClient:
    """A connection handshaken as the test asks (capabilities, heartbeat), channel 1 open."""

    def __init__(
        self,
        url: str,
        *,
        capabilities: dict[str, bool] | None = None,
        heartbeat: int = 0,
        receive_buffer: int | None = None,
        open_channel: bool = True,
        timeout: float = 5.0,
    ) -> None:
        parts = urllib.parse.urlparse(url)
        self.sock = socket.socket()
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect((parts.hostname or "127.0.0.1", parts.port or 5672))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buffer = b""
        self.frames: list[tuple[int, int, Any]] = []  # every frame read: (type, channel, value)
        self.eof = False
        self.sock.sendall(PROTOCOL_HEADER)
        self.expect(commands.Connection.Start)
        client_properties: dict[str, Any] = {"product": "raw test client"}
        if capabilities is not None:
            client_properties["capabilities"] = capabilities
        self.send(
            commands.Connection.StartOk(
                client_properties=client_properties,
                mechanism="PLAIN",
                response="\0guest\0guest",
                locale="en_US",
            ),
            0,
        )
        self.expect(commands.Connection.Tune)
        self.send(
            commands.Connection.TuneOk(channel_max=2047, frame_max=131072, heartbeat=heartbeat), 0
        )
        self.send(commands.Connection.Open(virtual_host="/"), 0)
        self.expect(commands.Connection.OpenOk)
        if open_channel:
            self.send(commands.Channel.Open(), 1)
            self.expect(commands.Channel.OpenOk)

    # ----------------------------------------------------------------- writing

    def send(self, value: Any, channel: int = 1) -> None:
        self.sock.sendall(encode(value, channel))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_nonblocking(self, data: bytes, limit_seconds: float = 2.0) -> int:
        """Write as much of ``data`` as the socket takes within ``limit_seconds`` without
        waiting for it to drain; return the bytes taken (TCP back-pressure stops it)."""
        self.sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + limit_seconds
        view = memoryview(data)
        try:
            while sent < len(data) and time.monotonic() < deadline:
                try:
                    sent += self.sock.send(view[sent : sent + 65536])
                except BlockingIOError:
                    time.sleep(0.01)
        finally:
            self.sock.settimeout(self.timeout)
        return sent

    # ----------------------------------------------------------------- reading

    def _fill(self, deadline: float) -> bool:
        """Read what arrives before ``deadline``; False on timeout or end of file."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or self.eof:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            return False
        except OSError:
            data = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def next_frame(self, timeout: float | None = None) -> tuple[int, int, Any] | None:
        """The next frame, decoded; None if none came within ``timeout`` seconds."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if len(self.buffer) >= 7:
                kind, channel, size = struct.unpack_from(">BHI", self.buffer)
                if len(self.buffer) >= size + 8:
                    raw, self.buffer = self.buffer[: size + 8], self.buffer[size + 8 :]
                    _, _, value = pamqp_frame.unmarshal(raw)
                    self.frames.append((kind, channel, value))
                    return kind, channel, value
            if not self._fill(deadline):
                return None

    def expect(self, kind: type, timeout: float | None = None) -> Any:
        """Read until a frame whose value is a ``kind``; frames on the way are kept in
        ``frames``. AssertionError when none comes in time."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            got = self.next_frame(max(0.0, deadline - time.monotonic()))
            if got is None:
                raise AssertionError(f"no {kind.__name__} within the timeout; got {self.frames}")
            if isinstance(got[2], kind):
                return got[2]

    def methods(self, kind: type) -> list[Any]:
        """Every frame read so far whose value is a ``kind``."""
        return [value for _, _, value in self.frames if isinstance(value, kind)]

    def quiet(self, seconds: float) -> list[tuple[int, int, Any]]:
        """Read for ``seconds``; return the frames that came meanwhile."""
        start = len(self.frames)
        deadline = time.monotonic() + seconds
        while self.next_frame(max(0.0, deadline - time.monotonic())) is not None:
            pass
        return self.frames[start:]

    def round_trip(self, queue: str, timeout: float | None = None) -> int:
        """A passive queue.declare on channel 1: the queue's ready count when handled."""
        self.send(commands.Queue.Declare(queue=queue, passive=True))
        ok = self.expect(commands.Queue.DeclareOk, timeout)
        count: int = ok.message_count
        return count

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
