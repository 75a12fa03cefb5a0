"""Queue rules of spec section 2: naming, declare, equivalence, exclusivity,
arguments, auto-delete, expiry, delete, purge, requeue order, and inspection."""

from __future__ import annotations

import enum
import re
from typing import Any

import pytest

from amqpmodel import (
    AccessRefused,
    BasicProperties,
    Broker,
    Channel,
    Connection,
    NotFound,
    PreconditionFailed,
    QueueDeclareOk,
    ResourceLocked,
    VirtualClock,
)

GENERATED_NAME = re.compile(r"amq\.gen-[A-Za-z0-9_-]{22}")


def publish(ch: Channel, queue: str, body: str | bytes = b"m") -> None:
    ch.basic_publish("", queue, body)


def bodies(broker: Broker, queue: str) -> list[bytes]:
    return [message.body for message in broker.queues[queue].peek()]


def get_body(ch: Channel, queue: str) -> bytes | None:
    _, _, body = ch.basic_get(queue, auto_ack=True)
    return body


# ----------------------------------------------------------------- 2.1 reserved prefix


def test_declare_amq_prefix_refused_403_spec_2_1(ch: Channel) -> None:
    with pytest.raises(AccessRefused) as info:
        ch.queue_declare("amq.myqueue")
    assert info.value.reply_code == 403
    assert info.value.reply_text == (
        "ACCESS_REFUSED - queue name 'amq.myqueue' contains reserved prefix 'amq.*'"
    )
    assert ch.is_closed


def test_declare_amq_prefix_refused_even_if_queue_exists_spec_2_1(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    name = ch.queue_declare("").method.queue
    assert name in broker.queues
    with pytest.raises(AccessRefused) as info:
        ch.queue_declare(name)
    assert info.value.reply_code == 403
    assert info.value.reply_text == (
        f"ACCESS_REFUSED - queue name '{name}' contains reserved prefix 'amq.*'"
    )


def test_passive_declare_of_amq_queue_is_fine_spec_2_1(conn: Connection) -> None:
    ch = conn.channel()
    name = ch.queue_declare("").method.queue
    ok = ch.queue_declare(name, passive=True)
    assert ok.queue == name
    assert ch.is_open


def test_passive_declare_of_missing_amq_queue_is_404_not_403_spec_2_1(ch: Channel) -> None:
    with pytest.raises(NotFound) as info:
        ch.queue_declare("amq.nothing", passive=True)
    assert info.value.reply_code == 404


# ----------------------------------------------------------------- 2.2 server-named queues


def test_empty_name_generates_amq_gen_name_spec_2_2(broker: Broker, ch: Channel) -> None:
    ok = ch.queue_declare("")
    assert isinstance(ok, QueueDeclareOk)
    assert GENERATED_NAME.fullmatch(ok.queue), ok.queue
    assert ok.method.queue == ok.queue
    assert ok.queue in broker.queues


def test_generated_names_are_unique_spec_2_2(ch: Channel) -> None:
    names = {ch.queue_declare("", exclusive=True).queue for _ in range(50)}
    assert len(names) == 50
    assert all(GENERATED_NAME.fullmatch(name) for name in names)


def test_last_declared_queue_used_by_get_spec_2_2(ch: Channel) -> None:
    name = ch.queue_declare("").queue
    publish(ch, name, b"hello")
    ok, _, body = ch.basic_get("", auto_ack=True)
    assert ok is not None
    assert body == b"hello"


def test_last_declared_queue_is_the_latest_one_spec_2_2(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("first")
    ch.queue_declare("second")
    publish(ch, "first", b"1")
    publish(ch, "second", b"2")
    assert ch.queue_purge("").message_count == 1
    assert broker.queues["first"].messages_ready == 1
    assert broker.queues["second"].messages_ready == 0


def test_last_declared_queue_includes_passive_declare_spec_2_2(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("first")
    ch.queue_declare("second")
    ch.queue_declare("first", passive=True)
    publish(ch, "first", b"1")
    publish(ch, "second", b"2")
    assert ch.queue_purge("").message_count == 1
    assert broker.queues["first"].messages_ready == 0
    assert broker.queues["second"].messages_ready == 1


def test_last_declared_queue_used_by_purge_spec_2_2(broker: Broker, ch: Channel) -> None:
    name = ch.queue_declare("").queue
    publish(ch, name)
    publish(ch, name)
    assert ch.queue_purge("").message_count == 2
    assert broker.queues[name].messages_ready == 0


def test_last_declared_queue_used_by_delete_spec_2_2(broker: Broker, ch: Channel) -> None:
    name = ch.queue_declare("").queue
    publish(ch, name)
    assert ch.queue_delete("").message_count == 1
    assert name not in broker.queues


def test_last_declared_queue_used_by_consume_spec_2_2(broker: Broker, ch: Channel) -> None:
    name = ch.queue_declare("").queue
    got: list[bytes] = []
    ch.basic_consume("", lambda c, m, p, b: got.append(b), auto_ack=True)
    assert broker.queues[name].consumer_count == 1
    publish(ch, name, b"x")
    broker.run_until_idle()
    assert got == [b"x"]


def test_last_declared_queue_used_by_bind_with_empty_routing_key_spec_2_2(
    broker: Broker, ch: Channel
) -> None:
    name = ch.queue_declare("").queue
    ch.queue_bind("", "amq.direct", routing_key="")
    keys = [
        b.routing_key for b in broker.bindings if b.source == "amq.direct" and b.destination == name
    ]
    assert keys == [name]
    ch.basic_publish("amq.direct", name, b"routed")
    assert bodies(broker, name) == [b"routed"]


def test_last_declared_queue_bind_keeps_explicit_routing_key_spec_2_2(
    broker: Broker, ch: Channel
) -> None:
    name = ch.queue_declare("").queue
    ch.queue_bind("", "amq.direct", routing_key="rk")
    ch.basic_publish("amq.direct", "rk", b"routed")
    assert bodies(broker, name) == [b"routed"]


def test_last_declared_queue_used_by_unbind_spec_2_2(broker: Broker, ch: Channel) -> None:
    name = ch.queue_declare("").queue
    ch.queue_bind(name, "amq.direct", routing_key=name)
    ch.queue_unbind("", "amq.direct", routing_key="")
    assert not [b for b in broker.bindings if b.source == "amq.direct"]
    ch.basic_publish("amq.direct", name, b"lost")
    assert broker.queues[name].messages_ready == 0


def test_last_declared_queue_is_per_channel_spec_2_2(conn: Connection) -> None:
    first = conn.channel()
    first.queue_declare("q")
    second = conn.channel()
    with pytest.raises(NotFound) as info:
        second.queue_purge("")
    assert info.value.reply_text == "NOT_FOUND - no previously declared queue"


_SHORTCUT_CALLS: dict[str, Any] = {
    "get": lambda ch: ch.basic_get(""),
    "purge": lambda ch: ch.queue_purge(""),
    "delete": lambda ch: ch.queue_delete(""),
    "consume": lambda ch: ch.basic_consume("", lambda *a: None),
    "bind": lambda ch: ch.queue_bind("", "amq.direct", routing_key=""),
    "bind_with_key": lambda ch: ch.queue_bind("", "amq.direct", routing_key="k"),
}


@pytest.mark.parametrize("operation", sorted(_SHORTCUT_CALLS))
def test_empty_name_without_declared_queue_is_404_spec_2_2(ch: Channel, operation: str) -> None:
    with pytest.raises(NotFound) as info:
        _SHORTCUT_CALLS[operation](ch)
    assert info.value.reply_code == 404
    assert info.value.reply_text == "NOT_FOUND - no previously declared queue"
    assert ch.is_closed


# ----------------------------------------------------------------- 2.3 redeclare equivalence


def test_redeclare_same_properties_is_ok_spec_2_3(broker: Broker, ch: Channel) -> None:
    args = {"x-max-length": 10, "x-message-ttl": 1000}
    ch.queue_declare("q", durable=True, arguments=args)
    publish(ch, "q")
    ok = ch.queue_declare("q", durable=True, arguments=dict(args))
    assert ok.queue == "q"
    assert ok.message_count == 1
    assert len(broker.queues) == 1


def test_redeclare_durable_mismatch_406_spec_2_3(ch: Channel) -> None:
    ch.queue_declare("q", durable=True)
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", durable=False)
    assert info.value.reply_code == 406
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': "
        "received 'false' but current is 'true'"
    )
    assert ch.is_closed


def test_redeclare_auto_delete_mismatch_406_spec_2_3(ch: Channel) -> None:
    ch.queue_declare("q", auto_delete=False)
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", auto_delete=True)
    assert info.value.reply_code == 406
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for queue 'q' in vhost '/': "
        "received 'true' but current is 'false'"
    )


_COMPARED_ARGUMENTS: list[tuple[str, Any, Any]] = [
    ("x-expires", 10_000, 20_000),
    ("x-message-ttl", 1000, 2000),
    ("x-dead-letter-exchange", "dlx1", "dlx2"),
    ("x-max-length", 10, 11),
    ("x-max-length-bytes", 1000, 1001),
    ("x-max-priority", 5, 6),
    ("x-overflow", "drop-head", "reject-publish"),
    ("x-queue-mode", "default", "lazy"),
    ("x-queue-version", 1, 2),
    ("x-single-active-consumer", True, False),
    ("x-queue-type", "classic", "quorum"),
]


@pytest.mark.parametrize(("key", "current", "received"), _COMPARED_ARGUMENTS)
def test_redeclare_compared_argument_mismatch_406_spec_2_3(
    conn: Connection, key: str, current: Any, received: Any
) -> None:
    ch = conn.channel()
    ch.queue_declare("q", arguments={key: current})
    ch2 = conn.channel()
    with pytest.raises(PreconditionFailed) as info:
        ch2.queue_declare("q", arguments={key: received})
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith(
        f"PRECONDITION_FAILED - inequivalent arg '{key}' for queue 'q' in vhost '/': received "
    )
    assert ch2.is_closed
    assert ch.is_open


@pytest.mark.parametrize(
    ("key", "value"),
    [(key, current) for key, current, _ in _COMPARED_ARGUMENTS if key != "x-queue-type"],
)
def test_redeclare_compared_argument_missing_406_spec_2_3(
    conn: Connection, key: str, value: Any
) -> None:
    ch = conn.channel()
    ch.queue_declare("q", arguments={key: value})
    ch2 = conn.channel()
    with pytest.raises(PreconditionFailed) as info:
        ch2.queue_declare("q")
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith(
        f"PRECONDITION_FAILED - inequivalent arg '{key}' for queue 'q' in vhost '/': "
    )


def test_redeclare_compared_argument_added_406_spec_2_3(ch: Channel) -> None:
    ch.queue_declare("q")
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", arguments={"x-max-length": 5})
    assert info.value.reply_text.startswith(
        "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'q' in vhost '/': "
    )


def test_redeclare_dead_letter_routing_key_mismatch_406_spec_2_3(ch: Channel) -> None:
    ch.queue_declare(
        "q", arguments={"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "a"}
    )
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare(
            "q", arguments={"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "b"}
        )
    assert info.value.reply_text.startswith(
        "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-routing-key' for queue 'q'"
    )


def test_redeclare_missing_queue_type_means_classic_spec_2_3(ch: Channel) -> None:
    ch.queue_declare("q")
    ok = ch.queue_declare("q", arguments={"x-queue-type": "classic"})
    assert ok.queue == "q"
    ch.queue_declare("r", arguments={"x-queue-type": "classic"})
    assert ch.queue_declare("r").queue == "r"
    assert ch.is_open


def test_redeclare_ignores_other_arguments_spec_2_3(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q", arguments={"x-custom": "a", "x-max-length": 3})
    ok = ch.queue_declare("q", arguments={"x-custom": "b", "x-max-length": 3, "other": 1})
    assert ok.queue == "q"
    assert ch.is_open
    # the queue keeps the arguments of its creation
    assert broker.queues["q"].arguments.get("x-custom") == "a"


class _Small(enum.IntEnum):
    TEN = 10


def test_redeclare_integers_compare_by_value_spec_2_3(ch: Channel) -> None:
    ch.queue_declare("q", arguments={"x-max-length": 10, "x-max-length-bytes": 2**40})
    ok = ch.queue_declare("q", arguments={"x-max-length": _Small.TEN, "x-max-length-bytes": 2**40})
    assert ok.queue == "q"
    assert ch.is_open


def test_redeclare_integers_differing_only_above_32_bits_mismatch_spec_2_3(
    ch: Channel,
) -> None:
    # comparison is by value: a long that wraps to the same 32-bit value still differs
    ch.queue_declare("q", arguments={"x-max-length-bytes": 5})
    assert ch.queue_declare("q", arguments={"x-max-length-bytes": 5}).queue == "q"
    with pytest.raises(PreconditionFailed):
        ch.queue_declare("q", arguments={"x-max-length-bytes": 5 + 2**32})


def test_redeclare_equivalence_failure_leaves_queue_unchanged_spec_2_3(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("q", durable=True)
    publish(ch, "q")
    with pytest.raises(PreconditionFailed):
        conn.channel().queue_declare("q", durable=False)
    queue = broker.queues["q"]
    assert queue.durable is True
    assert queue.messages_ready == 1


# ----------------------------------------------------------------- 2.4 exclusive mismatch


def test_redeclare_exclusive_mismatch_is_405_spec_2_4(conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q", exclusive=True)
    with pytest.raises(ResourceLocked) as info:
        ch.queue_declare("q", exclusive=False)
    assert info.value.reply_code == 405
    assert info.value.reply_text.startswith(
        "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q' in vhost '/'"
    )


def test_redeclare_non_exclusive_as_exclusive_is_405_spec_2_4(conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    with pytest.raises(ResourceLocked) as info:
        ch.queue_declare("q", exclusive=True)
    assert info.value.reply_code == 405


def test_redeclare_exclusive_and_durable_mismatch_is_405_first_spec_2_4(
    conn: Connection,
) -> None:
    ch = conn.channel()
    ch.queue_declare("q", durable=True)
    with pytest.raises(ResourceLocked):
        ch.queue_declare("q", exclusive=True, durable=False)


# ----------------------------------------------------------------- 2.5 exclusive queues

_LOCKED_TEXT = (
    "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'excl' in vhost '/'"
)

_OTHER_CONNECTION_CALLS: dict[str, Any] = {
    "declare": lambda ch: ch.queue_declare("excl", exclusive=True),
    "declare_non_exclusive": lambda ch: ch.queue_declare("excl"),
    "declare_passive": lambda ch: ch.queue_declare("excl", passive=True),
    "consume": lambda ch: ch.basic_consume("excl", lambda *a: None),
    "get": lambda ch: ch.basic_get("excl"),
    "purge": lambda ch: ch.queue_purge("excl"),
    "delete": lambda ch: ch.queue_delete("excl"),
    "bind": lambda ch: ch.queue_bind("excl", "amq.direct", routing_key="k"),
    "unbind": lambda ch: ch.queue_unbind("excl", "amq.direct", routing_key="excl"),
}


@pytest.mark.parametrize("operation", sorted(_OTHER_CONNECTION_CALLS))
def test_exclusive_queue_locked_for_other_connection_405_spec_2_5(
    broker: Broker, ch: Channel, operation: str
) -> None:
    ch.queue_declare("excl", exclusive=True)
    ch.queue_bind("excl", "amq.direct", routing_key="excl")
    publish(ch, "excl", b"kept")
    other = broker.connect()
    try:
        other_ch = other.channel()
        with pytest.raises(ResourceLocked) as info:
            _OTHER_CONNECTION_CALLS[operation](other_ch)
        assert info.value.reply_code == 405
        assert info.value.reply_text.startswith(_LOCKED_TEXT)
        assert other_ch.is_closed
        assert other.is_open
    finally:
        other.close()
    # nothing happened to the queue
    queue = broker.queues["excl"]
    assert queue.messages_ready == 1
    assert queue.consumer_count == 0
    assert any(b.destination == "excl" and b.source == "amq.direct" for b in broker.bindings)


def test_exclusive_queue_usable_from_other_channel_of_same_connection_spec_2_5(
    broker: Broker, conn: Connection
) -> None:
    conn.channel().queue_declare("excl", exclusive=True)
    other = conn.channel()
    other.queue_declare("excl", passive=True)
    other.queue_declare("excl", exclusive=True)
    publish(other, "excl", b"a")
    assert get_body(other, "excl") == b"a"
    other.queue_purge("excl")
    assert other.queue_delete("excl").message_count == 0
    assert "excl" not in broker.queues


def test_publish_to_exclusive_queue_from_other_connection_allowed_spec_2_5(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("excl", exclusive=True)
    other = broker.connect()
    try:
        other.channel().basic_publish("", "excl", b"from elsewhere")
    finally:
        other.close()
    assert bodies(broker, "excl") == [b"from elsewhere"]


def test_exclusive_queue_deleted_when_connection_closes_spec_2_5(broker: Broker) -> None:
    owner = broker.connect()
    ch = owner.channel()
    ch.queue_declare("excl", exclusive=True, durable=True)
    ch.queue_declare("shared")
    publish(ch, "excl")
    ch.close()
    assert "excl" in broker.queues  # channel close is not enough
    owner.close()
    assert "excl" not in broker.queues
    assert "shared" in broker.queues


def test_exclusive_queue_free_for_others_after_owner_closes_spec_2_5(broker: Broker) -> None:
    owner = broker.connect()
    owner.channel().queue_declare("excl", exclusive=True)
    owner.close()
    other = broker.connect()
    try:
        ok = other.channel().queue_declare("excl", exclusive=True)
        assert ok.queue == "excl"
        assert broker.queues["excl"].exclusive
    finally:
        other.close()


def test_exclusive_durable_queue_is_still_deleted_spec_2_5(broker: Broker) -> None:
    owner = broker.connect()
    owner.channel().queue_declare("excl", exclusive=True, durable=True)
    assert broker.queues["excl"].exclusive
    owner.close()
    assert "excl" not in broker.queues


# ----------------------------------------------------------------- 2.6 passive declare, counts


def test_passive_declare_missing_queue_404_spec_2_6(ch: Channel) -> None:
    with pytest.raises(NotFound) as info:
        ch.queue_declare("nope", passive=True)
    assert info.value.reply_code == 404
    assert info.value.reply_text == "NOT_FOUND - no queue 'nope' in vhost '/'"
    assert ch.is_closed


def test_passive_declare_does_not_create_spec_2_6(broker: Broker, conn: Connection) -> None:
    with pytest.raises(NotFound):
        conn.channel().queue_declare("nope", passive=True)
    assert "nope" not in broker.queues


def test_passive_declare_ignores_other_flags_spec_2_6(ch: Channel) -> None:
    ch.queue_declare("q", durable=True, arguments={"x-max-length": 5})
    ok = ch.queue_declare("q", passive=True, durable=False, auto_delete=True)
    assert ok.queue == "q"
    assert ch.is_open


def test_declare_ok_counts_ready_only_and_all_consumers_spec_2_6(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    for i in range(5):
        publish(ch, "q", str(i))
    ch.basic_get("q")  # one unacked
    ch.basic_get("q")  # two unacked
    other = conn.channel()
    other.basic_qos(prefetch_count=1)
    other.basic_consume("q", lambda *a: None)  # takes one, blocked by prefetch
    other.basic_consume("q", lambda *a: None)  # takes one more
    queue = broker.queues["q"]
    assert queue.messages_unacknowledged == 4
    ok = ch.queue_declare("q")
    assert ok.message_count == 1
    assert ok.consumer_count == 2
    passive = ch.queue_declare("q", passive=True)
    assert (passive.message_count, passive.consumer_count) == (1, 2)
    broker.run_until_idle()


def test_declare_ok_counts_new_queue_zero_spec_2_6(ch: Channel) -> None:
    ok = ch.queue_declare("q")
    assert (ok.queue, ok.message_count, ok.consumer_count) == ("q", 0, 0)


# ----------------------------------------------------------------- 2.7 argument validation


_BAD_ARGUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("x-expires", {"x-expires": 0}),
    ("x-expires", {"x-expires": -1}),
    ("x-expires", {"x-expires": "1000"}),
    ("x-expires", {"x-expires": 1.5}),
    ("x-expires", {"x-expires": 315_360_000_001}),
    ("x-message-ttl", {"x-message-ttl": -1}),
    ("x-message-ttl", {"x-message-ttl": "100"}),
    ("x-message-ttl", {"x-message-ttl": 315_360_000_001}),
    ("x-max-length", {"x-max-length": -1}),
    ("x-max-length", {"x-max-length": "10"}),
    ("x-max-length-bytes", {"x-max-length-bytes": -1}),
    ("x-max-length-bytes", {"x-max-length-bytes": 2.0}),
    ("x-overflow", {"x-overflow": "drop-tail"}),
    ("x-overflow", {"x-overflow": 1}),
    ("x-max-priority", {"x-max-priority": 256}),
    ("x-max-priority", {"x-max-priority": -1}),
    ("x-max-priority", {"x-max-priority": "5"}),
    ("x-single-active-consumer", {"x-single-active-consumer": "true"}),
    ("x-single-active-consumer", {"x-single-active-consumer": 1}),
    ("x-dead-letter-routing-key", {"x-dead-letter-routing-key": "rk"}),
    ("x-delivery-limit", {"x-delivery-limit": 5}),
]


@pytest.mark.parametrize(("key", "arguments"), _BAD_ARGUMENTS)
def test_invalid_argument_refused_406_spec_2_7(
    broker: Broker, ch: Channel, key: str, arguments: dict[str, Any]
) -> None:
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", arguments=arguments)
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith(
        f"PRECONDITION_FAILED - invalid arg '{key}' for queue 'q' in vhost '/'"
    )
    assert "q" not in broker.queues
    assert ch.is_closed


_GOOD_ARGUMENTS: list[dict[str, Any]] = [
    {"x-expires": 1},
    {"x-expires": 315_360_000_000},
    {"x-message-ttl": 0},
    {"x-message-ttl": 315_360_000_000},
    {"x-max-length": 0},
    {"x-max-length-bytes": 0},
    {"x-overflow": "drop-head"},
    {"x-overflow": "reject-publish"},
    {"x-overflow": "reject-publish-dlx"},
    {"x-max-priority": 0},
    {"x-max-priority": 255},
    {"x-single-active-consumer": True},
    {"x-single-active-consumer": False},
    {"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "rk"},
    {"x-dead-letter-exchange": "missing-is-fine"},
    {"x-custom-thing": [1, "two"], "plain": {"nested": True}},
]


@pytest.mark.parametrize("arguments", _GOOD_ARGUMENTS)
def test_valid_arguments_accepted_spec_2_7(
    broker: Broker, ch: Channel, arguments: dict[str, Any]
) -> None:
    assert ch.queue_declare("q", arguments=arguments).queue == "q"
    # spec 11.3: the declare's arguments, with the x-queue-type a declare without one gets
    assert broker.queues["q"].arguments == {"x-queue-type": "classic", **arguments}


# ----------------------------------------------------------------- 2.8 auto-delete


def test_auto_delete_queue_deleted_when_last_consumer_cancels_spec_2_8(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("ad", auto_delete=True)
    first = ch.basic_consume("ad", lambda *a: None)
    second = ch.basic_consume("ad", lambda *a: None)
    ch.basic_cancel(first)
    assert "ad" in broker.queues
    ch.basic_cancel(second)
    assert "ad" not in broker.queues


def test_auto_delete_queue_never_consumed_stays_spec_2_8(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("ad", auto_delete=True)
    publish(ch, "ad", b"1")
    publish(ch, "ad", b"2")
    assert get_body(ch, "ad") == b"1"
    ch.basic_get("ad", auto_ack=False)
    ch.close()
    assert "ad" in broker.queues
    assert broker.queues["ad"].messages_ready == 1  # the unacked one came back


def test_auto_delete_queue_deleted_when_consumer_channel_closes_spec_2_8(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("ad", auto_delete=True)
    ch.basic_consume("ad", lambda *a: None)
    ch.close()
    assert "ad" not in broker.queues


def test_auto_delete_queue_deleted_when_consumer_connection_closes_spec_2_8(
    broker: Broker,
) -> None:
    setup = broker.connect()
    setup.channel().queue_declare("ad", auto_delete=True)
    consumer = broker.connect()
    consumer.channel().basic_consume("ad", lambda *a: None)
    assert "ad" in broker.queues
    consumer.close()
    assert "ad" not in broker.queues
    setup.close()


def test_auto_delete_queue_loses_its_messages_spec_2_8(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("ad", auto_delete=True)
    ch.basic_qos(prefetch_count=1)
    tag = ch.basic_consume("ad", lambda *a: None)
    for i in range(3):
        publish(ch, "ad", str(i))
    queue = broker.queues["ad"]
    assert (queue.messages_ready, queue.messages_unacknowledged) == (2, 1)
    ch.basic_cancel(tag)
    assert "ad" not in broker.queues
    # a new queue of that name starts empty
    fresh = ch.queue_declare("ad", auto_delete=True)
    assert fresh.message_count == 0
    broker.run_until_idle()


def test_auto_delete_queue_stays_while_other_channel_consumes_spec_2_8(
    broker: Broker, conn: Connection
) -> None:
    one, two = conn.channel(), conn.channel()
    one.queue_declare("ad", auto_delete=True)
    one.basic_consume("ad", lambda *a: None)
    two.basic_consume("ad", lambda *a: None)
    one.close()
    assert "ad" in broker.queues
    assert broker.queues["ad"].consumer_count == 1
    two.close()
    assert "ad" not in broker.queues


def test_non_auto_delete_queue_stays_after_last_consumer_spec_2_8(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    ch.basic_cancel(ch.basic_consume("q", lambda *a: None))
    assert "q" in broker.queues


# ----------------------------------------------------------------- 2.9 x-expires


def test_unused_queue_expires_after_x_expires_spec_2_9(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("exp", arguments={"x-expires": 1000})
    clock.advance(0.999)
    assert "exp" in broker.queues
    clock.advance(0.001)
    assert "exp" not in broker.queues


def test_expired_queue_messages_deleted_not_dead_lettered_spec_2_9(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dlq")
    ch.queue_bind("dlq", "dlx")
    ch.queue_declare("exp", arguments={"x-expires": 1000, "x-dead-letter-exchange": "dlx"})
    publish(ch, "exp", b"a")
    publish(ch, "exp", b"b")
    queue = broker.queues["exp"]
    clock.advance(1.0)
    assert "exp" not in broker.queues
    assert queue.stats.dropped["expired_queue"] == 2
    assert queue.stats.dead_lettered == 0
    assert broker.queues["dlq"].messages_ready == 0


def test_publish_does_not_restart_expiry_spec_2_9(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("exp", arguments={"x-expires": 1000})
    clock.advance(0.6)
    publish(ch, "exp")
    clock.advance(0.4)
    assert "exp" not in broker.queues


def test_redeclare_restarts_expiry_spec_2_9(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("exp", arguments={"x-expires": 1000})
    clock.advance(0.6)
    ch.queue_declare("exp", arguments={"x-expires": 1000})
    clock.advance(0.6)
    assert "exp" in broker.queues
    clock.advance(0.4)
    assert "exp" not in broker.queues


def test_passive_declare_restarts_expiry_spec_2_9(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("exp", arguments={"x-expires": 1000})
    clock.advance(0.6)
    ch.queue_declare("exp", passive=True)
    clock.advance(0.6)
    assert "exp" in broker.queues
    clock.advance(0.4)
    assert "exp" not in broker.queues


@pytest.mark.parametrize("with_message", [False, True])
def test_basic_get_restarts_expiry_spec_2_9(
    broker: Broker, clock: VirtualClock, ch: Channel, with_message: bool
) -> None:
    ch.queue_declare("exp", arguments={"x-expires": 1000})
    if with_message:
        publish(ch, "exp")
    clock.advance(0.6)
    ch.basic_get("exp", auto_ack=True)
    clock.advance(0.6)
    assert "exp" in broker.queues
    clock.advance(0.4)
    assert "exp" not in broker.queues


def test_queue_with_consumer_does_not_expire_and_timer_restarts_when_it_leaves_spec_2_9(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("exp", arguments={"x-expires": 1000})
    clock.advance(0.5)
    tag = ch.basic_consume("exp", lambda *a: None)
    clock.advance(10.0)
    assert "exp" in broker.queues
    ch.basic_cancel(tag)
    clock.advance(0.9)
    assert "exp" in broker.queues
    clock.advance(0.1)
    assert "exp" not in broker.queues


def test_expiry_timer_restarts_when_consumer_channel_closes_spec_2_9(
    broker: Broker, clock: VirtualClock, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("exp", arguments={"x-expires": 1000})
    consumer = conn.channel()
    consumer.basic_consume("exp", lambda *a: None)
    clock.advance(5.0)
    consumer.close()
    clock.advance(0.9)
    assert "exp" in broker.queues
    clock.advance(0.1)
    assert "exp" not in broker.queues


def test_queue_without_consumers_expires_despite_unacked_spec_2_9(
    broker: Broker, clock: VirtualClock, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("exp", arguments={"x-expires": 1000})
    publish(ch, "exp", b"a")
    ch.basic_get("exp")  # unacked; the queue has no consumer
    clock.advance(1.0)
    assert "exp" not in broker.queues
    ch.close()  # requeueing into a deleted queue is harmless


def test_expired_queue_name_can_be_declared_again_spec_2_9(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("exp", arguments={"x-expires": 1000})
    publish(ch, "exp")
    clock.advance(2.0)
    ok = ch.queue_declare("exp", arguments={"x-expires": 1000})
    assert ok.message_count == 0
    assert "exp" in broker.queues


# ----------------------------------------------------------------- 2.10 queue.delete


def test_delete_missing_queue_ok_count_zero_spec_2_10(ch: Channel) -> None:
    assert ch.queue_delete("nope").message_count == 0
    assert ch.is_open


def test_delete_returns_ready_count_only_spec_2_10(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    for i in range(4):
        publish(ch, "q", str(i))
    ch.basic_get("q")  # unacked
    queue = broker.queues["q"]
    assert ch.queue_delete("q").message_count == 3
    assert queue.stats.dropped["deleted"] == 3
    assert "q" not in broker.queues
    assert not [b for b in broker.bindings if b.destination == "q"]


def test_delete_if_unused_with_consumer_406_spec_2_10(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", lambda *a: None)
    other = conn.channel()
    with pytest.raises(PreconditionFailed) as info:
        other.queue_delete("q", if_unused=True)
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith("PRECONDITION_FAILED - queue 'q'")
    assert info.value.reply_text.endswith("in use")
    assert "q" in broker.queues
    assert other.is_closed


def test_delete_if_unused_without_consumer_ok_spec_2_10(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    publish(ch, "q")
    assert ch.queue_delete("q", if_unused=True).message_count == 1
    assert "q" not in broker.queues


def test_delete_if_empty_with_ready_messages_406_spec_2_10(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    publish(ch, "q")
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_delete("q", if_empty=True)
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith("PRECONDITION_FAILED - queue 'q'")
    assert info.value.reply_text.endswith("not empty")
    assert broker.queues["q"].messages_ready == 1


def test_delete_if_empty_ignores_unacked_spec_2_10(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    publish(ch, "q")
    ok, _, _ = ch.basic_get("q")
    assert ok is not None
    assert ch.queue_delete("q", if_empty=True).message_count == 0
    assert "q" not in broker.queues
    # the delivery of a deleted queue can still be acked
    ch.basic_ack(ok.delivery_tag)
    assert ch.is_open


def test_delete_cancels_consumers_spec_2_10(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    cancelled: list[str] = []
    tag = ch.basic_consume(
        "q", lambda *a: None, on_cancel_callback=lambda m: cancelled.append(m.consumer_tag)
    )
    ch.queue_delete("q")
    broker.run_until_idle()
    assert cancelled == [tag]
    assert ch.is_open


# ----------------------------------------------------------------- 2.11 queue.purge


def test_purge_removes_ready_only_spec_2_11(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    for i in range(5):
        publish(ch, "q", str(i))
    first, _, _ = ch.basic_get("q")
    second, _, _ = ch.basic_get("q")
    assert first is not None and second is not None
    assert ch.queue_purge("q").message_count == 3
    queue = broker.queues["q"]
    assert queue.messages_ready == 0
    assert queue.messages_unacknowledged == 2
    assert queue.stats.dropped["purged"] == 3
    ch.basic_ack(first.delivery_tag)
    ch.basic_nack(second.delivery_tag, requeue=True)
    assert queue.messages_unacknowledged == 0
    assert bodies(broker, "q") == [b"1"]


def test_purge_empty_queue_returns_zero_spec_2_11(ch: Channel) -> None:
    ch.queue_declare("q")
    assert ch.queue_purge("q").message_count == 0


def test_purge_missing_queue_404_spec_2_11(ch: Channel) -> None:
    with pytest.raises(NotFound) as info:
        ch.queue_purge("nope")
    assert info.value.reply_code == 404
    assert info.value.reply_text == "NOT_FOUND - no queue 'nope' in vhost '/'"


def test_purge_does_not_dead_letter_spec_2_11(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dlq")
    ch.queue_bind("dlq", "dlx")
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "dlx"})
    publish(ch, "q")
    assert ch.queue_purge("q").message_count == 1
    assert broker.queues["dlq"].messages_ready == 0


# ----------------------------------------------------------------- 2.12 requeue position


def _five_ready(ch: Channel) -> None:
    ch.queue_declare("q")
    for body in ("1", "2", "3", "4", "5"):
        publish(ch, "q", body)


def _get_three(ch: Channel) -> list[int]:
    tags = []
    for _ in range(3):
        ok, _, _ = ch.basic_get("q")
        assert ok is not None
        tags.append(ok.delivery_tag)
    return tags


def _drain_with_flags(ch: Channel) -> list[tuple[bytes, bool]]:
    seen = []
    while True:
        ok, _, body = ch.basic_get("q", auto_ack=True)
        if ok is None:
            return seen
        assert body is not None
        seen.append((body, ok.redelivered))


def test_reject_requeue_goes_back_to_original_position_spec_2_12(
    broker: Broker, ch: Channel
) -> None:
    _five_ready(ch)
    one, two, three = _get_three(ch)
    ch.basic_reject(two, requeue=True)
    assert bodies(broker, "q") == [b"2", b"4", b"5"]
    ch.basic_reject(one, requeue=True)
    assert bodies(broker, "q") == [b"1", b"2", b"4", b"5"]
    ch.basic_reject(three, requeue=True)
    assert bodies(broker, "q") == [b"1", b"2", b"3", b"4", b"5"]
    assert _drain_with_flags(ch) == [
        (b"1", True),
        (b"2", True),
        (b"3", True),
        (b"4", False),
        (b"5", False),
    ]


def test_nack_requeue_goes_back_to_original_position_spec_2_12(broker: Broker, ch: Channel) -> None:
    _five_ready(ch)
    _, two, three = _get_three(ch)
    ch.basic_nack(three, multiple=True, requeue=True)
    assert _drain_with_flags(ch) == [
        (b"1", True),
        (b"2", True),
        (b"3", True),
        (b"4", False),
        (b"5", False),
    ]
    assert two < three


def test_recover_requeues_to_original_position_spec_2_12(broker: Broker, ch: Channel) -> None:
    _five_ready(ch)
    _get_three(ch)
    ch.basic_recover(requeue=True)
    assert bodies(broker, "q") == [b"1", b"2", b"3", b"4", b"5"]
    assert _drain_with_flags(ch)[:4] == [(b"1", True), (b"2", True), (b"3", True), (b"4", False)]


def test_channel_close_requeues_to_original_position_spec_2_12(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    _five_ready(ch)
    getter = conn.channel()
    for _ in range(2):
        getter.basic_get("q")
    getter.close()
    assert bodies(broker, "q") == [b"1", b"2", b"3", b"4", b"5"]
    assert _drain_with_flags(ch)[:3] == [(b"1", True), (b"2", True), (b"3", False)]


def test_connection_close_requeues_to_original_position_spec_2_12(
    broker: Broker, ch: Channel
) -> None:
    _five_ready(ch)
    other = broker.connect()
    other_ch = other.channel()
    other_ch.basic_get("q")
    other_ch.basic_get("q")
    other.close()
    assert bodies(broker, "q") == [b"1", b"2", b"3", b"4", b"5"]
    assert broker.queues["q"].messages_unacknowledged == 0
    assert _drain_with_flags(ch)[:3] == [(b"1", True), (b"2", True), (b"3", False)]


def test_requeue_position_keeps_order_of_first_enqueue_after_repeated_requeues_spec_2_12(
    broker: Broker, ch: Channel
) -> None:
    _five_ready(ch)
    one, _, _ = _get_three(ch)
    ch.basic_reject(one, requeue=True)
    again, _, body = ch.basic_get("q")
    assert body == b"1"
    assert again is not None and again.redelivered
    publish(ch, "q", b"6")
    ch.basic_recover(requeue=True)
    assert bodies(broker, "q") == [b"1", b"2", b"3", b"4", b"5", b"6"]


def test_requeued_message_delivered_to_consumer_with_redelivered_spec_2_12(
    broker: Broker, ch: Channel
) -> None:
    _five_ready(ch)
    ok, _, _ = ch.basic_get("q")
    assert ok is not None and ok.redelivered is False
    ch.basic_nack(ok.delivery_tag, requeue=True)
    seen: list[tuple[bytes, bool]] = []
    ch.basic_consume("q", lambda c, m, p, b: seen.append((b, m.redelivered)), auto_ack=True)
    broker.run_until_idle()
    assert seen[:2] == [(b"1", True), (b"2", False)]


def test_cancel_does_not_requeue_unacked_spec_2_12(broker: Broker, ch: Channel) -> None:
    _five_ready(ch)
    tags: list[int] = []
    ch.basic_qos(prefetch_count=2)
    consumer_tag = ch.basic_consume("q", lambda c, m, p, b: tags.append(m.delivery_tag))
    broker.run_until_idle()
    assert len(tags) == 2
    ch.basic_cancel(consumer_tag)
    broker.run_until_idle()
    queue = broker.queues["q"]
    assert queue.messages_unacknowledged == 2
    assert bodies(broker, "q") == [b"3", b"4", b"5"]
    ch.basic_ack(tags[-1], multiple=True)
    assert queue.messages_unacknowledged == 0
    assert queue.stats.acked == 2


# ----------------------------------------------------------------- inspection API


def test_inspection_counts_and_peek(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q", durable=True, arguments={"x-max-length": 100})
    queue = broker.queues["q"]
    assert queue is broker.vhost("/").queues["q"]
    assert queue.name == "q"
    assert queue.durable is True
    assert queue.exclusive is False
    assert queue.auto_delete is False
    assert queue.arguments == {"x-max-length": 100, "x-queue-type": "classic"}  # spec 11.3
    for body in (b"a", b"bb", b"ccc"):
        publish(ch, "q", body)
    assert queue.messages_ready == 3
    assert queue.message_bytes_ready == 6
    first = queue.peek()
    assert [m.body for m in first] == [b"a", b"bb", b"ccc"]
    assert [m.routing_key for m in first] == ["q", "q", "q"]
    assert [m.exchange for m in first] == ["", "", ""]
    assert [m.body for m in queue.peek()] == [b"a", b"bb", b"ccc"]  # non-destructive
    ch.basic_get("q")
    assert queue.messages_ready == 2
    assert queue.messages_unacknowledged == 1
    assert queue.messages == 3
    assert [m.body for m in queue.peek()] == [b"bb", b"ccc"]
    assert queue.consumer_count == 0
    ch.basic_consume("q", lambda *a: None, auto_ack=True)
    assert queue.consumer_count == 1
    assert len(queue.consumers) == 1
    broker.run_until_idle()
    assert queue.messages_ready == 0
    assert queue.peek() == []
    assert queue.stats.enqueued == 3
    assert queue.stats.delivered == 3


def test_inspection_queue_dict_tracks_declare_and_delete(broker: Broker, ch: Channel) -> None:
    assert broker.queues == {}
    ch.queue_declare("a")
    ch.queue_declare("b")
    assert set(broker.queues) == {"a", "b"}
    ch.queue_delete("a")
    assert set(broker.queues) == {"b"}


def test_inspection_queues_per_vhost(broker: Broker) -> None:
    broker.add_vhost("other")
    conn = broker.connect(vhost="other")
    try:
        conn.channel().queue_declare("q")
    finally:
        conn.close()
    assert "q" in broker.vhost("other").queues
    assert "q" not in broker.queues


def test_requeue_to_original_position_in_priority_queue_spec_2_12(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("pq", arguments={"x-max-priority": 5})
    for body, priority in ((b"a", 1), (b"b", 1), (b"c", 5), (b"d", 5)):
        ch.basic_publish("", "pq", body, properties=BasicProperties(priority=priority))
    c, _, c_body = ch.basic_get("pq")
    d, _, d_body = ch.basic_get("pq")
    a, _, a_body = ch.basic_get("pq")
    assert (c_body, d_body, a_body) == (b"c", b"d", b"a")
    assert c is not None and d is not None and a is not None
    ch.basic_nack(a.delivery_tag, requeue=True)
    ch.basic_nack(c.delivery_tag, requeue=True)
    assert bodies(broker, "pq") == [b"c", b"a", b"b"]
    ch.basic_nack(d.delivery_tag, requeue=True)
    assert bodies(broker, "pq") == [b"c", b"d", b"a", b"b"]
