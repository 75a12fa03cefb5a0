"""The topic binding index against the reference matcher, below the exchange (spec 1.13-1.15).

The exchange-level tests in ``test_topic_property.py`` drive whole brokers; these
drive the index itself, so they can afford longer keys, repeated words (the
pair index checks each pair of words once) and every key of a small alphabet.
"""

from __future__ import annotations

from itertools import product
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_topic_property import matches

from amqpmodel._topic import TopicIndex


def both_pair_matchers(index: TopicIndex[Any], routing_key: str) -> set[Any]:
    """The keys with two literal words matched both ways: by word pairs and by positions."""
    routing_words = routing_key.split(".") if routing_key else []
    by_pairs: dict[Any, None] = {}
    by_position: dict[Any, None] = {}
    index._match_pairs(routing_words, by_pairs)
    index._match_pairs_by_position(routing_words, by_position)
    assert set(by_pairs) == set(by_position), routing_key
    return set(by_pairs)


def all_keys(alphabet: list[str], max_words: int) -> list[str]:
    keys = [""]
    for n in range(1, max_words + 1):
        keys += [".".join(ws) for ws in product(alphabet, repeat=n)]
    return keys


def test_every_key_of_two_literals_and_wildcards_spec_1_13_to_1_15() -> None:
    # every binding key of up to 5 words over a, b, *, # (so every shape of key
    # the pair index holds, and the one-literal keys the tries hold) against
    # every routing key of up to 5 words over a, b, ""
    binding_keys = all_keys(["a", "b", "*", "#"], 5)
    routing_keys = all_keys(["a", "b", ""], 5)
    index: TopicIndex[str] = TopicIndex()
    for key in binding_keys:
        index.add(key, key)
    assert len(index) == len(binding_keys)
    for routing_key in routing_keys:
        expected = {key for key in binding_keys if matches(key, routing_key)}
        got = index.match(routing_key)
        assert len(got) == len(set(got)), routing_key  # spec 1.16: each destination once
        assert set(got) == expected, routing_key
        paired = {key for key in expected if sum(w not in ("*", "#") for w in key.split(".")) >= 2}
        paired -= {key for key in paired if "*" not in key and "#" not in key}
        assert both_pair_matchers(index, routing_key) == paired, routing_key


KEY_WORDS = st.sampled_from(["a", "b", "c", "", "*", "#"])
ROUTING_WORDS = st.sampled_from(["a", "b", "c", "", "*", "#", "d"])


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.lists(KEY_WORDS, max_size=7).map(".".join), st.integers(0, 3)),
        max_size=40,
    ),
    st.lists(st.lists(ROUTING_WORDS, max_size=12).map(".".join), min_size=1, max_size=5),
)
def test_index_agrees_with_reference_through_binds_and_unbinds_spec_1_13_to_1_16(
    operations: list[tuple[bool, str, int]], routing_keys: list[str]
) -> None:
    index: TopicIndex[int] = TopicIndex()
    bound: dict[tuple[str, int], int] = {}  # a destination can be bound twice with one key
    for routing_key in routing_keys:  # fill the cache, which every change must clear
        index.match(routing_key)
    for add, key, destination in operations:
        if add:
            index.add(key, destination)
            bound[key, destination] = bound.get((key, destination), 0) + 1
        elif bound.get((key, destination)):
            # the exchange removes only what it added (spec 1.22 is its business):
            # keys are kept in normal form, so "#" and "#.#" share one entry
            index.remove(key, destination)
            bound[key, destination] -= 1
        for routing_key in routing_keys:
            expected = {d for (k, d), n in bound.items() if n and matches(k, routing_key)}
            got = index.match(routing_key)
            assert len(got) == len(set(got))
            assert set(got) == expected, (routing_key, bound)
            assert both_pair_matchers(index, routing_key) <= expected
    assert len(index) == sum(bound.values())


def test_long_routing_key_of_one_repeated_word_spec_1_14_1_16() -> None:
    # 127 words: keys with "a" twice are filed under the pair (a, a), which
    # this routing key holds 8 001 times; each matching key is one destination
    index: TopicIndex[str] = TopicIndex()
    for key in ("a.#.a", "a.a", "#.a.*.a.#", "a.b.#"):
        index.add(key, key)
    routing_key = ".".join(["a"] * 127)
    assert set(index.match(routing_key)) == {"a.#.a", "#.a.*.a.#"}


def test_unbinding_every_key_leaves_no_empty_levels_behind() -> None:
    # the index must not grow with churn: every level emptied by an unbind goes
    keys = all_keys(["a", "b", "*", "#"], 4)
    index: TopicIndex[int] = TopicIndex()
    for destination in (1, 2):
        for key in keys:
            index.add(key, destination)
    for destination in (2, 1):
        for key in reversed(keys):
            index.remove(key, destination)
    assert len(index) == 0
    assert index._exact == {}
    assert index._pairs == {}
    assert index._forward.is_empty()
    assert index._backward.is_empty()
