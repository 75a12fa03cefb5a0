"""Topic routing cost per message as the number of bindings grows (10, 1 000, 100 000).

Run: python benchmarks/topic_routing.py [--n N] [--queues Q] [--seed S] [--sizes 10,1000,100000]

One topic exchange, Q queues (default 100). Each binding key has 2-5 words:
mostly literal words from a 1 000-word vocabulary, with some ``*`` and ``#``
(at least two literal words, so no binding matches nearly everything;
--star-p and --hash-p set the wildcard shares, default 15% and 7% per word). Each
binding goes to a random queue.

Routing keys (fixed seed) are half purely random 3-5 word keys and half
derived from a random binding (``*`` -> a word, ``#`` -> 0-2 words), so
every size routes some messages somewhere. Messages are published with
``basic_publish`` in rounds of --round keys; the queues are purged between
rounds (untimed) so memory stays flat and we measure routing, not queue growth.
The table shows how many queues a message reached on average and how many of
the keys were distinct (the exchange caches matches per routing key).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time

from amqpmodel import Broker

VOCABULARY_SIZE = 1000
TARGET_RATIO = 3.0


def make_binding_key(
    rng: random.Random, vocabulary: list[str], star_p: float = 0.15, hash_p: float = 0.07
) -> str:
    while True:
        words = []
        for _ in range(rng.randint(2, 5)):
            r = rng.random()
            words.append(
                "*" if r < star_p else "#" if r < star_p + hash_p else rng.choice(vocabulary)
            )
        if sum(w not in ("*", "#") for w in words) >= 2:
            return ".".join(words)


def derive_routing_key(rng: random.Random, binding_key: str, vocabulary: list[str]) -> str:
    words: list[str] = []
    for word in binding_key.split("."):
        if word == "*":
            words.append(rng.choice(vocabulary))
        elif word == "#":
            words.extend(rng.choice(vocabulary) for _ in range(rng.randint(0, 2)))
        else:
            words.append(word)
    return ".".join(words)


def random_routing_key(rng: random.Random, vocabulary: list[str]) -> str:
    return ".".join(rng.choice(vocabulary) for _ in range(rng.randint(3, 5)))


def run_size(
    bindings: int,
    n: int,
    queues: int,
    round_size: int,
    seed: int,
    star_p: float,
    hash_p: float,
    derived: float,
) -> dict[str, float]:
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(VOCABULARY_SIZE)]
    broker = Broker()
    ch = broker.connect().channel()
    ch.exchange_declare("bench.topic", "topic")
    queue_names = [f"q{i}" for i in range(queues)]
    for name in queue_names:
        ch.queue_declare(name)
    binding_keys = [make_binding_key(rng, vocabulary, star_p, hash_p) for _ in range(bindings)]
    setup_start = time.perf_counter()
    for key in binding_keys:
        ch.queue_bind(rng.choice(queue_names), "bench.topic", key)
    bind_seconds = time.perf_counter() - setup_start

    keys = [
        derive_routing_key(rng, rng.choice(binding_keys), vocabulary)
        if rng.random() < derived
        else random_routing_key(rng, vocabulary)
        for _ in range(n)
    ]
    publish = ch.basic_publish
    body = b"x" * 100

    def purge() -> int:
        routed = 0
        for name in queue_names:
            routed += ch.queue_purge(name).message_count
        return routed

    # warm-up on keys of their own, so the timed keys are not already in the match cache
    for key in [random_routing_key(rng, vocabulary) for _ in range(min(n, 2000))]:
        publish("bench.topic", key, body)
    purge()

    elapsed = 0.0
    routed = 0
    for start in range(0, n, round_size):
        chunk = keys[start : start + round_size]
        gc.collect()
        gc.disable()
        t0 = time.perf_counter()
        for key in chunk:
            publish("bench.topic", key, body)
        elapsed += time.perf_counter() - t0
        gc.enable()
        routed += purge()
    return {
        "bindings": bindings,
        "us_per_msg": elapsed / n * 1e6,
        "matched": routed / n,
        "distinct": len(set(keys)) / n,
        "bind_us": bind_seconds / bindings * 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="messages published per size")
    parser.add_argument("--queues", type=int, default=100)
    parser.add_argument("--round", type=int, default=10_000, help="messages between purges")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--star-p", type=float, default=0.15, help="chance a binding word is *")
    parser.add_argument("--hash-p", type=float, default=0.07, help="chance a binding word is #")
    parser.add_argument(
        "--derived", type=float, default=0.5, help="share of routing keys derived from a binding"
    )
    parser.add_argument("--sizes", default="10,1000,100000", help="comma-separated binding counts")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    print(
        f"python {sys.version.split()[0]}, N={args.n:,} per size, {args.queues} queues, "
        f"seed {args.seed}; binding words: {args.star_p:.0%} '*', {args.hash_p:.0%} '#', "
        f"rest literal; {args.derived:.0%} of routing keys derived from a binding\n"
    )
    header = f"{'bindings':>9} {'us/msg':>8} {'msg/s':>11} {'queues hit/msg':>15} {'distinct keys':>14} {'us/bind':>8}"
    print(header)
    print("-" * len(header))
    results = []
    for size in sizes:
        r = run_size(
            size, args.n, args.queues, args.round, args.seed, args.star_p, args.hash_p, args.derived
        )
        results.append(r)
        print(
            f"{size:>9,} {r['us_per_msg']:>8.2f} {1e6 / r['us_per_msg']:>11,.0f} "
            f"{r['matched']:>15.2f} {r['distinct']:>13.0%} {r['bind_us']:>8.2f}"
        )
    ratio = results[-1]["us_per_msg"] / results[0]["us_per_msg"]
    met = ratio <= TARGET_RATIO
    print(
        f"\ncost ratio {sizes[-1]:,} / {sizes[0]:,} bindings: {ratio:.2f}x "
        f"(target <= {TARGET_RATIO:g}x): {'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
