"""The topic-exchange binding trie: add and remove binding keys, match routing keys (spec 1.13-1.15).

Matching runs the trie as an automaton over the routing key's words, so its
cost depends on the key and on how many binding prefixes it matches along the
way (wildcards keep several nodes live), not on the number of bindings as
such. Results are cached per routing key until the bindings change.

Complexity: add/remove O(words); match O(words x live nodes) on a cache miss,
O(1) on a hit.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["TopicTrie"]

D = TypeVar("D", bound=Hashable)

_CACHE_LIMIT = 4096


class _Node(Generic[D]):
    # ``star`` and ``hash`` are also in ``children``; kept as attributes because
    # matching reads them for every live node and word
    __slots__ = ("children", "destinations", "hash", "is_hash", "star")

    def __init__(self, is_hash: bool = False) -> None:
        self.is_hash = is_hash
        self.children: dict[str, _Node[D]] = {}
        self.star: _Node[D] | None = None
        self.hash: _Node[D] | None = None
        # destination -> number of bindings (different arguments) ending here
        self.destinations: dict[D, int] = {}

    def set_child(self, word: str, child: _Node[D] | None) -> None:
        if child is None:
            del self.children[word]
        else:
            self.children[word] = child
        if word == "*":
            self.star = child
        elif word == "#":
            self.hash = child


def _reach_hashes(active: list[_Node[D]], hashes: list[_Node[D]], in_hashes: set[_Node[D]]) -> None:
    """Add to ``hashes`` every ``#`` node that ``active`` reaches with zero words."""
    for node in active:
        if node.is_hash and node not in in_hashes:
            in_hashes.add(node)
            hashes.append(node)
        hash_child = node.hash
        while hash_child is not None and hash_child not in in_hashes:
            in_hashes.add(hash_child)
            hashes.append(hash_child)
            hash_child = hash_child.hash


class TopicTrie(Generic[D]):
    """Binding keys in a trie; ``match(routing_key)`` gives destinations in binding order."""

    __slots__ = ("_cache", "_root")

    def __init__(self) -> None:
        self._root: _Node[D] = _Node()
        self._cache: dict[str, tuple[D, ...]] = {}

    def add(self, binding_key: str, destination: D) -> None:
        node = self._root
        for word in binding_key.split(".") if binding_key else ():
            child = node.children.get(word)
            if child is None:
                child = _Node(word == "#")
                node.set_child(word, child)
            node = child
        node.destinations[destination] = node.destinations.get(destination, 0) + 1
        self._cache.clear()

    def remove(self, binding_key: str, destination: D) -> None:
        words = binding_key.split(".") if binding_key else []
        path = [self._root]
        for word in words:
            child = path[-1].children.get(word)
            if child is None:
                return
            path.append(child)
        leaf = path[-1]
        count = leaf.destinations.get(destination)
        if count is None:
            return
        if count > 1:
            leaf.destinations[destination] = count - 1
        else:
            del leaf.destinations[destination]
        # prune empty branches so the trie does not grow with churn
        for depth in range(len(words), 0, -1):
            node = path[depth]
            if node.children or node.destinations:
                break
            path[depth - 1].set_child(words[depth - 1], None)
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
        """Run the trie as an automaton over the words.

        ``active`` holds the nodes reached by the words so far; a ``#`` node,
        once reached (its parent reached: ``#`` matches zero words), absorbs
        every later word, so it joins ``hashes`` and stays live to the end.
        Each live node is visited once per word: O(words x live nodes),
        without recursion.
        """
        hashes: list[_Node[D]] = []
        in_hashes: set[_Node[D]] = set()
        active = [self._root]
        _reach_hashes(active, hashes, in_hashes)
        for word in words:
            following: dict[_Node[D], None] = {}
            for nodes in (active, hashes):
                for node in nodes:
                    child = node.children.get(word)
                    if child is not None:
                        following[child] = None
                    star = node.star
                    if star is not None:
                        following[star] = None
            if not following and not hashes:
                return ()
            active = list(following)
            _reach_hashes(active, hashes, in_hashes)
        found: dict[D, None] = {}
        for nodes in (active, hashes):
            for node in nodes:
                if node.destinations:
                    found.update(dict.fromkeys(node.destinations))
        return tuple(found)

    def __len__(self) -> int:
        def count(node: _Node[D]) -> int:
            return sum(node.destinations.values()) + sum(count(c) for c in node.children.values())

        return count(self._root)
