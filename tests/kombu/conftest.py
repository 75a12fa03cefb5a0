"""Fixtures for the kombu transport: ``conn`` is the plugin's ``amqp_kombu``, a kombu
Connection on the test's ``amqp_broker`` (the default broker while the test runs,
so ``amqpmodel://`` reaches it); the broker's accounting is checked at teardown,
after the kombu connection is released."""

from __future__ import annotations

import pytest

pytest.importorskip("kombu")

import kombu  # noqa: E402


@pytest.fixture
def conn(amqp_kombu: kombu.Connection) -> kombu.Connection:
    return amqp_kombu
