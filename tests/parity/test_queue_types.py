"""Parity scenarios for quorum queues (spec 11) and streams (spec 12): in process, over the
wire, and on RabbitMQ where 3.10 and the spec agree.

Where RabbitMQ 3.10 (the one installable here) behaves as an older version row of the
spec's table says, the RabbitMQ run is an expected failure naming that row.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

QUORUM = {"x-queue-type": "quorum"}
STREAM = {"x-queue-type": "stream"}


def quorum(backend: Any, c: Any, **arguments: Any) -> str:
    q = backend.unique("qq")
    c.declare_queue(q, durable=True, arguments={**QUORUM, **arguments})
    return q


def stream(backend: Any, c: Any, **arguments: Any) -> str:
    s = backend.unique("st")
    c.declare_queue(s, durable=True, arguments={**STREAM, **arguments})
    return s


def get_eventually(c: Any, queue: str, auto_ack: bool = False) -> dict[str, Any] | None:
    """basic.get, retried for a second (RabbitMQ's quorum enqueue is asynchronous)."""
    deadline = time.monotonic() + 1.0
    while True:
        got = c.get(queue, auto_ack=auto_ack)
        if got is not None or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


# -- quorum queues --------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "prop"),
    [
        ({"durable": True, "auto_delete": True}, "auto-delete"),
        ({"durable": True, "exclusive": True}, "exclusive-owner"),
        ({"durable": False}, "non-durable"),
    ],
)
def test_quorum_invalid_properties_spec_11_4(backend, c, flags: dict[str, bool], prop: str) -> None:
    q = backend.unique("qq")
    assert c.error_of(lambda: c.declare_queue(q, arguments=QUORUM, **flags)) == (
        406,
        f"PRECONDITION_FAILED - invalid property '{prop}' for queue '{q}' in vhost '/'",
    )


def test_quorum_server_named_refused_spec_11_5(backend, c) -> None:
    assert c.error_of(lambda: c.declare_queue("", durable=True, arguments=QUORUM)) == (
        406,
        "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue",
    )


def test_quorum_refuses_classic_arguments_spec_11_9(backend, c) -> None:
    q = backend.unique("qq")
    error = c.error_of(
        lambda: c.declare_queue(q, durable=True, arguments={**QUORUM, "x-max-priority": 5})
    )
    assert error == (
        406,
        f"PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue '{q}' in vhost '/' "
        "of queue type rabbit_quorum_queue",
    )


def test_quorum_unknown_argument_accepted_spec_11_9(backend, c) -> None:
    q = quorum(backend, c, **{"x-made-up": 1})
    assert c.declare_queue(q, passive=True)[0] == q


def test_quorum_delivery_limit_dead_letters_spec_11_12(backend, c) -> None:
    dlx = backend.unique("dlx")
    dead = backend.unique("dead")
    c.declare_exchange(dlx, "fanout")
    c.declare_queue(dead)
    c.bind(dead, dlx)
    q = quorum(backend, c, **{"x-delivery-limit": 2, "x-dead-letter-exchange": dlx})
    c.publish("", q, b"poison")
    redelivered = []
    for _ in range(3):  # limit 2: delivered at most 3 times
        got = get_eventually(c, q)
        assert got is not None
        redelivered.append(got["redelivered"])
        c.nack(got["delivery_tag"], requeue=True)
    assert redelivered == [False, True, True]
    dead_letter = get_eventually(c, dead)
    assert dead_letter is not None and dead_letter["body"] == b"poison"
    assert dead_letter["properties"]["headers"]["x-death"][0]["reason"] == "delivery_limit"
    assert c.get(q) is None


@pytest.mark.rabbitmq_differs(
    "RabbitMQ 3.10 sends x-delivery-count 0 on the first delivery (spec 11.14: 4.0+ none)"
)
def test_quorum_delivery_count_header_spec_11_14(backend, c) -> None:
    q = quorum(backend, c)
    c.publish("", q, b"m")
    counts = []
    for _ in range(3):
        got = get_eventually(c, q)
        assert got is not None
        counts.append((got["properties"].get("headers") or {}).get("x-delivery-count"))
        c.nack(got["delivery_tag"], requeue=True)
    assert counts == [None, 1, 2]


def test_quorum_conditional_delete_refused_spec_11_26(backend, c) -> None:
    q = quorum(backend, c)
    code, text = c.error_of(lambda: c.delete_queue(q, if_unused=True))
    assert code == 540
    assert text == (
        f"NOT_IMPLEMENTED - cannot delete queue '{q}' in vhost '/'. queue.delete operations "
        "with if-unused flag set are not supported by quorum queues"
    )


def test_quorum_global_qos_consume_refused_spec_11_29(backend, c) -> None:
    q = quorum(backend, c)
    c.qos(5, global_qos=True)
    assert c.error_of(lambda: c.consume(q)) == (
        540,
        f"NOT_IMPLEMENTED - queue '{q}' in vhost '/' does not support global qos",
    )


@pytest.mark.rabbitmq_differs(
    "RabbitMQ 3.10 differs: spec 0.x.20 (3.13 and older say 'by quorum queues')"
)
def test_quorum_get_with_single_active_consumer_refused_spec_11_25(backend, c) -> None:
    q = quorum(backend, c, **{"x-single-active-consumer": True})
    assert c.error_of(lambda: c.get(q)) == (
        405,
        f"RESOURCE_LOCKED - cannot obtain access to locked queue '{q}' in vhost '/'. "
        'basic.get operations are not supported by <<"quorum">> queues with single '
        "active consumer",
    )


@pytest.mark.rabbitmq_differs(
    "RabbitMQ 3.10 differs: spec 0.x.16/0.x.17 (no x-queue-type injection before 4.0)"
)
def test_quorum_redeclared_without_type_spec_11_28(backend, c) -> None:
    q = quorum(backend, c)
    assert c.error_of(lambda: c.declare_queue(q, durable=True)) == (
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '{q}' in vhost '/': "
        "received 'classic' but current is 'quorum'",
    )


def test_quorum_reject_publish_nacks_spec_11_22(backend, c) -> None:
    q = quorum(backend, c, **{"x-max-length": 2, "x-overflow": "reject-publish"})
    c.confirm()
    outcomes = [c.publish("", q, b"%d" % i) for i in range(5)]
    assert outcomes[:3] == ["ack", "ack", "ack"]
    assert outcomes[3:] == ["nack", "nack"]


@pytest.mark.rabbitmq_differs("RabbitMQ 3.10 differs: spec 0.x.8 (quorum priorities ignored)")
def test_quorum_two_priority_levels_spec_11_23(backend, c) -> None:
    q = quorum(backend, c)
    c.confirm()
    for i in range(3):
        c.publish("", q, b"n%d" % i)
    for i in range(3):
        c.publish("", q, b"h%d" % i, {"priority": 5})
    bodies = [get_eventually(c, q, auto_ack=True) for _ in range(6)]
    assert [b["body"] for b in bodies if b] == [b"h0", b"h1", b"n0", b"h2", b"n1", b"n2"]


# -- streams ----------------------------------------------------------------------


def read_stream(c: Any, s: str, offset: Any, expected: int) -> list[tuple[int, bytes]]:
    c.qos(100)
    tag = c.consume(s, arguments={"x-stream-offset": offset})
    got = c.wait(expected, timeout=2.0)
    for delivery in got:
        c.ack(delivery["delivery_tag"])
    c.cancel(tag)
    return [(d["properties"]["headers"]["x-stream-offset"], d["body"]) for d in got]


def test_stream_reads_from_first_with_offsets_spec_12_11_12_17(backend, c) -> None:
    s = stream(backend, c)
    c.confirm()
    for body in (b"a", b"b", b"c"):
        c.publish("", s, body)
    assert read_stream(c, s, "first", 3) == [(0, b"a"), (1, b"b"), (2, b"c")]
    assert read_stream(c, s, 1, 2) == [(1, b"b"), (2, b"c")]  # reading removed nothing


@pytest.mark.rabbitmq_differs("RabbitMQ 3.10's text misquotes the queue (spec 12.13: 4.2's text)")
def test_stream_prefetch_required_spec_12_13(backend, c) -> None:
    s = stream(backend, c)
    assert c.error_of(lambda: c.consume(s)) == (
        406,
        f"PRECONDITION_FAILED - consumer prefetch count is not set for stream queue '{s}' "
        "in vhost '/'",
    )


@pytest.mark.rabbitmq_differs("RabbitMQ 3.10 says 'stream queues queue' (spec 12.13: 4.2's text)")
def test_stream_auto_ack_refused_spec_12_13(backend, c) -> None:
    s = stream(backend, c)
    c.qos(10)
    assert c.error_of(lambda: c.consume(s, auto_ack=True)) == (
        540,
        f"NOT_IMPLEMENTED - automatic acknowledgement not supported by stream queue '{s}' "
        "in vhost '/'",
    )


def test_stream_get_refused_spec_12_14(backend, c) -> None:
    s = stream(backend, c)
    code, text = c.error_of(lambda: c.get(s))
    assert code == 540
    assert (
        text
        == f"NOT_IMPLEMENTED - basic.get not supported by stream queues queue '{s}' in vhost '/'"
    )


def test_stream_refuses_queue_arguments_of_other_types_spec_12_4(backend, c) -> None:
    s = backend.unique("st")
    error = c.error_of(
        lambda: c.declare_queue(s, durable=True, arguments={**STREAM, "x-max-length": 5})
    )
    assert error == (
        406,
        f"PRECONDITION_FAILED - invalid arg 'x-max-length' for queue '{s}' in vhost '/' "
        "of queue type rabbit_stream_queue",
    )


def test_stream_invalid_max_age_spec_12_5(backend, c) -> None:
    s = backend.unique("st")
    error = c.error_of(
        lambda: c.declare_queue(s, durable=True, arguments={**STREAM, "x-max-age": "7d"})
    )
    assert error == (
        406,
        f"PRECONDITION_FAILED - invalid arg 'x-max-age' for queue '{s}' in vhost '/': "
        "invalid_max_age",
    )


@pytest.mark.rabbitmq_differs(
    "RabbitMQ 3.10 refuses basic.nack on streams with 540 (spec 12.15: 4.2 takes it as credit)"
)
def test_stream_nack_gives_credit_only_spec_12_15(backend, c) -> None:
    s = stream(backend, c)
    c.confirm()
    for body in (b"a", b"b"):
        c.publish("", s, body)
    c.qos(1)
    tag = c.consume(s, arguments={"x-stream-offset": "first"})
    first = c.wait(1, timeout=2.0)
    assert [d["body"] for d in first] == [b"a"]
    c.nack(first[0]["delivery_tag"], requeue=True)
    second = c.wait(1, timeout=2.0)
    assert [(d["body"], d["redelivered"]) for d in second] == [(b"b", False)]
    c.ack(second[0]["delivery_tag"])
    c.cancel(tag)
    time.sleep(0.05)
    assert c.declare_queue(s, passive=True)[0] == s
