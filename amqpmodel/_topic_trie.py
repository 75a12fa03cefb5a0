"""The topic bindings' trie: nodes, the normal form of a key, and the automaton that runs them.

Used by ``_topic.TopicIndex`` for binding keys with at most one literal word
and for the rests of keys filed under a pair of literal words. Matching runs
the trie as an automaton over the routing key's words; its cost is the
number of nodes a key keeps live, which two choices keep small:

- Binding keys are stored in a normal form: in every run of wildcards the
  ``*`` come first and two or more ``#`` become one (``a.#.*.#`` matches
  exactly what ``a.*.#`` matches). A ``#`` node then never has a ``*`` or
  ``#`` child and, once live, only its literal children need looking at.
- A node's literal children, its ``*`` child and its ``#`` child are kept
  apart, so a routing-key word that is literally ``*`` or ``#`` is just a
  word, and no node is reached twice in one step.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable, Iterable
from typing import Any, Generic, TypeVar

__all__ = ["Node", "normal_form", "run", "run_entering", "trie_add", "trie_remove", "without"]

D = TypeVar("D", bound=Hashable)

# Shared by every node without literal children (most nodes), so a large trie
# holds a dict only where one is needed: less memory, and fewer cache lines
# touched per routing key. Never mutated: a node swaps in a dict of its own
# before it adds a child.
_NONE: dict[Any, Any] = {}


class Node(Generic[D]):
    __slots__ = ("children", "destinations", "hash", "star")

    def __init__(self) -> None:
        # literal words only: the wildcards have their own slots
        self.children: dict[str, Node[D]] = _NONE
        self.star: Node[D] | None = None
        self.hash: Node[D] | None = None
        # one entry per binding ending here (a destination bound with two
        # argument tables is here twice); a tuple is a third of a dict's size
        self.destinations: tuple[D, ...] = ()

    def is_empty(self) -> bool:
        return not (self.children or self.destinations) and self.star is None and self.hash is None

    def child(self, word: str) -> Node[D] | None:
        if word == "*":
            return self.star
        if word == "#":
            return self.hash
        return self.children.get(word)

    def add_child(self, word: str) -> Node[D]:
        child = self.child(word)
        if child is None:
            child = Node()
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
        remaining = without(self.destinations, destination)
        if remaining is None:
            return False
        self.destinations = remaining
        return True


def without(destinations: tuple[D, ...], destination: D) -> tuple[D, ...] | None:
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


def run(start: Node[D], words: Iterable[str], found: dict[D, None]) -> None:
    """Run the trie as an automaton from ``start`` over ``words``; add the destinations reached."""
    hashes: list[Node[D]] = []
    _settle(_advance([start], words, hashes, []), hashes, found)


def run_entering(
    entering: dict[int, list[Node[D]]], words: list[str], found: dict[D, None]
) -> None:
    """Run several tries over ``words`` in one pass, each root live from its position on.

    ``entering`` maps a position (the number of words: the end) to the roots
    that become live before the word there. One pass costs O(words x live
    nodes), where a run per root and position would cost that many times over.
    """
    hashes: list[Node[D]] = []
    onward: list[dict[str, Node[D]]] = []
    active: list[Node[D]] = []
    positions = sorted(entering)
    for begin, stop in zip(positions, [*positions[1:], len(words)], strict=True):
        active.extend(entering[begin])
        active = _advance(active, words[begin:stop], hashes, onward)
    _settle(active, hashes, found)


def _advance(
    active: list[Node[D]],
    words: Iterable[str],
    hashes: list[Node[D]],
    onward: list[dict[str, Node[D]]],
) -> list[Node[D]]:
    """Take ``words`` from the live nodes ``active``; the nodes live after them.

    ``active`` holds the nodes the words so far lead to. A ``#`` node joins
    ``hashes`` as soon as its parent is live (``#`` matches zero words) and
    stays live to the end, absorbing every later word; in normal form its
    only way on is a literal child, so ``onward`` keeps the literal children
    of those that have any, read for every word. Each live node is visited
    once per word: O(words x live nodes), without recursion.
    """
    for word in words:
        following: list[Node[D]] = []
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


def _settle(active: list[Node[D]], hashes: list[Node[D]], found: dict[D, None]) -> None:
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


def trie_add(root: Node[D], words: Iterable[str], destination: D) -> None:
    node = root
    for word in words:
        node = node.add_child(word)
    node.add_destination(destination)


def trie_remove(root: Node[D], words: list[str], destination: D) -> bool:
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
