"""Flow control per connection and fair turns (spec 21.6: TCP back-pressure is all a client sees).

- A client that does not read what it is sent is not read either: its socket
  applies back-pressure, and what it is owed waits without growing.
- What waits for a slow client shares message bodies with the queues: a
  fanout towards a stalled consumer costs the bodies once, not once per delivery.
- Each connection handles a bounded number of frames per turn, so one client
  that pipelines cannot starve another.

The sans-IO tests drive ``ServerConnection`` directly (bytes in, writes out);
the others run the socket server and speak raw AMQP to it.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import threading
import tracemalloc
from collections.abc import Iterator

import pytest
from _raw_client import RawClient, encode, publish_frames  # tests/server is on sys.path
from pamqp import commands

from amqpmodel import Broker
from amqpmodel.server import ServerConnection, ServerSettings, serve

pytestmark = pytest.mark.timeout(120)

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"


# ----------------------------------------------------------------- sans-IO


class Wire:
    """A ``ServerConnection`` handshaken with channel 1 open; ``writes`` is what it wrote."""

    def __init__(self, broker: Broker, settings: ServerSettings | None = None) -> None:
        self.writes: list[bytes | memoryview] = []
        self.connection = ServerConnection(
            broker, self.writes.append, lambda: None, settings=settings or ServerSettings()
        )
        handshake = PROTOCOL_HEADER + b"".join(
            encode(method, 0)
            for method in (
                commands.Connection.StartOk(
                    client_properties={}, mechanism="PLAIN", response="\0guest\0guest"
                ),
                commands.Connection.TuneOk(channel_max=2047, frame_max=131072, heartbeat=0),
                commands.Connection.Open(virtual_host="/"),
            )
        )
        self.connection.data_received(handshake + encode(commands.Channel.Open(), 1))
        self.writes.clear()


def test_a_turn_handles_at_most_frames_per_turn_frames() -> None:
    broker = Broker()
    broker.connect().channel().queue_declare("q")
    wire = Wire(broker, ServerSettings(frames_per_turn=30))
    connection = wire.connection
    connection.data_received(publish_frames("q", b"x") * 100)  # 300 frames
    queue = broker.queues["q"]
    assert queue.messages_ready == 10
    assert connection.input_waiting and not connection.wants_input
    assert connection.flow_state == "flow"
    turns = 1
    while connection.input_waiting:
        connection.resume_input()
        turns += 1
    assert (queue.messages_ready, turns) == (100, 10)
    assert connection.wants_input and connection.flow_state == "running"


def test_without_a_bound_everything_received_is_handled_at_once() -> None:
    broker = Broker()
    broker.connect().channel().queue_declare("q")
    wire = Wire(broker, ServerSettings(frames_per_turn=None))
    wire.connection.data_received(publish_frames("q", b"x") * 100)
    assert broker.queues["q"].messages_ready == 100
    assert not wire.connection.input_waiting


def test_output_the_socket_cannot_take_is_held_as_the_bodies_themselves() -> None:
    broker = Broker()
    channel = broker.connect().channel()
    channel.exchange_declare("fan", "fanout")
    wire = Wire(broker)
    connection = wire.connection
    for i in range(3):
        channel.queue_declare(f"q{i}")
        channel.queue_bind(f"q{i}", "fan")
        connection.data_received(encode(commands.Basic.Consume(queue=f"q{i}", consumer_tag=f"c{i}")))
    small, large = os.urandom(100_000), os.urandom(300_000)  # one body frame; three
    connection.pause_output(True)  # the driver's socket buffer is full
    wire.writes.clear()
    channel.basic_publish("fan", "", small)
    channel.basic_publish("fan", "", large)
    connection.drain()
    assert wire.writes == []  # nothing written while the socket is full
    assert connection.flow_state == "flow" and not connection.wants_input
    connection.pause_output(False)
    parts = wire.writes
    # every delivery's body went out as the published object or views of it: no copies
    assert sum(1 for part in parts if part is small) == 3
    views = [part for part in parts if isinstance(part, memoryview)]
    assert len(views) == 9 and all(view.obj is large for view in views)
    assert b"".join(bytes(part) for part in parts).count(small) == 3


def test_repeated_content_properties_are_read_again_when_they_change() -> None:
    # the same properties again and again are decoded once; any change is seen
    broker = Broker()
    broker.connect().channel().queue_declare("q")
    wire = Wire(broker)
    same = commands.Basic.Properties(delivery_mode=2, content_type="text/plain")
    other = commands.Basic.Properties(delivery_mode=1, priority=3)
    headed = commands.Basic.Properties(headers={"k": 1})
    frames = b"".join(
        publish_frames("q", b"m", properties=p) for p in (same, same, other, same, headed, headed)
    )
    wire.connection.data_received(frames)
    wire.connection.drain()
    seen = [(m.properties.delivery_mode, m.properties.priority, m.properties.headers)
            for m in broker.queues["q"].peek()]
    assert seen == [(2, None, None), (2, None, None), (1, 3, None), (2, None, None),
                    (None, None, {"k": 1}), (None, None, {"k": 1})]
    first, second = (m.properties for m in broker.queues["q"].peek()[4:])
    assert first.headers is not second.headers  # a table is never shared between messages


# ----------------------------------------------------------------- the socket server


@pytest.fixture
def served() -> Iterator[tuple[Broker, str]]:
    broker = Broker()
    with serve(broker) as url:
        yield broker, url


def test_a_client_that_does_not_read_its_returns_is_not_read(
    served: tuple[Broker, str],
) -> None:
    # unroutable mandatory publishes come back as basic.return with their bodies: a
    # client that never reads them gets back-pressure instead of a growing server
    _, url = served
    client = RawClient(url, receive_buffer=8192)
    unit = publish_frames("nowhere", b"r" * 10_000, mandatory=True)
    stream = unit * 4000  # 40 MB
    sent = client.send_nonblocking(stream, limit_seconds=3.0)
    assert sent < len(stream) // 3, f"the server read {sent} bytes of a client that reads nothing"
    returned = [0]

    def count_returns() -> None:
        while client.next_frame(10.0) is not None:
            if isinstance(client.frames[-1][2], commands.Basic.Return):
                returned[0] += 1
            if isinstance(client.frames[-1][2], commands.Queue.DeclareOk):
                return

    reader = threading.Thread(target=count_returns, daemon=True)
    reader.start()
    rest = -sent % len(unit)  # complete the publish the socket cut
    client.send_raw(stream[sent : sent + rest])
    client.send(commands.Queue.Declare(queue="probe", auto_delete=True))
    reader.join(60)
    assert returned[0] == (sent + rest) // len(unit)  # every one was returned, none lost
    client.close()


def test_a_fanout_towards_a_stalled_consumer_costs_its_bodies_once(
    served: tuple[Broker, str],
) -> None:
    broker, url = served
    stalled = RawClient(url, receive_buffer=4096)
    stalled.send(commands.Exchange.Declare(exchange="fan", exchange_type="fanout"))
    stalled.send(commands.Basic.Qos(prefetch_count=5))
    for i in range(20):
        stalled.send(commands.Queue.Declare(queue=f"f{i}", exclusive=True))
        stalled.send(commands.Queue.Bind(queue=f"f{i}", exchange="fan"))
        stalled.send(commands.Basic.Consume(queue=f"f{i}", consumer_tag=f"c{i}"))
    stalled.expect(commands.Basic.ConsumeOk)
    while len(stalled.methods(commands.Basic.ConsumeOk)) < 20:
        stalled.expect(commands.Basic.ConsumeOk)
    publisher = RawClient(url)
    messages = [publish_frames("", os.urandom(1_000_000), exchange="fan") for _ in range(10)]
    tracemalloc.start()
    try:
        for message in messages:
            publisher.send_raw(message)
        publisher.send(commands.Exchange.Declare(exchange="fan", passive=True))
        publisher.expect(commands.Exchange.DeclareOk)
        publisher.quiet(0.5)  # the server has written what the stalled client takes
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = sum(queue.messages_unacknowledged for queue in broker.queues.values())
    assert held == 100  # 20 consumers with 5 deliveries each, none of them read
    bodies = 10 * 1_000_000
    assert grown < 2 * bodies, f"{grown / 1e6:.0f} MB for {bodies / 1e6:.0f} MB of bodies"
    publisher.close()
    stalled.close()


def _serve_subprocess() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--no-management"]
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    assert server.stdout is not None
    while True:
        line = server.stdout.readline()
        assert line, "amqpmodel serve did not start"
        match = re.search(r"listening on amqp://([^:/\s]+):(\d+)", line)
        if match:
            return server, f"amqp://guest:guest@{match.group(1)}:{match.group(2)}/%2F"


def test_a_pipelining_client_does_not_starve_another() -> None:
    # the server runs in its own process, so only its scheduling decides who waits
    server, url = _serve_subprocess()
    try:
        pipeliner = RawClient(url)
        pipeliner.send(commands.Queue.Declare(queue="flood"))
        pipeliner.expect(commands.Queue.DeclareOk)
        flood = publish_frames("flood", b"f" * 10) * 60_000
        writer = threading.Thread(target=pipeliner.send_raw, args=(flood,), daemon=True)
        other = RawClient(url)
        writer.start()
        while other.round_trip("flood") == 0:
            pass
        # how many of the flood's publishes the server handled during each of our round trips
        counts = [other.round_trip("flood") for _ in range(12)]
        steps = [b - a for a, b in zip(counts, counts[1:], strict=False) if b < 60_000]
        assert steps, "the flood was over before it could be measured"
        # a read of the flood holds some 8 000 publishes; a turn handles 32 (96 frames)
        assert statistics.median(steps) < 600, steps
        writer.join(60)
        pipeliner.close()
        other.close()
    finally:
        server.terminate()
        server.communicate(timeout=10)
