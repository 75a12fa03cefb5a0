"""Memory per queued 100-byte message, without TTL and with x-message-ttl.

Run: python benchmarks/memory.py [--n N]

Each measurement runs in a fresh child process: a Broker on a VirtualClock
(so nothing expires), one queue, N messages published through the default
exchange, each with its own 100-byte body created inside the measured region.

- tracemalloc: Python-allocated bytes still live after publishing, per message.
- RSS: growth of the resident set (/proc/self/statm; ru_maxrss where there is
  no /proc), per message, measured without tracemalloc running.

"overhead" is bytes per message minus the 100 body bytes (the target, <= 350).
A 100-byte ``bytes`` object itself takes sys.getsizeof == 133 bytes, so
33 of the overhead are the body's own object header; the last column shows
the overhead beyond the whole bytes object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys

BODY_SIZE = 100
TARGET_OVERHEAD = 350
CASES = {
    "no TTL": None,
    "x-message-ttl": {"x-message-ttl": 3_600_000},
}


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(n: int, case: str, method: str) -> dict[str, float]:
    import tracemalloc

    from amqpmodel import Broker, VirtualClock

    broker = Broker(clock=VirtualClock())
    ch = broker.connect().channel()
    ch.queue_declare("mem", arguments=CASES[case])
    publish = ch.basic_publish
    for i in range(1000):  # warm-up: first-use allocations are not per-message cost
        publish("", "mem", b"%0100d" % i)
    ch.queue_purge("mem")
    gc.collect()
    gc.disable()

    if method == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        before = rss_bytes()
    for i in range(n):
        publish("", "mem", b"%0100d" % i)  # a distinct 100-byte body per message
    gc.enable()
    gc.collect()
    if method == "tracemalloc":
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    else:
        after = rss_bytes()
    assert broker.queues["mem"].messages_ready == n
    per_message = (after - before) / n
    return {"per_message": per_message, "overhead": per_message - BODY_SIZE}


def run_child(n: int, case: str, method: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--n", str(n), "--child", case, method],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="messages to queue")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.n, *args.child)))
        return 0

    header_size = sys.getsizeof(b"x" * BODY_SIZE) - BODY_SIZE
    print(f"python {sys.version.split()[0]}, N={args.n:,} queued 100-byte messages, one queue\n")
    header = (
        f"{'case':<15} {'method':<12} {'bytes/msg':>10} {'overhead':>9} "
        f"{'beyond bytes obj':>17}  target <= {TARGET_OVERHEAD}"
    )
    print(header)
    print("-" * len(header))
    all_met = True
    for case in CASES:
        for method in ("tracemalloc", "rss"):
            r = run_child(args.n, case, method)
            met = r["overhead"] <= TARGET_OVERHEAD
            all_met &= met
            print(
                f"{case:<15} {method:<12} {r['per_message']:>10.1f} {r['overhead']:>9.1f} "
                f"{r['overhead'] - header_size:>17.1f}  {'met' if met else 'NOT met'}"
            )
    print(f"\nall targets met: {'yes' if all_met else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
