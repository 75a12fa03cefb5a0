"""The management API under version profiles (spec 0.x): the versions it reports, and
``GET /api/aliveness-test/{vhost}``, a round trip before 4.0.6 and a no-op after (0.x.24)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
from _mgmt_helpers import Api

from amqpmodel import Broker
from amqpmodel.server import serve
from amqpmodel.testing import assert_accounted

pytestmark = pytest.mark.timeout(60)

MakeApi = Callable[[str], tuple[Broker, Api]]


@pytest.fixture
def api_of() -> Iterator[MakeApi]:
    """``api_of("4.0.5")``: (broker, Api) of a served broker of that version."""
    brokers: list[Broker] = []
    with contextlib.ExitStack() as stack:

        def make(version: str) -> tuple[Broker, Api]:
            broker = Broker(rabbitmq_version=version)
            brokers.append(broker)
            url = stack.enter_context(serve(broker, management_port=0))
            assert url.management_url is not None
            return broker, Api(url.management_url)

        yield make
    for broker in brokers:
        assert_accounted(broker)


def test_aliveness_test_declares_its_queue_before_4_0_6(api_of: MakeApi) -> None:
    # spec 0.x.24 (18.12)
    broker, api = api_of("4.0.5")
    status, body, _ = api.get("/api/aliveness-test/%2F")
    assert (status, body) == (200, {"status": "ok"})
    queue = broker.queues["aliveness-test"]  # left behind, empty: the message came back
    assert queue.messages_ready == 0 and queue.stats.delivered == 1
    assert api.get("/api/aliveness-test/%2F")[1] == {"status": "ok"}
    assert broker.queues["aliveness-test"].stats.delivered == 2
    broker, api = api_of("4.0.6")
    assert api.get("/api/aliveness-test/%2F")[:2] == (200, {"status": "ok"})
    assert "aliveness-test" not in broker.queues
    broker, api = api_of("3.13")
    assert api.get("/api/aliveness-test/%2F")[:2] == (200, {"status": "ok"})
    assert "aliveness-test" in broker.queues
    assert api.get("/api/aliveness-test/nowhere")[0] == 404


def test_api_reports_the_brokers_rabbitmq_version(api_of: MakeApi) -> None:
    for version, full in (("3.13", "3.13.7"), ("4.3.2", "4.3.2")):
        _, api = api_of(version)
        overview = api.get("/api/overview")[1]
        assert overview["rabbitmq_version"] == full
        assert overview["management_version"] == full
        assert api.get("/api/definitions")[1]["rabbitmq_version"] == full
