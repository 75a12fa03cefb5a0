"""pika.SelectConnection (the asynchronous adapter) against the socket server.

Each scenario is a small callback chain on pika's own ioloop; a deadline timer
stops the loop so a broken server fails the test instead of hanging it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pika
import pika.exceptions
import pytest
from pika.channel import Channel as AsyncChannel

from amqpmodel import Broker

TIMEOUT = 5.0


class Scenario:
    """Run ``on_channel(scenario, channel)`` on a fresh SelectConnection until ``done()``."""

    def __init__(self, url: str) -> None:
        params = pika.URLParameters(url)
        params.socket_timeout = TIMEOUT
        params.stack_timeout = TIMEOUT
        params.connection_attempts = 1
        self.params = params
        self.events: list[Any] = []
        self.error: BaseException | None = None
        self.finished = False
        self.timed_out = False
        self.closed_reason: BaseException | None = None
        self.connection: pika.SelectConnection | None = None

    def run(self, on_channel: Callable[[Scenario, AsyncChannel], None]) -> None:
        def on_open(connection: pika.SelectConnection) -> None:
            connection.channel(on_open_callback=lambda ch: self._guard(on_channel, self, ch))

        def on_open_error(connection: pika.SelectConnection, error: BaseException) -> None:
            self.error = error
            connection.ioloop.stop()

        def on_closed(connection: pika.SelectConnection, reason: BaseException) -> None:
            self.closed_reason = reason
            connection.ioloop.stop()

        connection = pika.SelectConnection(
            self.params,
            on_open_callback=on_open,
            on_open_error_callback=on_open_error,
            on_close_callback=on_closed,
        )
        self.connection = connection
        connection.ioloop.call_later(TIMEOUT, self._timeout)
        connection.ioloop.start()
        if self.error is not None:
            raise self.error
        assert not self.timed_out, f"scenario timed out; events so far: {self.events}"

    def _guard(self, function: Callable[..., None], *args: Any) -> None:
        try:
            function(*args)
        except BaseException as error:  # surface assertion errors from callbacks
            self.error = error
            self.close()

    def guard(self, function: Callable[..., None]) -> Callable[..., None]:
        return lambda *args: self._guard(function, *args)

    def _timeout(self) -> None:
        self.timed_out = True
        self.close()

    def done(self) -> None:
        self.finished = True
        self.close()

    def close(self) -> None:
        connection = self.connection
        assert connection is not None
        if connection.is_open:
            connection.close()
        elif not connection.is_closing:
            connection.ioloop.stop()


def test_connect_declare_publish_consume_close(amqp_url: str, server_broker: Broker) -> None:
    # spec 7.2, 7.10
    scenario = Scenario(amqp_url)
    received: list[tuple[int, bytes, bool]] = []

    def start(s: Scenario, ch: AsyncChannel) -> None:
        ch.queue_declare("q", callback=s.guard(lambda frame: declared(ch, frame)))

    def declared(ch: AsyncChannel, frame: Any) -> None:
        assert frame.method.queue == "q"
        for i in range(5):
            ch.basic_publish("", "q", f"m{i}".encode())
        ch.basic_consume("q", scenario.guard(lambda *a: on_message(*a)))

    def on_message(ch: AsyncChannel, method: Any, props: Any, body: bytes) -> None:
        received.append((method.delivery_tag, body, method.redelivered))
        ch.basic_ack(method.delivery_tag)
        if len(received) == 5:
            ch.queue_declare("q", passive=True, callback=scenario.guard(lambda f: settled(f)))

    def settled(frame: Any) -> None:
        assert frame.method.message_count == 0
        scenario.done()

    scenario.run(start)
    assert scenario.finished
    assert received == [(i + 1, f"m{i}".encode(), False) for i in range(5)]
    assert isinstance(scenario.closed_reason, pika.exceptions.ConnectionClosedByClient)
    assert server_broker.queues["q"].stats.acked == 5


def test_publisher_confirms_async(amqp_url: str, server_broker: Broker) -> None:  # spec 8.1
    scenario = Scenario(amqp_url)
    confirms: list[tuple[str, int, bool]] = []
    returns: list[int] = []

    def start(s: Scenario, ch: AsyncChannel) -> None:
        ch.add_on_return_callback(lambda c, method, p, b: returns.append(method.reply_code))
        ch.queue_declare(
            "full",
            arguments={"x-max-length": 1, "x-overflow": "reject-publish"},
            callback=s.guard(lambda f: ch.confirm_delivery(on_confirm, callback=s.guard(go))),
        )

        def go(frame: Any) -> None:
            ch.basic_publish("", "full", b"fits")  # 1: ack
            ch.basic_publish("", "full", b"refused")  # 2: nack (spec 8.3)
            ch.basic_publish("", "nowhere", b"x", mandatory=True)  # 3: return then ack (8.2)

    def on_confirm(frame: Any) -> None:
        method = frame.method
        confirms.append((method.NAME, method.delivery_tag, method.multiple))
        if max(tag for _, tag, _ in confirms) >= 3:
            scenario.done()

    scenario.run(start)
    assert scenario.finished
    settled: dict[int, str] = {}  # each publish acked or nacked exactly once (spec 8.1)
    for name, tag, multiple in confirms:
        covered = range(1, tag + 1) if multiple else [tag]
        for number in covered:
            if number not in settled:
                settled[number] = name
            else:
                assert multiple, f"publish {number} confirmed twice"
    assert settled == {1: "Basic.Ack", 2: "Basic.Nack", 3: "Basic.Ack"}
    assert returns == [312]
    assert server_broker.queues["full"].messages_ready == 1


def test_channel_error_reaches_close_callback(amqp_url: str) -> None:  # spec 9.1
    scenario = Scenario(amqp_url)
    reasons: list[BaseException] = []

    def start(s: Scenario, ch: AsyncChannel) -> None:
        def on_channel_closed(channel: AsyncChannel, reason: BaseException) -> None:
            reasons.append(reason)
            s.connection.channel(on_open_callback=s.guard(reopened))  # type: ignore[union-attr]

        ch.add_on_close_callback(on_channel_closed)
        ch.queue_declare("missing", passive=True)

    def reopened(ch: AsyncChannel) -> None:
        ch.queue_declare("", exclusive=True, callback=scenario.guard(lambda f: scenario.done()))

    scenario.run(start)
    assert scenario.finished
    (reason,) = reasons
    assert isinstance(reason, pika.exceptions.ChannelClosedByBroker)
    assert reason.reply_code == 404
    assert reason.reply_text == "NOT_FOUND - no queue 'missing' in vhost '/'"


def test_wrong_password_open_error(make_url: Callable[..., str]) -> None:
    scenario = Scenario(make_url(password="wrong"))
    with pytest.raises(pika.exceptions.AMQPConnectionError) as info:
        scenario.run(lambda s, ch: None)
    assert "ACCESS_REFUSED" in str(info.value)


def test_many_messages_with_prefetch(amqp_url: str, server_broker: Broker) -> None:  # spec 7.5
    scenario = Scenario(amqp_url)
    count = 500
    received: list[bytes] = []
    max_outstanding = [0]
    outstanding: list[int] = []

    def start(s: Scenario, ch: AsyncChannel) -> None:
        ch.basic_qos(prefetch_count=10, callback=s.guard(lambda f: qos_ok(ch)))

    def qos_ok(ch: AsyncChannel) -> None:
        ch.queue_declare("bulk", callback=scenario.guard(lambda f: declared(ch)))

    def declared(ch: AsyncChannel) -> None:
        for i in range(count):
            ch.basic_publish("", "bulk", str(i).encode())
        ch.basic_consume("bulk", scenario.guard(on_message))

    def on_message(ch: AsyncChannel, method: Any, props: Any, body: bytes) -> None:
        received.append(body)
        outstanding.append(method.delivery_tag)
        max_outstanding[0] = max(max_outstanding[0], len(outstanding))
        # ack in batches of 5 on a later loop turn so the prefetch window fills up
        if len(outstanding) >= 5:
            tag = outstanding[-1]
            outstanding.clear()
            ch.basic_ack(tag, multiple=True)
        if len(received) == count:
            scenario.done()

    scenario.run(start)
    assert scenario.finished
    assert received == [str(i).encode() for i in range(count)]
    assert max_outstanding[0] <= 10
