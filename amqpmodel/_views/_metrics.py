"""How wide a text is drawn (in pixels, for the SVG picture) or printed (in terminal columns), and shortening names to fit.

There are no font metrics in pure Python, so widths are estimated from a table
of advance widths of a wide sans-serif face (DejaVu Sans, which Verdana
matches closely), rounded up: the picture names those faces first, and a
narrower fallback only leaves more room. Estimating wide is what keeps
labels from running out of their boxes (the notebook test measures the real
text in a browser).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = ["FONT_FAMILY", "columns_of", "shorten", "text_width"]

FONT_FAMILY = "Verdana, 'DejaVu Sans', 'Bitstream Vera Sans', sans-serif"

# advance widths in em, DejaVu Sans Book, rounded up to the hundredth
_EM: dict[str, float] = {}
for _chars, _width in (
    (" ", 0.32),
    ("ijl", 0.28),
    ("ft", 0.4),
    ("r", 0.42),
    ("sz", 0.53),
    ("c", 0.56),
    ("kvxy", 0.6),
    ("ae", 0.62),
    ("bdghnopqu", 0.64),
    ("w", 0.84),
    ("m", 0.98),
    ("IJ", 0.3),
    ("L", 0.56),
    ("F", 0.58),
    ("PTYZ", 0.69),
    ("ES", 0.64),
    ("K", 0.66),
    ("ABRVX", 0.7),
    ("C", 0.7),
    ("UN", 0.74),
    ("HDGO", 0.79),
    ("Q", 0.79),
    ("M", 0.87),
    ("W", 0.99),
    ("0123456789", 0.64),
    (".,:;'|!", 0.34),
    ("-()[]{}/\\`", 0.4),
    ('"', 0.46),
    ("_*?", 0.53),
    ("$", 0.64),
    ("&", 0.78),
    ("#+<=>~^", 0.84),
    ("%", 0.95),
    ("@", 1.0),
    ("·", 0.32),
    ("…", 1.0),
    ("→←↻⇢", 0.84),
):
    for _char in _chars:
        _EM[_char] = _width
_DEFAULT_EM = 0.7  # other letters (accented, Greek, Cyrillic): about an uppercase's width
_WIDE_EM = 1.0  # CJK and other wide characters
_BOLD = 1.13  # DejaVu Sans Bold is about this much wider
_MARGIN = 1.04


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


@lru_cache(maxsize=4096)
def text_width(text: str, size: float = 12.0, bold: bool = False) -> float:
    """Estimated width in pixels of ``text`` drawn at ``size`` px (rounded up)."""
    em = 0.0
    for char in text:
        width = _EM.get(char)
        if width is None:
            width = _WIDE_EM if _is_wide(char) else _DEFAULT_EM
        em += width
    return em * size * (_BOLD if bold else 1.0) * _MARGIN


def columns_of(text: str) -> int:
    """How many terminal columns ``text`` takes (wide characters take two)."""
    if text.isascii():
        return len(text)
    return sum(2 if _is_wide(char) else 1 for char in text)


def shorten(text: str, max_width: float, size: float = 12.0, bold: bool = False) -> str:
    """``text`` if it fits in ``max_width`` pixels, else its start and end around "…":
    server-named queues (``amq.gen-…``) differ at the end, so the end is kept."""
    if text_width(text, size, bold) <= max_width:
        return text
    keep_end = max(1, len(text) // 3)
    head, tail = text[: len(text) - keep_end], text[len(text) - keep_end :]
    # take characters off the head first (down to a third of the room), then off the tail
    while head or tail:
        candidate = head + "…" + tail
        if text_width(candidate, size, bold) <= max_width:
            return candidate
        if len(head) > len(tail) or not tail:
            head = head[:-1]
        else:
            tail = tail[1:]
    return "…"
