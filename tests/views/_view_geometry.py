"""Reading a topology SVG back with ElementTree: its boxes, texts and edges, and whether any overlap."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import NamedTuple

from amqpmodel._views._metrics import text_width

SVG = "{http://www.w3.org/2000/svg}"


class Box(NamedTuple):
    kind: str  # the <g>'s class: "node queue", "edge-label dead-letter"
    title: str
    left: float
    top: float
    right: float
    bottom: float
    texts: list[str]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def boxes(root: ET.Element) -> list[Box]:
    """Every node and edge label: its rect, its hover title and its lines of text."""
    found = []
    for group in root.iter(SVG + "g"):
        kind = group.get("class", "")
        if not (kind.startswith("node") or kind.startswith("edge-label")):
            continue
        rect = group.find(SVG + "rect")
        assert rect is not None
        x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
        width, height = float(rect.get("width", 0)), float(rect.get("height", 0))
        title = group.findtext(SVG + "title") or ""
        texts = [t.text or "" for t in group.iter(SVG + "text")]
        found.append(Box(kind, title, x, y, x + width, y + height, texts))
    return found


def text_extents(root: ET.Element) -> list[tuple[str, float, float, float, float]]:
    """(text, left, top, right, bottom) of every text, from its estimated width."""
    found = []
    for text in root.iter(SVG + "text"):
        size = float(text.get("font-size", 12))
        bold = text.get("font-weight") == "bold"
        x, baseline = float(text.get("x", 0)), float(text.get("y", 0))
        content = text.text or ""
        width = text_width(content, size, bold)
        found.append((content, x, baseline - 0.93 * size, x + width, baseline + 0.24 * size))
    return found


def overlapping(rects: list[tuple[str, float, float, float, float]]) -> list[tuple[str, str]]:
    found = []
    ordered = sorted(rects, key=lambda r: r[2])
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if b[2] >= a[4]:
                break
            if min(a[3], b[3]) > max(a[1], b[1]) and min(a[4], b[4]) > max(a[2], b[2]):
                found.append((a[0], b[0]))
    return found


def edges(root: ET.Element) -> list[tuple[str, str, str]]:
    """(kind, source id, target id) of every edge drawn."""
    return [
        (path.get("class", "").split()[1], path.get("data-source", ""), path.get("data-target", ""))
        for path in root.iter(SVG + "path")
        if path.get("class", "").startswith("edge ")
    ]
