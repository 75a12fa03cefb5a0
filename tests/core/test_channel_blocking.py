"""pika's blocking consumption on a channel: ``stop_consuming()`` ends a ``consume()``
generator as pika 1.x's does: its consumer is cancelled, the deliveries it had
buffered but not yielded are requeued (manual acks), and the next iteration
ends the loop instead of waiting for messages that cannot come."""

from __future__ import annotations

import threading
import time
from typing import Any

from amqpmodel import Broker, Channel


def _publish(ch: Channel, count: int) -> None:
    ch.queue_declare("q")
    for n in range(count):
        ch.basic_publish("", "q", f"m{n}".encode())


def test_stop_consuming_inside_the_loop_ends_the_generator(ch: Channel, broker: Broker) -> None:
    _publish(ch, 3)
    bodies = []
    for method, _, body in ch.consume("q"):
        bodies.append(body)
        ch.basic_ack(method.delivery_tag)
        ch.stop_consuming()
    assert bodies == [b"m0"]
    queue = broker.queues["q"]
    assert queue.consumer_count == 0
    assert ch.get_waiting_message_count() == 0
    # the two it had buffered are back, redelivered (spec 2.12)
    assert queue.messages_ready == 2 and queue.messages_unacknowledged == 0
    method, _, body = ch.basic_get("q", auto_ack=True)
    assert method is not None and method.redelivered and body == b"m1"


def test_stop_consuming_ends_a_generator_waiting_with_an_inactivity_timeout(
    ch: Channel, broker: Broker
) -> None:
    _publish(ch, 0)
    yielded: list[Any] = []
    for item in ch.consume("q", inactivity_timeout=0.01):
        yielded.append(item)
        ch.stop_consuming()  # from the (None, None, None) of inactivity
    assert yielded == [(None, None, None)]
    assert broker.queues["q"].consumer_count == 0


def test_stop_consuming_with_the_generators_tag_ends_it_too(ch: Channel, broker: Broker) -> None:
    _publish(ch, 2)
    bodies = []
    for method, _, body in ch.consume("q"):
        bodies.append(body)
        ch.basic_ack(method.delivery_tag)
        (tag,) = ch.consumer_tags
        ch.stop_consuming(tag)
    assert bodies == [b"m0"]
    assert broker.queues["q"].messages_ready == 1


def test_stop_consuming_also_cancels_basic_consume_consumers(ch: Channel, broker: Broker) -> None:
    _publish(ch, 1)
    ch.queue_declare("other")
    ch.basic_consume("other", lambda *args: None)
    for method, _, _ in ch.consume("q"):
        ch.basic_ack(method.delivery_tag)
        ch.stop_consuming()
    assert ch.consumer_tags == []
    assert broker.queues["other"].consumer_count == 0


def test_consume_after_stop_consuming_starts_a_new_consumer(ch: Channel, broker: Broker) -> None:
    _publish(ch, 2)
    for method, _, _ in ch.consume("q"):
        ch.basic_ack(method.delivery_tag)
        ch.stop_consuming()
    method, _, body = next(ch.consume("q"))
    assert body == b"m1" and method.redelivered
    ch.basic_ack(method.delivery_tag)
    ch.cancel()


def test_stop_consuming_from_another_thread_ends_a_blocked_generator() -> None:
    broker = Broker()
    conn = broker.connect()
    ch = conn.channel()
    _publish(ch, 1)
    bodies: list[bytes] = []
    errors: list[BaseException] = []
    first = threading.Event()

    def worker() -> None:
        try:
            for method, _, body in ch.consume("q"):
                bodies.append(body)
                ch.basic_ack(method.delivery_tag)
                first.set()  # then blocks: the queue is empty
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    assert first.wait(2.0)
    time.sleep(0.05)  # the worker is waiting inside consume()
    ch.stop_consuming()
    thread.join(2.0)
    alive = thread.is_alive()
    conn.close()
    thread.join(2.0)
    assert not alive, "consume() kept blocking after stop_consuming()"
    assert errors == [] and bodies == [b"m0"]
    assert broker.queues["q"].consumer_count == 0
