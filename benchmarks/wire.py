"""Over the wire: the same pika BlockingConnection workload against `amqpmodel serve` and RabbitMQ.

Run: python benchmarks/wire.py [--n N] [--rabbitmq-url URL] [--repeat R]
                               [--in-process-server] [--startup-runs K]
                               [--subprocess-startup-runs K] [--profile-server FILE]
                               [--hostile | --hostile-only] [--server-path DIR]
                               [--wire-blast PATH] [--blast-n N]

amqpmodel's server runs as a separate process (``python -m amqpmodel serve
--port 0 --quiet``) so that client and server do not share a GIL;
``--in-process-server`` uses ``amqpmodel.server.serve()`` in a thread of this
process instead. With ``--rabbitmq-url`` the same workloads run against that
broker too, and the table shows the ratio amqpmodel / RabbitMQ.

Every workload uses a fresh connection, channel and uniquely named queue
(deleted afterwards); only the workload itself is timed (connecting, declaring
and pre-loading are not), with the client's garbage collector disabled, after
a small warm-up run. The best of --repeat runs is reported.

It also measures start-up: from ``serve(Broker())`` to a connected pika
channel (median of --startup-runs, target < 50 ms), and from starting the
``amqpmodel serve`` subprocess to a connected channel.

``--hostile`` adds the rows of issue 15 (``_hostile.py``), each against a
fresh subprocess server: publish cost with 30 000 prefetch-full consumers
against 10 (target <= 2x), a confirmed publisher's rate beside a pipelining
client against alone (>= 0.5), memory for 50 MB into a 40-way fanout whose
consumers stall (<= 2x the bodies), and ``wire_blast.py``'s ingest and
end-to-end rates with 4 connections. ``--server-path DIR`` runs the server
subprocess from another source tree (to compare a change with what it replaces).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator

import pika
from pika.adapters.blocking_connection import BlockingChannel

BODY = b"x" * 100
PREFETCH = 100
WARMUP_N = 500
STARTUP_TARGET_S = 0.050
RATIO_TARGET = 1.0
SERVE_COMMAND = [
    sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--quiet", "--no-management"
]
SERVER_PATH: list[str] = []  # --server-path: the source tree the server subprocess runs
LISTENING = re.compile(r"amqpmodel listening on amqp://([^:/\s]+):(\d+)")

CpuProbe = Callable[[], float]  # the server process's CPU seconds so far
Timing = tuple[float, float | None]  # (elapsed seconds, server CPU seconds) of the timed region
Workload = Callable[[str, int, CpuProbe | None], Timing]


class BenchmarkError(RuntimeError):
    """A workload did not do what it should have (a lost message, a wrong count)."""


def timed(fn: Callable[[], object], probe: CpuProbe | None = None) -> Timing:
    gc.collect()
    gc.disable()
    try:
        cpu = probe() if probe is not None else 0.0
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        return elapsed, (probe() - cpu if probe is not None else None)
    finally:
        gc.enable()


def process_cpu_probe(pid: int) -> CpuProbe | None:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``; None elsewhere)."""
    path = f"/proc/{pid}/stat"
    if not os.path.exists(path):
        return None
    ticks = os.sysconf("SC_CLK_TCK")

    def probe() -> float:
        with open(path) as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime

    return probe


# --------------------------------------------------------------------------- servers


def url_for(host: str, port: int) -> str:
    return f"amqp://guest:guest@{host}:{port}/%2F"


def start_subprocess_server(
    command: list[str], timeout: float = 30.0
) -> tuple[subprocess.Popen[str], str]:
    """Start ``amqpmodel serve``; return the process and its URL (read from its first line)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if SERVER_PATH:
        env["PYTHONPATH"] = SERVER_PATH[0]
    # python -m puts the working directory first on sys.path: run from the tree itself
    cwd = SERVER_PATH[0] if SERVER_PATH else None
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=cwd)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the server listens (or dies)
    match = LISTENING.search(line)
    if match is None:
        stop_subprocess_server(proc)
        raise BenchmarkError(f"amqpmodel serve did not start: first line {line!r}")
    return proc, url_for(match.group(1), int(match.group(2)))


def stop_subprocess_server(proc: subprocess.Popen[str]) -> None:
    # SIGINT lets the server (and cProfile, when it wraps it) shut down cleanly
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


@contextlib.contextmanager
def amqpmodel_server(
    in_process: bool, profile: str | None
) -> Iterator[tuple[str, str, CpuProbe | None]]:
    """Yield (url, description, CPU probe of the server process or None) of a running server."""
    if in_process:
        from amqpmodel import Broker
        from amqpmodel.server import serve

        with serve(Broker()) as url:
            yield url, "in process (amqpmodel.server.serve in a thread; shares the GIL)", None
        return
    command = list(SERVE_COMMAND)
    if profile:
        command[1:1] = ["-m", "cProfile", "-o", profile]
    proc, url = start_subprocess_server(command)
    try:
        yield (
            url,
            f"subprocess pid {proc.pid}: {' '.join(command[1:])}",
            process_cpu_probe(proc.pid),
        )
    finally:
        stop_subprocess_server(proc)


# --------------------------------------------------------------------------- workloads


@contextlib.contextmanager
def bench_channel(url: str) -> Iterator[tuple[BlockingChannel, str]]:
    """A connected channel and a fresh, uniquely named queue, deleted afterwards."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        queue = f"wire-bench-{uuid.uuid4().hex[:12]}"
        channel.queue_declare(queue)
        try:
            yield channel, queue
        finally:
            if channel.is_open:
                channel.queue_delete(queue)
            elif connection.is_open:
                connection.channel().queue_delete(queue)
    finally:
        if connection.is_open:
            connection.close()


def message_count(channel: BlockingChannel, queue: str) -> int:
    count: int = channel.queue_declare(queue, passive=True).method.message_count
    return count


def wait_for_count(
    channel: BlockingChannel, queue: str, expected: int, what: str, timeout: float = 30.0
) -> int:
    """Passive queue_declare round trips until the queue holds ``expected`` ready messages.

    One round trip suffices for amqpmodel (a channel's methods are processed in
    order). RabbitMQ's channel hands messages to the queue process
    asynchronously, so its count can lag the declare-ok by a few round trips.
    Returns the number of round trips.
    """
    deadline = time.perf_counter() + timeout
    trips = 0
    while True:
        count = message_count(channel, queue)
        trips += 1
        if count == expected:
            return trips
        if time.perf_counter() > deadline:
            raise BenchmarkError(f"{what}: queue holds {count} messages, expected {expected}")


def expect_acks_settled(channel: BlockingChannel, queue: str, what: str) -> None:
    """Close the channel (unacked messages would be requeued) and check the queue stays empty."""
    connection = channel.connection
    channel.close()
    fresh = connection.channel()
    count = message_count(fresh, queue)
    fresh.close()
    if count:
        raise BenchmarkError(f"{what}: {count} messages were requeued (their acks were lost)")


def preload(channel: BlockingChannel, queue: str, n: int) -> None:
    publish = channel.basic_publish
    for _ in range(n):
        publish("", queue, BODY)
    wait_for_count(channel, queue, n, "preload")


def publish(url: str, n: int, probe: CpuProbe | None) -> Timing:
    with bench_channel(url) as (channel, queue):
        basic_publish = channel.basic_publish

        def run() -> None:
            for _ in range(n):
                basic_publish("", queue, BODY)
            # a passive declare is a round trip after every publish: the count says all arrived
            wait_for_count(channel, queue, n, "publish")

        return timed(run, probe)


def publish_confirms(url: str, n: int, probe: CpuProbe | None) -> Timing:
    with bench_channel(url) as (channel, queue):
        channel.confirm_delivery()
        basic_publish = channel.basic_publish

        def run() -> None:
            # with confirms on, each BlockingChannel.basic_publish waits for its ack
            for _ in range(n):
                basic_publish("", queue, BODY)

        elapsed = timed(run, probe)
        wait_for_count(channel, queue, n, "publish with confirms")
        return elapsed


def consume(url: str, n: int, probe: CpuProbe | None) -> Timing:
    with bench_channel(url) as (channel, queue):
        preload(channel, queue, n)
        channel.basic_qos(prefetch_count=PREFETCH)
        received = 0

        def on_message(
            ch: BlockingChannel,
            method: pika.spec.Basic.Deliver,
            properties: pika.BasicProperties,
            body: bytes,
        ) -> None:
            nonlocal received
            ch.basic_ack(method.delivery_tag)
            received += 1
            if received == n:
                ch.stop_consuming()

        def run() -> None:
            channel.basic_consume(queue, on_message)
            channel.start_consuming()

        elapsed = timed(run, probe)
        if received != n:
            raise BenchmarkError(f"consume: received {received}, expected {n}")
        wait_for_count(channel, queue, 0, "consume")
        expect_acks_settled(channel, queue, "consume")
        return elapsed


def get_ack(url: str, n: int, probe: CpuProbe | None) -> Timing:
    with bench_channel(url) as (channel, queue):
        preload(channel, queue, n)
        basic_get, basic_ack = channel.basic_get, channel.basic_ack
        missing = 0

        def run() -> None:
            nonlocal missing
            for _ in range(n):
                method, _properties, _body = basic_get(queue)
                if method is None:
                    missing += 1
                else:
                    basic_ack(method.delivery_tag)
            channel.queue_declare(queue, passive=True)  # the acks have been processed

        elapsed = timed(run, probe)
        if missing:
            raise BenchmarkError(f"get+ack: {missing} of {n} basic_get calls found the queue empty")
        wait_for_count(channel, queue, 0, "get+ack")
        expect_acks_settled(channel, queue, "get+ack")
        return elapsed


# workload -> (function, share of N it moves)
WORKLOADS: dict[str, tuple[Workload, float]] = {
    "publish (no confirms)": (publish, 1.0),
    "publish (confirms)": (publish_confirms, 1.0),
    "consume (manual ack, qos 100)": (consume, 1.0),
    "basic_get + ack (N/10)": (get_ack, 0.1),
}


def best_rates(
    fn: Workload, urls: dict[str, str], n: int, repeat: int, probe: CpuProbe | None
) -> tuple[dict[str, float], float | None]:
    """Best msg/s per broker, and amqpmodel's least server CPU seconds per message.

    The brokers take turns so that a burst of load on the machine hits both alike.
    """
    for url in urls.values():
        fn(url, min(n, WARMUP_N), None)
    best = dict.fromkeys(urls, 0.0)
    cpu: float | None = None
    for _ in range(repeat):
        for broker, url in urls.items():
            elapsed, server_cpu = fn(url, n, probe if broker == "amqpmodel" else None)
            best[broker] = max(best[broker], n / elapsed)
            if server_cpu is not None:
                cpu = server_cpu / n if cpu is None else min(cpu, server_cpu / n)
    return best, cpu


# --------------------------------------------------------------------------- start-up


def connect_channel(url: str) -> pika.BlockingConnection:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    connection.channel()
    return connection


def in_process_startup(runs: int) -> list[float]:
    """Seconds from ``serve(Broker())`` to a connected pika channel (teardown not timed)."""
    from amqpmodel import Broker
    from amqpmodel.server import serve

    times = []
    for _ in range(runs):
        start = time.perf_counter()
        with serve(Broker()) as url:
            connection = connect_channel(url)
            times.append(time.perf_counter() - start)
            connection.close()
    return times


def subprocess_startup(runs: int) -> list[float]:
    """Seconds from starting ``amqpmodel serve`` to a connected pika channel."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc, url = start_subprocess_server(list(SERVE_COMMAND))
        try:
            connection = connect_channel(url)
            times.append(time.perf_counter() - start)
            connection.close()
        finally:
            stop_subprocess_server(proc)
    return times


# --------------------------------------------------------------------------- report


def fmt_rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:,.0f}".replace(",", " ")


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def run_all(
    urls: dict[str, str], n: int, repeat: int, probe: CpuProbe | None
) -> dict[str, tuple[dict[str, float], float | None]]:
    """workload -> (broker -> best msg/s, amqpmodel server CPU seconds per message)."""
    return {
        name: best_rates(fn, urls, max(1, int(n * share)), repeat, probe)
        for name, (fn, share) in WORKLOADS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="messages per workload")
    parser.add_argument("--repeat", type=int, default=1, help="runs per workload; best is reported")
    parser.add_argument(
        "--rabbitmq-url",
        default=None,
        help="also run against this broker, e.g. amqp://guest:guest@127.0.0.1:5673/%%2F",
    )
    parser.add_argument(
        "--in-process-server",
        action="store_true",
        help="run amqpmodel's server in a thread of this process (shares the GIL with pika)",
    )
    parser.add_argument(
        "--startup-runs", type=int, default=20, help="runs of the serve() start-up measurement"
    )
    parser.add_argument(
        "--subprocess-startup-runs",
        type=int,
        default=5,
        help="runs of the `amqpmodel serve` subprocess start-up measurement (0 skips it)",
    )
    parser.add_argument(
        "--profile-server",
        metavar="FILE",
        default=None,
        help="run the amqpmodel server subprocess under cProfile, writing its stats to FILE",
    )
    parser.add_argument("--hostile", action="store_true", help="also run issue 15's rows")
    parser.add_argument("--hostile-only", action="store_true", help="run issue 15's rows only")
    parser.add_argument("--server-path", default=None, help="run the server from this tree")
    parser.add_argument(
        "--wire-blast",
        default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "tools", "wire_blast.py"),
        help="../shared/tools/wire_blast.py, for the ingest rows",
    )
    parser.add_argument("--blast-n", type=int, default=50_000, help="wire_blast's --n")
    args = parser.parse_args(argv)
    n = args.n
    if args.server_path:
        SERVER_PATH.append(args.server_path)
    if args.hostile or args.hostile_only:
        from _hostile import report

        met = report(
            lambda: start_subprocess_server(SERVE_COMMAND),
            stop_subprocess_server,
            blast_tool=args.wire_blast,
            blast_n=args.blast_n,
            rabbitmq_url=args.rabbitmq_url,
        )
        print(f"hostile-load targets met: {'yes' if met else 'NO'}\n")
        if args.hostile_only:
            return 0

    with amqpmodel_server(args.in_process_server, args.profile_server) as (url, where, probe):
        urls = {"amqpmodel": url}
        if args.rabbitmq_url:
            urls["RabbitMQ"] = args.rabbitmq_url
        results = run_all(urls, n, args.repeat, probe)

    startup = in_process_startup(args.startup_runs) if args.startup_runs > 0 else []
    sub_startup = (
        subprocess_startup(args.subprocess_startup_runs) if args.subprocess_startup_runs > 0 else []
    )

    print(
        f"python {sys.version.split()[0]}, pika {pika.__version__}, N={n:,}, "
        f"100-byte bodies, best of {args.repeat}"
    )
    print(f"amqpmodel server: {where}")
    print(f"RabbitMQ: {args.rabbitmq_url or '(not given: --rabbitmq-url URL)'}")
    print("rates in messages/second (pika BlockingConnection, one channel, default exchange)\n")
    header = (
        f"{'workload':<31} {'amqpmodel':>10} {'RabbitMQ':>10} {'amq/rmq':>8} {'target':>7} "
        f"{'met':>3}   {'amq server CPU':>14}"
    )
    print(header)
    print("-" * len(header))
    all_met = True
    for name in WORKLOADS:
        rates, cpu = results[name]
        a = rates["amqpmodel"]
        r = rates.get("RabbitMQ")
        if r is None:
            ratio, met = "-", "-"
        else:
            ratio = f"{math.floor(a / r * 100) / 100:.2f}x"  # floored: 0.999x is not 1.00x
            met = "yes" if a / r >= RATIO_TARGET else "NO"
            all_met &= met == "yes"
        print(
            f"{name:<31} {fmt_rate(a):>10} {fmt_rate(r):>10} {ratio:>8} "
            f"{f'>={RATIO_TARGET:g}x':>7} {met:>3}   "
            f"{'-' if cpu is None else f'{cpu * 1e6:.1f} us/msg':>14}"
        )
    print()
    if startup:
        median = statistics.median(startup)
        met = "yes" if median < STARTUP_TARGET_S else "NO"
        all_met &= met == "yes"
        print(
            f"serve(Broker()) -> connected channel: median {fmt_ms(median)} of {len(startup)} "
            f"(min {fmt_ms(min(startup))}, max {fmt_ms(max(startup))}); "
            f"target < {fmt_ms(STARTUP_TARGET_S)}: {met}"
        )
    if sub_startup:
        print(
            f"`amqpmodel serve` subprocess -> connected channel: median "
            f"{fmt_ms(statistics.median(sub_startup))} of {len(sub_startup)} "
            f"(min {fmt_ms(min(sub_startup))}, max {fmt_ms(max(sub_startup))}); no target"
        )
    if args.rabbitmq_url:
        print(f"\nall targets met: {'yes' if all_met else 'NO'}")
    if args.profile_server:
        print(f"server profile written to {args.profile_server} (python -m pstats FILE)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
