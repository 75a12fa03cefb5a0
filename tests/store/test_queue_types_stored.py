"""Quorum queues and streams keep every message across a restart, whatever its delivery
mode (spec 11.34, 12.19, 22.19, 22.20)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from amqpmodel import BasicProperties, Broker

Restart = Callable[..., Broker]  # the ``restart`` fixture (conftest)


def test_quorum_queue_keeps_transient_messages_spec_11_34(restart: Restart) -> None:
    broker = restart()
    ch = broker.connect().channel()
    ch.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum"})
    ch.basic_publish("", "q", b"first")
    ch.basic_publish("", "q", b"transient")
    ch.basic_publish("", "q", b"mode1", BasicProperties(delivery_mode=1))
    ch.basic_publish("", "q", b"persistent", BasicProperties(delivery_mode=2))
    method, _, _ = ch.basic_get("q")
    ch.basic_ack(method.delivery_tag)  # acked: gone for good
    broker = restart(broker)
    ch = broker.connect().channel()
    queue = broker.queues["q"]
    assert queue.queue_type == "quorum"
    assert [m.body for m in queue.peek()] == [b"transient", b"mode1", b"persistent"]
    ch.basic_get("q", auto_ack=True)
    method, properties, body = ch.basic_get("q", auto_ack=True)
    assert (body, properties.delivery_mode) == (b"mode1", 1)  # the mode is kept


def test_stream_keeps_its_log_and_offsets_spec_12_19(restart: Restart) -> None:
    broker = restart()
    ch = broker.connect().channel()
    ch.queue_declare("s", durable=True, arguments={"x-queue-type": "stream"})
    for body in (b"a", b"b", b"c"):
        ch.basic_publish("", "s", body)
    got: list[Any] = []
    ch.basic_qos(prefetch_count=10)
    ch.basic_consume("s", lambda c, m, p, b: got.append(m), arguments={"x-stream-offset": "first"})
    broker.run_until_idle()
    ch.basic_ack(got[-1].delivery_tag, multiple=True)  # acks remove nothing from a stream
    broker = restart(broker)
    ch = broker.connect().channel()
    ch.basic_qos(prefetch_count=10)
    seen: list[tuple[int, bytes]] = []
    ch.basic_consume(
        "s",
        lambda c, m, p, b: seen.append((p.headers["x-stream-offset"], b)),
        arguments={"x-stream-offset": "first"},
    )
    broker.run_until_idle()
    assert seen == [(0, b"a"), (1, b"b"), (2, b"c")]


def test_acking_persistent_stream_messages_removes_none_from_the_store_spec_12_19(
    restart: Restart,
) -> None:
    broker = restart()
    ch = broker.connect().channel()
    ch.queue_declare("s", durable=True, arguments={"x-queue-type": "stream"})
    for body in (b"a", b"b", b"c"):
        ch.basic_publish("", "s", body, BasicProperties(delivery_mode=2))
    ch.basic_qos(prefetch_count=1)  # each ack gives the credit for the next delivery
    ch.basic_consume(
        "s",
        lambda c, m, p, b: c.basic_ack(m.delivery_tag),
        arguments={"x-stream-offset": "first"},
    )
    broker.run_until_idle()
    assert broker.queues["s"].stats.delivered == 3
    broker = restart(broker)
    assert [m.body for m in broker.queues["s"].peek()] == [b"a", b"b", b"c"]


def test_stream_offsets_are_not_reused_after_retention_and_restart_spec_12_17(
    restart: Restart,
) -> None:
    broker = restart()
    ch = broker.connect().channel()
    arguments = {
        "x-queue-type": "stream",
        "x-max-length-bytes": 700,
        "x-stream-max-segment-size-bytes": 500,  # three 100-byte messages a segment
    }
    ch.queue_declare("s", durable=True, arguments=arguments)
    for i in range(10):
        ch.basic_publish("", "s", b"%d" % i + b"." * 99)
    assert broker.queues["s"].first_offset == 6
    broker = restart(broker)
    stream = broker.queues["s"]
    assert (stream.first_offset, stream.next_offset, stream.messages_ready) == (6, 10, 4)
    ch = broker.connect().channel()
    ch.basic_publish("", "s", b"new")
    ch.basic_qos(prefetch_count=10)
    seen: list[tuple[int, bytes]] = []
    ch.basic_consume(
        "s",
        lambda c, m, p, b: seen.append((p.headers["x-stream-offset"], b[:1])),
        arguments={"x-stream-offset": "first"},
    )
    broker.run_until_idle()
    assert seen == [(6, b"6"), (7, b"7"), (8, b"8"), (9, b"9"), (10, b"n")]


def test_policies_survive_and_limits_are_reapplied_at_recovery_spec_22_23(
    restart: Restart,
) -> None:
    broker = restart()
    broker.set_policy("limit", "^jobs$", {"max-length": 5}, priority=2)
    broker.set_operator_policy("cap", ".*", {"max-length": 8})
    ch = broker.connect().channel()
    ch.queue_declare("jobs", durable=True)
    for i in range(5):
        ch.basic_publish("", "jobs", b"%d" % i, BasicProperties(delivery_mode=2))
    broker = restart(broker)
    assert [p["name"] for p in broker.list_policies()] == ["limit"]
    assert [p["name"] for p in broker.list_operator_policies()] == ["cap"]
    jobs = broker.queues["jobs"]
    assert jobs.policy is not None and jobs.policy.name == "limit"
    assert jobs.messages_ready == 5
    broker.set_policy("limit", "^jobs$", {"max-length": 2}, priority=2)
    broker = restart(broker)
    assert broker.queues["jobs"].messages_ready == 2  # trimmed, and the trim was stored
    broker.clear_policy("limit")
    broker = restart(broker)
    assert broker.list_policies() == []
    assert broker.queues["jobs"].policy is None


def test_parameters_survive_and_shovels_start_again_spec_20(restart: Restart) -> None:
    broker = restart()
    ch = broker.connect().channel()
    ch.queue_declare("from", durable=True)
    ch.queue_declare("to", durable=True)
    value = {"src-uri": "amqp://", "src-queue": "from", "dest-uri": "amqp://", "dest-queue": "to"}
    broker.set_parameter("shovel", "move", value)
    broker.clear_parameter("shovel", "move")
    broker.set_parameter("shovel", "move", value)
    broker = restart(broker)
    assert [p["name"] for p in broker.list_parameters("shovel")] == ["move"]
    ch = broker.connect().channel()
    ch.basic_publish("", "from", b"moved", BasicProperties(delivery_mode=2))
    deadline = time.monotonic() + 5
    while broker.queues["to"].messages_ready == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [m.body for m in broker.queues["to"].peek()] == [b"moved"]
    broker.clear_parameter("shovel", "move")
    broker = restart(broker)
    assert broker.list_parameters() == []
