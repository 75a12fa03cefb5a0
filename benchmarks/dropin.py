"""The pika drop-in against the core Channel and against real pika over a socket, in one run.

Run: python benchmarks/dropin.py [--n N] [--repeat R]

The same pika ``BlockingChannel`` workload (publish; basic_get + ack; consume
with manual acks and prefetch 100) runs on:

- ``dropin``: ``amqpmodel.pika.BlockingConnection`` (pika's own client over
  the in-process server state machine, no socket);
- ``serve()``: pika's ``BlockingConnection`` over loopback to ``serve()`` in a
  thread of this process, what a test without the drop-in does;
- ``subproc``: the same to ``amqpmodel serve`` in a subprocess (its own GIL
  and core, as an application talks to a separate broker);
- ``core``: amqpmodel's own ``Channel`` (the same method names), the ceiling;
- ``kombu``: kombu's ``memory://`` transport, and ``floor``: a dict and a
  deque (both from ``throughput.py``), for scale.

Target (issue 11): the drop-in at least 2x real pika over ``serve()`` for
every workload; the ratio to the subprocess server is shown beside it (that
server does its half of the work on another core). Only the workload is timed (connecting, declaring and
pre-loading are not), with the garbage collector disabled, after a warm-up;
the best of --repeat runs is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pika  # noqa: E402
from throughput import (  # noqa: E402
    BODY,
    best_rate,
    floor_workloads,
    fmt_rate,
    fmt_ratio,
    kombu_workloads,
    timed,
)
from wire import SERVE_COMMAND, start_subprocess_server, stop_subprocess_server  # noqa: E402

from amqpmodel import Broker  # noqa: E402
from amqpmodel import pika as dropin  # noqa: E402
from amqpmodel.server import serve  # noqa: E402

PREFETCH = 100
WORKLOADS = ("publish", "get+ack", "consume (manual ack, qos 100)")
TARGET_VS_SOCKET = 2.0

Workload = Callable[[int], float]


def pika_workloads(open_channel: Callable[[], tuple[Any, Any]]) -> dict[str, Workload]:
    """The workloads on anything with pika's BlockingChannel API; ``open_channel``
    returns (connection-or-None, channel)."""

    def setup(preload: int) -> tuple[Any, Any, str]:
        connection, channel = open_channel()
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        channel.queue_declare(queue)
        for _ in range(preload):
            channel.basic_publish("", queue, BODY)
        if preload:
            # the publishes are asynchronous: a synchronous call waits until all arrived
            channel.queue_declare(queue, passive=True)
        return connection, channel, queue

    def teardown(connection: Any, channel: Any, queue: str) -> None:
        channel.queue_delete(queue)
        if connection is not None:
            connection.close()

    def publish(n: int) -> float:
        connection, channel, queue = setup(0)
        send = channel.basic_publish

        def run() -> None:
            for _ in range(n):
                send("", queue, BODY)
            channel.queue_declare(queue, passive=True)  # all arrived

        elapsed = timed(run)
        teardown(connection, channel, queue)
        return elapsed

    def get_ack(n: int) -> float:
        connection, channel, queue = setup(n)
        get, ack = channel.basic_get, channel.basic_ack

        def run() -> None:
            for _ in range(n):
                method = get(queue)[0]
                ack(method.delivery_tag)

        elapsed = timed(run)
        teardown(connection, channel, queue)
        return elapsed

    def consume(n: int) -> float:
        connection, channel, queue = setup(n)
        channel.basic_qos(prefetch_count=PREFETCH)
        count = [0]

        def on_message(ch: Any, method: Any, properties: Any, body: bytes) -> None:
            ch.basic_ack(method.delivery_tag)
            count[0] += 1
            if count[0] == n:
                ch.stop_consuming()

        def run() -> None:
            channel.basic_consume(queue, on_message)
            channel.start_consuming()

        elapsed = timed(run)
        teardown(connection, channel, queue)
        return elapsed

    return {"publish": publish, "get+ack": get_ack, "consume (manual ack, qos 100)": consume}


def core_workloads() -> dict[str, Workload]:
    broker = Broker()

    def open_channel() -> tuple[Any, Any]:
        connection = broker.connect()
        return connection, connection.channel()

    return pika_workloads(open_channel)


def dropin_workloads() -> dict[str, Workload]:
    broker = Broker()

    def open_channel() -> tuple[Any, Any]:
        connection = dropin.BlockingConnection(broker=broker)
        return connection, connection.channel()

    return pika_workloads(open_channel)


def socket_workloads(url: str) -> dict[str, Workload]:
    def open_channel() -> tuple[Any, Any]:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        return connection, connection.channel()

    return pika_workloads(open_channel)


@contextlib.contextmanager
def subprocess_server() -> Iterator[str]:
    proc, url = start_subprocess_server(SERVE_COMMAND)
    try:
        yield url
    finally:
        stop_subprocess_server(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="messages per workload")
    parser.add_argument("--repeat", type=int, default=3, help="runs per workload; best is reported")
    args = parser.parse_args(argv)
    n = args.n
    with serve(Broker()) as in_process_url, subprocess_server() as subprocess_url:
        impls: dict[str, dict[str, Workload]] = {
            "dropin": dropin_workloads(),
            "serve()": socket_workloads(in_process_url),
            "subproc": socket_workloads(subprocess_url),
            "core": core_workloads(),
            "kombu": kombu_workloads(),
            "floor": floor_workloads(),
        }
        rates: dict[str, dict[str, float | None]] = {}
        for workload in WORKLOADS:
            rates[workload] = {}
            for impl, workloads in impls.items():
                fn = workloads.get(workload)
                rates[workload][impl] = None if fn is None else best_rate(fn, n, args.repeat)

    print(f"python {sys.version.split()[0]}, N={n:,}, best of {args.repeat}")
    print("rates in messages/second; 100-byte bodies; default exchange\n")
    header = (
        f"{'workload':<31} {'dropin':>8} {'serve()':>8} {'subproc':>8} {'core':>9} {'kombu':>8} "
        f"{'floor':>10}   {'/serve()':>8} {'target':>6} {'met':>3}   {'/subproc':>8} "
        f"{'/core':>6} {'/kombu':>6} {'/floor':>6}"
    )
    print(header)
    print("-" * len(header))
    all_met = True
    for workload in WORKLOADS:
        r = rates[workload]
        drop, sock, sub = r["dropin"], r["serve()"], r["subproc"]
        met = drop is not None and sock is not None and drop / sock >= TARGET_VS_SOCKET
        all_met &= met
        print(
            f"{workload:<31} {fmt_rate(drop):>8} {fmt_rate(sock):>8} {fmt_rate(sub):>8} "
            f"{fmt_rate(r['core']):>9} {fmt_rate(r['kombu']):>8} {fmt_rate(r['floor']):>10}   "
            f"{fmt_ratio(drop, sock):>8} {f'>={TARGET_VS_SOCKET:g}x':>6} {'yes' if met else 'NO':>3}   "
            f"{fmt_ratio(drop, sub):>8} {fmt_ratio(drop, r['core']):>6} "
            f"{fmt_ratio(drop, r['kombu']):>6} {fmt_ratio(drop, r['floor']):>6}"
        )
    print(f"\nall targets met: {'yes' if all_met else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
