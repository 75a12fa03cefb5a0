"""Which broker amqpmodel:// reaches, registration, and errors as kombu and py-amqp raise them."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import amqp.exceptions
import kombu
import kombu.transport
import pytest
from kombu import Consumer, Producer, Queue

import amqpmodel
import amqpmodel.kombu
from amqpmodel import Broker
from amqpmodel.kombu import use_broker

pytestmark = pytest.mark.timeout(10)


def test_url_reaches_the_default_broker(amqp_broker: Broker) -> None:
    with use_broker(amqp_broker):
        with kombu.Connection("amqpmodel://somehost:1234") as conn:
            conn.default_channel.queue_declare("here", durable=False, auto_delete=False)
    assert "here" in amqp_broker.queues


def test_use_broker_restores_the_previous_default() -> None:
    first, second = Broker(), Broker()
    previous = amqpmodel.set_default_broker(first)
    try:
        with use_broker(second):
            assert amqpmodel.default_broker() is second
        assert amqpmodel.default_broker() is first
    finally:
        amqpmodel.set_default_broker(previous)


def test_url_selects_vhost_and_user(amqp_broker: Broker) -> None:
    amqp_broker.add_vhost("staging")
    amqp_broker.add_user("app", "secret")
    amqp_broker.set_permissions("app", vhost="staging")  # spec 15.4
    with use_broker(amqp_broker):
        with kombu.Connection("amqpmodel://app:wrong-password@/staging") as conn:
            conn.default_channel.queue_declare("q", auto_delete=False)
            [connection] = amqp_broker.connections
            assert (connection.user, connection.vhost.name) == ("app", "staging")
    assert "q" in amqp_broker.vhosts["staging"].queues
    assert "q" not in amqp_broker.queues


def test_transport_option_picks_the_broker_and_the_path_needs_no_alias() -> None:
    mine = Broker()
    with kombu.Connection(
        transport="amqpmodel.kombu:Transport", transport_options={"broker": mine}
    ) as conn:
        Producer(conn.default_channel).publish("x", routing_key="q", declare=[Queue("q")])
    assert mine.queues["q"].messages_ready == 1
    with kombu.Connection(
        transport=amqpmodel.kombu.Transport, transport_options={"broker": mine}
    ) as conn:
        assert conn.default_channel.queue_declare("q", passive=True).message_count == 1


def test_register_is_idempotent() -> None:
    amqpmodel.kombu.register()
    amqpmodel.kombu.register()
    assert kombu.transport.TRANSPORT_ALIASES["amqpmodel"] == "amqpmodel.kombu:Transport"


def test_importing_amqpmodel_does_not_import_kombu() -> None:
    code = "import sys, amqpmodel; assert 'kombu' not in sys.modules and 'amqp' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("url", "code", "amqp_class", "core_class"),
    [
        ("amqpmodel:///nowhere", 530, amqp.exceptions.NotAllowed, amqpmodel.NotAllowed),
        ("amqpmodel://nobody@/", 403, amqp.exceptions.AccessRefused, amqpmodel.AccessRefused),
    ],
)
def test_refused_connection_is_a_connection_error(
    amqp_broker: Broker, url: str, code: int, amqp_class: type, core_class: type
) -> None:
    with use_broker(amqp_broker), kombu.Connection(url) as conn:
        with pytest.raises(conn.connection_errors) as raised:
            conn.connect()
    assert isinstance(raised.value, (amqp_class, core_class))
    assert isinstance(raised.value, amqp_class) and isinstance(raised.value, core_class)
    assert raised.value.reply_code == code
    assert not isinstance(raised.value, conn.recoverable_connection_errors)


def test_declare_mismatch_is_a_406_channel_error_and_the_channel_lives_on(
    conn: kombu.Connection,
) -> None:
    channel = conn.default_channel
    channel.queue_declare("jobs", durable=True, auto_delete=False)
    with pytest.raises(conn.channel_errors) as raised:
        channel.queue_declare("jobs", durable=False, auto_delete=False)
    error = raised.value
    assert isinstance(error, amqp.exceptions.PreconditionFailed)
    assert isinstance(error, amqpmodel.PreconditionFailed)
    assert error.reply_code == 406
    assert error.reply_text.startswith("PRECONDITION_FAILED - inequivalent arg 'durable'")
    assert error.method_name == "Queue.declare"
    assert str(error).startswith("Queue.declare: (406) PRECONDITION_FAILED")
    # as py-amqp reopens a channel the broker closed
    assert channel.queue_declare("jobs", passive=True).queue == "jobs"


def test_missing_queue_is_a_404(conn: kombu.Connection) -> None:
    with pytest.raises(amqp.exceptions.NotFound) as raised:
        Queue("absent")(conn.default_channel).queue_declare(passive=True)
    assert raised.value.reply_code == 404
    assert raised.value.reply_text == "NOT_FOUND - no queue 'absent' in vhost '/'"
    assert isinstance(raised.value, amqpmodel.NotFound)
    with pytest.raises(amqp.exceptions.NotFound):
        conn.default_channel.basic_get("absent")


def test_refused_publish_surfaces_at_the_next_call_as_on_the_wire(conn: kombu.Connection) -> None:
    channel = conn.channel()
    channel.queue_declare("q", auto_delete=False)
    producer = Producer(channel)
    producer.publish("lost", exchange="no-such-exchange", routing_key="q")  # returns
    producer.publish("also lost", routing_key="q")  # the channel is closed: ignored
    with pytest.raises(amqp.exceptions.NotFound) as raised:
        channel.queue_declare("q", passive=True)
    assert raised.value.reply_text == "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'"
    assert raised.value.method_name == "Basic.publish"
    assert channel.queue_declare("q", passive=True).message_count == 0


def test_refused_publish_surfaces_from_drain_events(conn: kombu.Connection) -> None:
    Producer(conn.default_channel).publish("lost", exchange="no-such-exchange")
    with pytest.raises(amqp.exceptions.NotFound):
        conn.drain_events(timeout=0)
    with pytest.raises(socket.timeout):
        conn.drain_events(timeout=0)


def test_confirm_publish_raises_from_the_publish(amqp_broker: Broker) -> None:
    with kombu.Connection(
        "amqpmodel://", transport_options={"broker": amqp_broker, "confirm_publish": True}
    ) as conn:
        producer = Producer(conn.default_channel)
        with pytest.raises(amqp.exceptions.NotFound):
            producer.publish("lost", exchange="no-such-exchange")
        producer.publish("kept", routing_key="q", declare=[Queue("q")])
    assert amqp_broker.queues["q"].messages_ready == 1


def test_forced_close_is_recoverable_and_publish_retry_reconnects(
    conn: kombu.Connection, amqp_broker: Broker
) -> None:
    queue = Queue("q")
    producer = Producer(conn)
    producer.publish("before", routing_key="q", declare=[queue])
    for connection in amqp_broker.connections:
        connection.close(320, "CONNECTION_FORCED - closed via management plugin")
    with pytest.raises(conn.recoverable_connection_errors) as raised:
        conn.drain_events(timeout=0)
    assert raised.value.reply_code == 320
    assert isinstance(raised.value, amqp.exceptions.ConnectionForced)
    assert isinstance(raised.value, amqpmodel.ConnectionClosed)
    producer.publish("after", routing_key="q", retry=True, retry_policy={"interval_start": 0})
    assert amqp_broker.queues["q"].messages_ready == 2


def test_deleted_queue_cancels_its_consumer(conn: kombu.Connection) -> None:
    queue = Queue("doomed")
    cancelled: list[str] = []
    channel = conn.channel()
    queue(channel).declare()
    queue(channel).consume(consumer_tag="c1", callback=lambda m: None, on_cancel=cancelled.append)
    conn.default_channel.queue_delete("doomed")
    conn.drain_events(timeout=1)
    assert cancelled == ["c1"]
    # without on_cancel, py-amqp raises ConsumerCancelled from drain_events
    queue(channel).declare()
    Consumer(channel, [queue]).consume()
    conn.default_channel.queue_delete("doomed")
    with pytest.raises(amqp.exceptions.ConsumerCancelled):
        conn.drain_events(timeout=1)


def test_closed_channel_raises_a_recoverable_error(conn: kombu.Connection) -> None:
    channel = conn.channel()
    channel.close()
    channel.close()  # idempotent
    with pytest.raises(conn.recoverable_connection_errors):
        channel.queue_declare("q")


def test_headers_come_back_as_py_amqp_decodes_them(conn: kombu.Connection) -> None:
    import datetime
    import decimal

    headers = {
        "text": "é",
        "raw": b"\xff\x00",
        "utf8": b"abc",
        "tuple": (1, "a"),
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5, 678),
        "price": decimal.Decimal("1.25"),
        "nested": {"flag": True, "none": None, "ratio": 0.5},
    }
    queue = Queue("h")
    Producer(conn.default_channel).publish(
        b"x",
        routing_key="h",
        declare=[queue],
        headers=headers,
        content_type="application/x-raw",
        content_encoding="binary",
        message_id="m1",
        timestamp=1700000000,
        priority=3,
        correlation_id="c1",
        reply_to="replies",
        type="t",
        app_id="app",
    )
    message = queue(conn.default_channel).get(no_ack=True)
    assert message.headers == {
        "text": "é",
        "raw": b"\xff\x00",
        "utf8": "abc",
        "tuple": [1, "a"],
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "price": decimal.Decimal("1.25"),
        "nested": {"flag": True, "none": None, "ratio": 0.5},
    }
    properties = dict(message.properties)
    del properties["application_headers"]
    assert properties == {
        "content_type": "application/x-raw",
        "content_encoding": "binary",
        "delivery_mode": 2,
        "priority": 3,
        "correlation_id": "c1",
        "reply_to": "replies",
        "message_id": "m1",
        "timestamp": 1700000000,
        "type": "t",
        "app_id": "app",
    }
    assert message.delivery_info == {
        "delivery_tag": 1,
        "redelivered": False,
        "exchange": "",
        "routing_key": "h",
        "message_count": 0,
    }


def test_confirm_select_hands_confirms_to_event_handlers(conn: kombu.Connection) -> None:
    channel = conn.channel()
    acks: list[tuple[int, bool]] = []
    channel.events["basic_ack"].add(lambda tag, multiple: acks.append((tag, multiple)))
    channel.confirm_select()
    producer = Producer(channel)
    producer.publish("kept", routing_key="q", declare=[Queue("q")])
    producer.publish("returned", routing_key="nowhere", mandatory=True)
    returned: list[str] = []
    channel.events["basic_return"].add(lambda exc, exchange, key, message: returned.append(key))
    conn.drain_events(timeout=1)
    assert acks == [(1, False), (2, False)]
    assert returned == ["nowhere"]


def test_confirm_publish_of_an_unroutable_mandatory_message_returns_it(
    amqp_broker: Broker,
) -> None:
    returned: list[str] = []
    with kombu.Connection(
        "amqpmodel://", transport_options={"broker": amqp_broker, "confirm_publish": True}
    ) as conn:
        producer = Producer(
            conn.default_channel, on_return=lambda exc, exchange, key, message: returned.append(key)
        )
        producer.publish("back", routing_key="nowhere", mandatory=True)  # acked after its return
        assert returned == ["nowhere"]
        producer.publish("kept", routing_key="q", declare=[Queue("q")])
    assert amqp_broker.queues["q"].messages_ready == 1


def test_a_channel_of_a_closed_connection_raises_a_recoverable_error(
    conn: kombu.Connection, amqp_broker: Broker
) -> None:
    channel = conn.channel()
    for connection in amqp_broker.connections:
        connection.close(320, "CONNECTION_FORCED - closed via management plugin")
    with pytest.raises(conn.recoverable_connection_errors) as raised:
        channel.queue_declare("q")
    assert raised.value.reply_code == 320
    assert isinstance(raised.value, amqpmodel.ConnectionClosed)


def test_a_broker_close_during_a_blocking_drain_raises_it(conn: kombu.Connection, amqp_broker: Broker) -> None:
    # as py-amqp against RabbitMQ: the drain that sees connection.close raises ConnectionForced
    conn.connect()
    (core,) = amqp_broker.connections
    closer = threading.Timer(0.1, core.close, args=(320, "CONNECTION_FORCED - closed by a test"))
    closer.start()
    with pytest.raises(amqp.exceptions.ConnectionForced) as raised:
        conn.drain_events(timeout=3)
    closer.join()
    assert raised.value.reply_code == 320


@pytest.mark.parametrize("order", ["amqpmodel first", "kombu first"])
def test_importing_amqpmodel_makes_the_url_known_to_kombu(order: str) -> None:
    # outside pytest (no plugin) and without importing amqpmodel.kombu
    imports = "import amqpmodel, kombu" if order == "amqpmodel first" else "import kombu, amqpmodel"
    script = (
        f"{imports}\n"
        "import sys\n"
        "assert 'amqpmodel.kombu' not in sys.modules\n"
        "with kombu.Connection('amqpmodel://') as c:\n"
        "    q = c.SimpleQueue('jobs'); q.put({'n': 1}); m = q.get(timeout=1); m.ack()\n"
        "    print(m.payload)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'n': 1}"
