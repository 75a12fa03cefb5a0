"""The topic-exchange binding trie: add and remove binding keys, match routing keys (spec 1.13-1.15).

Matching runs a trie as an automaton over the routing key's words, so its
cost depends on the key and on how many binding prefixes it matches along the
way (wildcards keep several nodes live), not on the number of bindings as
such. Results are cached per routing key until the bindings change.

Three choices keep the live set small:

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

Complexity: add/remove O(words); match O(words x live nodes) on a cache miss,
O(1) on a hit.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Iterable
from typing import Any, Generic, TypeVar

__all__ = ["TopicTrie"]

D = TypeVar("D", bound=Hashable)

_CACHE_LIMIT = 4096
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
        destinations = self.destinations
        if destination not in destinations:
            return False
        at = destinations.index(destination)
        self.destinations = destinations[:at] + destinations[at + 1 :]
        return True


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
    active = [start]
    hashes: list[_Node[D]] = []
    # the literal children of the live ``#`` nodes that have any: read for every word
    onward: list[dict[str, _Node[D]]] = []
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
        if not following and not onward:
            # nothing can go on: only the ``#`` nodes already reached match
            active = following
            break
        active = following
    for node in active:
        if node.destinations:
            found.update(dict.fromkeys(node.destinations))
        hash_node = node.hash  # "#" matching zero words at the end
        if hash_node is not None and hash_node.destinations and hash_node not in hashes:
            found.update(dict.fromkeys(hash_node.destinations))
    for node in hashes:
        if node.destinations:
            found.update(dict.fromkeys(node.destinations))


class TopicTrie(Generic[D]):
    """Binding keys in two tries; ``match(routing_key)`` gives each matching destination once."""

    __slots__ = ("_backward", "_cache", "_forward")

    def __init__(self) -> None:
        self._forward: _Node[D] = _Node()
        # keys that start with a wildcard and end with a literal, reversed:
        # this root only ever has literal children
        self._backward: _Node[D] = _Node()
        self._cache: dict[str, tuple[D, ...]] = {}

    def _place(self, binding_key: str) -> tuple[_Node[D], list[str]]:
        words = normal_form(binding_key.split(".") if binding_key else ())
        if words and words[0] in _WILDCARDS and words[-1] not in _WILDCARDS:
            return self._backward, normal_form(reversed(words))
        return self._forward, words

    def add(self, binding_key: str, destination: D) -> None:
        node, words = self._place(binding_key)
        for word in words:
            node = node.add_child(word)
        node.add_destination(destination)
        self._cache.clear()

    def remove(self, binding_key: str, destination: D) -> None:
        root, words = self._place(binding_key)
        path = [root]
        for word in words:
            child = path[-1].child(word)
            if child is None:
                return
            path.append(child)
        if not path[-1].remove_destination(destination):
            return
        # prune empty branches so the trie does not grow with churn
        for depth in range(len(words), 0, -1):
            if not path[depth].is_empty():
                break
            path[depth - 1].drop_child(words[depth - 1])
        self._cache.clear()

    def match(self, routing_key: str) -> tuple[D, ...]:
        cached = self._cache.get(routing_key)
        if cached is not None:
            return cached
        result = self._match(routing_key.split(".") if routing_key else [])
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[routing_key] = result
        return result

    def _match(self, words: list[str]) -> tuple[D, ...]:
        found: dict[D, None] = {}
        _run(self._forward, words, found)
        if words:
            # a backward key's last word is a literal: one lookup decides whether to go on
            first = self._backward.children.get(words[-1])
            if first is not None:
                _run(first, words[-2::-1], found)
        return tuple(found)

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

        return count(self._forward) + count(self._backward)
