"""Log lines with the facts RabbitMQ's carry (issue 14 "Logs"), one line each, a
logger per area: connections accepted and closed (user, vhost, peer), channel
errors with their reply text, consumer timeouts, refused logins and why."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pika
import pika.exceptions
import pytest

from amqpmodel import Broker
from amqpmodel.server import serve

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def url(caplog: pytest.LogCaptureFixture) -> Iterator[str]:
    caplog.set_level(logging.INFO, logger="amqpmodel")
    broker = Broker(consumer_timeout=0.3)
    broker.add_user("app", "secret")
    with serve(broker) as served:
        yield served


def _records(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger]


def _wait_for(caplog: pytest.LogCaptureFixture, text: str) -> logging.LogRecord:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for record in caplog.records:
            if text in record.getMessage():
                return record
        time.sleep(0.01)
    raise AssertionError(f"no log line with {text!r}: {[r.getMessage() for r in caplog.records]}")


def _parameters(
    url: str, user: str = "guest", password: str = "guest", vhost: str = "/"
) -> pika.ConnectionParameters:
    base = pika.URLParameters(url)
    return pika.ConnectionParameters(
        base.host, base.port, vhost, pika.PlainCredentials(user, password), connection_attempts=1
    )


def test_a_connection_is_logged_when_accepted_opened_and_closed(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    connection = pika.BlockingConnection(_parameters(url))
    local_port = connection._impl._transport._sock.getsockname()[1]
    connection.close()
    name = f"127.0.0.1:{local_port} -> 127.0.0.1:{pika.URLParameters(url).port}"
    closed = _wait_for(caplog, "closing AMQP connection")
    messages = [r.getMessage() for r in _records(caplog, "amqpmodel.connection")]
    assert f"accepting AMQP connection {name}" in messages
    assert (
        f"connection {name}: user 'guest' authenticated and granted access to vhost '/'" in messages
    )
    assert closed.getMessage() == f"closing AMQP connection {name} (vhost: '/', user: 'guest')"
    assert closed.levelno == logging.INFO and "\n" not in closed.getMessage()


def test_a_client_that_vanishes_is_a_warning(url: str, caplog: pytest.LogCaptureFixture) -> None:
    connection = pika.BlockingConnection(_parameters(url))
    connection._impl._transport._sock.close()  # no connection.close
    record = _wait_for(caplog, "client unexpectedly closed TCP connection")
    assert record.levelno == logging.WARNING and record.name == "amqpmodel.connection"
    assert "(vhost: '/', user: 'guest')" in record.getMessage()


@pytest.mark.parametrize(
    ("user", "password", "why"),
    [("guest", "wrong", "wrong password"), ("nobody", "x", "no such user")],
)
def test_a_refused_login_names_its_reason(
    url: str, caplog: pytest.LogCaptureFixture, user: str, password: str, why: str
) -> None:
    # spec 15.10: the client is told only "Login was refused"; the log says why
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(_parameters(url, user, password))
    record = _wait_for(caplog, "login refused")
    assert record.levelno == logging.ERROR and record.name == "amqpmodel.connection"
    assert record.getMessage().endswith(
        f"(state: starting): PLAIN login refused: user '{user}' - invalid credentials ({why})"
    )


def test_a_missing_vhost_is_logged(url: str, caplog: pytest.LogCaptureFixture) -> None:
    # spec 15.9
    with pytest.raises(pika.exceptions.ProbableAccessDeniedError):
        pika.BlockingConnection(_parameters(url, "app", "secret", "nowhere"))
    record = _wait_for(caplog, "not found")
    assert record.getMessage().endswith("(user: 'app', state: opening): vhost nowhere not found")


def test_a_channel_error_is_logged_with_its_reply_text(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    connection = pika.BlockingConnection(_parameters(url))
    channel = connection.channel()
    with pytest.raises(pika.exceptions.ChannelClosedByBroker):
        channel.queue_declare("missing", passive=True)
    record = _wait_for(caplog, "Channel error")
    assert record.name == "amqpmodel.channel" and record.levelno == logging.ERROR
    assert record.getMessage().endswith(
        "(vhost: '/', user: 'guest'), channel 1: operation queue.declare caused a channel "
        "exception not_found: no queue 'missing' in vhost '/'"
    )
    connection.close()


def test_a_consumer_timeout_is_logged(url: str, caplog: pytest.LogCaptureFixture) -> None:
    # spec 0.8: the broker closes the channel (406) and says so in the log
    connection = pika.BlockingConnection(_parameters(url))
    channel = connection.channel()
    channel.queue_declare("slow")
    channel.basic_publish("", "slow", b"x")
    channel.basic_consume("slow", lambda *args: None)
    deadline = time.monotonic() + 10
    while channel.is_open and time.monotonic() < deadline:
        connection.process_data_events(time_limit=0.05)
    record = _wait_for(caplog, "timed out")
    assert record.name == "amqpmodel.channel"
    assert (
        "operation none caused a channel exception precondition_failed: delivery "
        in record.getMessage()
    )
    assert (
        "acknowledgement on channel 1 timed out. Timeout value used: 300 ms" in record.getMessage()
    )
    connection.close()


def test_the_management_api_logs_refused_http_logins(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("aiohttp")
    from _mgmt_helpers import Api

    caplog.set_level(logging.INFO, logger="amqpmodel")
    with serve(Broker(), management_port=0) as served:
        assert served.management_url is not None
        Api(served.management_url, "guest", "nope").get("/api/overview")
    records = _records(caplog, "amqpmodel.management")
    assert any(
        r.getMessage().startswith("Management plugin: HTTP (non-TLS) listener started on port")
        for r in records
    )
    assert any(
        r.getMessage() == "HTTP access denied: user 'guest' - invalid credentials (wrong password)"
        for r in records
    )


def test_the_connection_limit_refusal_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    # spec 21.9
    from amqpmodel.server import ServerSettings

    caplog.set_level(logging.INFO, logger="amqpmodel")
    with serve(Broker(), settings=ServerSettings(max_connections=0)) as served:
        with pytest.raises(pika.exceptions.AMQPConnectionError):
            pika.BlockingConnection(_parameters(served))
    record = _wait_for(caplog, "connection limit")
    assert record.name == "amqpmodel.connection" and record.levelno == logging.ERROR
    assert record.getMessage().endswith(
        "(user: 'guest', state: opening): connection refused: node connection limit (0) is reached"
    )
