"""The topic-exchange binding index: add and remove binding keys, match routing keys (spec 1.13-1.15).

A binding key is filed by what it holds, so that matching a routing key
costs about the same with ten bindings as with a hundred thousand:

- A key without wildcards matches one routing key, itself: it sits in a dict
  under its own text, and matching it is one lookup.
- A key with two or more literal words (``a.*.b``, ``#.a.#.b``, ``*.a.b.#``)
  can only match a routing key that holds its first two literal words in
  that order. It is filed under that pair of words and the number of words
  its wildcards take before and between them, and a routing key of k words
  looks up its k(k-1)/2 ordered pairs (10 for five words). Where a pair is
  found, the keys whose wildcards fit the words' positions have the rest
  matched by a small trie (see ``_Pair``), and one pass of the automaton
  over the routing key runs every such trie from where it starts. The cost
  grows with the routing key's length and with how many keys share a pair,
  not with the number of keys.
- A key with wildcards and at most one literal word (``#``, ``*.*``,
  ``a.#``, ``*.error``) stays in a trie run as an automaton over the routing
  key's words. With one literal word at most, the trie cannot fan out far:
  a routing key keeps few of its nodes live. (One trie of every key, as
  before, kept about 18 nodes live per routing key with 100 000 keys of
  2-5 words, most of them far apart in memory; the pair index touches a few
  dicts.)

Keys are kept in a normal form (see ``_topic_trie``). A trie key that starts
with a wildcard and ends with a literal word (``#.error``, ``*.*.rabbit``) is
stored reversed in a second trie and matched against the routing key's words
from the last. Read forwards such a key keeps the root's ``*`` or ``#`` node
live for every routing key; read backwards its first step is one lookup of
the routing key's last word. A key reversed matches exactly the reversed
routing keys.

Results are cached per routing key until the bindings change.

Complexity, for a routing key of k words: add/remove O(words); match O(1)
on a cache hit, else one lookup for the keys without wildcards; O(k^2)
lookups for the keys with two literal words (O(distinct words^2) for keys
of over 8 words), then one pass of O(k x live nodes) over the tries of
rests that fit; O(k x live nodes) for the trie.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable
from typing import Any, Generic, TypeVar

from ._topic_trie import Node, normal_form, run, run_entering, trie_add, trie_remove, without

__all__ = ["TopicIndex"]

D = TypeVar("D", bound=Hashable)

_CACHE_LIMIT = 4096
# Routing keys of up to this many words take each pair of positions in turn
# (at most 28 pairs); longer ones gather each word's positions first.
_SHORT = 8
_WILDCARDS = ("*", "#")


# How many words a run of wildcards in normal form takes: (n, False) for
# exactly n, (n, True) for n or more.
_Width = tuple[int, bool]


def _width(run: list[str]) -> _Width:
    return run.count("*"), "#" in run


class _Pair(Generic[D]):
    """The keys whose first two literal words are one pair, by where those words sit.

    Such a key reads ``P . first . M . second . S``, with P and M runs of
    wildcards: each takes n words, or n or more. Once the routing key has
    ``first`` at i and ``second`` at j, only the keys whose P takes i words
    and whose M takes j-i-1 can match, and of those the ones whose rest S
    matches the words after j. The rests are kept in a trie per shape (the
    widths of P and M): shapes without ``#`` are found by one lookup, the
    others are checked one by one.
    """

    __slots__ = ("exact", "loose")

    def __init__(self) -> None:
        # (words before first, words between) -> trie of the rests
        self.exact: dict[tuple[int, int], Node[D]] = {}
        # (width before first, width between) -> trie of the rests
        self.loose: dict[tuple[_Width, _Width], Node[D]] = {}

    def _shelf(self, before: _Width, between: _Width) -> tuple[dict[Any, Node[D]], Hashable]:
        """Where the trie of rests for this shape is kept, and under which key."""
        if before[1] or between[1]:
            return self.loose, (before, between)
        return self.exact, (before[0], between[0])

    def rests(self, before: _Width, between: _Width) -> Node[D] | None:
        shelf, key = self._shelf(before, between)
        return shelf.get(key)

    def add_rests(self, before: _Width, between: _Width) -> Node[D]:
        shelf, key = self._shelf(before, between)
        rests = shelf.get(key)
        if rests is None:
            rests = shelf[key] = Node()
        return rests

    def drop_rests(self, before: _Width, between: _Width) -> None:
        shelf, key = self._shelf(before, between)
        del shelf[key]

    def is_empty(self) -> bool:
        return not (self.exact or self.loose)

    def tries(self) -> list[Node[D]]:
        return [*self.exact.values(), *self.loose.values()]


def _literal_positions(words: list[str]) -> list[int]:
    return [n for n, word in enumerate(words) if word not in _WILDCARDS]


def _split_at_pair(
    words: list[str], literals: list[int]
) -> tuple[str, str, _Width, _Width, list[str]]:
    """A normal-form key as (first, second, P width, M width, S), given its literal positions."""
    at_first, at_second = literals[0], literals[1]
    return (
        words[at_first],
        words[at_second],
        _width(words[:at_first]),
        _width(words[at_first + 1 : at_second]),
        words[at_second + 1 :],
    )


class TopicIndex(Generic[D]):
    """A topic exchange's binding keys; ``match(routing_key)`` gives each matching destination once."""

    __slots__ = ("_backward", "_cache", "_exact", "_forward", "_pairs", "_trie_bindings")

    def __init__(self) -> None:
        # Each place holds one entry per binding (a destination bound with two
        # argument tables is there twice); a match reports it once.
        # Keys without wildcards, by their text:
        self._exact: dict[str, tuple[D, ...]] = {}
        # keys with wildcards and two or more literal words: first literal -> second -> _Pair
        self._pairs: dict[str, dict[str, _Pair[D]]] = {}
        # keys with wildcards and at most one literal word, in two tries
        self._forward: Node[D] = Node()
        # those that start with a wildcard and end with a literal, reversed:
        # this root only ever has literal children
        self._backward: Node[D] = Node()
        self._trie_bindings = 0
        self._cache: dict[str, tuple[D, ...]] = {}

    def add(self, binding_key: str, destination: D) -> None:
        words = normal_form(binding_key.split(".") if binding_key else ())
        literals = _literal_positions(words)
        if len(literals) == len(words):
            self._exact[binding_key] = (*self._exact.get(binding_key, ()), destination)
        elif len(literals) >= 2:
            self._add_paired(words, literals, destination)
        else:
            trie_add(*self._place(words), destination)
            self._trie_bindings += 1
        self._cache.clear()

    def _add_paired(self, words: list[str], literals: list[int], destination: D) -> None:
        first, second, before, between, rest = _split_at_pair(words, literals)
        # one string object per distinct word, not one per binding
        seconds = self._pairs.setdefault(sys.intern(first), {})
        pair = seconds.get(second)
        if pair is None:
            seconds[sys.intern(second)] = pair = _Pair()
        trie_add(pair.add_rests(before, between), rest, destination)

    def remove(self, binding_key: str, destination: D) -> None:
        """Take away one binding of ``destination`` with ``binding_key``, added before.

        Keys are kept in normal form, so ``#.#`` takes away a binding added as
        ``#``: the exchange calls this only for a binding it has.
        """
        words = normal_form(binding_key.split(".") if binding_key else ())
        literals = _literal_positions(words)
        if len(literals) == len(words):
            removed = self._remove_exact(binding_key, destination)
        elif len(literals) >= 2:
            removed = self._remove_paired(words, literals, destination)
        else:
            removed = trie_remove(*self._place(words), destination)
            self._trie_bindings -= removed
        if removed:
            self._cache.clear()

    def _remove_exact(self, binding_key: str, destination: D) -> bool:
        remaining = without(self._exact.get(binding_key, ()), destination)
        if remaining is None:
            return False
        if remaining:
            self._exact[binding_key] = remaining
        else:
            del self._exact[binding_key]
        return True

    def _remove_paired(self, words: list[str], literals: list[int], destination: D) -> bool:
        first, second, before, between, rest = _split_at_pair(words, literals)
        seconds = self._pairs.get(first, {})
        pair = seconds.get(second)
        rests = pair.rests(before, between) if pair is not None else None
        if rests is None or not trie_remove(rests, rest, destination):
            return False
        assert pair is not None
        # drop emptied levels so the index does not grow with churn
        if rests.is_empty():
            pair.drop_rests(before, between)
            if pair.is_empty():
                del seconds[second]
                if not seconds:
                    del self._pairs[first]
        return True

    def _place(self, words: list[str]) -> tuple[Node[D], list[str]]:
        if words and words[0] in _WILDCARDS and words[-1] not in _WILDCARDS:
            return self._backward, normal_form(reversed(words))
        return self._forward, words

    def match(self, routing_key: str) -> tuple[D, ...]:
        cached = self._cache.get(routing_key)
        if cached is not None:
            return cached
        result = self._match(routing_key)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[routing_key] = result
        return result

    def _match(self, routing_key: str) -> tuple[D, ...]:
        found: dict[D, None] = dict.fromkeys(self._exact.get(routing_key, ()))
        if not (self._pairs or self._trie_bindings):
            return tuple(found)
        words = routing_key.split(".") if routing_key else []
        if self._pairs:
            if len(words) <= _SHORT:
                self._match_pairs(words, found)
            else:
                self._match_pairs_by_position(words, found)
        if self._trie_bindings:
            run(self._forward, words, found)
            if words:
                # a backward key's last word is a literal: one lookup decides whether to go on
                first = self._backward.children.get(words[-1])
                if first is not None:
                    run(first, words[-2::-1], found)
        return tuple(found)

    def _match_pairs(self, words: list[str], found: dict[D, None]) -> None:
        """Check the keys filed under each ordered pair of the routing key's words.

        A key whose first two literal words are ``a`` then ``b`` can only match
        a routing key that has ``a`` somewhere and ``b`` after it: k words
        take k lookups of a first word and at most k(k-1)/2 of a second. The
        tries of rests that fit are then run in one pass, each from the word
        after its pair. For short keys only: with a repeated word a trie may
        enter twice at one place, which the few pairs of positions of a short
        key keep cheap.
        """
        pairs = self._pairs
        entering: dict[int, list[Node[D]]] = {}
        i = -1
        for first in words:
            i += 1
            seconds = pairs.get(first)
            if seconds is None:
                continue
            j = i
            for second in words[i + 1 :]:
                j += 1
                pair = seconds.get(second)
                if pair is None:
                    continue
                gap = j - i - 1
                rests = pair.exact.get((i, gap))
                if rests is not None:
                    entering.setdefault(j + 1, []).append(rests)
                for ((before, or_more), (between, or_more_between)), rests in pair.loose.items():
                    if (i == before or or_more and i > before) and (
                        gap == between or or_more_between and gap > between
                    ):
                        entering.setdefault(j + 1, []).append(rests)
        if entering:
            run_entering(entering, words, found)

    def _match_pairs_by_position(self, words: list[str], found: dict[D, None]) -> None:
        """``_match_pairs`` for long routing keys: each trie enters once at each place.

        A long key can hold one pair of words at many pairs of positions
        (``a`` x 127 holds ``(a, a)`` 8 001 times), and taking them one by one
        would enter the same tries at the same places again and again. Here
        each word's positions are gathered first, each pair of distinct words
        is looked up once, and each shape finds the positions of the second
        word it accepts, once each.
        """
        entering: dict[int, list[Node[D]]] = {}
        at: dict[str, list[int]] = {}
        for position, word in enumerate(words):
            at.setdefault(word, []).append(position)
        for first, firsts in at.items():
            seconds = self._pairs.get(first)
            if seconds is None:
                continue
            for second, ends in at.items():
                pair = seconds.get(second)
                if pair is None or ends[-1] <= firsts[0]:
                    continue
                for (before, between), rests in pair.exact.items():
                    end = before + between + 1
                    if end < len(words) and words[before] == first and words[end] == second:
                        entering.setdefault(end + 1, []).append(rests)
                for ((before, or_more), (between, or_more_between)), rests in pair.loose.items():
                    if not or_more:  # the first word is at ``before``, the gap open
                        if before >= len(words) or words[before] != first:
                            continue
                        starts = [end + 1 for end in ends if end > before + between]
                    elif not or_more_between:  # the gap is fixed: the first word is just before it
                        starts = [
                            end + 1
                            for end in ends
                            if end - 1 - between >= before and words[end - 1 - between] == first
                        ]
                    else:  # both open: the earliest first word at or after ``before`` will do
                        earliest = next((i for i in firsts if i >= before), None)
                        if earliest is None:
                            continue
                        starts = [end + 1 for end in ends if end > earliest + between]
                    for begin in starts:
                        entering.setdefault(begin, []).append(rests)
        if entering:
            run_entering(entering, words, found)

    def __len__(self) -> int:
        def count(node: Node[D] | None) -> int:
            if node is None:
                return 0
            return (
                len(node.destinations)
                + sum(count(c) for c in node.children.values())
                + count(node.star)
                + count(node.hash)
            )

        exact = sum(len(destinations) for destinations in self._exact.values())
        paired = sum(
            count(rests)
            for seconds in self._pairs.values()
            for pair in seconds.values()
            for rests in pair.tries()
        )
        return exact + paired + count(self._forward) + count(self._backward)
