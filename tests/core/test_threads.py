"""Many threads on one broker: producers, consume() generators, prefetch, add_callback_threadsafe.

Every thread body catches its own exceptions into a list the test asserts on,
every wait has a deadline, and every thread is a daemon, so a defect fails a
test instead of hanging the run.
"""

from __future__ import annotations

import collections
import queue as stdqueue
import random
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from amqpmodel import Broker, Channel, Connection, ConnectionClosed

TOTAL = 20_000
PRODUCERS = 4
CONSUMERS = 4
PREFETCH = 10
DEADLINE = 60.0  # seconds; the run normally takes a few


def start(target: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def join_all(threads: list[threading.Thread], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [t for t in threads if t.is_alive()]
    assert not stuck, f"{len(stuck)} thread(s) still running after {timeout}s"


# ----------------------------------------------------------------- (a) producers and consumers


class ConsumerStats:
    def __init__(self) -> None:
        self.acked: collections.Counter[bytes] = collections.Counter()
        self.nacked: collections.Counter[bytes] = collections.Counter()
        self.first: collections.Counter[bytes] = collections.Counter()  # redelivered=False
        self.again: collections.Counter[bytes] = collections.Counter()  # redelivered=True
        self.max_held = 0
        self.over_prefetch: list[int] = []


@pytest.mark.timeout(120)
def test_many_producers_and_consumers_settle_every_message_once(broker: Broker) -> None:
    # spec 7.5 (prefetch), 7.10/7.11 (tags, acks), 2.12 (requeue and redelivered)
    setup = broker.connect()
    setup.channel().queue_declare("work")
    setup.close()

    errors: list[BaseException] = []
    done = threading.Event()
    give_up = threading.Event()
    acked_total = [0]
    total_lock = threading.Lock()
    per_producer = TOTAL // PRODUCERS

    def producer(index: int) -> None:
        conn = broker.connect()
        ch = conn.channel()
        for i in range(per_producer):
            ch.basic_publish("", "work", f"{index}:{i}".encode())
        conn.close()

    def consumer(stats: ConsumerStats, seed: int) -> None:
        rng = random.Random(seed)
        conn = broker.connect()
        ch = conn.channel()
        ch.basic_qos(prefetch_count=PREFETCH)
        held: list[tuple[int, bytes]] = []
        target = rng.randint(1, PREFETCH)

        def settle() -> None:
            nonlocal target
            acked_now = 0
            if held and rng.random() < 0.3 and all(rng.random() >= 0.05 for _ in held):
                ch.basic_ack(held[-1][0], multiple=True)  # one multiple ack for the batch
                for _, body in held:
                    stats.acked[body] += 1
                acked_now = len(held)
            else:
                for tag, body in held:
                    if rng.random() < 0.05:
                        ch.basic_nack(tag, requeue=True)
                        stats.nacked[body] += 1
                    else:
                        ch.basic_ack(tag)
                        stats.acked[body] += 1
                        acked_now += 1
            held.clear()
            target = rng.randint(1, PREFETCH)
            if acked_now:
                with total_lock:
                    acked_total[0] += acked_now
                    if acked_total[0] >= TOTAL:
                        done.set()

        for method, _properties, body in ch.consume("work", inactivity_timeout=0.02):
            if method is None:
                settle()  # nothing new: give back what we hold so others can progress
                if done.is_set() or give_up.is_set():
                    break
                continue
            if method.redelivered:
                stats.again[body] += 1
            else:
                stats.first[body] += 1
            held.append((method.delivery_tag, body))
            # what this consumer holds unacked: yielded and unsettled, plus delivered
            # to it but not yet yielded by the generator
            holding = len(held) + ch.get_waiting_message_count()
            stats.max_held = max(stats.max_held, holding)
            if holding > PREFETCH:
                stats.over_prefetch.append(holding)
            if len(held) >= target:
                settle()
        requeued = ch.cancel()
        assert requeued == 0 or give_up.is_set()
        conn.close()

    unacked_samples: list[int] = []

    def monitor() -> None:
        # the broker's view: all consumers together never hold more than their prefetch
        work = broker.queues["work"]
        while not done.is_set() and not give_up.is_set():
            unacked_samples.append(work.messages_unacknowledged)
            time.sleep(0.001)

    consumer_stats = [ConsumerStats() for _ in range(CONSUMERS)]
    started = time.monotonic()
    threads = [start(monitor, errors)]
    threads += [start(partial(consumer, s, seed), errors) for seed, s in enumerate(consumer_stats)]
    threads += [start(partial(producer, p), errors) for p in range(PRODUCERS)]
    finished = done.wait(DEADLINE)
    give_up.set()
    join_all(threads, 10.0)
    elapsed = time.monotonic() - started
    assert not errors, errors
    assert finished, f"only {acked_total[0]} of {TOTAL} acked after {DEADLINE}s"

    acked: collections.Counter[bytes] = collections.Counter()
    nacked: collections.Counter[bytes] = collections.Counter()
    first: collections.Counter[bytes] = collections.Counter()
    again: collections.Counter[bytes] = collections.Counter()
    for stats in consumer_stats:
        acked.update(stats.acked)
        nacked.update(stats.nacked)
        first.update(stats.first)
        again.update(stats.again)
        assert stats.over_prefetch == [], f"held {stats.over_prefetch[:5]} > prefetch {PREFETCH}"
        assert stats.max_held <= PREFETCH

    bodies = {f"{p}:{i}".encode() for p in range(PRODUCERS) for i in range(per_producer)}
    assert set(acked) == bodies
    assert all(count == 1 for count in acked.values()), "a message was acked twice"
    # the first delivery of each message is not redelivered; every later one is,
    # and there is exactly one later delivery per requeueing nack
    assert set(first) == bodies
    assert all(count == 1 for count in first.values()), "a first delivery repeated"
    assert again == nacked
    assert sum(nacked.values()) > 0  # the random nacks did happen
    assert unacked_samples and max(unacked_samples) <= CONSUMERS * PREFETCH

    work = broker.queues["work"]
    assert (work.messages_ready, work.messages_unacknowledged) == (0, 0)
    assert work.stats.acked == TOTAL
    assert work.stats.enqueued == TOTAL
    assert work.stats.delivered == TOTAL + sum(nacked.values())
    assert work.consumer_count == 0
    assert elapsed < DEADLINE


# ----------------------------------------------------------------- (b) a blocked consume() wakes up


@pytest.mark.timeout(30)
def test_consume_blocked_in_another_thread_wakes_on_publish(broker: Broker) -> None:
    setup = broker.connect()
    setup.channel().queue_declare("q")
    setup.close()
    consumer_conn = broker.connect()
    errors: list[BaseException] = []
    blocked = threading.Event()
    received: list[tuple[bytes, bool]] = []
    cancelled: list[int] = []

    def consumer() -> None:
        ch = consumer_conn.channel()
        generator = ch.consume("q")  # no inactivity_timeout: blocks until a message comes
        blocked.set()
        method, _properties, body = next(generator)
        received.append((body, method.redelivered))
        ch.basic_ack(method.delivery_tag)
        cancelled.append(ch.cancel())

    thread = start(consumer, errors)
    assert blocked.wait(5)
    time.sleep(0.1)  # let it block in the wait
    assert received == []
    assert thread.is_alive()
    publisher = broker.connect()
    publisher.channel().basic_publish("", "q", b"wake up")
    thread.join(5)
    if thread.is_alive():
        consumer_conn.close()  # unblocks the generator so the thread can end
        thread.join(5)
        pytest.fail("consume() did not wake up when another thread published")
    assert not errors, errors
    assert received == [(b"wake up", False)]
    assert cancelled == [0]
    assert broker.queues["q"].messages == 0
    assert broker.queues["q"].consumer_count == 0
    publisher.close()
    consumer_conn.close()


@pytest.mark.timeout(30)
def test_consume_blocked_in_another_thread_ends_when_connection_closes(broker: Broker) -> None:
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("q")
    errors: list[BaseException] = []
    items: list[Any] = []
    blocked = threading.Event()

    def consumer() -> None:
        blocked.set()
        for item in ch.consume("q"):
            items.append(item)

    thread = start(consumer, errors)
    assert blocked.wait(5)
    time.sleep(0.05)
    conn.close()
    thread.join(5)
    assert not thread.is_alive(), "consume() kept blocking on a closed connection"
    assert not errors, errors
    assert items == []


def test_cancel_returns_the_number_of_requeued_messages(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    for i in range(5):
        ch.basic_publish("", "q", f"m{i}".encode())
    generator = ch.consume("q", inactivity_timeout=1.0)
    method, _properties, body = next(generator)
    assert body == b"m0"
    assert ch.get_waiting_message_count() == 4
    ch.basic_ack(method.delivery_tag)
    assert ch.cancel() == 4
    assert ch.get_waiting_message_count() == 0
    queue = broker.queues["q"]
    assert (queue.messages_ready, queue.messages_unacknowledged, queue.consumer_count) == (4, 0, 0)
    # spec 2.12: requeued in their original order, marked redelivered
    assert [m.body for m in queue.peek()] == [b"m1", b"m2", b"m3", b"m4"]
    got = [ch.basic_get("q", auto_ack=True) for _ in range(4)]
    assert all(m is not None and m.redelivered for m, _, _ in got)
    assert list(generator) == []  # the generator has ended
    assert ch.cancel() == 0  # nothing left to cancel


def test_cancel_does_not_requeue_yielded_unacked_messages(broker: Broker, ch: Channel) -> None:
    # spec 2.12: cancelling does not requeue what the consumer already has; it can still ack
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    generator = ch.consume("q", inactivity_timeout=1.0)
    first, _, _ = next(generator)
    assert ch.cancel() == 1
    queue = broker.queues["q"]
    assert (queue.messages_ready, queue.messages_unacknowledged) == (1, 1)
    ch.basic_ack(first.delivery_tag)
    assert (queue.messages_ready, queue.messages_unacknowledged) == (1, 0)


def test_consume_yields_none_after_inactivity_timeout(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    started = time.monotonic()
    item = next(ch.consume("q", inactivity_timeout=0.05))
    assert item == (None, None, None)
    assert 0.04 <= time.monotonic() - started < 5
    assert ch.cancel() == 0


@pytest.mark.timeout(30)
def test_prefetch_holds_back_deliveries_until_an_ack(broker: Broker) -> None:
    # spec 7.5: with prefetch_count=2 the third message waits for an ack
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=2)
    for i in range(3):
        ch.basic_publish("", "q", f"m{i}".encode())
    generator = ch.consume("q", inactivity_timeout=0.05)
    a = next(generator)
    b = next(generator)
    assert next(generator) == (None, None, None)
    assert broker.queues["q"].messages_ready == 1
    ch.basic_ack(a[0].delivery_tag)
    c = next(generator)
    assert c[2] == b"m2"
    ch.basic_ack(0, multiple=True)
    assert b[2] == b"m1"
    assert ch.cancel() == 0
    conn.close()


# ----------------------------------------------------------------- (c) add_callback_threadsafe


@pytest.mark.timeout(30)
def test_add_callback_threadsafe_runs_on_the_draining_thread(
    broker: Broker, conn: Connection
) -> None:
    ran_on: list[int] = []
    conn.add_callback_threadsafe(lambda: ran_on.append(threading.get_ident()))
    assert ran_on == []  # not inside the call
    assert conn.process_data_events() == 1
    assert ran_on == [threading.get_ident()]
    assert conn.process_data_events() == 0  # runs once


@pytest.mark.timeout(30)
def test_add_callback_threadsafe_wakes_a_blocked_process_data_events(broker: Broker) -> None:
    conn = broker.connect()
    ran_on: list[int] = []
    errors: list[BaseException] = []
    blocked = threading.Event()
    waited: list[float] = []

    def owner() -> None:
        blocked.set()
        started = time.monotonic()
        while not ran_on and time.monotonic() - started < 10:
            conn.process_data_events(time_limit=10)
        waited.append(time.monotonic() - started)

    owner_thread = start(owner, errors)
    assert blocked.wait(5)
    time.sleep(0.05)
    conn.add_callback_threadsafe(lambda: ran_on.append(threading.get_ident()))
    owner_thread.join(10)
    assert not owner_thread.is_alive()
    assert not errors, errors
    assert ran_on == [owner_thread.ident]
    assert waited[0] < 5  # woke up, did not sit out its time limit
    conn.close()


@pytest.mark.timeout(30)
def test_add_callback_threadsafe_from_many_threads_each_runs_once_in_order(
    broker: Broker, conn: Connection
) -> None:
    threads_count, per_thread = 8, 500
    ran: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def scheduler(index: int) -> None:
        for i in range(per_thread):
            conn.add_callback_threadsafe(partial(ran.append, (index, i)))

    threads = [start(partial(scheduler, t), errors) for t in range(threads_count)]
    deadline = time.monotonic() + 20
    while len(ran) < threads_count * per_thread and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.05)
    join_all(threads, 5)
    conn.process_data_events()
    assert not errors, errors
    assert len(ran) == threads_count * per_thread
    for t in range(threads_count):
        assert [i for index, i in ran if index == t] == list(range(per_thread))


@pytest.mark.timeout(60)
def test_worker_threads_ack_through_add_callback_threadsafe(broker: Broker) -> None:
    # the pika pattern: consume on one thread, work on others, ack back on the consuming thread
    total = 500
    setup = broker.connect()
    setup_ch = setup.channel()
    setup_ch.queue_declare("jobs")
    for i in range(total):
        setup_ch.basic_publish("", "jobs", str(i).encode())
    setup.close()

    conn = broker.connect()
    ch = conn.channel()
    ch.basic_qos(prefetch_count=20)
    jobs: stdqueue.Queue[tuple[int, bytes] | None] = stdqueue.Queue()
    errors: list[BaseException] = []
    acked_on: set[int] = set()
    acked_bodies: list[bytes] = []

    def ack(tag: int, body: bytes) -> None:
        acked_on.add(threading.get_ident())
        ch.basic_ack(tag)
        acked_bodies.append(body)

    def worker() -> None:
        while (job := jobs.get(timeout=20)) is not None:
            tag, body = job
            conn.add_callback_threadsafe(partial(ack, tag, body))

    workers = [start(worker, errors) for _ in range(3)]
    deadline = time.monotonic() + 30
    for method, _properties, body in ch.consume("jobs", inactivity_timeout=0.02):
        if method is not None:
            jobs.put((method.delivery_tag, body))
        if len(acked_bodies) == total or time.monotonic() > deadline or errors:
            break
    for _ in workers:
        jobs.put(None)
    join_all(workers, 5)
    assert not errors, errors
    assert ch.cancel() == 0
    assert sorted(acked_bodies, key=int) == [str(i).encode() for i in range(total)]
    assert acked_on == {threading.get_ident()}  # acks ran on the consuming thread
    queue = broker.queues["jobs"]
    assert queue.messages == 0
    assert queue.stats.acked == total
    conn.close()


def test_add_callback_threadsafe_on_closed_connection_raises(broker: Broker) -> None:
    conn = broker.connect()
    conn.close()
    with pytest.raises(ConnectionClosed):
        conn.add_callback_threadsafe(lambda: None)


# --------------------------------------------------------------------------- drivers' wakeup


def test_wakeup_comes_after_the_delivery_it_announces() -> None:
    # set_wakeup: a driver may drain the moment it is woken (the socket server
    # drains from its loop thread at once), so the delivery must already be
    # pending when the wakeup is called, or it waits for an event that never comes
    broker = Broker()
    connection = broker.connect()
    channel = connection.channel()
    channel.queue_declare("q")
    received: list[bytes] = []
    channel.basic_consume("q", lambda _c, _m, _p, body: received.append(body), auto_ack=True)
    connection.process_data_events(0)
    drained: list[int] = []
    connection.set_wakeup(lambda: drained.append(connection.process_data_events(0)))
    broker.connect().channel().basic_publish("", "q", b"from another connection")
    assert drained == [1]
    assert received == [b"from another connection"]


def test_wakeup_comes_after_the_callback_it_announces() -> None:
    broker = Broker()
    connection = broker.connect()
    ran: list[str] = []
    drained: list[int] = []
    connection.set_wakeup(lambda: drained.append(connection.process_data_events(0)))
    connection.add_callback_threadsafe(lambda: ran.append("callback"))
    assert drained == [1]
    assert ran == ["callback"]
