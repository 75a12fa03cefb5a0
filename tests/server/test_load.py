"""Many clients at once over one ``serve()`` server: nothing lost, nothing duplicated, memory bounded.

25 producer threads publish with publisher confirms and 25 consumer threads
consume with manual acks and a prefetch limit, each on its own pika
``BlockingConnection``. Some deliveries are rejected with requeue=True once,
so redeliveries happen; every redelivery must carry redelivered=True
(spec 7.13 / 9.3 accounting), and every other message is delivered exactly once.

The default is the 100 000 messages issue 5 asks for (about 35 s on the 2-core
dev machine); ``AMQPMODEL_LOAD_MESSAGES`` sets another total.
"""

from __future__ import annotations

import collections
import gc
import os
import threading
import time
from collections.abc import Iterator

import pika
import pytest

from amqpmodel import Broker
from amqpmodel.server import serve

MESSAGES = int(os.environ.get("AMQPMODEL_LOAD_MESSAGES", "100000"))
PRODUCERS = 25
CONSUMERS = 25
QUEUES = 5  # 5 producers and 5 consumers per queue
PREFETCH = 50
REQUEUE_EVERY = 97  # a message whose number is a multiple of this is rejected (requeue) once
DEADLINE = max(120.0, MESSAGES / 500)  # seconds: every loop here is bounded
RSS_GROWTH_LIMIT = (
    150 * 1024 * 1024
)  # bytes, after warm-up; the backlog itself is ~MESSAGES * 1 KiB


def _rss() -> int:
    """Resident set size of this process (the server runs in it), in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class Ledger:
    """What the consumers saw, shared between threads."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.lock = threading.Lock()
        self.deliveries: collections.Counter[bytes] = collections.Counter()
        self.acked: collections.Counter[bytes] = collections.Counter()
        self.unflagged_redeliveries: list[bytes] = []
        self.rejected = 0
        self.done = threading.Event()
        self.errors: list[BaseException] = []

    def delivered(self, body: bytes, redelivered: bool) -> bool:
        """Record a delivery; True when it should be acked (False: reject with requeue)."""
        with self.lock:
            self.deliveries[body] += 1
            if self.deliveries[body] > 1 and not redelivered:
                self.unflagged_redeliveries.append(body)
            number = int(body.split(b":")[1])
            if number % REQUEUE_EVERY == 0 and self.deliveries[body] == 1:
                self.rejected += 1
                return False
            self.acked[body] += 1
            if len(self.acked) >= self.total:
                self.done.set()
            return True


def _params(url: str) -> pika.URLParameters:
    return pika.URLParameters(url + "?heartbeat=0&blocked_connection_timeout=60")


def _producer(url: str, index: int, count: int, confirmed: list[int], ledger: Ledger) -> None:
    try:
        connection = pika.BlockingConnection(_params(url))
        channel = connection.channel()
        channel.confirm_delivery()
        queue = f"load-{index % QUEUES}"
        padding = b"p" * 100
        for number in range(count):
            # with confirms on, basic_publish returns only once the broker acked it (spec 8.1)
            channel.basic_publish(
                "",
                queue,
                b"%d:%d:" % (index, number) + padding,
                pika.BasicProperties(delivery_mode=1),
                mandatory=True,
            )
            confirmed[index] += 1
        connection.close()
    except BaseException as error:  # reported by the test thread
        ledger.errors.append(error)


def _consumer(url: str, index: int, ledger: Ledger, deadline: float) -> None:
    try:
        connection = pika.BlockingConnection(_params(url))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=PREFETCH)
        queue = f"load-{index % QUEUES}"
        for method, _properties, body in channel.consume(queue, inactivity_timeout=0.05):
            if method is None:
                if ledger.done.is_set() or time.monotonic() > deadline:
                    break
                continue
            if ledger.delivered(body, method.redelivered):
                channel.basic_ack(method.delivery_tag)
            else:
                channel.basic_reject(method.delivery_tag, requeue=True)
        channel.cancel()
        connection.close()
    except BaseException as error:
        ledger.errors.append(error)


@pytest.fixture(scope="module")
def load_server() -> Iterator[tuple[str, Broker]]:
    broker = Broker()
    with serve(broker) as url:
        connection = pika.BlockingConnection(_params(url))
        channel = connection.channel()
        for number in range(QUEUES):
            channel.queue_declare(f"load-{number}")
        connection.close()
        yield url, broker


def _run(url: str, total: int) -> tuple[Ledger, list[int], float]:
    ledger = Ledger(total)
    confirmed = [0] * PRODUCERS
    per_producer = [
        total // PRODUCERS + (1 if i < total % PRODUCERS else 0) for i in range(PRODUCERS)
    ]
    deadline = time.monotonic() + DEADLINE
    threads = [
        threading.Thread(target=_consumer, args=(url, i, ledger, deadline), daemon=True)
        for i in range(CONSUMERS)
    ] + [
        threading.Thread(
            target=_producer, args=(url, i, per_producer[i], confirmed, ledger), daemon=True
        )
        for i in range(PRODUCERS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()) + 5)
    elapsed = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads), "clients still running at the deadline"
    return ledger, confirmed, elapsed


def _wait_idle(broker: Broker) -> None:
    deadline = time.monotonic() + 5
    while broker.connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert broker.connections == []


@pytest.mark.timeout(max(300, int(DEADLINE) + 60))
def test_fifty_clients_move_every_message_once(load_server: tuple[str, Broker]) -> None:
    # spec 8.1: every publish confirmed; spec 7.13: a redelivery is flagged redelivered=True
    url, broker = load_server
    _run(url, 1000)  # warm-up: imports, caches, allocator arenas
    _wait_idle(broker)
    gc.collect()
    rss_before = _rss()

    ledger, confirmed, elapsed = _run(url, MESSAGES)
    print(f"\n{MESSAGES} messages, {PRODUCERS}+{CONSUMERS} clients: {elapsed:.1f} s")

    assert ledger.errors == []
    assert sum(confirmed) == MESSAGES  # every publish was confirmed (no nack, no return)
    published = {
        b"%d:%d:" % (index, number) + b"p" * 100
        for index in range(PRODUCERS)
        for number in range(confirmed[index])
    }
    assert set(ledger.acked) == published  # nothing lost, nothing invented
    assert all(count == 1 for count in ledger.acked.values())  # each acked exactly once
    assert ledger.unflagged_redeliveries == []  # duplicates only as flagged redeliveries
    expected_rejects = sum(
        1 for index in range(PRODUCERS) for n in range(confirmed[index]) if n % REQUEUE_EVERY == 0
    )
    assert ledger.rejected == expected_rejects
    assert sum(ledger.deliveries.values()) == MESSAGES + expected_rejects

    _wait_idle(broker)
    for number in range(QUEUES):
        queue = broker.queues[f"load-{number}"]
        assert (queue.messages_ready, queue.messages_unacknowledged) == (0, 0)
    gc.collect()
    growth = _rss() - rss_before
    print(f"RSS growth {growth / 2**20:.1f} MiB")
    assert growth < RSS_GROWTH_LIMIT
