"""x-consistent-hash (spec 13.11-13.16), x-random (13.17) and x-local-random (13.18-13.19) in process.

Per 13.16 nothing here asserts which queue a given key picks: only one
destination per message, stability while bindings are unchanged, shares
roughly proportional to weights, and the validation rules.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amqpmodel import BasicProperties, Broker, Channel, PreconditionFailed
from amqpmodel._exchange_consistent_hash import jump_consistent_hash

HASH = "x-consistent-hash"


def ready(broker: Broker, *queues: str) -> dict[str, int]:
    return {q: broker.queues[q].messages_ready for q in queues}


def where(ch: Channel, queues: list[str]) -> str | None:
    """The one queue that got the last message (taking it), or None."""
    broker = ch.connection.broker
    got = [q for q in queues if broker.queues[q].messages_ready]
    assert len(got) <= 1, f"one destination per message (13.12): {got}"
    if got:
        ch.queue_purge(got[0])
    return got[0] if got else None


def ring(ch: Channel, weights: dict[str, int], **arguments: Any) -> None:
    ch.exchange_declare("h", HASH, arguments=arguments or None)
    for queue, weight in weights.items():
        ch.queue_declare(queue)
        ch.queue_bind(queue, "h", str(weight))


# ----------------------------------------------------------------- validation (13.11, 13.14)


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("abc", 'The binding key must be an integer: <<"abc">>'),
        ("1.5", 'The binding key must be an integer: <<"1.5">>'),
        ("", "The binding key must be an integer: <<>>"),
        ("0", "The binding key must be greater than 0"),
        ("-3", "The binding key must be greater than 0"),
        ("10001", "The binding key must not exceed 10000"),
    ],
)
def test_binding_key_must_be_a_weight_spec_13_11(ch: Channel, key: str, text: str) -> None:
    ch.exchange_declare("h", HASH)
    ch.queue_declare("q")
    with pytest.raises(PreconditionFailed) as raised:
        ch.queue_bind("q", "h", key)
    assert raised.value.reply_text == f"PRECONDITION_FAILED - {text}"


def test_weight_limits_are_accepted_spec_13_11(ch: Channel, broker: Broker) -> None:
    ring(ch, {"a": 1, "b": 10000})
    assert len(broker.exchanges["h"].bindings) == 2


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
def test_declare_argument_errors_spec_13_14(
    ch: Channel, broker: Broker, arguments: dict[str, Any], text: str
) -> None:
    with pytest.raises(PreconditionFailed) as raised:
        ch.exchange_declare("h", HASH, arguments=arguments)
    assert raised.value.reply_text == f"PRECONDITION_FAILED - {text}"
    assert "h" not in broker.exchanges


# ----------------------------------------------------------------- routing (13.12, 13.13)


def test_no_bindings_is_unroutable_spec_13_12(ch: Channel, broker: Broker) -> None:
    ch.exchange_declare("h", HASH)
    ch.basic_publish("h", "k", b"m")
    assert broker.vhost().dropped["unroutable"] == 1


def test_only_the_first_binding_of_a_destination_counts_spec_13_12(
    ch: Channel, broker: Broker
) -> None:
    ring(ch, {"a": 1, "b": 1})
    ch.queue_bind("a", "h", "100")  # changes nothing: a keeps weight 1
    for i in range(2000):
        ch.basic_publish("h", f"key-{i}", b"m")
    shares = ready(broker, "a", "b")
    assert sum(shares.values()) == 2000
    assert 800 < shares["a"] < 1200


def test_removing_any_binding_takes_the_destination_off_the_ring_spec_13_12(
    ch: Channel, broker: Broker
) -> None:
    ring(ch, {"a": 1, "b": 1})
    ch.queue_bind("a", "h", "2")
    ch.queue_unbind("a", "h", "2")  # a still has its "1" binding, but is off the ring
    for i in range(100):
        ch.basic_publish("h", f"key-{i}", b"m")
    assert ready(broker, "a", "b") == {"a": 0, "b": 100}


def test_an_exchange_can_be_a_destination_spec_13_12(ch: Channel, broker: Broker) -> None:
    ch.exchange_declare("h", HASH)
    ch.exchange_declare("f", "fanout")
    ch.exchange_bind("f", "h", "1")
    ch.queue_declare("q")
    ch.queue_bind("q", "f", "")
    ch.basic_publish("h", "any", b"m")
    assert ready(broker, "q") == {"q": 1}


def test_cc_is_ignored_the_publish_key_is_hashed_spec_13_13(ch: Channel, broker: Broker) -> None:
    queues = [f"q{i}" for i in range(5)]
    ring(ch, dict.fromkeys(queues, 1))
    picks = set()
    for i in range(20):
        ch.basic_publish("h", "fixed", b"m", BasicProperties(headers={"CC": [f"cc-{i}"]}))
        picks.add(where(ch, queues))
    assert len(picks) == 1 and None not in picks


@pytest.mark.parametrize(
    ("arguments", "make"),
    [
        ({"hash-header": "hh"}, lambda v: BasicProperties(headers={"hh": v})),
        ({"hash-property": "message_id"}, lambda v: BasicProperties(message_id=v)),
        ({"hash-property": "correlation_id"}, lambda v: BasicProperties(correlation_id=v)),
        ({"hash-property": "timestamp"}, lambda v: BasicProperties(timestamp=len(v) * 1000 + 7)),
    ],
    ids=["hash-header", "message_id", "correlation_id", "timestamp"],
)
def test_hash_header_and_property_pick_by_their_value_spec_13_13(
    ch: Channel, broker: Broker, arguments: dict[str, Any], make: Any
) -> None:
    queues = [f"q{i}" for i in range(4)]
    ring(ch, dict.fromkeys(queues, 1), **arguments)
    seen: dict[str, str | None] = {}
    for i in range(40):
        value = "v" * (i % 10 + 1)
        ch.basic_publish("h", f"routing-{i}", b"m", make(value))  # routing keys vary: ignored
        picked = where(ch, queues)
        assert picked is not None
        assert seen.setdefault(value, picked) == picked
    assert len(set(seen.values())) > 1


def test_a_timestamp_hashes_the_same_as_int_or_datetime_spec_13_13(
    ch: Channel, broker: Broker
) -> None:
    queues = [f"q{i}" for i in range(8)]
    ring(ch, dict.fromkeys(queues, 1), **{"hash-property": "timestamp"})
    for seconds in (0, 1_700_000_000, 1_700_000_001, 42):
        ch.basic_publish("h", "k", b"m", BasicProperties(timestamp=seconds))
        as_int = where(ch, queues)
        when = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).replace(tzinfo=None)
        ch.basic_publish("h", "k", b"m", BasicProperties(timestamp=when))
        assert where(ch, queues) == as_int


@pytest.mark.parametrize(
    ("arguments", "properties"),
    [
        ({"hash-header": "hh"}, BasicProperties()),
        ({"hash-header": "hh"}, BasicProperties(headers={"other": 1})),
        ({"hash-property": "message_id"}, BasicProperties()),
    ],
)
def test_messages_lacking_the_value_go_to_one_fixed_destination_spec_13_13(
    ch: Channel, broker: Broker, arguments: dict[str, Any], properties: BasicProperties
) -> None:
    queues = [f"q{i}" for i in range(4)]
    ring(ch, dict.fromkeys(queues, 1), **arguments)
    picks = set()
    for i in range(20):
        ch.basic_publish("h", f"k{i}", b"m", properties)
        picks.add(where(ch, queues))
    assert len(picks) == 1 and None not in picks  # not dropped


# ----------------------------------------------------------------- the ring (13.15, 13.16), property-based


weights_st = st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=6)


@settings(max_examples=30, deadline=None)
@given(weights=weights_st, keys=st.lists(st.text(max_size=20), min_size=1, max_size=30))
def test_one_destination_per_message_and_stable_per_key_spec_13_16(
    weights: list[int], keys: list[str]
) -> None:
    broker = Broker()
    ch = broker.connect().channel()
    queues = [f"q{i}" for i in range(len(weights))]
    ring(ch, dict(zip(queues, weights, strict=True)))
    first: dict[str, str | None] = {}
    for _ in range(2):
        for key in keys:
            ch.basic_publish("h", key, b"m")
            picked = where(ch, queues)
            assert picked is not None
            assert first.setdefault(key, picked) == picked


@settings(max_examples=15, deadline=None)
@given(weights=st.lists(st.integers(min_value=1, max_value=10), min_size=2, max_size=5))
def test_shares_are_roughly_proportional_to_weights_spec_13_16(weights: list[int]) -> None:
    broker = Broker()
    ch = broker.connect().channel()
    queues = [f"q{i}" for i in range(len(weights))]
    ring(ch, dict(zip(queues, weights, strict=True)))
    total = 20_000
    for i in range(total):
        ch.basic_publish("h", str(i), b"m")
    got = ready(broker, *queues)
    assert sum(got.values()) == total
    for queue, weight in zip(queues, weights, strict=True):
        expected = total * weight / sum(weights)
        assert abs(got[queue] - expected) < 0.25 * expected + 100


@settings(max_examples=30, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=5),
    added=st.integers(min_value=1, max_value=20),
    keys=st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=1, max_size=50),
)
def test_adding_a_destination_moves_only_keys_into_its_buckets_spec_13_15(
    weights: list[int], added: int, keys: list[int]
) -> None:
    before = sum(weights)
    for key in keys:
        old = jump_consistent_hash(key, before)
        new = jump_consistent_hash(key, before + added)
        assert 0 <= old < before and 0 <= new < before + added
        assert new == old or new >= before  # moved only into the new buckets


def test_rebinding_after_removal_rebuilds_the_ring_spec_13_15(ch: Channel, broker: Broker) -> None:
    queues = ["a", "b", "c"]
    ring(ch, dict.fromkeys(queues, 1))
    ch.queue_unbind("b", "h", "1")
    for i in range(300):
        ch.basic_publish("h", str(i), b"m")
    got = ready(broker, *queues)
    assert got["b"] == 0 and got["a"] + got["c"] == 300 and got["a"] and got["c"]


# ----------------------------------------------------------------- x-random (13.17)


def test_random_picks_one_binding_uniformly_spec_13_17(ch: Channel, broker: Broker) -> None:
    ch.exchange_declare("r", "x-random")
    for queue in ("a", "b", "c"):
        ch.queue_declare(queue)
        ch.queue_bind(queue, "r", "ignored")
    ch.queue_bind("c", "r", "another")  # c bound twice: twice as likely
    for i in range(4000):
        ch.basic_publish("r", f"k{i}", b"m")
    got = ready(broker, "a", "b", "c")
    assert sum(got.values()) == 4000
    assert 800 < got["a"] < 1200 and 800 < got["b"] < 1200 and 1800 < got["c"] < 2200


def test_random_without_bindings_is_unroutable_spec_13_17(ch: Channel, broker: Broker) -> None:
    ch.exchange_declare("r", "x-random")
    ch.queue_declare("q")
    ch.queue_bind("q", "r", "x", arguments={"any": "thing"})  # no validation errors
    ch.queue_unbind("q", "r", "x", arguments={"any": "thing"})
    ch.basic_publish("r", "k", b"m")
    assert broker.vhost().dropped["unroutable"] == 1


# ----------------------------------------------------------------- x-local-random (13.18, 13.19)


def test_local_random_binding_key_must_be_empty_spec_13_18(ch: Channel) -> None:
    ch.exchange_declare("lr", "x-local-random")
    ch.queue_declare("q")
    with pytest.raises(PreconditionFailed) as raised:
        ch.queue_bind("q", "lr", "k")
    assert (
        raised.value.reply_text == "PRECONDITION_FAILED - Non empty binding 'k' key not permitted"
    )


def test_local_random_destination_must_be_a_queue_spec_13_18(ch: Channel) -> None:
    ch.exchange_declare("lr", "x-local-random")
    ch.exchange_declare("other", "fanout")
    with pytest.raises(PreconditionFailed) as raised:
        ch.exchange_bind("other", "lr", "")
    assert raised.value.reply_text == "PRECONDITION_FAILED - Destination not found"


def test_local_random_picks_each_bound_queue_once_spec_13_19(ch: Channel, broker: Broker) -> None:
    ch.exchange_declare("lr", "x-local-random")
    for queue in ("a", "b"):
        ch.queue_declare(queue)
        ch.queue_bind(queue, "lr", "")
    ch.queue_bind("b", "lr", "", arguments={"x": 1})  # a second binding: not more likely
    for i in range(2000):
        ch.basic_publish("lr", f"k{i}", b"m")
    got = ready(broker, "a", "b")
    assert sum(got.values()) == 2000 and 800 < got["a"] < 1200


def test_local_random_without_queues_is_unroutable_spec_13_19(ch: Channel, broker: Broker) -> None:
    ch.exchange_declare("lr", "x-local-random")
    ch.basic_publish("lr", "k", b"m")
    assert broker.vhost().dropped["unroutable"] == 1


def test_a_user_type_uses_the_same_registry(ch: Channel, broker: Broker) -> None:
    """The plugin types are registered like a user's own (README "Adding your own exchange type")."""
    from amqpmodel import ExchangeTypeBase, register_exchange_type

    class FirstBound(ExchangeTypeBase):
        def __init__(self) -> None:
            self.destinations: list[Any] = []

        def declared(self, exchange: Any) -> None:
            if "x-refuse" in exchange.arguments:
                raise PreconditionFailed("refused by the type")

        def bind(self, destination: Any, routing_key: str, arguments: dict[str, Any]) -> None:
            self.destinations.append(destination)

        def route(self, routing_keys: Any, headers: Any) -> Any:
            return self.destinations[:1]

    register_exchange_type("x-first-bound", FirstBound)
    with pytest.raises(PreconditionFailed):
        ch.exchange_declare("bad", "x-first-bound", arguments={"x-refuse": True})
    ch = broker.connect().channel()
    ch.exchange_declare("fb", "x-first-bound")
    for queue in ("a", "b"):
        ch.queue_declare(queue)
        ch.queue_bind(queue, "fb", "")
    ch.basic_publish("fb", "", b"m")
    assert ready(broker, "a", "b") == {"a": 1, "b": 0}
