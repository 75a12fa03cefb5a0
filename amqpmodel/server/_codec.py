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
from collections.abc import Callable
from typing import Any, cast

from pamqp import commands, decode, encode
from pamqp.base import Frame as Method

from amqpmodel.driver import (
    EMPTY_PROPERTIES,
    BasicProperties,
    EncodedProperties,
    Float32,
    is_utf8,
)
from amqpmodel.driver import TaggedInt as _TaggedInt

from ._fields import decode_short_string, decode_table, timestamp

__all__ = [
    "BIG_PART",
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
    "deliver_frame",
    "get_ok_frame",
    "has_malformed_utf8",
    "encode_method",
    "encode_table",
    "heartbeat_frame",
    "make_method",
    "method_frame",
    "method_ids",
]

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT = 1, 2, 3, 8
FRAME_END = 0xCE
# a body (or a view of one) at least this large is written as it is, never joined
# into a larger bytes object: so a body shared by many deliveries is not copied
BIG_PART = 65536
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


# pamqp's decoders for the fixed-size and long-string arguments; ours for the rest
_DECODERS: dict[str, Any] = decode.METHODS
_TABLE, _SHORT_STRING, _LONG_STRING, _LONG_LONG_TYPE = "table", "shortstr", "longstr", "longlong"
_LONG_STRING_LENGTH = struct.Struct(">I")


# ----------------------------------------------------------------- decoding


def decode_method(payload: bytes) -> Method:
    """A method frame's payload as a pamqp method object.

    Raises ``KeyError`` for an unknown class/method id (503) and
    ``DecodeError`` for a payload that does not decode (502).
    """
    if len(payload) < 4:
        raise DecodeError("method frame shorter than its class and method ids")
    (index,) = _METHOD_INDEX.unpack_from(payload)
    fast = _FAST_DECODERS.get(index)
    if fast is not None:
        decoded = fast(payload)
        if decoded is not None:
            return decoded
    method_class: Any = commands.INDEX_MAPPING[index]  # KeyError: unknown method
    method: Method = method_class.__new__(method_class)
    try:
        _unmarshal(method, payload)
    except Exception as error:  # struct.error, ValueError, IndexError...
        raise DecodeError(f"cannot decode {method_class.name}: {error}") from None
    return method


_ACK_ARGUMENTS = struct.Struct(">QB")


def _fast_ack(payload: bytes) -> Method | None:
    """basic.ack, sent once per consumed message: decoded without the generic walk.
    None (the generic decoder decides) unless the payload has exactly its size."""
    if len(payload) != 13:
        return None
    delivery_tag, bits = _ACK_ARGUMENTS.unpack_from(payload, 4)
    method: Any = _BasicAck.__new__(_BasicAck)
    method.delivery_tag = delivery_tag
    method.multiple = bool(bits & 1)
    return cast(Method, method)


def _fast_publish(payload: bytes) -> Method | None:
    """basic.publish (ticket, exchange, routing key, mandatory/immediate bits)."""
    end = len(payload)
    offset = 6  # class and method ids, the reserved ticket
    if end < offset + 1:
        return None
    length = payload[offset]
    exchange_end = offset + 1 + length
    if exchange_end >= end:
        return None
    key_length = payload[exchange_end]
    key_end = exchange_end + 1 + key_length
    if key_end + 1 != end:
        return None
    method: Any = _BasicPublish.__new__(_BasicPublish)
    method.ticket = (payload[4] << 8) | payload[5]
    method.exchange = payload[offset + 1 : exchange_end].decode("utf-8", "surrogateescape")
    method.routing_key = payload[exchange_end + 1 : key_end].decode("utf-8", "surrogateescape")
    bits = payload[key_end]
    method.mandatory = bool(bits & 1)
    method.immediate = bool(bits & 2)
    return cast(Method, method)


_BasicAck: Any = commands.Basic.Ack
_BasicPublish: Any = commands.Basic.Publish
_FAST_DECODERS: dict[int, Callable[[bytes], Method | None]] = {
    commands.Basic.Ack.index: _fast_ack,
    commands.Basic.Publish.index: _fast_publish,
}

_LAYOUTS: dict[type, tuple[tuple[str, str], ...]] = {}
_SHORT_STRINGS: dict[type, tuple[str, ...]] = {}


def has_malformed_utf8(method: Method) -> bool:
    """Whether a short string argument holds bytes that are not UTF-8 (kept as surrogates).

    RabbitMQ checks every short string of a method without content when it
    parses the frame (501 "Malformed UTF-8 in shortstr"); basic.publish is
    not checked, so its routing key passes through as it came.
    """
    names = _SHORT_STRINGS.get(type(method))
    if names is None:
        names = _SHORT_STRINGS[type(method)] = tuple(
            name for name, amqp_type in _layout(type(method)) if amqp_type == "shortstr"
        )
    for name in names:
        value = getattr(method, name, None)
        if isinstance(value, str) and not is_utf8(value):
            return True
    return False


def _layout(method_class: type[Method]) -> tuple[tuple[str, str], ...]:
    """A method's (argument, AMQP type) pairs, read once per method class."""
    layout = _LAYOUTS.get(method_class)
    if layout is None:
        layout = _LAYOUTS[method_class] = tuple(
            (name, method_class.amqp_type(name)) for name in method_class.__slots__
        )
    return layout


def _unmarshal(method: Method, data: bytes) -> None:
    """pamqp's ``Frame.unmarshal`` walk over the arguments (the payload after the
    class and method ids), but strict as RabbitMQ's parser: every argument inside
    the frame and nothing after the last one (501 "cannot decode" otherwise)."""
    offset = 4
    end = len(data)
    bit = -1
    value: Any
    for name, amqp_type in _layout(type(method)):
        if amqp_type == "bit":
            if bit < 0 or bit == 8:
                if bit == 8:
                    offset += 1
                bit = 0
            if offset >= end:
                raise ValueError("bit arguments missing")
            setattr(method, name, bool(data[offset] & (1 << bit)))
            bit += 1
            continue
        if bit >= 0:
            offset += 1
            bit = -1
        if amqp_type == _SHORT_STRING:
            offset, value = decode_short_string(data, offset, end)
        elif amqp_type == _TABLE:
            offset, value = decode_table(data, offset, end)
        elif amqp_type == _LONG_LONG_TYPE:  # unsigned (pamqp reads it signed)
            if offset + 8 > end:
                raise ValueError(f"{name} runs past the frame")
            value = _LONG_LONG.unpack_from(data, offset)[0]
            offset += 8
        else:
            if amqp_type == _LONG_STRING and (
                offset + 4 > end
                or offset + 4 + _LONG_STRING_LENGTH.unpack_from(data, offset)[0] > end
            ):
                raise ValueError("long string runs past the frame")
            consumed, value = _DECODERS[amqp_type](data[offset:])
            offset += consumed
        setattr(method, name, value)
    if bit >= 0:
        offset += 1
    if offset != end:
        raise ValueError(f"{end - offset} octets after the last argument")


def decode_properties(data: bytes) -> BasicProperties:
    """Content-header properties (flags and values, after class/weight/size).

    Decoded once on arrival and strictly (every value inside the frame, no
    octets after the last one, headers as ``decode_table``), so that a message
    whose properties a client could not decode never reaches a queue. The
    result keeps ``data`` so that deliveries can resend it unchanged.
    """
    if data == b"\x00\x00":
        return EMPTY_PROPERTIES
    try:
        end = len(data)
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
        for ours, _, flag, amqp_type in _PROPERTIES:
            if flags & flag:
                if amqp_type == _SHORT_STRING:
                    offset, values[ours] = decode_short_string(data, offset, end)
                elif amqp_type == _TABLE:
                    offset, values[ours] = decode_table(data, offset, end)
                elif amqp_type == "octet":
                    if offset >= end:
                        raise ValueError(f"{ours} runs past the frame")
                    values[ours] = data[offset]
                    offset += 1
                else:  # timestamp
                    if offset + 8 > end:
                        raise ValueError(f"{ours} runs past the frame")
                    values[ours] = timestamp(_TIMESTAMP.unpack_from(data, offset)[0])
                    offset += 8
        if offset != end:
            raise ValueError(f"{end - offset} octets after the last property")
    except Exception as error:
        raise DecodeError(f"cannot decode content header properties: {error}") from None
    return EncodedProperties.decoded(data, **values)


_TIMESTAMP = struct.Struct(">Q")


# ----------------------------------------------------------------- encoding


def encode_method(method: Method) -> bytes:
    """The payload of a method frame (class and method ids, then arguments).

    Same layout as pamqp's ``Frame.marshal`` but without its client-side
    checks on names, which RabbitMQ does not have.
    """
    output = [_METHOD_INDEX.pack(method.index)]
    bits = -1
    position = 0
    for name, amqp_type in _layout(type(method)):
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
        elif name == "reply_text":
            output.append(_reply_text(value or ""))
        elif amqp_type == "shortstr":
            output.append(_short_string(value if value is not None else ""))
        else:
            output.append(
                encode.by_type(value if value is not None else _ZERO.get(amqp_type, 0), amqp_type)
            )
    if bits >= 0:
        output.append(bytes((bits,)))
    return b"".join(output)


_ZERO = {"shortstr": "", "longstr": ""}


def make_method(method_class: type[Method], **values: Any) -> Method:
    """A pamqp method object without pamqp's client-side argument checks."""
    method = method_class.__new__(method_class)
    for name in method_class.__slots__:
        setattr(method, name, values.get(name))
    return method


def method_ids(method: Method) -> tuple[int, int]:
    """A method's class and method ids (a close's ``class_id``, ``method_id``)."""
    return method.index >> 16, method.index & 0xFFFF


def method_frame(channel: int, method: Method) -> bytes:
    payload = encode_method(method)
    return _FRAME_PREFIX.pack(FRAME_METHOD, channel, len(payload)) + payload + _FRAME_END_BYTE


_DELIVER_INDEX = _METHOD_INDEX.pack(commands.Basic.Deliver.index)
_GET_OK_INDEX = _METHOD_INDEX.pack(commands.Basic.GetOk.index)
_LONG_LONG = struct.Struct(">Q")
_LONG = struct.Struct(">I")


def deliver_frame(
    channel: int,
    consumer_tag: str,
    delivery_tag: int,
    redelivered: bool,
    exchange: str,
    routing_key: str,
) -> bytes:
    """basic.deliver, the one method sent per consumed message: built directly
    (same layout as ``encode_method``) rather than through a method object."""
    payload = b"".join(
        (
            _DELIVER_INDEX,
            _name(consumer_tag),
            _LONG_LONG.pack(delivery_tag),
            b"\x01" if redelivered else b"\x00",
            _name(exchange),
            _name(routing_key),
        )
    )
    return _FRAME_PREFIX.pack(FRAME_METHOD, channel, len(payload)) + payload + _FRAME_END_BYTE


def get_ok_frame(
    channel: int,
    delivery_tag: int,
    redelivered: bool,
    exchange: str,
    routing_key: str,
    message_count: int,
) -> bytes:
    """basic.get-ok, built directly like ``deliver_frame``."""
    payload = b"".join(
        (
            _GET_OK_INDEX,
            _LONG_LONG.pack(delivery_tag),
            b"\x01" if redelivered else b"\x00",
            _name(exchange),
            _name(routing_key),
            _LONG.pack(message_count),
        )
    )
    return _FRAME_PREFIX.pack(FRAME_METHOD, channel, len(payload)) + payload + _FRAME_END_BYTE


def heartbeat_frame() -> bytes:
    return _FRAME_PREFIX.pack(FRAME_HEARTBEAT, 0, 0) + _FRAME_END_BYTE


def _value(value: Any) -> bytes:
    """One field-table value with its type tag, as RabbitMQ would send it."""
    if isinstance(value, bool):
        return b"t\x01" if value else b"t\x00"
    if isinstance(value, _TaggedInt):
        return value.amqp_tag + struct.pack(value.amqp_format, value)
    if isinstance(value, Float32):
        return b"f" + struct.pack(">f", value)
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return b"I" + struct.pack(">i", value)
        if -(2**63) <= value < 2**63:
            return b"l" + struct.pack(">q", value)
        return b"l" + struct.pack(">Q", value)  # up to 2**64-1 (field values are checked)
    if isinstance(value, float):
        return b"d" + struct.pack(">d", value)
    if isinstance(value, str):
        data = _utf8(value)
        return b"S" + struct.pack(">I", len(data)) + data
    if isinstance(value, bytearray):
        return b"x" + struct.pack(">I", len(value)) + bytes(value)  # a byte array stays one
    if isinstance(value, bytes):
        return b"S" + struct.pack(">I", len(value)) + value
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


def _utf8(text: str) -> bytes:
    """UTF-8, with raw bytes that arrived as surrogates sent back as they came."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates (from in-process code): pass them
        return text.encode("utf-8", "surrogatepass")


def _reply_text(text: str) -> bytes:
    """A close's reply text as valid UTF-8 of at most 255 bytes.

    A name that arrived with bytes that are not UTF-8 (kept as surrogates) can
    end up quoted in an error; those bytes are sent as U+FFFD, so that a client
    that decodes reply texts strictly can still read the close.
    """
    data = _utf8(text).decode("utf-8", "replace").encode("utf-8")
    if len(data) > 255:
        data = data[:252].decode("utf-8", "ignore").encode("utf-8") + b"..."
    return bytes((len(data),)) + data


def _short_string(value: str | bytes) -> bytes:
    data = value if isinstance(value, bytes) else _utf8(value)
    if len(data) > 255:
        raise ValueError(f"short string of {len(data)} bytes (at most 255)")
    return bytes((len(data),)) + data


_ENCODED_NAMES: dict[str, bytes] = {}
_ENCODED_NAMES_MAX = 4096


def _name(value: str) -> bytes:
    """A consumer tag, exchange or routing key as a shortstr, remembered: the same
    few names are encoded into every delivery (a bounded cache, emptied when full)."""
    data = _ENCODED_NAMES.get(value)
    if data is None:
        data = _short_string(value)
        if len(_ENCODED_NAMES) >= _ENCODED_NAMES_MAX:
            _ENCODED_NAMES.clear()
        _ENCODED_NAMES[value] = data
    return data


def encode_table(table: dict[str, Any]) -> bytes:
    """A field table (keys in insertion order, as RabbitMQ keeps them)."""
    parts = []
    for key, value in table.items():
        parts.append(_short_string(key))
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
            parts.append(_short_string(value))
    return _PROPERTY_FLAGS.pack(flags) + b"".join(parts)


def content_frames(
    channel: int, properties: BasicProperties, body: bytes, frame_max: int
) -> list[bytes | memoryview]:
    """The content header frame and the body frames of one message.

    The body is never copied: it is one element of the list, or, when it needs
    several body frames, views of it; so a fanout of one body to many consumers
    shares it until each write (``ServerConnection._flush`` writes large parts
    as they are)."""
    # attrs.evolve (dead-lettering, BCC removal) copies the class but not ``encoded``
    encoded = (
        getattr(properties, "encoded", None) if type(properties) is EncodedProperties else None
    )
    if encoded is None:
        encoded = b"\x00\x00" if properties is EMPTY_PROPERTIES else _encode_properties(properties)
    header = _CONTENT_HEADER.pack(60, 0, len(body)) + encoded
    frames: list[bytes | memoryview] = [
        _FRAME_PREFIX.pack(FRAME_HEADER, channel, len(header)),
        header,
        _FRAME_END_BYTE,
    ]
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
                    chunk,
                    _FRAME_END_BYTE,
                )
    return frames
