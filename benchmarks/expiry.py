"""Per-message TTL expiry cost: N messages expiring through one VirtualClock.advance.

Run: python benchmarks/expiry.py [--sizes 10000,100000,1000000] [--max-n N] [--queues Q]

For each N, a fresh Broker(clock=VirtualClock()) gets Q queues (default 16)
and N 100-byte messages published round-robin to them through the default
exchange, each with an ``expiration`` property drawn (fixed seed) from 1 000
values between 1 ms and 60 s, so heads expire at many different instants and
short-lived messages wait behind long-lived ones (spec 3.3: expiry happens
at the head). Then one ``clock.advance(61)`` settles everything; that call is
timed (gc disabled) and checked: every message must be counted as dropped
"expired". The publish time is shown for reference. The best of --repeat
runs is reported.

The floor column pops and drops the same number of small entries (a body
reference and a deadline each) from Q deques: no broker, only the memory
traffic of releasing N objects. Its own per-message time grows with N as the
working set falls out of the CPU caches, which bounds how flat any
implementation's curve can be.

Target: time per expired message stays within 2x across sizes.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections import deque

from amqpmodel import BasicProperties, Broker, VirtualClock

BODY = b"x" * 100
MAX_TTL_MS = 60_000
TARGET_SPREAD = 2.0


class FloorEntry:
    __slots__ = ("body", "deadline")

    def __init__(self, body: bytes, deadline: float) -> None:
        self.body = body
        self.deadline = deadline


def run_floor(n: int, queues: int, seed: int) -> float:
    rng = random.Random(seed)
    deques: list[deque[FloorEntry]] = [deque() for _ in range(queues)]
    for i in range(n):
        deques[i % queues].append(FloorEntry(BODY, rng.randint(1, MAX_TTL_MS) / 1000))
    now = MAX_TTL_MS / 1000 + 1
    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    for queue in deques:
        popleft = queue.popleft
        while queue and queue[0].deadline <= now:
            popleft()
    elapsed = time.perf_counter() - t0
    gc.enable()
    assert not any(deques)
    return elapsed / n * 1e6


def run_size(n: int, queues: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    clock = VirtualClock()
    broker = Broker(clock=clock)
    ch = broker.connect().channel()
    names = [f"ttl-{i}" for i in range(queues)]
    for name in names:
        ch.queue_declare(name)
    pool = [BasicProperties(expiration=str(rng.randint(1, MAX_TTL_MS))) for _ in range(1000)]
    props = [rng.choice(pool) for _ in range(n)]
    publish = ch.basic_publish

    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    for i in range(n):
        publish("", names[i % queues], BODY, props[i])
    publish_seconds = time.perf_counter() - t0
    gc.enable()
    assert sum(broker.queues[name].messages_ready for name in names) == n
    del props

    gc.collect()
    gc.disable()
    t0 = time.perf_counter()
    clock.advance(MAX_TTL_MS / 1000 + 1)
    expire_seconds = time.perf_counter() - t0
    gc.enable()

    expired = sum(broker.queues[name].stats.dropped["expired"] for name in names)
    left = sum(broker.queues[name].messages for name in names)
    assert expired == n and left == 0, (expired, left)
    ch.connection.close()
    return {
        "n": n,
        "expire_s": expire_seconds,
        "expire_us": expire_seconds / n * 1e6,
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
        f"python {sys.version.split()[0]}, {args.queues} queues, expiration 1..{MAX_TTL_MS} ms "
        f"(1000 distinct values), seed {args.seed}\n"
    )
    header = (
        f"{'N':>10} {'advance total':>14} {'us/msg expiry':>14} {'us/msg publish':>15} "
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
        r = min(runs, key=lambda run: run["expire_s"])
        r["floor_us"] = min(run_floor(n, args.queues, args.seed) for _ in range(args.repeat))
        results.append(r)
        print(
            f"{n:>10,} {r['expire_s']:>13.3f}s {r['expire_us']:>14.3f} {r['publish_us']:>15.3f} "
            f"{r['floor_us']:>13.3f} {r['expire_us'] / r['floor_us']:>8.1f}x"
        )
        gc.collect()
    per_msg = [r["expire_us"] for r in results]
    spread = max(per_msg) / min(per_msg)
    floor = [r["floor_us"] for r in results]
    met = spread <= TARGET_SPREAD
    print(
        f"\nper-message expiry time spread (max/min) across sizes: {spread:.2f}x "
        f"(target <= {TARGET_SPREAD:g}x): {'met' if met else 'NOT met'}"
    )
    print(f"floor spread across the same sizes: {max(floor) / min(floor):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
