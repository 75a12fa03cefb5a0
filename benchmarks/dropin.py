"""The pika drop-in against the core Channel and against real pika over a socket, in one run.

Run: python benchmarks/dropin.py [--n N] [--repeat R] [--in-process-server]

The same pika ``BlockingChannel`` workload (publish; basic_get + ack; consume
with manual acks and prefetch 100) runs on:

- ``dropin``: ``amqpmodel.pika.BlockingConnection`` (pika's own client over
  the in-process server state machine, no socket);
- ``pika+socket``: pika's ``BlockingConnection`` to ``amqpmodel serve`` in a
  subprocess (its own GIL, as an application talks to a broker), or with
  ``--in-process-server`` to ``serve()`` in a thread of this process;
- ``core``: amqpmodel's own ``Channel`` (the same method names), the ceiling;
- ``kombu``: kombu's ``memory://`` transport, and ``floor``: a dict and a
  deque (both from ``throughput.py``), for scale.

Target (issue 11): the drop-in at least 2x real pika over the socket for
every workload. Only the workload is timed (connecting, declaring and
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
def socket_server(in_process: bool) -> Iterator[str]:
    if in_process:
        with serve(Broker()) as url:
            yield url
        return
    proc, url = start_subprocess_server(SERVE_COMMAND)
    try:
        yield url
    finally:
        stop_subprocess_server(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="messages per workload")
    parser.add_argument("--repeat", type=int, default=3, help="runs per workload; best is reported")
    parser.add_argument(
        "--in-process-server", action="store_true", help="serve() in a thread, not a subprocess"
    )
    args = parser.parse_args(argv)
    n = args.n
    with socket_server(args.in_process_server) as url:
        impls: dict[str, dict[str, Workload]] = {
            "dropin": dropin_workloads(),
            "pika+socket": socket_workloads(url),
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

    where = "serve() in this process" if args.in_process_server else "amqpmodel serve, subprocess"
    print(f"python {sys.version.split()[0]}, N={n:,}, best of {args.repeat}; socket: {where}")
    print("rates in messages/second; 100-byte bodies; default exchange\n")
    header = (
        f"{'workload':<31} {'dropin':>9} {'pika+socket':>11} {'core':>9} {'kombu':>9} "
        f"{'floor':>10}   {'drop/sock':>9} {'target':>6} {'met':>3}   {'drop/core':>9} "
        f"{'drop/kombu':>10} {'drop/floor':>10}"
    )
    print(header)
    print("-" * len(header))
    all_met = True
    for workload in WORKLOADS:
        r = rates[workload]
        drop, sock = r["dropin"], r["pika+socket"]
        met = drop is not None and sock is not None and drop / sock >= TARGET_VS_SOCKET
        all_met &= met
        print(
            f"{workload:<31} {fmt_rate(drop):>9} {fmt_rate(sock):>11} {fmt_rate(r['core']):>9} "
            f"{fmt_rate(r['kombu']):>9} {fmt_rate(r['floor']):>10}   {fmt_ratio(drop, sock):>9} "
            f"{f'>={TARGET_VS_SOCKET:g}x':>6} {'yes' if met else 'NO':>3}   "
            f"{fmt_ratio(drop, r['core']):>9} {fmt_ratio(drop, r['kombu']):>10} "
            f"{fmt_ratio(drop, r['floor']):>10}"
        )
    print(f"\nall targets met: {'yes' if all_met else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
