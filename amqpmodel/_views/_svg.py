"""Drawing a topology ``Graph`` as SVG: sized boxes, the layered layout, edges styled by kind, a legend.

Every text is inside a box sized from its estimated width (``_metrics``), a
name too long for its box is shortened with "…", and the full name and
details are the box's ``<title>`` (shown on hover). The structure is kept
simple for a test to read back: each box is a ``<g class="node KIND">`` or
``<g class="edge-label KIND">`` holding its ``<title>``, ``<rect>`` and
``<text>`` lines; each edge is a ``<path class="edge KIND">``.
"""

from __future__ import annotations

import math
from html import escape

import attrs

from ._graph import ALTERNATE, BINDING, CONSUME, DEAD_LETTER, E2E, Edge, Graph, Node
from ._layout import Box, LayoutEdge, Placed, layout
from ._metrics import FONT_FAMILY, shorten, text_width

__all__ = ["clean", "draw_svg"]

MARGIN = 12.0
NAME_SIZE = 12.0
SMALL_SIZE = 11.0
NAME_MAX = 270.0  # pixels a name may take before it is shortened (amq.gen-… names fit)
DETAIL_MAX = 250.0
LABEL_MAX = 170.0
LABEL_LINES = 4  # keys listed on one edge before "+N more"
PAD_X = 8.0
PAD_Y = 5.0
LABEL_PAD = 3.0

_ASCENT = 0.93  # of the em: where the baseline sits below a line's top (DejaVu Sans)
_TEXT_HEIGHT = 1.17  # of the em: ascent plus descent, what a browser's text box spans

_STYLES = {  # fill, stroke of boxes
    "exchange": ("#e8f0fe", "#4a6fa5"),
    "queue": ("#eef7e8", "#5a8a3c"),
    "consumer": ("#fff4e0", "#b07a1c"),
    "consumers": ("#fff4e0", "#b07a1c"),
}
_EDGE_STYLES = {  # colour, dash pattern
    BINDING: ("#555555", ""),
    E2E: ("#4a6fa5", ""),
    ALTERNATE: ("#d98200", "7 4"),
    DEAD_LETTER: ("#c0392b", "3 3"),
    CONSUME: ("#b07a1c", "1 3"),
}
_LEGEND_EDGES = (
    (BINDING, "binding (its keys on the arrow)"),
    (E2E, "exchange-to-exchange binding"),
    (ALTERNATE, "alternate exchange"),
    (DEAD_LETTER, "dead letters"),
    (CONSUME, "consumes"),
)
_LEGEND_NOTES = (
    "ready: messages waiting for a consumer · unacked: delivered, not yet acknowledged",
    "a queue with no arrow in is reached through the default exchange only; "
    "hover over a box for its full name and details",
)


def clean(text: str) -> str:
    """``text`` safe to put in XML: control characters (but line breaks and tabs)
    and lone surrogates (a key that was not UTF-8 on the wire) become U+FFFD."""
    if text.isprintable():
        return text
    return "".join(
        "\ufffd"
        if (
            (ord(c) < 0x20 and c not in "\n\t") or 0xD800 <= ord(c) <= 0xDFFF or c in "\ufffe\uffff"
        )
        else c
        for c in text
    )


def _line_height(size: float) -> float:
    return math.ceil(size * 1.25)


def _text(x: float, top: float, size: float, text: str, **attributes: str) -> str:
    """One line of text whose box starts at ``top`` (baseline placed inside its line)."""
    line = _line_height(size)
    baseline = top + (line - _TEXT_HEIGHT * size) / 2 + _ASCENT * size
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{v}"' for k, v in attributes.items())
    return (
        f'<text x="{x:.1f}" y="{baseline:.1f}" font-size="{size:g}"{extra}>'
        f"{escape(clean(text))}</text>"
    )


def _node_lines(node: Node) -> list[tuple[str, float, bool]]:
    """(text, size, bold) per line of a node's box."""
    lines = [(shorten(clean(node.name) or '""', NAME_MAX, NAME_SIZE, True), NAME_SIZE, True)]
    if node.detail:
        lines.append((shorten(node.detail, DETAIL_MAX, SMALL_SIZE), SMALL_SIZE, False))
    lines += [(shorten(note, DETAIL_MAX, SMALL_SIZE), SMALL_SIZE, False) for note in node.notes]
    return lines


def _label_lines(edge: Edge) -> list[str]:
    lines = [clean(line) for line in edge.label_lines]
    if len(lines) > LABEL_LINES:
        lines = lines[: LABEL_LINES - 1] + [f"+{len(lines) - LABEL_LINES + 1} more"]
    return [shorten(line, LABEL_MAX, SMALL_SIZE) for line in lines]


def _box_size(
    lines: list[tuple[str, float, bool]], pad_x: float, pad_y: float
) -> tuple[float, float]:
    width = max(text_width(text, size, bold) for text, size, bold in lines)
    height = sum(_line_height(size) for _, size, _ in lines)
    return math.ceil(width + 2 * pad_x), height + 2 * pad_y


def _self_loop_note(edge: Edge) -> str:
    if edge.kind == ALTERNATE:
        return "↻ alternate: itself"
    keys = ", ".join(edge.keys)
    return f"↻ bound to itself{': ' + keys if keys else ''}"


def _path(points: tuple[tuple[float, float], ...]) -> str:
    (x, y), rest = points[0], points[1:]
    parts = [f"M{x:.1f},{y:.1f}"]
    for x2, y2 in rest:
        if abs(y2 - y) < 0.5:
            parts.append(f"L{x2:.1f},{y2:.1f}")
        else:
            middle = (x + x2) / 2
            parts.append(f"C{middle:.1f},{y:.1f} {middle:.1f},{y2:.1f} {x2:.1f},{y2:.1f}")
        x, y = x2, y2
    return " ".join(parts)


def _box(
    kind: str,
    css: str,
    placed: Placed,
    title: str,
    lines: list[tuple[str, float, bool]],
    pad_x: float,
    pad_y: float,
    dx: float,
    dy: float,
) -> str:
    fill, stroke = _STYLES.get(kind, ("#ffffff", "#bbbbbb"))
    radius = {"queue": 9, "consumer": 11, "consumers": 11}.get(kind, 3)
    x, y = placed.x + dx, placed.y + dy
    parts = [
        f'<g class="{css}"><title>{escape(clean(title))}</title>',
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{placed.width:.1f}" height="{placed.height:.1f}" '
        f'rx="{radius}" fill="{fill}" stroke="{stroke}"/>',
    ]
    top = y + pad_y
    for text, size, bold in lines:
        attributes = {"font_weight": "bold"} if bold else {"fill": "#444444"}
        parts.append(_text(x + pad_x, top, size, text, **attributes))
        top += _line_height(size)
    parts.append("</g>")
    return "".join(parts)


def _label_box(edge: Edge, placed: Placed, lines: list[str], dx: float, dy: float) -> str:
    colour = _EDGE_STYLES[edge.kind][0]
    x, y = placed.x + dx, placed.y + dy
    title = {ALTERNATE: "alternate exchange", DEAD_LETTER: "dead letters"}.get(
        edge.kind, "binding keys"
    )
    full = "\n".join(edge.keys) if edge.keys else ""
    parts = [
        f'<g class="edge-label {edge.kind}"><title>{escape(clean(title + (": " + full if full else "")))}</title>',
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{placed.width:.1f}" height="{placed.height:.1f}" '
        f'rx="2" fill="#ffffff" fill-opacity="0.92" stroke="none"/>',
    ]
    top = y + LABEL_PAD
    for line in lines:
        parts.append(_text(x + LABEL_PAD, top, SMALL_SIZE, line, fill=colour))
        top += _line_height(SMALL_SIZE)
    parts.append("</g>")
    return "".join(parts)


def _legend(top: float, width: float) -> tuple[list[str], float, float]:
    """The legend's elements from ``top``, wrapped at ``width``; its height and width."""
    parts = ['<g class="legend">']
    row = _line_height(SMALL_SIZE) + 8
    x, y = MARGIN, top
    widest = 0.0
    items: list[tuple[str, str]] = [
        ("exchange", "exchange: name, type"),
        ("queue", "queue: name, type, ready, unacked"),
        ("consumer", "consumer: connection (channel), prefetch, unacked"),
    ]
    items += [(kind, text) for kind, text in _LEGEND_EDGES]
    for kind, text in items:
        item_width = 30 + 6 + math.ceil(text_width(text, SMALL_SIZE)) + 18
        if x > MARGIN and x + item_width > width:
            x, y = MARGIN, y + row
        middle = y + row / 2 - 4
        if kind in _STYLES:
            fill, stroke = _STYLES[kind]
            radius = {"queue": 6, "consumer": 7}.get(kind, 2)
            parts.append(
                f'<rect x="{x:.1f}" y="{middle - 7:.1f}" width="30" height="14" rx="{radius}" '
                f'fill="{fill}" stroke="{stroke}"/>'
            )
        else:
            colour, dash = _EDGE_STYLES[kind]
            dashes = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(
                f'<path d="M{x:.1f},{middle:.1f} L{x + 30:.1f},{middle:.1f}" stroke="{colour}" '
                f'stroke-width="1.4"{dashes} fill="none" marker-end="url(#arrow-{kind})"/>'
            )
        parts.append(_text(x + 36, middle - _line_height(SMALL_SIZE) / 2, SMALL_SIZE, text))
        x += item_width
        widest = max(widest, x)
    y += row
    for note in _LEGEND_NOTES:
        parts.append(_text(MARGIN, y, SMALL_SIZE, note, fill="#444444"))
        widest = max(widest, MARGIN + text_width(note, SMALL_SIZE))
        y += _line_height(SMALL_SIZE) + 2
    parts.append("</g>")
    return parts, y - top, widest


def _markers() -> str:
    markers = "".join(
        f'<marker id="arrow-{kind}" markerWidth="8" markerHeight="8" refX="7" refY="4" '
        f'orient="auto" markerUnits="userSpaceOnUse"><path d="M0,0.5 L8,4 L0,7.5 z" fill="{colour}"/></marker>'
        for kind, (colour, _) in _EDGE_STYLES.items()
    )
    return f"<defs>{markers}</defs>"


def draw_svg(graph: Graph) -> str:
    """The picture of ``graph``: the layout's boxes and edges, a caption and a legend."""
    nodes = graph.nodes
    edges: list[Edge] = []
    notes: dict[str, list[str]] = {}
    for edge in graph.edges:
        if edge.source == edge.target:
            notes.setdefault(edge.source, []).append(_self_loop_note(edge))
        else:
            edges.append(edge)
    node_lines = {}
    boxes = []
    has_exchanges = any(n.kind == "exchange" for n in nodes.values())
    for node in nodes.values():
        if node.id in notes:
            node = attrs.evolve(node, notes=node.notes + notes[node.id])
        lines = node_lines[node.id] = _node_lines(node)
        width, height = _box_size(lines, PAD_X, PAD_Y)
        min_rank = 2 if node.kind != "exchange" and has_exchanges else 0
        boxes.append(Box(node.id, width, height, min_rank))
    label_lines: list[list[str]] = []
    layout_edges = []
    for edge in edges:
        label = _label_lines(edge)
        label_lines.append(label)
        size = None
        if label:
            size = _box_size([(line, SMALL_SIZE, False) for line in label], LABEL_PAD, LABEL_PAD)
        layout_edges.append(LayoutEdge(edge.source, edge.target, size, edge.kind == DEAD_LETTER))
    placed = layout(boxes, layout_edges)

    consumers = sum(n.count for n in nodes.values() if n.kind in ("consumer", "consumers"))
    counts = {
        "exchanges": sum(1 for n in nodes.values() if n.kind == "exchange"),
        "queues": sum(1 for n in nodes.values() if n.kind == "queue"),
        "consumers": consumers,
    }
    caption = f"vhost {graph.vhost}: " + ", ".join(f"{v} {k}" for k, v in counts.items())
    caption_height = _line_height(NAME_SIZE) + 10
    dx, dy = MARGIN, MARGIN + caption_height
    graph_width = placed.width + 2 * MARGIN
    legend_top = dy + placed.height + (16 if nodes else 0)
    legend, legend_height, legend_width = _legend(legend_top, max(graph_width, 640.0))
    width = math.ceil(
        max(graph_width, legend_width + MARGIN, text_width(caption, NAME_SIZE, True) + 2 * MARGIN)
    )
    height = math.ceil(legend_top + legend_height + MARGIN)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="amqpmodel-topology" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT_FAMILY}">',
        _markers(),
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        _text(MARGIN, MARGIN, NAME_SIZE, caption, font_weight="bold", class_="caption"),
    ]
    for edge, route in zip(edges, placed.routes, strict=True):
        colour, dash = _EDGE_STYLES[edge.kind]
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        points = tuple((x + dx, y + dy) for x, y in route.points)
        parts.append(
            f'<path class="edge {edge.kind}" data-source="{escape(clean(edge.source))}" '
            f'data-target="{escape(clean(edge.target))}" d="{_path(points)}" fill="none" '
            f'stroke="{colour}" stroke-width="1.3"{dashes} marker-end="url(#arrow-{edge.kind})"/>'
        )
    for edge, route, label in zip(edges, placed.routes, label_lines, strict=True):
        if route.label is not None:
            parts.append(_label_box(edge, route.label, label, dx, dy))
    for node in nodes.values():
        css = f"node {node.kind}"
        parts.append(
            _box(
                node.kind,
                css,
                placed.nodes[node.id],
                node.title or node.name,
                node_lines[node.id],
                PAD_X,
                PAD_Y,
                dx,
                dy,
            )
        )
    parts += legend
    parts.append("</svg>")
    return "".join(parts)
