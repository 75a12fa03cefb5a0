"""The topic-exchange binding trie: add and remove binding keys, match routing keys (spec 1.13-1.15).

Matching walks the trie word by word, so its cost depends on the routing key
and on the wildcards met on the way, not on the number of bindings. Results
are cached per routing key until the bindings change.

Complexity: add/remove O(words); match O(words x wildcard branches) on a
cache miss, O(1) on a hit.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["TopicTrie"]

D = TypeVar("D", bound=Hashable)

_CACHE_LIMIT = 4096


class _Node(Generic[D]):
    __slots__ = ("children", "destinations")

    def __init__(self) -> None:
        self.children: dict[str, _Node[D]] = {}
        # destination -> number of bindings (different arguments) ending here
        self.destinations: dict[D, int] = {}


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
                child = node.children[word] = _Node()
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
            del path[depth - 1].children[words[depth - 1]]
        self._cache.clear()

    def match(self, routing_key: str) -> tuple[D, ...]:
        cached = self._cache.get(routing_key)
        if cached is not None:
            return cached
        words = routing_key.split(".") if routing_key else []
        found: dict[D, None] = {}
        self._walk(self._root, words, 0, found, set())
        result = tuple(found)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[routing_key] = result
        return result

    def _walk(
        self,
        node: _Node[D],
        words: list[str],
        i: int,
        found: dict[D, None],
        seen: set[tuple[int, int]],
    ) -> None:
        # (node, position) pairs already explored: with several "#" the same
        # state is reachable by many paths, and each is explored once.
        state = (id(node), i)
        if state in seen:
            return
        seen.add(state)
        children = node.children
        hash_child = children.get("#")
        if i == len(words):
            for destination in node.destinations:
                found[destination] = None
            if hash_child is not None:
                self._walk(hash_child, words, i, found, seen)
            return
        literal = children.get(words[i])
        if literal is not None:
            self._walk(literal, words, i + 1, found, seen)
        star = children.get("*")
        if star is not None and star is not literal:
            self._walk(star, words, i + 1, found, seen)
        if hash_child is not None:
            # "#" matches zero or more words: try every remaining suffix
            for j in range(i, len(words) + 1):
                self._walk(hash_child, words, j, found, seen)

    def __len__(self) -> int:
        def count(node: _Node[D]) -> int:
            return sum(node.destinations.values()) + sum(count(c) for c in node.children.values())

        return count(self._root)
