"""Resource alarms over the wire (spec 21.1-21.5): blocked publishers, connection.blocked.

A raw client sees every frame and whether the server reads it at all; pika
over ``serve()`` and the in-process pika drop-in check the callbacks a real
client gets. A watermark of 0 turns the memory alarm on before anything is
published (RabbitMQ's way of blocking every publisher); a small one lets the
accounting raise it, and the broker's ``VirtualClock`` is advanced to let the
periodic check clear it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pika.exceptions
import pytest
from _raw_client import RawClient, publish_frames  # tests/server is on sys.path
from pamqp import commands

from amqpmodel import Broker, VirtualClock
from amqpmodel._alarms import MEMORY_CHECK_INTERVAL
from amqpmodel._memory import MESSAGE_OVERHEAD
from amqpmodel.server import serve

pytestmark = pytest.mark.timeout(60)

BODY = b"m" * 100
COST = len(BODY) + MESSAGE_OVERHEAD  # what one queued message counts for
BLOCKING = {"connection.blocked": True}  # the capability a client announces (spec 21.4)
QUIET = 0.3  # seconds a test waits to see that nothing comes


@pytest.fixture
def blocked() -> Iterator[tuple[Broker, str]]:
    """A broker whose memory alarm is on from the start (watermark 0), served."""
    broker = Broker(memory_high_watermark=0)
    broker.connect().channel().queue_declare("q")
    with serve(broker) as url:
        yield broker, url


def ready(broker: Broker, queue: str = "q") -> int:
    return broker.queues[queue].messages_ready


# ----------------------------------------------------------------- spec 21.3, 21.4


def test_a_publish_under_the_alarm_is_handled_then_nothing_more_is_read(
    blocked: tuple[Broker, str],
) -> None:
    broker, url = blocked
    client = RawClient(url, capabilities=BLOCKING)
    client.send_raw(publish_frames("q", BODY) + publish_frames("q", BODY))
    client.send(commands.Queue.Declare(queue="q", passive=True))
    assert client.expect(commands.Connection.Blocked).reason == "low on memory"
    assert client.quiet(QUIET) == []  # no declare-ok: the socket is not read
    assert ready(broker) == 1  # the publish that arrived under the alarm went in
    broker.set_memory_high_watermark("10MB")  # the alarm clears
    client.expect(commands.Connection.Unblocked)
    assert client.expect(commands.Queue.DeclareOk).message_count == 2
    kinds = [type(value) for _, _, value in client.frames[-3:]]
    assert kinds == [commands.Connection.Blocked, commands.Connection.Unblocked,
                     commands.Queue.DeclareOk]
    client.close()


def test_connection_blocked_goes_only_to_clients_that_announce_it(
    blocked: tuple[Broker, str],
) -> None:
    broker, url = blocked
    client = RawClient(url)  # no capabilities table
    client.send_raw(publish_frames("q", BODY))
    client.send(commands.Queue.Declare(queue="q", passive=True))
    assert client.quiet(QUIET) == []  # blocked all the same, and told nothing
    broker.set_memory_high_watermark(0.5)
    assert client.expect(commands.Queue.DeclareOk).message_count == 1
    assert client.methods(commands.Connection.Blocked) == []
    assert client.methods(commands.Connection.Unblocked) == []
    client.close()


def test_a_connection_that_does_not_publish_is_not_blocked(blocked: tuple[Broker, str]) -> None:
    # spec 21.3: "blocking" until it publishes; consumers go on
    broker, url = blocked
    client = RawClient(url, capabilities=BLOCKING)
    assert client.round_trip("q") == 0
    client.send(commands.Queue.Declare(queue="other"))
    client.expect(commands.Queue.DeclareOk)
    assert client.methods(commands.Connection.Blocked) == []
    client.close()


def test_consumers_and_acks_go_on_while_publishers_are_blocked() -> None:
    broker = Broker(clock=VirtualClock(), memory_high_watermark=20 * COST)
    broker.connect().channel().queue_declare("q")
    with serve(broker) as url:
        publisher = RawClient(url, capabilities=BLOCKING)
        publisher.send_raw(publish_frames("q", BODY) * 40)
        publisher.expect(commands.Connection.Blocked)
        held = ready(broker)
        assert 20 <= held < 40  # the alarm rose with the accounting, near the watermark
        consumer = RawClient(url, capabilities=BLOCKING)
        consumer.send(commands.Basic.Qos(prefetch_count=5))
        consumer.expect(commands.Basic.QosOk)
        consumer.send(commands.Basic.Consume(queue="q", consumer_tag="c"))
        consumer.expect(commands.Basic.ConsumeOk)
        for _ in range(held):
            deliver = consumer.expect(commands.Basic.Deliver)
            consumer.send(commands.Basic.Ack(delivery_tag=deliver.delivery_tag))
        assert consumer.methods(commands.Connection.Blocked) == []
        assert consumer.round_trip("q") == 0  # every ack handled: the backlog has drained
        broker.clock.advance(MEMORY_CHECK_INTERVAL)  # type: ignore[attr-defined]
        publisher.expect(commands.Connection.Unblocked)
        for _ in range(40 - held):  # what the publisher sent meanwhile now flows
            deliver = consumer.expect(commands.Basic.Deliver)
            consumer.send(commands.Basic.Ack(delivery_tag=deliver.delivery_tag))
        assert consumer.round_trip("q") == 0
        publisher.close()
        consumer.close()


def test_no_second_blocked_while_blocked_and_one_unblocked_when_all_clear(
    tmp_path: Path,
) -> None:
    # spec 21.4: another alarm while blocked sends nothing; unblocked once all have cleared
    free = shutil.disk_usage(tmp_path).free
    broker = Broker(data_dir=tmp_path / "data", memory_high_watermark=0)
    try:
        broker.connect().channel().queue_declare("q")
        with serve(broker) as url:
            client = RawClient(url, capabilities=BLOCKING)
            client.send_raw(publish_frames("q", BODY))
            client.expect(commands.Connection.Blocked)
            broker.set_disk_free_limit(free * 4 + 10**12)
            assert broker.resource_alarms == ("memory", "disk")
            broker.set_memory_high_watermark(0.5)
            assert broker.resource_alarms == ("disk",)
            assert client.quiet(QUIET) == []
            broker.set_disk_free_limit("50MB")
            client.expect(commands.Connection.Unblocked)
            client.send_raw(publish_frames("q", BODY))
            assert client.round_trip("q") == 2
            assert len(client.methods(commands.Connection.Blocked)) == 1
            assert len(client.methods(commands.Connection.Unblocked)) == 1
            client.close()
    finally:
        broker.close()


@pytest.mark.parametrize(
    ("memory", "disk", "reason"),
    [(False, True, "low on disk"), (True, True, "low on memory & disk")],
)
def test_the_blocked_reason_names_the_alarms(
    tmp_path: Path, memory: bool, disk: bool, reason: str
) -> None:
    free = shutil.disk_usage(tmp_path).free
    broker = Broker(
        data_dir=tmp_path / "data",
        memory_high_watermark=0 if memory else 0.5,
        disk_free_limit=free * 4 + 10**12 if disk else 50_000_000,
    )
    try:
        broker.connect().channel().queue_declare("q")
        with serve(broker) as url:
            client = RawClient(url, capabilities=BLOCKING)
            client.send_raw(publish_frames("q", BODY))
            assert client.expect(commands.Connection.Blocked).reason == reason
            client.close()
    finally:
        broker.close()


def test_a_blocked_connection_is_not_dropped_for_missed_heartbeats(
    blocked: tuple[Broker, str],
) -> None:
    # spec 21.5: the heartbeat monitor is paused while the connection is blocked
    broker, url = blocked
    client = RawClient(url, capabilities=BLOCKING, heartbeat=1)
    client.send_raw(publish_frames("q", BODY))
    client.expect(commands.Connection.Blocked)
    time.sleep(3.5)  # silent for more than the 2-3 intervals that end an unblocked one
    broker.set_memory_high_watermark(0.5)
    client.expect(commands.Connection.Unblocked)
    assert client.round_trip("q") == 1
    assert not client.eof
    client.close()


# ----------------------------------------------------------------- real clients


def test_pika_gets_its_blocked_and_unblocked_callbacks(blocked: tuple[Broker, str]) -> None:
    broker, url = blocked
    connection = pika.BlockingConnection(pika.URLParameters(url))
    events: list[Any] = []
    connection.add_on_connection_blocked_callback(
        lambda _, frame: events.append(frame.method.reason)
    )
    connection.add_on_connection_unblocked_callback(lambda _, frame: events.append("unblocked"))
    channel = connection.channel()
    channel.basic_publish("", "q", BODY)
    channel.basic_publish("", "q", BODY)  # pika sends it; the server does not read it yet
    deadline = time.monotonic() + 5
    while not events and time.monotonic() < deadline:
        connection.process_data_events(0.05)
    assert events == ["low on memory"]
    assert ready(broker) == 1
    broker.set_memory_high_watermark(0.5)
    while len(events) < 2 and time.monotonic() < deadline:
        connection.process_data_events(0.05)
    assert events == ["low on memory", "unblocked"]
    assert channel.queue_declare("q", passive=True).method.message_count == 2
    connection.close()


def test_pika_blocked_connection_timeout_fires_as_on_rabbitmq(
    blocked: tuple[Broker, str],
) -> None:
    _, url = blocked
    parameters = pika.URLParameters(url)
    parameters.blocked_connection_timeout = 0.5
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish("", "q", BODY)  # handled under the alarm, confirmed; then blocked
    with pytest.raises(pika.exceptions.ConnectionBlockedTimeout):
        channel.basic_publish("", "q", BODY)  # its confirm never comes: pika gives up


def test_the_pika_drop_in_gets_blocked_and_unblocked_in_process() -> None:
    from amqpmodel import pika as dropin

    broker = Broker(memory_high_watermark=0)
    connection = dropin.BlockingConnection(broker=broker)
    events: list[str] = []
    connection.add_on_connection_blocked_callback(
        lambda _, frame: events.append(frame.method.reason)
    )
    connection.add_on_connection_unblocked_callback(lambda _, frame: events.append("unblocked"))
    channel = connection.channel()
    channel.queue_declare("q")
    channel.basic_publish("", "q", BODY)
    channel.basic_publish("", "q", BODY)
    connection.process_data_events(0.1)
    assert events == ["low on memory"]
    assert broker.queues["q"].messages_ready == 1
    broker.set_memory_high_watermark(0.5)
    connection.process_data_events(0.1)
    assert events == ["low on memory", "unblocked"]
    assert channel.queue_declare("q", passive=True).method.message_count == 2
    connection.close()


# ----------------------------------------------------------------- what operators see


def test_management_api_shows_the_alarm_and_blocked_connections() -> None:
    pytest.importorskip("aiohttp")
    broker = Broker(memory_high_watermark=0)
    broker.connect().channel().queue_declare("q")
    with serve(broker, management_port=0) as url:
        publisher = RawClient(url, capabilities=BLOCKING)
        publisher.send_raw(publish_frames("q", BODY))
        publisher.expect(commands.Connection.Blocked)
        idle = RawClient(url)

        def get(path: str) -> Any:
            request = urllib.request.Request(f"{url.management_url}{path}")
            request.add_header("Authorization", "Basic Z3Vlc3Q6Z3Vlc3Q=")  # guest:guest
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)

        (node,) = get("/api/nodes")
        assert node["mem_alarm"] is True and node["disk_free_alarm"] is False
        assert node["mem_limit"] == 0
        assert node["mem_used"] == broker.memory_use().total == COST
        network = [c for c in get("/api/connections") if c.get("type") == "network"]
        states = sorted(c["state"] for c in network)
        assert states == ["blocked", "blocking"]  # spec 21.3: before and after its publish
        broker.set_memory_high_watermark(0.5)
        publisher.expect(commands.Connection.Unblocked)
        assert get("/api/nodes")[0]["mem_alarm"] is False
        assert {c["state"] for c in get("/api/connections")} == {"running"}  # direct ones too
        publisher.close()
        idle.close()


def test_serve_takes_the_watermark_on_its_command_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--no-management"]
    refused = subprocess.run(
        [*command, "--memory-high-watermark", "lots"], capture_output=True, text=True, timeout=30
    )
    assert refused.returncode == 2 and "--memory-high-watermark" in refused.stderr
    server = subprocess.Popen(
        [*command, "--memory-high-watermark", "0", "--disk-free-limit", "50MB"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        lines = []
        url = None
        while url is None:
            line = server.stdout.readline()
            assert line, f"serve ended: {lines}"
            lines.append(line)
            if "listening on amqp://" in line:
                url = line.split("listening on ")[1].split()[0]
                host, port = url.removeprefix("amqp://").split(":")[:2]
                url = f"amqp://guest:guest@{host}:{port.rstrip('/')}/%2F"
        client = RawClient(url, capabilities=BLOCKING)
        client.send(commands.Queue.Declare(queue="q"))
        client.expect(commands.Queue.DeclareOk)
        client.send_raw(publish_frames("q", BODY))
        assert client.expect(commands.Connection.Blocked).reason == "low on memory"
        client.close()
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert "memory resource limit alarm set" in "".join(lines) + output
