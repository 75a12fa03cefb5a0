"""Parity scenarios for the plugin exchange types (spec 13): in process, over the wire, on RabbitMQ.

RabbitMQ here needs the plugins rabbitmq_consistent_hash_exchange and
rabbitmq_random_exchange enabled. RabbitMQ 3.10 does not ship the
delayed-message plugin, and x-local-random is 4.0+ (spec 0.x.21): those
scenarios run on amqpmodel's backends only.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

HASH = "x-consistent-hash"


def only_amqpmodel(backend: Any, why: str) -> None:
    if backend.name == "rabbitmq":
        pytest.skip(why)


def hash_ring(backend: Any, c: Any, weights: list[int], **arguments: Any) -> tuple[str, list[str]]:
    x = backend.unique("hash")
    c.declare_exchange(x, HASH, auto_delete=False, arguments=arguments or None)
    queues = []
    for weight in weights:
        q = backend.unique("q")
        c.declare_queue(q)
        c.bind(q, x, str(weight))
        queues.append(q)
    return x, queues


def message_counts(c: Any, queues: list[str], total: int | None = None) -> list[int]:
    """Ready counts per queue; with ``total``, waiting (RabbitMQ enqueues asynchronously)
    until they add up to it or a second has passed."""
    deadline = time.monotonic() + 1.0
    while True:
        counts = [c.declare_queue(q, passive=True)[1] for q in queues]
        if total is None or sum(counts) >= total or time.monotonic() > deadline:
            return counts
        time.sleep(0.02)


# -- x-consistent-hash ----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("abc", 'The binding key must be an integer: <<"abc">>'),
        ("", "The binding key must be an integer: <<>>"),
        (" 5", 'The binding key must be an integer: <<" 5">>'),
        ("0", "The binding key must be greater than 0"),
        ("-1", "The binding key must be greater than 0"),
    ],
)
def test_consistent_hash_binding_key_errors_spec_13_11(backend, c, key: str, text: str) -> None:
    x, _ = hash_ring(backend, c, [])
    q = backend.unique("q")
    c.declare_queue(q)
    assert c.error_of(lambda: c.bind(q, x, key)) == (406, f"PRECONDITION_FAILED - {text}")


@pytest.mark.rabbitmq_differs(
    "RabbitMQ 3.10 differs: spec 13.11 / 0.x.23 (weights over 10000 refused from 4.2.6 only)"
)
def test_consistent_hash_weight_over_10000_refused_spec_13_11(backend, c) -> None:
    x, _ = hash_ring(backend, c, [])
    q = backend.unique("q")
    c.declare_queue(q)
    assert c.error_of(lambda: c.bind(q, x, "10001")) == (
        406,
        "PRECONDITION_FAILED - The binding key must not exceed 10000",
    )


@pytest.mark.parametrize(
    ("arguments", "text"),
    [
        ({"hash-property": "x"}, "Unsupported property: x"),
        (
            {"hash-header": "h", "hash-property": "message_id"},
            "hash-header and hash-property are mutually exclusive",
        ),
    ],
)
def test_consistent_hash_declare_errors_spec_13_14(
    backend, c, arguments: dict[str, Any], text: str
) -> None:
    x = backend.unique("hash")
    assert c.error_of(lambda: c.declare_exchange(x, HASH, arguments=arguments)) == (
        406,
        f"PRECONDITION_FAILED - {text}",
    )


def test_consistent_hash_one_destination_stable_and_weighted_spec_13_12_13_16(backend, c) -> None:
    x, queues = hash_ring(backend, c, [1, 3])
    for i in range(400):
        c.publish(x, f"key-{i}", b"m")
    first = message_counts(c, queues, 400)
    assert sum(first) == 400  # one destination per message
    assert 50 < first[0] < 150  # about a quarter (13.16: roughly proportional)
    for q in queues:
        c.purge(q)
    for i in range(400):  # the same keys again: the same split (stable)
        c.publish(x, f"key-{i}", b"m")
    assert message_counts(c, queues, 400) == first


def test_consistent_hash_extra_bindings_of_a_destination_change_nothing_spec_13_12(
    backend, c
) -> None:
    x, queues = hash_ring(backend, c, [1, 1])
    c.bind(queues[0], x, "50")  # not a heavier weight: only the first binding counts
    for i in range(400):
        c.publish(x, f"key-{i}", b"m")
    counts = message_counts(c, queues, 400)
    assert sum(counts) == 400 and 130 < counts[0] < 270


def test_consistent_hash_no_bindings_returns_mandatory_spec_13_12(backend, c) -> None:
    x, _ = hash_ring(backend, c, [])
    c.confirm()
    assert c.publish(x, "k", b"m", mandatory=True) == "returned"


@pytest.mark.parametrize(
    ("arguments", "properties"),
    [
        ({"hash-header": "hh"}, lambda v: {"headers": {"hh": v}}),
        ({"hash-property": "message_id"}, lambda v: {"message_id": v}),
    ],
    ids=["hash-header", "hash-property"],
)
def test_consistent_hash_on_a_header_or_property_spec_13_13(
    backend, c, arguments: dict[str, Any], properties: Any
) -> None:
    x, queues = hash_ring(backend, c, [1, 1, 1, 1], **arguments)
    for i in range(40):  # one value, many routing keys: one queue gets them all
        c.publish(x, f"routing-{i}", b"m", properties("one-value"))
    counts = message_counts(c, queues, 40)
    assert sorted(counts) == [0, 0, 0, 40]
    for q in queues:
        c.purge(q)
    for i in range(200):  # many values: spread
        c.publish(x, "same-routing-key", b"m", properties(f"value-{i}"))
    assert sum(1 for n in message_counts(c, queues, 200) if n) > 1


def test_consistent_hash_missing_header_goes_to_one_destination_spec_13_13(backend, c) -> None:
    x, queues = hash_ring(backend, c, [1, 1, 1, 1], **{"hash-header": "hh"})
    for i in range(40):
        c.publish(x, f"routing-{i}", b"m", {"headers": {"other": i}})
    assert sorted(message_counts(c, queues, 40)) == [0, 0, 0, 40]  # not dropped


# -- x-random -------------------------------------------------------------------


def test_random_one_destination_per_message_spec_13_17(backend, c) -> None:
    x = backend.unique("random")
    c.declare_exchange(x, "x-random")
    queues = [backend.unique("q") for _ in range(2)]
    for q in queues:
        c.declare_queue(q)
        c.bind(q, x, "ignored")
    for i in range(300):
        c.publish(x, f"k{i}", b"m")
    counts = message_counts(c, queues, 300)
    assert sum(counts) == 300 and 90 < counts[0] < 210


def test_random_no_bindings_returns_mandatory_spec_13_17(backend, c) -> None:
    x = backend.unique("random")
    c.declare_exchange(x, "x-random")
    c.confirm()
    assert c.publish(x, "k", b"m", mandatory=True) == "returned"


# -- x-local-random (4.0+) and x-delayed-message (not shipped with 3.10) ----------


def test_local_random_refusals_spec_13_18(backend, c) -> None:
    only_amqpmodel(backend, "x-local-random is 4.0+ (spec 0.x.21); RabbitMQ here is 3.10")
    x = backend.unique("lr")
    c.declare_exchange(x, "x-local-random")
    q = backend.unique("q")
    c.declare_queue(q)
    assert c.error_of(lambda: c.bind(q, x, "k")) == (
        406,
        "PRECONDITION_FAILED - Non empty binding 'k' key not permitted",
    )
    c.bind(q, x, "")
    c.publish(x, "any", b"m")
    assert c.get(q, auto_ack=True)["body"] == b"m"


def test_delayed_message_released_by_the_brokers_timers_spec_13_7_13_8(backend, c) -> None:
    only_amqpmodel(backend, "RabbitMQ 3.10 here has no rabbitmq_delayed_message_exchange")
    x = backend.unique("delayed")
    c.declare_exchange(x, "x-delayed-message", arguments={"x-delayed-type": "direct"})
    q = backend.unique("q")
    c.declare_queue(q)
    c.bind(q, x, "k")
    c.consume(q, auto_ack=True)
    c.publish(x, "k", b"later", {"headers": {"x-delay": 300}})
    c.publish(x, "k", b"sooner", {"headers": {"x-delay": "100"}})
    assert c.settle(0.05) == []
    got = c.wait(2, timeout=3.0)  # a real clock: the server's timer releases them
    assert [d["body"] for d in got] == [b"sooner", b"later"]
    assert [d["properties"]["headers"]["x-delay"] for d in got] == [-100, -300]
    assert [d["exchange"] for d in got] == [x, x]


def test_delayed_message_mandatory_is_returned_but_delivered_spec_13_5(backend, c) -> None:
    only_amqpmodel(backend, "RabbitMQ 3.10 here has no rabbitmq_delayed_message_exchange")
    x = backend.unique("delayed")
    c.declare_exchange(x, "x-delayed-message", arguments={"x-delayed-type": "fanout"})
    q = backend.unique("q")
    c.declare_queue(q)
    c.bind(q, x, "")
    c.confirm()
    assert c.publish(x, "k", b"m", {"headers": {"x-delay": 50}}, mandatory=True) == "returned"
    assert c.get_eventually(q, timeout=2.0)["body"] == b"m"


def test_delayed_message_unparseable_string_delay_closes_the_connection_541_spec_13_4(
    backend, c
) -> None:
    only_amqpmodel(backend, "RabbitMQ 3.10 here has no rabbitmq_delayed_message_exchange")
    x = backend.unique("delayed")
    c.declare_exchange(x, "x-delayed-message", arguments={"x-delayed-type": "direct"})
    code, _ = c.error_of(lambda: c.publish(x, "k", b"m", {"headers": {"x-delay": "1.5"}}))
    assert code == 541


def test_delayed_message_declare_errors_spec_13_2(backend, c) -> None:
    only_amqpmodel(backend, "RabbitMQ 3.10 here has no rabbitmq_delayed_message_exchange")
    x = backend.unique("delayed")
    assert c.error_of(lambda: c.declare_exchange(x, "x-delayed-message")) == (
        406,
        "PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type",
    )


def test_delayed_message_on_the_pika_drop_in_with_a_real_clock_spec_13_7() -> None:
    """The drop-in's loop runs the broker's deadlines on a real clock, so a delayed
    message arrives while pika waits in process_data_events."""
    import pika

    from amqpmodel import Broker
    from amqpmodel.pika import patch_pika
    from amqpmodel.testing import assert_accounted

    broker = Broker()
    with patch_pika(broker):
        connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
        channel = connection.channel()
        channel.exchange_declare(
            "d", "x-delayed-message", arguments={"x-delayed-type": "x-consistent-hash"}
        )
        channel.queue_declare("q")
        channel.queue_bind("q", "d", "10")
        got: list[Any] = []
        channel.basic_consume("q", lambda ch, m, p, b: got.append((b, p.headers)), auto_ack=True)
        channel.basic_publish("d", "k", b"m", pika.BasicProperties(headers={"x-delay": 100}))
        deadline = time.monotonic() + 3.0
        while not got and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.05)
        connection.close()
    assert got == [(b"m", {"x-delay": -100})]
    assert_accounted(broker)
