"""How the store writes message properties, annotations and arguments: marshal of plain values, tagged where needed.

Field values are Python values (``_properties.check_field_value``); those
marshal cannot hold, or would lose the AMQP type of, become small tagged
tuples (a field value is never a tuple: arrays are lists), so a message
comes back with exactly the values it was published with: a typed integer
(``TaggedInt``), a 32-bit float, a timestamp with its time zone, a decimal.
"""

from __future__ import annotations

import datetime
import decimal
import marshal
from operator import attrgetter
from typing import Any

from amqpmodel.driver import (
    EMPTY_PROPERTIES,
    PROPERTY_NAMES,
    TAGGED_INTS,
    Annotations,
    BasicProperties,
    Death,
    EncodedProperties,
    Float32,
    TaggedInt,
)

__all__ = [
    "argument_key",
    "dump_annotations",
    "dump_arguments",
    "dump_properties",
    "load_annotations",
    "load_arguments",
    "PropertiesCache",
]

_MARSHAL_VERSION = 4
_PLAIN = (str, bytes, bool, int, float, type(None))
_NAMES = PROPERTY_NAMES  # in BasicProperties order, as stored
_values_of = attrgetter(*_NAMES)
_HEADERS = _NAMES.index("headers")
_TIMESTAMP = _NAMES.index("timestamp")


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {key: _encode(item) for key, item in value.items()}
    if kind is list:
        return [_encode(item) for item in value]
    if isinstance(value, TaggedInt):
        return ("i", value.amqp_tag, int(value))
    if isinstance(value, Float32):
        return ("f", float(value))
    if isinstance(value, datetime.datetime):
        return ("T", value.isoformat())
    if isinstance(value, decimal.Decimal):
        return ("d", str(value))
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{kind.__name__} is not an AMQP field value")


def _decode(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _decode(item) for key, item in value.items()}
    if kind is list:
        return [_decode(item) for item in value]
    if kind is tuple:
        tag = value[0]
        if tag == "i":
            return TAGGED_INTS[value[1]](value[2])
        if tag == "f":
            return Float32(value[1])
        if tag == "T":
            return datetime.datetime.fromisoformat(value[1])
        if tag == "d":
            return decimal.Decimal(value[1])
        raise ValueError(f"unknown stored value tag {tag!r}")
    return value


_last_dumped: list[Any] = [None, None]  # (properties, its dump): a publish loop reuses one object


def dump_properties(properties: BasicProperties) -> tuple[bytes, bytes | None]:
    """(the values, the wire bytes when the message came over the wire)."""
    if properties is _last_dumped[0]:
        dumped: tuple[bytes, bytes | None] = _last_dumped[1]
        return dumped
    values = _values_of(properties)
    if values[_HEADERS] is not None or type(values[_TIMESTAMP]) not in _PLAIN:
        values = tuple(_encode(value) for value in values)
    encoded = (
        getattr(properties, "encoded", None) if type(properties) is EncodedProperties else None
    )
    return marshal.dumps(values, _MARSHAL_VERSION), encoded


class PropertiesCache:
    """Properties read back, shared between messages where that is safe.

    Properties without headers are immutable, so identical ones can be one
    object, which makes a recovered queue smaller than the one published.
    """

    __slots__ = ("_shared",)

    def __init__(self) -> None:
        self._shared: dict[tuple[bytes, bytes | None], BasicProperties] = {}

    def load(self, blob: bytes, encoded: bytes | None) -> BasicProperties:
        key = (blob, encoded)
        found = self._shared.get(key)
        if found is not None:
            return found
        values = [_decode(value) for value in marshal.loads(blob)]
        if encoded is not None:
            properties: BasicProperties = EncodedProperties.decoded(
                encoded, **dict(zip(_NAMES, values, strict=True))
            )
        elif not any(value is not None for value in values):
            properties = EMPTY_PROPERTIES
        else:
            properties = BasicProperties(*values)
        if values[_HEADERS] is None:
            self._shared[key] = properties
        return properties


def dump_annotations(annotations: Annotations | None) -> bytes | None:
    if annotations is None:
        return None
    deaths = [
        (d.queue, d.reason, d.count, d.time, d.exchange, d.routing_keys, d.original_expiration)
        for d in annotations.deaths
    ]
    return marshal.dumps((annotations.bcc, deaths, annotations.first_death), _MARSHAL_VERSION)


def load_annotations(blob: bytes | None) -> Annotations | None:
    if blob is None:
        return None
    bcc, deaths, first_death = marshal.loads(blob)
    return Annotations(
        bcc=tuple(bcc),
        deaths=tuple(
            Death(queue, reason, count, time, exchange, tuple(keys), original)
            for queue, reason, count, time, exchange, keys, original in deaths
        ),
        first_death=tuple(first_death) if first_death is not None else None,
    )


def dump_arguments(arguments: dict[str, Any]) -> bytes:
    return marshal.dumps(_encode(arguments), _MARSHAL_VERSION)


def load_arguments(blob: bytes) -> dict[str, Any]:
    loaded = _decode(marshal.loads(blob))
    assert isinstance(loaded, dict)
    return loaded


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((key, _canonical(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("A", tuple(_canonical(item) for item in value))
    return (type(value).__name__, value if type(value) in _PLAIN else str(value))


def argument_key(arguments: dict[str, Any]) -> str:
    """A binding's arguments as text that is equal exactly when the tables are (any key order)."""
    return repr(_canonical(arguments))
