"""Soak: many connections, confirms and acks, clients killed at random, a memory alarm that trips.

Run: python benchmarks/soak.py [--seconds 60] [--idle 1000] [--publishers 50]
                               [--consumers 50] [--queues 10] [--size 1000]
                               [--watermark 8MB] [--seed 1] [--server-path DIR]

Starts ``amqpmodel serve --no-management --memory-high-watermark W`` in a
subprocess, opens ``--idle`` connections that only sit there, and runs
``--publishers`` publishers (confirms, a window of 50 unconfirmed) and
``--consumers`` consumers (manual acks, prefetch 50) on ``--queues`` queues,
all raw AMQP on asyncio in this process. Every few seconds the consumers
pause for a while, so that a backlog builds and the memory alarm trips;
throughout, a random publisher or consumer is killed (its socket aborted,
no close) and restarted a moment later.

It prints, every 5 seconds, the server's RSS, confirmed and delivered
counts and how many publishers are blocked; at the end the throughput,
the alarms seen (connection.blocked / unblocked), the server's log lines
of note, and the accounting: every confirmed message must have been
delivered, and a message delivered twice must carry the redelivered flag
the second time (a consumer killed before acking gives its messages back).
Exit status 1 if the accounting fails.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import resource
import struct
import subprocess
import sys
import time
from collections import Counter
from typing import Any

from pamqp import body as pamqp_body
from pamqp import commands, frame
from pamqp import header as pamqp_header

LISTENING = re.compile(r"amqpmodel listening on amqp://([^:/\s]+):(\d+)")
WINDOW = 50  # unconfirmed publishes a publisher allows itself
PREFETCH = 50


class Stats:
    def __init__(self) -> None:
        self.confirmed: set[str] = set()
        self.nacked = 0
        self.published = 0
        self.delivered: Counter[str] = Counter()
        self.redelivered = 0
        self.unflagged_duplicates: list[str] = []
        self.blocked = 0
        self.unblocked = 0
        self.blocked_now: set[int] = set()
        self.kills = 0
        self.errors: list[str] = []


class Raw:
    """One AMQP connection over asyncio streams (just what the soak needs)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buffer = b""
        self.killed = False

    @classmethod
    async def open(cls, host: str, port: int) -> Raw:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 22)
        raw = cls(reader, writer)
        writer.write(b"AMQP\x00\x00\x09\x01")
        await raw.method()
        raw.send(
            commands.Connection.StartOk(
                client_properties={"product": "soak", "capabilities": {"connection.blocked": True}},
                mechanism="PLAIN",
                response="\0guest\0guest",
                locale="en_US",
            ),
            0,
        )
        await raw.method()
        raw.send(commands.Connection.TuneOk(channel_max=2047, frame_max=131072, heartbeat=0), 0)
        raw.send(commands.Connection.Open(virtual_host="/"), 0)
        await raw.method()
        raw.send(commands.Channel.Open(), 1)
        await raw.method()
        return raw

    def send(self, value: Any, channel: int = 1) -> None:
        self.writer.write(frame.marshal(value, channel))

    async def frame(self) -> tuple[int, Any]:
        while True:
            if self.killed:  # a crashed client reads nothing more, not even what it had
                raise ConnectionError("killed")
            if len(self.buffer) >= 7:
                _, channel, size = struct.unpack_from(">BHI", self.buffer)
                if len(self.buffer) >= size + 8:
                    raw, self.buffer = self.buffer[: size + 8], self.buffer[size + 8 :]
                    return channel, frame.unmarshal(raw)[2]
            data = await self.reader.read(1 << 20)
            if not data:
                raise ConnectionError("closed by the broker")
            self.buffer += data

    async def method(self) -> Any:
        while True:
            _, value = await self.frame()
            if isinstance(value, commands.Connection.Close):
                raise ConnectionError(f"connection.close {value.reply_code} {value.reply_text}")
            if hasattr(value, "index"):  # a method, not a header or a body
                return value

    def kill(self) -> None:
        self.killed = True
        self.buffer = b""
        self.writer.transport.abort()  # no close: as a crashed client


def publish_frames(queue: str, body: bytes) -> bytes:
    return (
        frame.marshal(commands.Basic.Publish(exchange="", routing_key=queue), 1)
        + frame.marshal(
            pamqp_header.ContentHeader(0, len(body), commands.Basic.Properties(delivery_mode=1)), 1
        )
        + frame.marshal(pamqp_body.ContentBody(body), 1)
    )


async def read_confirms(
    number: int, raw: Raw, pending: dict[int, str], acked: asyncio.Event, stats: Stats
) -> None:
    """A publisher's incoming frames: confirms settle ``pending``; blocked/unblocked counted."""
    while True:
        _, value = await raw.frame()
        if isinstance(value, commands.Basic.Ack):
            if value.multiple:
                done = [t for t in pending if t <= value.delivery_tag]
            else:
                done = [value.delivery_tag]
            for t in done:
                if t in pending:
                    stats.confirmed.add(pending.pop(t))
            acked.set()
        elif isinstance(value, commands.Basic.Nack):
            tags = [t for t in pending if t <= value.delivery_tag] if value.multiple else [
                value.delivery_tag
            ]
            for t in tags:
                if pending.pop(t, None) is not None:
                    stats.nacked += 1
            acked.set()
        elif isinstance(value, commands.Connection.Blocked):
            stats.blocked += 1
            stats.blocked_now.add(number)
        elif isinstance(value, commands.Connection.Unblocked):
            stats.unblocked += 1
            stats.blocked_now.discard(number)
        elif isinstance(value, commands.Connection.Close):
            stats.errors.append(f"publisher {number}: {value.reply_code} {value.reply_text}")
            return


async def publisher(
    number: int, host: str, port: int, queue: str, size: int, stats: Stats, live: dict[int, Raw]
) -> None:
    """Publish with confirms until cancelled; reconnects after being killed."""
    padding = b"." * max(0, size - 24)
    sequence = 0
    while True:
        try:
            raw = await Raw.open(host, port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        live[number] = raw
        raw.send(commands.Confirm.Select())
        await raw.method()
        pending: dict[int, str] = {}
        tag = 0
        acked = asyncio.Event()
        acked.set()

        reader = asyncio.ensure_future(read_confirms(number, raw, pending, acked, stats))
        try:
            while not reader.done():
                while len(pending) >= WINDOW and not reader.done():
                    acked.clear()
                    await acked.wait()
                sequence += 1
                tag += 1
                name = f"p{number}-{sequence}"
                pending[tag] = name
                raw.writer.write(publish_frames(queue, name.encode().ljust(24) + padding))
                stats.published += 1
                await raw.writer.drain()
            reader.result()
        except (ConnectionError, OSError):
            pass
        finally:
            reader.cancel()
            stats.blocked_now.discard(number)
            live.pop(number, None)
        await asyncio.sleep(random.uniform(0.1, 1.0))  # killed: back a moment later


async def consumer(
    number: int,
    host: str,
    port: int,
    queue: str,
    stats: Stats,
    live: dict[int, Raw],
    paused: asyncio.Event,
) -> None:
    """Consume with manual acks (multiple, every tenth); pauses while ``paused`` is set."""
    key = 10_000 + number
    while True:
        try:
            raw = await Raw.open(host, port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        live[key] = raw
        try:
            raw.send(commands.Basic.Qos(prefetch_count=PREFETCH))
            await raw.method()
            raw.send(commands.Basic.Consume(queue=queue, consumer_tag=f"c{number}"))
            await raw.method()
            unacked = 0
            redelivered = False
            delivery_tag = 0
            while True:
                _, value = await raw.frame()
                if isinstance(value, commands.Basic.Deliver):
                    delivery_tag, redelivered = value.delivery_tag, value.redelivered
                elif isinstance(value, pamqp_body.ContentBody):
                    name = bytes(value.value[:24]).decode().strip()
                    if stats.delivered[name] and not redelivered:
                        stats.unflagged_duplicates.append(name)
                    stats.redelivered += redelivered
                    stats.delivered[name] += 1
                    unacked += 1
                    if unacked >= 10:
                        while paused.is_set():
                            await asyncio.sleep(0.05)
                        raw.send(commands.Basic.Ack(delivery_tag=delivery_tag, multiple=True))
                        unacked = 0
                    elif not raw.buffer:
                        raw.send(commands.Basic.Ack(delivery_tag=delivery_tag, multiple=True))
                        unacked = 0
                elif isinstance(value, commands.Connection.Close):
                    stats.errors.append(f"consumer {number}: {value.reply_code} {value.reply_text}")
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            live.pop(key, None)
        await asyncio.sleep(random.uniform(0.1, 1.0))


async def idle_connections(host: str, port: int, count: int) -> list[Raw]:
    opened: list[Raw] = []
    for start in range(0, count, 100):
        batch = await asyncio.gather(
            *(Raw.open(host, port) for _ in range(min(100, count - start))), return_exceptions=True
        )
        opened += [raw for raw in batch if isinstance(raw, Raw)]
    return opened


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


async def queue_depths(host: str, port: int, queues: list[str]) -> int:
    raw = await Raw.open(host, port)
    total = 0
    for name in queues:
        raw.send(commands.Queue.Declare(queue=name, passive=True))
        total += (await raw.method()).message_count
    raw.writer.close()
    return total


async def soak(args: argparse.Namespace, host: str, port: int, pid: int) -> Stats:
    stats = Stats()
    rng = random.Random(args.seed)
    random.seed(args.seed)
    queues = [f"soak-{i}" for i in range(args.queues)]
    setup = await Raw.open(host, port)
    for name in queues:
        setup.send(commands.Queue.Declare(queue=name))
        await setup.method()
    idle = await idle_connections(host, port, args.idle)
    print(f"{len(idle)} idle connections open; server RSS {rss(pid) / 1e6:.0f} MB")
    live: dict[int, Raw] = {}
    paused = asyncio.Event()
    tasks = [
        asyncio.ensure_future(
            publisher(i, host, port, queues[i % args.queues], args.size, stats, live)
        )
        for i in range(args.publishers)
    ] + [
        asyncio.ensure_future(consumer(i, host, port, queues[i % args.queues], stats, live, paused))
        for i in range(args.consumers)
    ]
    start = time.monotonic()
    next_report = start + 5
    next_pause = start + 4
    print(f"{'t (s)':>6} {'RSS MB':>7} {'confirmed':>10} {'delivered':>10} {'blocked pubs':>12} {'alarms':>7}")
    samples: list[tuple[float, int]] = []
    while (now := time.monotonic()) - start < args.seconds:
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        if live and rng.random() < 0.7:  # kill a random client; it comes back by itself
            rng.choice(list(live.values())).kill()
            stats.kills += 1
        if now >= next_pause:  # consumers stall: a backlog builds, the alarm should trip
            paused.set() if not paused.is_set() else paused.clear()
            next_pause = now + (3.0 if paused.is_set() else 5.0)
        if now >= next_report:
            samples.append((now - start, rss(pid)))
            print(
                f"{now - start:6.0f} {rss(pid) / 1e6:7.0f} {len(stats.confirmed):10,} "
                f"{sum(stats.delivered.values()):10,} {len(stats.blocked_now):12} {stats.blocked:7}"
            )
            next_report += 5
    paused.clear()
    for task in tasks[: args.publishers]:  # publishers stop; consumers drain what is left
        task.cancel()
    drain_deadline = time.monotonic() + 60
    while time.monotonic() < drain_deadline:
        await asyncio.sleep(0.5)
        if await queue_depths(host, port, queues) == 0 and set(stats.confirmed) <= set(
            stats.delivered
        ):
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stats.elapsed = time.monotonic() - start  # type: ignore[attr-defined]
    stats.samples = samples  # type: ignore[attr-defined]
    stats.idle_alive = sum(1 for raw in idle if not raw.writer.is_closing())  # type: ignore[attr-defined]
    for raw in idle:
        raw.kill()
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--publishers", type=int, default=50)
    parser.add_argument("--consumers", type=int, default=50)
    parser.add_argument("--queues", type=int, default=10)
    parser.add_argument("--size", type=int, default=1000, help="body bytes")
    parser.add_argument("--watermark", default="8MB", help="the server's --memory-high-watermark")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server-path", default=None, help="run the server from this source tree")
    args = parser.parse_args(argv)
    logging.getLogger("asyncio").setLevel(logging.ERROR)  # writes to sockets we killed
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 1 000 idle sockets and more
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if args.server_path:
        env["PYTHONPATH"] = args.server_path
    command = [
        sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--no-management",
        "--memory-high-watermark", args.watermark,
    ]
    log_path = f"/tmp/soak-server-{os.getpid()}.log"
    with open(log_path, "w+") as log:
        server = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=args.server_path
        )
        assert server.stdout is not None
        line = server.stdout.readline()
        match = LISTENING.search(line)
        if match is None:
            print(f"amqpmodel serve did not start: {line!r}")
            return 2
        host, port = match.group(1), int(match.group(2))
        print(f"server pid {server.pid} on {host}:{port}, watermark {args.watermark}; log {log_path}")
        try:
            stats = asyncio.run(soak(args, host, port, server.pid))
        finally:
            final_rss = rss(server.pid)
            server.terminate()
            server.wait(10)
        log.seek(0)
        server_log = log.read()
    lost = stats.confirmed - set(stats.delivered)
    elapsed: float = stats.elapsed  # type: ignore[attr-defined]
    samples: list[tuple[float, int]] = stats.samples  # type: ignore[attr-defined]
    print()
    print(f"ran {elapsed:.0f} s: {stats.published:,} published, {len(stats.confirmed):,} confirmed "
          f"({len(stats.confirmed) / elapsed:,.0f}/s), {stats.nacked} nacked, "
          f"{sum(stats.delivered.values()):,} delivered ({stats.redelivered:,} redelivered)")
    print(f"clients killed and restarted: {stats.kills}; idle connections still open: "
          f"{stats.idle_alive}/{args.idle}")  # type: ignore[attr-defined]
    print(f"alarms: connection.blocked {stats.blocked}, connection.unblocked {stats.unblocked}; "
          f"server log: {server_log.count('alarm set')} alarm set, "
          f"{server_log.count('alarm cleared')} cleared, {server_log.count('Traceback')} tracebacks")
    peak = max((r for _, r in samples), default=final_rss)
    print(f"server RSS: peak {peak / 1e6:.0f} MB of the samples, at the end {final_rss / 1e6:.0f} MB")
    print(f"accounting: {len(lost)} confirmed but never delivered, "
          f"{len(stats.unflagged_duplicates)} duplicates without the redelivered flag")
    for error in stats.errors[:5]:
        print(f"  closed by the server: {error}")
    ok = not lost and not stats.unflagged_duplicates and "Traceback" not in server_log
    print("accounting holds" if ok else "ACCOUNTING FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
