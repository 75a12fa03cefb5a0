"""How one value is shown: AMQP field values (headers, arguments, x-death), message properties and bodies, as text and HTML."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from html import escape
from typing import Any

from amqpmodel._properties import _PROPERTY_NAMES as PROPERTY_NAMES

from ._table import Cell

__all__ = ["arguments_cell", "body_cell", "field_text", "headers_cell", "properties_cell"]

BODY_PREVIEW = 60  # characters (or bytes) of a body a table shows

# the properties in the order RabbitMQ's management UI lists them; headers have their own column
_PROPERTY_ORDER = tuple(name for name in PROPERTY_NAMES if name != "headers")


def field_text(value: Any) -> str:
    """One field value on one line: tables as ``{k: v}``, arrays as ``[a, b]``,
    byte strings as text when they are UTF-8, timestamps in ISO form."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {field_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(field_text(v) for v in value) + "]"
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return repr(bytes(value))
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "(void)"
    return str(value)


def _field_html(value: Any) -> str:
    """A field value as HTML: a table of tables (x-death's entries) as a small table."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) for v in value):
        keys: list[str] = []
        for entry in value:
            keys.extend(k for k in entry if k not in keys)
        head = "".join(f"<th>{escape(str(k))}</th>" for k in keys)
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{escape(field_text(entry[k])) if k in entry else ''}</td>" for k in keys
            )
            + "</tr>"
            for entry in value
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    return escape(field_text(value))


def _pairs_html(pairs: Mapping[str, Any]) -> str:
    return "<br>".join(f"<b>{escape(str(k))}</b>: {_field_html(v)}" for k, v in pairs.items())


def headers_cell(headers: Mapping[str, Any] | None) -> Cell:
    """A message's headers: one ``name: value`` per line in HTML, x-death as a table."""
    if not headers:
        return Cell("")
    text = ", ".join(f"{k}: {field_text(v)}" for k, v in headers.items())
    return Cell(text, html=_pairs_html(headers))


def arguments_cell(arguments: Mapping[str, Any] | None) -> Cell:
    """Declare or binding arguments, ``name=value`` as ``rabbitmqctl`` lists them."""
    if not arguments:
        return Cell("")
    return Cell(", ".join(f"{k}={field_text(v)}" for k, v in arguments.items()))


def properties_cell(properties: Any) -> Cell:
    """The message properties that are set, headers excepted (see ``headers_cell``)."""
    values = {
        name: getattr(properties, name, None)
        for name in _PROPERTY_ORDER
        if getattr(properties, name, None) is not None
    }
    if not values:
        return Cell("")
    text = ", ".join(f"{k}={field_text(v)}" for k, v in values.items())
    return Cell(text, html=_pairs_html(values))


def body_cell(body: bytes) -> Cell:
    """The start of a body: as text when it is UTF-8, else as bytes; the size on hover."""
    size = f"{len(body)} bytes"
    head = body[: BODY_PREVIEW * 4]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not just a character cut at the end
            shown = repr(body[:BODY_PREVIEW])
            if len(body) > BODY_PREVIEW:
                shown += "…"
            return Cell(shown, title=size)
        text = head[: error.start].decode("utf-8")
    if len(text) > BODY_PREVIEW or len(body) > len(head):
        text = text[:BODY_PREVIEW] + "…"
    return Cell(text, title=size)
