"""Fixtures for the kombu transport: a kombu Connection on the test's broker.

``amqp_broker`` (the plugin's, on a VirtualClock) is made the default broker
for the test, so ``amqpmodel://`` reaches it; its accounting is checked at
teardown, after the kombu connection is released.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("kombu")

import kombu  # noqa: E402

from amqpmodel import Broker  # noqa: E402
from amqpmodel.kombu import use_broker  # noqa: E402


@pytest.fixture
def amqp_kombu(amqp_broker: Broker) -> Iterator[kombu.Connection]:
    with use_broker(amqp_broker):
        connection = kombu.Connection("amqpmodel://")
        try:
            yield connection
        finally:
            connection.release()


@pytest.fixture
def conn(amqp_kombu: kombu.Connection) -> kombu.Connection:
    return amqp_kombu
