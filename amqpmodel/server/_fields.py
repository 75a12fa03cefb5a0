"""Field tables and arrays from the wire, decoded strictly and without slicing copies.

RabbitMQ's table parser matches every entry exactly: a key, a known type tag
and a value that ends inside its table. Anything else (a key with no value,
a long string whose length runs past its table, an unknown tag, a table that
runs past the frame) fails the whole frame, so that such bytes never reach a
queue and are never forwarded to consumers whose clients would choke on them.

Tables and arrays may nest at most ``MAX_NESTING`` levels. RabbitMQ has no
limit, but every Python walk over a value (our bindings, the store, pika's
own decoder in a consumer) recurses, so the decoder is the one place that
bounds the depth; deeper input is refused like any other undecodable frame.

The values are those of pamqp's decoder (so the rest of the server sees
the same types), except that integers keep their AMQP type (``TaggedInt``)
and single floats stay ``Float32``, so that a re-encode sends what arrived.
"""

from __future__ import annotations

import datetime
import decimal
import struct
from typing import Any

from amqpmodel.driver import TAGGED_INTS, Float32

__all__ = ["MAX_NESTING", "decode_array", "decode_short_string", "decode_table"]

MAX_NESTING = 100  # levels of tables and arrays inside the outermost table

_LONG = struct.Struct(">I")
_SIGNED_LONG = struct.Struct(">i")
_DOUBLE = struct.Struct(">d")
_FLOAT = struct.Struct(">f")
_TIMESTAMP = struct.Struct(">Q")
_DECIMAL = struct.Struct(">BI")

# tag -> (struct, TaggedInt subclass) for the integer types that keep their tag
_INTEGERS: dict[int, tuple[struct.Struct, Any]] = {
    tag[0]: (struct.Struct(cls.amqp_format), cls) for tag, cls in TAGGED_INTS.items()
}
_TAG_S, _TAG_I, _TAG_T, _TAG_t, _TAG_F, _TAG_A, _TAG_d, _TAG_f, _TAG_D, _TAG_x, _TAG_V = (
    b"SITtFAdfDxV"
)


class FieldError(ValueError):
    """Bytes that are not a well-formed field table, array or value."""


def decode_short_string(data: bytes, offset: int, end: int) -> tuple[int, str]:
    """A shortstr at ``offset``; bytes that are not UTF-8 survive as surrogates
    (RabbitMQ passes them on). Returns the offset after it."""
    if offset >= end:
        raise FieldError("short string missing")
    stop = offset + 1 + data[offset]
    if stop > end:
        raise FieldError("short string runs past its table or frame")
    return stop, data[offset + 1 : stop].decode("utf-8", "surrogateescape")


def decode_table(data: bytes, offset: int, end: int, depth: int = 0) -> tuple[int, dict[str, Any]]:
    """The field table at ``offset`` (its 4-octet length first), ending by ``end``."""
    stop = _extent(data, offset, end, "field table")
    offset += 4
    table: dict[str, Any] = {}
    while offset < stop:
        offset, key = decode_short_string(data, offset, stop)
        if offset >= stop:
            raise FieldError(f"field table key {key!r} has no type and value")
        offset, table[key] = _value(data, offset, stop, depth)
    return stop, table


def decode_array(data: bytes, offset: int, end: int, depth: int = 0) -> tuple[int, list[Any]]:
    """The field array at ``offset`` (its 4-octet length first), ending by ``end``."""
    stop = _extent(data, offset, end, "field array")
    offset += 4
    items: list[Any] = []
    while offset < stop:
        offset, item = _value(data, offset, stop, depth)
        items.append(item)
    return stop, items


def _extent(data: bytes, offset: int, end: int, what: str) -> int:
    if offset + 4 > end:
        raise FieldError(f"{what} length missing")
    stop: int = offset + 4 + _LONG.unpack_from(data, offset)[0]
    if stop > end:
        raise FieldError(f"{what} runs past its table or frame")
    return stop


def _need(offset: int, size: int, end: int) -> int:
    stop = offset + size
    if stop > end:
        raise FieldError("field value runs past its table or frame")
    return stop


def _value(data: bytes, offset: int, end: int, depth: int) -> tuple[int, Any]:
    """One tagged value; ``depth`` counts the tables and arrays around it."""
    tag = data[offset]
    offset += 1
    if tag == _TAG_S or tag == _TAG_x:
        start = _need(offset, 4, end)
        stop = _need(start, _LONG.unpack_from(data, offset)[0], end)
        raw = data[start:stop]
        if tag == _TAG_x:
            return stop, bytearray(raw)
        try:
            return stop, raw.decode("utf-8")
        except UnicodeDecodeError:
            return stop, raw  # as pamqp: a long string that is not UTF-8 stays bytes
    if tag == _TAG_I:
        return _need(offset, 4, end), _SIGNED_LONG.unpack_from(data, offset)[0]
    integer = _INTEGERS.get(tag)
    if integer is not None:
        layout, cls = integer
        return _need(offset, layout.size, end), cls(layout.unpack_from(data, offset)[0])
    if tag == _TAG_t:
        return _need(offset, 1, end), bool(data[offset])
    if tag == _TAG_F or tag == _TAG_A:
        if depth >= MAX_NESTING:
            raise FieldError(f"tables and arrays nested deeper than {MAX_NESTING} levels")
        if tag == _TAG_F:
            return decode_table(data, offset, end, depth + 1)
        return decode_array(data, offset, end, depth + 1)
    if tag == _TAG_d:
        return _need(offset, 8, end), _DOUBLE.unpack_from(data, offset)[0]
    if tag == _TAG_f:
        return _need(offset, 4, end), Float32(_FLOAT.unpack_from(data, offset)[0])
    if tag == _TAG_T:
        return _need(offset, 8, end), timestamp(_TIMESTAMP.unpack_from(data, offset)[0])
    if tag == _TAG_D:
        places, raw = _DECIMAL.unpack_from(data, offset) if offset + 5 <= end else (0, 0)
        return _need(offset, 5, end), decimal.Decimal(raw) * (decimal.Decimal(10) ** -places)
    if tag == _TAG_V:
        return offset, None
    raise FieldError(f"unknown field type {bytes((tag,))!r}")


def timestamp(value: int) -> datetime.datetime:
    """A timestamp as pamqp reads it (values past 2106 taken as milliseconds)."""
    seconds: float = value / 1000.0 if value > 0xFFFFFFFF else value
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
