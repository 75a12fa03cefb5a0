"""Exchanges through the public in-process API (spec section 1, and 10.1-10.2 for names)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from amqpmodel import (
    AccessRefused,
    AMQPError,
    BasicProperties,
    BasicReturn,
    Broker,
    Channel,
    ChannelClosed,
    Connection,
    ExchangeBindOk,
    ExchangeDeclareOk,
    ExchangeDeleteOk,
    ExchangeUnbindOk,
    FrameSyntaxError,
    NotFound,
    PreconditionFailed,
    QueueBindOk,
    QueueUnbindOk,
    UnroutableError,
)

# --------------------------------------------------------------------------- helpers


def declare_queues(ch: Channel, *names: str) -> None:
    for name in names:
        ch.queue_declare(name)


def drain(ch: Channel, queue: str) -> list[bytes]:
    """Every ready message body of ``queue``, taken with auto-ack."""
    bodies: list[bytes] = []
    while True:
        method, _props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return bodies
        assert body is not None
        bodies.append(body)


def counts(ch: Channel, *queues: str) -> dict[str, int]:
    """How many messages each queue got (drains them)."""
    return {name: len(drain(ch, name)) for name in queues}


def track_returns(ch: Channel) -> list[BasicReturn]:
    returned: list[BasicReturn] = []
    ch.add_on_return_callback(lambda _ch, method, _props, _body: returned.append(method))
    return returned


def publish_mandatory(
    conn: Connection,
    ch: Channel,
    exchange: str,
    routing_key: str,
    headers: dict[str, Any] | None = None,
) -> list[BasicReturn]:
    """Publish with mandatory=True; the basic.return methods this publish caused."""
    returned = track_returns(ch)
    props = BasicProperties(headers=headers) if headers is not None else None
    ch.basic_publish(exchange, routing_key, b"m", properties=props, mandatory=True)
    conn.process_data_events()
    return returned


def binding_tuples(broker: Broker) -> set[tuple[str, str, str, str]]:
    return {(b.source, b.destination, b.destination_type, b.routing_key) for b in broker.bindings}


# --------------------------------------------------------------------------- 1.1


PREDECLARED = [
    ("", "direct", False),
    ("amq.direct", "direct", False),
    ("amq.topic", "topic", False),
    ("amq.fanout", "fanout", False),
    ("amq.headers", "headers", False),
    ("amq.match", "headers", False),
    ("amq.rabbitmq.trace", "topic", True),
]


@pytest.mark.parametrize(("name", "type_", "internal"), PREDECLARED)
def test_predeclared_exchanges_spec_1_1(
    broker: Broker, name: str, type_: str, internal: bool
) -> None:
    for vhost in (broker.vhost("/"), broker.add_vhost("other")):
        exchange = vhost.exchanges[name]
        assert exchange.name == name
        assert exchange.type == type_
        assert exchange.durable is True
        assert exchange.auto_delete is False
        assert exchange.internal is internal


def test_predeclared_exchanges_are_exactly_these_spec_1_1(broker: Broker) -> None:
    assert set(broker.exchanges) == {name for name, _, _ in PREDECLARED}


@pytest.mark.parametrize(("name", "type_", "internal"), PREDECLARED[1:])
def test_predeclared_exchange_redeclare_equivalent_is_ok_spec_1_1(
    ch: Channel, name: str, type_: str, internal: bool
) -> None:
    ch.exchange_declare(name, type_, durable=True, internal=internal)
    ch.exchange_declare(name, passive=True)
    assert ch.is_open


# --------------------------------------------------------------------------- 1.2


def test_default_exchange_routes_by_queue_name_spec_1_2(ch: Channel) -> None:
    declare_queues(ch, "q1", "q2")
    ch.basic_publish("", "q1", b"one")
    ch.basic_publish("", "q2", b"two")
    assert drain(ch, "q1") == [b"one"]
    assert drain(ch, "q2") == [b"two"]


def test_default_exchange_missing_queue_is_unroutable_spec_1_2(
    conn: Connection, ch: Channel
) -> None:
    returned = publish_mandatory(conn, ch, "", "no-such-queue")
    assert returned == [BasicReturn(312, "NO_ROUTE", "", "no-such-queue")]


def test_default_exchange_delivered_exchange_and_key_spec_1_2(ch: Channel) -> None:
    declare_queues(ch, "q")
    ch.basic_publish("", "q", b"x")
    method, _props, body = ch.basic_get("q", auto_ack=True)
    assert method is not None
    assert (method.exchange, method.routing_key, body) == ("", "q", b"x")


def test_default_exchange_routes_cc_and_bcc_spec_1_2(ch: Channel) -> None:
    declare_queues(ch, "q1", "q2", "q3", "q4")
    props = BasicProperties(headers={"CC": ["q2", "missing"], "BCC": ["q3"]})
    ch.basic_publish("", "q1", b"x", properties=props)
    assert counts(ch, "q1", "q2", "q3", "q4") == {"q1": 1, "q2": 1, "q3": 1, "q4": 0}


def test_default_exchange_cc_bcc_deduplicated_spec_1_2(ch: Channel) -> None:
    declare_queues(ch, "q1", "q2")
    props = BasicProperties(headers={"CC": ["q1", "q2", "q2"], "BCC": ["q1", "q2"]})
    ch.basic_publish("", "q1", b"x", properties=props)
    assert counts(ch, "q1", "q2") == {"q1": 1, "q2": 1}


def test_default_exchange_cc_only_routes_are_enough_for_mandatory_spec_1_2(
    conn: Connection, ch: Channel
) -> None:
    declare_queues(ch, "q2")
    returned = publish_mandatory(conn, ch, "", "missing", headers={"CC": ["q2"]})
    assert returned == []
    assert drain(ch, "q2") == [b"m"]


def test_bcc_header_never_delivered_cc_kept_spec_1_2_spec_4_6(ch: Channel) -> None:
    declare_queues(ch, "q1", "q2", "q3")
    props = BasicProperties(headers={"CC": ["q2"], "BCC": ["q3"], "other": "v"})
    ch.basic_publish("", "q1", b"x", properties=props)
    for name in ("q1", "q2", "q3"):
        _method, got, _body = ch.basic_get(name, auto_ack=True)
        assert got is not None and got.headers is not None, name
        assert "BCC" not in got.headers, name
        assert got.headers["CC"] == ["q2"], name
        assert got.headers["other"] == "v", name


def test_bcc_removed_from_returned_message_spec_4_6(conn: Connection, ch: Channel) -> None:
    # spec 8.4: basic.return carries the original content with BCC removed
    got: list[BasicProperties] = []
    ch.add_on_return_callback(lambda _c, _m, props, _b: got.append(props))
    props = BasicProperties(headers={"BCC": ["missing2"], "k": 1})
    ch.basic_publish("", "missing1", b"x", properties=props, mandatory=True)
    conn.process_data_events()
    assert len(got) == 1
    assert got[0].headers is not None
    assert "BCC" not in got[0].headers
    assert got[0].headers["k"] == 1


def test_default_exchange_has_no_stored_bindings_spec_1_2(broker: Broker, ch: Channel) -> None:
    declare_queues(ch, "q1")
    ch.queue_delete("q1")
    assert [b for b in broker.bindings if b.destination == "q1"] == []
    assert broker.exchanges[""].alternate_exchange is None


# --------------------------------------------------------------------------- 1.3

DEFAULT_EXCHANGE_OPS: list[tuple[str, Callable[[Channel], object]]] = [
    ("declare", lambda c: c.exchange_declare("")),
    ("declare-passive", lambda c: c.exchange_declare("", passive=True)),
    ("declare-fanout", lambda c: c.exchange_declare("", "fanout")),
    ("delete", lambda c: c.exchange_delete("")),
    ("queue-bind", lambda c: c.queue_bind("q", "", "q")),
    ("queue-unbind", lambda c: c.queue_unbind("q", "", "q")),
    ("exchange-bind-source", lambda c: c.exchange_bind("x", "", "k")),
    ("exchange-bind-destination", lambda c: c.exchange_bind("", "x", "k")),
    ("exchange-unbind-source", lambda c: c.exchange_unbind("x", "", "k")),
    ("exchange-unbind-destination", lambda c: c.exchange_unbind("", "x", "k")),
]


@pytest.mark.parametrize(
    "operation", [op for _, op in DEFAULT_EXCHANGE_OPS], ids=[n for n, _ in DEFAULT_EXCHANGE_OPS]
)
def test_default_exchange_operations_refused_spec_1_3(
    conn: Connection, ch: Channel, operation: Callable[[Channel], object]
) -> None:
    ch.queue_declare("q")
    ch.exchange_declare("x", "direct")
    other = conn.channel()
    with pytest.raises(AccessRefused) as info:
        operation(other)
    assert info.value.reply_code == 403
    assert (
        info.value.reply_text == "ACCESS_REFUSED - operation not permitted on the default exchange"
    )
    assert other.is_closed
    assert ch.is_open  # spec 9.1: channel-level


# --------------------------------------------------------------------------- 1.4


@pytest.mark.parametrize("name", ["amq.direct", "amq.topic", "amq.rabbitmq.trace", "amq.missing"])
def test_delete_amq_prefixed_exchange_refused_spec_1_4(
    broker: Broker, ch: Channel, name: str
) -> None:
    before = set(broker.exchanges)
    with pytest.raises(AccessRefused) as info:
        ch.exchange_delete(name)
    assert info.value.reply_code == 403
    assert info.value.reply_text.startswith("ACCESS_REFUSED - ")
    assert ch.is_closed
    assert set(broker.exchanges) == before


def test_delete_amq_prefixed_if_unused_still_403_spec_1_4(ch: Channel) -> None:
    with pytest.raises(AccessRefused):
        ch.exchange_delete("amq.fanout", if_unused=True)


# --------------------------------------------------------------------------- 1.5


@pytest.mark.parametrize("type_", ["direct", "fanout", "topic", "headers"])
def test_declare_new_amq_prefixed_exchange_refused_spec_1_5(
    broker: Broker, ch: Channel, type_: str
) -> None:
    with pytest.raises(AccessRefused) as info:
        ch.exchange_declare("amq.foo", type_)
    assert info.value.reply_code == 403
    assert (
        info.value.reply_text
        == "ACCESS_REFUSED - exchange name 'amq.foo' contains reserved prefix 'amq.*'"
    )
    assert "amq.foo" not in broker.exchanges


def test_declare_existing_amq_exchange_runs_equivalence_spec_1_5(ch: Channel) -> None:
    ch.exchange_declare("amq.direct", "direct", durable=True)
    with pytest.raises(PreconditionFailed) as info:
        ch.exchange_declare("amq.direct", "direct", durable=False)
    assert info.value.reply_code == 406
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange 'amq.direct' "
        "in vhost '/': received 'false' but current is 'true'"
    )


def test_passive_declare_of_amq_prefixed_missing_is_404_spec_1_5(ch: Channel) -> None:
    with pytest.raises(NotFound) as info:
        ch.exchange_declare("amq.foo", passive=True)
    assert info.value.reply_text == "NOT_FOUND - no exchange 'amq.foo' in vhost '/'"


def test_passive_declare_of_amq_exchange_ok_spec_1_5(ch: Channel) -> None:
    ch.exchange_declare("amq.topic", passive=True)
    assert ch.is_open


# --------------------------------------------------------------------------- 1.6


def test_unknown_exchange_type_spec_1_6(broker: Broker, ch: Channel) -> None:
    with pytest.raises(PreconditionFailed) as info:
        ch.exchange_declare("x", "no-such-type")
    assert info.value.reply_code == 406
    assert info.value.reply_text == "PRECONDITION_FAILED - unknown exchange type 'no-such-type'"
    assert "x" not in broker.exchanges
    assert ch.is_closed


def test_unknown_exchange_type_checked_before_existence_spec_1_6(
    conn: Connection, ch: Channel
) -> None:
    ch.exchange_declare("x", "direct")
    other = conn.channel()
    with pytest.raises(PreconditionFailed) as info:
        other.exchange_declare("x", "bogus")
    assert info.value.reply_text == "PRECONDITION_FAILED - unknown exchange type 'bogus'"


def test_unknown_exchange_type_on_amq_name_spec_1_6(ch: Channel) -> None:
    # type is checked first, before the reserved-prefix rule (spec 1.5)
    with pytest.raises(PreconditionFailed) as info:
        ch.exchange_declare("amq.direct", "bogus", durable=True)
    assert info.value.reply_code == 406


def test_passive_declare_ignores_type_spec_1_6(ch: Channel) -> None:
    ch.exchange_declare("x", "direct")
    ch.exchange_declare("x", "bogus", passive=True)
    ch.exchange_declare("x", "fanout", passive=True, durable=True, auto_delete=True)
    assert ch.is_open


# --------------------------------------------------------------------------- 1.7


@pytest.mark.parametrize(
    ("changed", "field", "received", "current"),
    [
        ({"exchange_type": "fanout"}, "type", "fanout", "direct"),
        ({"durable": True}, "durable", "true", "false"),
        ({"auto_delete": True}, "auto_delete", "true", "false"),
        ({"internal": True}, "internal", "true", "false"),
    ],
)
def test_redeclare_inequivalent_spec_1_7(
    conn: Connection, ch: Channel, changed: dict[str, Any], field: str, received: str, current: str
) -> None:
    ch.exchange_declare("x", "direct")
    other = conn.channel()
    kwargs: dict[str, Any] = {"exchange_type": "direct", **changed}
    with pytest.raises(PreconditionFailed) as info:
        other.exchange_declare("x", **kwargs)
    assert info.value.reply_code == 406
    assert info.value.reply_text == (
        f"PRECONDITION_FAILED - inequivalent arg '{field}' for exchange 'x' in vhost '/': "
        f"received '{received}' but current is '{current}'"
    )
    assert other.is_closed


def test_redeclare_different_alternate_exchange_spec_1_7(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae1"})
    other = conn.channel()
    with pytest.raises(PreconditionFailed) as info:
        other.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae2"})
    assert info.value.reply_text.startswith(
        "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange 'x' in vhost '/': received "
    )
    assert "but current is" in info.value.reply_text


def test_redeclare_adding_alternate_exchange_spec_1_7(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("x", "direct")
    other = conn.channel()
    with pytest.raises(PreconditionFailed) as info:
        other.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae1"})
    assert "inequivalent arg 'alternate-exchange'" in info.value.reply_text


def test_redeclare_ignores_other_arguments_spec_1_7(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("x", "topic", arguments={"x-foo": 1, "alternate-exchange": "ae"})
    ch.exchange_declare(
        "x", "topic", arguments={"x-foo": 2, "bar": "baz", "alternate-exchange": "ae"}
    )
    ch.exchange_declare("x", "topic", arguments={"alternate-exchange": "ae"})
    assert ch.is_open
    assert broker.exchanges["x"].alternate_exchange == "ae"


def test_redeclare_equivalent_is_ok_spec_1_7(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("x", "headers", durable=True, auto_delete=True, internal=True)
    ch.exchange_declare("x", "headers", durable=True, auto_delete=True, internal=True)
    exchange = broker.exchanges["x"]
    assert (exchange.type, exchange.durable, exchange.auto_delete, exchange.internal) == (
        "headers",
        True,
        True,
        True,
    )


# --------------------------------------------------------------------------- 1.8


def test_passive_declare_missing_spec_1_8(broker: Broker, ch: Channel) -> None:
    with pytest.raises(NotFound) as info:
        ch.exchange_declare("nope", passive=True)
    assert info.value.reply_code == 404
    assert info.value.reply_text == "NOT_FOUND - no exchange 'nope' in vhost '/'"
    assert "nope" not in broker.exchanges
    assert ch.is_closed


def test_passive_declare_missing_in_other_vhost_spec_1_8(broker: Broker) -> None:
    broker.add_vhost("v1")
    channel = broker.connect(vhost="v1").channel()
    with pytest.raises(NotFound) as info:
        channel.exchange_declare("nope", passive=True)
    assert info.value.reply_text == "NOT_FOUND - no exchange 'nope' in vhost 'v1'"


def test_publish_to_missing_exchange_spec_1_8(ch: Channel) -> None:
    with pytest.raises(NotFound) as info:
        ch.basic_publish("nope", "k", b"x")
    assert info.value.reply_code == 404
    assert info.value.reply_text == "NOT_FOUND - no exchange 'nope' in vhost '/'"
    assert ch.is_closed


# --------------------------------------------------------------------------- 1.9


def test_delete_missing_exchange_is_ok_spec_1_9(ch: Channel) -> None:
    ch.exchange_delete("nope")
    ch.exchange_delete("nope", if_unused=True)
    assert ch.is_open


def test_delete_if_unused_with_source_binding_spec_1_9(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("x", "direct")
    ch.queue_declare("q")
    ch.queue_bind("q", "x", "k")
    with pytest.raises(PreconditionFailed) as info:
        ch.exchange_delete("x", if_unused=True)
    assert info.value.reply_code == 406
    # the spec elides the name part: "exchange '…' in use"
    assert info.value.reply_text.startswith("PRECONDITION_FAILED - exchange 'x'")
    assert info.value.reply_text.endswith(" in use")
    assert "x" in broker.exchanges
    assert ("x", "q", "queue", "k") in binding_tuples(broker)


def test_delete_if_unused_with_exchange_source_binding_spec_1_9(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("x", "direct")
    ch.exchange_declare("y", "direct")
    ch.exchange_bind("y", "x", "k")
    with pytest.raises(PreconditionFailed):
        ch.exchange_delete("x", if_unused=True)
    assert "x" in broker.exchanges


def test_delete_if_unused_only_destination_is_unused_spec_1_9(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("x", "direct")
    ch.exchange_declare("y", "direct")
    ch.exchange_bind("y", "x", "k")
    ch.exchange_delete("y", if_unused=True)
    assert "y" not in broker.exchanges
    assert not [b for b in broker.bindings if b.source == "x"]


def test_delete_if_unused_without_bindings_spec_1_9(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("x", "fanout")
    ch.exchange_delete("x", if_unused=True)
    assert "x" not in broker.exchanges


def test_delete_removes_bindings_as_source_and_destination_spec_1_9(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("x", "direct")
    ch.exchange_declare("up", "direct")
    ch.exchange_declare("down", "direct")
    ch.queue_declare("q")
    ch.queue_bind("q", "x", "k")
    ch.exchange_bind("x", "up", "k1")
    ch.exchange_bind("down", "x", "k2")
    ch.exchange_delete("x")
    assert "x" not in broker.exchanges
    assert not [b for b in broker.bindings if "x" in (b.source, b.destination)]
    # the queue survives and can be re-bound; publishing via "up" reaches nothing
    assert "q" in broker.queues
    ch.basic_publish("up", "k1", b"x")
    assert drain(ch, "q") == []
    # recreating the exchange does not bring the old bindings back
    ch.exchange_declare("x", "direct")
    ch.basic_publish("x", "k", b"x")
    assert drain(ch, "q") == []


# --------------------------------------------------------------------------- 1.10


def test_auto_delete_when_last_source_binding_removed_spec_1_10(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("ad", "direct", auto_delete=True)
    declare_queues(ch, "q1", "q2")
    ch.queue_bind("q1", "ad", "k")
    ch.queue_bind("q2", "ad", "k")
    ch.queue_unbind("q1", "ad", "k")
    assert "ad" in broker.exchanges
    ch.queue_unbind("q2", "ad", "k")
    assert "ad" not in broker.exchanges


def test_auto_delete_never_bound_stays_spec_1_10(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.queue_declare("q")
    ch.queue_unbind("q", "ad", "")  # removing nothing does not delete it
    ch.basic_publish("ad", "", b"x")
    assert "ad" in broker.exchanges


def test_auto_delete_when_bound_queue_deleted_spec_1_10(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.queue_declare("q")
    ch.queue_bind("q", "ad", "")
    ch.queue_delete("q")
    assert "ad" not in broker.exchanges


def test_auto_delete_when_exclusive_queue_goes_with_connection_spec_1_10(broker: Broker) -> None:
    owner = broker.connect()
    channel = owner.channel()
    channel.exchange_declare("ad", "fanout", auto_delete=True)
    channel.queue_declare("excl", exclusive=True)
    channel.queue_bind("excl", "ad", "")
    owner.close()
    assert "excl" not in broker.queues
    assert "ad" not in broker.exchanges


def test_auto_delete_when_last_e2e_source_binding_removed_spec_1_10(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.exchange_declare("dest", "fanout")
    ch.exchange_bind("dest", "ad", "")
    ch.exchange_unbind("dest", "ad", "")
    assert "ad" not in broker.exchanges


def test_auto_delete_when_destination_exchange_deleted_spec_1_10(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.exchange_declare("dest", "fanout")
    ch.exchange_bind("dest", "ad", "")
    ch.exchange_delete("dest")
    assert "ad" not in broker.exchanges


def test_auto_delete_destination_bindings_do_not_count_spec_1_10(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.queue_declare("q")
    ch.exchange_bind("ad", "src", "")  # ad is the destination
    ch.queue_bind("q", "ad", "")  # ad is the source
    ch.queue_unbind("q", "ad", "")
    assert "ad" not in broker.exchanges
    assert not [b for b in broker.bindings if "ad" in (b.source, b.destination)]


def test_auto_delete_only_destination_bindings_never_deleted_spec_1_10(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.exchange_bind("ad", "src", "")
    ch.exchange_unbind("ad", "src", "")
    assert "ad" in broker.exchanges


# --------------------------------------------------------------------------- 1.11


def test_publish_to_internal_exchange_refused_spec_1_11(ch: Channel) -> None:
    ch.exchange_declare("int", "fanout", internal=True)
    ch.queue_declare("q")
    ch.queue_bind("q", "int", "")
    with pytest.raises(AccessRefused) as info:
        ch.basic_publish("int", "", b"x")
    assert info.value.reply_code == 403
    assert info.value.reply_text.startswith("ACCESS_REFUSED - ")
    assert "'int'" in info.value.reply_text
    assert ch.is_closed


def test_publish_to_trace_exchange_refused_spec_1_11(ch: Channel) -> None:
    with pytest.raises(AccessRefused):
        ch.basic_publish("amq.rabbitmq.trace", "k", b"x")


def test_internal_exchange_receives_through_e2e_spec_1_11(ch: Channel) -> None:
    ch.exchange_declare("front", "direct")
    ch.exchange_declare("int", "fanout", internal=True)
    ch.queue_declare("q")
    ch.exchange_bind("int", "front", "k")
    ch.queue_bind("q", "int", "")
    ch.basic_publish("front", "k", b"x")
    method, _props, body = ch.basic_get("q", auto_ack=True)
    assert method is not None and body == b"x"
    assert method.exchange == "front"


def test_internal_exchange_as_alternate_spec_1_11(ch: Channel) -> None:
    ch.exchange_declare("int", "fanout", internal=True)
    ch.exchange_declare("front", "direct", arguments={"alternate-exchange": "int"})
    ch.queue_declare("q")
    ch.queue_bind("q", "int", "")
    ch.basic_publish("front", "unbound", b"x")
    assert drain(ch, "q") == [b"x"]


# --------------------------------------------------------------------------- 1.12


def test_direct_exact_case_sensitive_match_spec_1_12(ch: Channel) -> None:
    ch.exchange_declare("d", "direct")
    declare_queues(ch, "exact", "other")
    ch.queue_bind("exact", "d", "Key.A")
    ch.queue_bind("other", "d", "other")
    for key in ("Key.A", "key.a", "Key.A ", "Key", "Key.*", "#", "KEY.A"):
        ch.basic_publish("d", key, key.encode())
    assert drain(ch, "exact") == [b"Key.A"]
    assert drain(ch, "other") == []


def test_direct_wildcards_are_literal_spec_1_12(ch: Channel) -> None:
    ch.exchange_declare("d", "direct")
    ch.queue_declare("q")
    ch.queue_bind("q", "d", "#")
    ch.basic_publish("d", "a", b"a")
    ch.basic_publish("d", "#", b"hash")
    assert drain(ch, "q") == [b"hash"]


def test_direct_empty_key_spec_1_12(ch: Channel) -> None:
    ch.exchange_declare("d", "direct")
    declare_queues(ch, "q")
    ch.queue_bind("q", "d", "")
    ch.basic_publish("d", "", b"empty")
    ch.basic_publish("d", "x", b"x")
    assert drain(ch, "q") == [b"empty"]


def test_direct_routes_cc_and_bcc_keys_spec_1_12(ch: Channel) -> None:
    ch.exchange_declare("d", "direct")
    declare_queues(ch, "qa", "qb", "qc", "qd")
    for name, key in (("qa", "a"), ("qb", "b"), ("qc", "c"), ("qd", "d")):
        ch.queue_bind(name, "d", key)
    props = BasicProperties(headers={"CC": ["b"], "BCC": ["c"]})
    ch.basic_publish("d", "a", b"x", properties=props)
    assert counts(ch, "qa", "qb", "qc", "qd") == {"qa": 1, "qb": 1, "qc": 1, "qd": 0}


def test_direct_one_queue_many_keys_spec_1_12(ch: Channel) -> None:
    ch.exchange_declare("d", "direct")
    ch.queue_declare("q")
    ch.queue_bind("q", "d", "a")
    ch.queue_bind("q", "d", "b")
    ch.basic_publish("d", "a", b"1")
    ch.basic_publish("d", "b", b"2")
    ch.basic_publish("d", "c", b"3")
    assert drain(ch, "q") == [b"1", b"2"]


def test_fanout_ignores_keys_spec_1_12(ch: Channel) -> None:
    ch.exchange_declare("f", "fanout")
    declare_queues(ch, "q1", "q2", "q3")
    ch.queue_bind("q1", "f", "a")
    ch.queue_bind("q2", "f", "")
    ch.queue_bind("q3", "f", "#")
    ch.basic_publish("f", "zzz", b"x")
    ch.basic_publish("f", "", b"y")
    assert counts(ch, "q1", "q2", "q3") == {"q1": 2, "q2": 2, "q3": 2}


def test_fanout_no_bindings_unroutable_spec_1_12(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("f", "fanout")
    assert publish_mandatory(conn, ch, "f", "k") == [BasicReturn(312, "NO_ROUTE", "f", "k")]


# --------------------------------------------------------------------------- 1.13 - 1.15

TOPIC_MATCHES = [
    # spec 1.15 vectors
    ("", "#"),
    ("", "#.#"),
    ("", ""),
    *(
        ("a.b", key)
        for key in (
            "a.#.b",
            "#",
            "#.#",
            "#.b",
            "*.*",
            "a.*",
            "a.#",
            "a.#.#",
            "a.b",
            "*.#",
            "#.*.#",
            "*.#.#",
            "#.b.#",
        )
    ),
    *(("oneword", key) for key in ("*", "#", "#.#", "*.#", "#.*.#", "*.#.#")),
    ("a", "#.*"),
    ("a.b.c", "#.*"),
    ("a.b.c", "*.#"),
    # spec 1.13: empty segments are words
    ("a..b", "a.*.b"),
    ("a..b", "a..b"),
    ("a..b", "*.*.*"),
    ("a..b", "a.#"),
    (".", "*.*"),
    (".", "."),
    (".", "#"),
    (".", "*.#"),
    ("a.", "a.*"),
    ("a.", "a."),
    (".a", "*.a"),
    # spec 1.14
    ("a.b", "a.b.#"),
    ("a.b", "#.a.b"),
    ("a.b", "a.#.#.b"),
    ("a.x.y.b", "a.#.b"),
    ("a#b", "a#b"),
    ("a*", "a*"),
    ("a.b.c", "a.*.c"),
    ("a.b.c", "#.c"),
    ("a.b.c", "#.#.#"),
    ("a.b.b.c", "#.b.c"),
    ("a.b.c.b.c", "#.b.c"),
]

TOPIC_NON_MATCHES = [
    # spec 1.15 vectors: "" matches only #, #.# and ""
    *(("", key) for key in ("*", "a", "*.#", "#.*", "#.*.#", "*.*", ".", "a.#")),
    *(("a.b.c", key) for key in ("a.*", "*", "#.b", "a.#.b")),
    ("oneword", "*.*"),
    ("oneword", "#.*.*"),
    # spec 1.13
    ("a..b", "a.b"),
    ("a..b", "a.*"),
    (".", "*"),
    (".", ""),
    ("a.", "a"),
    ("", "."),
    # spec 1.14: * is exactly one word; wildcards only as whole words
    ("a.b", "*"),
    ("a.b", "a"),
    ("a.b", "a.b.*"),
    ("a.b", "*.a.b"),
    ("ab", "a#b"),
    ("axb", "a#b"),
    ("a.b", "a#b"),
    ("ab", "a*"),
    ("a", "a*"),
    ("a.b", "a.#.c"),
    ("a.b.c", "a.*.*.*"),
    ("A.B", "a.b"),
    ("a.b.c", "#.b.c.#.d"),
]


@pytest.mark.parametrize(("routing_key", "binding_key"), TOPIC_MATCHES)
def test_topic_matches_spec_1_13_to_1_15(ch: Channel, routing_key: str, binding_key: str) -> None:
    ch.exchange_declare("t", "topic")
    declare_queues(ch, "q")
    ch.queue_bind("q", "t", binding_key)
    ch.basic_publish("t", routing_key, b"x")
    assert drain(ch, "q") == [b"x"]


@pytest.mark.parametrize(("routing_key", "binding_key"), TOPIC_NON_MATCHES)
def test_topic_non_matches_spec_1_13_to_1_15(
    conn: Connection, ch: Channel, routing_key: str, binding_key: str
) -> None:
    ch.exchange_declare("t", "topic")
    declare_queues(ch, "q")
    ch.queue_bind("q", "t", binding_key)
    returned = publish_mandatory(conn, ch, "t", routing_key)
    assert drain(ch, "q") == []
    assert returned == [BasicReturn(312, "NO_ROUTE", "t", routing_key)]


def test_topic_vectors_all_at_once_spec_1_15(ch: Channel) -> None:
    # one queue per binding key on one exchange, so that the bindings interact
    keys = sorted({key for _, key in TOPIC_MATCHES} | {key for _, key in TOPIC_NON_MATCHES})
    queue_of = {key: f"q{i}" for i, key in enumerate(keys)}
    ch.exchange_declare("t", "topic")
    for key, queue in queue_of.items():
        ch.queue_declare(queue)
        ch.queue_bind(queue, "t", key)
    for routing_key in sorted(
        {rk for rk, _ in TOPIC_MATCHES} | {rk for rk, _ in TOPIC_NON_MATCHES}
    ):
        ch.basic_publish("t", routing_key, b"x")
        got = {key for key, queue in queue_of.items() if drain(ch, queue)}
        for rk, key in TOPIC_MATCHES:
            if rk == routing_key:
                assert key in got, (routing_key, key)
        for rk, key in TOPIC_NON_MATCHES:
            if rk == routing_key:
                assert key not in got, (routing_key, key)


def test_topic_on_amq_topic_spec_1_15(ch: Channel) -> None:
    declare_queues(ch, "q")
    ch.queue_bind("q", "amq.topic", "#.b.#")
    ch.basic_publish("amq.topic", "a.b", b"x")
    ch.basic_publish("amq.topic", "a.c", b"y")
    assert drain(ch, "q") == [b"x"]


def test_topic_routes_cc_keys_spec_1_13(ch: Channel) -> None:
    ch.exchange_declare("t", "topic")
    declare_queues(ch, "q1", "q2")
    ch.queue_bind("q1", "t", "a.*")
    ch.queue_bind("q2", "t", "b.#")
    props = BasicProperties(headers={"CC": ["b.x.y"]})
    ch.basic_publish("t", "nothing", b"x", properties=props)
    assert counts(ch, "q1", "q2") == {"q1": 0, "q2": 1}


def test_topic_unbind_stops_matching_spec_1_14(ch: Channel) -> None:
    ch.exchange_declare("t", "topic")
    declare_queues(ch, "q")
    ch.queue_bind("q", "t", "a.#")
    ch.basic_publish("t", "a.b", b"1")
    ch.queue_unbind("q", "t", "a.#")
    ch.basic_publish("t", "a.b", b"2")
    assert drain(ch, "q") == [b"1"]


@pytest.mark.parametrize(
    ("first", "second"),
    [("a.#.*", "a.*.#"), ("a.#.#.b", "a.#.b"), ("#.*.x", "*.#.x"), ("*.#.*.b", "*.*.#.b")],
)
def test_topic_equivalent_keys_are_separate_bindings_spec_1_14_spec_1_22(
    broker: Broker, ch: Channel, first: str, second: str
) -> None:
    # the two keys match the same routing keys (# absorbs any run of words, in
    # any order with *), but they are two bindings: unbinding one keeps the other
    ch.exchange_declare("t", "topic")
    declare_queues(ch, "q")
    ch.queue_bind("q", "t", first)
    ch.queue_bind("q", "t", second)
    assert {b.routing_key for b in broker.bindings if b.source == "t"} == {first, second}
    ch.basic_publish("t", "a.z.b", b"1")
    ch.basic_publish("t", "a.y.x.b", b"2")
    ch.basic_publish("t", "b", b"3")
    before = drain(ch, "q")
    ch.queue_unbind("q", "t", first)
    ch.basic_publish("t", "a.z.b", b"1")
    ch.basic_publish("t", "a.y.x.b", b"2")
    ch.basic_publish("t", "b", b"3")
    assert drain(ch, "q") == before  # one copy each time (spec 1.16), same matches
    ch.queue_unbind("q", "t", second)
    ch.basic_publish("t", "a.z.b", b"1")
    assert drain(ch, "q") == []


@pytest.mark.parametrize(
    ("binding_key", "matching", "not_matching"),
    [
        ("#.error", ["error", "kern.error", "a.b.error"], ["error.kern", "", "errors"]),
        ("*.*.rabbit", ["quick.orange.rabbit", "a..rabbit"], ["orange.rabbit", "a.b.c.rabbit"]),
        ("#.*.b.c", ["x.b.c", "w.x.b.c"], ["b.c", "x.b.c.d"]),
        ("*.a.#.b", ["x.a.b", "x.a.y.z.b"], ["a.b", "x.a.b.c"]),
    ],
)
def test_topic_keys_starting_with_wildcard_ending_with_word_spec_1_14(
    conn: Connection, ch: Channel, binding_key: str, matching: list[str], not_matching: list[str]
) -> None:
    ch.exchange_declare("t", "topic")
    declare_queues(ch, "q", "other")
    ch.queue_bind("q", "t", binding_key)
    ch.queue_bind("other", "t", "zzz.#")  # a second binding, so the exchange is not trivial
    for routing_key in matching:
        ch.basic_publish("t", routing_key, routing_key.encode())
    assert drain(ch, "q") == [key.encode() for key in matching]
    for routing_key in not_matching:
        assert publish_mandatory(conn, ch, "t", routing_key) == [
            BasicReturn(312, "NO_ROUTE", "t", routing_key)
        ]
    ch.queue_unbind("q", "t", binding_key)
    ch.basic_publish("t", matching[0], b"late")
    assert drain(ch, "q") == []


def test_topic_routing_key_words_star_and_hash_are_literal_words_spec_1_14(
    conn: Connection, ch: Channel
) -> None:
    # in a routing key "*" and "#" are plain words: a binding's "*" takes one of
    # them, its "#" any number, but a literal word never equals them
    ch.exchange_declare("t", "topic")
    declare_queues(ch, "star", "hash", "lit")
    ch.queue_bind("star", "t", "a.*")
    ch.queue_bind("hash", "t", "#.b")
    ch.queue_bind("lit", "t", "a.x")
    ch.basic_publish("t", "a.*", b"1")
    ch.basic_publish("t", "#.#.b", b"2")
    assert counts(ch, "star", "hash", "lit") == {"star": 1, "hash": 1, "lit": 0}
    assert publish_mandatory(conn, ch, "t", "#") == [BasicReturn(312, "NO_ROUTE", "t", "#")]


# --------------------------------------------------------------------------- 1.16


def test_one_copy_through_several_topic_bindings_spec_1_16(ch: Channel) -> None:
    ch.exchange_declare("t", "topic")
    declare_queues(ch, "q")
    for key in ("a.*", "#", "a.b", "*.b", "#.#"):
        ch.queue_bind("q", "t", key)
    ch.basic_publish("t", "a.b", b"x")
    assert drain(ch, "q") == [b"x"]


def test_one_copy_through_several_keys_spec_1_16(ch: Channel) -> None:
    ch.exchange_declare("d", "direct")
    declare_queues(ch, "q")
    ch.queue_bind("q", "d", "a")
    ch.queue_bind("q", "d", "b")
    ch.queue_bind("q", "d", "c")
    props = BasicProperties(headers={"CC": ["b", "a"], "BCC": ["c"]})
    ch.basic_publish("d", "a", b"x", properties=props)
    assert drain(ch, "q") == [b"x"]


def test_one_copy_through_several_headers_bindings_spec_1_16(ch: Channel) -> None:
    ch.exchange_declare("h", "headers")
    declare_queues(ch, "q")
    ch.queue_bind("q", "h", "", arguments={"x-match": "all", "a": 1})
    ch.queue_bind("q", "h", "", arguments={"x-match": "any", "b": 2})
    ch.basic_publish("h", "", b"x", properties=BasicProperties(headers={"a": 1, "b": 2}))
    assert drain(ch, "q") == [b"x"]


# --------------------------------------------------------------------------- 1.17 - 1.20


def publish_headers(
    ch: Channel, exchange: str, headers: dict[str, Any] | None, body: bytes
) -> None:
    ch.basic_publish(exchange, "ignored", body, properties=BasicProperties(headers=headers))


def headers_routes(ch: Channel, arguments: dict[str, Any], headers: dict[str, Any] | None) -> bool:
    """Bind a fresh queue to a fresh headers exchange with ``arguments``; does a message with
    ``headers`` reach it?"""
    ch.exchange_declare("h", "headers")
    ch.queue_declare("hq")
    ch.queue_bind("hq", "h", "some-key", arguments=arguments)
    publish_headers(ch, "h", headers, b"x")
    got = drain(ch, "hq")
    ch.queue_delete("hq")
    ch.exchange_delete("h")
    return got == [b"x"]


@pytest.mark.parametrize("mode", ["all", "any", "all-with-x", "any-with-x"])
def test_headers_x_match_accepted_values_spec_1_17(ch: Channel, mode: str) -> None:
    assert headers_routes(ch, {"x-match": mode, "a": 1}, {"a": 1})
    assert not headers_routes(ch, {"x-match": mode, "a": 1}, {"a": 2})


def test_headers_x_match_default_all_spec_1_17(ch: Channel) -> None:
    assert headers_routes(ch, {"a": 1, "b": 2}, {"a": 1, "b": 2})
    assert not headers_routes(ch, {"a": 1, "b": 2}, {"a": 1})


@pytest.mark.parametrize(
    "bad", ["ALL", "Any", "none", "", "all ", "all-with-y", 1, True, None, ["all"]]
)
@pytest.mark.parametrize("exchange", ["amq.headers", "amq.match", "h"])
def test_headers_bad_x_match_refused_at_bind_spec_1_17(
    broker: Broker, ch: Channel, bad: Any, exchange: str
) -> None:
    ch.exchange_declare("h", "headers")
    ch.queue_declare("q")
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_bind("q", exchange, "", arguments={"x-match": bad, "a": 1})
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith("PRECONDITION_FAILED - ")
    assert ch.is_closed
    assert not [b for b in broker.bindings if b.source == exchange]


def test_headers_bad_x_match_refused_on_exchange_bind_spec_1_17(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("h", "headers")
    ch.exchange_declare("dest", "fanout")
    with pytest.raises(PreconditionFailed) as info:
        ch.exchange_bind("dest", "h", "", arguments={"x-match": "some"})
    assert info.value.reply_code == 406
    assert not [b for b in broker.bindings if b.source == "h"]


def test_headers_x_match_checked_only_on_headers_exchanges_spec_1_17(ch: Channel) -> None:
    ch.exchange_declare("d", "direct")
    ch.queue_declare("q")
    ch.queue_bind("q", "d", "k", arguments={"x-match": "bogus"})
    ch.basic_publish("d", "k", b"x")
    assert drain(ch, "q") == [b"x"]


def test_headers_all_and_any_skip_x_arguments_spec_1_18(ch: Channel) -> None:
    assert headers_routes(ch, {"x-match": "all", "x-foo": "1", "a": 1}, {"a": 1})
    assert headers_routes(ch, {"x-match": "all", "x-foo": "1", "a": 1}, {"a": 1, "x-foo": "2"})
    assert headers_routes(ch, {"x-match": "any", "x-foo": "1", "a": 1}, {"a": 1})
    assert not headers_routes(ch, {"x-match": "any", "x-foo": "1", "a": 1}, {"x-foo": "1"})


def test_headers_with_x_variants_count_x_arguments_spec_1_18(ch: Channel) -> None:
    args_all = {"x-match": "all-with-x", "x-foo": "1", "a": 1}
    assert not headers_routes(ch, args_all, {"a": 1})
    assert not headers_routes(ch, args_all, {"a": 1, "x-foo": "2"})
    assert headers_routes(ch, args_all, {"a": 1, "x-foo": "1"})
    args_any = {"x-match": "any-with-x", "x-foo": "1"}
    assert headers_routes(ch, args_any, {"x-foo": "1"})
    assert not headers_routes(ch, args_any, {"x-foo": "2"})


def test_headers_with_x_variants_skip_x_match_itself_spec_1_18(ch: Channel) -> None:
    # x-match is never compared against a header, even by the -with-x variants
    assert headers_routes(ch, {"x-match": "all-with-x"}, {})
    assert headers_routes(ch, {"x-match": "all-with-x", "a": 1}, {"a": 1})
    assert not headers_routes(ch, {"x-match": "any-with-x"}, {"x-match": "any-with-x"})


def test_headers_void_argument_means_presence_spec_1_19(ch: Channel) -> None:
    assert headers_routes(ch, {"x-match": "all", "a": None}, {"a": "anything"})
    assert headers_routes(ch, {"x-match": "all", "a": None}, {"a": None})
    assert headers_routes(ch, {"x-match": "all", "a": None}, {"a": 0})
    assert not headers_routes(ch, {"x-match": "all", "a": None}, {"b": 1})
    assert not headers_routes(ch, {"x-match": "all", "a": None}, None)
    assert headers_routes(ch, {"x-match": "any", "a": None, "b": 5}, {"a": 1})
    assert not headers_routes(ch, {"x-match": "any", "a": None, "b": 5}, {"b": 6})


def test_headers_values_must_be_equal_spec_1_19(ch: Channel) -> None:
    assert headers_routes(ch, {"a": "v"}, {"a": "v"})
    assert not headers_routes(ch, {"a": "v"}, {"a": "V"})
    assert headers_routes(ch, {"a": 1}, {"a": 1})
    assert not headers_routes(ch, {"a": 1}, {"a": 2})
    assert headers_routes(ch, {"a": 2**40}, {"a": 2**40})  # long long vs long long
    assert headers_routes(ch, {"a": -1}, {"a": -1})
    assert headers_routes(ch, {"a": True}, {"a": True})
    assert not headers_routes(ch, {"a": True}, {"a": False})
    # a void header value is not equal to a concrete binding value
    assert not headers_routes(ch, {"a": "v"}, {"a": None})


def test_headers_int_does_not_equal_float_spec_1_19(ch: Channel) -> None:
    assert not headers_routes(ch, {"a": 1}, {"a": 1.0})
    assert not headers_routes(ch, {"a": 1.0}, {"a": 1})
    assert headers_routes(ch, {"a": 1.5}, {"a": 1.5})


def test_headers_int_does_not_equal_string_spec_1_19(ch: Channel) -> None:
    assert not headers_routes(ch, {"a": 1}, {"a": "1"})
    assert not headers_routes(ch, {"a": "1"}, {"a": 1})


def test_headers_any_matches_one_pair_spec_1_19(ch: Channel) -> None:
    args = {"x-match": "any", "a": 1, "b": 2}
    assert headers_routes(ch, args, {"a": 1, "b": 99})
    assert headers_routes(ch, args, {"b": 2})
    assert not headers_routes(ch, args, {"a": 2, "b": 1})
    assert not headers_routes(ch, args, {})


def test_headers_all_needs_every_pair_spec_1_19(ch: Channel) -> None:
    args = {"x-match": "all", "a": 1, "b": 2}
    assert headers_routes(ch, args, {"a": 1, "b": 2, "c": 3})
    assert not headers_routes(ch, args, {"a": 1, "b": 3})
    assert not headers_routes(ch, args, {"b": 2})


@pytest.mark.parametrize("headers", [None, {}, {"a": 1}, {"x-match": "any"}])
def test_headers_all_without_counted_arguments_matches_everything_spec_1_20(
    ch: Channel, headers: dict[str, Any] | None
) -> None:
    assert headers_routes(ch, {}, headers)
    assert headers_routes(ch, {"x-match": "all"}, headers)
    assert headers_routes(ch, {"x-match": "all", "x-foo": 1}, headers)


@pytest.mark.parametrize("headers", [None, {}, {"a": 1}, {"x-foo": 1}])
def test_headers_any_without_counted_arguments_matches_nothing_spec_1_20(
    ch: Channel, headers: dict[str, Any] | None
) -> None:
    assert not headers_routes(ch, {"x-match": "any"}, headers)
    assert not headers_routes(ch, {"x-match": "any", "x-foo": 1}, headers)


def test_headers_routing_key_ignored_spec_1_20(ch: Channel) -> None:
    ch.exchange_declare("h", "headers")
    ch.queue_declare("q")
    ch.queue_bind("q", "h", "binding-key", arguments={"a": 1})
    ch.basic_publish("h", "other-key", b"1", properties=BasicProperties(headers={"a": 1}))
    ch.basic_publish("h", "binding-key", b"2", properties=BasicProperties(headers={"a": 2}))
    ch.basic_publish("h", "binding-key", b"3")
    assert drain(ch, "q") == [b"1"]


def test_headers_on_amq_match_spec_1_20(ch: Channel) -> None:
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.match", "", arguments={"x-match": "any", "a": 1, "b": None})
    publish_headers(ch, "amq.match", {"b": "x"}, b"1")
    publish_headers(ch, "amq.match", {"c": 1}, b"2")
    assert drain(ch, "q") == [b"1"]


# --------------------------------------------------------------------------- 1.21


def test_e2e_message_flows_source_to_destination_spec_1_21(ch: Channel) -> None:
    ch.exchange_declare("src", "direct")
    ch.exchange_declare("dst", "fanout")
    ch.queue_declare("q")
    ch.exchange_bind("dst", "src", "k")
    ch.queue_bind("q", "dst", "")
    ch.basic_publish("src", "k", b"1")
    ch.basic_publish("src", "other", b"2")
    ch.basic_publish("dst", "anything", b"3")
    assert drain(ch, "q") == [b"1", b"3"]


def test_e2e_direction_is_source_to_destination_spec_1_21(ch: Channel) -> None:
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("dst", "fanout")
    declare_queues(ch, "qs", "qd")
    ch.exchange_bind("dst", "src", "")
    ch.queue_bind("qs", "src", "")
    ch.queue_bind("qd", "dst", "")
    ch.basic_publish("dst", "", b"x")
    assert counts(ch, "qs", "qd") == {"qs": 0, "qd": 1}


def test_e2e_each_exchange_applies_own_type_to_original_key_spec_1_21(ch: Channel) -> None:
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("t", "topic")
    ch.exchange_declare("d", "direct")
    declare_queues(ch, "qt", "qd", "qd2")
    ch.exchange_bind("t", "src", "ignored-by-fanout")
    ch.exchange_bind("d", "t", "a.*")  # the topic exchange matches the original key
    ch.queue_bind("qt", "t", "#.b")
    ch.queue_bind("qd", "d", "a.b")  # the direct exchange compares the original key too
    ch.queue_bind("qd2", "d", "a.*")  # not the binding key of the e2e binding
    ch.basic_publish("src", "a.b", b"x")
    assert counts(ch, "qt", "qd", "qd2") == {"qt": 1, "qd": 1, "qd2": 0}


def test_e2e_headers_destination_uses_message_headers_spec_1_21(ch: Channel) -> None:
    ch.exchange_declare("src", "direct")
    ch.exchange_declare("h", "headers")
    ch.queue_declare("q")
    ch.exchange_bind("h", "src", "k")
    ch.queue_bind("q", "h", "", arguments={"a": 1})
    ch.basic_publish("src", "k", b"1", properties=BasicProperties(headers={"a": 1}))
    ch.basic_publish("src", "k", b"2", properties=BasicProperties(headers={"a": 2}))
    assert drain(ch, "q") == [b"1"]


def test_e2e_cc_keys_reach_destination_spec_1_21(ch: Channel) -> None:
    ch.exchange_declare("src", "direct")
    ch.exchange_declare("dst", "direct")
    ch.queue_declare("q")
    ch.exchange_bind("dst", "src", "cc-key")
    ch.queue_bind("q", "dst", "cc-key")
    props = BasicProperties(headers={"CC": ["cc-key"]})
    ch.basic_publish("src", "rk", b"x", properties=props)
    assert drain(ch, "q") == [b"x"]


def test_e2e_cycle_is_safe_spec_1_21(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("x1", "fanout")
    ch.exchange_declare("x2", "fanout")
    ch.exchange_declare("x3", "fanout")
    declare_queues(ch, "q1", "q2", "q3")
    ch.exchange_bind("x2", "x1", "")
    ch.exchange_bind("x3", "x2", "")
    ch.exchange_bind("x1", "x3", "")
    ch.queue_bind("q1", "x1", "")
    ch.queue_bind("q2", "x2", "")
    ch.queue_bind("q3", "x3", "")
    for start in ("x1", "x2", "x3"):
        ch.basic_publish(start, "", start.encode())
        assert counts(ch, "q1", "q2", "q3") == {"q1": 1, "q2": 1, "q3": 1}


def test_e2e_self_binding_is_safe_spec_1_21(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("x", "topic")
    ch.exchange_bind("x", "x", "#")
    returned = publish_mandatory(conn, ch, "x", "a.b")
    assert returned == [BasicReturn(312, "NO_ROUTE", "x", "a.b")]
    ch.queue_declare("q")
    ch.queue_bind("q", "x", "a.*")
    ch.basic_publish("x", "a.b", b"x")
    assert drain(ch, "q") == [b"x"]


def test_e2e_cycle_without_queues_is_unroutable_spec_1_21(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("x1", "direct")
    ch.exchange_declare("x2", "direct")
    ch.exchange_bind("x2", "x1", "k")
    ch.exchange_bind("x1", "x2", "k")
    assert publish_mandatory(conn, ch, "x1", "k") == [BasicReturn(312, "NO_ROUTE", "x1", "k")]


def test_e2e_each_exchange_visited_once_spec_1_21(ch: Channel) -> None:
    # diamond: top -> left, right -> bottom; bottom is reached twice but visited once
    for name in ("top", "left", "right", "bottom"):
        ch.exchange_declare(name, "fanout")
    ch.exchange_bind("left", "top", "")
    ch.exchange_bind("right", "top", "")
    ch.exchange_bind("bottom", "left", "")
    ch.exchange_bind("bottom", "right", "")
    declare_queues(ch, "q", "qall")
    ch.queue_bind("q", "bottom", "")
    for name in ("top", "left", "right", "bottom"):
        ch.queue_bind("qall", name, "")
    ch.basic_publish("top", "", b"x")
    assert counts(ch, "q", "qall") == {"q": 1, "qall": 1}


def test_e2e_delivered_exchange_is_published_exchange_spec_1_21(ch: Channel) -> None:
    ch.exchange_declare("src", "topic")
    ch.exchange_declare("dst", "direct")
    ch.queue_declare("q")
    ch.exchange_bind("dst", "src", "a.#")
    ch.queue_bind("q", "dst", "a.b")
    ch.basic_publish("src", "a.b", b"x")
    method, _props, _body = ch.basic_get("q", auto_ack=True)
    assert method is not None
    assert (method.exchange, method.routing_key) == ("src", "a.b")


def test_e2e_queue_gets_one_copy_direct_and_via_exchange_spec_1_21(ch: Channel) -> None:
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("dst", "fanout")
    ch.queue_declare("q")
    ch.exchange_bind("dst", "src", "")
    ch.queue_bind("q", "src", "")
    ch.queue_bind("q", "dst", "")
    ch.basic_publish("src", "", b"x")
    assert drain(ch, "q") == [b"x"]


def test_e2e_bindings_listed_spec_1_21(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("src", "topic")
    ch.exchange_declare("dst", "fanout")
    ch.exchange_bind("dst", "src", "a.#")
    assert ("src", "dst", "exchange", "a.#") in binding_tuples(broker)
    ch.exchange_unbind("dst", "src", "a.#")
    assert ("src", "dst", "exchange", "a.#") not in binding_tuples(broker)


# --------------------------------------------------------------------------- 1.22


@pytest.mark.parametrize(
    ("operation", "text"),
    [
        (lambda c: c.queue_bind("q", "nope", "k"), "NOT_FOUND - no exchange 'nope' in vhost '/'"),
        (lambda c: c.queue_bind("nope", "x", "k"), "NOT_FOUND - no queue 'nope' in vhost '/'"),
        (
            lambda c: c.exchange_bind("x", "nope", "k"),
            "NOT_FOUND - no exchange 'nope' in vhost '/'",
        ),
        (
            lambda c: c.exchange_bind("nope", "x", "k"),
            "NOT_FOUND - no exchange 'nope' in vhost '/'",
        ),
    ],
    ids=[
        "queue-bind-missing-source",
        "queue-bind-missing-queue",
        "e2e-missing-source",
        "e2e-missing-dest",
    ],
)
def test_bind_missing_source_or_destination_spec_1_22(
    broker: Broker, conn: Connection, ch: Channel, operation: Callable[[Channel], object], text: str
) -> None:
    ch.exchange_declare("x", "direct")
    ch.queue_declare("q")
    before = binding_tuples(broker)
    other = conn.channel()
    with pytest.raises(NotFound) as info:
        operation(other)
    assert info.value.reply_code == 404
    assert info.value.reply_text == text
    assert other.is_closed
    assert binding_tuples(broker) == before


def test_bind_twice_no_duplicate_spec_1_22(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("x", "direct")
    ch.queue_declare("q")
    ch.queue_bind("q", "x", "k")
    ch.queue_bind("q", "x", "k")
    assert len([b for b in broker.bindings if b.source == "x"]) == 1
    ch.basic_publish("x", "k", b"x")
    assert drain(ch, "q") == [b"x"]
    # one unbind removes it
    ch.queue_unbind("q", "x", "k")
    assert not [b for b in broker.bindings if b.source == "x"]
    ch.basic_publish("x", "k", b"y")
    assert drain(ch, "q") == []


def test_e2e_bind_twice_no_duplicate_spec_1_22(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("src", "direct")
    ch.exchange_declare("dst", "fanout")
    ch.exchange_bind("dst", "src", "k")
    ch.exchange_bind("dst", "src", "k")
    assert len([b for b in broker.bindings if b.source == "src"]) == 1
    ch.exchange_unbind("dst", "src", "k")
    assert not [b for b in broker.bindings if b.source == "src"]


def test_headers_bind_twice_no_duplicate_spec_1_22(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("h", "headers")
    ch.queue_declare("q")
    ch.queue_bind("q", "h", "", arguments={"a": 1, "x-match": "any"})
    ch.queue_bind("q", "h", "", arguments={"x-match": "any", "a": 1})
    assert len([b for b in broker.bindings if b.source == "h"]) == 1
    ch.queue_unbind("q", "h", "", arguments={"a": 1, "x-match": "any"})
    assert not [b for b in broker.bindings if b.source == "h"]
    publish_headers(ch, "h", {"a": 1}, b"x")
    assert drain(ch, "q") == []


def test_unbind_nonexistent_is_ok_spec_1_22(ch: Channel) -> None:
    ch.exchange_declare("x", "direct")
    ch.exchange_declare("y", "direct")
    ch.queue_declare("q")
    ch.queue_unbind("q", "x", "never-bound")
    ch.exchange_unbind("y", "x", "never-bound")
    ch.queue_bind("q", "x", "k")
    ch.queue_unbind("q", "x", "k", arguments={"a": 1})  # different identity
    assert ch.is_open
    ch.basic_publish("x", "k", b"x")
    assert drain(ch, "q") == [b"x"]


def test_binding_identity_includes_arguments_spec_1_22(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("x", "direct")
    ch.queue_declare("q")
    ch.queue_bind("q", "x", "k")
    ch.queue_bind("q", "x", "k", arguments={"a": 1})
    ch.queue_bind("q", "x", "k", arguments={"a": 2})
    mine = [b for b in broker.bindings if b.source == "x"]
    assert len(mine) == 3
    assert sorted(str(b.arguments) for b in mine) == sorted(["{}", "{'a': 1}", "{'a': 2}"])
    ch.basic_publish("x", "k", b"1")
    assert drain(ch, "q") == [b"1"]  # spec 1.16: one copy
    ch.queue_unbind("q", "x", "k", arguments={"a": 1})
    assert sorted(str(b.arguments) for b in broker.bindings if b.source == "x") == [
        "{'a': 2}",
        "{}",
    ]
    ch.queue_unbind("q", "x", "k")
    ch.basic_publish("x", "k", b"2")
    assert drain(ch, "q") == [b"2"]  # the binding with {'a': 2} still routes
    ch.queue_unbind("q", "x", "k", arguments={"a": 2})
    ch.basic_publish("x", "k", b"3")
    assert drain(ch, "q") == []


def test_binding_identity_includes_key_spec_1_22(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("t", "topic")
    ch.queue_declare("q")
    ch.queue_bind("q", "t", "a.*")
    ch.queue_bind("q", "t", "*.b")
    ch.queue_unbind("q", "t", "a.*")
    ch.basic_publish("t", "a.b", b"1")
    ch.basic_publish("t", "a.c", b"2")
    assert drain(ch, "q") == [b"1"]
    assert [(b.source, b.routing_key) for b in broker.bindings if b.source == "t"] == [("t", "*.b")]


def test_binding_record_fields_spec_1_22(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("x", "headers")
    ch.queue_declare("q")
    ch.queue_bind("q", "x", "rk", arguments={"x-match": "any", "a": 1})
    (binding,) = [b for b in broker.bindings if b.source == "x"]
    assert binding.source == "x"
    assert binding.destination == "q"
    assert binding.destination_type == "queue"
    assert binding.routing_key == "rk"
    assert dict(binding.arguments) == {"x-match": "any", "a": 1}


def test_queue_bind_default_routing_key_is_queue_name(broker: Broker, ch: Channel) -> None:
    # api.md: routing_key None -> the queue name (as pika does); spec 1.12 then applies
    ch.exchange_declare("x", "direct")
    ch.queue_declare("q")
    ch.queue_bind("q", "x")
    assert ("x", "q", "queue", "q") in binding_tuples(broker)


# --------------------------------------------------------------------------- 1.23


def test_alternate_exchange_used_when_unroutable_spec_1_23(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    declare_queues(ch, "q", "qae")
    ch.queue_bind("q", "x", "k")
    ch.queue_bind("qae", "ae", "")
    assert broker.exchanges["x"].alternate_exchange == "ae"
    ch.basic_publish("x", "k", b"routed")
    ch.basic_publish("x", "other", b"alternate")
    assert drain(ch, "q") == [b"routed"]
    method, _props, body = ch.basic_get("qae", auto_ack=True)
    assert method is not None and body == b"alternate"
    # the delivered exchange stays the one the client published to (as in spec 1.21)
    assert (method.exchange, method.routing_key) == ("x", "other")


def test_alternate_exchange_applies_own_type_spec_1_23(ch: Channel) -> None:
    ch.exchange_declare("ae", "topic")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    declare_queues(ch, "qa", "qb")
    ch.queue_bind("qa", "ae", "a.#")
    ch.queue_bind("qb", "ae", "b.#")
    ch.basic_publish("x", "a.z", b"x")
    assert counts(ch, "qa", "qb") == {"qa": 1, "qb": 0}


def test_alternate_exchange_chain_spec_1_23(ch: Channel) -> None:
    ch.exchange_declare("ae2", "fanout")
    ch.exchange_declare("ae1", "direct", arguments={"alternate-exchange": "ae2"})
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae1"})
    declare_queues(ch, "q1", "q2")
    ch.queue_bind("q1", "ae1", "k1")
    ch.queue_bind("q2", "ae2", "")
    ch.basic_publish("x", "k1", b"via-ae1")
    ch.basic_publish("x", "zz", b"via-ae2")
    assert drain(ch, "q1") == [b"via-ae1"]
    assert drain(ch, "q2") == [b"via-ae2"]


def test_alternate_exchange_loop_is_safe_spec_1_23(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "y"})
    ch.exchange_declare("y", "direct", arguments={"alternate-exchange": "x"})
    assert publish_mandatory(conn, ch, "x", "k") == [BasicReturn(312, "NO_ROUTE", "x", "k")]


def test_alternate_exchange_self_is_safe_spec_1_23(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "x"})
    assert publish_mandatory(conn, ch, "x", "k") == [BasicReturn(312, "NO_ROUTE", "x", "k")]


def test_alternate_exchange_loop_with_queue_one_copy_spec_1_23(ch: Channel) -> None:
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "y"})
    ch.exchange_declare("y", "direct", arguments={"alternate-exchange": "x"})
    ch.queue_declare("q")
    ch.queue_bind("q", "y", "k")
    ch.basic_publish("x", "k", b"1")
    ch.basic_publish("y", "nothing", b"2")  # y -> x -> (y already tried): dropped
    assert drain(ch, "q") == [b"1"]


def test_missing_alternate_exchange_ignored_spec_1_23(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "missing"})
    assert publish_mandatory(conn, ch, "x", "k") == [BasicReturn(312, "NO_ROUTE", "x", "k")]
    assert ch.is_open


def test_missing_alternate_exchange_created_later_spec_1_23(ch: Channel) -> None:
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    ch.queue_declare("q")
    ch.basic_publish("x", "k", b"lost")
    ch.exchange_declare("ae", "fanout")
    ch.queue_bind("q", "ae", "")
    ch.basic_publish("x", "k", b"found")
    assert drain(ch, "q") == [b"found"]


def test_missing_alternate_in_chain_stops_spec_1_23(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("ae1", "direct", arguments={"alternate-exchange": "missing"})
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae1"})
    assert publish_mandatory(conn, ch, "x", "k") == [BasicReturn(312, "NO_ROUTE", "x", "k")]


def test_x_prefixed_alternate_exchange_is_not_an_alternate_spec_1_23(
    broker: Broker, conn: Connection, ch: Channel
) -> None:
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"x-alternate-exchange": "ae"})
    ch.queue_declare("q")
    ch.queue_bind("q", "ae", "")
    assert broker.exchanges["x"].alternate_exchange is None
    assert publish_mandatory(conn, ch, "x", "k") == [BasicReturn(312, "NO_ROUTE", "x", "k")]
    assert drain(ch, "q") == []


def test_default_exchange_has_no_alternate_spec_1_23(conn: Connection, ch: Channel) -> None:
    assert publish_mandatory(conn, ch, "", "no-such-queue") == [
        BasicReturn(312, "NO_ROUTE", "", "no-such-queue")
    ]


def test_alternate_exchange_cc_keys_spec_1_23(ch: Channel) -> None:
    ch.exchange_declare("ae", "direct")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    ch.queue_declare("q")
    ch.queue_bind("q", "ae", "cc")
    ch.basic_publish("x", "rk", b"x", properties=BasicProperties(headers={"CC": ["cc"]}))
    assert drain(ch, "q") == [b"x"]


def test_alternate_of_e2e_destination_spec_1_23(ch: Channel) -> None:
    # each exchange visited uses its own alternate when its own bindings give nothing
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("dst", "direct", arguments={"alternate-exchange": "ae"})
    ch.exchange_declare("src", "fanout")
    ch.exchange_bind("dst", "src", "")
    ch.queue_declare("q")
    ch.queue_bind("q", "ae", "")
    ch.basic_publish("src", "k", b"x")
    assert drain(ch, "q") == [b"x"]


# --------------------------------------------------------------------------- 1.24


def test_mandatory_routed_via_alternate_not_returned_spec_1_24(
    conn: Connection, ch: Channel
) -> None:
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    ch.queue_declare("q")
    ch.queue_bind("q", "ae", "")
    assert publish_mandatory(conn, ch, "x", "unbound") == []
    assert drain(ch, "q") == [b"m"]


def test_mandatory_alternate_routes_nowhere_returned_spec_1_24(
    conn: Connection, ch: Channel
) -> None:
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    assert publish_mandatory(conn, ch, "x", "unbound") == [
        BasicReturn(312, "NO_ROUTE", "x", "unbound")
    ]


def test_mandatory_confirm_routed_via_alternate_spec_1_24(conn: Connection, ch: Channel) -> None:
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    ch.queue_declare("q")
    ch.queue_bind("q", "ae", "")
    ch.confirm_delivery()
    ch.basic_publish("x", "unbound", b"x", mandatory=True)  # no UnroutableError
    assert drain(ch, "q") == [b"x"]


def test_e2e_match_suppresses_alternate_even_if_destination_routes_nowhere_spec_1_24(
    conn: Connection, ch: Channel
) -> None:
    # ⚠ spec 1.24: follow the code, not the docs
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    ch.exchange_declare("dst", "direct")  # no bindings, no alternate
    ch.exchange_bind("dst", "x", "k")
    declare_queues(ch, "qae")
    ch.queue_bind("qae", "ae", "")
    returned = publish_mandatory(conn, ch, "x", "k")
    assert drain(ch, "qae") == []
    assert returned == [BasicReturn(312, "NO_ROUTE", "x", "k")]
    # a key the e2e binding does not match still goes to the alternate
    assert publish_mandatory(conn, ch, "x", "other") == []
    assert drain(ch, "qae") == [b"m"]


# --------------------------------------------------------------------------- 10.1, 10.2


@pytest.mark.parametrize(
    "operation",
    [
        lambda c: c.exchange_declare("x" * 256),
        lambda c: c.exchange_declare("é" * 128),  # 256 UTF-8 bytes, 128 characters
        lambda c: c.exchange_declare("x" * 256, passive=True),
        lambda c: c.exchange_delete("x" * 256),
        lambda c: c.exchange_bind("x" * 256, "amq.direct"),
        lambda c: c.exchange_bind("amq.direct", "x" * 256),
        lambda c: c.exchange_unbind("amq.fanout", "amq.direct", "k" * 256),
        lambda c: c.queue_bind("q", "amq.direct", "k" * 256),
        lambda c: c.queue_bind("q", "amq.topic", "a." * 127 + "bb"),
        lambda c: c.queue_bind("q", "x" * 256, "k"),
        lambda c: c.queue_declare("q" * 256),
        lambda c: c.basic_publish("x" * 256, "k", b"x"),
        lambda c: c.basic_publish("amq.direct", "k" * 256, b"x"),
        lambda c: c.basic_publish("amq.direct", "ü" * 128, b"x"),
    ],
    ids=[
        "declare",
        "declare-utf8",
        "declare-passive",
        "delete",
        "e2e-destination",
        "e2e-source",
        "e2e-unbind-key",
        "queue-bind-key",
        "queue-bind-topic-key",
        "queue-bind-exchange",
        "queue-declare",
        "publish-exchange",
        "publish-key",
        "publish-key-utf8",
    ],
)
def test_names_and_keys_over_255_bytes_refused_spec_10_1(
    broker: Broker, conn: Connection, ch: Channel, operation: Callable[[Channel], object]
) -> None:
    ch.queue_declare("q")
    before = (set(broker.exchanges), binding_tuples(broker))
    with pytest.raises(FrameSyntaxError) as info:
        operation(ch)
    assert info.value.reply_code == 502
    assert info.value.is_connection_error
    assert isinstance(info.value, TypeError)
    assert conn.is_closed  # spec 9.1: 502 is connection-level
    assert (set(broker.exchanges), binding_tuples(broker)) == before


def test_names_and_keys_of_255_bytes_accepted_spec_10_1(broker: Broker, ch: Channel) -> None:
    name = "x" * 255
    utf8_name = "é" * 127 + "a"  # 255 bytes
    key = "k" * 255
    ch.exchange_declare(name, "direct")
    ch.exchange_declare(utf8_name, "fanout")
    ch.queue_declare("q")
    ch.queue_bind("q", name, key)
    ch.exchange_bind(utf8_name, name, key)
    ch.basic_publish(name, key, b"x")
    assert name in broker.exchanges and utf8_name in broker.exchanges
    assert drain(ch, "q") == [b"x"]


def test_cr_lf_removed_from_exchange_names_spec_10_2(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("a\r\nb\n", "fanout")
    assert "ab" in broker.exchanges
    assert not [name for name in broker.exchanges if "\r" in name or "\n" in name]
    ch.exchange_declare("\na\rb", "fanout", passive=True)
    ch.exchange_declare("ab", "fanout")  # the same exchange: equivalent redeclare
    ch.queue_declare("q")
    ch.queue_bind("q", "a\nb", "")
    assert ("ab", "q", "queue", "") in binding_tuples(broker)
    ch.basic_publish("ab", "", b"x")
    assert drain(ch, "q") == [b"x"]
    ch.exchange_delete("a\r\nb")
    assert "ab" not in broker.exchanges


def test_cr_lf_removed_from_e2e_names_spec_10_2(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("dst", "fanout")
    ch.exchange_bind("d\nst", "s\rrc", "k")
    assert ("src", "dst", "exchange", "k") in binding_tuples(broker)


def test_cr_lf_removed_from_queue_names_spec_10_2(broker: Broker, ch: Channel) -> None:
    result = ch.queue_declare("q\r\n1")
    assert result.queue == "q1"
    assert "q1" in broker.queues
    ch.basic_publish("", "q1", b"x")
    assert drain(ch, "q1") == [b"x"]


def test_no_other_character_rules_spec_10_2(broker: Broker, ch: Channel) -> None:
    for name in ("with space", "tab\there", "ünïcödé", "sl/ash", "#*.", "\x00nul"):
        ch.exchange_declare(name, "fanout")
        assert name in broker.exchanges


# --------------------------------------------------------------------------- bad input

BAD_CALLS: list[tuple[str, Callable[[Channel], object]]] = [
    ("declare-name-int", lambda c: c.exchange_declare(123)),  # type: ignore[arg-type]
    ("declare-name-none", lambda c: c.exchange_declare(None)),  # type: ignore[arg-type]
    ("declare-type-int", lambda c: c.exchange_declare("x", 5)),  # type: ignore[arg-type]
    ("declare-type-none", lambda c: c.exchange_declare("x", None)),  # type: ignore[arg-type]
    ("declare-durable-str", lambda c: c.exchange_declare("x", durable="yes")),  # type: ignore[arg-type]
    ("declare-internal-str", lambda c: c.exchange_declare("x", internal="no")),  # type: ignore[arg-type]
    ("declare-args-str", lambda c: c.exchange_declare("x", arguments="abc")),  # type: ignore[arg-type]
    ("declare-args-list", lambda c: c.exchange_declare("x", arguments=[("a", 1)])),  # type: ignore[arg-type]
    ("declare-args-int-key", lambda c: c.exchange_declare("x", arguments={1: "a"})),
    ("declare-args-object", lambda c: c.exchange_declare("x", arguments={"a": object()})),
    ("declare-args-nested", lambda c: c.exchange_declare("x", arguments={"a": {"b": [object()]}})),
    ("declare-args-huge-int", lambda c: c.exchange_declare("x", arguments={"a": 2**70})),
    ("delete-name-int", lambda c: c.exchange_delete(123)),  # type: ignore[arg-type]
    ("delete-if-unused-str", lambda c: c.exchange_delete("x", if_unused="yes")),  # type: ignore[arg-type]
    ("e2e-destination-int", lambda c: c.exchange_bind(1, "amq.direct")),  # type: ignore[arg-type]
    ("e2e-source-none", lambda c: c.exchange_bind("amq.fanout", None)),  # type: ignore[arg-type]
    ("e2e-key-int", lambda c: c.exchange_bind("amq.fanout", "amq.direct", 7)),  # type: ignore[arg-type]
    ("e2e-args-str", lambda c: c.exchange_bind("amq.fanout", "amq.direct", "k", "a")),  # type: ignore[arg-type]
    ("e2e-unbind-args-str", lambda c: c.exchange_unbind("amq.fanout", "amq.direct", "k", "a")),  # type: ignore[arg-type]
    ("bind-exchange-int", lambda c: c.queue_bind("q", 123)),  # type: ignore[arg-type]
    ("bind-key-int", lambda c: c.queue_bind("q", "amq.direct", 5)),  # type: ignore[arg-type]
    ("bind-args-str", lambda c: c.queue_bind("q", "amq.direct", "k", arguments="x")),  # type: ignore[arg-type]
    ("bind-args-object", lambda c: c.queue_bind("q", "amq.headers", "", arguments={"a": object()})),
    ("bind-args-int-key", lambda c: c.queue_bind("q", "amq.headers", "", arguments={5: "a"})),
    (
        "bind-args-long-key",
        lambda c: c.queue_bind("q", "amq.headers", "", arguments={"a" * 256: 1}),
    ),
    ("unbind-args-str", lambda c: c.queue_unbind("q", "amq.direct", "k", arguments="x")),  # type: ignore[arg-type]
    ("publish-exchange-int", lambda c: c.basic_publish(123, "k", b"x")),  # type: ignore[arg-type]
    ("publish-exchange-none", lambda c: c.basic_publish(None, "k", b"x")),  # type: ignore[arg-type]
    ("publish-key-int", lambda c: c.basic_publish("", 5, b"x")),  # type: ignore[arg-type]
    ("publish-body-int", lambda c: c.basic_publish("", "q", 5)),  # type: ignore[arg-type]
    (
        "publish-headers-list",
        lambda c: c.basic_publish("", "q", b"x", BasicProperties(headers=[1])),  # type: ignore[arg-type]
    ),
    (
        "publish-headers-int-key",
        lambda c: c.basic_publish("", "q", b"x", BasicProperties(headers={1: 2})),
    ),
    (
        "publish-headers-object",
        lambda c: c.basic_publish("", "q", b"x", BasicProperties(headers={"a": object()})),
    ),
    (
        "publish-headers-nested-object",
        lambda c: c.basic_publish("", "q", b"x", BasicProperties(headers={"a": {"b": object()}})),
    ),
    (
        "publish-headers-long-key",
        lambda c: c.basic_publish("", "q", b"x", BasicProperties(headers={"h" * 256: 1})),
    ),
]


@pytest.mark.parametrize("operation", [op for _, op in BAD_CALLS], ids=[n for n, _ in BAD_CALLS])
def test_wrong_argument_types_give_frame_syntax_error(
    broker: Broker, conn: Connection, ch: Channel, operation: Callable[[Channel], object]
) -> None:
    # api.md: FrameSyntaxError (502, also a TypeError) for wrong argument types, names over
    # 255 bytes and malformed field tables; never a bare Python error from inside (spec 9.1)
    ch.queue_declare("q")
    before = (set(broker.exchanges), binding_tuples(broker))
    with pytest.raises(AMQPError) as info:
        operation(ch)
    assert type(info.value) is FrameSyntaxError, repr(info.value)
    assert info.value.reply_code == 502
    assert info.value.reply_text.startswith("SYNTAX_ERROR - ")
    assert isinstance(info.value, TypeError)
    assert conn.is_closed
    assert (set(broker.exchanges), binding_tuples(broker)) == before
    assert drain(broker.connect().channel(), "q") == []


@pytest.mark.parametrize(
    "headers",
    [
        {"CC": "q2"},
        {"CC": [1]},
        {"CC": ["q2", 5]},
        {"CC": b"q2"},
        {"BCC": 5},
        {"BCC": {"a": "q2"}},
        {"CC": ["q2"], "BCC": "q3"},
    ],
)
def test_malformed_cc_bcc_header_precondition_failed_spec_8_6(
    broker: Broker, conn: Connection, ch: Channel, headers: dict[str, Any]
) -> None:
    # spec 8.6 (the CC/BCC routing of spec 1.2): not an array of longstr -> 406
    declare_queues(ch, "q1", "q2", "q3")
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_publish("", "q1", b"x", properties=BasicProperties(headers=headers))
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith("PRECONDITION_FAILED - ")
    assert ch.is_closed
    assert conn.is_open
    check = conn.channel()
    assert counts(check, "q1", "q2", "q3") == {"q1": 0, "q2": 0, "q3": 0}


def test_cc_empty_array_is_fine_spec_1_2(ch: Channel) -> None:
    declare_queues(ch, "q1")
    ch.basic_publish("", "q1", b"x", properties=BasicProperties(headers={"CC": [], "BCC": []}))
    assert drain(ch, "q1") == [b"x"]


def test_lowercase_cc_is_an_ordinary_header_spec_1_2(ch: Channel) -> None:
    declare_queues(ch, "q1", "q2")
    ch.basic_publish("", "q1", b"x", properties=BasicProperties(headers={"cc": ["q2"], "bcc": 5}))
    assert counts(ch, "q1", "q2") == {"q1": 1, "q2": 0}


def test_x_match_void_refused_spec_1_17(ch: Channel) -> None:
    ch.queue_declare("q")
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_bind("q", "amq.headers", "", arguments={"x-match": None})
    assert info.value.reply_code == 406


# --------------------------------------------------------------------------- results, listings, ids


def test_exchange_methods_return_ok_objects_spec_1_22(ch: Channel) -> None:
    assert isinstance(ch.exchange_declare("x", "fanout"), ExchangeDeclareOk)
    assert isinstance(ch.exchange_declare("y", "fanout"), ExchangeDeclareOk)
    assert isinstance(ch.exchange_bind("y", "x", ""), ExchangeBindOk)
    assert isinstance(ch.exchange_unbind("y", "x", ""), ExchangeUnbindOk)
    ch.queue_declare("q")
    assert isinstance(ch.queue_bind("q", "x", ""), QueueBindOk)
    assert isinstance(ch.queue_unbind("q", "x", ""), QueueUnbindOk)
    assert isinstance(ch.exchange_delete("x"), ExchangeDeleteOk)
    assert isinstance(ch.exchange_delete("missing"), ExchangeDeleteOk)


def test_default_exchange_implicit_bindings_listed_spec_1_2(broker: Broker, ch: Channel) -> None:
    # broker.bindings lists as rabbitmqctl list_bindings does, incl. the implicit ones
    ch.queue_declare("q1")
    assert ("", "q1", "queue", "q1") in binding_tuples(broker)
    ch.queue_delete("q1")
    assert ("", "q1", "queue", "q1") not in binding_tuples(broker)


def test_publish_to_missing_exchange_mandatory_is_404_not_return_spec_1_8(
    conn: Connection, ch: Channel
) -> None:
    returned = track_returns(ch)
    with pytest.raises(NotFound):
        ch.basic_publish("nope", "k", b"x", mandatory=True)
    conn.process_data_events()
    assert returned == []


@pytest.mark.parametrize(
    ("operation", "ids"),
    [
        (lambda c: c.exchange_declare("nope", passive=True), (40, 10)),
        (lambda c: c.exchange_delete("amq.direct"), (40, 20)),
        (lambda c: c.exchange_bind("nope", "amq.direct"), (40, 30)),
        (lambda c: c.exchange_unbind("", "amq.direct"), (40, 40)),
        (lambda c: c.queue_bind("q", "nope", "k"), (50, 20)),
        (lambda c: c.queue_unbind("q", "", "k"), (50, 50)),
        (lambda c: c.basic_publish("nope", "k", b"x"), (60, 40)),
    ],
    ids=[
        "exchange.declare",
        "exchange.delete",
        "exchange.bind",
        "exchange.unbind",
        "queue.bind",
        "queue.unbind",
        "basic.publish",
    ],
)
def test_error_names_failing_method_spec_9_2(
    ch: Channel, operation: Callable[[Channel], object], ids: tuple[int, int]
) -> None:
    ch.queue_declare("q")
    with pytest.raises(AMQPError) as info:
        operation(ch)
    assert (info.value.class_id, info.value.method_id) == ids


def test_channel_closed_after_exchange_error_spec_9_3(ch: Channel) -> None:
    with pytest.raises(NotFound):
        ch.exchange_declare("nope", passive=True)
    with pytest.raises(ChannelClosed) as info:
        ch.exchange_declare("x", "direct")
    assert info.value.reply_code == 404
    assert info.value.reply_text == "NOT_FOUND - no exchange 'nope' in vhost '/'"


def test_confirm_unroutable_e2e_match_without_alternate_spec_1_24(ch: Channel) -> None:
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    ch.exchange_declare("dst", "direct")
    ch.exchange_bind("dst", "x", "k")
    ch.queue_declare("qae")
    ch.queue_bind("qae", "ae", "")
    ch.confirm_delivery()
    with pytest.raises(UnroutableError):
        ch.basic_publish("x", "k", b"x", mandatory=True)
    assert drain(ch, "qae") == []
