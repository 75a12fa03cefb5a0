"""x-delayed-message release cost: N delayed messages released by one VirtualClock.advance.

Run: python benchmarks/delayed.py [--sizes 10000,100000,1000000] [--max-n N] [--queues Q]

For each N, a fresh Broker(clock=VirtualClock()) gets one x-delayed-message
exchange (``x-delayed-type`` direct) with Q queues (default 16) bound by
their names, and N 100-byte messages published round-robin to those keys,
each with an ``x-delay`` header drawn (fixed seed) from 1 000 values between
1 ms and 60 s, so they fall due at many different instants and in an order
unlike their publish order (spec 13.9). Then one ``clock.advance(61)``
releases everything; that call is timed (gc disabled) and checked: every
message must be ready in its queue, with nothing left held. The publish
time is shown for reference. The best of --repeat runs is reported.

The floor column does the memory traffic of a release without a broker:
N small objects taken from 1 000 due-ordered buckets and appended, each
with a new headers dict, to Q deques. Its own per-message time grows with
N as the working set falls out of the CPU caches, which bounds how flat any
implementation's curve can be.

Target: time per released message stays within 2x from 10 000 to 1 000 000.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import random
import sys
import time
from collections import deque

from amqpmodel import BasicProperties, Broker, VirtualClock

BODY = b"x" * 100
MAX_DELAY_MS = 60_000
TARGET_SPREAD = 2.0


class FloorMessage:
    __slots__ = ("body", "headers")

    def __init__(self, body: bytes, headers: dict[str, int]) -> None:
        self.body = body
        self.headers = headers


def run_floor(n: int, queues: int, seed: int) -> float:
    rng = random.Random(seed)
    delays = [rng.randint(1, MAX_DELAY_MS) for _ in range(1000)]
    buckets: dict[int, list[tuple[FloorMessage, int]]] = {}
    for i in range(n):
        delay = rng.choice(delays)
        buckets.setdefault(delay, []).append((FloorMessage(BODY, {"x-delay": delay}), i % queues))
    due = list(buckets)
    heapq.heapify(due)
    deques: list[deque[FloorMessage]] = [deque() for _ in range(queues)]
    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    while due:
        for message, queue in buckets.pop(heapq.heappop(due)):
            deques[queue].append(
                FloorMessage(message.body, {"x-delay": -message.headers["x-delay"]})
            )
    elapsed = time.perf_counter() - t0
    gc.enable()
    assert sum(len(d) for d in deques) == n
    return elapsed / n * 1e6


def run_size(n: int, queues: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    clock = VirtualClock()
    broker = Broker(clock=clock)
    ch = broker.connect().channel()
    ch.exchange_declare("delayed", "x-delayed-message", arguments={"x-delayed-type": "direct"})
    names = [f"delayed-{i}" for i in range(queues)]
    for name in names:
        ch.queue_declare(name)
        ch.queue_bind(name, "delayed", name)
    pool = [BasicProperties(headers={"x-delay": rng.randint(1, MAX_DELAY_MS)}) for _ in range(1000)]
    props = [rng.choice(pool) for _ in range(n)]
    publish = ch.basic_publish

    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    for i in range(n):
        publish("delayed", names[i % queues], BODY, props[i])
    publish_seconds = time.perf_counter() - t0
    gc.enable()
    assert broker.exchanges["delayed"].messages_delayed == n
    del props

    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    clock.advance(MAX_DELAY_MS / 1000 + 1)
    release_seconds = time.perf_counter() - t0
    gc.enable()

    ready = sum(broker.queues[name].messages_ready for name in names)
    held = broker.exchanges["delayed"].messages_delayed
    assert ready == n and held == 0, (ready, held)
    ch.connection.close()
    return {
        "n": n,
        "release_s": release_seconds,
        "release_us": release_seconds / n * 1e6,
        "publish_us": publish_seconds / n * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated N values")
    parser.add_argument("--max-n", type=int, default=None, help="skip sizes above this")
    parser.add_argument("--queues", type=int, default=16)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; best is reported")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.max_n is not None:
        sizes = [s for s in sizes if s <= args.max_n]
    if not sizes:
        parser.error("no size left under --max-n")

    run_size(1000, args.queues, args.seed)  # warm-up
    print(
        f"python {sys.version.split()[0]}, {args.queues} queues, x-delay 1..{MAX_DELAY_MS} ms "
        f"(1000 distinct values), seed {args.seed}\n"
    )
    header = (
        f"{'N':>10} {'advance total':>14} {'us/msg release':>15} {'us/msg publish':>15} "
        f"{'floor us/msg':>13} {'vs floor':>9}"
    )
    print(header)
    print("-" * len(header))
    results = []
    for n in sizes:
        runs = []
        for _ in range(args.repeat):
            runs.append(run_size(n, args.queues, args.seed))
            gc.collect()
        r = min(runs, key=lambda run: run["release_s"])
        r["floor_us"] = min(run_floor(n, args.queues, args.seed) for _ in range(args.repeat))
        results.append(r)
        print(
            f"{n:>10,} {r['release_s']:>13.3f}s {r['release_us']:>15.3f} {r['publish_us']:>15.3f} "
            f"{r['floor_us']:>13.3f} {r['release_us'] / r['floor_us']:>8.1f}x"
        )
        gc.collect()
    per_msg = [r["release_us"] for r in results]
    spread = max(per_msg) / min(per_msg)
    floor = [r["floor_us"] for r in results]
    met = spread <= TARGET_SPREAD
    print(
        f"\nper-message release time spread (max/min) across sizes: {spread:.2f}x "
        f"(target <= {TARGET_SPREAD:g}x): {'met' if met else 'NOT met'}"
    )
    print(f"floor spread across the same sizes: {max(floor) / min(floor):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
