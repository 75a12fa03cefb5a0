"""A stateful wire fuzzer: plausible client sessions, mutated, beside a healthy client.

Each session is a random but valid conversation after the handshake, built
with pamqp: channels opened and closed, queues and exchanges declared,
bound and deleted, publishes (with properties, nested headers, bodies cut
into body frames at random sizes), consumes, gets, acks, nacks,
transactions and confirms. Then 0-3 mutations are applied to its frames
(bit flips, a wrong channel, a dropped, duplicated, reordered, truncated
frame, a wrong type or size), and the bytes go out in writes of random size.

Beside it a healthy pika client publishes with confirms to its own queue the
whole time. The invariants (spec 9, 21): every reply is a well-formed frame,
no close carries 541 (the server's own bug), the server logs no traceback,
the broker's accounting holds, and the healthy client lost nothing: every
confirmed message is in its queue once, and it kept making progress.

It runs for ``AMQPMODEL_FUZZ_SECONDS`` (default 4) with seed
``AMQPMODEL_FUZZ_SEED`` (default: random, printed on failure); the stateless
fuzzer of single frames is ``test_bad_input.py``'s.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import struct
import threading
import time
from typing import Any

import pika
import pytest
from _raw_client import PROTOCOL_HEADER  # tests/server is on sys.path
from pamqp import body as pamqp_body
from pamqp import commands
from pamqp import frame as pamqp_frame
from pamqp import header as pamqp_header
from pamqp import heartbeat as pamqp_heartbeat

from amqpmodel import Broker
from amqpmodel.server import serve
from amqpmodel.testing import assert_accounted

SECONDS = float(os.environ.get("AMQPMODEL_FUZZ_SECONDS", "4"))
SEED = int(os.environ.get("AMQPMODEL_FUZZ_SEED", str(random.randrange(1 << 32))))

pytestmark = pytest.mark.timeout(int(SECONDS) + 120)

QUEUES = ("fz-a", "fz-b", "fz-c")
EXCHANGES = ("fz-x", "fz-y")
HEALTHY = "healthy-queue"
FRAME_MAX = 131072


def _frame(value: Any, channel: int) -> bytes:
    return pamqp_frame.marshal(value, channel)


def _headers(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for i in range(rng.randrange(4)):
        kind = rng.randrange(6 if depth < 3 else 4)
        key = f"h{i}"
        if kind == 0:
            table[key] = rng.randrange(-(2**31), 2**31)
        elif kind == 1:
            table[key] = "v" * rng.randrange(20)
        elif kind == 2:
            table[key] = rng.random() < 0.5
        elif kind == 3:
            table[key] = rng.random()
        elif kind == 4:
            table[key] = _headers(rng, depth + 1)
        else:
            table[key] = [rng.randrange(100), "x", _headers(rng, depth + 1)]
    return table


# each queue and exchange is declared the same way every time (a different
# redeclare is a 406 that ends the channel: left to the mutations and rare ops)
QUEUE_ARGUMENTS: dict[str, dict[str, Any] | None] = {
    "fz-a": None,
    "fz-b": {"x-max-length": 3, "x-overflow": "drop-head"},
    "fz-c": {"x-message-ttl": 20, "x-dead-letter-exchange": "fz-x"},
}
EXCHANGE_TYPES = {"fz-x": "fanout", "fz-y": "topic"}


def _publish(rng: random.Random, channel: int) -> list[bytes]:
    size = rng.choice([0, 1, 10, 1000, 20_000, 200_000])
    body = bytes(rng.randrange(256) for _ in range(min(size, 64))) * (size // 64 + 1)
    body = body[:size]
    properties = commands.Basic.Properties(
        headers=_headers(rng) if rng.random() < 0.5 else None,
        delivery_mode=rng.choice([None, 1, 2]),
        priority=rng.choice([None, 0, 5, 9]),
        expiration=rng.choice([None, "0", "10", "1000"]),
        content_type=rng.choice([None, "text/plain"]),
    )
    exchange = rng.choice(["", "", "amq.fanout", "amq.topic", *EXCHANGES])
    key = rng.choice([*QUEUES, "a.b", "#", "nowhere"])
    frames = [
        _frame(
            commands.Basic.Publish(
                exchange=exchange, routing_key=key, mandatory=rng.random() < 0.3
            ),
            channel,
        ),
        _frame(pamqp_header.ContentHeader(0, len(body), properties), channel),
    ]
    start = 0
    while start < len(body):  # cut at random sizes, each within frame_max
        step = rng.randrange(1, min(len(body) - start, FRAME_MAX - 8) + 1)
        frames.append(_frame(pamqp_body.ContentBody(body[start : start + step]), channel))
        start += step
    return frames


class _Channel:
    """What the generator remembers of a channel, to keep its methods mostly valid."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.mode = ""  # "confirm" or "tx" once selected
        self.consumers: list[str] = []


def _declarations(channel: int) -> list[bytes]:
    frames = [
        _frame(commands.Exchange.Declare(exchange=name, exchange_type=kind), channel)
        for name, kind in EXCHANGE_TYPES.items()
    ]
    for name, arguments in QUEUE_ARGUMENTS.items():
        frames.append(_frame(commands.Queue.Declare(queue=name, arguments=arguments), channel))
    frames.append(_frame(commands.Queue.Bind(queue="fz-a", exchange="fz-x"), channel))
    frames.append(
        _frame(commands.Queue.Bind(queue="fz-b", exchange="fz-y", routing_key="a.*"), channel)
    )
    return frames


def session(rng: random.Random) -> list[bytes]:
    """The frames of one plausible client conversation after connection.open."""
    frames: list[bytes] = [_frame(commands.Channel.Open(), 1), *_declarations(1)]
    channels = [_Channel(1)]
    tags = 0
    for _ in range(rng.randrange(5, 60)):
        state = rng.choice(channels)
        channel = state.number
        op = rng.randrange(24)
        if op == 0 and len(channels) < 4:
            state = _Channel(max(c.number for c in channels) + 1)
            channels.append(state)
            frames.append(_frame(commands.Channel.Open(), state.number))
        elif op in (1, 2, 3, 4, 5, 6, 7, 8):
            frames += _publish(rng, channel)
        elif op == 9:
            frames.append(_frame(commands.Basic.Qos(prefetch_count=rng.randrange(0, 5)), channel))
        elif op == 10:
            tags += 1
            state.consumers.append(f"t{tags}")
            frames.append(
                _frame(
                    commands.Basic.Consume(
                        queue=rng.choice(QUEUES), consumer_tag=f"t{tags}", no_ack=rng.random() < 0.3
                    ),
                    channel,
                )
            )
        elif op == 11 and state.consumers:
            tag = state.consumers.pop(rng.randrange(len(state.consumers)))
            frames.append(_frame(commands.Basic.Cancel(consumer_tag=tag), channel))
        elif op in (12, 13):
            get = commands.Basic.Get(queue=rng.choice(QUEUES), no_ack=rng.random() < 0.5)
            frames.append(_frame(get, channel))
        elif op in (14, 15):  # every outstanding delivery: valid whatever was delivered
            frames.append(_frame(commands.Basic.Ack(delivery_tag=0, multiple=True), channel))
        elif op == 16:
            nack = commands.Basic.Nack(delivery_tag=0, multiple=True, requeue=rng.random() < 0.5)
            frames.append(_frame(nack, channel))
        elif op == 17:  # a tag that may not exist: 406 ends the channel
            frames.append(_frame(commands.Basic.Reject(delivery_tag=rng.randrange(1, 4)), channel))
        elif op == 18 and not state.mode:
            state.mode = rng.choice(["confirm", "tx"])
            select = commands.Confirm.Select() if state.mode == "confirm" else commands.Tx.Select()
            frames.append(_frame(select, channel))
        elif op == 19 and state.mode == "tx":
            frames.append(_frame(rng.choice([commands.Tx.Commit(), commands.Tx.Rollback()]), channel))
        elif op == 20:
            frames.append(_frame(commands.Basic.Recover(requeue=True), channel))
        elif op == 21:
            frames.append(_frame(commands.Queue.Purge(queue=rng.choice(QUEUES)), channel))
        elif op == 22:
            frames.append(_frame(pamqp_heartbeat.Heartbeat(), 0))
        elif op == 23 and rng.random() < 0.3:
            name = rng.choice(QUEUES)  # deleted, then declared again as before
            frames.append(_frame(commands.Queue.Delete(queue=name), channel))
            frames.append(
                _frame(commands.Queue.Declare(queue=name, arguments=QUEUE_ARGUMENTS[name]), channel)
            )
    if rng.random() < 0.5:
        close = commands.Channel.Close(reply_code=200, reply_text="bye", class_id=0, method_id=0)
        frames.append(_frame(close, channels[-1].number))
    return frames


def mutate(rng: random.Random, frames: list[bytes]) -> tuple[list[bytes], list[str]]:
    """0-3 frame-level mutations; returns the frames and what was done (for a failure)."""
    frames = list(frames)
    done: list[str] = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        if not frames:
            break
        index = rng.randrange(len(frames))
        kind = rng.choice(["flip", "channel", "drop", "duplicate", "swap", "truncate", "type", "size"])
        data = bytearray(frames[index])
        if kind == "flip":
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == "channel" and len(data) >= 7:
            struct.pack_into(">H", data, 1, rng.choice([0, 1, 2, 3, 7, 65535]))
        elif kind == "drop":
            del frames[index]
            done.append(f"drop {index}")
            continue
        elif kind == "duplicate":
            frames.insert(index, frames[index])
            done.append(f"duplicate {index}")
            continue
        elif kind == "swap" and index + 1 < len(frames):
            frames[index], frames[index + 1] = frames[index + 1], frames[index]
            done.append(f"swap {index}")
            continue
        elif kind == "truncate" and len(data) > 1:
            del data[rng.randrange(1, len(data)) :]
        elif kind == "type":
            data[0] = rng.choice([0, 1, 2, 3, 4, 8, 9, 0xCE])
        elif kind == "size" and len(data) >= 7:
            struct.pack_into(">I", data, 3, rng.choice([0, 1, len(data), 2**31, 131065]))
        frames[index] = bytes(data)
        done.append(f"{kind} {index}")
    return frames, done


# ----------------------------------------------------------------- running one session


def _handshake(sock: socket.socket) -> None:
    sock.sendall(PROTOCOL_HEADER)
    for method in (
        commands.Connection.StartOk(
            client_properties={"capabilities": {"connection.blocked": True}},
            mechanism="PLAIN",
            response="\0guest\0guest",
        ),
        commands.Connection.TuneOk(channel_max=2047, frame_max=FRAME_MAX, heartbeat=0),
        commands.Connection.Open(virtual_host="/"),
    ):
        sock.sendall(_frame(method, 0))


def _check_replies(data: bytes) -> list[str]:
    """Every reply a well-formed frame; no close with 541. Returns the closes seen."""
    closes: list[str] = []
    offset = 0
    while len(data) - offset >= 8:
        _, _, size = struct.unpack_from(">BHI", data, offset)
        if len(data) - offset < size + 8:
            break  # the socket was closed by us mid-frame
        assert data[offset + 7 + size] == 0xCE, f"reply without its frame end at {offset}"
        _, _, value = pamqp_frame.unmarshal(data[offset : offset + size + 8])
        offset += size + 8
        if isinstance(value, (commands.Connection.Close, commands.Channel.Close)):
            assert value.reply_code != 541, value.reply_text
            closes.append(f"{value.reply_code}")
    return closes


def _finished(data: bytes) -> bool:
    """Whether the replies end with the connection's close-ok or close (nothing follows)."""
    offset = last = 0
    while len(data) - offset >= 8:
        _, channel, size = struct.unpack_from(">BHI", data, offset)
        if len(data) - offset < size + 8:
            return False
        last, offset = offset, offset + size + 8
        if channel == 0 and data[last] == 1 and data[last + 7 : last + 11] in (
            b"\x00\x0a\x00\x33",  # connection.close-ok
            b"\x00\x0a\x00\x32",  # connection.close
        ):
            return True
    return False


def run_session(port: int, rng: random.Random) -> None:
    frames, done = mutate(rng, session(rng))
    data = b"".join(frames) + _frame(commands.Connection.Close(reply_code=200, reply_text="", class_id=0, method_id=0), 0)
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    received = bytearray()
    try:
        _handshake(sock)
        offset = 0
        while offset < len(data):  # writes of random size
            step = rng.choice([1, 7, 100, 4096, len(data)])
            try:
                sock.sendall(data[offset : offset + step])
            except OSError:
                break  # the server hung up after an error: the rest goes nowhere
            offset += step
        sock.settimeout(1.0)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _finished(bytes(received)):
            try:
                chunk = sock.recv(1 << 16)
            except OSError:  # a timeout included: the server said all it will say
                break
            if not chunk:
                break
            received += chunk
    finally:
        sock.close()
    try:
        _check_replies(bytes(received))
    except AssertionError as error:
        raise AssertionError(f"{error} after mutations {done}") from None


# ----------------------------------------------------------------- the test


class Healthy(threading.Thread):
    """Publishes numbered messages with confirms to its own queue until stopped."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.confirmed: list[bytes] = []
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            connection = pika.BlockingConnection(pika.URLParameters(self.url))
            channel = connection.channel()
            channel.queue_declare(HEALTHY)
            channel.confirm_delivery()
            number = 0
            while not self.stop.is_set():
                body = f"healthy {number}".encode()
                channel.basic_publish("", HEALTHY, body, mandatory=True)
                self.confirmed.append(body)
                number += 1
                time.sleep(0.002)
            connection.close()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.error = error


def test_mutated_sessions_beside_a_healthy_client(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="amqpmodel")
    rng = random.Random(SEED)
    broker = Broker()
    sessions = 0
    with serve(broker) as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        healthy = Healthy(url)
        healthy.start()
        deadline = time.monotonic() + SECONDS
        try:
            while time.monotonic() < deadline:
                run_session(port, rng)
                sessions += 1
        except AssertionError as error:
            raise AssertionError(
                f"{error} (AMQPMODEL_FUZZ_SEED={SEED}, session {sessions})"
            ) from None
        finally:
            healthy.stop.set()
            healthy.join(30)
        assert healthy.error is None, f"the healthy client failed: {healthy.error!r}"
        got = []
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        while True:
            method, _, body = channel.basic_get(HEALTHY, auto_ack=True)
            if method is None:
                break
            got.append(body)
        connection.close()
    assert sessions >= 5
    assert len(healthy.confirmed) >= 20, "the healthy client made no progress"
    assert sorted(got) == sorted(healthy.confirmed), f"seed {SEED}: lost or duplicated"
    tracebacks = [r for r in caplog.records if r.exc_info or "internal error" in r.getMessage()]
    assert not tracebacks, f"seed {SEED}: {tracebacks[0].getMessage()}"
    assert_accounted(broker)
