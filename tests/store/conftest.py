"""Fixtures for the store's tests: a data directory, and brokers opened, restarted and crashed on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _serve import ServeProcess  # noqa: E402  (tests/store is on sys.path)

from amqpmodel import BasicProperties, Broker, VirtualClock
from amqpmodel.testing import assert_accounted, crash

T0 = 1_700_000_000.0  # a clock far from the epoch: stored deadlines are absolute times
PERSISTENT = BasicProperties(delivery_mode=2)

Restart = Callable[..., Broker]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def restart(data_dir: Path) -> Iterator[Restart]:
    """``restart()`` opens a broker on ``data_dir``; ``restart(old)`` stops ``old`` cleanly
    and opens the next one, ``restart(old, crash=True)`` kills it first (spec 22.38);
    ``after=`` seconds pass on the clock while it is down."""
    opened: list[Broker] = []

    def restart_(
        old: Broker | None = None, *, crash_it: bool = False, after: float = 0.0
    ) -> Broker:
        now = T0
        if old is not None:
            now = old.clock.now()
            assert_accounted(old)
            if crash_it:
                crash(old)
            else:
                old.close()
        broker = Broker(clock=VirtualClock(now + after), data_dir=data_dir)
        opened.append(broker)
        return broker

    yield restart_
    for broker in opened:
        broker.close()


@pytest.fixture
def serve_process() -> Iterator[Callable[..., ServeProcess]]:
    started: list[ServeProcess] = []

    def make(data_dir: Path | None, *extra: str) -> ServeProcess:
        server = ServeProcess(data_dir, *extra)  # type: ignore[arg-type]
        started.append(server)
        return server

    yield make
    for server in started:
        if server.process is not None:
            server.process.kill()
            server.process.wait(timeout=10)
