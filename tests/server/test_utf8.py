"""Names that are not UTF-8 are refused as RabbitMQ refuses them (501 "Malformed
UTF-8 in shortstr"); a routing key that is not UTF-8 is carried through unchanged."""

from __future__ import annotations

import struct

import pytest
from pamqp import commands, frame

from amqpmodel import Broker
from amqpmodel.server import ServerConnection
from amqpmodel.server._codec import decode_method, encode_method


def _open(broker: Broker) -> tuple[ServerConnection, list[bytes]]:
    written: list[bytes] = []
    connection = ServerConnection(broker, written.append, lambda: None)
    connection.data_received(
        b"AMQP\x00\x00\x09\x01"
        + frame.marshal(
            commands.Connection.StartOk(
                client_properties={}, mechanism="PLAIN", response="\x00guest\x00guest"
            ),
            0,
        )
        + frame.marshal(commands.Connection.TuneOk(2047, 131072, 0), 0)
        + frame.marshal(commands.Connection.Open(virtual_host="/"), 0)
        + frame.marshal(commands.Channel.Open(), 1)
    )
    written.clear()
    return connection, written


def _method(channel: int, index: int, arguments: bytes) -> bytes:
    payload = struct.pack(">I", index) + arguments
    return struct.pack(">BHI", 1, channel, len(payload)) + payload + b"\xce"


def _replies(written: list[bytes]) -> list[object]:
    data = b"".join(written)
    replies = []
    while len(data) >= 8:
        size = struct.unpack_from(">I", data, 3)[0]
        replies.append(frame.unmarshal(data[: size + 8])[2])
        data = data[size + 8 :]
    return replies


def test_queue_name_that_is_not_utf8_is_a_frame_error() -> None:
    broker = Broker()
    connection, written = _open(broker)
    name = b"\xe6uzz"
    # queue.declare: ticket, queue, bits, arguments
    arguments = b"\x00\x00" + bytes((len(name),)) + name + b"\x00" + b"\x00\x00\x00\x00"
    connection.data_received(_method(1, commands.Queue.Declare.index, arguments))
    (close,) = _replies(written)
    assert isinstance(close, commands.Connection.Close)
    assert (close.reply_code, close.reply_text) == (
        501,
        "FRAME_ERROR - Malformed UTF-8 in shortstr",
    )
    assert broker.queues == {}


def test_routing_key_that_is_not_utf8_reaches_the_consumer_unchanged() -> None:
    broker = Broker()
    broker.connect().channel().exchange_declare("fan", "fanout")
    broker.connect().channel().queue_declare("q")
    broker.connect().channel().queue_bind("q", "fan")
    connection, written = _open(broker)
    key = b"\xff\xfe.key"
    publish = b"\x00\x00" + b"\x03fan" + bytes((len(key),)) + key + b"\x00"
    header = struct.pack(">HHQ", 60, 0, 1) + b"\x00\x00"
    connection.data_received(
        _method(1, commands.Basic.Publish.index, publish)
        + struct.pack(">BHI", 2, 1, len(header))
        + header
        + b"\xce"
        + struct.pack(">BHI", 3, 1, 1)
        + b"x\xce"
        + frame.marshal(commands.Basic.Get(queue="q", no_ack=True), 1)
    )
    data = b"".join(written)
    size = struct.unpack_from(">I", data, 3)[0]
    get_ok = decode_method(data[7 : 7 + size])  # pamqp, a client codec, would refuse it
    assert isinstance(get_ok, commands.Basic.GetOk)
    assert get_ok.routing_key.encode("utf-8", "surrogateescape") == key  # the original bytes
    assert broker.queues["q"].stats.acked == 1


@pytest.mark.parametrize(
    ("index", "arguments"),
    [
        # exchange.declare: ticket, exchange, type "\xceopic", bits, arguments
        (
            commands.Exchange.Declare.index,
            b"\x00\x00" + b"\x01x" + b"\x05\xceopic" + b"\x00" + b"\x00\x00\x00\x00",
        ),
        # basic.consume: ticket, queue, consumer tag "\xe3", bits, arguments
        (
            commands.Basic.Consume.index,
            b"\x00\x00" + b"\x01q" + b"\x01\xe3" + b"\x00" + b"\x00\x00\x00\x00",
        ),
        # queue.bind: ticket, queue, exchange, routing key "\xff", bits, arguments
        (
            commands.Queue.Bind.index,
            b"\x00\x00"
            + b"\x01q"
            + b"\x0aamq.fanout"
            + b"\x01\xff"
            + b"\x00"
            + b"\x00\x00\x00\x00",
        ),
    ],
    ids=["exchange-type", "consumer-tag", "binding-key"],
)
def test_any_short_string_that_is_not_utf8_is_a_frame_error(index: int, arguments: bytes) -> None:
    # RabbitMQ checks every short string of a method without content (spec 9.4:
    # 501); only basic.publish is left unchecked (the routing key test above)
    broker = Broker()
    broker.connect().channel().queue_declare("q")
    connection, written = _open(broker)
    connection.data_received(_method(1, index, arguments))
    (close,) = _replies(written)
    assert isinstance(close, commands.Connection.Close)
    assert (close.reply_code, close.reply_text, close.class_id, close.method_id) == (
        501,
        "FRAME_ERROR - Malformed UTF-8 in shortstr",
        0,
        0,  # RabbitMQ 3.10 answers the same, checked by hand
    )
    assert broker.queues["q"].consumer_count == 0
    assert [b for b in broker.bindings if b.destination == "q" and b.source] == []


def test_reply_text_is_always_valid_utf8() -> None:
    # a reply text that quotes bytes which are not UTF-8 (surrogates) still
    # goes out as UTF-8 a strict client decodes, and within 255 bytes
    for text in ("NOT_FOUND - no queue '\udcceq'", "PRECONDITION_FAILED - " + "\udcff" * 200):
        close = commands.Channel.Close.__new__(commands.Channel.Close)
        close.reply_code, close.reply_text, close.class_id, close.method_id = 404, text, 50, 10
        payload = encode_method(close)
        decoded = frame.unmarshal(struct.pack(">BHI", 1, 1, len(payload)) + payload + b"\xce")[
            2
        ]  # pamqp decodes short strings strictly
        assert isinstance(decoded, commands.Channel.Close)
        assert "\ufffd" in decoded.reply_text
        assert len(decoded.reply_text.encode("utf-8")) <= 255
