"""Message properties between py-amqp's dicts and amqpmodel's ``BasicProperties``.

kombu hands the transport a py-amqp style property dict (``application_headers``
for the headers) and expects one back on every delivery, with the values a
py-amqp client decodes from RabbitMQ's frames. Nothing crosses a socket here,
so the round trip through the wire encoding is done on the values instead:
that way a message looks the same to a kombu consumer whether it came through
this transport or over a socket.
"""

from __future__ import annotations

import calendar
import datetime
import decimal
from typing import Any

import amqpmodel
from amqpmodel.driver import PROPERTY_NAMES

__all__ = ["from_properties", "to_properties", "wire_value"]

_UTC = datetime.timezone.utc

# py-amqp's property names, in frame order, and amqpmodel's for each
_NAMES = tuple(
    ("application_headers" if name == "headers" else name, name) for name in PROPERTY_NAMES
)


def _seconds(value: datetime.datetime) -> int:
    # py-amqp encodes a datetime through utctimetuple(): a naive one counts as UTC
    return calendar.timegm(value.utctimetuple())


def wire_value(value: Any) -> Any:
    """``value`` as py-amqp decodes it after encoding it into a field table.

    Strings and bytes travel as long strings and come back as ``str`` when
    they are UTF-8; integers of every width come back as ``int``, tuples as
    lists, datetimes as naive UTC datetimes in whole seconds. A value py-amqp
    cannot encode raises ``ValueError``, as publishing it with py-amqp would.
    """
    if value is None or type(value) is str or type(value) is bool:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, decimal.Decimal):
        return value
    if isinstance(value, datetime.datetime):
        return datetime.datetime.fromtimestamp(_seconds(value), _UTC).replace(tzinfo=None)
    if isinstance(value, dict):
        return {str(key): wire_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [wire_value(item) for item in value]
    raise ValueError(f"{type(value).__name__} value {value!r} cannot be encoded in a field table")


def to_properties(properties: dict[str, Any]) -> amqpmodel.BasicProperties | None:
    """The ``BasicProperties`` of a py-amqp property dict (unknown names are
    ignored, as py-amqp ignores them when it encodes the frame)."""
    values: dict[str, Any] = {}
    for amqp_name, name in _NAMES:
        value = properties.get(amqp_name)
        if value is None:
            continue
        if name == "headers":
            if not isinstance(value, dict):
                raise ValueError(f"application_headers must be a dict, got {value!r}")
            value = wire_value(value)
        elif name == "timestamp" and isinstance(value, datetime.datetime):
            value = _seconds(value)
        values[name] = value
    return amqpmodel.BasicProperties(**values) if values else None


def from_properties(properties: amqpmodel.BasicProperties | None) -> dict[str, Any]:
    """The property dict py-amqp builds for a delivery with ``properties``:
    only the properties that are set, the timestamp as an integer."""
    if properties is None:
        return {}
    result: dict[str, Any] = {}
    for amqp_name, name in _NAMES:
        value = getattr(properties, name)
        if value is None:
            continue
        if name == "headers":
            value = wire_value(value)
        elif name == "timestamp" and isinstance(value, datetime.datetime):
            value = _seconds(value)
        result[amqp_name] = value
    return result
