"""Details of the wire where clients' own test suites expect exactly what RabbitMQ does.

Raw sockets (the helpers and fixtures of ``test_bad_input``) and pika, against
amqpmodel and, with ``AMQPMODEL_RABBITMQ_URL``, RabbitMQ 3.10.
"""

from __future__ import annotations

import time

import pika
import pytest
from pamqp import commands
from test_bad_input import (  # the raw-socket helpers and fixtures of the bad-input cases
    PROTOCOL_HEADER,
    Bystander,
    Closed,
    Endpoint,
    Silence,
    Wire,
    _amqpmodel_server,
    bystander,
    frame,
    handshake,
    server,
    unique,
)

__all__ = ["_amqpmodel_server", "bystander", "server"]  # fixtures, used by name

SILENT_CLOSE_DELAY = 3.0  # RabbitMQ holds a refused login's socket this long


def _refused_login(endpoint: Endpoint, capabilities: dict[str, bool]) -> Wire:
    wire = Wire(endpoint, timeout=10)
    wire.send(PROTOCOL_HEADER)
    wire.expect(commands.Connection.Start)
    wire.send(
        frame(
            commands.Connection.StartOk(
                client_properties={"product": "test_wire_fidelity", "capabilities": capabilities},
                mechanism="PLAIN",
                response="\x00guest\x00not-the-password",
            )
        )
    )
    return wire


def test_refused_login_keeps_the_socket_open_for_a_while(
    server: Endpoint, bystander: Bystander
) -> None:
    # spec 15.10: connection.close 403 to a client announcing authentication_failure_close;
    # the socket then stays open (slowing down retries) so the client reads the close at
    # leisure, and closes after RabbitMQ's delay of 3 s
    wire = _refused_login(server, {"authentication_failure_close": True})
    started = time.monotonic()
    close = wire.expect(commands.Connection.Close)
    assert close.reply_code == 403
    assert close.reply_text == (
        "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. "
        "For details see the broker logfile."
    )
    assert (close.class_id, close.method_id) == (0, 0)  # names no method, as RabbitMQ's
    assert isinstance(wire.read(timeout=SILENT_CLOSE_DELAY - 1.0), Silence)  # still open
    assert isinstance(wire.read(timeout=3.0), Closed)
    assert SILENT_CLOSE_DELAY - 0.5 < time.monotonic() - started < SILENT_CLOSE_DELAY + 2.0


def test_refused_login_without_the_capability_is_a_silent_close_after_the_delay(
    server: Endpoint, bystander: Bystander
) -> None:
    # spec 15.10: without authentication_failure_close nothing is sent; the socket closes
    # after the same delay
    wire = _refused_login(server, {})
    started = time.monotonic()
    assert isinstance(wire.read(timeout=SILENT_CLOSE_DELAY + 2.0), Closed)
    assert time.monotonic() - started > SILENT_CLOSE_DELAY - 0.5


def test_refused_login_closes_at_once_after_close_ok(
    server: Endpoint, bystander: Bystander
) -> None:
    # spec 15.10: a client that answers the close with close-ok is let go at once
    wire = _refused_login(server, {"authentication_failure_close": True})
    wire.expect(commands.Connection.Close)
    started = time.monotonic()
    wire.send(frame(commands.Connection.CloseOk()))
    assert isinstance(wire.read(timeout=SILENT_CLOSE_DELAY + 2.0), Closed)
    assert time.monotonic() - started < 1.0


def test_pika_learns_of_a_refused_login_promptly(server: Endpoint) -> None:
    # spec 15.10: pika reads the 403 close and raises at once, without waiting for the delay
    url = server.url.replace("guest:guest@", "guest:wrong@")
    started = time.monotonic()
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(pika.URLParameters(url + "?connection_attempts=1"))
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("mode", ["fast", "Lazy", ""])
def test_unknown_queue_mode_is_refused(server: Endpoint, mode: str) -> None:
    # spec 2.3 / 14 (queue-mode "default" or "lazy"): 406 with RabbitMQ's text
    queue = unique("queue-mode")
    connection = pika.BlockingConnection(pika.URLParameters(server.url))
    try:
        channel = connection.channel()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as refused:
            channel.queue_declare(queue, arguments={"x-queue-mode": mode})
        assert refused.value.reply_code == 406
        assert refused.value.reply_text == (
            f"PRECONDITION_FAILED - invalid arg 'x-queue-mode' for queue '{queue}' in vhost '/': "
            f"\"unsupported queue mode '{mode}'\""
        )
    finally:
        if connection.is_open:
            connection.close()


def test_queue_mode_of_another_type_is_refused(server: Endpoint, bystander: Bystander) -> None:
    # spec 2.3: a queue mode that is not a string names its field type (pamqp sends 5 as 'b')
    wire = handshake(server)
    queue = unique("queue-mode-int")
    wire.send(frame(commands.Queue.Declare(queue=queue, arguments={"x-queue-mode": 5}), 1))
    close = wire.expect(commands.Channel.Close, 1)
    assert close.reply_code == 406
    assert close.reply_text == (
        f"PRECONDITION_FAILED - invalid arg 'x-queue-mode' for queue '{queue}' in vhost '/': "
        "{unacceptable_type,byte}"
    )
    wire.close()


@pytest.mark.parametrize("mode", ["default", "lazy"])
def test_known_queue_modes_are_accepted(server: Endpoint, mode: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(server.url))
    try:
        channel = connection.channel()
        channel.queue_declare("", exclusive=True, arguments={"x-queue-mode": mode})
    finally:
        connection.close()


def test_broker_initiated_cancel_carries_nowait(server: Endpoint, bystander: Bystander) -> None:
    # spec 7.8: a deleted queue's consumers get basic.cancel (consumer_cancel_notify), which
    # RabbitMQ sends with nowait=true: the client owes no cancel-ok
    wire = Wire(server)
    wire.send(PROTOCOL_HEADER)
    wire.expect(commands.Connection.Start)
    wire.send(
        frame(
            commands.Connection.StartOk(
                client_properties={"capabilities": {"consumer_cancel_notify": True}},
                mechanism="PLAIN",
                response="\x00guest\x00guest",
            )
        )
    )
    tune = wire.expect(commands.Connection.Tune)
    wire.send(
        frame(commands.Connection.TuneOk(channel_max=tune.channel_max, frame_max=tune.frame_max))
    )
    wire.send(frame(commands.Connection.Open(virtual_host="/")))
    wire.expect(commands.Connection.OpenOk)
    wire.send(frame(commands.Channel.Open(), 1))
    wire.expect(commands.Channel.OpenOk, 1)
    queue = unique("cancel")
    wire.send(frame(commands.Queue.Declare(queue=queue), 1))
    wire.expect(commands.Queue.DeclareOk, 1)
    wire.send(frame(commands.Basic.Consume(queue=queue, consumer_tag="ctag"), 1))
    wire.expect(commands.Basic.ConsumeOk, 1)
    wire.send(frame(commands.Queue.Delete(queue=queue), 1))
    wire.expect(commands.Queue.DeleteOk, 1)
    cancel = wire.expect(commands.Basic.Cancel, 1)
    assert cancel.consumer_tag == "ctag"
    assert cancel.nowait is True
    wire.close()


@pytest.mark.parametrize(("asked", "said"), [(0, "0 (no limit)"), (4000, "4000")])
def test_a_tune_ok_channel_max_above_the_servers_is_refused(
    request: pytest.FixtureRequest, server: Endpoint, bystander: Bystander, asked: int, said: str
) -> None:
    # spec 21.10: 530 at connection.open time for channel_max 0 or above the server's 2047
    if server.name == "rabbitmq":
        request.applymarker(
            pytest.mark.xfail(reason="RabbitMQ 3.10 resets the socket (spec 21.10)", strict=True)
        )
    wire = Wire(server)
    wire.send(PROTOCOL_HEADER)
    wire.expect(commands.Connection.Start)
    wire.send(
        frame(
            commands.Connection.StartOk(
                client_properties={}, mechanism="PLAIN", response="\x00guest\x00guest"
            )
        )
    )
    tune = wire.expect(commands.Connection.Tune)
    wire.send(frame(commands.Connection.TuneOk(channel_max=asked, frame_max=tune.frame_max)))
    wire.send(frame(commands.Connection.Open(virtual_host="/")))
    close = wire.expect(commands.Connection.Close)
    assert (close.reply_code, close.reply_text) == (
        530,
        f"NOT_ALLOWED - negotiated channel_max = {said} is higher than the maximum allowed "
        "value (2047)",
    )
    assert (close.class_id, close.method_id) == (10, 31)
    wire.close()
