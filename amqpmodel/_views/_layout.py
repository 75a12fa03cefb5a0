"""A layered (Sugiyama-style) layout, left to right, in pure Python: boxes that never overlap, edge labels as boxes of their own.

Why this shape: every text of the picture is inside a box (a node, or an
edge's label), and boxes never overlap, so no text can cover another. The
steps, each the textbook one kept small:

1. Cycles (a dead-letter retry loop) are broken by a depth-first search that
   follows an edge marked ``late`` (dead letters) only after the others, so
   the edge turned back is a dead-letter one; it is drawn back to its target.
2. Ranks by longest path, every edge at least two ranks long: the rank
   between two nodes holds the edge's label (as graphviz does).
3. Long edges pass through one point per rank in between, so they run
   between boxes, never across them.
4. The order within each rank: barycentre sweeps, keeping the order with
   the fewest crossings.
5. Heights: each box is pulled towards its neighbours, and the order and
   the gaps are kept by an isotonic regression (pool adjacent violators), so
   the boxes of a rank never overlap.

Cost: O((nodes + edges) log) per sweep, a few sweeps; 50 exchanges and 200
queues lay out in well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

__all__ = ["Box", "LayoutEdge", "Placed", "Route", "layout"]

RANK_GAP = 36.0  # pixels between the columns of two ranks
NODE_GAP = 10.0  # pixels between two boxes of a rank
POINT_GAP = 6.0  # pixels between two edges passing through a rank
SWEEPS = 8


@attrs.frozen(slots=True)
class Box:
    """A node to place: ``min_rank`` keeps queues right of exchanges (even ranks)."""

    id: str
    width: float
    height: float
    min_rank: int = 0


@attrs.frozen(slots=True)
class LayoutEdge:
    """An edge; ``label`` is the size of its label box, None for none. ``late``: turn
    this edge back rather than another when they close a cycle."""

    source: str
    target: str
    label: tuple[float, float] | None = None
    late: bool = False


@attrs.frozen(slots=True)
class Placed:
    x: float
    y: float
    width: float
    height: float


@attrs.frozen(slots=True)
class Route:
    """An edge's way from its source to its target: ``points`` (each pair of
    consecutive points is a horizontal stretch inside a rank or a crossing
    between two ranks), and where its label box goes."""

    points: tuple[tuple[float, float], ...]
    label: Placed | None
    reversed: bool


@attrs.frozen(slots=True)
class Layout:
    width: float
    height: float
    nodes: dict[str, Placed]
    routes: tuple[Route, ...]  # in the order of the edges given


@attrs.define(slots=True, eq=False)
class _Item:
    """A box or a point of an edge in one rank."""

    rank: int
    width: float
    height: float
    node: str | None = None  # the box's id; None for an edge's point or label
    up: list[_Item] = attrs.field(factory=list)  # neighbours in the rank before
    down: list[_Item] = attrs.field(factory=list)  # neighbours in the rank after
    position: float = 0.0  # order within the rank
    center: float = 0.0  # vertical centre
    x: float = 0.0


def _break_cycles(ids: Sequence[str], edges: Sequence[LayoutEdge]) -> list[bool]:
    """Which edges to turn back so that the rest has no cycle.

    The edges that are not ``late`` are made acyclic by a depth-first search
    (an edge to a node on the stack is turned back). Then each late edge is
    kept as it is unless its target already reaches its source, in which
    case it is the one turned back: in a retry loop, the dead letters going
    back to the work exchange, not the work exchange's binding."""
    out: dict[str, list[tuple[int, str]]] = {i: [] for i in ids}
    indegree = dict.fromkeys(ids, 0)
    late = []
    for index, edge in enumerate(edges):
        if edge.late:
            late.append(index)
        else:
            out[edge.source].append((index, edge.target))
            indegree[edge.target] += 1
    reversed_ = [False] * len(edges)
    state = dict.fromkeys(ids, 0)  # 0 new, 1 on the stack, 2 done
    roots = [i for i in ids if indegree[i] == 0] + list(ids)
    for root in roots:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            node, children = stack[-1]
            for index, target in children:
                if state[target] == 1:
                    reversed_[index] = True
                elif state[target] == 0:
                    state[target] = 1
                    stack.append((target, iter(out[target])))
                    break
            else:
                state[node] = 2
                stack.pop()
    forward: dict[str, list[str]] = {i: [] for i in ids}
    for index, edge in enumerate(edges):
        if not edge.late:
            a, b = (edge.target, edge.source) if reversed_[index] else (edge.source, edge.target)
            forward[a].append(b)
    for index in late:
        edge = edges[index]
        if _reaches(forward, edge.target, edge.source):
            reversed_[index] = True
            forward[edge.target].append(edge.source)
        else:
            forward[edge.source].append(edge.target)
    return reversed_


def _reaches(out: dict[str, list[str]], start: str, goal: str) -> bool:
    seen = {start}
    work = [start]
    while work:
        node = work.pop()
        if node == goal:
            return True
        for target in out[node]:
            if target not in seen:
                seen.add(target)
                work.append(target)
    return False


def _ranks(boxes: Sequence[Box], arcs: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path ranks on the acyclic ``arcs``, each arc two ranks or more long."""
    rank = {box.id: box.min_rank for box in boxes}
    out: dict[str, list[str]] = {box.id: [] for box in boxes}
    indegree = dict.fromkeys(rank, 0)
    for source, target in arcs:
        out[source].append(target)
        indegree[target] += 1
    ready = [box.id for box in boxes if indegree[box.id] == 0]
    while ready:
        node = ready.pop()
        for target in out[node]:
            rank[target] = max(rank[target], rank[node] + 2)
            indegree[target] -= 1
            if indegree[target] == 0:
                ready.append(target)
    return rank


def _crossings(upper: list[_Item], lower_count: int) -> int:
    """Crossings between a rank and the next: inversions of the arcs' lower ends."""
    ends = [int(child.position) for item in upper for child in sorted(item.down, key=_pos)]
    tree = [0] * (lower_count + 1)
    count = 0
    for seen, end in enumerate(ends):
        i = end + 1
        below = 0
        while i > 0:
            below += tree[i]
            i -= i & -i
        count += seen - below  # earlier arcs that end lower than this one
        i = end + 1
        while i <= lower_count:
            tree[i] += 1
            i += i & -i
    return count


def _pos(item: _Item) -> float:
    return item.position


def _order(layers: list[list[_Item]]) -> None:
    """Barycentre sweeps down and up; keeps the order with the fewest crossings."""

    def number(layer: list[_Item]) -> None:
        for i, item in enumerate(layer):
            item.position = i

    for layer in layers:
        number(layer)

    def total() -> int:
        return sum(_crossings(layers[r], len(layers[r + 1])) for r in range(len(layers) - 1))

    best = total()
    best_order = [list(layer) for layer in layers]
    for sweep in range(SWEEPS):
        downwards = sweep % 2 == 0
        ranks = range(1, len(layers)) if downwards else range(len(layers) - 2, -1, -1)
        for r in ranks:
            layer = layers[r]
            keys = {}
            for item in layer:
                neighbours = item.up if downwards else item.down
                if neighbours:
                    keys[id(item)] = sum(n.position for n in neighbours) / len(neighbours)
                else:
                    keys[id(item)] = item.position
            layer.sort(key=lambda item: (keys[id(item)], item.position))
            number(layer)
        crossings = total()
        if crossings < best:
            best, best_order = crossings, [list(layer) for layer in layers]
        if best == 0:
            break
    for r, layer in enumerate(best_order):
        layers[r][:] = layer
        number(layers[r])


def _place(layer: list[_Item], wanted: list[float]) -> None:
    """Centres as near ``wanted`` as the order and gaps allow (least squares):
    with offsets taking up the gaps, this is isotonic regression."""
    if not layer:
        return
    offsets = [0.0]
    for a, b in zip(layer, layer[1:], strict=False):
        gap = (
            POINT_GAP
            if a.node is None and b.node is None and not a.width and not b.width
            else NODE_GAP
        )
        offsets.append(offsets[-1] + (a.height + b.height) / 2 + gap)
    values = [w - o for w, o in zip(wanted, offsets, strict=True)]
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value in values:
        blocks.append([value, 1.0, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, weight, count = blocks.pop()
            last = blocks[-1]
            total = last[1] + weight
            last[0] = (last[0] * last[1] + mean * weight) / total
            last[1] = total
            last[2] += count
    i = 0
    for mean, _, count in blocks:
        for _ in range(int(count)):
            layer[i].center = mean + offsets[i]
            i += 1


def _heights(layers: list[list[_Item]]) -> None:
    for layer in layers:
        _place(layer, [0.0] * len(layer))  # stacked from the top
    for sweep in range(SWEEPS):
        downwards = sweep % 2 == 0
        ranks = range(1, len(layers)) if downwards else range(len(layers) - 2, -1, -1)
        for r in ranks:
            layer = layers[r]
            wanted = []
            for item in layer:
                neighbours = item.up if downwards else item.down
                if neighbours:
                    wanted.append(sum(n.center for n in neighbours) / len(neighbours))
                else:
                    wanted.append(item.center)
            _place(layer, wanted)


def layout(boxes: Sequence[Box], edges: Sequence[LayoutEdge], margin: float = 0.0) -> Layout:
    """Place ``boxes`` and route ``edges`` (self-loops are the caller's to show)."""
    ids = [box.id for box in boxes]
    turned = _break_cycles(ids, edges)
    arcs = [
        (e.target, e.source) if back else (e.source, e.target)
        for e, back in zip(edges, turned, strict=True)
    ]
    rank = _ranks(boxes, arcs)
    top = max(rank.values(), default=0)
    layers: list[list[_Item]] = [[] for _ in range(top + 1)]
    items: dict[str, _Item] = {}
    for box in boxes:
        item = items[box.id] = _Item(rank[box.id], box.width, box.height, box.id)
        layers[item.rank].append(item)
    chains: list[list[_Item]] = []
    labels: list[_Item | None] = []
    for edge, back, (source, target) in zip(edges, turned, arcs, strict=True):
        first, last = items[source], items[target]
        chain = [first]
        label_rank = (last.rank - 1) if back else (first.rank + 1)
        label_item = None
        for r in range(first.rank + 1, last.rank):
            if r == label_rank and edge.label is not None:
                point = label_item = _Item(r, edge.label[0], edge.label[1])
            else:
                point = _Item(r, 0.0, 2.0)
            layers[r].append(point)
            chain.append(point)
        chain.append(last)
        for a, b in zip(chain, chain[1:], strict=False):
            a.down.append(b)
            b.up.append(a)
        chains.append(chain)
        labels.append(label_item)
    _order(layers)
    _heights(layers)

    # columns: each rank as wide as its widest box; boxes left-aligned, labels centred
    widths = [max((item.width for item in layer), default=0.0) for layer in layers]
    lefts = []
    x = margin
    for width in widths:
        lefts.append(x)
        x += width + RANK_GAP
    right = x - RANK_GAP + margin if layers else 2 * margin
    lowest = min((i.center - i.height / 2 for layer in layers for i in layer), default=0.0)
    shift = margin - lowest
    for layer in layers:
        for item in layer:
            item.center += shift
            if item.node is None:
                item.x = lefts[item.rank] + (widths[item.rank] - item.width) / 2
            else:
                item.x = lefts[item.rank]
    bottom = max((i.center + i.height / 2 for layer in layers for i in layer), default=0.0)

    ports = _ports(layers)
    routes = []
    for chain, label, back in zip(chains, labels, turned, strict=True):
        points: list[tuple[float, float]] = []
        for index, item in enumerate(chain):
            column_left = lefts[item.rank]
            column_right = column_left + widths[item.rank]
            if index == 0:
                y = ports[(0, id(item), id(chain[1]))]
                points += [(item.x + item.width, y), (column_right, y)]
            elif index == len(chain) - 1:
                y = ports[(1, id(chain[-2]), id(item))]
                points += [(column_left, y), (item.x, y)]
            else:
                points += [(column_left, item.center), (column_right, item.center)]
        if back:
            points.reverse()
        placed = None
        if label is not None:
            placed = Placed(label.x, label.center - label.height / 2, label.width, label.height)
        routes.append(Route(tuple(points), placed, back))
    nodes = {
        box.id: Placed(
            items[box.id].x,
            items[box.id].center - box.height / 2,
            box.width,
            box.height,
        )
        for box in boxes
    }
    return Layout(right, bottom + margin, nodes, tuple(routes))


def _ports(layers: list[list[_Item]]) -> dict[tuple[int, int, int], float]:
    """Where each arc leaves its upper end and enters its lower end: spread over a
    box's side in the order of the other ends, so that arcs do not start on top
    of each other."""
    ports: dict[tuple[int, int, int], float] = {}  # (side, upper end, lower end)
    for layer in layers:
        for item in layer:
            for side, neighbours in ((0, item.down), (1, item.up)):
                ordered = sorted(neighbours, key=lambda n: n.center)
                count = len(ordered)
                for i, other in enumerate(ordered):
                    if item.node is None or count == 1:
                        y = item.center
                    else:
                        span = item.height * 0.6
                        y = item.center - span / 2 + span * i / (count - 1)
                    if side == 0:
                        ports[(0, id(item), id(other))] = y
                    else:
                        ports[(1, id(other), id(item))] = y
    return ports
