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


def _close(live: dict[_Node[D], None]) -> list[_Node[D]]:
    """The live nodes plus the ``#`` children they reach through ``#`` (zero-word matches)."""
    active = list(live)
    for node in active:  # grows while iterating: chains of "#"
        hash_child = node.hash
        if hash_child is not None and hash_child not in live:
            live[hash_child] = None
            active.append(hash_child)
    return active


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
        """Run the trie as an automaton: the set of live nodes after each word.

        A ``#`` node stays live on every word (it absorbs it) and is live as
        soon as its parent is (it matches zero words), so each node is visited
        at most once per word: O(words x live nodes), without recursion.
        """
        live: dict[_Node[D], None] = {self._root: None}
        active = _close(live)
        for word in words:
            live = {}
            for node in active:
                if node.is_hash:
                    live[node] = None
                child = node.children.get(word)
                if child is not None:
                    live[child] = None
                star = node.star
                if star is not None:
                    live[star] = None
            if not live:
                return ()
            active = _close(live)
        found: dict[D, None] = {}
        for node in active:
            if node.destinations:
                found.update(dict.fromkeys(node.destinations))
        return tuple(found)

    def __len__(self) -> int:
        def count(node: _Node[D]) -> int:
            return sum(node.destinations.values()) + sum(count(c) for c in node.children.values())

        return count(self._root)
