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

import gc
import random
import time
from collections import deque

import _scaling

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
    return {"n": n, "advance_s": expire_seconds, "publish_us": publish_seconds / n * 1e6}


def main(argv: list[str] | None = None) -> int:
    return _scaling.main(
        __doc__.splitlines()[0], "expiry", f"expiration 1..{MAX_TTL_MS} ms", run_size, run_floor, TARGET_SPREAD, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
