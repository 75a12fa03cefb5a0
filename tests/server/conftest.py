"""Fixtures for the socket-adapter tests: a server on a free loopback port and clients for it.

``server_broker`` runs on real time (TTLs over the wire must pass while the
client waits); ``virtual_broker`` runs on a ``VirtualClock`` that a test
advances from its own thread (``clock.advance`` is thread-safe). Both have
their message accounting checked after the server has stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from urllib.parse import quote

import pika
import pytest

from amqpmodel import Broker, VirtualClock
from amqpmodel.server import serve
from amqpmodel.testing import assert_accounted

# Client-side timeouts: far below pytest-timeout's 120 s so a broken server fails fast.
CLIENT_TIMEOUT = 5.0


@pytest.fixture
def server_broker() -> Iterator[Broker]:
    broker = Broker()
    yield broker
    assert_accounted(broker)


@pytest.fixture
def amqp_url(server_broker: Broker) -> Iterator[str]:
    with serve(server_broker) as url:
        yield url


@pytest.fixture
def virtual_broker() -> Iterator[Broker]:
    broker = Broker(clock=VirtualClock())
    yield broker
    assert_accounted(broker)


@pytest.fixture
def virtual_clock(virtual_broker: Broker) -> VirtualClock:
    clock = virtual_broker.clock
    assert isinstance(clock, VirtualClock)
    return clock


@pytest.fixture
def virtual_url(virtual_broker: Broker) -> Iterator[str]:
    with serve(virtual_broker) as url:
        yield url


def pika_parameters(url: str, **overrides: object) -> pika.URLParameters:
    """URL parameters with short timeouts so no connection attempt can hang."""
    params = pika.URLParameters(url)
    params.socket_timeout = CLIENT_TIMEOUT
    params.stack_timeout = CLIENT_TIMEOUT
    params.blocked_connection_timeout = CLIENT_TIMEOUT
    params.connection_attempts = 1
    params.retry_delay = 0
    for name, value in overrides.items():
        setattr(params, name, value)
    return params


def with_credentials(url: str, user: str, password: str) -> str:
    """The same URL with another user and password."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest.split('@', 1)[1]}"


def with_vhost(url: str, vhost: str) -> str:
    """The same URL naming another (URL-quoted) virtual host."""
    return url.rsplit("/", 1)[0] + "/" + vhost


PikaConnect = Callable[..., pika.BlockingConnection]


@pytest.fixture
def connect_pika(amqp_url: str) -> Iterator[PikaConnect]:
    """``connect_pika(url=amqp_url, **parameter_overrides)``: a BlockingConnection closed at teardown."""
    opened: list[pika.BlockingConnection] = []

    def connect(url: str | None = None, **overrides: object) -> pika.BlockingConnection:
        connection = pika.BlockingConnection(pika_parameters(url or amqp_url, **overrides))
        opened.append(connection)
        return connection

    yield connect
    for connection in opened:
        if connection.is_open:
            connection.close()


@pytest.fixture
def pika_connection(connect_pika: PikaConnect) -> pika.BlockingConnection:
    return connect_pika()


@pytest.fixture
def pika_channel(
    pika_connection: pika.BlockingConnection,
) -> pika.adapters.blocking_connection.BlockingChannel:
    return pika_connection.channel()


@pytest.fixture
def wait() -> Callable[..., None]:
    """The ``wait_until`` helper as a fixture (test modules cannot import conftest)."""
    return wait_until


def wait_until(
    predicate: Callable[[], object],
    timeout: float = CLIENT_TIMEOUT,
    pump: Callable[[], object] | None = None,
    interval: float = 0.005,
) -> None:
    """Poll ``predicate`` (calling ``pump`` between polls) until true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        if pump is not None:
            pump()
        else:
            time.sleep(interval)


@pytest.fixture
def make_url(amqp_url: str) -> Callable[..., str]:
    """``make_url(user=..., password=..., vhost=...)``: the server URL with other credentials/vhost."""

    def make(user: str = "guest", password: str = "guest", vhost: str | None = None) -> str:
        url = with_credentials(amqp_url, user, password)
        if vhost is not None:
            url = with_vhost(url, quote(vhost, safe=""))
        return url

    return make
