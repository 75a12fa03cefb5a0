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

Three choices keep the tries' live sets small:

- Binding keys are stored in a normal form: in every run of wildcards the
  ``*`` come first and two or more ``#`` become one (``a.#.*.#`` matches
  exactly what ``a.*.#`` matches). A ``#`` node then never has a ``*`` or
  ``#`` child and, once live, only its literal children need looking at.
- A node's literal children, its ``*`` child and its ``#`` child are kept
  apart, so a routing-key word that is literally ``*`` or ``#`` is just a
  word, and no node is reached twice in one step.
- A binding key that starts with a wildcard and ends with a literal word
  (``#.error``, ``*.*.rabbit``) is stored reversed in a second trie and
  matched against the routing key's words from the last. Read forwards such
  a key keeps the root's ``*`` or ``#`` node live for every routing key;
  read backwards its first step is one lookup of the routing key's last word.
  A key reversed matches exactly the reversed routing keys.

Results are cached per routing key until the bindings change.

Complexity, for a routing key of k words: add/remove O(words); match O(1)
on a cache hit, else one lookup for the keys without wildcards; O(k^2)
lookups for the keys with two literal words (O(distinct words^2) for keys
of over 8 words), then one pass of O(k x live nodes) over the tries of
rests that fit; O(k x live nodes) for the trie.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Iterable
from typing import Any, Generic, TypeVar

__all__ = ["TopicIndex"]

D = TypeVar("D", bound=Hashable)

_CACHE_LIMIT = 4096
# Routing keys of up to this many words take each pair of positions in turn
# (at most 28 pairs); longer ones gather each word's positions first.
_SHORT = 8
_WILDCARDS = ("*", "#")


# Shared by every node without literal children (most nodes), so a large trie
# holds a dict only where one is needed: less memory, and fewer cache lines
# touched per routing key. Never mutated: a node swaps in a dict of its own
# before it adds a child.
_NONE: dict[Any, Any] = {}


class _Node(Generic[D]):
    __slots__ = ("children", "destinations", "hash", "star")

    def __init__(self) -> None:
        # literal words only: the wildcards have their own slots
        self.children: dict[str, _Node[D]] = _NONE
        self.star: _Node[D] | None = None
        self.hash: _Node[D] | None = None
        # one entry per binding ending here (a destination bound with two
        # argument tables is here twice); a tuple is a third of a dict's size
        self.destinations: tuple[D, ...] = ()

    def is_empty(self) -> bool:
        return not (self.children or self.destinations) and self.star is None and self.hash is None

    def child(self, word: str) -> _Node[D] | None:
        if word == "*":
            return self.star
        if word == "#":
            return self.hash
        return self.children.get(word)

    def add_child(self, word: str) -> _Node[D]:
        child = self.child(word)
        if child is None:
            child = _Node()
            if word == "*":
                self.star = child
            elif word == "#":
                self.hash = child
            else:
                if self.children is _NONE:
                    self.children = {}
                # one string object per distinct word, not one per binding
                self.children[sys.intern(word)] = child
        return child

    def drop_child(self, word: str) -> None:
        if word == "*":
            self.star = None
        elif word == "#":
            self.hash = None
        else:
            del self.children[word]
            if not self.children:
                self.children = _NONE

    def add_destination(self, destination: D) -> None:
        self.destinations = (*self.destinations, destination)

    def remove_destination(self, destination: D) -> bool:
        """Take one binding of ``destination`` away; False when there was none."""
        remaining = _without(self.destinations, destination)
        if remaining is None:
            return False
        self.destinations = remaining
        return True


def _without(destinations: tuple[D, ...], destination: D) -> tuple[D, ...] | None:
    """``destinations`` with one ``destination`` taken out; None when it is not there."""
    if destination not in destinations:
        return None
    at = destinations.index(destination)
    return destinations[:at] + destinations[at + 1 :]


def normal_form(words: Iterable[str]) -> list[str]:
    """The words with each run of wildcards as its ``*`` then at most one ``#``.

    A run of k ``*`` and at least one ``#`` matches k or more words in any
    order, so the rewrite matches exactly the same routing keys.
    """
    normal: list[str] = []
    stars = 0
    hashed = False
    for word in words:
        if word == "*":
            stars += 1
        elif word == "#":
            hashed = True
        else:
            if stars or hashed:
                normal.extend(["*"] * stars)
                if hashed:
                    normal.append("#")
                stars, hashed = 0, False
            normal.append(word)
    normal.extend(["*"] * stars)
    if hashed:
        normal.append("#")
    return normal


def _run(start: _Node[D], words: Iterable[str], found: dict[D, None]) -> None:
    """Run the trie as an automaton from ``start`` over ``words``; add the destinations reached.

    ``active`` holds the nodes the words so far lead to. A ``#`` node joins
    ``hashes`` as soon as its parent is live (``#`` matches zero words) and
    stays live to the end, absorbing every later word; in normal form its
    only way on is a literal child. Each live node is visited once per word:
    O(words x live nodes), without recursion.
    """
    hashes: list[_Node[D]] = []
    _settle(_advance([start], words, hashes, []), hashes, found)


def _run_entering(
    entering: dict[int, list[_Node[D]]], words: list[str], found: dict[D, None]
) -> None:
    """Run several tries over ``words`` in one pass, each root live from its position on.

    ``entering`` maps a position (the number of words: the end) to the roots
    that become live before the word there. One pass costs O(words x live
    nodes), where a run per root and position would cost that many times over.
    """
    hashes: list[_Node[D]] = []
    onward: list[dict[str, _Node[D]]] = []
    active: list[_Node[D]] = []
    positions = sorted(entering)
    for begin, stop in zip(positions, [*positions[1:], len(words)], strict=True):
        active.extend(entering[begin])
        active = _advance(active, words[begin:stop], hashes, onward)
    _settle(active, hashes, found)


def _advance(
    active: list[_Node[D]],
    words: Iterable[str],
    hashes: list[_Node[D]],
    onward: list[dict[str, _Node[D]]],
) -> list[_Node[D]]:
    """Take ``words`` from the live nodes ``active``; the nodes live after them.

    ``hashes`` and ``onward`` (the literal children of the live ``#`` nodes
    that have any, read for every word) grow as ``#`` nodes become live.
    """
    for word in words:
        following: list[_Node[D]] = []
        for node in active:
            child = node.children.get(word)
            if child is not None:
                following.append(child)
            star = node.star
            if star is not None:
                following.append(star)
            hash_node = node.hash
            if hash_node is not None and hash_node not in hashes:
                # live from this word on (its parent is): it takes this word too
                hashes.append(hash_node)
                if hash_node.children:
                    onward.append(hash_node.children)
        for children in onward:
            child = children.get(word)
            if child is not None:
                following.append(child)
        active = following
        if not following and not onward:
            # nothing can go on: only the ``#`` nodes already reached match
            break
    return active


def _settle(active: list[_Node[D]], hashes: list[_Node[D]], found: dict[D, None]) -> None:
    """Add the destinations of the nodes live at the end of the routing key."""
    for node in active:
        if node.destinations:
            found.update(dict.fromkeys(node.destinations))
        hash_node = node.hash  # "#" matching zero words at the end
        if hash_node is not None and hash_node.destinations and hash_node not in hashes:
            found.update(dict.fromkeys(hash_node.destinations))
    for node in hashes:
        if node.destinations:
            found.update(dict.fromkeys(node.destinations))


def _trie_add(root: _Node[D], words: Iterable[str], destination: D) -> None:
    node = root
    for word in words:
        node = node.add_child(word)
    node.add_destination(destination)


def _trie_remove(root: _Node[D], words: list[str], destination: D) -> bool:
    """Take one binding of ``destination`` at ``words`` away; False when there was none."""
    path = [root]
    for word in words:
        child = path[-1].child(word)
        if child is None:
            return False
        path.append(child)
    if not path[-1].remove_destination(destination):
        return False
    # prune empty branches so the trie does not grow with churn
    for depth in range(len(words), 0, -1):
        if not path[depth].is_empty():
            break
        path[depth - 1].drop_child(words[depth - 1])
    return True


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
        self.exact: dict[tuple[int, int], _Node[D]] = {}
        # (width before first, width between) -> trie of the rests
        self.loose: dict[tuple[_Width, _Width], _Node[D]] = {}

    def rests(self, before: _Width, between: _Width) -> _Node[D] | None:
        if before[1] or between[1]:
            return self.loose.get((before, between))
        return self.exact.get((before[0], between[0]))

    def add_rests(self, before: _Width, between: _Width) -> _Node[D]:
        rests = self.rests(before, between)
        if rests is None:
            rests = _Node()
            if before[1] or between[1]:
                self.loose[before, between] = rests
            else:
                self.exact[before[0], between[0]] = rests
        return rests

    def drop_rests(self, before: _Width, between: _Width) -> None:
        if before[1] or between[1]:
            del self.loose[before, between]
        else:
            del self.exact[before[0], between[0]]

    def is_empty(self) -> bool:
        return not (self.exact or self.loose)

    def tries(self) -> list[_Node[D]]:
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
        # keys with two or more literal words: first literal -> second literal -> bucket
        self._pairs: dict[str, dict[str, _Pair[D]]] = {}
        # keys with wildcards and at most one literal word, in two tries
        self._forward: _Node[D] = _Node()
        # those that start with a wildcard and end with a literal, reversed:
        # this root only ever has literal children
        self._backward: _Node[D] = _Node()
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
            _trie_add(*self._place(words), destination)
            self._trie_bindings += 1
        self._cache.clear()

    def _add_paired(self, words: list[str], literals: list[int], destination: D) -> None:
        first, second, before, between, rest = _split_at_pair(words, literals)
        # one string object per distinct word, not one per binding
        seconds = self._pairs.setdefault(sys.intern(first), {})
        pair = seconds.get(second)
        if pair is None:
            seconds[sys.intern(second)] = pair = _Pair()
        _trie_add(pair.add_rests(before, between), rest, destination)

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
            removed = _trie_remove(*self._place(words), destination)
            self._trie_bindings -= removed
        if removed:
            self._cache.clear()

    def _remove_exact(self, binding_key: str, destination: D) -> bool:
        remaining = _without(self._exact.get(binding_key, ()), destination)
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
        if rests is None or not _trie_remove(rests, rest, destination):
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

    def _place(self, words: list[str]) -> tuple[_Node[D], list[str]]:
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
            _run(self._forward, words, found)
            if words:
                # a backward key's last word is a literal: one lookup decides whether to go on
                first = self._backward.children.get(words[-1])
                if first is not None:
                    _run(first, words[-2::-1], found)
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
        entering: dict[int, list[_Node[D]]] = {}
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
            _run_entering(entering, words, found)

    def _match_pairs_by_position(self, words: list[str], found: dict[D, None]) -> None:
        """``_match_pairs`` for long routing keys: each trie enters once at each place.

        A long key can hold one pair of words at many pairs of positions
        (``a`` x 127 holds ``(a, a)`` 8 001 times), and taking them one by one
        would enter the same tries at the same places again and again. Here
        each word's positions are gathered first, each pair of distinct words
        is looked up once, and each shape finds the positions of the second
        word it accepts, once each.
        """
        entering: dict[int, list[_Node[D]]] = {}
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
            _run_entering(entering, words, found)

    def __len__(self) -> int:
        def count(node: _Node[D] | None) -> int:
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
