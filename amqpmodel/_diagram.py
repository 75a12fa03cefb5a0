"""A picture of a virtual host's topology: exchanges, queues and the bindings between them.

``vhost.topology()`` (and ``broker.topology()``) returns a ``Topology``. In
Jupyter it renders as an SVG drawing (exchanges on the left, queues on the
right, one arrow per binding labelled with its key); ``to_dot()`` gives the
same graph in Graphviz's language for larger topologies. Pure Python, no
drawing library: notebook users look at the topology instead of reading it.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._vhost import VirtualHost

__all__ = ["Topology"]

_ROW = 34
_BOX_W = 200
_BOX_H = 24
_GAP = 220
_MARGIN = 12


def _label(binding_key: str, arguments: dict[str, object]) -> str:
    if arguments:
        return ", ".join(f"{k}={v}" for k, v in arguments.items())
    return binding_key or '""'


class Topology:
    """A snapshot of one virtual host's exchanges, queues and bindings.

    The predeclared ``amq.*`` exchanges are left out unless they have
    bindings, and the default exchange's implicit bindings are never drawn
    (every queue has one), so the picture shows what the application built.
    """

    def __init__(self, vhost: VirtualHost) -> None:
        self.vhost_name = vhost.name
        self.exchanges: list[tuple[str, str]] = []
        used = {b.source for b in vhost.bindings if b.source} | {
            b.destination for b in vhost.bindings if b.destination_type == "exchange"
        }
        for exchange in vhost.exchanges.values():
            if exchange.name == "" or (
                exchange.name.startswith("amq.") and exchange.name not in used
            ):
                continue
            self.exchanges.append((exchange.name, exchange.type))
        self.queues: list[tuple[str, int, int, int]] = [
            (name, queue.messages_ready, queue.messages_unacknowledged, queue.consumer_count)
            for name, queue in vhost.queues.items()
        ]
        # (source exchange, destination, destination type, label)
        self.bindings: list[tuple[str, str, str, str]] = [
            (b.source, b.destination, b.destination_type, _label(b.routing_key, b.arguments))
            for b in vhost.bindings
            if b.source
        ]

    def __repr__(self) -> str:
        lines = [f"topology of vhost {self.vhost_name!r}:"]
        for source, destination, kind, label in self.bindings:
            lines.append(f"  {source} --[{label}]--> {kind} {destination}")
        unbound = {q[0] for q in self.queues} - {b[1] for b in self.bindings if b[2] == "queue"}
        for name in sorted(unbound):
            lines.append(f"  queue {name} (default exchange only)")
        return "\n".join(lines)

    def to_dot(self) -> str:
        """The graph in Graphviz's DOT language (exchanges as boxes, queues as cylinders)."""

        def quote(text: str) -> str:
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = ["digraph topology {", "  rankdir=LR;"]
        for name, kind in self.exchanges:
            lines.append(f"  {quote('x:' + name)} [shape=box, label={quote(f'{name} ({kind})')}];")
        for name, ready, unacked, consumers in self.queues:
            label = f"{name}\\nready {ready}, unacked {unacked}, consumers {consumers}"
            lines.append(f"  {quote('q:' + name)} [shape=cylinder, label={quote(label)}];")
        for source, destination, kind, label in self.bindings:
            target = ("q:" if kind == "queue" else "x:") + destination
            lines.append(f"  {quote('x:' + source)} -> {quote(target)} [label={quote(label)}];")
        lines.append("}")
        return "\n".join(lines)

    def _repr_svg_(self) -> str:
        exchange_y = {name: _MARGIN + i * _ROW for i, (name, _) in enumerate(self.exchanges)}
        queue_y = {queue[0]: _MARGIN + i * _ROW for i, queue in enumerate(self.queues)}
        left, right = _MARGIN, _MARGIN + _BOX_W + _GAP
        rows = max(len(self.exchanges), len(self.queues), 1)
        width = right + _BOX_W + _MARGIN
        height = 2 * _MARGIN + rows * _ROW
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            'font-family="sans-serif" font-size="12">',
            '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" '
            'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
        ]
        for source, destination, kind, label in self.bindings:
            if source not in exchange_y:
                continue
            y1 = exchange_y[source] + _BOX_H / 2
            x2: float
            y2: float
            if kind == "queue" and destination in queue_y:
                x2, y2 = right, queue_y[destination] + _BOX_H / 2
            elif kind == "exchange" and destination in exchange_y:
                x2, y2 = left + _BOX_W / 2, exchange_y[destination]  # e2e: onto the box's top
            else:
                continue
            x1 = left + _BOX_W
            parts.append(
                f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#555" '
                'marker-end="url(#arrow)"/>'
            )
            parts.append(
                f'<text x="{(x1 + x2) / 2}" y="{(y1 + y2) / 2 - 3}" text-anchor="middle" '
                f'fill="#333">{escape(label)}</text>'
            )
        for name, kind in self.exchanges:
            y = exchange_y[name]
            parts.append(
                f'<rect x="{left}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="3" '
                'fill="#e8f0fe" stroke="#4a6fa5"/>'
            )
            parts.append(
                f'<text x="{left + 6}" y="{y + 16}">{escape(name)} <tspan fill="#777">'
                f"({escape(kind)})</tspan></text>"
            )
        for name, ready, unacked, consumers in self.queues:
            y = queue_y[name]
            parts.append(
                f'<rect x="{right}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="10" '
                'fill="#eef7e8" stroke="#5a8a3c"/>'
            )
            parts.append(
                f'<text x="{right + 8}" y="{y + 16}">{escape(name)} <tspan fill="#777">'
                f"{ready}/{unacked}/{consumers}</tspan></text>"
            )
        parts.append("</svg>")
        return "".join(parts)
