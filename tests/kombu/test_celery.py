"""Celery with broker_url="amqpmodel://": an in-process worker, tasks, retries,
groups, a chord, and acks_late redelivery when a worker dies.

Each test starts its worker with ``celery.contrib.testing.worker.start_worker``
(solo pool, a thread). Celery drives a transport without an event loop with
its blocking loop, which checks for shutdown between ``drain_events(timeout=2)``
calls; ``stop_promptly`` wakes that drain when the test is done, so a
worker stops in milliseconds instead of up to two seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

celery = pytest.importorskip("celery")

from celery import Celery, chord, group  # noqa: E402
from celery.bootsteps import RUN  # noqa: E402
from celery.contrib.testing.tasks import ping  # noqa: E402
from celery.contrib.testing.worker import start_worker  # noqa: E402
from celery.exceptions import WorkerTerminate  # noqa: E402
from celery.worker import state as worker_state  # noqa: E402

from amqpmodel import Broker, ConnectionClosed  # noqa: E402
from amqpmodel.kombu import use_broker  # noqa: E402
from amqpmodel.testing import assert_accounted  # noqa: E402

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while (extra := [t for t in threading.enumerate() if t not in before and t.is_alive()]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.01)
    assert not extra, f"threads left running: {extra}"


@pytest.fixture
def broker(amqp_broker: Broker) -> Iterator[Broker]:
    with use_broker(amqp_broker):
        yield amqp_broker


def make_app(backend: str = "rpc://") -> Celery:
    app = Celery("amqpmodel_tests", broker="amqpmodel://", backend=backend, set_as_current=False)
    app.conf.update(
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_default_queue="celery",
        result_expires=None,
    )

    @app.task(name="add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="total", shared=False)
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    @app.task(name="flaky", shared=False, bind=True, max_retries=3)
    def flaky(self: Any) -> int:
        if self.request.retries < 2:
            raise self.retry(countdown=0.05)
        return int(self.request.retries)

    app.task(name="celery.ping", shared=False)(ping.run)  # what start_worker's ping check calls
    return app


@contextmanager
def running_worker(app: Celery, broker: Broker, **kwargs: Any) -> Iterator[Any]:
    kwargs.setdefault("pool", "solo")
    try:
        with start_worker(app, shutdown_timeout=5, **kwargs) as worker:
            try:
                yield worker
            finally:
                stop_promptly(worker, broker)
    finally:
        worker_state.should_stop = None


def stop_promptly(worker: Any, broker: Broker) -> None:
    """Ask for a warm shutdown (the pool's threads are stopped too) and wake the
    worker's drains: its blocking loop checks for shutdown between drains and
    drains once more after the check, so wake them until it has left the loop."""
    worker_state.should_stop = 0
    deadline = time.monotonic() + 5
    while worker.blueprint.state == RUN and time.monotonic() < deadline:
        for connection in broker.connections:
            try:
                connection.add_callback_threadsafe(lambda: None)
            except ConnectionClosed:
                pass
        time.sleep(0.002)


def test_tasks_round_trip_over_rpc_results(broker: Broker) -> None:
    app = make_app()
    with running_worker(app, broker):
        assert app.tasks["add"].delay(2, 3).get(timeout=5) == 5
        results = [app.tasks["add"].delay(n, n) for n in range(5)]
        assert [r.get(timeout=5) for r in results] == [0, 2, 4, 6, 8]
    queue = broker.queues["celery"]
    assert (queue.messages_ready, queue.messages_unacknowledged) == (0, 0)
    assert queue.stats.acked >= 6  # and the ping of start_worker
    assert_accounted(broker)


def test_retry_with_countdown(broker: Broker) -> None:
    # the countdown is an ETA kept by the worker, in real time; the broker's clock
    # plays no part, so a VirtualClock cannot shorten it: hence a 50 ms countdown
    app = make_app()
    with running_worker(app, broker):
        result = app.tasks["flaky"].delay()
        assert result.get(timeout=5) == 2
    assert broker.queues["celery"].messages == 0


def test_group(broker: Broker) -> None:
    app = make_app()
    with running_worker(app, broker):
        result = group(app.tasks["add"].s(n, 1) for n in range(4)).delay()
        assert result.get(timeout=5) == [1, 2, 3, 4]


def test_chord(broker: Broker) -> None:
    # the rpc backend has no chords (Celery says so); an in-process cache does
    app = make_app(backend="cache+memory://")
    with running_worker(app, broker):
        header = [app.tasks["add"].s(n, n) for n in range(4)]
        result = chord(header)(app.tasks["total"].s())
        assert result.get(timeout=5, interval=0.01) == 12  # the cache backend is polled


def test_acks_late_task_is_redelivered_after_its_worker_dies(broker: Broker) -> None:
    app = make_app()
    started = threading.Event()
    release = threading.Event()
    runs: list[bool] = []

    @app.task(name="careful", shared=False, bind=True, acks_late=True)
    def careful(self: Any) -> str:
        redelivered = bool(self.request.delivery_info.get("redelivered"))
        runs.append(redelivered)
        if not redelivered:
            started.set()
            release.wait(5)
            raise WorkerTerminate(1)  # the worker process dies mid-task: no ack
        return "done"

    with running_worker(app, broker):
        result = careful.delay()
        assert started.wait(5)
        queue = broker.queues["celery"]
        assert (queue.messages_ready, queue.messages_unacknowledged) == (0, 1)
        release.set()
        deadline = time.monotonic() + 5
        while queue.messages_ready == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
    # the dead worker's connection closed with the task unacked: back in the queue
    assert (queue.messages_ready, queue.messages_unacknowledged) == (1, 0)
    assert queue.peek()[0].redelivered is True
    with running_worker(app, broker, perform_ping_check=False):
        assert result.get(timeout=5) == "done"
    assert runs == [False, True]
    assert queue.messages == 0
    assert_accounted(broker)


def test_thread_pool_worker_takes_only_its_prefetch(broker: Broker) -> None:
    app = make_app()
    app.conf.worker_prefetch_multiplier = 1
    started = threading.Semaphore(0)
    release = threading.Event()

    @app.task(name="blocking", shared=False, acks_late=True)
    def blocking(n: int) -> int:
        started.release()
        release.wait(5)
        return n

    with running_worker(app, broker, pool="threads", concurrency=2):
        results = [blocking.delay(n) for n in range(5)]
        assert started.acquire(timeout=5) and started.acquire(timeout=5)
        queue = broker.queues["celery"]
        # basic.qos prefetch_count = multiplier x concurrency: two unacked, three ready
        assert (queue.messages_unacknowledged, queue.messages_ready) == (2, 3)
        release.set()
        assert [r.get(timeout=5) for r in results] == [0, 1, 2, 3, 4]
    assert queue.messages == 0
