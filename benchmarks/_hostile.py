"""Hostile-load rows for benchmarks/wire.py (issue 15): what one client's load costs the others.

Each function takes the URL of a running ``amqpmodel serve`` (or any broker)
and, where it reads the server's memory or CPU, its process id:

- ``prefetch_full_publish``: server CPU per publish into a queue whose
  consumers are all full (prefetch 1, never acking): 10 consumers vs 30 000;
- ``pipelining_fairness``: a pika client's confirmed publishes per second alone,
  then beside a raw client pipelining publishes on another connection;
- ``stalled_fanout_memory``: the server's memory growth while 50 MB go into a
  40-way fanout whose consumers share one connection that never reads;
- ``wire_blast``: ingest and end-to-end rates of ``../shared/tools/wire_blast.py``
  (a raw client that pre-encodes its frames, so the server sets the pace).

The raw clients here speak just enough AMQP (pamqp frames on a plain socket)
to cost the server and not themselves.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

import pika
from pamqp import body as pamqp_body
from pamqp import commands, frame
from pamqp import header as pamqp_header

__all__ = [
    "RawClient",
    "report",
    "pipelining_fairness",
    "prefetch_full_publish",
    "process_rss",
    "stalled_fanout_memory",
    "wire_blast",
]


def process_rss(pid: int) -> int:
    """Resident bytes of process ``pid`` (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


class RawClient:
    """One handshaken AMQP connection on a plain socket, channel 1 open."""

    def __init__(self, url: str, *, receive_buffer: int | None = None) -> None:
        parts = urllib.parse.urlparse(url)
        self.sock = socket.socket()
        if receive_buffer is not None:  # a small window: the client stalls sooner
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.connect((parts.hostname or "127.0.0.1", parts.port or 5672))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.sock.sendall(b"AMQP\x00\x00\x09\x01")
        self.expect(commands.Connection.Start)
        user = urllib.parse.unquote(parts.username or "guest")
        password = urllib.parse.unquote(parts.password or "guest")
        self.send(
            commands.Connection.StartOk(
                client_properties={"product": "hostile-bench"},
                mechanism="PLAIN",
                response=f"\0{user}\0{password}",
                locale="en_US",
            ),
            0,
        )
        self.expect(commands.Connection.Tune)
        self.send(commands.Connection.TuneOk(channel_max=2047, frame_max=131072, heartbeat=0), 0)
        vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        self.send(commands.Connection.Open(virtual_host=vhost), 0)
        self.expect(commands.Connection.OpenOk)
        self.send(commands.Channel.Open(), 1)
        self.expect(commands.Channel.OpenOk)

    def send(self, method: object, channel: int = 1) -> None:
        self.sock.sendall(frame.marshal(method, channel))  # type: ignore[arg-type]

    def expect(self, kind: type) -> object:
        """Read frames until a method of ``kind`` (others are skipped)."""
        while True:
            while len(self.buffer) >= 7:
                _, _, size = struct.unpack_from(">BHI", self.buffer)
                if len(self.buffer) < size + 8:
                    break
                raw, self.buffer = self.buffer[: size + 8], self.buffer[size + 8 :]
                value = frame.unmarshal(raw)[2]
                if isinstance(value, kind):
                    return value
                if isinstance(value, commands.Connection.Close):
                    raise RuntimeError(f"connection closed: {value.reply_text}")
            data = self.sock.recv(1 << 20)
            if not data:
                raise RuntimeError("connection closed by the broker")
            self.buffer += data

    def discard_input(self) -> threading.Thread:
        """Read and drop everything the broker sends, on a thread, until the socket closes."""

        def run() -> None:
            try:
                while self.sock.recv(1 << 20):
                    pass
            except OSError:
                pass

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """connection.close, its close-ok (briefly), then the socket."""
        try:
            self.sock.settimeout(2.0)
            self.send(
                commands.Connection.Close(reply_code=200, reply_text="", class_id=0, method_id=0), 0
            )
            self.expect(commands.Connection.CloseOk)
        except (OSError, RuntimeError):
            pass
        finally:
            self.sock.close()


def publish_frames(queue: str, body: bytes, count: int, exchange: str = "") -> bytes:
    one = (
        frame.marshal(commands.Basic.Publish(exchange=exchange, routing_key=queue), 1)
        + frame.marshal(pamqp_header.ContentHeader(0, len(body), commands.Basic.Properties()), 1)
        + frame.marshal(pamqp_body.ContentBody(body), 1)
    )
    return one * count


# --------------------------------------------------------------------------- the workloads


def prefetch_full_publish(url: str, pid: int, consumers: int, n: int) -> float:
    """Server CPU seconds per publish into a queue with ``consumers`` full consumers."""
    queue = f"full-{uuid.uuid4().hex[:8]}"
    holder = RawClient(url)
    holder.send(commands.Queue.Declare(queue=queue, auto_delete=True))
    holder.expect(commands.Queue.DeclareOk)
    holder.send(commands.Basic.Qos(prefetch_count=1))
    holder.expect(commands.Basic.QosOk)
    batch = b"".join(
        frame.marshal(commands.Basic.Consume(queue=queue, consumer_tag=f"c{i}", nowait=True), 1)
        for i in range(consumers)
    )
    holder.sock.sendall(batch)
    holder.send(commands.Basic.Qos(prefetch_count=1))  # a round trip after the consumes
    holder.expect(commands.Basic.QosOk)
    holder.discard_input()  # reads what it is sent (never acks): no flow control steps in
    publisher = RawClient(url)
    publisher.sock.sendall(publish_frames(queue, b"x" * 100, consumers))  # each one full
    publisher.send(commands.Queue.Declare(queue=queue, passive=True))
    publisher.expect(commands.Queue.DeclareOk)
    cpu = process_cpu(pid)
    start = time.perf_counter()
    publisher.sock.sendall(publish_frames(queue, b"x" * 100, n))
    publisher.send(commands.Queue.Declare(queue=queue, passive=True))
    ok = publisher.expect(commands.Queue.DeclareOk)
    elapsed = time.perf_counter() - start
    used = process_cpu(pid) - cpu
    if getattr(ok, "message_count", None) != n:
        raise RuntimeError(f"expected {n} ready messages, the queue has {ok}")
    publisher.close()
    holder.close()
    return (used if used > 0 else elapsed) / n


def _pipeline(url: str, queue: str, stop: multiprocessing.synchronize.Event) -> None:
    """A client that writes publishes as fast as the server reads them (another process)."""
    client = RawClient(url)
    client.discard_input()
    chunk = publish_frames(queue, b"p" * 100, 1000)
    while not stop.is_set():
        client.sock.sendall(chunk)
    client.close()


def _confirmed_rate(url: str, queue: str, seconds: float) -> float:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        channel.basic_publish("", queue, b"c" * 100)
        count += 1
    elapsed = time.perf_counter() - start
    channel.queue_purge(queue)
    connection.close()
    return count / elapsed


def pipelining_fairness(url: str, seconds: float = 3.0) -> tuple[float, float]:
    """(confirmed publishes/s alone, beside a pipelining client on another connection)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    mine, theirs = f"confirmed-{uuid.uuid4().hex[:8]}", f"pipelined-{uuid.uuid4().hex[:8]}"
    channel.queue_declare(mine)
    channel.queue_declare(theirs, arguments={"x-max-length": 10_000})  # bounded memory
    alone = _confirmed_rate(url, mine, seconds)
    stop = multiprocessing.Event()
    pipeliner = multiprocessing.Process(target=_pipeline, args=(url, theirs, stop), daemon=True)
    pipeliner.start()
    time.sleep(1.0)  # until it is in full flow
    beside = _confirmed_rate(url, mine, seconds)
    stop.set()
    pipeliner.join(10)
    if pipeliner.is_alive():
        pipeliner.kill()
    channel.queue_delete(mine)
    channel.queue_delete(theirs)
    connection.close()
    return alone, beside


def stalled_fanout_memory(
    url: str, pid: int, queues: int = 40, messages: int = 50, size: int = 1_000_000
) -> tuple[int, int]:
    """(body bytes published, server RSS growth) for ``messages`` bodies of ``size`` bytes
    into a ``queues``-way fanout whose consumers (prefetch 10) share one connection
    that never reads."""
    exchange = f"fan-{uuid.uuid4().hex[:8]}"
    stalled = RawClient(url, receive_buffer=4096)
    stalled.send(commands.Exchange.Declare(exchange=exchange, exchange_type="fanout"))
    stalled.expect(commands.Exchange.DeclareOk)
    stalled.send(commands.Basic.Qos(prefetch_count=10))
    stalled.expect(commands.Basic.QosOk)
    for i in range(queues):
        stalled.send(commands.Queue.Declare(queue=f"{exchange}-{i}", exclusive=True))
        stalled.expect(commands.Queue.DeclareOk)
        stalled.send(commands.Queue.Bind(queue=f"{exchange}-{i}", exchange=exchange))
        stalled.expect(commands.Queue.BindOk)
        stalled.send(commands.Basic.Consume(queue=f"{exchange}-{i}", consumer_tag=f"c{i}"))
        stalled.expect(commands.Basic.ConsumeOk)
    before = process_rss(pid)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    body = os.urandom(size)
    for i in range(messages):
        channel.basic_publish(exchange, "", body[:-4] + struct.pack(">I", i))
    channel.exchange_declare(exchange, "fanout", passive=True)  # a round trip
    time.sleep(1.0)  # what the server will write to the stalled client, it has by now
    growth = process_rss(pid) - before
    channel.exchange_delete(exchange)
    connection.close()
    stalled.close()  # its exclusive queues go with it
    return messages * size, growth


_BLAST_LINES = re.compile(r"^(publish|consume\+ack|end-to-end) .*?: ([0-9,]+) msg/s", re.M)


def wire_blast(url: str, tool: str, n: int = 50_000) -> dict[str, float]:
    """``wire_blast.py URL --n N`` with 4 connections: its publish, consume+ack and
    end-to-end rates (msg/s)."""
    result = subprocess.run(
        [sys.executable, tool, url, "--n", str(n)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    rates = {
        name: float(value.replace(",", "")) for name, value in _BLAST_LINES.findall(result.stdout)
    }
    if len(rates) != 3:
        raise RuntimeError(f"wire_blast.py said: {result.stdout}{result.stderr}")
    return rates


# --------------------------------------------------------------------------- the table


def report(
    start_server: Callable[[], tuple[Any, str]],
    stop_server: Callable[[Any], None],
    *,
    blast_tool: str | None,
    blast_n: int,
    full_consumers: int = 30_000,
    rabbitmq_url: str | None = None,
) -> bool:
    """Run the rows, each against a fresh server (``start_server() -> (process, url)``),
    print them with their targets; True when every target is met."""
    rows: list[tuple[str, str, str, bool]] = []

    def fresh() -> tuple[Any, str]:
        return start_server()

    proc, url = fresh()
    try:
        few = prefetch_full_publish(url, proc.pid, 10, 20_000)
        many = prefetch_full_publish(url, proc.pid, full_consumers, 20_000)
    finally:
        stop_server(proc)
    ratio = many / few
    rows.append(
        (
            f"publish cost, {full_consumers:,} vs 10 prefetch-full consumers",
            f"{many * 1e6:.1f} vs {few * 1e6:.1f} us/msg = {ratio:.2f}x",
            "<= 2x",
            ratio <= 2.0,
        )
    )
    proc, url = fresh()
    try:
        alone, beside = pipelining_fairness(url)
    finally:
        stop_server(proc)
    share = beside / alone
    rows.append(
        (
            "confirmed publishes beside a pipelining client",
            f"{beside:,.0f} vs {alone:,.0f} msg/s alone = {share:.2f}",
            ">= 0.5",
            share >= 0.5,
        )
    )
    proc, url = fresh()
    try:
        bodies, growth = stalled_fanout_memory(url, proc.pid)
    finally:
        stop_server(proc)
    rows.append(
        (
            "50 MB into a 40-way fanout, consumers stalled",
            f"RSS +{growth / 1e6:.0f} MB for {bodies / 1e6:.0f} MB = {growth / bodies:.2f}x",
            "<= 2x",
            growth <= 2 * bodies,
        )
    )
    blasts: dict[str, dict[str, float]] = {}
    if blast_tool is not None and os.path.exists(blast_tool):
        proc, url = fresh()
        try:
            blasts["amqpmodel"] = wire_blast(url, blast_tool, blast_n)
        finally:
            stop_server(proc)
        if rabbitmq_url:
            blasts["RabbitMQ"] = wire_blast(rabbitmq_url, blast_tool, blast_n)
    print(f"{'hostile load (issue 15)':<52} {'measured':<44} {'target':>7} {'met':>3}")
    print("-" * 110)
    for name, value, target, met in rows:
        print(f"{name:<52} {value:<44} {target:>7} {'yes' if met else 'NO':>3}")
    for broker, rates in blasts.items():
        for name, rate in rates.items():
            print(f"{'wire_blast, 4 connections, ' + name + ' (' + broker + ')':<52} "
                  f"{rate:>12,.0f} msg/s")
    if not blasts:
        print(f"(wire_blast.py not found at {blast_tool}: ingest rates not measured)")
    return all(met for _, _, _, met in rows)
