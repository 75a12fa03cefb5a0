"""Consumer dispatch: publish cost with 10 vs 30 000 prefetch-full consumers on one queue.

Run: python benchmarks/dispatch.py [--many N] [--publishes P]

Each consumer (prefetch 1) holds one unacknowledged message, so none has
room; every publish then waits in the queue. A dispatcher that scans the
blocked consumers pays per consumer on every publish (issue 15 measured
1.5 ms per publish at 30 000); the target is at most 2x the cost with 10.
Also printed: the time to register the consumers (a publish before each, so
that each registration dispatches), and the cost of an ack that gives one
consumer room while the queue has messages waiting. Ratios, printed; not a
timed test.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from typing import Any

from amqpmodel import Broker, Channel

TARGET = 2.0


def setup(count: int) -> tuple[Broker, Channel, Channel, list[int], float]:
    broker = Broker()
    publisher = broker.connect().channel()
    publisher.queue_declare("q")
    consumer_channel = broker.connect().channel()
    consumer_channel.basic_qos(prefetch_count=1)
    tags: list[int] = []

    def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> None:
        tags.append(method.delivery_tag)

    start = time.perf_counter()
    for _ in range(count):
        publisher.basic_publish("", "q", b"fill")
        consumer_channel.basic_consume("q", on_message)
    registration = time.perf_counter() - start
    broker.run_until_idle()
    assert len(tags) == count
    return broker, publisher, consumer_channel, tags, registration


def publish_cost(publisher: Channel, publishes: int) -> float:
    for _ in range(10):
        publisher.basic_publish("", "q", b"warm")
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in range(publishes):
            publisher.basic_publish("", "q", b"x")
        return (time.perf_counter() - start) / publishes
    finally:
        gc.enable()


def ack_cost(consumer_channel: Channel, tags: list[int], acks: int) -> float:
    chosen = tags[len(tags) // 2 : len(tags) // 2 + acks]
    start = time.perf_counter()
    for tag in chosen:
        consumer_channel.basic_ack(tag)  # gives room: the consumer takes a waiting message
    return (time.perf_counter() - start) / len(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--few", type=int, default=10)
    parser.add_argument("--many", type=int, default=30_000)
    parser.add_argument("--publishes", type=int, default=20_000)
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}; consumers with prefetch 1, each holding a message")
    results = {}
    for count in (args.few, args.many):
        broker, publisher, consumer_channel, tags, registration = setup(count)
        publish = min(publish_cost(publisher, args.publishes) for _ in range(3))
        ack = ack_cost(consumer_channel, tags, min(1000, count))
        results[count] = (publish, ack, registration)
        broker.close()
    print(f"{'consumers':>10} {'publish':>12} {'ack (gives room)':>18} {'registering all':>16}")
    for count, (publish, ack, registration) in results.items():
        print(
            f"{count:>10,} {publish * 1e6:>9.2f} us {ack * 1e6:>15.2f} us {registration:>14.3f} s"
        )
    ratio = results[args.many][0] / results[args.few][0]
    ack_ratio = results[args.many][1] / results[args.few][1]
    per_registration = results[args.many][2] / args.many / (results[args.few][2] / args.few)
    print(
        f"publish cost {args.many:,} vs {args.few}: {ratio:.2f}x (target <= {TARGET}x): "
        f"{'met' if ratio <= TARGET else 'NOT met'}"
    )
    print(f"ack cost {args.many:,} vs {args.few}: {ack_ratio:.2f}x")
    print(f"registration cost per consumer {args.many:,} vs {args.few}: {per_registration:.2f}x")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
