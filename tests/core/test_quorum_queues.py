"""Quorum queues over AMQP 0-9-1 (spec 11): declare rules, delivery limit and
counts, returns, priorities, overflow, dead-lettering strategies, single active
consumer, and the refusals of what the type does not do."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import (
    BasicProperties,
    Broker,
    Channel,
    Connection,
    NotImplementedByBroker,
    PreconditionFailed,
    ResourceLocked,
    VirtualClock,
)

QUORUM = {"x-queue-type": "quorum"}


def declare(ch: Channel, name: str = "q", **arguments: Any) -> None:
    ch.queue_declare(name, durable=True, arguments={**QUORUM, **arguments})


def publish(ch: Channel, queue: str, body: bytes, priority: int | None = None) -> None:
    ch.basic_publish("", queue, body, BasicProperties(priority=priority))


def get(ch: Channel, queue: str = "q") -> tuple[Any, Any, Any]:
    return ch.basic_get(queue)


# ----------------------------------------------------------------- declare (11.1-11.10)


def test_declared_quorum_queue_keeps_its_type_spec_11_1(broker: Broker, ch: Channel) -> None:
    declare(ch)
    queue = broker.queues["q"]
    assert queue.queue_type == "quorum"
    assert queue.arguments["x-queue-type"] == "quorum"


def test_declare_without_type_gets_classic_injected_spec_11_3(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("c", arguments={"x-max-length": 3})
    assert broker.queues["c"].arguments == {"x-max-length": 3, "x-queue-type": "classic"}


def test_vhost_default_queue_type_applies_when_flags_suit_spec_11_3(
    broker: Broker, ch: Channel
) -> None:
    broker.vhost("/").default_queue_type = "quorum"
    ch.queue_declare("durable-one", durable=True)
    ch.queue_declare("transient-one")  # not durable: quorum does not suit, classic instead
    assert broker.queues["durable-one"].queue_type == "quorum"
    assert broker.queues["transient-one"].queue_type == "classic"
    assert broker.queues["transient-one"].arguments["x-queue-type"] == "classic"


@pytest.mark.parametrize(
    ("flags", "prop"),
    [
        ({"durable": True, "auto_delete": True}, "auto-delete"),
        ({"durable": True, "exclusive": True}, "exclusive-owner"),
        ({"durable": False}, "non-durable"),
        ({"durable": False, "auto_delete": True, "exclusive": True}, "auto-delete"),
    ],
)
def test_invalid_properties_refused_in_order_spec_11_4(
    ch: Channel, flags: dict[str, bool], prop: str
) -> None:
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", arguments=QUORUM, **flags)
    assert info.value.reply_text == (
        f"PRECONDITION_FAILED - invalid property '{prop}' for queue 'q' in vhost '/'"
    )


def test_server_named_quorum_queue_refused_spec_11_5(ch: Channel) -> None:
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("", durable=True, arguments=QUORUM)
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue"
    )


def test_unknown_queue_type_refused_spec_11_6(ch: Channel) -> None:
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", durable=True, arguments={"x-queue-type": "fake"})
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'q' in vhost '/': "
        "\"unsupported queue type 'fake'\""
    )


@pytest.mark.parametrize("value", ["", "undefined"])
def test_empty_or_undefined_type_means_default_spec_11_6(
    broker: Broker, ch: Channel, value: str
) -> None:
    ch.queue_declare("q", arguments={"x-queue-type": value})
    assert broker.queues["q"].queue_type == "classic"


def test_non_string_queue_type_refused_spec_11_6(ch: Channel) -> None:
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", durable=True, arguments={"x-queue-type": 5})
    assert info.value.reply_text.endswith("{unacceptable_type,signedint}")


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        ({"x-max-length": -5}, "{value_negative,-5}"),
        ({"x-dead-letter-strategy": "sometimes"}, "invalid_dlx_strategy"),
        ({"x-quorum-initial-group-size": 0}, "{value_zero,0}"),
        ({"x-queue-leader-locator": "nearest"}, "invalid_queue_locator_arg"),
        ({"x-overflow": "drop-tail"}, "invalid_overflow"),
    ],
)
def test_argument_values_checked_spec_11_8(
    ch: Channel, arguments: dict[str, Any], reason: str
) -> None:
    key = next(iter(arguments))
    with pytest.raises(PreconditionFailed) as info:
        declare(ch, **arguments)
    assert info.value.reply_text == (
        f"PRECONDITION_FAILED - invalid arg '{key}' for queue 'q' in vhost '/': {reason}"
    )


def test_deprecated_leader_locators_and_ignored_memory_limits_accepted_spec_11_8(
    broker: Broker, ch: Channel
) -> None:
    declare(ch, **{"x-queue-leader-locator": "min-masters", "x-max-in-memory-length": 5})
    assert broker.queues["q"].queue_type == "quorum"


def test_delivery_limit_not_validated_spec_11_8(broker: Broker, ch: Channel) -> None:
    declare(ch, **{"x-delivery-limit": "three"})  # a non-integer means the default
    assert broker.queues["q"].type_figures()["delivery limit"] == 20


@pytest.mark.parametrize(
    "key",
    [
        "x-max-priority",
        "x-queue-mode",
        "x-queue-version",
        "x-queue-master-locator",
        "x-max-age",
        "x-stream-max-segment-size-bytes",
        "x-stream-filter-size-bytes",
        "x-initial-cluster-size",
    ],
)
def test_other_types_arguments_refused_spec_11_9(ch: Channel, key: str) -> None:
    with pytest.raises(PreconditionFailed) as info:
        declare(ch, **{key: 1})
    assert info.value.reply_text == (
        f"PRECONDITION_FAILED - invalid arg '{key}' for queue 'q' in vhost '/' "
        "of queue type rabbit_quorum_queue"
    )


def test_unknown_x_argument_accepted_spec_11_9(broker: Broker, ch: Channel) -> None:
    declare(ch, **{"x-made-up": "yes"})
    assert broker.queues["q"].arguments["x-made-up"] == "yes"


def test_value_checks_come_before_name_checks_spec_11_2(ch: Channel) -> None:
    with pytest.raises(PreconditionFailed) as info:
        declare(ch, **{"x-max-priority": 5, "x-max-length": -1})
    assert "x-max-length" in info.value.reply_text


def test_stream_offset_consumer_argument_refused_spec_11_10(ch: Channel) -> None:
    declare(ch)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_consume("q", lambda *a: None, arguments={"x-stream-offset": "first"})
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue 'q' in vhost '/' "
        "of queue type rabbit_quorum_queue"
    )


def test_non_integer_consumer_priority_refused_spec_11_10(ch: Channel) -> None:
    declare(ch)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_consume("q", lambda *a: None, arguments={"x-priority": "high"})
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'q' in vhost '/': "
        '"expected integer, got longstr"'
    )


# ----------------------------------------------------------------- delivery limit (11.11-11.17)


def test_default_limit_twenty_returns_then_dead_lettered_spec_11_11_11_12(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("dead")
    ch.exchange_declare("dlx", "fanout")
    ch.queue_bind("dead", "dlx")
    declare(ch, **{"x-dead-letter-exchange": "dlx"})
    publish(ch, "q", b"poison")
    deliveries = 0
    while True:
        method, properties, body = get(ch)
        if method is None:
            break
        deliveries += 1
        ch.basic_nack(method.delivery_tag, requeue=True)
    assert deliveries == 21  # limit N: delivered at most N+1 times
    method, properties, body = ch.basic_get("dead", auto_ack=True)
    assert body == b"poison"
    assert properties.headers["x-death"][0]["reason"] == "delivery_limit"


def test_delivery_count_header_and_redelivered_flag_spec_11_14(ch: Channel) -> None:
    declare(ch)
    publish(ch, "q", b"m")
    method, properties, _ = get(ch)
    assert method.redelivered is False
    assert "x-delivery-count" not in (properties.headers or {})
    ch.basic_reject(method.delivery_tag, requeue=True)
    method, properties, _ = get(ch)
    assert method.redelivered is True
    assert properties.headers["x-delivery-count"] == 1
    ch.basic_recover(requeue=True)
    method, properties, _ = get(ch)
    assert properties.headers["x-delivery-count"] == 2
    ch.basic_ack(method.delivery_tag)


def test_closed_channel_returns_count_too_spec_11_13(
    broker: Broker, conn: Connection, ch: Channel
) -> None:
    declare(ch)
    publish(ch, "q", b"m")
    other = conn.channel()
    other.basic_get("q")
    other.close()
    method, properties, _ = get(ch)
    assert properties.headers["x-delivery-count"] == 1
    ch.basic_ack(method.delivery_tag)


def test_small_limit_dropped_without_dlx_spec_11_12(broker: Broker, ch: Channel) -> None:
    declare(ch, **{"x-delivery-limit": 1})
    publish(ch, "q", b"m")
    for _ in range(2):
        method, _, _ = get(ch)
        ch.basic_nack(method.delivery_tag)
    assert get(ch)[0] is None
    assert broker.queues["q"].stats.dropped["delivery_limit"] == 1


def test_returns_go_before_every_other_ready_message_spec_11_16(ch: Channel) -> None:
    declare(ch)
    for body in (b"a", b"b", b"c"):
        publish(ch, "q", body)
    first = get(ch)[0]
    second = get(ch)[0]
    ch.basic_nack(second.delivery_tag)  # returned first
    ch.basic_nack(first.delivery_tag)
    publish(ch, "q", b"high", priority=9)
    # returns first, in return order; then the third dequeue from the levels (11.23)
    # takes the one enqueued first, so "c" comes before "high"
    assert [get(ch)[2] for _ in range(4)] == [b"b", b"a", b"c", b"high"]
    ch.basic_recover()


def test_without_limit_explicit_requeue_goes_to_the_back_spec_11_17(ch: Channel) -> None:
    declare(ch, **{"x-delivery-limit": -1})
    for body in (b"a", b"b"):
        publish(ch, "q", body)
    first = get(ch)[0]
    ch.basic_reject(first.delivery_tag, requeue=True)
    method, _, body = get(ch)
    assert body == b"b"
    method2, _, body2 = get(ch)
    assert body2 == b"a"
    ch.basic_ack(method2.delivery_tag, multiple=True)


def test_without_limit_closed_channel_returns_go_first_spec_11_17(
    conn: Connection, ch: Channel
) -> None:
    declare(ch, **{"x-delivery-limit": -1})
    for body in (b"a", b"b"):
        publish(ch, "q", body)
    other = conn.channel()
    other.basic_get("q")
    other.close()
    assert [get(ch)[2] for _ in range(2)] == [b"a", b"b"]
    ch.basic_recover()


def test_negative_limit_never_dead_letters_spec_11_11(broker: Broker, ch: Channel) -> None:
    declare(ch, **{"x-delivery-limit": -1})
    publish(ch, "q", b"m")
    for _ in range(30):
        method, _, _ = get(ch)
        ch.basic_nack(method.delivery_tag)
    method, properties, _ = get(ch)
    assert properties.headers["x-delivery-count"] == 30
    ch.basic_ack(method.delivery_tag)


# ----------------------------------------------------------------- limits and overflow (11.20-11.22)


def test_drop_head_is_the_default_spec_11_21(broker: Broker, ch: Channel) -> None:
    declare(ch, **{"x-max-length": 2})
    for body in (b"1", b"2", b"3"):
        publish(ch, "q", body)
    assert [m.body for m in broker.queues["q"].peek()] == [b"2", b"3"]
    assert broker.queues["q"].stats.dropped["maxlen"] == 1


def test_reject_publish_dlx_acts_as_drop_head_spec_11_21(broker: Broker, ch: Channel) -> None:
    declare(ch, **{"x-max-length": 1, "x-overflow": "reject-publish-dlx"})
    publish(ch, "q", b"1")
    publish(ch, "q", b"2")
    assert [m.body for m in broker.queues["q"].peek()] == [b"2"]


@pytest.mark.parametrize(("limit", "held"), [(0, 1), (2, 3), (5, 6)])
def test_reject_publish_takes_the_crossing_publish_spec_11_22(
    broker: Broker, ch: Channel, limit: int, held: int
) -> None:
    declare(ch, **{"x-max-length": limit, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    outcomes = []
    for i in range(held + 2):
        try:
            ch.basic_publish("", "q", b"%d" % i)
            outcomes.append(True)
        except Exception:  # NackError
            outcomes.append(False)
    assert outcomes == [True] * held + [False, False]
    assert broker.queues["q"].messages_ready == held


def test_reject_publish_accepts_again_below_eighty_percent_spec_11_22(
    broker: Broker, ch: Channel
) -> None:
    declare(ch, **{"x-max-length": 10, "x-overflow": "reject-publish"})
    for i in range(11):
        publish(ch, "q", b"%d" % i)
    publish(ch, "q", b"refused")
    assert broker.queues["q"].messages_ready == 11
    for _ in range(2):  # 9 left: above trunc(0.8 * 10) = 8, still refusing
        ch.basic_get("q", auto_ack=True)
    publish(ch, "q", b"refused too")
    assert broker.queues["q"].messages_ready == 9
    ch.basic_get("q", auto_ack=True)  # 8: accepted again
    publish(ch, "q", b"taken")
    assert broker.queues["q"].messages_ready == 9
    assert broker.queues["q"].stats.dropped["overflow"] == 2


# ----------------------------------------------------------------- dead-letter strategies (11.18, 11.19)


def test_at_least_once_holds_until_target_takes_it_spec_11_19(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.exchange_declare("dlx", "fanout")
    declare(
        ch,
        **{
            "x-dead-letter-exchange": "dlx",
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )
    publish(ch, "q", b"m")
    method, _, _ = get(ch)
    ch.basic_reject(method.delivery_tag, requeue=False)
    queue = broker.queues["q"]
    assert queue.messages_dead_letter_pending == 1  # no route yet: kept
    assert queue.messages == 1
    ch.queue_declare("dead")
    ch.queue_bind("dead", "dlx")
    clock.advance(179)
    assert broker.queues["dead"].messages_ready == 0
    clock.advance(1)  # retried every 180 s
    assert broker.queues["dead"].messages_ready == 1
    assert queue.messages == 0


def test_at_least_once_falls_back_with_drop_head_spec_11_19(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("dlx", "fanout")
    declare(ch, **{"x-dead-letter-exchange": "dlx", "x-dead-letter-strategy": "at-least-once"})
    publish(ch, "q", b"m")
    method, _, _ = get(ch)
    ch.basic_reject(method.delivery_tag, requeue=False)
    assert broker.queues["q"].messages == 0  # at-most-once: dropped as unroutable
    assert broker.vhost("/").dropped["dead_letter_unroutable"] == 1


# ----------------------------------------------------------------- priorities (11.23)


def test_two_levels_two_to_one_spec_11_23(broker: Broker, ch: Channel) -> None:
    declare(ch)
    for i in range(3):
        publish(ch, "q", b"n%d" % i)
    for i in range(3):
        publish(ch, "q", b"h%d" % i, priority=5)
    publish(ch, "q", b"n-none")
    order = [m.body for m in broker.queues["q"].peek()]
    got = [ch.basic_get("q", auto_ack=True)[2] for _ in range(7)]
    assert got == order
    assert got == [b"h0", b"h1", b"n0", b"h2", b"n1", b"n2", b"n-none"]


def test_priority_four_is_normal_spec_11_23(ch: Channel) -> None:
    declare(ch)
    publish(ch, "q", b"four", priority=4)
    publish(ch, "q", b"five", priority=5)
    assert ch.basic_get("q", auto_ack=True)[2] == b"five"


def test_max_priority_refused_spec_11_23(ch: Channel) -> None:
    with pytest.raises(PreconditionFailed):
        declare(ch, **{"x-max-priority": 10})


# ----------------------------------------------------------------- consumers (11.24, 11.25, 11.29)


def test_single_active_consumer_hands_over_to_higher_priority_spec_11_24(
    broker: Broker, ch: Channel
) -> None:
    declare(ch, **{"x-single-active-consumer": True})
    got: list[tuple[str, bytes]] = []
    ch.basic_qos(prefetch_count=1)
    low = ch.basic_consume("q", lambda c, m, p, b: got.append(("low", b)), consumer_tag="low")
    publish(ch, "q", b"1")
    broker.run_until_idle()
    ch.basic_consume(
        "q",
        lambda c, m, p, b: got.append(("high", b)),
        consumer_tag="high",
        arguments={"x-priority": 10},
    )
    publish(ch, "q", b"2")
    broker.run_until_idle()
    assert got == [("low", b"1")]  # the active one still holds an unacked message
    assert broker.queues["q"].single_active_consumer.tag == low
    ch.basic_ack(ch.unacked_delivery_tags[0])
    broker.run_until_idle()
    assert got == [("low", b"1"), ("high", b"2")]
    assert broker.queues["q"].single_active_consumer.tag == "high"
    ch.basic_ack(ch.unacked_delivery_tags[0])


def test_get_refused_with_single_active_consumer_spec_11_25(ch: Channel) -> None:
    declare(ch, **{"x-single-active-consumer": True})
    with pytest.raises(ResourceLocked) as info:
        ch.basic_get("q")
    assert info.value.reply_text == (
        "RESOURCE_LOCKED - cannot obtain access to locked queue 'q' in vhost '/'. "
        'basic.get operations are not supported by <<"quorum">> queues with single '
        "active consumer"
    )


def test_exclusive_consume_accepted_not_enforced_spec_11_25(broker: Broker, ch: Channel) -> None:
    declare(ch)
    ch.basic_consume("q", lambda *a: None, exclusive=True)
    ch.basic_consume("q", lambda *a: None)
    assert broker.queues["q"].consumer_count == 2


def test_consume_with_global_qos_refused_spec_11_29(conn: Connection, ch: Channel) -> None:
    declare(ch)
    ch.basic_qos(prefetch_count=5, global_qos=True)
    ch.basic_get("q")  # basic.get is not affected
    with pytest.raises(NotImplementedByBroker) as info:
        ch.basic_consume("q", lambda *a: None)
    assert info.value.reply_text == (
        "NOT_IMPLEMENTED - queue 'q' in vhost '/' does not support global qos"
    )
    assert conn.is_closed


# ----------------------------------------------------------------- delete, redeclare (11.26-11.28)


@pytest.mark.parametrize(
    ("flags", "flag"), [({"if_unused": True}, "if-unused"), ({"if_empty": True}, "if-empty")]
)
def test_conditional_delete_refused_spec_11_26(
    conn: Connection, ch: Channel, flags: dict[str, bool], flag: str
) -> None:
    declare(ch)
    with pytest.raises(NotImplementedByBroker) as info:
        ch.queue_delete("q", **flags)
    assert info.value.reply_text == (
        f"NOT_IMPLEMENTED - cannot delete queue 'q' in vhost '/'. queue.delete operations "
        f"with {flag} flag set are not supported by quorum queues"
    )
    assert conn.is_closed


def test_plain_delete_reports_ready_count_spec_11_26(ch: Channel) -> None:
    declare(ch)
    publish(ch, "q", b"a")
    publish(ch, "q", b"b")
    assert ch.queue_delete("q").method.message_count == 2


def test_redeclare_ignores_other_types_arguments_spec_11_27(broker: Broker, ch: Channel) -> None:
    declare(ch, **{"x-delivery-limit": 5})
    declare(ch, **{"x-delivery-limit": 5, "x-max-priority": 3})  # not compared, not validated
    with pytest.raises(PreconditionFailed) as info:
        declare(ch, **{"x-delivery-limit": 6})
    assert "inequivalent arg 'x-delivery-limit'" in info.value.reply_text


def test_redeclare_without_type_mismatches_spec_11_28(ch: Channel, conn: Connection) -> None:
    declare(ch)
    other = conn.channel()
    with pytest.raises(PreconditionFailed) as info:
        other.queue_declare("q", durable=True)
    # RabbitMQ 4.2.9's rabbit_misc prints both present values in the short form
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': "
        "received 'classic' but current is 'quorum'"
    )


def test_redeclare_with_exclusive_flag_locked_spec_11_27(ch: Channel) -> None:
    declare(ch)
    with pytest.raises(ResourceLocked):
        ch.queue_declare("q", durable=True, exclusive=True, arguments=QUORUM)


# ----------------------------------------------------------------- expiry, TTL (11.33, 11.35)


def test_expires_not_renewed_by_redeclare_spec_11_33(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    declare(ch, **{"x-expires": 10_000})
    clock.advance(6)
    declare(ch, **{"x-expires": 10_000})
    clock.advance(5)
    assert "q" not in broker.queues


def test_expires_renewed_by_get_spec_11_33(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    declare(ch, **{"x-expires": 10_000})
    clock.advance(6)
    ch.basic_get("q")
    clock.advance(5)
    assert "q" in broker.queues
    clock.advance(6)
    assert "q" not in broker.queues


def test_message_ttl_expires_at_head_spec_11_35(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    declare(ch, **{"x-message-ttl": 1000})
    publish(ch, "q", b"m")
    clock.advance(1.5)
    assert broker.queues["q"].messages_ready == 0
    assert broker.queues["q"].stats.dropped["expired"] == 1


def test_declare_ok_counts_spec_11_34(ch: Channel) -> None:
    declare(ch)
    publish(ch, "q", b"a")
    ch.basic_consume("q", lambda *a: None, auto_ack=True)
    ok = ch.queue_declare("q", passive=True).method
    assert (ok.message_count, ok.consumer_count) == (0, 1)


def test_relaxed_redeclaration_as_classic_spec_11_28(broker: Broker, ch: Channel) -> None:
    declare(ch, **{"x-max-length": 5})
    broker.quorum_relaxed_checks_on_redeclaration = True
    ch.queue_declare("q", durable=True, arguments={"x-max-length": 5})  # as classic: passes
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", durable=True, arguments={"x-max-length": 6})
    assert "inequivalent arg 'x-max-length'" in info.value.reply_text
