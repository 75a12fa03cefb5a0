"""RabbitMQ 4.3 times quorum-queue consumers one by one (spec 11.32, 0.x.10)."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import Broker, VirtualClock

pytestmark = pytest.mark.rabbitmq_version("4.3")


def setup(broker: Broker, consumer_args: dict[str, Any] | None = None, **queue_args: Any) -> Any:
    channel = broker.connect().channel()
    channel.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum", **queue_args})
    channel.basic_publish("", "q", b"m")
    got: list[Any] = []
    channel.basic_consume("q", lambda c, m, p, b: got.append(p), arguments=consumer_args)
    broker.run_until_idle()
    return channel, got


def test_consumer_argument_decides_and_the_consumer_is_cancelled_spec_11_32(
    broker: Broker, clock: VirtualClock
) -> None:
    channel, got = setup(broker, {"x-consumer-timeout": 5000}, **{"x-consumer-timeout": 60_000})
    clock.advance(4)
    assert broker.queues["q"].consumer_count == 1
    clock.advance(1.5)
    queue = broker.queues["q"]
    assert queue.consumer_count == 0  # basic.cancel (the in-process client hears them)
    assert channel.is_open
    assert queue.messages_ready == 1
    method, properties, _ = channel.basic_get("q")
    assert properties.headers["x-acquired-count"] == 1  # a timeout is not a failed delivery
    assert "x-delivery-count" not in properties.headers


def test_queue_argument_then_broker_value_spec_11_32(broker: Broker, clock: VirtualClock) -> None:
    channel, _ = setup(broker, **{"x-consumer-timeout": 2000})
    clock.advance(2.5)
    assert broker.queues["q"].consumer_count == 0


def test_classic_queues_never_time_out_in_4_3_spec_0_x_10(
    broker: Broker, clock: VirtualClock
) -> None:
    channel = broker.connect().channel()
    channel.queue_declare("c", durable=True)  # 4.3 refuses transient ones (0.x.3)
    channel.basic_publish("", "c", b"m")
    channel.basic_consume("c", lambda *a: None)
    broker.run_until_idle()
    clock.advance(3 * 3600)
    assert channel.is_open and broker.queues["c"].consumer_count == 1


def test_acked_in_time_is_not_cancelled_spec_11_32(broker: Broker, clock: VirtualClock) -> None:
    channel, _ = setup(broker, {"x-consumer-timeout": 5000})
    clock.advance(3)
    channel.basic_ack(channel.unacked_delivery_tags[0])
    clock.advance(10)
    assert broker.queues["q"].consumer_count == 1
