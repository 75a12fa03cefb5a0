"""The topic-exchange binding trie: add and remove binding keys, match routing keys (spec 1.13-1.15).

Matching runs the trie as an automaton over the routing key's words, so its
cost depends on the key and on how many binding prefixes it matches along the
way (wildcards keep several nodes live), not on the number of bindings as
such. Results are cached per routing key until the bindings change.

Complexity: add/remove O(words); match O(words x live nodes) on a cache miss,
O(1) on a hit.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["TopicTrie"]

D = TypeVar("D", bound=Hashable)

_CACHE_LIMIT = 4096


class _Node(Generic[D]):
    __slots__ = ("children", "destinations", "is_hash")

    def __init__(self, is_hash: bool = False) -> None:
        self.is_hash = is_hash
        self.children: dict[str, _Node[D]] = {}
        # destination -> number of bindings (different arguments) ending here
        self.destinations: dict[D, int] = {}


def _with_hash_children(nodes: Iterable[_Node[D]]) -> list[_Node[D]]:
    """``nodes`` plus every ``#`` child reachable through ``#`` children (zero-word matches)."""
    result = list(nodes)
    seen = set(result) if len(result) > 1 else None
    i = 0
    while i < len(result):
        hash_child = result[i].children.get("#")
        i += 1
        if hash_child is not None:
            if seen is None:
                seen = set(result)
            if hash_child not in seen:
                seen.add(hash_child)
                result.append(hash_child)
    return result


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
                child = node.children[word] = _Node(word == "#")
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
        result = self._match(routing_key.split(".") if routing_key else [])
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[routing_key] = result
        return result

    def _match(self, words: list[str]) -> tuple[D, ...]:
        """Run the trie as an automaton: the set of live nodes after each word.

        A ``#`` node stays live on every word (it absorbs it) and is live as
        soon as its parent is (it matches zero words), so each node is visited
        at most once per word: O(words x live nodes), without recursion.
        """
        active = _with_hash_children([self._root])
        for word in words:
            following: dict[_Node[D], None] = {}
            for node in active:
                if node.is_hash:
                    following[node] = None
                children = node.children
                if children:
                    child = children.get(word)
                    if child is not None:
                        following[child] = None
                    star = children.get("*")
                    if star is not None:
                        following[star] = None
            if not following:
                return ()
            active = _with_hash_children(following)
        found: dict[D, None] = {}
        for node in active:
            if node.destinations:
                found.update(dict.fromkeys(node.destinations))
        return tuple(found)

    def __len__(self) -> int:
        def count(node: _Node[D]) -> int:
            return sum(node.destinations.values()) + sum(count(c) for c in node.children.values())

        return count(self._root)
