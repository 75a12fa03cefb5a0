"""Quorum queues and streams keep every message across a restart, whatever its delivery
mode (spec 11.34, 12.19, 22.19, 22.20)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
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


def _returned(broker: Broker, times: int, how: str = "nack") -> None:
    """Deliver the head of quorum queue "q" ``times`` times, returning it each time."""
    ch = broker.connect().channel()
    for _ in range(times):
        method, _, _ = ch.basic_get("q")
        if how == "nack":
            ch.basic_nack(method.delivery_tag, requeue=True)
        else:
            ch.basic_reject(method.delivery_tag, requeue=True)
    ch.close()


def _quorum(broker: Broker, **arguments: Any) -> None:
    ch = broker.connect().channel()
    ch.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum", **arguments})
    ch.confirm_delivery()
    ch.basic_publish("", "q", b"poison")
    ch.basic_publish("", "q", b"fresh")
    ch.close()


def test_quorum_counters_survive_a_clean_restart_spec_22_19(restart: Restart) -> None:
    broker = restart()
    _quorum(broker)
    _returned(broker, 3)
    broker = restart(broker)
    ch = broker.connect().channel()
    method, properties, body = ch.basic_get("q", auto_ack=True)
    assert (body, method.redelivered, properties.headers) == (
        b"poison",
        True,
        {"x-delivery-count": 3},
    )
    method, properties, body = ch.basic_get("q", auto_ack=True)
    assert (body, method.redelivered, properties.headers) == (b"fresh", False, None)


def test_the_delivery_limit_holds_across_restarts_spec_11_12_22_19(restart: Restart) -> None:
    broker = restart()
    _quorum(broker, **{"x-delivery-limit": 3})
    _returned(broker, 2)
    broker = restart(broker)
    _returned(broker, 1)  # its third return: still within the limit
    broker = restart(broker)
    ch = broker.connect().channel()
    method, _, _ = ch.basic_get("q")
    ch.basic_nack(method.delivery_tag, requeue=True)  # the fourth: over the limit, dropped
    assert [m.body for m in broker.queues["q"].peek()] == [b"fresh"]
    assert broker.queues["q"].stats.dropped["delivery_limit"] == 1


def test_both_counters_of_4_3_survive_a_restart_spec_11_15_22_19(data_dir: Path) -> None:
    broker = Broker(data_dir=data_dir, rabbitmq_version="4.3")
    _quorum(broker)
    _returned(broker, 2, how="nack")  # acquired only
    _returned(broker, 1, how="reject")  # acquired, and a failed delivery
    broker.close()
    broker = Broker(data_dir=data_dir, rabbitmq_version="4.3")
    try:
        _, properties, _ = broker.connect().channel().basic_get("q", auto_ack=True)
        assert properties.headers == {"x-acquired-count": 3, "x-delivery-count": 1}
    finally:
        broker.close()


def test_a_crash_keeps_quorum_counters_as_last_recorded_spec_22_18_22_19(
    restart: Restart,
) -> None:
    # the model does not know which messages consumers held when it crashed: each one
    # comes back redelivered (22.18) with the counters it had (22.19), and none is
    # dropped for a return it may not have had
    broker = restart()
    _quorum(broker, **{"x-delivery-limit": 0})
    broker.connect().channel().basic_publish("", "q", b"third")
    broker._store.flush()  # type: ignore[union-attr]
    broker = restart(broker, crash_it=True)
    ch = broker.connect().channel()
    seen = []
    for _ in range(3):
        method, properties, body = ch.basic_get("q", auto_ack=True)
        seen.append((body, method.redelivered, properties.headers))
    assert seen == [(b"poison", True, None), (b"fresh", True, None), (b"third", True, None)]


def test_a_crash_keeps_a_returned_messages_count_spec_22_19(restart: Restart) -> None:
    broker = restart()
    _quorum(broker)
    _returned(broker, 2)
    broker._store.flush()  # type: ignore[union-attr]
    broker = restart(broker, crash_it=True)
    _, properties, _ = broker.connect().channel().basic_get("q", auto_ack=True)
    assert properties.headers == {"x-delivery-count": 2}


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


def test_stream_messages_are_never_redelivered_even_after_a_crash_spec_12_16(
    restart: Restart,
) -> None:
    broker = restart()
    ch = broker.connect().channel()
    ch.queue_declare("s", durable=True, arguments={"x-queue-type": "stream"})
    ch.confirm_delivery()
    ch.basic_publish("", "s", b"a")
    broker = restart(broker, crash_it=True)
    ch = broker.connect().channel()
    ch.basic_qos(prefetch_count=10)
    flags: list[bool] = []
    ch.basic_consume(
        "s", lambda c, m, p, b: flags.append(m.redelivered), arguments={"x-stream-offset": "first"}
    )
    broker.run_until_idle()
    assert flags == [False]
    assert [u.redelivered for u in ch.unacked_messages()] == [False]


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
