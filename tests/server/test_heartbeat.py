"""Heartbeats both ways (issue 5): the server sends them when idle, and a client
silent for two intervals is disconnected with its unacked messages requeued
(spec 7.13)."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import pika
import pytest
from pamqp import commands, frame

from amqpmodel import Broker
from amqpmodel.server import ServerSettings, serve

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"


@pytest.fixture
def fast_heartbeats() -> Iterator[tuple[Broker, str]]:
    broker = Broker()
    with serve(broker, settings=ServerSettings(heartbeat=1)) as url:
        yield broker, url


def _read_frames(sock: socket.socket, until: float) -> list[object]:
    """Every frame received before ``until`` (or until the server closes the socket)."""
    data = b""
    frames: list[object] = []
    while time.monotonic() < until:
        sock.settimeout(max(0.01, until - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            frames.append("closed")
            break
        data += chunk
        while len(data) >= 8:
            size = struct.unpack_from(">I", data, 3)[0]
            if len(data) < size + 8:
                break
            _, _, value = frame.unmarshal(data[: size + 8])
            frames.append(value)
            data = data[size + 8 :]
    return frames


def _silent_client(url: str, heartbeat: int) -> socket.socket:
    """A raw client that negotiates ``heartbeat``, opens channel 1, gets one message unacked."""
    host, port = url.split("@")[1].split("/")[0].split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(PROTOCOL_HEADER)
    _read_frames(sock, time.monotonic() + 0.2)  # connection.start
    sock.sendall(
        frame.marshal(
            commands.Connection.StartOk(
                client_properties={}, mechanism="PLAIN", response="\x00guest\x00guest"
            ),
            0,
        )
    )
    _read_frames(sock, time.monotonic() + 0.2)  # connection.tune
    sock.sendall(
        frame.marshal(
            commands.Connection.TuneOk(channel_max=2047, frame_max=131072, heartbeat=heartbeat), 0
        )
    )
    sock.sendall(frame.marshal(commands.Connection.Open(virtual_host="/"), 0))
    sock.sendall(frame.marshal(commands.Channel.Open(), 1))
    sock.sendall(frame.marshal(commands.Basic.Get(queue="work"), 1))
    replies = _read_frames(sock, time.monotonic() + 0.3)
    assert any(isinstance(r, commands.Basic.GetOk) for r in replies), replies
    return sock


def test_silent_client_is_disconnected_and_its_unacked_requeued(
    fast_heartbeats: tuple[Broker, str],
) -> None:
    broker, url = fast_heartbeats
    channel = broker.connect().channel()
    channel.queue_declare("work")
    channel.basic_publish("", "work", b"job")
    sock = _silent_client(url, heartbeat=1)
    try:
        assert broker.queues["work"].messages_unacknowledged == 1
        frames = _read_frames(sock, time.monotonic() + 4.0)  # two intervals, plus a margin
        assert any(f.__class__.__name__ == "Heartbeat" for f in frames), frames
        assert frames[-1] == "closed", frames  # the server hung up on the silent client
        queue = broker.queues["work"]
        assert (queue.messages_ready, queue.messages_unacknowledged) == (1, 0)
        method, _, body = channel.basic_get("work", auto_ack=True)
        assert body == b"job" and method is not None and method.redelivered
    finally:
        sock.close()


def test_client_that_sends_heartbeats_stays_connected(
    fast_heartbeats: tuple[Broker, str],
) -> None:
    _, url = fast_heartbeats
    parameters = pika.URLParameters(url)
    parameters.heartbeat = 1
    connection = pika.BlockingConnection(parameters)
    try:
        deadline = time.monotonic() + 3.5  # more than two intervals of application silence
        while time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.2)  # pika answers heartbeats here
        assert connection.is_open
        connection.channel().queue_declare("still-here")
    finally:
        connection.close()


def test_heartbeat_zero_disables_them(fast_heartbeats: tuple[Broker, str]) -> None:
    broker, url = fast_heartbeats
    broker.connect().channel().queue_declare("work")
    broker.connect().channel().basic_publish("", "work", b"job")
    sock = _silent_client(url, heartbeat=0)
    try:
        frames = _read_frames(sock, time.monotonic() + 2.5)
        assert frames == [], frames  # no heartbeats, no hang-up
    finally:
        sock.close()
