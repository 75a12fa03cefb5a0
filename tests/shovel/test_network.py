"""Shovels to another broker over the network (pika), spec 20: an amqpmodel server in a
thread, and an ``amqpmodel serve`` subprocess killed and restarted mid-transfer."""

from __future__ import annotations

import decimal
from pathlib import Path
from typing import Any

import pika
import pytest
from _helpers import ServeProcess, free_port, status_of, wait_until

from amqpmodel import BasicProperties, Broker, Channel
from amqpmodel.server import serve
from amqpmodel.shovel import restart_shovel

pytestmark = pytest.mark.timeout(120)


def shovel(broker: Broker, dest_uri: str, name: str = "s", **keys: Any) -> None:
    value: dict[str, Any] = {
        "src-uri": "amqp://",
        "src-queue": "in",
        "dest-uri": dest_uri,
        "dest-queue": "out",
        "reconnect-delay": 1,
    }
    value.update({key.replace("_", "-"): item for key, item in keys.items()})
    broker.set_parameter("shovel", name, value)


def source_channel(broker: Broker) -> Channel:
    channel = broker.connect().channel()
    channel.queue_declare("in")
    return channel


def ready(broker: Broker, queue: str) -> int:
    found = broker.queues.get(queue)
    return found.messages_ready if found is not None else 0


def state(broker: Broker) -> str | None:
    row = status_of(broker)
    return None if row is None else str(row["state"])


def test_on_confirm_to_another_broker(source: Broker, destination: tuple[Broker, str]) -> None:
    target, url = destination
    channel = source_channel(source)
    headers = {
        "int": 7,
        "text": "x",
        "flag": True,
        "nested": {"list": [1, "a"]},
        "dec": decimal.Decimal("1.5"),
    }
    for i in range(50):
        properties = BasicProperties(headers=headers, message_id=str(i), delivery_mode=2)
        channel.basic_publish("", "in", f"m{i}".encode(), properties)
    shovel(source, url, dest_add_timestamp_header=True)
    wait_until(lambda: ready(target, "out") == 50, "fifty moved")
    assert target.queues["out"].durable  # declared durable there when missing (spec 20.4)
    messages = target.queues["out"].peek()
    assert [m.body for m in messages] == [f"m{i}".encode() for i in range(50)]
    first = messages[0].properties
    assert (first.message_id, first.delivery_mode) == ("0", 2)
    stamp = first.headers.pop("x-shovelled-timestamp")
    assert isinstance(stamp, int) and getattr(stamp, "amqp_tag", b"l") == b"l"
    assert first.headers == headers
    assert source.queues["in"].messages == 0
    row = status_of(source)
    assert row is not None and row["state"] == "running" and row["forwarded"] == 50
    port = url.rsplit(":", 1)[1].split("/")[0]
    assert row["dest_uri"] == f"amqp://127.0.0.1:{port}/%2F"  # without the credentials
    shovelling = [c for c in target.connections if c.client_properties.get("connection_name")]
    assert [c.client_properties["connection_name"] for c in shovelling] == ["Shovel s"]
    source.clear_parameter("shovel", "s")
    wait_until(lambda: not target.connections, "its connection closed")


@pytest.mark.parametrize("mode", ["on-publish", "no-ack"])
def test_other_ack_modes_to_another_broker(
    source: Broker, destination: tuple[Broker, str], mode: str
) -> None:
    target, url = destination
    channel = source_channel(source)
    for i in range(20):
        channel.basic_publish("", "in", f"m{i}".encode())
    shovel(source, url, ack_mode=mode)
    wait_until(lambda: ready(target, "out") == 20, "twenty moved")
    assert source.queues["in"].messages == 0


def test_a_destination_that_is_not_there_yet(source: Broker) -> None:
    # spec 20.6, 20.8: terminated with the reason, then connected once it listens
    port = free_port()
    channel = source_channel(source)
    channel.basic_publish("", "in", b"waiting")
    shovel(source, f"amqp://guest:guest@127.0.0.1:{port}/%2F")
    row = wait_until(lambda: state(source) == "terminated" and status_of(source), "terminated")
    assert row["reason"] == "failed to connect to destination"
    assert source.queues["in"].messages_ready == 1  # nothing taken while it cannot deliver
    target = Broker()
    with serve(target, port=port):
        wait_until(lambda: ready(target, "out") == 1, "moved once the destination listens")
    target.close()


def test_a_refusal_at_the_destination_is_the_reason(
    source: Broker, destination: tuple[Broker, str]
) -> None:
    # a channel error from the destination ends the run; its text is the reason
    _, url = destination
    channel = source_channel(source)
    channel.basic_publish("", "in", b"x")
    value = {"src-uri": "amqp://", "src-queue": "in", "dest-uri": url, "dest-exchange": "nope"}
    source.set_parameter("shovel", "s", {**value, "reconnect-delay": 0})
    row = wait_until(lambda: state(source) == "terminated" and status_of(source), "terminated")
    assert row["reason"] == "NOT_FOUND - no exchange 'nope' in vhost '/'"
    assert source.queues["in"].messages_ready == 1  # not acked: it was not confirmed


def test_restart_starts_a_terminated_shovel_again(
    source: Broker, destination: tuple[Broker, str]
) -> None:
    # rabbitmqctl restart_shovel, DELETE /api/shovels/vhost/{vhost}/{name}/restart
    target, url = destination
    channel = source_channel(source)
    channel.basic_publish("", "in", b"x")
    value = {"src-uri": "amqp://", "src-queue": "in", "dest-uri": url, "dest-exchange": "late"}
    source.set_parameter("shovel", "s", {**value, "reconnect-delay": 0})
    wait_until(lambda: state(source) == "terminated", "terminated")  # stays so (20.6)
    target_channel = target.connect().channel()
    target_channel.exchange_declare("late", "fanout")
    target_channel.queue_declare("got")
    target_channel.queue_bind("got", "late")
    assert restart_shovel(source, "s")
    wait_until(lambda: ready(target, "got") == 1, "moved after the restart")
    assert not restart_shovel(source, "nope") and not restart_shovel(source, "s", vhost="x")


def test_wrong_credentials_at_the_destination(
    source: Broker, destination: tuple[Broker, str]
) -> None:
    _, url = destination
    source_channel(source)
    shovel(source, url.replace("guest:guest", "guest:wrong"), reconnect_delay=0)
    row = wait_until(lambda: state(source) == "terminated" and status_of(source), "terminated")
    assert row["reason"] == "failed to connect to destination"


def _consume_all(url: str, queue: str) -> list[tuple[str, bool]]:
    """Every message in ``queue`` as (message id, redelivered), in queue order."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    found = []
    while True:
        method, properties, _ = channel.basic_get(queue, auto_ack=True)
        if method is None:
            break
        found.append((properties.message_id, method.redelivered))
    connection.close()
    return found


@pytest.mark.timeout(240)
def test_on_confirm_loses_nothing_when_the_destination_is_killed(
    source: Broker, tmp_path: Path
) -> None:
    """spec 20.5, 20.6: confirms at the destination, source acks only after them, restart
    after reconnect-delay. Each kill (SIGKILL of a serve with a data dir) leaves at most
    one message published and unconfirmed: the one the shovel was waiting on. The source
    gets it back redelivered and the shovel sends it again, so a duplicate can only be
    that message, right after its first copy."""
    total = 2000
    channel = source_channel(source)
    for i in range(total):
        properties = BasicProperties(message_id=str(i), delivery_mode=2)
        channel.basic_publish("", "in", f"m{i}".encode(), properties)
    target = ServeProcess(data_dir=tmp_path / "destination").start()
    shovel(source, target.url)
    in_flight: list[str] = []
    try:
        for _ in range(2):
            wait_until(
                lambda: (row := status_of(source)) and row.get("forwarded", 0) >= 300,
                "a transfer under way",
            )
            target.kill()
            wait_until(
                lambda: (
                    (row := status_of(source))
                    and row.get("reason") == "failed to connect to destination"
                    and source.queues["in"].consumer_count == 0
                ),
                "the shovel waiting to reconnect",
            )
            # what it held is back in the source queue, flagged redelivered (spec 7.13)
            method, properties, _ = channel.basic_get("in")
            assert method is not None and method.redelivered
            in_flight.append(properties.message_id)
            channel.basic_reject(method.delivery_tag, requeue=True)
            target.start()
        wait_until(lambda: source.queues["in"].messages == 0, "everything moved", timeout=120)
        received = _consume_all(target.url, "out")
    finally:
        source.clear_parameter("shovel", "s")
        if target.process is not None:
            target.stop()
    ids = [message_id for message_id, _ in received]
    assert sorted(set(ids), key=int) == [str(i) for i in range(total)]  # every one arrived
    duplicates = [ids[i] for i in range(1, len(ids)) if ids[i] == ids[i - 1]]
    assert len(ids) == total + len(duplicates)  # and any second copy is adjacent to its first
    assert set(duplicates) <= set(in_flight)  # the one in flight at a kill, sent again
    assert len(duplicates) <= 2
