"""The pika drop-in as a pika application sees it: pika's classes, values and errors,
threads, timers, the broker it reaches, and the broker's clock."""

from __future__ import annotations

import threading
import time

import pika as real_pika
import pika.adapters.blocking_connection
import pytest

import amqpmodel
from amqpmodel import Broker, VirtualClock
from amqpmodel import pika as dropin
from amqpmodel.pika import PikaPatch, patch_pika
from amqpmodel.server import ServerSettings
from amqpmodel.testing import assert_accounted


def test_the_drop_in_is_pikas_own_blocking_connection(broker: Broker) -> None:
    with dropin.BlockingConnection(broker=broker) as connection:
        assert isinstance(connection, pika.adapters.blocking_connection.BlockingConnection)
        with connection.channel() as channel:
            assert isinstance(channel, pika.adapters.blocking_connection.BlockingChannel)
            assert channel.is_open and channel.channel_number == 1
        assert channel.is_closed
        assert connection.server_properties["product"] == "amqpmodel"
        assert connection.server_properties["capabilities"]["publisher_confirms"] is True
        assert connection.publisher_confirms_supported and connection.basic_nack_supported
    assert connection.is_closed
    # the names an application imports from pika are pika's own
    assert dropin.BasicProperties is real_pika.BasicProperties
    assert dropin.exceptions is real_pika.exceptions
    assert dropin.ConnectionParameters is real_pika.ConnectionParameters


def test_an_unnamed_broker_is_the_patched_one_else_the_process_default() -> None:
    mine, previous = Broker(), amqpmodel.set_default_broker(None)
    try:
        with dropin.BlockingConnection() as connection:
            connection.channel().queue_declare("default-q")
        assert "default-q" in amqpmodel.default_broker().queues
        with patch_pika(mine) as patch:
            opened = real_pika.BlockingConnection(real_pika.ConnectionParameters("rabbit.example"))
            opened.channel().queue_declare("patched-q")
            assert patch.connections == [opened]
            assert isinstance(opened, dropin.BlockingConnection)
        assert "patched-q" in mine.queues
        assert real_pika.BlockingConnection is dropin.PikaBlockingConnection  # restored
    finally:
        amqpmodel.set_default_broker(previous)


def test_each_delivery_has_its_own_properties(broker: Broker) -> None:
    # a handler that changes the headers and requeues must not change the queued
    # message nor a fanout's other copy (over the wire and on RabbitMQ it never does)
    connection = dropin.BlockingConnection(broker=broker)
    channel = connection.channel()
    channel.exchange_declare("fan", exchange_type="fanout")
    for name in ("a", "b"):
        channel.queue_declare(name)
        channel.queue_bind(name, "fan")
    channel.basic_publish(
        "fan", "", b"x", dropin.BasicProperties(headers={"attempt": 1, "trail": ["x"]})
    )
    method, properties, _ = channel.basic_get("a")
    properties.headers["attempt"] += 1
    properties.headers["trail"].append("y")
    channel.basic_nack(method.delivery_tag, requeue=True)
    for name in ("a", "b"):
        _, properties, _ = channel.basic_get(name, auto_ack=True)
        assert properties.headers == {"attempt": 1, "trail": ["x"]}
    connection.close()


def test_a_publish_from_another_thread_wakes_a_blocked_consumer(broker: Broker) -> None:
    consumer = dropin.BlockingConnection(broker=broker)
    channel = consumer.channel()
    channel.queue_declare("jobs")
    received: list[bytes] = []

    def on_message(ch: object, method: object, properties: object, body: bytes) -> None:
        received.append(body)
        if len(received) == 100:
            channel.stop_consuming()

    channel.basic_consume("jobs", on_message, auto_ack=True)

    def publish() -> None:
        with dropin.BlockingConnection(broker=broker) as publisher:
            publishing = publisher.channel()
            for n in range(100):
                publishing.basic_publish("", "jobs", str(n).encode())
                if n % 10 == 0:
                    time.sleep(0.001)

    thread = threading.Thread(target=publish)
    thread.start()
    channel.start_consuming()  # returns only when the 100th arrives
    thread.join()
    assert received == [str(n).encode() for n in range(100)]
    consumer.close()


def test_core_in_process_publishes_reach_a_pika_consumer(broker: Broker) -> None:
    connection = dropin.BlockingConnection(broker=broker)
    channel = connection.channel()
    channel.queue_declare("mixed")
    core = broker.connect().channel()
    core.basic_publish("", "mixed", b"from the core")
    for method, _properties, body in channel.consume("mixed", auto_ack=True, inactivity_timeout=1):
        assert body == b"from the core" and isinstance(method, real_pika.spec.Basic.Deliver)
        break
    connection.close()


def test_callbacks_timers_and_sleep_run_on_the_connections_thread(broker: Broker) -> None:
    connection = dropin.BlockingConnection(broker=broker)
    ran: list[str] = []
    connection.call_later(0.01, lambda: ran.append("later"))
    timer = connection.call_later(0.01, lambda: ran.append("cancelled"))
    connection.remove_timeout(timer)
    threading.Thread(
        target=connection.add_callback_threadsafe, args=(lambda: ran.append("threadsafe"),)
    ).start()
    started = time.monotonic()
    connection.sleep(0.05)
    assert time.monotonic() - started >= 0.05
    assert sorted(ran) == ["later", "threadsafe"]
    connection.process_data_events(time_limit=0)
    connection.close()


def test_ttl_follows_the_brokers_virtual_clock(broker: Broker) -> None:
    clock = VirtualClock()
    timed = Broker(clock=clock)
    connection = dropin.BlockingConnection(broker=timed)
    channel = connection.channel()
    channel.queue_declare("dead")
    channel.queue_declare(
        "orders",
        arguments={
            "x-message-ttl": 60_000,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "dead",
        },
    )
    channel.basic_publish("", "orders", b"late")
    clock.advance(59)
    assert channel.basic_get("dead") == (None, None, None)
    clock.advance(1)  # no waiting: the TTL is settled by advance()
    method, properties, body = channel.basic_get("dead", auto_ack=True)
    assert body == b"late" and properties.headers["x-death"][0]["reason"] == "expired"
    connection.close()
    assert_accounted(timed)


def test_ttl_on_the_real_clock_is_settled_by_the_connections_loop(broker: Broker) -> None:
    connection = dropin.BlockingConnection(broker=broker)
    channel = connection.channel()
    channel.queue_declare("dead")
    channel.queue_declare(
        "short",
        arguments={
            "x-message-ttl": 50,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "dead",
        },
    )
    channel.basic_consume("dead", lambda ch, m, p, b: ch.stop_consuming(), auto_ack=True)
    channel.basic_publish("", "short", b"soon")
    started = time.monotonic()
    channel.start_consuming()  # nothing but the loop's broker timer can end this
    assert 0.04 <= time.monotonic() - started < 2
    connection.close()


def test_an_idle_connection_is_kept_alive_by_heartbeats(broker: Broker) -> None:
    connection = dropin.BlockingConnection(
        dropin.ConnectionParameters(heartbeat=1),
        broker=broker,
        settings=ServerSettings(heartbeat=1),
    )
    connection.sleep(3.5)  # pika closes after two silent intervals; the server's beats arrive
    assert connection.is_open
    connection.close()


def test_a_broker_side_close_raises_pikas_connection_closed(broker: Broker) -> None:
    connection = dropin.BlockingConnection(broker=broker)
    channel = connection.channel()
    (core,) = broker.connections  # the server's core connection, as an operator sees it
    core.close(320, "CONNECTION_FORCED - closed by a test")
    with pytest.raises(real_pika.exceptions.ConnectionClosedByBroker) as raised:
        channel.queue_declare("q")
    assert (raised.value.reply_code, raised.value.reply_text) == (
        320,
        "CONNECTION_FORCED - closed by a test",
    )


def test_unknown_user_is_refused_at_login(broker: Broker) -> None:
    credentials = dropin.PlainCredentials("nobody", "x")
    with pytest.raises(real_pika.exceptions.ProbableAuthenticationError):
        dropin.BlockingConnection(
            dropin.ConnectionParameters(credentials=credentials), broker=broker
        )
    broker.add_user("alice", "secret")
    broker.set_permissions("alice")  # spec 15.4
    ok = dropin.BlockingConnection(
        dropin.URLParameters("amqp://alice:secret@db.example:5672/%2F"), broker=broker
    )
    assert ok.is_open
    ok.close()


def test_several_parameters_are_tried_in_turn(broker: Broker) -> None:
    bad = dropin.ConnectionParameters(virtual_host="missing")
    good = dropin.ConnectionParameters()
    connection = dropin.BlockingConnection([bad, good], broker=broker)
    assert connection.is_open
    connection.close()


def test_patch_pika_yields_the_patch(patched: PikaPatch, broker: Broker) -> None:
    assert patched.broker is broker
    connection = real_pika.BlockingConnection()
    assert patched.connections_of(threading.current_thread()) == [connection]


def test_overlapping_patches_restore_pika_whatever_the_order() -> None:
    first, second = Broker(), Broker()
    outer, inner = patch_pika(first), patch_pika(second)
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # not last-in-first-out, as two threads may do
    with real_pika.BlockingConnection() as connection:
        assert connection.broker is second  # the patch still active decides
    inner.__exit__(None, None, None)
    assert real_pika.BlockingConnection is dropin.PikaBlockingConnection
    assert pika.adapters.blocking_connection.BlockingConnection is dropin.PikaBlockingConnection


def test_a_connection_dropped_without_close_is_closed_as_a_socket_would_be(broker: Broker) -> None:
    # spec 7.13 / 2.5: its unacked message is requeued, its exclusive queue deleted
    import gc

    def careless() -> str:
        connection = dropin.BlockingConnection(broker=broker)
        channel = connection.channel()
        channel.queue_declare("jobs")
        channel.basic_publish("", "jobs", b"job")
        channel.basic_qos(prefetch_count=1)
        channel.basic_consume("jobs", lambda *args: None)
        connection.process_data_events(time_limit=0.01)
        name: str = channel.queue_declare("", exclusive=True).method.queue
        return name  # the connection goes out of scope, never closed

    exclusive = careless()
    gc.collect()
    deadline = time.monotonic() + 5
    while broker.connections and time.monotonic() < deadline:
        time.sleep(0.01)
    assert broker.connections == []
    assert broker.queues["jobs"].messages_ready == 1 and broker.queues["jobs"].consumer_count == 0
    assert exclusive not in broker.queues


def test_a_handler_that_blocks_past_the_heartbeat_timeout_loses_the_connection(
    broker: Broker,
) -> None:
    # as against a server with its own clock: two silent heartbeat intervals and it hangs up
    connection = dropin.BlockingConnection(
        dropin.ConnectionParameters(heartbeat=1), broker=broker, settings=ServerSettings(heartbeat=1)
    )
    channel = connection.channel()
    channel.queue_declare("slow")
    channel.basic_publish("", "slow", b"x")
    channel.basic_consume("slow", lambda ch, m, p, b: time.sleep(2.6), auto_ack=True)
    with pytest.raises(real_pika.exceptions.StreamLostError):
        channel.start_consuming()
    assert connection.is_closed


def test_a_ttl_set_from_another_thread_expires_on_time(broker: Broker) -> None:
    connection = dropin.BlockingConnection(broker=broker)
    channel = connection.channel()
    channel.queue_declare("dead")
    channel.queue_declare(
        "short", arguments={"x-message-ttl": 50, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dead"}
    )
    arrived: list[float] = []

    def on_dead(ch: object, method: object, properties: object, body: bytes) -> None:
        arrived.append(time.monotonic() - float(body))
        if len(arrived) == 3:
            channel.stop_consuming()

    channel.basic_consume("dead", on_dead, auto_ack=True)

    def publish() -> None:
        core = broker.connect().channel()
        for _ in range(3):
            core.basic_publish("", "short", str(time.monotonic()).encode())
            time.sleep(0.1)

    thread = threading.Thread(target=publish)
    thread.start()
    channel.start_consuming()
    thread.join()
    # the loop was waiting with no timer of its own: the new deadline woke it
    assert max(arrived) < 0.5, arrived
    connection.close()


def test_connection_attempts_and_retry_delay_are_pikas(broker: Broker) -> None:
    params = dropin.ConnectionParameters(
        credentials=dropin.PlainCredentials("guest", "wrong"), connection_attempts=3, retry_delay=0.1
    )
    started = time.monotonic()
    with pytest.raises(real_pika.exceptions.ProbableAuthenticationError):
        dropin.BlockingConnection(params, broker=broker)
    assert time.monotonic() - started >= 0.2  # two pauses between three attempts


def test_close_all_closes_each_connection_on_its_own_thread(patched: PikaPatch, broker: Broker) -> None:
    errors: list[BaseException] = []
    ready = threading.Event()

    def consumer() -> None:
        try:
            connection = real_pika.BlockingConnection()
            channel = connection.channel()
            channel.queue_declare("busy")
            channel.basic_consume("busy", lambda ch, m, p, b: ch.basic_ack(m.delivery_tag))
            ready.set()
            channel.start_consuming()  # ends when its connection is closed under it
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    thread = threading.Thread(target=consumer)
    thread.start()
    assert ready.wait(5)
    publisher = broker.connect().channel()
    for _ in range(200):
        publisher.basic_publish("", "busy", b"x")
    patched.close_all()
    thread.join(5)
    assert not thread.is_alive() and errors == []
    assert patched.connections == []
