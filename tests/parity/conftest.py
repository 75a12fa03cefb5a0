"""Backends for the parity scenarios: the same test body run in-process, over the wire, and on RabbitMQ.

The ``backend`` fixture is parametrised over:

- ``inprocess``: amqpmodel's Channel API directly (``Broker().connect().channel()``);
- ``wire``: pika's BlockingConnection to ``amqpmodel.server.serve(Broker())``;
- ``rabbitmq``: pika to ``$AMQPMODEL_RABBITMQ_URL`` (skipped when unset).

Both amqpmodel brokers run on the real clock so TTL waits are real on every
backend. ``backend.client()`` opens a connection and channel and wraps them in
a ``Client`` whose methods return plain data (dicts, ints, strings), so one
scenario body checks all three. Broker refusals come out as ``BrokerError``
with ``(code, text)``, whichever library raised them.
"""

from __future__ import annotations

import datetime
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pika
import pika.exceptions
import pytest

import amqpmodel
from amqpmodel import Broker
from amqpmodel.server import serve
from amqpmodel.testing import assert_accounted

RABBITMQ_URL_ENV = "AMQPMODEL_RABBITMQ_URL"
CLIENT_TIMEOUT = 5.0
BACKENDS = ("inprocess", "wire", "rabbitmq")

PROPERTY_NAMES = (
    "content_type",
    "content_encoding",
    "headers",
    "delivery_mode",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "type",
    "user_id",
    "app_id",
    "cluster_id",
)


class BrokerError(Exception):
    """A channel or connection close sent by the broker, normalised to (code, text)."""

    def __init__(self, code: int, text: str, connection: bool) -> None:
        super().__init__(code, text)
        self.code = code
        self.text = text
        self.connection = connection

    @property
    def outcome(self) -> tuple[int, str]:
        return (self.code, self.text)


def _normalise_value(value: Any) -> Any:
    """Header values as plain comparable data (pika hands back bytes for non-UTF-8 longstr)."""
    if isinstance(value, dict):
        return {key: _normalise_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise_value(item) for item in value]
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None)
    return value


def properties_dict(props: Any) -> dict[str, Any]:
    """Every property that is set, as a plain dict."""
    if props is None:
        return {}
    out = {}
    for name in PROPERTY_NAMES:
        value = getattr(props, name, None)
        if value is not None:
            out[name] = _normalise_value(value)
    return out


def delivery_dict(method: Any, props: Any, body: bytes) -> dict[str, Any]:
    """A deliver or get-ok with its content as plain data."""
    out: dict[str, Any] = {
        "body": bytes(body),
        "delivery_tag": method.delivery_tag,
        "redelivered": method.redelivered,
        "exchange": method.exchange,
        "routing_key": method.routing_key,
        "properties": properties_dict(props),
    }
    if hasattr(method, "consumer_tag"):
        out["consumer_tag"] = method.consumer_tag
    if hasattr(method, "message_count"):
        out["message_count"] = method.message_count
    return out


class Client:
    """One connection and channel of a backend, with plain-data results.

    After a channel error the channel is reopened (and the connection after a
    connection error) on the next call, so a scenario can go on.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.connection: Any = None
        self.channel: Any = None
        self.deliveries: list[dict[str, Any]] = []
        self.returns: list[dict[str, Any]] = []
        self.cancelled: list[str] = []
        self._open()

    # -- plumbing -----------------------------------------------------------
    def _open(self) -> None:
        if self.connection is None or not self.connection.is_open:
            self.connection = self.backend.open_connection()
            self.channel = None
        if self.channel is None or not self.channel.is_open:
            self.channel = self.connection.channel()
            self.channel.add_on_return_callback(self._on_return)
            self.channel.add_on_cancel_callback(self._on_cancel)

    def _on_return(self, _channel: Any, method: Any, props: Any, body: bytes) -> None:
        self.returns.append(
            {
                "reply_code": method.reply_code,
                "reply_text": method.reply_text,
                "exchange": method.exchange,
                "routing_key": method.routing_key,
                "body": bytes(body),
                "properties": properties_dict(props),
            }
        )

    def _on_cancel(self, method: Any) -> None:
        frame_method = getattr(method, "method", method)
        self.cancelled.append(frame_method.consumer_tag)

    def _call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self._open()
        try:
            return func(self.channel, *args, **kwargs)
        except Exception as exc:
            error = self.backend.normalise_error(exc)
            if error is None:
                raise
            raise error from exc

    def close(self) -> None:
        if self.connection is not None and self.connection.is_open:
            try:
                self.connection.close()
            except Exception:  # already closing: nothing to clean up
                pass

    # -- exchanges and queues -------------------------------------------------
    def declare_exchange(self, name: str, exchange_type: str = "direct", **kwargs: Any) -> None:
        if not kwargs.get("passive"):
            self.backend.created_exchanges.append(name)
        self._call(lambda ch: ch.exchange_declare(name, exchange_type=exchange_type, **kwargs))

    def delete_exchange(self, name: str, if_unused: bool = False) -> None:
        self._call(lambda ch: ch.exchange_delete(name, if_unused=if_unused))

    def declare_queue(self, name: str, **kwargs: Any) -> tuple[str, int, int]:
        """Returns (queue, message_count, consumer_count) of declare-ok."""
        result = self._call(lambda ch: ch.queue_declare(name, **kwargs))
        ok = result.method
        if not kwargs.get("passive"):
            self.backend.created_queues.append(ok.queue)
        return (ok.queue, ok.message_count, ok.consumer_count)

    def bind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self._call(
            lambda ch: ch.queue_bind(queue, exchange, routing_key=routing_key, arguments=arguments)
        )

    def unbind(
        self,
        queue: str,
        exchange: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self._call(
            lambda ch: ch.queue_unbind(
                queue, exchange, routing_key=routing_key, arguments=arguments
            )
        )

    def bind_exchange(
        self,
        destination: str,
        source: str,
        routing_key: str = "",
        arguments: dict[str, Any] | None = None,
    ) -> None:
        self._call(
            lambda ch: ch.exchange_bind(
                destination, source, routing_key=routing_key, arguments=arguments
            )
        )

    def purge(self, queue: str) -> int:
        return int(self._call(lambda ch: ch.queue_purge(queue)).method.message_count)

    def delete_queue(self, queue: str, if_unused: bool = False, if_empty: bool = False) -> int:
        result = self._call(
            lambda ch: ch.queue_delete(queue, if_unused=if_unused, if_empty=if_empty)
        )
        return int(result.method.message_count)

    # -- publishing -------------------------------------------------------------
    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes | str,
        properties: dict[str, Any] | None = None,
        mandatory: bool = False,
    ) -> str | None:
        """Publish; on a confirming channel returns "ack", "nack" or "returned"."""
        body = body.encode() if isinstance(body, str) else body
        props = self.backend.make_properties(properties) if properties else None
        try:
            self._call(
                lambda ch: ch.basic_publish(
                    exchange, routing_key, body, properties=props, mandatory=mandatory
                )
            )
        except (pika.exceptions.UnroutableError, amqpmodel.UnroutableError):
            self.pump()
            return "returned"
        except (pika.exceptions.NackError, amqpmodel.NackError):
            return "nack"
        return "ack" if self.confirming else None

    confirming = False

    def confirm(self) -> None:
        self._call(lambda ch: ch.confirm_delivery())
        self.confirming = True

    def tx_select(self) -> None:
        self._call(lambda ch: ch.tx_select())

    def tx_commit(self) -> None:
        self._call(lambda ch: ch.tx_commit())

    def tx_rollback(self) -> None:
        self._call(lambda ch: ch.tx_rollback())

    # -- getting and consuming --------------------------------------------------
    def get(self, queue: str, auto_ack: bool = False) -> dict[str, Any] | None:
        method, props, body = self._call(lambda ch: ch.basic_get(queue, auto_ack=auto_ack))
        if method is None:
            return None
        return delivery_dict(method, props, body)

    def get_eventually(self, queue: str, timeout: float = 1.0) -> dict[str, Any] | None:
        """basic.get (auto-ack) until a message comes (dead-lettering is asynchronous in RabbitMQ)."""
        deadline = time.monotonic() + timeout
        while (got := self.get(queue, auto_ack=True)) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return got

    def get_bodies(self, queue: str, auto_ack: bool = True) -> list[bytes]:
        """basic.get until get-empty; the bodies in order."""
        bodies = []
        while (got := self.get(queue, auto_ack=auto_ack)) is not None:
            bodies.append(got["body"])
        return bodies

    def consume(
        self,
        queue: str,
        auto_ack: bool = False,
        exclusive: bool = False,
        arguments: dict[str, Any] | None = None,
        consumer_tag: str | None = None,
    ) -> str:
        """Start a consumer whose deliveries collect in ``self.deliveries``; returns its tag."""

        def on_message(_channel: Any, method: Any, props: Any, body: bytes) -> None:
            self.deliveries.append(delivery_dict(method, props, body))

        kwargs: dict[str, Any] = {
            "auto_ack": auto_ack,
            "exclusive": exclusive,
            "arguments": arguments,
        }
        if consumer_tag is not None:
            kwargs["consumer_tag"] = consumer_tag
        return str(self._call(lambda ch: ch.basic_consume(queue, on_message, **kwargs)))

    def cancel(self, consumer_tag: str) -> None:
        self._call(lambda ch: ch.basic_cancel(consumer_tag))

    def pump(self, seconds: float = 0.0) -> None:
        """Process incoming events for ``seconds`` of real time (at least once)."""
        deadline = time.monotonic() + seconds
        while True:
            step = max(0.0, min(deadline - time.monotonic(), 0.02))
            self._call(lambda _ch, step=step: self.connection.process_data_events(time_limit=step))
            if time.monotonic() >= deadline:
                return

    def wait(self, n: int, timeout: float = 1.0) -> list[dict[str, Any]]:
        """Deliveries collected so far, waiting up to ``timeout`` for at least ``n``; clears them."""
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < n and time.monotonic() < deadline:
            self._call(lambda _ch: self.connection.process_data_events(time_limit=0.01))
        out, self.deliveries = self.deliveries, []
        return out

    def settle(self, seconds: float = 0.1) -> list[dict[str, Any]]:
        """Everything delivered within ``seconds`` (to check that nothing more arrives)."""
        self.pump(seconds)
        out, self.deliveries = self.deliveries, []
        return out

    # -- settling ---------------------------------------------------------------
    def ack(self, delivery_tag: int, multiple: bool = False) -> None:
        self._call(lambda ch: ch.basic_ack(delivery_tag, multiple=multiple))

    def nack(self, delivery_tag: int, multiple: bool = False, requeue: bool = True) -> None:
        self._call(lambda ch: ch.basic_nack(delivery_tag, multiple=multiple, requeue=requeue))

    def reject(self, delivery_tag: int, requeue: bool = True) -> None:
        self._call(lambda ch: ch.basic_reject(delivery_tag, requeue=requeue))

    def qos(self, prefetch_count: int, global_qos: bool = False) -> None:
        self._call(lambda ch: ch.basic_qos(prefetch_count=prefetch_count, global_qos=global_qos))

    def recover(self) -> None:
        self._call(lambda ch: ch.basic_recover(requeue=True))

    def error_of(self, func: Callable[[], Any]) -> tuple[int, str]:
        """Run ``func`` (then a round trip) and return the (code, text) of the broker's refusal."""
        try:
            func()
            self.sync_round_trip()
        except BrokerError as error:
            return error.outcome
        raise AssertionError("the broker refused nothing")

    def sync_round_trip(self) -> None:
        # exchange.declare of amq.direct passive: a cheap synchronous method with no side effect
        self._call(lambda ch: ch.exchange_declare("amq.direct", passive=True))


class Backend:
    """What a scenario gets as ``backend``: a way to open clients, unique names, and cleanup."""

    def __init__(self, name: str, url: str | None, broker: Broker | None) -> None:
        self.name = name
        self.url = url
        self.broker = broker
        self.clients: list[Client] = []
        self.created_queues: list[str] = []
        self.created_exchanges: list[str] = []
        self.token = uuid.uuid4().hex[:10]

    def unique(self, prefix: str) -> str:
        """A name no other test (nor a concurrent run on the shared RabbitMQ) uses."""
        return f"parity.{prefix}.{self.token}.{uuid.uuid4().hex[:6]}"

    def client(self) -> Client:
        client = Client(self)
        self.clients.append(client)
        return client

    def open_connection(self) -> Any:
        if self.name == "inprocess":
            assert self.broker is not None
            return self.broker.connect()
        assert self.url is not None
        params = pika.URLParameters(self.url)
        params.socket_timeout = CLIENT_TIMEOUT
        params.stack_timeout = CLIENT_TIMEOUT
        params.blocked_connection_timeout = CLIENT_TIMEOUT
        params.connection_attempts = 1
        return pika.BlockingConnection(params)

    def make_properties(self, properties: dict[str, Any]) -> Any:
        if self.name == "inprocess":
            return amqpmodel.BasicProperties(**properties)
        return pika.BasicProperties(**properties)

    def normalise_error(self, exc: BaseException) -> BrokerError | None:
        if isinstance(exc, amqpmodel.AMQPError) and not isinstance(
            exc, (amqpmodel.UnroutableError, amqpmodel.NackError)
        ):
            return BrokerError(exc.reply_code, exc.reply_text, exc.is_connection_error)
        if isinstance(exc, pika.exceptions.ChannelClosedByBroker):
            return BrokerError(exc.reply_code, exc.reply_text, False)
        if isinstance(exc, pika.exceptions.ConnectionClosedByBroker):
            return BrokerError(exc.reply_code, exc.reply_text, True)
        return None

    def cleanup(self) -> None:
        for client in self.clients:
            client.close()
        if self.name != "rabbitmq":
            return
        # RabbitMQ is shared: remove what this test declared.
        client = Client(self)
        try:
            for queue in self.created_queues:
                try:
                    client._call(lambda ch, q=queue: ch.queue_delete(q))
                except BrokerError:
                    pass
            for exchange in self.created_exchanges:
                try:
                    client._call(lambda ch, x=exchange: ch.exchange_delete(x))
                except BrokerError:
                    pass
        finally:
            client.close()


def _backend_params() -> list[Any]:
    return [pytest.param(name, id=name) for name in BACKENDS]


@pytest.fixture(params=_backend_params())
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    name = request.param
    if name == "inprocess":
        broker = Broker()
        be = Backend(name, None, broker)
        yield be
        be.cleanup()
        assert_accounted(broker)
    elif name == "wire":
        broker = Broker()
        with serve(broker) as url:
            be = Backend(name, url, broker)
            yield be
            be.cleanup()
        assert_accounted(broker)
    else:
        url = os.environ.get(RABBITMQ_URL_ENV)
        if not url:
            pytest.skip(f"{RABBITMQ_URL_ENV} is not set")
        be = Backend(name, url, None)
        yield be
        be.cleanup()


@pytest.fixture
def c(backend: Backend) -> Client:
    """The first client of the backend."""
    return backend.client()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("rabbitmq_differs")
        callspec = getattr(item, "callspec", None)
        if marker is None or callspec is None or callspec.params.get("backend") != "rabbitmq":
            continue
        item.add_marker(pytest.mark.xfail(strict=True, reason=marker.args[0]))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "rabbitmq_differs(reason): RabbitMQ 3.10 differs from the spec (xfail strict there)",
    )
