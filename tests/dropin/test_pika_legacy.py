"""pika 0.x call forms on the drop-in: each works as 0.x did and warns with the 1.x form."""

from __future__ import annotations

import pytest

from amqpmodel import Broker, pika
from amqpmodel.pika import Py2Bytes


@pytest.fixture
def channel(broker: Broker) -> pika.BlockingChannel:
    connection = pika.BlockingConnection(broker=broker)
    yield connection.channel()
    connection.close()


def test_basic_consume_with_the_callback_first_and_no_ack(channel: pika.BlockingChannel) -> None:
    channel.queue_declare("hello")
    got: list[bytes] = []

    def callback(ch: object, method: object, properties: object, body: bytes) -> None:
        got.append(body)
        channel.stop_consuming()

    with pytest.warns(
        DeprecationWarning, match=r"basic_consume\(queue, on_message_callback, auto_ack=\.\.\.\)"
    ):
        tag = channel.basic_consume(callback, queue="hello", no_ack=True)
    assert tag.startswith("ctag")
    channel.basic_publish("", "hello", "Hello World!")
    channel.start_consuming()
    assert got == [b"Hello World!"]
    assert channel.get_waiting_message_count() == 0


def test_a_legacy_callback_body_searches_with_str_as_python_2_did(
    channel: pika.BlockingChannel,
) -> None:
    channel.queue_declare("tasks")
    channel.basic_publish("", "tasks", b"Third message...")
    bodies: list[bytes] = []
    with pytest.warns(DeprecationWarning):
        channel.basic_consume(
            lambda ch, m, p, body: (bodies.append(body), ch.stop_consuming()),
            queue="tasks",
            no_ack=True,
        )
    channel.start_consuming()
    (body,) = bodies
    assert isinstance(body, Py2Bytes) and isinstance(body, bytes)
    assert body == b"Third message..." and repr(body) == "b'Third message...'"
    assert body.count(".") == 3 and body.count(b".") == 3
    assert body.startswith("Third") and "message" in body and body.split(" ")[0] == b"Third"


def test_a_1x_callback_gets_plain_bytes(channel: pika.BlockingChannel) -> None:
    channel.queue_declare("plain")
    channel.basic_publish("", "plain", b"x")
    bodies: list[bytes] = []
    channel.basic_consume(
        "plain", lambda ch, m, p, body: (bodies.append(body), ch.stop_consuming()), auto_ack=True
    )
    channel.start_consuming()
    assert type(bodies[0]) is bytes


def test_exchange_declare_with_type(channel: pika.BlockingChannel, broker: Broker) -> None:
    with pytest.warns(DeprecationWarning, match=r"exchange_declare\(exchange_type=\.\.\.\)"):
        channel.exchange_declare(exchange="logs", type="fanout")
    assert broker.exchanges["logs"].type == "fanout"
    with pytest.raises(TypeError):
        channel.exchange_declare(exchange="logs", type="fanout", exchange_type="fanout")


def test_queue_methods_without_a_queue_name(channel: pika.BlockingChannel, broker: Broker) -> None:
    with pytest.warns(DeprecationWarning, match=r"queue_declare\(queue='', \.\.\.\)"):
        result = channel.queue_declare(exclusive=True)
    name = result.method.queue
    assert name.startswith("amq.gen-") and broker.queues[name].exclusive
    # spec 2.x: an empty queue name means the channel's last declared queue
    channel.basic_publish("", name, b"x")
    with pytest.warns(DeprecationWarning):
        assert channel.queue_purge().method.message_count == 1
    with pytest.warns(DeprecationWarning):
        channel.queue_delete()
    assert name not in broker.queues


def test_basic_get_with_no_ack_and_qos_with_all_channels(channel: pika.BlockingChannel) -> None:
    channel.queue_declare("q")
    channel.basic_publish("", "q", b"x")
    with pytest.warns(DeprecationWarning, match=r"basic_qos\(global_qos=\.\.\.\)"):
        channel.basic_qos(prefetch_count=1, all_channels=False)
    with pytest.warns(DeprecationWarning, match=r"basic_get\(queue, auto_ack=\.\.\.\)"):
        method, _, body = channel.basic_get(queue="q", no_ack=True)
    assert body == b"x" and channel.basic_get("q") == (None, None, None)


def test_add_timeout(broker: Broker) -> None:
    connection = pika.BlockingConnection(broker=broker)
    fired: list[bool] = []
    with pytest.warns(DeprecationWarning, match=r"call_later\(delay, callback\)"):
        connection.add_timeout(0.01, lambda: fired.append(True))
    connection.sleep(0.03)
    assert fired == [True]
    connection.close()


def test_the_warning_points_at_the_callers_line(channel: pika.BlockingChannel) -> None:
    with pytest.warns(DeprecationWarning) as caught:
        channel.queue_declare(durable=False)
    assert caught[0].filename == __file__
    with pytest.warns(DeprecationWarning) as caught:
        channel.exchange_declare(exchange="e", type="direct")
    assert caught[0].filename == __file__


def test_1x_calls_do_not_warn(
    channel: pika.BlockingChannel, recwarn: pytest.WarningsRecorder
) -> None:
    channel.exchange_declare("e", exchange_type="topic")
    channel.queue_declare("q", durable=False)
    channel.queue_bind("q", "e", routing_key="#")
    channel.basic_qos(prefetch_count=5, global_qos=False)
    channel.basic_consume("q", lambda *a: None, auto_ack=True)
    channel.basic_get("q", auto_ack=True)
    assert [w for w in recwarn if issubclass(w.category, DeprecationWarning)] == []
