"""Shovels against a real RabbitMQ (skipped unless ``AMQPMODEL_RABBITMQ_URL`` is set):
amqpmodel's shovel moving messages into RabbitMQ, and RabbitMQ's own shovel plugin
(through its management API, when reachable) answering the same definitions with the
same validation texts and forwarding headers as ours (spec 20)."""

from __future__ import annotations

import base64
import html
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pika
import pytest
from _helpers import status_of, wait_until

from amqpmodel import BasicProperties, Broker, ParameterError

RABBITMQ_URL = os.environ.get("AMQPMODEL_RABBITMQ_URL", "")
pytestmark = [
    pytest.mark.skipif(not RABBITMQ_URL, reason="AMQPMODEL_RABBITMQ_URL is not set"),
    pytest.mark.timeout(60),
]


class Management:
    """RabbitMQ's HTTP API beside the AMQP URL (``AMQPMODEL_RABBITMQ_MANAGEMENT_URL``, else
    port 15672 of the same host), with the AMQP URL's credentials."""

    def __init__(self) -> None:
        amqp = urllib.parse.urlsplit(RABBITMQ_URL)
        self.base = os.environ.get(
            "AMQPMODEL_RABBITMQ_MANAGEMENT_URL", f"http://{amqp.hostname}:15672"
        ).rstrip("/")
        credentials = f"{amqp.username or 'guest'}:{amqp.password or 'guest'}"
        self.auth = "Basic " + base64.b64encode(credentials.encode()).decode()

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + "/api" + path,
            method=method,
            data=data,
            headers={"authorization": self.auth, "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            return error.code, json.loads(text) if text else None


@pytest.fixture
def management() -> Management:
    api = Management()
    try:
        status, _ = api.request("GET", "/shovels")
    except OSError as error:
        pytest.skip(f"RabbitMQ's management API is not reachable: {error}")
    if status != 200:
        pytest.skip("RabbitMQ's shovel management plugin is not enabled")
    return api


def _rabbitmq_channel() -> tuple[pika.BlockingConnection, Any]:
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    return connection, connection.channel()


def test_a_shovel_into_rabbitmq(source: Broker) -> None:
    queue = f"amqpmodel-shovel-{uuid.uuid4().hex[:8]}"
    channel = source.connect().channel()
    channel.queue_declare("in")
    for i in range(100):
        channel.basic_publish("", "in", f"m{i}".encode(), BasicProperties(headers={"i": i}))
    source.set_parameter(
        "shovel",
        "to-rabbitmq",
        {
            "src-uri": "amqp://",
            "src-queue": "in",
            "dest-uri": RABBITMQ_URL,
            "dest-queue": queue,
            "dest-add-forward-headers": True,
            "src-delete-after": "queue-length",
        },
    )
    wait_until(lambda: source.list_parameters("shovel") == [], "the transfer done")
    connection, rabbit = _rabbitmq_channel()
    try:
        received = []
        while (got := rabbit.basic_get(queue, auto_ack=True))[0] is not None:
            received.append(got)
        assert [body for _, _, body in received] == [f"m{i}".encode() for i in range(100)]
        headers = received[0][1].headers
        assert headers["i"] == 0
        table = headers["x-shovelled"][0]
        assert table["shovel-name"] == "to-rabbitmq" and table["dest-queue"] == queue
        assert table["dest-uri"].startswith("amqp://") and "@" not in table["dest-uri"]
        declared = rabbit.queue_declare(queue, passive=True, durable=True)
        assert declared.method.message_count == 0
    finally:
        rabbit.queue_delete(queue)
        connection.close()


CASES: dict[str, Any] = {
    "both-sources": {
        "src-uri": "amqp://",
        "src-queue": "q",
        "src-exchange": "x",
        "dest-uri": "amqp://",
        "ack-mode": "maybe",
        "foo": 1,
    },
    "no-ack-count": {
        "src-uri": "amqp://",
        "src-queue": "q",
        "dest-uri": "amqp://",
        "ack-mode": "no-ack",
        "delete-after": 5,
    },
    "missing-uris": {"src-queue": "q"},
    "bad-uris": {"src-uri": "amqp://", "src-queue": "q", "dest-uri": "amqp://h:70000"},
    "bad-keys": {
        "src-uri": "amqp://",
        "src-queue": "q",
        "dest-uri": "amqp://",
        "reconnect-delay": "5",
        "dest-add-forward-headers": "yes",
        "dest-queue": "q" * 256,
    },
    "delete-after": {
        "src-uri": "amqp://",
        "src-queue": "q",
        "dest-uri": "amqp://",
        "src-delete-after": "always",
    },
    "properties": {
        "src-uri": "amqp://",
        "src-queue": "q",
        "dest-uri": "amqp://",
        "dest-publish-properties": {"delivery_mode": "2", "colour": "red", "app_id": 1},
    },
    "uri-list": {"src-uri": ["amqp://", "ftp://x"], "src-queue": "q", "dest-uri": 5},
    "an-array": ["amqp://"],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_validation_texts_are_rabbitmqs(name: str, management: Management) -> None:
    status, body = management.request(
        "PUT", f"/parameters/shovel/%2F/{name}", {"value": CASES[name]}
    )
    if status in (201, 204):
        management.request("DELETE", f"/parameters/shovel/%2F/{name}")
    assert status == 400, body
    broker = Broker()
    try:
        with pytest.raises(ParameterError) as raised:
            broker.set_parameter("shovel", name, CASES[name])
    finally:
        broker.close()
    # RabbitMQ 3.x's management API HTML-escapes the reason
    assert raised.value.reason == html.unescape(body["reason"])


def test_forwarded_headers_and_status_are_rabbitmqs(source: Broker, management: Management) -> None:
    """The same definition on RabbitMQ's plugin and on amqpmodel: the same x-shovelled
    table (but for who shovelled it) and the same status fields."""
    suffix = uuid.uuid4().hex[:8]
    definition = {
        "src-uri": "amqp://",
        "src-queue": f"shovel-in-{suffix}",
        "dest-uri": "amqp://",
        "dest-queue": f"shovel-out-{suffix}",
        "dest-add-forward-headers": True,
        "dest-add-timestamp-header": True,
    }
    connection, rabbit = _rabbitmq_channel()
    name = f"parity-{suffix}"
    try:
        rabbit.queue_declare(definition["src-queue"])
        rabbit.queue_declare(definition["dest-queue"], durable=True)  # to poll it at once
        rabbit.basic_publish("", definition["src-queue"], b"x")
        status, _ = management.request(
            "PUT", f"/parameters/shovel/%2F/{name}", {"value": definition}
        )
        assert status == 201
        deadline = time.monotonic() + 20
        while (got := rabbit.basic_get(definition["dest-queue"], auto_ack=True))[0] is None:
            assert time.monotonic() < deadline, "RabbitMQ's shovel moved nothing"
            time.sleep(0.05)
        theirs_headers = got[1].headers
        _, shovels = management.request("GET", "/shovels")
        theirs_status = next(s for s in shovels if s["name"] == name)
    finally:
        management.request("DELETE", f"/parameters/shovel/%2F/{name}")
        for queue in (definition["src-queue"], definition["dest-queue"]):
            rabbit.queue_delete(queue)
        connection.close()

    channel = source.connect().channel()
    channel.queue_declare(definition["src-queue"])
    channel.queue_declare(definition["dest-queue"], durable=True)
    channel.basic_publish("", definition["src-queue"], b"x")
    source.set_parameter("shovel", name, definition)
    wait_until(
        lambda: (
            source.queues.get(definition["dest-queue"])
            and source.queues[definition["dest-queue"]].messages
        ),
        "moved",
    )
    ours_headers = source.queues[definition["dest-queue"]].peek()[0].properties.headers
    ours_status = status_of(source, name)
    assert ours_status is not None

    assert set(ours_headers) == set(theirs_headers)
    ours_table, theirs_table = ours_headers["x-shovelled"][0], theirs_headers["x-shovelled"][0]
    assert list(ours_table) == list(theirs_table)
    assert {k: v for k, v in ours_table.items() if k != "shovelled-by"} == {
        k: v for k, v in theirs_table.items() if k != "shovelled-by"
    }
    # RabbitMQ 4.1 added the counters, and the API a node name: compare what 3.x reports too
    shared = set(theirs_status) - {"node"}
    assert shared <= set(ours_status)
    assert {k: ours_status[k] for k in shared - {"timestamp"}} == {
        k: theirs_status[k] for k in shared - {"timestamp"}
    }
