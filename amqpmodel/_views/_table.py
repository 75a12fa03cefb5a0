"""``Table``: a titled grid of cells that renders as an HTML table (Jupyter, a web page) or aligned text (a REPL)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

import attrs

from ._metrics import columns_of

__all__ = ["Cell", "Table", "tables_html", "tables_text"]

# a text cell longer than this is cut (with "…") so that a REPL table stays readable
TEXT_CELL_MAX = 48


@attrs.frozen(slots=True)
class Cell:
    """One cell: ``text`` for the REPL, ``html`` (already escaped) for HTML when the
    cell holds more than text (a nested table of headers), ``title`` shown on hover."""

    text: str
    html: str | None = None
    title: str | None = None


CellValue = Cell | str | int | float | bool | None


def _text_of(value: CellValue) -> str:
    if isinstance(value, Cell):
        return value.text
    if value is None:
        return ""
    return str(value)


def _html_of(value: CellValue) -> str:
    if isinstance(value, Cell):
        inner = value.html if value.html is not None else escape(value.text)
        if value.title:
            inner = f'<span title="{escape(value.title)}">{inner}</span>'
        return inner
    return escape(_text_of(value))


def _cut(text: str, limit: int = TEXT_CELL_MAX) -> str:
    text = " ".join(text.split())  # one line per row: newlines and tabs become spaces
    return text if len(text) <= limit else text[: limit - 1] + "…"


@attrs.frozen(slots=True)
class Table:
    """A titled table. ``numeric`` names the columns right-aligned in text."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[CellValue, ...], ...]
    numeric: frozenset[str] = frozenset()
    note: str = ""  # a line under the table ("first 20 of 1000")

    @classmethod
    def of(
        cls,
        title: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[CellValue]],
        numeric: Iterable[str] = (),
        note: str = "",
    ) -> Table:
        return cls(title, tuple(columns), tuple(tuple(r) for r in rows), frozenset(numeric), note)

    def to_html(self) -> str:
        """An HTML fragment: the title in bold, then a plain ``<table>`` (Jupyter and
        a web page style it their own way)."""
        head = "".join(f"<th>{escape(c)}</th>" for c in self.columns)
        if self.rows:
            body = "".join(
                "<tr>" + "".join(f"<td>{_html_of(c)}</td>" for c in row) + "</tr>"
                for row in self.rows
            )
        else:
            body = f"<tr><td colspan='{len(self.columns)}'><i>none</i></td></tr>"
        note = f"<div><i>{escape(self.note)}</i></div>" if self.note else ""
        return (
            f"<b>{escape(self.title)}</b>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"
        )

    def to_text(self) -> str:
        """Aligned columns under a title line, as ``rabbitmqctl list_*`` prints them
        (padded instead of tab-separated, for a person to read)."""
        cells = [[_cut(_text_of(c)) for c in row] for row in self.rows]
        widths = [columns_of(c) for c in self.columns]
        for row in cells:
            for i, text in enumerate(row):
                widths[i] = max(widths[i], columns_of(text))

        def line(values: Sequence[str]) -> str:
            parts = []
            for i, value in enumerate(values):
                pad = " " * (widths[i] - columns_of(value))
                parts.append(pad + value if self.columns[i] in self.numeric else value + pad)
            return "  ".join(parts).rstrip()

        lines = [self.title, line(self.columns)]
        lines.extend(line(row) for row in cells)
        if not cells:
            lines.append("(none)")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def tables_html(tables: Iterable[Table]) -> str:
    return "".join(f'<div class="amqpmodel-view">{t.to_html()}</div>' for t in tables)


def tables_text(tables: Iterable[Table]) -> str:
    return "\n\n".join(t.to_text() for t in tables)
