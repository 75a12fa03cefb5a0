"""Names that are not UTF-8 are refused as RabbitMQ refuses them (501 "Malformed
UTF-8 in shortstr"); a routing key that is not UTF-8 is carried through unchanged."""

from __future__ import annotations

import struct

from pamqp import commands, frame

from amqpmodel import Broker
from amqpmodel.server import ServerConnection
from amqpmodel.server._codec import decode_method


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


def test_error_quoting_bytes_that_are_not_utf8_is_still_readable_spec_9_2() -> None:
    # an unknown exchange type (spec 1.6) is quoted in the reply text; bytes that
    # are not UTF-8 go out as U+FFFD so that a strict client can decode the close
    broker = Broker()
    connection, written = _open(broker)
    kind = b"\xceopic"
    # exchange.declare: ticket, exchange, type, bits, arguments
    arguments = b"\x00\x00" + b"\x01x" + bytes((len(kind),)) + kind + b"\x00" + b"\x00\x00\x00\x00"
    connection.data_received(_method(1, commands.Exchange.Declare.index, arguments))
    (close,) = _replies(written)  # pamqp decodes short strings strictly
    assert isinstance(close, commands.Channel.Close)
    assert close.reply_code == 406
    assert close.reply_text == "PRECONDITION_FAILED - unknown exchange type '\ufffdopic'"
