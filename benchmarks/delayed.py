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

import gc
import heapq
import random
import time
from collections import deque

import _scaling

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
    return {"n": n, "advance_s": release_seconds, "publish_us": publish_seconds / n * 1e6}


def main(argv: list[str] | None = None) -> int:
    return _scaling.main(
        __doc__.splitlines()[0], "release", f"x-delay 1..{MAX_DELAY_MS} ms", run_size, run_floor, TARGET_SPREAD, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
