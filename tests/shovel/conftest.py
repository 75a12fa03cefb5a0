"""Fixtures for the shovel tests: a source broker on the real clock, and destinations."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from amqpmodel import Broker  # noqa: E402
from amqpmodel.server import serve  # noqa: E402


@pytest.fixture
def source() -> Iterator[Broker]:
    """The broker a shovel runs in and takes its messages from (real clock: the shovel's
    thread waits in real time); closed at the end, which stops its shovels."""
    broker = Broker()
    yield broker
    broker.close()


@pytest.fixture
def destination() -> Iterator[tuple[Broker, str]]:
    """Another broker behind a socket server: (broker, amqp URL)."""
    broker = Broker()
    with serve(broker) as url:
        yield broker, url
    broker.close()
