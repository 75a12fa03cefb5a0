"""One application suite, three ways: the pika drop-in in process, real pika over
``serve()``, and real pika against RabbitMQ (``AMQPMODEL_RABBITMQ_URL``).

The bodies are identical and so are the expectations: the same exception
classes, reply codes and texts, the same delivered values. Names carry a
random prefix so the RabbitMQ run can share a broker.
"""

from __future__ import annotations

import datetime
import os
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pika
import pika.exceptions
import pytest
from _orders_app import MAX_ATTEMPTS, OrdersApp

import amqpmodel.pika
from amqpmodel import Broker
from amqpmodel.server import serve
from amqpmodel.testing import assert_accounted

RABBITMQ_URL_ENV = "AMQPMODEL_RABBITMQ_URL"


class Backend:
    def __init__(self, name: str, url: str, broker: Broker | None) -> None:
        self.name = name
        self.url = url
        self.broker = broker
        self.opened: list[Any] = []

    def connect(self, url: str | None = None) -> Any:
        parameters = pika.URLParameters(url or self.url)
        if self.name == "inprocess":
            connection = amqpmodel.pika.BlockingConnection(parameters, broker=self.broker)
        else:
            connection = pika.BlockingConnection(parameters)
        self.opened.append(connection)
        return connection

    def close_all(self) -> None:
        for connection in self.opened:
            if connection.is_open:
                connection.close()


@pytest.fixture(params=["inprocess", "socket", "rabbitmq"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "rabbitmq":
        url = os.environ.get(RABBITMQ_URL_ENV)
        if not url:
            pytest.skip(f"{RABBITMQ_URL_ENV} is not set")
        backend = Backend("rabbitmq", url, None)
        yield backend
        backend.close_all()
        return
    broker = Broker()
    if request.param == "inprocess":
        backend = Backend("inprocess", "amqp://guest:guest@localhost:5672/%2F", broker)
        yield backend
        backend.close_all()
    else:
        with serve(broker) as url:
            backend = Backend("socket", url, broker)
            yield backend
            backend.close_all()
    assert_accounted(broker)


@pytest.fixture
def app(backend: Backend) -> Iterator[OrdersApp]:
    app = OrdersApp(backend.connect, f"t{uuid.uuid4().hex[:8]}")
    channel = backend.connect().channel()
    app.declare(channel)
    yield app
    cleanup = backend.connect().channel()
    app.delete(cleanup)
    backend.close_all()


def confirmed_channel(backend: Backend) -> Any:
    channel = backend.connect().channel()
    channel.confirm_delivery()
    return channel


def message_count(backend: Backend, queue: str) -> int:
    channel = backend.connect().channel()
    count: int = channel.queue_declare(queue, passive=True).method.message_count
    channel.close()
    return count


def test_orders_reach_the_workers_through_the_topic_exchange(
    backend: Backend, app: OrdersApp
) -> None:
    publisher = confirmed_channel(backend)
    for kind, order in [("created", "o-1"), ("paid", "o-2"), ("created", "o-3")]:
        app.place(publisher, kind, order)
    worker = backend.connect().channel()
    seen: list[bytes] = []
    outcome = app.work(worker, lambda body, props: seen.append(body), lambda: len(seen) == 3)
    assert outcome == [("done", b"o-1"), ("done", b"o-2"), ("done", b"o-3")]
    assert message_count(backend, app.work_queue) == 0


def test_delivered_properties_have_the_types_pika_decodes(backend: Backend, app: OrdersApp) -> None:
    publisher = confirmed_channel(backend)
    stamp = 1_700_000_000
    publisher.basic_publish(
        app.exchange,
        "order.created",
        b"o-9",
        pika.BasicProperties(
            timestamp=stamp,
            priority=3,
            headers={
                "n": 1,
                "big": 2**40,
                "s": "text",
                "b": b"raw",
                "d": Decimal("1.50"),
                "l": [1, "a"],
                "t": {"k": True},
                "none": None,
                "when": datetime.datetime(2026, 1, 2, 3, 4, 5),
            },
        ),
        mandatory=True,
    )
    channel = backend.connect().channel()
    method, properties, body = channel.basic_get(app.work_queue, auto_ack=True)
    assert isinstance(method, pika.spec.Basic.GetOk)
    assert isinstance(properties, pika.spec.BasicProperties)
    assert (method.exchange, method.routing_key, method.redelivered) == (
        app.exchange,
        "order.created",
        False,
    )
    assert properties.timestamp == stamp and properties.priority == 3
    headers = properties.headers
    # pika decodes what the broker sent back: a long long for 2**40 (pika's ``long``, an int),
    # a byte array as bytes, a decimal, a timestamp as an aware UTC datetime
    assert headers == {
        "n": 1,
        "big": 2**40,
        "s": "text",
        "b": b"raw",
        "d": Decimal("1.5"),
        "l": [1, "a"],
        "t": {"k": True},
        "none": None,
        "when": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    }
    assert isinstance(headers["big"], int) and type(headers["s"]) is str
    assert body == b"o-9" and type(body) is bytes


def test_a_failing_order_is_retried_through_the_ttl_queue_then_parked(
    backend: Backend, app: OrdersApp
) -> None:
    # spec 4: rejected without requeue -> dead-lettered to the retry exchange; the
    # retry queue's TTL (spec 3) dead-letters it back; x-death counts each hop
    publisher = confirmed_channel(backend)
    app.place(publisher, "created", "bad-1")
    worker = backend.connect().channel()
    outcome: list[tuple[str, bytes]] = []

    def fail(body: bytes, props: Any) -> None:
        raise ValueError(body)

    outcome = app.work(worker, fail, lambda: message_count(backend, app.parked_queue) == 1)
    assert outcome == [("retry", b"bad-1")] * (MAX_ATTEMPTS - 1) + [("parked", b"bad-1")]
    parked = backend.connect().channel()
    method, properties, body = parked.basic_get(app.parked_queue, auto_ack=True)
    assert body == b"bad-1"
    deaths = properties.headers["x-death"]
    assert [
        (d["queue"], d["reason"], d["count"], d["exchange"], d["routing-keys"]) for d in deaths
    ] == [
        (app.retry_queue, "expired", MAX_ATTEMPTS - 1, app.retry_exchange, ["order.created"]),
        (app.work_queue, "rejected", MAX_ATTEMPTS - 1, app.exchange, ["order.created"]),
    ]
    assert all(isinstance(d["time"], datetime.datetime) for d in deaths)
    assert properties.headers["x-first-death-reason"] == "rejected"
    assert properties.headers["x-first-death-queue"] == app.work_queue
    assert message_count(backend, app.retry_queue) == 0


def test_the_pricing_service_answers_over_rpc(backend: Backend, app: OrdersApp) -> None:
    ready, stop = threading.Event(), threading.Event()
    service = threading.Thread(target=app.serve_prices, args=(ready, stop), daemon=True)
    service.start()
    assert ready.wait(5)
    try:
        client = backend.connect()
        assert [app.price(client, item) for item in ("pen", "laptop")] == [30, 60]
    finally:
        stop.set()
        service.join(5)


def test_a_mandatory_order_nobody_takes_comes_back(backend: Backend, app: OrdersApp) -> None:
    # spec 8.4 mandatory with no queue: basic.return (312 NO_ROUTE) before the ack (8.2)
    publisher = confirmed_channel(backend)
    with pytest.raises(pika.exceptions.UnroutableError) as raised:
        publisher.basic_publish(app.exchange, "invoice.sent", b"i-1", mandatory=True)
    (returned,) = raised.value.messages
    assert (returned.method.reply_code, returned.method.reply_text) == (312, "NO_ROUTE")
    assert (returned.method.exchange, returned.method.routing_key, returned.body) == (
        app.exchange,
        "invoice.sent",
        b"i-1",
    )
    publisher.basic_publish(app.exchange, "invoice.sent", b"i-2")  # not mandatory: dropped
    assert publisher.is_open


def test_a_full_queue_nacks_the_publish(backend: Backend, app: OrdersApp) -> None:
    # spec 5 x-overflow reject-publish, 8.3: a confirm nack
    channel = confirmed_channel(backend)
    queue = f"{app.prefix}.bounded"
    channel.queue_declare(queue, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    channel.basic_publish("", queue, b"first")
    with pytest.raises(pika.exceptions.NackError):
        channel.basic_publish("", queue, b"second")
    channel.queue_delete(queue)


def test_errors_close_the_channel_with_rabbitmqs_reply(backend: Backend, app: OrdersApp) -> None:
    connection = backend.connect()
    channel = connection.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as raised:
        channel.queue_declare(app.work_queue, durable=True)
    assert (raised.value.reply_code, raised.value.reply_text) == (
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'durable' for queue '{app.work_queue}' "
        "in vhost '/': received 'true' but current is 'false'",
    )
    assert channel.is_closed
    with pytest.raises(pika.exceptions.ChannelWrongStateError):
        channel.basic_publish("", app.work_queue, b"x")

    channel = connection.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as raised:
        channel.basic_publish(f"{app.prefix}.nowhere", "k", b"x")
        channel.queue_declare(app.work_queue, passive=True)  # the close arrives by now
    assert (raised.value.reply_code, raised.value.reply_text) == (
        404,
        f"NOT_FOUND - no exchange '{app.prefix}.nowhere' in vhost '/'",
    )

    channel = connection.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as raised:
        channel.basic_ack(99)
        channel.queue_declare(app.work_queue, passive=True)
    assert (raised.value.reply_code, raised.value.reply_text) == (
        406,
        "PRECONDITION_FAILED - unknown delivery tag 99",
    )

    owner = connection.channel()
    locked = owner.queue_declare("", exclusive=True).method.queue
    other = backend.connect().channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as raised:
        other.basic_consume(locked, lambda *args: None)
    assert raised.value.reply_code == 405
    assert raised.value.reply_text.startswith(
        f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{locked}' in vhost '/'"
    )
    assert connection.is_open


def test_a_wrong_password_or_vhost_is_refused_as_rabbitmq_refuses_it(backend: Backend) -> None:
    base = pika.URLParameters(backend.url)
    host = f"{base.host}:{base.port}"
    with pytest.raises(pika.exceptions.ProbableAuthenticationError) as raised:
        backend.connect(f"amqp://guest:wrong@{host}/%2F")
    assert "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN" in str(
        raised.value
    )
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError) as raised:
        backend.connect(f"amqp://guest:guest@{host}/no-such-vhost")
    assert "NOT_ALLOWED - vhost no-such-vhost not found" in str(raised.value)


def test_requeueing_after_changing_the_headers_changes_nothing(
    backend: Backend, app: OrdersApp
) -> None:
    publisher = confirmed_channel(backend)
    app.place(publisher, "created", "o-7", attempt=1)
    channel = backend.connect().channel()
    method, properties, _ = channel.basic_get(app.work_queue)
    properties.headers["attempt"] += 1
    channel.basic_nack(method.delivery_tag, requeue=True)
    method, properties, _ = channel.basic_get(app.work_queue, auto_ack=True)
    assert method.redelivered and properties.headers == {"attempt": 1}
