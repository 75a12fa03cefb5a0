"""Shared fixtures: short names over the plugin's ``amqp_*`` fixtures.

Every test that uses ``broker`` (directly or through ``ch``/``conn``) has its
message accounting checked at teardown by the plugin (``assert_accounted``).
"""

from __future__ import annotations

import pytest

from amqpmodel import Broker, Channel, Connection, VirtualClock


@pytest.fixture
def broker(amqp_broker: Broker) -> Broker:
    return amqp_broker


@pytest.fixture
def clock(amqp_clock: VirtualClock) -> VirtualClock:
    return amqp_clock


@pytest.fixture
def conn(amqp_connection: Connection) -> Connection:
    return amqp_connection


@pytest.fixture
def ch(amqp_channel: Channel) -> Channel:
    return amqp_channel
