"""The topic exchange agrees with an independent reference matcher (spec 1.13-1.16, 1.22).

Random binding keys and routing keys over a small alphabet, bound and unbound in
random order; after every publish, the set of queues that received the message
must be exactly what the reference matcher predicts.
"""

from __future__ import annotations

from functools import cache
from itertools import product

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amqpmodel import BasicProperties, BasicReturn, Broker, Channel, VirtualClock
from amqpmodel.testing import assert_accounted


def words(key: str) -> tuple[str, ...]:
    """spec 1.13: split on every "."; "" is zero words; empty segments are words."""
    return () if key == "" else tuple(key.split("."))


@cache
def reference_match(binding: tuple[str, ...], routing: tuple[str, ...]) -> bool:
    """spec 1.14: `*` is exactly one word, `#` zero or more, anything else a literal word."""
    if not binding:
        return not routing
    head, rest = binding[0], binding[1:]
    if head == "#":
        return any(reference_match(rest, routing[i:]) for i in range(len(routing) + 1))
    if not routing:
        return False
    if head == "*" or head == routing[0]:
        return reference_match(rest, routing[1:])
    return False


def matches(binding_key: str, routing_key: str) -> bool:
    return reference_match(words(binding_key), words(routing_key))


# --------------------------------------------------------------------------- the reference itself

VECTORS_MATCH = [
    ("", "#"),
    ("", "#.#"),
    ("", ""),
    *(
        ("a.b", k)
        for k in (
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
    *(("oneword", k) for k in ("*", "#", "#.#", "*.#", "#.*.#", "*.#.#")),
    ("a..b", "a.*.b"),
    (".", "*.*"),
]
VECTORS_NO_MATCH = [
    *(("", k) for k in ("*", "*.#", "#.*", "a", ".")),
    *(("a.b.c", k) for k in ("a.*", "*", "#.b", "a.#.b")),
    ("ab", "a#b"),
    ("a..b", "a.b"),
]


@pytest.mark.parametrize(("routing_key", "binding_key"), VECTORS_MATCH)
def test_reference_matcher_agrees_with_spec_1_15_matches(
    routing_key: str, binding_key: str
) -> None:
    assert matches(binding_key, routing_key)


@pytest.mark.parametrize(("routing_key", "binding_key"), VECTORS_NO_MATCH)
def test_reference_matcher_agrees_with_spec_1_15_non_matches(
    routing_key: str, binding_key: str
) -> None:
    assert not matches(binding_key, routing_key)


# --------------------------------------------------------------------------- strategies

BINDING_WORDS = st.sampled_from(["a", "b", "", "*", "#"])
ROUTING_WORDS = st.sampled_from(["a", "b", "", "c", "*", "#"])


def dotted(word: st.SearchStrategy[str], max_words: int) -> st.SearchStrategy[str]:
    return st.lists(word, min_size=0, max_size=max_words).map(".".join)


binding_keys = dotted(BINDING_WORDS, 4)
routing_keys = dotted(ROUTING_WORDS, 4)

operations = st.lists(
    st.one_of(
        st.tuples(st.just("bind"), binding_keys),
        st.tuples(st.just("unbind"), binding_keys),
        st.tuples(st.just("publish"), routing_keys, st.lists(routing_keys, max_size=2)),
    ),
    min_size=1,
    max_size=30,
)


# --------------------------------------------------------------------------- the property


class TopicModel:
    """Drives a topic exchange and predicts, with the reference matcher, where messages go."""

    ALL = "every-key"  # one queue bound with every key of the model (spec 1.16: one copy)

    def __init__(self) -> None:
        self.broker = Broker(clock=VirtualClock())
        self.connection = self.broker.connect()
        self.channel: Channel = self.connection.channel()
        self.channel.exchange_declare("t", "topic")
        self.channel.queue_declare(self.ALL)
        self.queue_of: dict[str, str] = {}
        self.bound: set[str] = set()
        self.returned: list[BasicReturn] = []
        self.channel.add_on_return_callback(lambda _c, method, _p, _b: self.returned.append(method))
        self.sequence = 0

    def queue_for(self, binding_key: str) -> str:
        if binding_key not in self.queue_of:
            name = f"q{len(self.queue_of)}"
            self.channel.queue_declare(name)
            self.queue_of[binding_key] = name
        return self.queue_of[binding_key]

    def bind(self, binding_key: str) -> None:
        self.channel.queue_bind(self.queue_for(binding_key), "t", binding_key)
        self.channel.queue_bind(self.ALL, "t", binding_key)
        self.bound.add(binding_key)

    def unbind(self, binding_key: str) -> None:
        # spec 1.22: unbinding what does not exist is fine
        self.channel.queue_unbind(self.queue_for(binding_key), "t", binding_key)
        self.channel.queue_unbind(self.ALL, "t", binding_key)
        self.bound.discard(binding_key)

    def publish(self, routing_key: str, cc: list[str]) -> None:
        self.sequence += 1
        body = str(self.sequence).encode()
        props = BasicProperties(headers={"CC": cc}) if cc else None
        self.channel.basic_publish("t", routing_key, body, properties=props, mandatory=True)
        self.connection.process_data_events()
        keys = [routing_key, *cc]
        expected = {
            self.queue_of[key] for key in self.bound if any(matches(key, rk) for rk in keys)
        }
        got: dict[str, list[bytes]] = {}
        for name in [*self.queue_of.values(), self.ALL]:
            bodies = []
            while True:
                method, _props, received = self.channel.basic_get(name, auto_ack=True)
                if method is None:
                    break
                assert received is not None
                assert (method.exchange, method.routing_key) == ("t", routing_key)
                bodies.append(received)
            if bodies:
                got[name] = bodies
        context = (routing_key, cc, sorted(self.bound))
        assert {name for name in got if name != self.ALL} == expected, context
        for name, bodies in got.items():
            assert bodies == [body], (name, context)  # spec 1.16: one copy per queue
        assert (self.ALL in got) == bool(expected), context
        if expected:
            assert self.returned == [], context
        else:
            assert self.returned == [BasicReturn(312, "NO_ROUTE", "t", routing_key)], context
        self.returned.clear()

    def check_bindings(self) -> None:
        listed = sorted(
            (b.destination, b.routing_key) for b in self.broker.bindings if b.source == "t"
        )
        wanted = sorted(
            [(self.queue_of[key], key) for key in self.bound]
            + [(self.ALL, key) for key in self.bound]
        )
        assert listed == wanted


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_topic_exchange_agrees_with_reference_spec_1_13_to_1_16(ops: list[tuple]) -> None:  # type: ignore[type-arg]
    model = TopicModel()
    for op in ops:
        if op[0] == "bind":
            model.bind(op[1])
        elif op[0] == "unbind":
            model.unbind(op[1])
        else:
            model.publish(op[1], op[2])
        model.check_bindings()
    # publish every routing key once more against the final set of bindings
    for routing_key in ("", "a", "b", ".", "a.b", "a..b", "a.b.c", "c.c.c.c"):
        model.publish(routing_key, [])
    model.connection.close()
    assert_accounted(model.broker)


@settings(max_examples=200, deadline=None)
@given(st.lists(binding_keys, min_size=1, max_size=8), routing_keys)
def test_topic_bind_all_then_unbind_in_random_order_spec_1_22(
    keys: list[str], routing_key: str
) -> None:
    model = TopicModel()
    for key in keys:
        model.bind(key)
    model.publish(routing_key, [])
    for key in reversed(keys):
        model.unbind(key)
        model.check_bindings()
        model.publish(routing_key, [])
    assert model.bound == set()
    model.connection.close()
    assert_accounted(model.broker)


def test_topic_every_short_key_against_every_short_routing_key_spec_1_13_to_1_16() -> None:
    # exhaustive over small alphabets: every binding key of up to 4 words over
    # "a", "*", "#" (all orders of wildcard runs, leading and trailing
    # wildcards) against every routing key of up to 4 words over "a", "b", ""
    def all_keys(alphabet: list[str], max_words: int) -> list[str]:
        keys = [""]
        for n in range(1, max_words + 1):
            keys += [".".join(ws) for ws in product(alphabet, repeat=n)]
        return keys

    binding_keys_all = all_keys(["a", "*", "#"], 4)
    routing_keys_all = all_keys(["a", "b", ""], 4)
    broker = Broker(clock=VirtualClock())
    ch = broker.connect().channel()
    ch.exchange_declare("t", "topic")
    queue_of = {}
    for i, key in enumerate(binding_keys_all):
        queue_of[key] = f"q{i}"
        ch.queue_declare(queue_of[key])
        ch.queue_bind(queue_of[key], "t", key)
    for routing_key in routing_keys_all:
        ch.basic_publish("t", routing_key, b"m")
        got = {key for key, queue in queue_of.items() if ch.basic_get(queue, auto_ack=True)[0]}
        expected = {key for key in binding_keys_all if matches(key, routing_key)}
        assert got == expected, routing_key
    assert_accounted(broker)
