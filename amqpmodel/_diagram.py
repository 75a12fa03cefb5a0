"""A picture of a virtual host's topology: exchanges, queues, consumers and what connects them.

``vhost.topology()`` (and ``broker.topology()``) returns a ``Topology``, a
snapshot. In Jupyter it renders as SVG, laid out left to right in layers
(exchanges, then the queues they route to, then consumers); bindings carry
their keys (several between the same two entities listed on one arrow),
alternate-exchange and dead-letter edges are drawn apart from bindings, long
names are shortened with the full name on hover, and a legend explains the
boxes, the edges and the counts (``_repr_html_`` holds the SVG inline, for
the hover texts). ``to_dot()`` gives the same graph in
Graphviz's language; ``repr()`` lists it as text. Pure Python: the layout
is ``_views/_layout.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._views._graph import ALTERNATE, BINDING, CONSUME, DEAD_LETTER, E2E, Edge, Graph, read_graph
from ._views._svg import draw_svg

if TYPE_CHECKING:
    from ._vhost import VirtualHost

__all__ = ["Topology"]

_DOT_SHAPES = {
    "exchange": "box",
    "queue": "cylinder",
    "consumer": "ellipse",
    "consumers": "ellipse",
}
_DOT_EDGE_STYLES = {
    BINDING: "",
    E2E: 'color="#4a6fa5"',
    ALTERNATE: 'style=dashed, color="#d98200"',
    DEAD_LETTER: 'style=dashed, color="#c0392b"',
    CONSUME: 'style=dotted, color="#b07a1c"',
}


def _label(binding_key: str, arguments: dict[str, object]) -> str:
    if arguments:
        return ", ".join(f"{k}={v}" for k, v in arguments.items())
    return binding_key or '""'


def _dot_quote(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, each line break as DOT's ``\\n``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


class Topology:
    """A snapshot of one virtual host's exchanges, queues, bindings and consumers.

    The predeclared ``amq.*`` exchanges are left out unless something uses
    them, and the default exchange's implicit bindings are never drawn (every
    queue has one), so the picture shows what the application built.

    ``exchanges``: (name, type); ``queues``: (name, ready, unacked, consumers);
    ``bindings``: (source, destination, destination type, key or arguments);
    ``edges``: every edge drawn, with its kind ("binding", "exchange-binding",
    "alternate", "dead-letter", "consume") and the keys it lists.
    """

    def __init__(self, vhost: VirtualHost) -> None:
        self.vhost_name = vhost.name
        self._graph: Graph = read_graph(vhost)
        nodes = self._graph.nodes
        self.exchanges: list[tuple[str, str]] = [
            (exchange.name, exchange.type)
            for exchange in vhost.exchanges.values()
            if "x:" + exchange.name in nodes
        ]
        self.queues: list[tuple[str, int, int, int]] = [
            (name, queue.messages_ready, queue.messages_unacknowledged, queue.consumer_count)
            for name, queue in vhost.queues.items()
        ]
        self.bindings: list[tuple[str, str, str, str]] = [
            (b.source, b.destination, b.destination_type, _label(b.routing_key, b.arguments))
            for b in vhost.bindings
            if b.source
        ]
        self._svg: str | None = None

    @property
    def edges(self) -> list[Edge]:
        return list(self._graph.edges)

    def __repr__(self) -> str:
        nodes = self._graph.nodes
        lines = [f"topology of vhost {self.vhost_name!r}:"]
        for source, destination, kind, label in self.bindings:
            lines.append(f"  {source} --[{label}]--> {kind} {destination}")
        for edge in self._graph.edges:
            if edge.kind in (ALTERNATE, DEAD_LETTER):
                start, end = nodes[edge.source], nodes[edge.target]
                what = "alternate" if edge.kind == ALTERNATE else " ".join(edge.label_lines)
                lines.append(f"  {start.kind} {start.name} ==[{what}]==> {end.kind} {end.name}")
        for edge in self._graph.edges:
            if edge.kind == CONSUME:
                consumer = nodes[edge.target]
                lines.append(
                    f"  queue {nodes[edge.source].name} --> {consumer.name} ({consumer.detail})"
                )
        bound = {b[1] for b in self.bindings if b[2] == "queue"}
        for name in sorted({q[0] for q in self.queues} - bound):
            lines.append(f"  queue {name} (default exchange only)")
        return "\n".join(lines)

    def to_dot(self) -> str:
        """The graph in Graphviz's DOT language (exchanges as boxes, queues as
        cylinders, consumers as ellipses; full names, details on hover)."""
        lines = ["digraph topology {", "  rankdir=LR;"]
        for node in self._graph.nodes.values():
            label = "\n".join([node.name, node.detail, *node.notes])
            lines.append(
                f"  {_dot_quote(node.id)} [shape={_DOT_SHAPES[node.kind]}, "
                f"label={_dot_quote(label)}, tooltip={_dot_quote(node.title)}];"
            )
        for edge in self._graph.edges:
            attributes = []
            label = "\n".join(edge.label_lines)
            if label:
                attributes.append(f"label={_dot_quote(label)}")
            if _DOT_EDGE_STYLES[edge.kind]:
                attributes.append(_DOT_EDGE_STYLES[edge.kind])
            listed = f" [{', '.join(attributes)}]" if attributes else ""
            lines.append(f"  {_dot_quote(edge.source)} -> {_dot_quote(edge.target)}{listed};")
        lines.append("}")
        return "\n".join(lines)

    def _repr_svg_(self) -> str:
        if self._svg is None:
            self._svg = draw_svg(self._graph)
        return self._svg

    def _repr_html_(self) -> str:
        # inline, so that the <title> hover texts work (an image/svg+xml output is
        # shown as an <img> by nbconvert and by untrusted notebooks); wide pictures scroll
        return f'<div class="amqpmodel-topology-view" style="overflow-x:auto">{self._repr_svg_()}</div>'
