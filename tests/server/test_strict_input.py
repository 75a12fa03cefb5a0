"""Strict decoding on arrival: malformed properties and method arguments never reach a queue.

Raw frames over a socket, against amqpmodel and (with ``AMQPMODEL_RABBITMQ_URL``)
RabbitMQ 3.10, with the helpers and fixtures of ``test_bad_input``. Where
3.10 answers otherwise than the spec, the spec wins and the RabbitMQ run is
an expected failure naming what 3.10 does.
"""

from __future__ import annotations

import struct
from typing import Any

import pika
import pytest
from pamqp import body as pamqp_body
from pamqp import commands
from test_bad_input import (  # the raw-socket helpers and fixtures of the bad-input cases
    Bystander,
    Endpoint,
    _amqpmodel_server,
    bystander,
    connection_level,
    frame,
    handshake,
    method_payload,
    queue_messages,
    rabbitmq_differs,
    raw_frame,
    server,
    unique,
)

from amqpmodel.server._fields import MAX_NESTING

__all__ = ["_amqpmodel_server", "bystander", "server"]  # fixtures, used by name

HEADERS_FLAG = 0x2000
CONTENT_TYPE_FLAG = 0x8000


def _table(entries: bytes) -> bytes:
    return struct.pack(">I", len(entries)) + entries


def _content_header(channel: int, size: int, properties: bytes) -> bytes:
    return raw_frame(2, channel, struct.pack(">HHQ", 60, 0, size) + properties)


def _short(text: str) -> bytes:
    data = text.encode()
    return bytes((len(data),)) + data


def _nested_table(depth: int) -> bytes:
    """{"k": {"k": ... {} ...}}: ``depth`` tables inside the outermost one."""
    inner = b""
    for _ in range(depth):
        inner = b"\x01kF" + _table(inner)
    return _table(inner)


MALFORMED_PROPERTIES = {
    "key-without-type-and-value": struct.pack(">H", HEADERS_FLAG) + _table(b"\x03abc"),
    "long-string-past-its-table": struct.pack(">H", HEADERS_FLAG)
    + _table(b"\x01kS\x00\x00\x00\x10ab"),
    "value-past-its-table": struct.pack(">H", HEADERS_FLAG) + _table(b"\x01kI\x00\x00"),
    "unknown-field-type": struct.pack(">H", HEADERS_FLAG) + _table(b"\x01kZ\x00\x00"),
    "zero-field-type": struct.pack(">H", HEADERS_FLAG) + _table(b"\x01k\x00"),
    "table-past-the-frame": struct.pack(">H", HEADERS_FLAG)
    + struct.pack(">I", 100)
    + b"\x01kt\x01",
    "junk-after-the-properties": struct.pack(">H", CONTENT_TYPE_FLAG) + b"\x03abcJUNK",
    "short-string-past-the-frame": struct.pack(">H", CONTENT_TYPE_FLAG) + b"\x09abc",
    "nested-too-deep": struct.pack(">H", HEADERS_FLAG) + _nested_table(MAX_NESTING + 1),
}


@pytest.mark.parametrize("properties", MALFORMED_PROPERTIES.values(), ids=MALFORMED_PROPERTIES)
def test_malformed_properties_are_refused_and_never_queued(
    request: pytest.FixtureRequest, server: Endpoint, bystander: Bystander, properties: bytes
) -> None:
    # spec 9.1 / 9.4: properties are decoded on arrival; a content header that does not
    # decode is the sender's error (502 SYNTAX_ERROR, class 60 method 40), and the
    # message never reaches the queue (its consumers' clients could not decode it either)
    rabbitmq_differs(request, server, "answers 541 INTERNAL_ERROR (its channel crashes)")
    wire = handshake(server)
    queue = unique("properties")
    wire.send(frame(commands.Queue.Declare(queue=queue), 1))
    wire.expect(commands.Queue.DeclareOk, 1)
    wire.send(
        frame(commands.Basic.Publish(exchange="", routing_key=queue), 1)
        + _content_header(1, 3, properties)
        + frame(pamqp_body.ContentBody(b"abc"), 1)
    )
    close = connection_level(wire, 502, "SYNTAX_ERROR")
    assert (close.class_id, close.method_id) == (60, 40)
    assert queue_messages(server, queue) == 0


def test_well_formed_properties_still_pass_byte_for_byte(
    server: Endpoint, bystander: Bystander
) -> None:
    # every field type RabbitMQ's parser knows, nested MAX_NESTING deep: delivered as sent
    entries = b"".join(
        (
            b"\x01S" + b"S" + struct.pack(">I", 3) + b"abc",
            b"\x01I" + b"I" + struct.pack(">i", -5),
            b"\x01b" + b"b\xff" + b"\x01B" + b"B\xff" + b"\x01s" + b"s\x00\x01",
            b"\x01u" + b"u\x00\x01" + b"\x01i" + b"i\x00\x00\x00\x01",
            b"\x01l" + b"l" + struct.pack(">q", -1) + b"\x01L" + b"L" + struct.pack(">q", 7),
            b"\x01d" + b"d" + struct.pack(">d", 1.25) + b"\x01f" + b"f" + struct.pack(">f", 0.5),
            b"\x01D" + b"D\x02\x00\x00\x01\x00" + b"\x01T" + b"T" + struct.pack(">Q", 1),
            b"\x01t" + b"t\x01" + b"\x01V" + b"V" + b"\x01x" + b"x\x00\x00\x00\x01\xff",
            b"\x01A" + b"A" + _table(b"I\x00\x00\x00\x01" + b"S\x00\x00\x00\x00"),
            b"\x01F" + b"F" + _nested_table(MAX_NESTING - 1),
        )
    )
    properties = struct.pack(">H", HEADERS_FLAG) + _table(entries)
    wire = handshake(server)
    queue = unique("properties-ok")
    wire.send(frame(commands.Queue.Declare(queue=queue, auto_delete=True), 1))
    wire.expect(commands.Queue.DeclareOk, 1)
    wire.send(
        frame(commands.Basic.Publish(exchange="", routing_key=queue), 1)
        + _content_header(1, 3, properties)
        + frame(pamqp_body.ContentBody(b"abc"), 1)
    )
    wire.send(frame(commands.Basic.Get(queue=queue, no_ack=True), 1))
    wire.expect(commands.Basic.GetOk, 1)
    header = wire.read_bytes(7)
    size = struct.unpack_from(">I", header, 3)[0]
    payload = wire.read_bytes(size + 1)
    assert payload[12:-1] == properties  # after class, weight and body size
    wire.close()


def _queue_declare(queue: str, arguments: bytes, after: bytes = b"") -> bytes:
    fields = struct.pack(">H", 0) + _short(queue) + b"\x00" + arguments + after
    return raw_frame(1, 1, method_payload(50, 10, fields))


@pytest.mark.parametrize(
    ("arguments", "after"),
    [
        pytest.param(_table(b""), b"JUNK", id="junk-after-the-arguments"),
        pytest.param(_table(b""), b"\x00", id="one-octet-after-the-arguments"),
        pytest.param(struct.pack(">I", 50) + b"\x01kt\x01", b"", id="table-past-the-frame"),
    ],
)
def test_method_arguments_with_junk_are_frame_errors(
    server: Endpoint, bystander: Bystander, arguments: bytes, after: bytes
) -> None:
    # spec 9.4 (RabbitMQ: 501 "cannot decode", class and method of the frame): method
    # fields must fill the frame exactly
    wire = handshake(server)
    queue = unique("junk")
    wire.send(_queue_declare(queue, arguments, after))
    close = connection_level(wire, 501, "FRAME_ERROR")
    assert (close.class_id, close.method_id) == (50, 10)
    assert queue_messages(server, queue) is None  # never declared


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(_table(b"\x01kS\x00\x00\x00\x10ab"), id="string-past-its-table"),
        pytest.param(_table(b"\x03abc"), id="key-without-type-and-value"),
        pytest.param(_table(b"\x01kZ\x00\x00"), id="unknown-field-type"),
    ],
)
def test_malformed_argument_tables_are_frame_errors(
    request: pytest.FixtureRequest, server: Endpoint, bystander: Bystander, arguments: bytes
) -> None:
    # spec 9.4: 501 for a method frame that does not decode
    rabbitmq_differs(request, server, "closes the socket without connection.close")
    wire = handshake(server)
    queue = unique("bad-table")
    wire.send(_queue_declare(queue, arguments))
    close = connection_level(wire, 501, "FRAME_ERROR")
    assert (close.class_id, close.method_id) == (50, 10)


def _bind(method_id: int, queue: str, arguments: bytes) -> bytes:
    """queue.bind (20, with its nowait bit) or queue.unbind (50, none) to amq.headers."""
    fields = struct.pack(">H", 0) + _short(queue) + _short("amq.headers") + _short("")
    nowait = b"\x00" if method_id == 20 else b""
    return raw_frame(1, 1, method_payload(50, method_id, fields + nowait + arguments))


def test_arguments_nested_as_deep_as_the_decoder_accepts_bind_and_unbind(
    server: Endpoint, bystander: Bystander
) -> None:
    # spec 9.1: no 541 for any input the decoder accepts (MAX_NESTING levels of tables)
    wire = handshake(server)
    queue = unique("nested")
    wire.send(frame(commands.Queue.Declare(queue=queue, auto_delete=True), 1))
    wire.expect(commands.Queue.DeclareOk, 1)
    arguments = _nested_table(MAX_NESTING)
    wire.send(_bind(20, queue, arguments))
    wire.expect(commands.Queue.BindOk, 1)
    wire.send(_bind(20, queue, arguments))  # the same binding again: compared, not added
    wire.expect(commands.Queue.BindOk, 1)
    wire.send(_bind(50, queue, arguments))
    wire.expect(commands.Queue.UnbindOk, 1)
    wire.close()


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 450, 5000])
def test_arguments_nested_deeper_than_the_decoder_accepts_are_frame_errors(
    request: pytest.FixtureRequest, server: Endpoint, bystander: Bystander, depth: int
) -> None:
    # spec 9.1 / 9.4: refused as an undecodable frame (501), never 541 INTERNAL_ERROR
    rabbitmq_differs(request, server, "has no depth limit and binds")
    wire = handshake(server)
    queue = unique("too-deep")
    wire.send(frame(commands.Queue.Declare(queue=queue, auto_delete=True), 1))
    wire.expect(commands.Queue.DeclareOk, 1)
    wire.send(_bind(20, queue, _nested_table(depth)))
    close = connection_level(wire, 501, "FRAME_ERROR")
    assert (close.class_id, close.method_id) == (50, 20)


def test_deep_headers_reach_a_pika_consumer(amqp_url: str) -> None:
    # the deepest headers the server accepts are ones pika can decode too
    headers: dict[str, Any] = {}
    for _ in range(MAX_NESTING):
        headers = {"k": headers}
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.basic_publish("", queue, b"deep", pika.BasicProperties(headers=headers))
        method, properties, body = channel.basic_get(queue, auto_ack=True)
        assert method is not None and body == b"deep"
        assert properties.headers == headers
    finally:
        connection.close()
