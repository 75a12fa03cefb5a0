"""Connection limits: the handshake timeout, max connections, open files, accept errors.

Small limits (half-second timeouts, two connections, 64 open files) keep each
case within a few seconds. Raw sockets come from ``test_bad_input``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from pamqp import commands
from test_bad_input import (  # the raw-socket helpers
    PROTOCOL_HEADER,
    Closed,
    Endpoint,
    Wire,
    _endpoint,
    frame,
    handshake,
)

from amqpmodel import Broker
from amqpmodel.server import ServerSettings, serve

HANDSHAKE_TIMEOUT = 0.5


@pytest.fixture
def quick_handshake() -> Iterator[Endpoint]:
    with serve(Broker(), settings=ServerSettings(handshake_timeout=HANDSHAKE_TIMEOUT)) as url:
        yield _endpoint("amqpmodel", url)


def test_handshake_timeout_defaults_to_rabbitmqs() -> None:
    # spec 21.7: handshake_timeout 10000 ms
    assert ServerSettings().handshake_timeout == 10.0


def _closed_within(wire: Wire, seconds: float) -> float:
    started = time.monotonic()
    while True:
        got = wire.read(timeout=seconds + 2.0)
        if isinstance(got, Closed):
            return time.monotonic() - started
        assert isinstance(got, tuple), f"neither closed nor sent anything: {got}"


@pytest.mark.parametrize("stop_after", ["nothing", "protocol-header", "start-ok", "tune-ok"])
def test_a_client_that_stops_before_connection_open_is_hung_up_on(
    quick_handshake: Endpoint, stop_after: str
) -> None:
    # spec 21.7: a client that has not completed connection.open within handshake_timeout
    # has its socket closed (no connection.close)
    wire = Wire(quick_handshake, timeout=5)
    if stop_after != "nothing":
        wire.send(PROTOCOL_HEADER)
        wire.expect(commands.Connection.Start)
    if stop_after in ("start-ok", "tune-ok"):
        wire.send(
            frame(
                commands.Connection.StartOk(
                    client_properties={}, mechanism="PLAIN", response="\x00guest\x00guest"
                )
            )
        )
        tune = wire.expect(commands.Connection.Tune)
    if stop_after == "tune-ok":
        wire.send(frame(commands.Connection.TuneOk(channel_max=tune.channel_max, frame_max=tune.frame_max, heartbeat=0)))
    assert _closed_within(wire, HANDSHAKE_TIMEOUT) < HANDSHAKE_TIMEOUT + 1.5
    wire.close()


def test_an_opened_connection_outlives_the_handshake_timeout(quick_handshake: Endpoint) -> None:
    # spec 21.7: the timeout ends at connection.open
    wire = handshake(quick_handshake)
    time.sleep(HANDSHAKE_TIMEOUT + 0.5)
    wire.send(frame(commands.Queue.Declare(queue="", exclusive=True), 1))
    wire.expect(commands.Queue.DeclareOk, 1)
    wire.close()


def _open(url: str) -> pika.BlockingConnection:
    return pika.BlockingConnection(pika.URLParameters(url + "?heartbeat=0&connection_attempts=1"))


def test_max_connections_refuses_connection_open_beyond_it() -> None:
    # spec 21.9: connection.open beyond connection_max → 530 "connection refused: node
    # connection limit (N) is reached"; every open socket counts, handshake or not
    with serve(Broker(), settings=ServerSettings(max_connections=2)) as url:
        endpoint = _endpoint("amqpmodel", url)
        first = _open(url)
        idle = Wire(endpoint)  # connected, never handshakes: counts as RabbitMQ's do
        refused = Wire(endpoint)
        refused.send(PROTOCOL_HEADER)
        refused.expect(commands.Connection.Start)
        refused.send(
            frame(
                commands.Connection.StartOk(
                    client_properties={}, mechanism="PLAIN", response="\x00guest\x00guest"
                )
            )
        )
        tune = refused.expect(commands.Connection.Tune)
        refused.send(frame(commands.Connection.TuneOk(channel_max=tune.channel_max, frame_max=tune.frame_max, heartbeat=0)))
        refused.send(frame(commands.Connection.Open(virtual_host="/")))
        close = refused.connection_closed_with(530)
        assert close.reply_text == (
            "NOT_ALLOWED - connection refused: node connection limit (2) is reached"
        )
        assert (close.class_id, close.method_id) == (10, 40)
        refused.close()
        idle.close()
        deadline = time.monotonic() + 5
        while True:  # the idle socket's close reaches the server
            try:
                second = _open(url)
                break
            except pika.exceptions.AMQPConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert first.is_open and second.is_open
        second.close()
        first.close()


def _serve_process(
    *options: str, soft: int | None = None, hard: int | None = None, log_path: str | None = None
) -> tuple[subprocess.Popen[str], int]:
    """``amqpmodel serve`` in a child process, optionally under an open files limit
    (its log in ``log_path`` if given, else on a pipe)."""

    def limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    process = subprocess.Popen(
        [sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--no-management", *options],
        stdout=subprocess.PIPE,
        stderr=open(log_path, "w") if log_path else subprocess.PIPE,  # noqa: SIM115
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=limit if soft is not None else None,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("amqpmodel listening on amqp://127.0.0.1:"), line
    return process, int(line.split()[3].rsplit(":", 1)[1])


def _stop(process: subprocess.Popen[str]) -> str:
    process.terminate()
    _, log = process.communicate(timeout=10)
    return log or ""


unix_only = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs setrlimit")


@unix_only
def test_serve_raises_the_open_files_limit_to_the_hard_limit() -> None:
    # RabbitMQ's start script raises the soft limit; an idle socket costs a file
    process, _ = _serve_process(soft=64, hard=256)
    log = _stop(process)
    assert "open files limit: 256 (was 64)" in log


@unix_only
def test_out_of_files_backs_off_and_logs_once_per_burst(tmp_path: Path) -> None:
    # more clients than files: the server keeps serving, logs one line for the burst
    # (not a traceback per attempt), and accepts again once files are free
    log_path = str(tmp_path / "serve.log")
    process, port = _serve_process(
        "--handshake-timeout", "60000", soft=64, hard=64, log_path=log_path
    )
    sockets = []
    try:
        for _ in range(120):
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(2.0)  # the listen backlog holds the rest; accept keeps failing
        with open(log_path) as during:
            failures = [line for line in during if "cannot accept connections" in line]
        assert len(failures) == 1, failures
        assert "Too many open files" in failures[0]
        for sock in sockets:
            sock.close()
        sockets.clear()
        deadline = time.monotonic() + 10
        while True:
            try:
                connection = _open(f"amqp://guest:guest@127.0.0.1:{port}/%2F")
                break
            except pika.exceptions.AMQPConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        connection.close()
    finally:
        for sock in sockets:
            sock.close()
        _stop(process)
    with open(log_path) as written:
        log = written.read()
    assert "Traceback" not in log, log[-3000:]
    assert "accepting connections again" in log
    assert len(log) < 100_000


def test_serve_options_set_the_limits() -> None:
    # --handshake-timeout in milliseconds (as rabbitmq.conf), --max-connections N
    process, port = _serve_process("--handshake-timeout", "300", "--max-connections", "1")
    try:
        endpoint = _endpoint("amqpmodel", f"amqp://guest:guest@127.0.0.1:{port}/%2F")
        wire = Wire(endpoint, timeout=5)
        assert _closed_within(wire, 0.3) < 1.5
        wire.close()
        first = _open(endpoint.url)
        with pytest.raises(pika.exceptions.AMQPConnectionError) as refused:
            _open(endpoint.url)
        assert "node connection limit (1) is reached" in str(refused.value)
        first.close()
    finally:
        _stop(process)


def test_user_limits_refuse_connection_open_and_channel_open_over_the_wire() -> None:
    # spec 15.15: both are connection errors (530), as rabbit_reader raises them
    broker = Broker()
    broker.set_user_limits("guest", {"max-connections": 2, "max-channels": 1})
    with serve(broker) as url:
        first = _open(url)
        first.channel()
        with pytest.raises(pika.exceptions.ConnectionClosed) as info:
            first.channel()
        assert info.value.reply_code == 530
        assert info.value.reply_text == (
            "NOT_ALLOWED - number of channels opened for user 'guest' has reached the "
            "maximum allowed user limit of 1"
        )
        second = _open(url)
        third = _open(url)  # the first is closed: two are open again
        with pytest.raises(pika.exceptions.ProbableAccessDeniedError) as refused:
            _open(url)
        assert "user connection limit (2) is reached" in str(refused.value)
        second.close()
        third.close()
