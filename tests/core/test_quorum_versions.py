"""Quorum-queue behaviours that switch by RabbitMQ version (spec 0.x.6-0.x.9, 0.x.20)."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import BasicProperties, Broker, Channel, ResourceLocked

QUORUM = {"x-queue-type": "quorum"}


def declare(ch: Channel, **arguments: Any) -> None:
    ch.queue_declare("q", durable=True, arguments={**QUORUM, **arguments})


@pytest.mark.rabbitmq_version("3.13")
def test_no_default_delivery_limit_in_3_13_spec_0_x_6(broker: Broker, ch: Channel) -> None:
    declare(ch)
    ch.basic_publish("", "q", b"m")
    for _ in range(25):
        method, _, _ = ch.basic_get("q")
        ch.basic_nack(method.delivery_tag)
    method, properties, _ = ch.basic_get("q")
    assert properties.headers["x-delivery-count"] == 25  # never dead-lettered
    ch.basic_ack(method.delivery_tag)


@pytest.mark.rabbitmq_version("4.3")
def test_two_counters_in_4_3_spec_0_x_7_11_15(broker: Broker, ch: Channel) -> None:
    declare(ch, **{"x-delivery-limit": 1})
    ch.basic_publish("", "q", b"m")
    for _ in range(5):  # nacks: acquired only, the limit never reached
        method, _, _ = ch.basic_get("q")
        ch.basic_nack(method.delivery_tag, requeue=True)
    method, properties, _ = ch.basic_get("q")
    assert method.redelivered
    assert properties.headers["x-acquired-count"] == 5
    assert "x-delivery-count" not in properties.headers
    ch.basic_reject(method.delivery_tag, requeue=True)  # a failed delivery
    method, properties, _ = ch.basic_get("q")
    assert properties.headers["x-delivery-count"] == 1
    ch.basic_reject(method.delivery_tag, requeue=True)  # a second one: over the limit
    assert ch.basic_get("q")[0] is None
    assert broker.queues["q"].stats.dropped["delivery_limit"] == 1


@pytest.mark.parametrize(
    ("version", "order"),
    [
        ("3.13", [b"n0", b"h0", b"n1", b"h1"]),  # ignored: FIFO
        ("4.2", [b"h0", b"h1", b"n0", b"n1"]),  # two levels, 2:1
        ("4.3", [b"h1", b"h0", b"n0", b"n1"]),  # strict levels, higher first
    ],
)
def test_priorities_by_version_spec_0_x_8_11_23(version: str, order: list[bytes]) -> None:
    broker = Broker(rabbitmq_version=version)
    ch = broker.connect().channel()
    declare(ch)
    for body, priority in ((b"n0", None), (b"h0", 5), (b"n1", 1), (b"h1", 9)):
        ch.basic_publish("", "q", body, BasicProperties(priority=priority))
    assert [ch.basic_get("q", auto_ack=True)[2] for _ in range(4)] == order


@pytest.mark.parametrize(("version", "first"), [("3.13", b"a"), ("4.2", b"b")])
def test_requeue_without_limit_spec_0_x_9_11_17(version: str, first: bytes) -> None:
    broker = Broker(rabbitmq_version=version)
    ch = broker.connect().channel()
    declare(ch, **{"x-delivery-limit": -1})
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    method, _, _ = ch.basic_get("q")
    ch.basic_reject(method.delivery_tag, requeue=True)
    assert ch.basic_get("q", auto_ack=True)[2] == first  # 3.13: front; 4.0+: back


@pytest.mark.parametrize(("version", "shown"), [("4.0", "quorum"), ("4.2", '<<"quorum">>')])
def test_get_with_single_active_consumer_text_spec_0_x_20(version: str, shown: str) -> None:
    broker = Broker(rabbitmq_version=version)
    ch = broker.connect().channel()
    declare(ch, **{"x-single-active-consumer": True})
    with pytest.raises(ResourceLocked) as info:
        ch.basic_get("q")
    assert f"not supported by {shown} queues with single active consumer" in info.value.reply_text
