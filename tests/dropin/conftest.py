"""Fixtures for the drop-in tests: a broker, and pika patched to reach it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from amqpmodel import Broker
from amqpmodel.pika import PikaPatch, patch_pika
from amqpmodel.testing import assert_accounted


@pytest.fixture
def broker() -> Iterator[Broker]:
    broker = Broker()
    yield broker
    assert_accounted(broker)


@pytest.fixture
def patched(broker: Broker) -> Iterator[PikaPatch]:
    with patch_pika(broker) as patch:
        yield patch
        patch.close_all()  # what a program left open goes as at its exit
