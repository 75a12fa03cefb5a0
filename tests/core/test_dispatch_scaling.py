"""Dispatch cost does not grow with the consumers blocked by prefetch (spec 7.4, 7.5).

Counted, not timed: calls to ``Consumer.has_room`` (consumers examined) and
heap operations of the dispatcher per publish, with 10 and with 3 000
prefetch-full consumers on one queue, so the test cannot flake.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from amqpmodel import Broker, Channel, _dispatch
from amqpmodel._consumer import Consumer


class Counter:
    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def examined(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    """Counts consumers examined and heap operations of the dispatcher."""
    counter = Counter()
    has_room = Consumer.has_room

    def counting_has_room(self: Consumer) -> bool:
        counter.calls += 1
        return has_room(self)

    monkeypatch.setattr(Consumer, "has_room", counting_has_room)
    for name in ("heappush", "heappop", "heapreplace"):
        original = getattr(_dispatch, name)

        def counting(*args: Any, _original: Any = original) -> Any:
            counter.calls += 1
            return _original(*args)

        monkeypatch.setattr(_dispatch, name, counting)
    yield counter


def full_consumers(count: int, *, global_qos: bool = False) -> tuple[Broker, Channel, list[int]]:
    """``count`` consumers of queue "q", each holding one unacked message (prefetch 1)."""
    broker = Broker()
    publisher = broker.connect().channel()
    publisher.queue_declare("q")
    consumer_channel = broker.connect().channel()
    consumer_channel.basic_qos(prefetch_count=1)
    if global_qos:
        consumer_channel.basic_qos(prefetch_count=count, global_qos=True)
    tags: list[int] = []
    for _ in range(count):
        consumer_channel.basic_consume(
            "q", lambda ch, method, pr, body: tags.append(method.delivery_tag)
        )
    for _ in range(count):
        publisher.basic_publish("", "q", b"fill")
    broker.run_until_idle()
    assert len(tags) == count  # every consumer full
    return broker, publisher, tags


def cost_per_publish(count: int, counter: Counter, publishes: int = 50, **kw: Any) -> float:
    _, publisher, _ = full_consumers(count, **kw)
    for _ in range(3):
        publisher.basic_publish("", "q", b"x")  # the full consumers are found and set aside once
    counter.calls = 0
    for _ in range(publishes):
        publisher.basic_publish("", "q", b"x")
    return counter.calls / publishes


def test_publish_cost_does_not_grow_with_full_consumers(examined: Counter) -> None:
    """spec 7.4: the consumers blocked by prefetch are not looked at on every publish."""
    few = cost_per_publish(10, examined)
    many = cost_per_publish(3000, examined)
    assert many <= max(2 * few, 2), (few, many)


def test_publish_cost_with_a_full_global_prefetch(examined: Counter) -> None:
    """spec 7.5: a channel whose global prefetch is used up is set aside as a whole."""
    few = cost_per_publish(10, examined, global_qos=True)
    many = cost_per_publish(3000, examined, global_qos=True)
    assert many <= max(2 * few, 2), (few, many)


def test_registration_cost_does_not_grow(examined: Counter) -> None:
    """Registering a consumer costs O(log n), with a publish to the full ones between (7.3, 7.4)."""
    broker = Broker()
    channel = broker.connect().channel()
    channel.queue_declare("q")
    channel.basic_qos(prefetch_count=1)
    queue = broker.queues["q"]

    def noop(*_: Any) -> None:
        pass

    costs = []
    for total in (10, 3000):
        while queue.consumer_count < total:
            examined.calls = 0
            channel.basic_publish("", "q", b"m")  # every consumer is full: it waits
            channel.basic_consume("q", noop)  # the newcomer takes it
            assert queue.messages_ready == 0
        costs.append(examined.calls)
    assert costs[1] <= 2 * costs[0], costs


def test_ack_gives_credit_to_that_consumer_cheaply(examined: Counter) -> None:
    """spec 7.4, 7.5: an ack's consumer receives at once, at a cost independent of the others."""
    broker, publisher, tags = full_consumers(3000)
    consumer_channel = broker.connections[1].channels[1]
    for _ in range(3):
        publisher.basic_publish("", "q", b"waits")
    examined.calls = 0
    consumer_channel.basic_ack(tags[1500])
    assert examined.calls <= 40, examined.calls
    assert broker.queues["q"].messages_ready == 2
    broker.run_until_idle()
    assert tags[-1] == 3001
