"""Durability: persistent publishes with confirms and their acks, stored (SQLite) vs in memory vs a
sqlite3 floor; recovery time and memory of a large data directory.

Run: python benchmarks/durability.py [--n 100000] [--recover-n 1000000] [--queues 10]
                                     [--skip-recovery] [--sync normal]

1. Publish N persistent 100-byte messages into a durable queue on a channel in
   confirm mode with a confirm callback (confirms grouped per store commit,
   as on the wire), wait for every confirm, then consume them all with manual
   acks (prefetch 100) until the store has deleted them. The same workload
   runs on an in-memory broker, and the floor writes the same rows with one
   ``executemany`` in one transaction and deletes them again the same way
   (same settings: WAL, synchronous=NORMAL). Target: >= 50% of the floor.
2. Recovery: a data dir holding --recover-n persistent messages in --queues
   durable queues; time from ``Broker(data_dir=...)`` to a usable broker
   (target < 10 s) and the memory it holds (tracemalloc), against the same
   messages published into an in-memory broker (target within 10%).
"""

from __future__ import annotations

import argparse
import gc
import marshal
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from amqpmodel import BasicProperties, Broker  # noqa: E402

BODY = b"x" * 100
PERSISTENT = BasicProperties(delivery_mode=2)


def publish_consume(n: int, data_dir: Path | None, sync: str) -> float:
    broker = Broker(data_dir=data_dir, sync=sync)
    ch = broker.connect().channel()
    ch.queue_declare("q", durable=True)
    confirmed = [0]

    def on_confirm(method: object) -> None:
        confirmed[0] += 1

    ch.confirm_delivery(on_confirm)
    acked = [0]

    def on_message(channel: object, method: object, properties: object, body: bytes) -> None:
        ch.basic_ack(method.delivery_tag)  # type: ignore[attr-defined]
        acked[0] += 1

    gc.collect()
    gc.disable()
    start = time.perf_counter()
    publish = ch.basic_publish
    for _ in range(n):
        publish("", "q", BODY, PERSISTENT)
    while confirmed[0] < n:
        ch.connection.process_data_events(time_limit=0.001)
    ch.basic_qos(prefetch_count=100)
    ch.basic_consume("q", on_message)
    while acked[0] < n:
        broker.run_until_idle()
    if broker._store is not None:
        broker._store.flush()
    elapsed = time.perf_counter() - start
    gc.enable()
    broker.close()
    return elapsed


def floor(n: int, data_dir: Path, sync: str) -> float:
    data_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(data_dir / "floor.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA synchronous = {sync.upper()}")
    db.execute(
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY, queue_id INTEGER, exchange TEXT, "
        "routing_key TEXT, properties BLOB, encoded BLOB, body BLOB, annotations BLOB, "
        "deadline REAL, redelivered INTEGER NOT NULL DEFAULT 0)"
    )
    properties = marshal.dumps((None, None, None, 2) + (None,) * 10, 4)
    gc.collect()
    gc.disable()
    start = time.perf_counter()
    rows = [(seq, 1, "", "q", properties, None, BODY, None, None) for seq in range(n)]
    db.execute("BEGIN")
    db.executemany(
        "INSERT INTO messages (seq, queue_id, exchange, routing_key, properties, encoded, body, "
        "annotations, deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.execute("COMMIT")
    db.execute("BEGIN")
    db.executemany("DELETE FROM messages WHERE seq = ?", [(seq,) for seq in range(n)])
    db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    gc.enable()
    db.close()
    return elapsed


def fill(broker: Broker, n: int, queues: int) -> None:
    ch = broker.connect().channel()
    names = [f"q{i}" for i in range(queues)]
    for name in names:
        ch.queue_declare(name, durable=True)
    publish = ch.basic_publish
    for i in range(n):  # distinct bodies, as messages from clients are
        publish("", names[i % queues], b"%100d" % i, PERSISTENT)


def recovery(n: int, queues: int, base: Path) -> None:
    data_dir = base / "recover"
    with Broker(data_dir=data_dir) as broker:
        fill(broker, n, queues)
    gc.collect()
    start = time.perf_counter()
    broker = Broker(data_dir=data_dir)
    ready = time.perf_counter() - start
    assert sum(q.messages_ready for q in broker.queues.values()) == n
    broker.close()
    del broker
    gc.collect()
    tracemalloc.start()  # a second recovery, measured (tracemalloc slows it down)
    broker = Broker(data_dir=data_dir)
    stored_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    broker.close()
    del broker
    gc.collect()
    tracemalloc.start()
    memory_broker = Broker()
    fill(memory_broker, n, queues)
    memory_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del memory_broker
    print(f"\nRecovery of {n:,} persistent messages in {queues} durable queues:")
    print(f"  time to ready: {ready:.2f} s (target < 10 s)")
    print(
        f"  memory after recovery: {stored_bytes / n:.0f} bytes/msg; published in memory: "
        f"{memory_bytes / n:.0f} bytes/msg; ratio {stored_bytes / memory_bytes:.2f} "
        "(target <= 1.10)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--recover-n", type=int, default=1_000_000)
    parser.add_argument("--queues", type=int, default=10)
    parser.add_argument("--sync", choices=("normal", "full"), default="normal")
    parser.add_argument("--skip-recovery", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="amqpmodel-bench-") as tmp:
        base = Path(tmp)
        publish_consume(min(args.n, 5000), base / "warm", args.sync)
        stored = publish_consume(args.n, base / "stored", args.sync)
        memory = publish_consume(args.n, None, args.sync)
        floor_time = floor(args.n, base / "floor", args.sync)
        n = args.n
        print(
            f"Persistent publish with confirms, then consume + ack, {n:,} x 100 B "
            f"(sync={args.sync}), msg/s:"
        )
        print(f"  stored (data dir):   {n / stored:>10,.0f}")
        print(
            f"  in memory:           {n / memory:>10,.0f}   stored/in memory: {memory / stored:.2f}"
        )
        print(
            f"  sqlite3 floor:       {n / floor_time:>10,.0f}   stored/floor: "
            f"{floor_time / stored:.0%} (target >= 50%)"
        )
        if not args.skip_recovery:
            recovery(args.recover_n, args.queues, base)


if __name__ == "__main__":
    main()
