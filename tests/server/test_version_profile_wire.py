"""Version profiles over the wire (spec 0.x): connection.start's ``version`` is the
RabbitMQ the broker behaves as; ``serve(rabbitmq_version=...)`` and
``amqpmodel serve --rabbitmq-version`` pick it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pika
import pika.exceptions
import pytest

from amqpmodel import Broker, VirtualClock
from amqpmodel.server import serve
from amqpmodel.testing import assert_accounted

pytestmark = pytest.mark.timeout(60)


def pika_parameters(url: str) -> pika.URLParameters:
    """Short client timeouts, so a broken server fails fast."""
    params = pika.URLParameters(url)
    params.socket_timeout = params.stack_timeout = 5.0
    params.connection_attempts = 1
    return params


def _server_version(url: str) -> str:
    connection = pika.BlockingConnection(pika_parameters(url))
    try:
        version = connection._impl.server_properties["version"]
    finally:
        connection.close()
    return version.decode() if isinstance(version, bytes) else str(version)


@pytest.mark.parametrize(
    ("name", "reported"),
    [("3.13", "3.13.7"), ("4.0", "4.0.9"), ("4.2", "4.2.9"), ("4.3", "4.3.5"), ("4.2.5", "4.2.5")],
)
def test_connection_start_reports_the_brokers_version(name: str, reported: str) -> None:
    broker = Broker(clock=VirtualClock(), rabbitmq_version=name)
    with serve(broker) as url:
        assert _server_version(url) == reported
    assert_accounted(broker)


def test_connection_start_reports_4_2_by_default_and_amqpmodel_in_information() -> None:
    broker = Broker()
    with serve(broker) as url:
        connection = pika.BlockingConnection(pika_parameters(url))
        properties = connection._impl.server_properties
        connection.close()
    assert properties["version"] in ("4.2.9", b"4.2.9")
    information = properties["information"]
    information = information.decode() if isinstance(information, bytes) else information
    assert information.startswith("amqpmodel ") and "RabbitMQ 4.2.9" in information


def test_serve_creates_a_broker_of_the_version_asked() -> None:
    with serve(rabbitmq_version="3.13") as url:
        assert _server_version(url) == "3.13.7"
        connection = pika.BlockingConnection(pika_parameters(url))
        channel = connection.channel()
        channel.queue_declare("t")  # a transient queue: fine in 3.13 (0.x.3)
        connection.close()


def test_serve_refuses_a_version_other_than_its_brokers() -> None:
    with pytest.raises(ValueError, match="behaves as RabbitMQ 4.2.9"):
        with serve(Broker(), rabbitmq_version="4.3"):
            pass  # pragma: no cover
    with pytest.raises(ValueError, match="unknown RabbitMQ version '4.1'"):
        with serve(rabbitmq_version="4.1"):
            pass  # pragma: no cover
    broker = Broker(rabbitmq_version="4.3")
    with serve(broker, rabbitmq_version="4.3.5") as url:  # the same release: fine
        assert _server_version(url) == "4.3.5"


def test_version_rules_apply_over_the_wire() -> None:
    # spec 0.x.3: 4.3's 541 closes the pika connection
    with serve(rabbitmq_version="4.3") as url:
        connection = pika.BlockingConnection(pika_parameters(url))
        channel = connection.channel()
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as info:
            channel.queue_declare("t")
        assert info.value.reply_code == 541
        assert info.value.reply_text.startswith(
            "INTERNAL_ERROR - Feature `transient_nonexcl_queues` is deprecated."
        )


@pytest.fixture
def served_3_13() -> Iterator[int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--no-management", "--rabbitmq-version", "3.13"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("amqpmodel listening on amqp://127.0.0.1:"), line
        yield int(line.split()[3].rsplit(":", 1)[1])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def test_cli_serve_takes_rabbitmq_version(served_3_13: int) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{served_3_13}/%2F"
    assert _server_version(url) == "3.13.7"
    connection = pika.BlockingConnection(pika_parameters(url))
    channel = connection.channel()
    # spec 0.x.5: 3.13's default max message size (128 MiB) takes a 17 MiB body
    channel.queue_declare("big")
    channel.basic_publish("", "big", bytes(17 * 1024 * 1024))
    method, _, body = channel.basic_get("big", auto_ack=True)
    assert method is not None and len(body) == 17 * 1024 * 1024
    connection.close()


def test_cli_refuses_an_unknown_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--no-management", "--rabbitmq-version", "4.1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--rabbitmq-version" in result.stderr
    assert "unknown RabbitMQ version '4.1': known are 3.13" in result.stderr
