"""x-delayed-message through the in-process API (spec 13.1-13.9), on a VirtualClock."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amqpmodel import (
    AMQPError,
    BasicProperties,
    Broker,
    Channel,
    PreconditionFailed,
    UnroutableError,
    VirtualClock,
)
from amqpmodel.driver import TAGGED_INTS, Float32
from amqpmodel.testing import assert_accounted, assert_strict, record_losses

DELAYED = "x-delayed-message"


def delayed(ch: Channel, name: str = "d", routing: str = "direct", **arguments: Any) -> None:
    ch.exchange_declare(name, DELAYED, arguments={"x-delayed-type": routing, **arguments})


def props(delay: Any, **more: Any) -> BasicProperties:
    return BasicProperties(headers={"x-delay": delay}, **more)


def bodies(ch: Channel, queue: str) -> list[bytes]:
    out = []
    while True:
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append(body)


@pytest.fixture
def dq(ch: Channel) -> Channel:
    """A delayed direct exchange "d" with queue "q" bound by key "k"."""
    delayed(ch)
    ch.queue_declare("q")
    ch.queue_bind("q", "d", "k")
    return ch


# ----------------------------------------------------------------- declare (13.1, 13.2)


@pytest.mark.parametrize(
    ("arguments", "text"),
    [
        ({}, "Invalid argument, 'x-delayed-type' must be an existing exchange type"),
        (
            {"x-delayed-type": 5},
            "Invalid argument, 'x-delayed-type' must be an existing exchange type",
        ),
        (
            {"x-delayed-type": DELAYED},
            "Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'",
        ),
        ({"x-delayed-type": "foo"}, "unknown exchange type 'foo'"),
    ],
)
def test_declare_refuses_a_bad_delayed_type_spec_13_2(
    broker: Broker, arguments: dict[str, Any], text: str
) -> None:
    ch = broker.connect().channel()
    with pytest.raises(PreconditionFailed) as raised:
        ch.exchange_declare("d", DELAYED, arguments=arguments)
    assert raised.value.reply_text == f"PRECONDITION_FAILED - {text}"
    assert "d" not in broker.exchanges


def test_redeclare_ignores_another_delayed_type_spec_13_2(ch: Channel, broker: Broker) -> None:
    delayed(ch, routing="direct")
    ch.exchange_declare("d", DELAYED, arguments={"x-delayed-type": "fanout"})
    assert broker.exchanges["d"].arguments["x-delayed-type"] == "direct"


def test_routing_and_binding_validation_are_the_delayed_types_spec_13_1(ch: Channel) -> None:
    delayed(ch, "t", "topic")
    delayed(ch, "h", "x-consistent-hash")
    ch.queue_declare("q")
    ch.queue_bind("q", "t", "a.*")
    ch.basic_publish("t", "a.b", b"topic")
    assert bodies(ch, "q") == [b"topic"]
    with pytest.raises(PreconditionFailed) as raised:
        ch.queue_bind("q", "h", "abc")
    assert raised.value.reply_text == (
        'PRECONDITION_FAILED - The binding key must be an integer: <<"abc">>'
    )


# ----------------------------------------------------------------- the x-delay header (13.3, 13.4)


@pytest.mark.parametrize(
    "value",
    [
        1500,
        TAGGED_INTS[b"l"](1500),
        TAGGED_INTS[b"s"](1500),
        TAGGED_INTS[b"u"](1500),
        TAGGED_INTS[b"i"](1500),
        "1500",
        b"1500",
        1500.9,
        Float32(1500.5),
    ],
)
def test_x_delay_types_that_delay_spec_13_3(dq: Channel, clock: VirtualClock, value: Any) -> None:
    dq.basic_publish("d", "k", b"m", props(value))
    clock.advance(1.499)
    assert bodies(dq, "q") == []
    clock.advance(0.001)
    assert bodies(dq, "q") == [b"m"]


def test_an_unsigned_byte_delays_spec_13_3(dq: Channel, clock: VirtualClock) -> None:
    dq.basic_publish("d", "k", b"m", props(TAGGED_INTS[b"B"](200)))
    assert bodies(dq, "q") == []
    clock.advance(0.2)
    assert bodies(dq, "q") == [b"m"]


@pytest.mark.parametrize(
    "value",
    [None, TAGGED_INTS[b"b"](100), 0, -5, 4294967296, True, [1000], {"a": 1}],
    ids=["missing", "signed-byte", "zero", "negative", "too-big", "bool", "array", "table"],
)
def test_no_delay_routes_at_once_spec_13_4(dq: Channel, value: Any) -> None:
    properties = BasicProperties() if value is None else props(value)
    dq.basic_publish("d", "k", b"m", properties)
    assert bodies(dq, "q") == [b"m"]


def test_largest_delay_is_held_spec_13_4(dq: Channel, broker: Broker, clock: VirtualClock) -> None:
    dq.basic_publish("d", "k", b"m", props(4294967295))
    assert broker.exchanges["d"].messages_delayed == 1
    clock.advance(4294967.295)
    assert bodies(dq, "q") == [b"m"]


@pytest.mark.parametrize("value", ["abc", "1.5"])
def test_a_longstr_that_is_not_an_integer_closes_the_connection_541_spec_13_4(
    dq: Channel, value: str
) -> None:
    with pytest.raises(AMQPError) as raised:
        dq.basic_publish("d", "k", b"m", props(value))
    assert raised.value.reply_code == 541
    assert dq.connection.is_closed


# ----------------------------------------------------------------- publish time (13.5, 13.6)


def test_confirm_acks_at_once_spec_13_5(dq: Channel, broker: Broker) -> None:
    dq.confirm_delivery()
    dq.basic_publish("d", "k", b"m", props(1000))  # no NackError, no UnroutableError
    assert broker.exchanges["d"].messages_delayed == 1
    assert broker.vhost().dropped["unroutable"] == 0


def test_mandatory_is_always_returned_but_delivered_later_spec_13_5(
    dq: Channel, clock: VirtualClock
) -> None:
    dq.confirm_delivery()
    with pytest.raises(UnroutableError):
        dq.basic_publish("d", "k", b"m", props(1000), mandatory=True)
    clock.advance(1)
    assert bodies(dq, "q") == [b"m"]


def test_mandatory_return_comes_before_the_ack_spec_13_5(dq: Channel, broker: Broker) -> None:
    events: list[str] = []
    dq.add_on_return_callback(lambda *_: events.append("return"))
    dq.confirm_delivery(ack_nack_callback=lambda frame: events.append("ack"))
    with pytest.raises(UnroutableError):
        dq.basic_publish("d", "k", b"m", props(1000), mandatory=True)
    broker.run_until_idle()
    assert events == ["return", "ack"]
    assert broker.vhost().dropped["unroutable"] == 0


def test_alternate_exchange_gets_a_copy_at_publish_time_spec_13_6(
    ch: Channel, clock: VirtualClock
) -> None:
    ch.exchange_declare("ae", "fanout")
    ch.queue_declare("alt")
    ch.queue_bind("alt", "ae", "")
    delayed(ch, **{"alternate-exchange": "ae"})
    ch.queue_declare("q")
    ch.queue_bind("q", "d", "k")
    ch.basic_publish("d", "k", b"m", props(1000))
    _, got, body = ch.basic_get("alt", auto_ack=True)
    assert body == b"m" and got.headers == {"x-delay": 1000}  # the original x-delay
    clock.advance(1)
    assert bodies(ch, "q") == [b"m"]


def test_transaction_publish_is_held_and_not_lost_spec_13_5(
    dq: Channel, clock: VirtualClock
) -> None:
    dq.tx_select()
    dq.basic_publish("d", "k", b"m", props(1000))
    dq.tx_commit()
    clock.advance(1)
    assert bodies(dq, "q") == [b"m"]


# ----------------------------------------------------------------- due time (13.7-13.9)


def test_routed_with_the_bindings_existing_at_due_time_spec_13_7(
    ch: Channel, clock: VirtualClock
) -> None:
    delayed(ch)
    ch.queue_declare("early")
    ch.queue_bind("early", "d", "k")
    ch.basic_publish("d", "k", b"m", props(1000))
    ch.queue_unbind("early", "d", "k")
    ch.queue_declare("late")
    ch.queue_bind("late", "d", "k")
    clock.advance(1)
    assert bodies(ch, "early") == [] and bodies(ch, "late") == [b"m"]


def test_nothing_bound_at_due_time_is_dropped_and_counted_spec_13_7(
    ch: Channel, broker: Broker, clock: VirtualClock
) -> None:
    delayed(ch)
    ch.confirm_delivery()
    ch.basic_publish("d", "k", b"m", props(1000), mandatory=False)
    clock.advance(1)
    assert broker.vhost().dropped["delayed_unroutable"] == 1
    assert broker.exchanges["d"].messages_delayed == 0


def test_nothing_bound_at_due_time_goes_to_the_alternate_exchange_spec_13_7(
    ch: Channel, clock: VirtualClock
) -> None:
    ch.exchange_declare("ae", "fanout")
    ch.queue_declare("alt")
    ch.queue_bind("alt", "ae", "")
    delayed(ch, **{"alternate-exchange": "ae"})
    ch.queue_declare("q")
    ch.queue_bind("q", "d", "k")
    ch.basic_publish("d", "k", b"m", props(1000))
    assert bodies(ch, "alt") == [b"m"]  # at publish time (13.6)
    ch.queue_unbind("q", "d", "k")
    clock.advance(1)
    assert bodies(ch, "alt") == [b"m"]  # and again when due, as nothing matched


def test_deleting_the_exchange_drops_what_it_holds_and_counts_it_spec_13_7(
    dq: Channel, broker: Broker, clock: VirtualClock
) -> None:
    for _ in range(3):
        dq.basic_publish("d", "k", b"m", props(1000))
    dq.exchange_delete("d")
    assert broker.vhost().dropped["delayed_exchange_deleted"] == 3
    delayed(dq)  # a new exchange of the same name holds nothing
    dq.queue_bind("q", "d", "k")
    clock.advance(1)
    assert bodies(dq, "q") == []
    assert broker.exchanges["d"].messages_delayed == 0


def test_deleting_the_vhost_drops_what_its_delayed_exchanges_hold(
    broker: Broker, clock: VirtualClock
) -> None:
    broker.add_vhost("v")
    ch = broker.connect("v").channel()
    delayed(ch)
    ch.queue_declare("q")
    ch.queue_bind("q", "d", "k")
    ch.basic_publish("d", "k", b"m", props(1000))
    vhost = broker.vhost("v")
    exchange = vhost.exchanges["d"]
    broker.delete_vhost("v")
    clock.advance(1)
    assert exchange.messages_delayed == 0
    assert vhost.dropped["delayed_exchange_deleted"] == 1
    assert vhost.queues["q"].messages_ready == 0


def test_delivered_message_keeps_its_properties_with_x_delay_negated_spec_13_8(
    dq: Channel, clock: VirtualClock
) -> None:
    dq.basic_publish(
        "d",
        "k",
        b"m",
        BasicProperties(headers={"x-delay": "5000", "a": 1}, message_id="id", delivery_mode=2),
    )
    clock.advance(5)
    method, got, body = dq.basic_get("q", auto_ack=True)
    assert (method.exchange, method.routing_key, body) == ("d", "k", b"m")
    assert got.message_id == "id" and got.delivery_mode == 2
    assert got.headers == {"x-delay": -5000, "a": 1}
    assert type(got.headers["x-delay"]) is TAGGED_INTS[b"l"]  # a long (13.8)


def test_a_second_delayed_exchange_does_not_delay_again_spec_13_8(
    ch: Channel, broker: Broker, clock: VirtualClock
) -> None:
    delayed(ch, "first", "fanout")
    delayed(ch, "second", "fanout")
    ch.exchange_bind("second", "first", "")
    ch.queue_declare("q")
    ch.queue_bind("q", "second", "")
    ch.basic_publish("first", "k", b"m", props(1000))
    clock.advance(1)
    assert bodies(ch, "q") == [b"m"]
    assert broker.exchanges["second"].messages_delayed == 0


def test_order_is_by_due_time_then_publish_order_spec_13_9(
    dq: Channel, clock: VirtualClock
) -> None:
    dq.basic_publish("d", "k", b"long", props(3000))
    dq.basic_publish("d", "k", b"short", props(1000))
    dq.basic_publish("d", "k", b"same-1", props(2000))
    dq.basic_publish("d", "k", b"same-2", props(2000))
    clock.advance(10)  # one advance releases all, in due order
    assert bodies(dq, "q") == [b"short", b"same-1", b"same-2", b"long"]


def test_per_message_ttl_counts_from_due_time_spec_13_7(dq: Channel, clock: VirtualClock) -> None:
    dq.basic_publish("d", "k", b"m", props(1000, expiration="500"))
    clock.advance(1.4)
    assert bodies(dq, "q") == [b"m"]  # enqueued at 1.0, expires at 1.5


def test_consumer_gets_it_when_the_clock_advances(
    dq: Channel, broker: Broker, clock: VirtualClock
) -> None:
    got: list[bytes] = []
    dq.basic_consume("q", lambda c, m, p, b: got.append(b), auto_ack=True)
    dq.basic_publish("d", "k", b"m", props(30 * 60 * 1000))  # half an hour, in microseconds
    broker.run_until_idle()
    assert got == []
    clock.advance(30 * 60)
    broker.run_until_idle()
    assert got == [b"m"]


def test_a_dead_lettered_message_is_delayed_by_a_delayed_dlx(
    ch: Channel, clock: VirtualClock
) -> None:
    delayed(ch, "dlx", "fanout")
    ch.queue_declare("dead")
    ch.queue_bind("dead", "dlx", "")
    ch.queue_declare("work", arguments={"x-dead-letter-exchange": "dlx"})
    ch.basic_publish("", "work", b"m", props(1000))
    method, _, _ = ch.basic_get("work")
    ch.basic_reject(method.delivery_tag, requeue=False)
    assert bodies(ch, "dead") == []
    clock.advance(1)
    assert bodies(ch, "dead") == [b"m"]


# ----------------------------------------------------------------- accounting and views


def test_held_messages_are_visible_and_counted(dq: Channel, broker: Broker) -> None:
    dq.basic_publish("d", "k", b"m", props(1000))
    exchange = broker.exchanges["d"]
    assert exchange.messages_delayed == 1
    assert [m.body for _, m in exchange._router.held()] == [b"m"]  # type: ignore[attr-defined]
    assert "1 delayed" in exchange._repr_html_()
    assert broker.next_deadline() == 1.0
    assert_accounted(broker)


def test_strict_check_names_a_delayed_message_nobody_got() -> None:
    clock = VirtualClock()
    broker = Broker(clock=clock)
    record_losses(broker)
    ch = broker.connect().channel()
    delayed(ch)
    ch.basic_publish("d", "k", b"lost", props(1000))
    clock.advance(1)
    with pytest.raises(AssertionError, match="delayed_unroutable.*delayed by exchange 'd'"):
        assert_strict(broker)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["publish", "advance", "bind", "unbind", "delete"]),
            st.integers(min_value=-10, max_value=3000),
        ),
        max_size=40,
    )
)
def test_accounting_of_delayed_messages_property(steps: list[tuple[str, int]]) -> None:
    """Whatever happens, every message the exchange took is held, released (delivered
    or counted as delayed_unroutable) or dropped with the exchange."""
    clock = VirtualClock()
    broker = Broker(clock=clock)
    record_losses(broker)
    ch = broker.connect().channel()
    ch.queue_declare("q")
    delayed(ch)
    published = at_once = 0
    for action, value in steps:
        if action == "publish":
            if "d" not in broker.exchanges:
                delayed(ch)
            ch.basic_publish("d", "k", b"m", props(value))
            published += 1
            at_once += value <= 0
        elif action == "advance":
            clock.advance(max(value, 0) / 1000)
        elif action == "bind" and "d" in broker.exchanges:
            ch.queue_bind("q", "d", "k")
        elif action == "unbind" and "d" in broker.exchanges:
            ch.queue_unbind("q", "d", "k")
        elif action == "delete":
            ch.exchange_delete("d")
        assert_accounted(broker)
    clock.advance(10)
    vhost = broker.vhost()
    queue = broker.queues["q"]
    delivered = queue.messages_ready
    # at once: routed like any publish, to q or unroutable
    assert (
        delivered
        + vhost.dropped["unroutable"]
        + vhost.dropped["delayed_unroutable"]
        + (vhost.dropped["delayed_exchange_deleted"])
        == published
    )
    assert sum(x.messages_delayed for x in broker.exchanges.values()) == 0
    assert_accounted(broker)
    assert at_once <= published
