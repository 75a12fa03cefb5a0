"""Helpers for test authors: pytest fixtures and a check that no message was lost.

Installed as a pytest plugin (entry point ``amqpmodel``), so these fixtures are
available in any project that has amqpmodel installed:

- ``amqp_broker``: a fresh ``Broker`` on a ``VirtualClock``;
- ``amqp_clock``: that clock (``amqp_clock.advance(seconds)``);
- ``amqp_connection`` and ``amqp_channel``: an open connection and channel.

After each test that used ``amqp_broker``, every queue's message accounting
is checked (``assert_accounted``), so a test cannot silently lose a message.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._broker import Broker
from ._channel import Channel
from ._clock import VirtualClock
from ._connection import Connection

__all__ = ["assert_accounted", "crash"]


def crash(broker: Broker) -> None:
    """Stop ``broker`` as a killed process would (spec 22.38): with a data dir, whatever
    was not committed yet is lost, and a ``Broker`` opened on the same directory
    recovers as after a crash (every message redelivered, spec 22.18). Its
    connections are gone; the broker cannot be used any more."""
    if broker._store is not None:
        broker._store.crash()
    with broker._lock:
        broker._closed = True
        for connection in list(broker._connections):
            connection._close_by_broker(320, "CONNECTION_FORCED - broker crashed")


def assert_accounted(broker: Broker) -> None:
    """Assert, for every queue of every vhost, that every message routed to it is
    acked, ready, unacked, dead-lettered or dropped for a named reason."""
    for vhost in broker.vhosts.values():
        for queue in vhost.queues.values():
            queue._check()


@pytest.fixture
def amqp_broker() -> Iterator[Broker]:
    broker = Broker(clock=VirtualClock())
    yield broker
    assert_accounted(broker)


@pytest.fixture
def amqp_clock(amqp_broker: Broker) -> VirtualClock:
    clock = amqp_broker.clock
    assert isinstance(clock, VirtualClock)
    return clock


@pytest.fixture
def amqp_connection(amqp_broker: Broker) -> Iterator[Connection]:
    connection = amqp_broker.connect()
    yield connection
    connection.close()


@pytest.fixture
def amqp_channel(amqp_connection: Connection) -> Channel:
    return amqp_connection.channel()
