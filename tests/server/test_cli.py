"""`amqpmodel serve` from the command line: users, vhosts, --port 0, and a clean
shutdown that tells clients 320 CONNECTION_FORCED (issue 5); guest only from
loopback, as RabbitMQ."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator

import pika
import pika.exceptions
import pytest
from pamqp import commands, frame

from amqpmodel import Broker
from amqpmodel.server import ServerConnection


@pytest.fixture
def server_process() -> Iterator[tuple[subprocess.Popen[str], int]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "amqpmodel",
            "serve",
            "--port",
            "0",
            "--no-management",
            "--no-guest",
            "--user",
            "app:s3cret",
            "--vhost",
            "staging",
            # spec 15.4: a user opens only the vhosts it has permissions on
            *("--permission", "app", "staging", ".*", ".*", ".*"),
            *("--permission", "app", "/", ".*", ".*", ".*"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("amqpmodel listening on amqp://127.0.0.1:"), line
        port = int(line.split()[3].rsplit(":", 1)[1])
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _parameters(port: int, user: str, password: str, vhost: str) -> pika.ConnectionParameters:
    return pika.ConnectionParameters(
        "127.0.0.1",
        port,
        vhost,
        pika.PlainCredentials(user, password),
        connection_attempts=1,
        socket_timeout=5,
    )


def test_users_and_vhosts_from_the_command_line(
    server_process: tuple[subprocess.Popen[str], int],
) -> None:
    _, port = server_process
    connection = pika.BlockingConnection(_parameters(port, "app", "s3cret", "staging"))
    channel = connection.channel()
    channel.queue_declare("jobs")
    channel.basic_publish("", "jobs", b"x")
    assert channel.basic_get("jobs", auto_ack=True)[2] == b"x"
    connection.close()
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):  # --no-guest
        pika.BlockingConnection(_parameters(port, "guest", "guest", "/"))
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(_parameters(port, "app", "wrong", "staging"))


def test_sigint_closes_connections_with_320_and_exits(
    server_process: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = server_process
    connection = pika.BlockingConnection(_parameters(port, "app", "s3cret", "/"))
    closed: list[BaseException] = []
    try:
        process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and connection.is_open:
            try:
                connection.process_data_events(time_limit=0.05)
            except pika.exceptions.ConnectionClosedByBroker as error:
                closed.append(error)
                break
        assert closed, "the server did not close the connection"
        (error,) = closed
        assert isinstance(error, pika.exceptions.ConnectionClosedByBroker)
        assert error.reply_code == 320
        assert error.reply_text.startswith("CONNECTION_FORCED - ")
        assert process.wait(timeout=5) == 0
    finally:
        if connection.is_open:
            connection.close()


def _handshake_frames(user: str, password: str) -> bytes:
    return b"AMQP\x00\x00\x09\x01" + frame.marshal(
        commands.Connection.StartOk(
            client_properties={"capabilities": {"authentication_failure_close": True}},
            mechanism="PLAIN",
            response=f"\x00{user}\x00{password}",
        ),
        0,
    )


def _frames(data: bytes) -> list[object]:
    frames = []
    while len(data) >= 8:
        size = struct.unpack_from(">I", data, 3)[0]
        frames.append(frame.unmarshal(data[: size + 8])[2])
        data = data[size + 8 :]
    return frames


@pytest.mark.parametrize(
    ("user", "loopback", "accepted"),
    [
        ("guest", True, True),
        ("guest", False, False),  # guest only from loopback, as RabbitMQ
        ("app", False, True),
    ],
)
def test_guest_may_log_in_from_loopback_only(user: str, loopback: bool, accepted: bool) -> None:
    broker = Broker()
    broker.add_user("app", "guest")
    written: list[bytes] = []
    closed: list[bool] = []
    connection = ServerConnection(
        broker, written.append, lambda: closed.append(True), loopback=loopback, peer="10.0.0.7:4000"
    )
    connection.data_received(_handshake_frames(user, "guest"))
    replies = _frames(b"".join(written))
    assert isinstance(replies[0], commands.Connection.Start)
    if accepted:
        assert isinstance(replies[1], commands.Connection.Tune) and not closed
    else:
        close = replies[1]
        assert isinstance(close, commands.Connection.Close)
        assert close.reply_code == 403
        assert close.reply_text.startswith("ACCESS_REFUSED - Login was refused")
        assert closed == [True]


def _serve_process(*options: str) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--quiet", "--no-management", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("amqpmodel listening on amqp://127.0.0.1:"), line
    return process, int(line.split()[3].rsplit(":", 1)[1])


def test_max_message_size_and_consumer_timeout_options() -> None:
    # spec 0.4 and 8.6 (406 over the limit), spec 0.8 (406 after the timeout)
    process, port = _serve_process("--max-message-size", "100", "--consumer-timeout", "500")
    try:
        connection = pika.BlockingConnection(_parameters(port, "guest", "guest", "/"))
        channel = connection.channel()
        channel.queue_declare("q")
        channel.basic_publish("", "q", b"x" * 100)  # at the limit: accepted
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
            channel.basic_publish("", "q", b"x" * 101)
            channel.queue_declare("q", passive=True)  # the close arrives by now
        assert info.value.reply_code == 406
        assert "message size 101 is larger than configured max size 100" in info.value.reply_text
        channel = connection.channel()
        reasons: list[Exception] = []
        channel._impl.add_on_close_callback(lambda _channel, reason: reasons.append(reason))
        method, _, _ = channel.basic_get("q")
        assert method is not None
        deadline = time.monotonic() + 10
        while channel.is_open and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.1)
        (reason,) = reasons
        assert isinstance(reason, pika.exceptions.ChannelClosedByBroker)
        assert reason.reply_code == 406
        assert "Timeout value used: 500 ms" in reason.reply_text
        connection.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize(
    "options",
    [
        ("--max-message-size", "0"),
        ("--max-message-size", "536870913"),
        ("--consumer-timeout", "soon"),
        ("--consumer-timeout", "0"),
    ],
)
def test_bad_option_values_are_refused(options: tuple[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--no-management", *options],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert options[0] in result.stderr
