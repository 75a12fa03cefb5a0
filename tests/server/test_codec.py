"""The wire codec: the direct encoders of the hot path agree with the generic one,
and header values keep their AMQP types through a decode and re-encode."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pamqp import commands

from amqpmodel._properties import BasicProperties
from amqpmodel.server._codec import (
    DecodeError,
    content_frames,
    decode_method,
    decode_properties,
    deliver_frame,
    encode_table,
    get_ok_frame,
    method_frame,
)


def _method(method_class: type, **values: object) -> object:
    method = method_class.__new__(method_class)
    for name in method_class.__slots__:
        setattr(method, name, values[name])
    return method


@pytest.mark.parametrize("redelivered", [False, True])
@pytest.mark.parametrize("names", [("ctag", "", "rk"), ("é" * 100, "amq.topic", "a.b.c")])
def test_deliver_frame_matches_the_generic_encoder(
    redelivered: bool, names: tuple[str, ...]
) -> None:
    tag, exchange, routing_key = names
    expected = method_frame(
        7,
        _method(
            commands.Basic.Deliver,
            consumer_tag=tag,
            delivery_tag=2**40 + 3,
            redelivered=redelivered,
            exchange=exchange,
            routing_key=routing_key,
        ),  # type: ignore[arg-type]
    )
    assert deliver_frame(7, tag, 2**40 + 3, redelivered, exchange, routing_key) == expected


@pytest.mark.parametrize("redelivered", [False, True])
def test_get_ok_frame_matches_the_generic_encoder(redelivered: bool) -> None:
    expected = method_frame(
        1,
        _method(
            commands.Basic.GetOk,
            delivery_tag=5,
            redelivered=redelivered,
            exchange="x",
            routing_key="k",
            message_count=123456,
        ),  # type: ignore[arg-type]
    )
    assert get_ok_frame(1, 5, redelivered, "x", "k", 123456) == expected


def _headers_payload(table: bytes) -> bytes:
    return struct.pack(">H", 0x2000) + table  # flags: headers only


def test_header_types_survive_decode_and_reencode() -> None:
    raw_values = [
        b"\x03bbb" + b"b\xff",  # short-short int -1
        b"\x03sss" + b"s\x01\x00",  # short int 256
        b"\x03uuu" + b"u\xff\xff",  # unsigned short
        b"\x03iii" + b"i\xff\xff\xff\xff",  # unsigned long
        b"\x03lll" + b"l" + struct.pack(">q", 5),  # long-long that fits in 32 bits
        b"\x03fff" + b"f" + struct.pack(">f", 1.5),  # single float
        b"\x03xxx" + b"x\x00\x00\x00\x02\x00\xff",  # byte array
        b"\x03AAA" + b"A\x00\x00\x00\x04b\x01b\x02",  # array of short-short ints
    ]
    body = b"".join(raw_values)
    table = struct.pack(">I", len(body)) + body
    properties = decode_properties(_headers_payload(table))
    assert properties.headers is not None
    assert properties.headers["bbb"] == -1 and properties.headers["fff"] == 1.5
    assert properties.headers["AAA"] == [1, 2]
    assert encode_table(properties.headers) == table  # every type tag kept
    # a changed copy (as dead-lettering makes) is re-encoded with the same types
    changed = BasicProperties(headers=dict(properties.headers))
    header_frame = content_frames(1, changed, b"", 131072)[1]
    assert header_frame.endswith(table)


def _generic_decode(payload: bytes) -> dict[str, object]:
    from amqpmodel.server import _codec

    saved = dict(_codec._FAST_DECODERS)
    _codec._FAST_DECODERS.clear()
    try:
        method = decode_method(payload)
    finally:
        _codec._FAST_DECODERS.update(saved)
    return {name: getattr(method, name) for name in type(method).__slots__}


_SHORT = st.binary(max_size=255)


@settings(max_examples=300, deadline=None)
@given(
    ticket=st.integers(0, 0xFFFF),
    exchange=_SHORT,
    routing_key=_SHORT,
    bits=st.integers(0, 255),
    junk=st.binary(max_size=3),
    cut=st.integers(0, 600),
)
def test_the_fast_publish_decoder_agrees_with_the_generic_one(
    ticket: int, exchange: bytes, routing_key: bytes, bits: int, junk: bytes, cut: int
) -> None:
    payload = (
        struct.pack(">HHH", 60, 40, ticket)
        + bytes((len(exchange),))
        + exchange
        + bytes((len(routing_key),))
        + routing_key
        + bytes((bits,))
        + junk
    )[: max(4, cut)]
    try:
        expected = _generic_decode(payload)
    except DecodeError:
        expected = None
    try:
        method = decode_method(payload)
        got = {name: getattr(method, name) for name in type(method).__slots__}
    except DecodeError:
        got = None
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(tag=st.integers(0, 2**64 - 1), bits=st.integers(0, 255), junk=st.binary(max_size=2))
def test_the_fast_ack_decoder_agrees_with_the_generic_one(tag: int, bits: int, junk: bytes) -> None:
    # both refuse octets after the last argument, as RabbitMQ's parser (spec 9.4: 501)
    payload = struct.pack(">HHQB", 60, 80, tag, bits) + junk
    try:
        expected: dict[str, object] | None = _generic_decode(payload)
    except DecodeError:
        expected = None
    try:
        method = decode_method(payload)
        got: dict[str, object] | None = {
            name: getattr(method, name) for name in type(method).__slots__
        }
    except DecodeError:
        got = None
    assert got == expected
    assert (got is None) == bool(junk)
