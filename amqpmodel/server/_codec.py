"""Frames on the wire, through pamqp's codec.

pamqp decodes and encodes every AMQP type. This module adds what a *server*
needs on top of a client-oriented codec:

- splitting a byte stream into frames while checking ``frame_max`` and the
  frame-end octet, so that a bad frame gets the spec's 501 (spec 9.4) rather
  than a parse attempt;
- encoding methods without pamqp's client-side name checks (RabbitMQ allows
  any characters in names, spec 10.2, and those names come back to clients);
- encoding properties that were never on the wire (published in process or
  changed by dead-lettering) with the AMQP types RabbitMQ would send: floats
  as doubles, ``bytes`` as long strings, any delivery mode octet;
- reusing a message's encoded properties byte for byte when nothing changed
  (``EncodedProperties``), as RabbitMQ forwards them.
"""

from __future__ import annotations

import datetime
import decimal
import struct
from typing import Any

from pamqp import commands, decode, encode
from pamqp.base import Frame as Method

from amqpmodel._properties import EMPTY_PROPERTIES, BasicProperties, EncodedProperties

__all__ = [
    "FRAME_BODY",
    "FRAME_END",
    "FRAME_HEADER",
    "FRAME_HEARTBEAT",
    "FRAME_METHOD",
    "PROTOCOL_HEADER",
    "DecodeError",
    "Method",
    "content_frames",
    "decode_method",
    "decode_properties",
    "encode_method",
    "encode_table",
    "heartbeat_frame",
    "method_frame",
]

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT = 1, 2, 3, 8
FRAME_END = 0xCE
_FRAME_END_BYTE = b"\xce"
_FRAME_PREFIX = struct.Struct(">BHI")
_METHOD_INDEX = struct.Struct(">I")
_CONTENT_HEADER = struct.Struct(">HHQ")
_PROPERTY_FLAGS = struct.Struct(">H")

# property name -> (flag bit, pamqp type), in wire order; "type" is pamqp's "message_type"
_PROPERTIES: tuple[tuple[str, str, int, str], ...] = tuple(
    (
        ours,
        theirs,
        commands.Basic.Properties.flags[theirs],
        commands.Basic.Properties.amqp_type(theirs),
    )
    for ours, theirs in (
        ("content_type", "content_type"),
        ("content_encoding", "content_encoding"),
        ("headers", "headers"),
        ("delivery_mode", "delivery_mode"),
        ("priority", "priority"),
        ("correlation_id", "correlation_id"),
        ("reply_to", "reply_to"),
        ("expiration", "expiration"),
        ("message_id", "message_id"),
        ("timestamp", "timestamp"),
        ("type", "message_type"),
        ("user_id", "user_id"),
        ("app_id", "app_id"),
        ("cluster_id", "cluster_id"),
    )
)


class DecodeError(ValueError):
    """A frame whose payload pamqp could not decode (a syntax error, spec 9.1: 502)."""


# ----------------------------------------------------------------- decoding


def decode_method(payload: bytes) -> Method:
    """A method frame's payload as a pamqp method object.

    Raises ``KeyError`` for an unknown class/method id (503) and
    ``DecodeError`` for a payload that does not decode (502).
    """
    if len(payload) < 4:
        raise DecodeError("method frame shorter than its class and method ids")
    (index,) = _METHOD_INDEX.unpack_from(payload)
    method_class: Any = commands.INDEX_MAPPING[index]  # KeyError: unknown method
    method: Method = method_class.__new__(method_class)
    try:
        Method.unmarshal(method, payload[4:])
    except Exception as error:  # pamqp raises struct.error, ValueError, IndexError...
        raise DecodeError(f"cannot decode {method_class.name}: {error}") from None
    return method


def decode_properties(data: bytes) -> BasicProperties:
    """Content-header properties (flags and values, after class/weight/size).

    The result keeps ``data`` so that deliveries can resend it unchanged.
    """
    if data == b"\x00\x00":
        return EMPTY_PROPERTIES
    try:
        flags = 0
        offset = 0
        shift = 0
        while True:  # property flags continue while bit 0 is set
            (part,) = _PROPERTY_FLAGS.unpack_from(data, offset)
            offset += 2
            flags |= (part & 0xFFFE) << shift
            if not part & 1:
                break
            shift += 16
        values: dict[str, Any] = {}
        rest = data[offset:]
        for ours, _, flag, amqp_type in _PROPERTIES:
            if flags & flag:
                consumed, value = decode.by_type(rest, amqp_type)
                rest = rest[consumed:]
                values[ours] = value
    except Exception as error:
        raise DecodeError(f"cannot decode content header properties: {error}") from None
    return EncodedProperties.decoded(data, **values)


# ----------------------------------------------------------------- encoding


def encode_method(method: Method) -> bytes:
    """The payload of a method frame (class and method ids, then arguments).

    Same layout as pamqp's ``Frame.marshal`` but without its client-side
    checks on names, which RabbitMQ does not have.
    """
    output = [_METHOD_INDEX.pack(method.index)]
    bits = -1
    position = 0
    for name in method.__slots__:
        amqp_type = method.amqp_type(name)
        value = getattr(method, name, None)
        if amqp_type == "bit":
            if bits < 0:
                bits, position = 0, 0
            if value:
                bits |= 1 << position
            position += 1
            if position == 8:
                output.append(bytes((bits,)))
                bits = -1
            continue
        if bits >= 0:
            output.append(bytes((bits,)))
            bits = -1
        if amqp_type == "table":
            output.append(encode_table(value or {}))
        elif amqp_type == "shortstr" and isinstance(value, bytes):
            output.append(bytes((len(value),)) + value)
        else:
            output.append(
                encode.by_type(value if value is not None else _ZERO.get(amqp_type, 0), amqp_type)
            )
    if bits >= 0:
        output.append(bytes((bits,)))
    return b"".join(output)


_ZERO = {"shortstr": "", "longstr": ""}


def method_frame(channel: int, method: Method) -> bytes:
    payload = encode_method(method)
    return _FRAME_PREFIX.pack(FRAME_METHOD, channel, len(payload)) + payload + _FRAME_END_BYTE


def heartbeat_frame() -> bytes:
    return _FRAME_PREFIX.pack(FRAME_HEARTBEAT, 0, 0) + _FRAME_END_BYTE


def _value(value: Any) -> bytes:
    """One field-table value with its type tag, as RabbitMQ would send it."""
    if isinstance(value, bool):
        return b"t\x01" if value else b"t\x00"
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return b"I" + struct.pack(">i", value)
        if -(2**63) <= value < 2**63:
            return b"l" + struct.pack(">q", value)
        return b"l" + struct.pack(">Q", value)  # up to 2**64-1 (field values are checked)
    if isinstance(value, float):
        return b"d" + struct.pack(">d", value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return b"S" + struct.pack(">I", len(data)) + data
    if isinstance(value, (bytes, bytearray)):
        return b"S" + struct.pack(">I", len(value)) + bytes(value)
    if isinstance(value, dict):
        return b"F" + encode_table(value)
    if isinstance(value, (list, tuple)):
        items = b"".join(_value(item) for item in value)
        return b"A" + struct.pack(">I", len(items)) + items
    if isinstance(value, datetime.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)  # naive means UTC, as pika
    if value is None or isinstance(value, (decimal.Decimal, datetime.datetime)):
        return encode.encode_table_value(value)
    raise TypeError(f"{type(value).__name__} is not an AMQP field value")


def encode_table(table: dict[str, Any]) -> bytes:
    """A field table (keys in insertion order, as RabbitMQ keeps them)."""
    parts = []
    for key, value in table.items():
        name = key.encode("utf-8")
        parts.append(bytes((len(name),)) + name)
        parts.append(_value(value))
    data = b"".join(parts)
    return struct.pack(">I", len(data)) + data


def _encode_properties(properties: BasicProperties) -> bytes:
    flags = 0
    parts = []
    for ours, _, flag, amqp_type in _PROPERTIES:
        value = getattr(properties, ours)
        if value is None:
            continue
        flags |= flag
        if amqp_type == "table":
            parts.append(encode_table(value))
        elif amqp_type == "timestamp":
            if isinstance(value, datetime.datetime):
                if value.tzinfo is None:
                    value = value.replace(tzinfo=datetime.timezone.utc)
                value = int(value.timestamp())
            parts.append(struct.pack(">Q", value))
        elif amqp_type == "octet":
            parts.append(bytes((value,)))
        else:
            parts.append(encode.short_string(value))
    return _PROPERTY_FLAGS.pack(flags) + b"".join(parts)


def content_frames(
    channel: int, properties: BasicProperties, body: bytes, frame_max: int
) -> list[bytes]:
    """The content header frame and the body frames of one message."""
    # attrs.evolve (dead-lettering, BCC removal) copies the class but not ``encoded``
    encoded = (
        getattr(properties, "encoded", None) if type(properties) is EncodedProperties else None
    )
    if encoded is None:
        encoded = b"\x00\x00" if properties is EMPTY_PROPERTIES else _encode_properties(properties)
    header = _CONTENT_HEADER.pack(60, 0, len(body)) + encoded
    frames = [_FRAME_PREFIX.pack(FRAME_HEADER, channel, len(header)), header, _FRAME_END_BYTE]
    size = len(body)
    if size:
        limit = frame_max - 8
        if size <= limit:
            frames += (_FRAME_PREFIX.pack(FRAME_BODY, channel, size), body, _FRAME_END_BYTE)
        else:
            view = memoryview(body)
            for start in range(0, size, limit):
                chunk = view[start : start + limit]
                frames += (
                    _FRAME_PREFIX.pack(FRAME_BODY, channel, len(chunk)),
                    bytes(chunk),
                    _FRAME_END_BYTE,
                )
    return frames
