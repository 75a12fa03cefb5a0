"""The driver shared by the "one advance settles N timers" benchmarks (expiry.py,
delayed.py): sizes, repeats, the table, and the flatness verdict.

Each benchmark supplies ``run_size(n, queues, seed)``, returning the seconds
one ``advance`` took and the publish cost, and ``run_floor(n, queues, seed)``,
the per-message microseconds of the same memory traffic without a broker.
"""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable

RunSize = Callable[[int, int, int], dict[str, float]]  # {"n", "advance_s", "publish_us"}
RunFloor = Callable[[int, int, int], float]


def main(
    description: str,
    what: str,
    setting: str,
    run_size: RunSize,
    run_floor: RunFloor,
    target_spread: float,
    argv: list[str] | None = None,
) -> int:
    """``what``: the per-message event ("expiry", "release"); ``setting``: the
    benchmark's spread of deadlines, for the header line."""
    parser = argparse.ArgumentParser(description=description)
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
        f"python {sys.version.split()[0]}, {args.queues} queues, {setting} "
        f"(1000 distinct values), seed {args.seed}\n"
    )
    column = f"us/msg {what}"
    header = (
        f"{'N':>10} {'advance total':>14} {column:>15} {'us/msg publish':>15} "
        f"{'floor us/msg':>13} {'vs floor':>9}"
    )
    print(header)
    print("-" * len(header))
    per_msg: list[float] = []
    floors: list[float] = []
    for n in sizes:
        runs = []
        for _ in range(args.repeat):
            runs.append(run_size(n, args.queues, args.seed))
            gc.collect()
        r = min(runs, key=lambda run: run["advance_s"])
        us = r["advance_s"] / n * 1e6
        floor = min(run_floor(n, args.queues, args.seed) for _ in range(args.repeat))
        per_msg.append(us)
        floors.append(floor)
        print(
            f"{n:>10,} {r['advance_s']:>13.3f}s {us:>15.3f} {r['publish_us']:>15.3f} "
            f"{floor:>13.3f} {us / floor:>8.1f}x"
        )
        gc.collect()
    spread = max(per_msg) / min(per_msg)
    met = spread <= target_spread
    print(
        f"\nper-message {what} time spread (max/min) across sizes: {spread:.2f}x "
        f"(target <= {target_spread:g}x): {'met' if met else 'NOT met'}"
    )
    print(f"floor spread across the same sizes: {max(floors) / min(floors):.2f}x")
    return 0
