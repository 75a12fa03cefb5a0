"""Fixtures for the management API tests: a server with its management and Prometheus
ports on free loopback ports, and a small HTTP client (the standard library's)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pika
import pytest
from _mgmt_helpers import Api

from amqpmodel import Broker
from amqpmodel.server import ServeURL, serve
from amqpmodel.testing import assert_accounted

pytest.importorskip("aiohttp")


@pytest.fixture
def broker() -> Iterator[Broker]:
    broker = Broker()
    yield broker
    assert_accounted(broker)


@pytest.fixture
def served(broker: Broker) -> Iterator[ServeURL]:
    with serve(broker, management_port=0, prometheus_port=0) as url:
        yield url


@pytest.fixture
def api(served: ServeURL) -> Api:
    assert served.management_url is not None
    return Api(served.management_url)


@pytest.fixture
def pika_channel(served: ServeURL) -> Iterator[Any]:
    connection = pika.BlockingConnection(pika.URLParameters(served))
    yield connection.channel()
    if connection.is_open:
        connection.close()
