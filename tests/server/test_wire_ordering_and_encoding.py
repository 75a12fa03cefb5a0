"""The socket adapter's frame ordering, confirms, channel life cycle and field types.

Most cases speak raw AMQP 0-9-1 over a plain socket (frames built with pamqp or
by hand) so that several frames can reach the server in one TCP segment, as a
pipelining client sends them. Cases parametrized with ``endpoint`` also run
against the real RabbitMQ on 127.0.0.1:5673 when it is reachable, to show that
the expected behaviour is RabbitMQ's.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pamqp import body as pamqp_body
from pamqp import commands
from pamqp import frame as pamqp_frame
from pamqp import header as pamqp_header

from amqpmodel import Broker
from amqpmodel.server import serve
from amqpmodel.testing import assert_accounted

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
RABBITMQ = ("127.0.0.1", 5673)
QUIET = 0.3  # seconds of silence that end a read of "everything the server sends now"


# ----------------------------------------------------------------- a raw client


class RawClient:
    """A minimal AMQP client over a socket: send frames, read frames back."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        frame_max: int = 131072,
        heartbeat: int = 0,
        capabilities: dict[str, Any] | None = None,
    ) -> None:
        self.sock = socket.create_connection(address, timeout=3)
        self.buffer = b""
        self.sock.sendall(PROTOCOL_HEADER)
        self.expect(commands.Connection.Start)
        caps = (
            capabilities
            if capabilities is not None
            else {"consumer_cancel_notify": True, "publisher_confirms": True, "basic.nack": True}
        )
        self.send(
            0,
            commands.Connection.StartOk(
                client_properties={"capabilities": caps},
                mechanism="PLAIN",
                response="\x00guest\x00guest",
                locale="en_US",
            ),
        )
        self.tune = self.expect(commands.Connection.Tune)
        self.send(
            0,
            commands.Connection.TuneOk(
                channel_max=self.tune.channel_max, frame_max=frame_max, heartbeat=heartbeat
            ),
        )
        self.send(0, commands.Connection.Open(virtual_host="/"))
        self.expect(commands.Connection.OpenOk)

    def close(self) -> None:
        self.sock.close()

    def send(self, channel: int, *values: Any) -> None:
        self.sock.sendall(b"".join(pamqp_frame.marshal(value, channel) for value in values))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, timeout: float = 2.0) -> tuple[int, Any] | str | None:
        """The next frame as (channel, value); "EOF" when the socket closed; None on timeout.

        Content frames come back as ("header", payload) and ("body", payload).
        """
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buffer) >= 7:
                frame_type, channel, size = struct.unpack_from(">BHI", self.buffer)
                if len(self.buffer) >= size + 8:
                    raw = self.buffer[: size + 8]
                    self.buffer = self.buffer[size + 8 :]
                    if frame_type == 2:
                        return channel, ("header", raw[7:-1])
                    if frame_type == 3:
                        return channel, ("body", raw[7:-1])
                    if frame_type == 8:
                        return channel, ("heartbeat", b"")
                    _, channel, value = pamqp_frame.unmarshal(raw)
                    return channel, value
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            except ConnectionResetError:
                return "EOF"
            if not data:
                return "EOF"
            self.buffer += data

    def expect(self, cls: type, timeout: float = 2.0) -> Any:
        got = self.read(timeout)
        assert isinstance(got, tuple) and isinstance(got[1], cls), (cls.__name__, got)
        return got[1]

    def collect(self, quiet: float = QUIET) -> list[Any]:
        """Every frame until the server has been silent for ``quiet`` seconds (or EOF)."""
        frames: list[Any] = []
        while True:
            got = self.read(quiet)
            if got is None:
                return frames
            frames.append(got)
            if got == "EOF":
                return frames

    def open_channel(self, channel: int, confirm: bool = False) -> None:
        self.send(channel, commands.Channel.Open())
        self.expect(commands.Channel.OpenOk)
        if confirm:
            self.send(channel, commands.Confirm.Select())
            self.expect(commands.Confirm.SelectOk)


def names(frames: list[Any]) -> list[Any]:
    """Frames as (channel, name) for readable assertions."""
    result: list[Any] = []
    for item in frames:
        if item == "EOF":
            result.append("EOF")
            continue
        channel, value = item
        result.append((channel, value[0] if isinstance(value, tuple) else value.name))
    return result


def method_frame(channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", 1, channel, len(payload)) + payload + b"\xce"


def publish(
    channel: int,
    exchange: str,
    routing_key: str,
    body: bytes,
    *,
    mandatory: bool = False,
    properties: commands.Basic.Properties | None = None,
    frame_max: int = 131072,
) -> bytes:
    """basic.publish with its content header and body frames, as bytes."""
    data = pamqp_frame.marshal(
        commands.Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=mandatory),
        channel,
    )
    data += pamqp_frame.marshal(
        pamqp_header.ContentHeader(0, len(body), properties or commands.Basic.Properties()),
        channel,
    )
    limit = frame_max - 8
    for start in range(0, len(body), limit):
        data += pamqp_frame.marshal(pamqp_body.ContentBody(body[start : start + limit]), channel)
    return data


def channel_close(channel: int) -> bytes:
    return pamqp_frame.marshal(
        commands.Channel.Close(reply_code=200, reply_text="bye", class_id=0, method_id=0), channel
    )


def unique(prefix: str = "rv") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ----------------------------------------------------------------- servers


@pytest.fixture
def review_broker() -> Iterator[Broker]:
    broker = Broker()
    yield broker
    assert_accounted(broker)


@pytest.fixture
def address(review_broker: Broker) -> Iterator[tuple[str, int]]:
    with serve(review_broker) as url:
        yield ("127.0.0.1", int(url.rsplit(":", 1)[1].split("/", 1)[0]))


def _rabbitmq_up() -> bool:
    try:
        socket.create_connection(RABBITMQ, timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture(params=["amqpmodel", "rabbitmq"])
def endpoint(request: pytest.FixtureRequest) -> tuple[str, int]:
    """amqpmodel's server, and (when reachable) the real RabbitMQ for comparison."""
    if request.param == "rabbitmq":
        if not _rabbitmq_up():
            pytest.skip("no RabbitMQ on 127.0.0.1:5673")
        return RABBITMQ
    result: tuple[str, int] = request.getfixturevalue("address")
    return result


# ----------------------------------------------------------------- spec 8.2/8.4: returns and acks are not lost


def test_return_and_ack_precede_close_ok_when_sent_in_one_segment(
    endpoint: tuple[str, int],
) -> None:
    # spec 8.2, 8.4: a mandatory unroutable publish on a confirming channel gets
    # basic.return then basic.ack, even when channel.close follows in the same
    # segment; close-ok comes after them (RabbitMQ handles frames in order).
    client = RawClient(endpoint)
    client.open_channel(1, confirm=True)
    client.send_raw(publish(1, "", unique("nowhere"), b"hi", mandatory=True) + channel_close(1))
    assert names(client.collect()) == [
        (1, "Basic.Return"),
        (1, "header"),
        (1, "body"),
        (1, "Basic.Ack"),
        (1, "Channel.CloseOk"),
    ]
    client.close()


def test_return_and_ack_precede_channel_error_in_same_segment(
    endpoint: tuple[str, int],
) -> None:
    # spec 8.2, 8.4, 9.1: the publish before a failing method is still returned
    # and confirmed before the 404 channel.close
    client = RawClient(endpoint)
    client.open_channel(1, confirm=True)
    client.send_raw(
        publish(1, "", unique("nowhere"), b"hi", mandatory=True)
        + pamqp_frame.marshal(commands.Queue.Declare(queue=unique("missing"), passive=True), 1)
    )
    frames = client.collect()
    assert names(frames) == [
        (1, "Basic.Return"),
        (1, "header"),
        (1, "body"),
        (1, "Basic.Ack"),
        (1, "Channel.Close"),
    ]
    assert frames[-1][1].reply_code == 404
    client.close()


def test_return_and_ack_precede_connection_close_ok(endpoint: tuple[str, int]) -> None:
    # spec 8.2/8.4: connection.close right behind a publish does not swallow its return and ack
    client = RawClient(endpoint)
    client.open_channel(1, confirm=True)
    client.send_raw(
        publish(1, "", unique("nowhere"), b"hi", mandatory=True)
        + pamqp_frame.marshal(
            commands.Connection.Close(reply_code=200, reply_text="bye", class_id=0, method_id=0),
            0,
        )
    )
    frames = [name for name in names(client.collect()) if name != "EOF"]
    assert frames == [
        (1, "Basic.Return"),
        (1, "header"),
        (1, "body"),
        (1, "Basic.Ack"),
        (0, "Connection.CloseOk"),
    ]
    client.close()


def test_socket_after_close_ok_is_the_clients_to_close(endpoint: tuple[str, int]) -> None:
    # AMQP 0-9-1 connection.close-ok: its receiver may now close the socket. The
    # server that sent it leaves the socket open for the client (RabbitMQ does),
    # so a client still flushing frames does not get a reset.
    client = RawClient(endpoint)
    client.send(
        0, commands.Connection.Close(reply_code=200, reply_text="bye", class_id=0, method_id=0)
    )
    client.expect(commands.Connection.CloseOk)
    assert client.read(timeout=0.5) is None  # no EOF: still open
    client.send_raw(pamqp_frame.marshal(commands.Channel.Open(), 1))  # ignored, not reset
    assert client.read(timeout=0.3) is None
    client.close()


def test_server_hangs_up_a_client_that_keeps_the_socket_after_close_ok(
    address: tuple[str, int], review_broker: Broker
) -> None:
    # ... but not for ever: after the heartbeat timeout (at most 30 s)
    client = RawClient(address, heartbeat=1)
    client.send(
        0, commands.Connection.Close(reply_code=200, reply_text="bye", class_id=0, method_id=0)
    )
    client.expect(commands.Connection.CloseOk)
    assert review_broker.connections == []  # closed for the broker at once
    frames = client.collect(quiet=3.0)
    assert frames and frames[-1] == "EOF"
    client.close()


# ----------------------------------------------------------------- spec 10.2: no character rules on routing keys


def test_routing_key_that_is_not_utf8_is_accepted(endpoint: tuple[str, int]) -> None:
    # spec 10.2: no character rules; RabbitMQ takes any octets in a routing key
    client = RawClient(endpoint)
    client.open_channel(1)
    key = b"\xff\xfe"
    payload = struct.pack(">HHH", 60, 40, 0) + b"\x00" + bytes((len(key),)) + key + b"\x00"
    client.send_raw(
        method_frame(1, payload)
        + pamqp_frame.marshal(pamqp_header.ContentHeader(0, 2, commands.Basic.Properties()), 1)
        + pamqp_frame.marshal(pamqp_body.ContentBody(b"hi"), 1)
        + pamqp_frame.marshal(commands.Basic.Qos(prefetch_count=1), 1)
    )
    frames = client.collect()
    assert names(frames) == [(1, "Basic.QosOk")], [
        (channel, getattr(value, "reply_text", value)) for channel, value in frames
    ]
    client.close()


# ----------------------------------------------------------------- field types survive a re-encoding


def _entry(key: bytes, tag: bytes, data: bytes) -> bytes:
    return bytes((len(key),)) + key + tag + data


FIELD_ENTRIES = {
    "float f": _entry(b"f", b"f", struct.pack(">f", 1.5)),
    "short-short b": _entry(b"b", b"b", struct.pack(">b", -3)),
    "short s": _entry(b"s", b"s", struct.pack(">h", -300)),
    "unsigned short u": _entry(b"u", b"u", struct.pack(">H", 60000)),
    "unsigned byte B": _entry(b"B", b"B", struct.pack(">B", 200)),
    "unsigned long i": _entry(b"i", b"i", struct.pack(">I", 4000000000)),
    "byte array x": _entry(b"x", b"x", struct.pack(">I", 3) + b"\x00\x01\xff"),
    "array of b and s": _entry(b"A", b"A", struct.pack(">I", 5) + b"b\x05s\x00\x07"),
    "nested array": _entry(
        b"N", b"A", struct.pack(">I", 11) + b"A" + struct.pack(">I", 6) + b"f" + b"\x00" * 4 + b"V"
    ),
    "decimal D": _entry(b"D", b"D", b"\x02" + struct.pack(">i", 150)),
    "void V": _entry(b"V", b"V", b""),
}


@pytest.mark.parametrize("entry", FIELD_ENTRIES.values(), ids=FIELD_ENTRIES.keys())
def test_header_field_types_survive_dead_lettering(endpoint: tuple[str, int], entry: bytes) -> None:
    # spec 4 (dead lettering adds x-death) with 10.2: the other headers reach the
    # dead-letter queue with the field types the publisher used, as on RabbitMQ
    client = RawClient(endpoint)
    client.open_channel(1)
    queue, dead = unique("q"), unique("dlq")
    client.send(1, commands.Queue.Declare(queue=dead))
    client.expect(commands.Queue.DeclareOk)
    client.send(
        1,
        commands.Queue.Declare(
            queue=queue,
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead},
        ),
    )
    client.expect(commands.Queue.DeclareOk)
    table = struct.pack(">I", len(entry)) + entry
    header = struct.pack(">HHQ", 60, 0, 2) + struct.pack(">H", 1 << 13) + table
    client.send_raw(
        pamqp_frame.marshal(commands.Basic.Publish(exchange="", routing_key=queue), 1)
        + struct.pack(">BHI", 2, 1, len(header))
        + header
        + b"\xce"
        + pamqp_frame.marshal(pamqp_body.ContentBody(b"hi"), 1)
    )
    client.send(1, commands.Basic.Get(queue=queue))
    ok = client.expect(commands.Basic.GetOk)
    first = client.read()
    assert isinstance(first, tuple) and entry in first[1][1]  # forwarded byte for byte
    client.read()
    client.send(1, commands.Basic.Reject(delivery_tag=ok.delivery_tag, requeue=False))
    client.send(1, commands.Basic.Get(queue=dead))
    ok = client.expect(commands.Basic.GetOk)
    dead_lettered = client.read()
    client.read()
    client.send(1, commands.Basic.Ack(delivery_tag=ok.delivery_tag))
    client.send(1, commands.Queue.Delete(queue=queue), commands.Queue.Delete(queue=dead))
    client.expect(commands.Queue.DeleteOk)
    client.expect(commands.Queue.DeleteOk)
    client.close()
    assert isinstance(dead_lettered, tuple)
    assert entry in dead_lettered[1][1], dead_lettered[1][1][12:]


# ----------------------------------------------------------------- serve() with in-process users on other threads


def test_ttl_of_message_published_in_process_from_another_thread_expires_for_wire_consumer(
    review_broker: Broker,
) -> None:
    # spec 3 (message TTL) and 4 (dead lettering on expiry): a message published
    # in process from another thread expires after its TTL and reaches the
    # dead-letter queue's wire consumer without any further I/O
    import pika

    with serve(review_broker) as url:
        params = pika.URLParameters(url)
        params.socket_timeout = params.stack_timeout = 5
        connection = pika.BlockingConnection(params)
        channel = connection.channel()
        channel.queue_declare("rv-dlq")
        got: list[bytes] = []
        channel.basic_consume("rv-dlq", lambda _c, _m, _p, body: got.append(body), auto_ack=True)

        def publish_in_process() -> None:
            user = review_broker.connect()
            producer = user.channel()
            producer.queue_declare(
                "rv-ttl",
                arguments={
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": "rv-dlq",
                    "x-message-ttl": 100,
                },
            )
            producer.basic_publish("", "rv-ttl", b"expired")
            user.close()

        thread = threading.Thread(target=publish_in_process)
        thread.start()
        thread.join()
        deadline = time.monotonic() + 2.0
        while not got and time.monotonic() < deadline:
            connection.process_data_events(0.05)
        channel.queue_delete("rv-ttl")
        channel.queue_delete("rv-dlq")
        connection.close()
    assert got == [b"expired"]


# ----------------------------------------------------------------- backpressure


def test_consumer_that_does_not_read_leaves_messages_in_the_queue(
    endpoint: tuple[str, int],
) -> None:
    # spec 7 (consumers) with RabbitMQ's flow control: deliveries the client
    # socket cannot take stay ready in the queue (RabbitMQ keeps at most a few
    # hundred unsent per consumer); they are not all moved into server memory
    # and counted as delivered. (RabbitMQ 3.10 here: ~1450 of 2000 stay ready.)
    queue = unique("q")
    consumer = RawClient(endpoint)
    consumer.open_channel(1)
    consumer.send(1, commands.Queue.Declare(queue=queue))
    consumer.expect(commands.Queue.DeclareOk)
    consumer.send(1, commands.Basic.Consume(queue=queue, no_ack=True))
    consumer.expect(commands.Basic.ConsumeOk)
    # from here on the consumer reads nothing
    publisher = RawClient(endpoint)
    publisher.open_channel(1)
    batch = b"".join(publish(1, "", queue, b"x" * 10_000) for _ in range(100))
    for _ in range(20):
        publisher.send_raw(batch)
    publisher.send(1, commands.Basic.Qos(prefetch_count=0))
    publisher.expect(commands.Basic.QosOk, timeout=10)
    time.sleep(0.5)
    publisher.send(1, commands.Queue.Declare(queue=queue, passive=True))
    ready = publisher.expect(commands.Queue.DeclareOk).message_count
    consumer.close()
    publisher.send(1, commands.Queue.Delete(queue=queue))
    publisher.expect(commands.Queue.DeleteOk)
    publisher.close()
    assert ready >= 1000, f"only {ready} of 2000 messages left in the queue"


# ----------------------------------------------------------------- spec 8.4: per-channel order of returns


def test_return_precedes_reply_to_next_method_on_the_channel(endpoint: tuple[str, int]) -> None:
    # spec 8.4: the basic.return of a mandatory unroutable publish is sent when
    # the publish is handled, so before the reply to the method after it
    client = RawClient(endpoint)
    client.open_channel(1)
    queue = unique("q")
    client.send_raw(
        publish(1, "", unique("nowhere"), b"x", mandatory=True)
        + pamqp_frame.marshal(commands.Queue.Declare(queue=queue, auto_delete=True), 1)
    )
    assert names(client.collect()) == [
        (1, "Basic.Return"),
        (1, "header"),
        (1, "body"),
        (1, "Queue.DeclareOk"),
    ]
    client.close()


# ----------------------------------------------------------------- spec 10.2: any octets in property short strings


NON_UTF8_PROPERTIES = {
    "content_type": struct.pack(">H", 1 << 15) + b"\x02\xff\xfe",
    "header key": struct.pack(">H", 1 << 13) + struct.pack(">I", 4) + b"\x01\xff" + b"t\x01",
}


@pytest.mark.parametrize("properties", NON_UTF8_PROPERTIES.values(), ids=NON_UTF8_PROPERTIES.keys())
def test_properties_that_are_not_utf8_are_forwarded(
    endpoint: tuple[str, int], properties: bytes
) -> None:
    # spec 10.2: no character rules; RabbitMQ forwards such properties byte for byte
    client = RawClient(endpoint)
    client.open_channel(1)
    queue = unique("q")
    client.send(1, commands.Queue.Declare(queue=queue, auto_delete=True))
    client.expect(commands.Queue.DeclareOk)
    header = struct.pack(">HHQ", 60, 0, 2) + properties
    client.send_raw(
        pamqp_frame.marshal(commands.Basic.Publish(exchange="", routing_key=queue), 1)
        + struct.pack(">BHI", 2, 1, len(header))
        + header
        + b"\xce"
        + pamqp_frame.marshal(pamqp_body.ContentBody(b"hi"), 1)
    )
    client.send(1, commands.Basic.Get(queue=queue, no_ack=True))
    frames = client.collect()
    assert names(frames) == [(1, "Basic.GetOk"), (1, "header"), (1, "body")], [
        (channel, getattr(value, "reply_text", value)) for channel, value in frames
    ]
    assert properties in frames[1][1][1]
    client.close()
