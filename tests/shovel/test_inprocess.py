"""Dynamic shovels inside one broker (source and destination both "amqp://..." without a
host): what they move, where to, with which headers, and how they start, stop and report
(spec 20). The same worker serves network destinations (test_network.py)."""

from __future__ import annotations

from typing import Any

import pytest
from _helpers import status_of, wait_until

from amqpmodel import BasicProperties, Broker, Channel, ParameterError
from amqpmodel.driver import TaggedInt
from amqpmodel.shovel import shovel_status

pytestmark = pytest.mark.timeout(60)


def channel_of(broker: Broker, vhost: str = "/") -> Channel:
    return broker.connect(vhost).channel()


def publish(channel: Channel, queue: str, count: int, start: int = 0, **properties: Any) -> None:
    for i in range(start, start + count):
        channel.basic_publish("", queue, f"m{i}".encode(), BasicProperties(**properties))


def bodies(broker: Broker, queue: str, vhost: str = "/") -> list[bytes]:
    """The ready messages' bodies ([] while the vhost or queue does not exist)."""
    found = broker.vhosts.get(vhost)
    if found is None or queue not in found.queues:
        return []
    return [message.body for message in found.queues[queue].peek()]


def shovel(broker: Broker, name: str = "s", **keys: Any) -> None:
    value = {"src-uri": "amqp://", "dest-uri": "amqp://", "reconnect-delay": 1}
    value.update({key.replace("_", "-"): item for key, item in keys.items()})
    broker.set_parameter("shovel", name, value)


def running(broker: Broker, name: str = "s") -> dict[str, Any]:
    row = wait_until(
        lambda: (s := status_of(broker, name)) is not None and s["state"] == "running" and s,
        f"shovel {name} running",
    )
    assert isinstance(row, dict)
    return row


def test_moves_a_queue_to_another_and_reports_it(source: Broker) -> None:
    channel = channel_of(source)
    channel.queue_declare("jobs")
    publish(channel, "jobs", 3, message_id="id", headers={"attempt": 1})
    shovel(source, src_queue="jobs", dest_queue="moved")
    wait_until(lambda: bodies(source, "moved") == [b"m0", b"m1", b"m2"], "three moved")
    assert source.queues["jobs"].messages == 0  # acked after each confirm (spec 20.5)
    moved = source.queues["moved"]
    assert moved.durable  # declared durable when missing (spec 20.4)
    properties = moved.peek()[0].properties
    assert (properties.message_id, properties.headers) == ("id", {"attempt": 1})
    row = running(source)
    # spec 20.8: rabbit_shovel_status / GET /api/shovels
    assert {k: v for k, v in row.items() if k != "timestamp"} == {
        "name": "s",
        "vhost": "/",
        "type": "dynamic",
        "state": "running",
        "src_uri": "amqp://",
        "src_protocol": "amqp091",
        "dest_protocol": "amqp091",
        "dest_uri": "amqp://",
        "src_queue": "jobs",
        "dest_queue": "moved",
        "blocked_status": "running",
        "remaining": "unlimited",
        "remaining_unacked": "unlimited",
        "pending": 0,
        "forwarded": 3,
    }
    publish(channel, "jobs", 1, start=3)  # it keeps moving what arrives
    wait_until(lambda: len(bodies(source, "moved")) == 4, "the fourth moved")


def test_the_source_queue_is_declared_durable_when_missing(source: Broker) -> None:
    # spec 20.3: ensure_queue
    shovel(source, src_queue="later", dest_queue="out")
    wait_until(lambda: "later" in source.queues, "the source queue")
    assert source.queues["later"].durable
    publish(channel_of(source), "later", 1)
    wait_until(lambda: bodies(source, "out") == [b"m0"], "the message moved")


def test_a_predeclared_source_must_exist(source: Broker) -> None:
    # spec 20.3: src-predeclared only checks (a passive declare)
    shovel(source, src_queue="absent", src_predeclared=True, dest_queue="out", reconnect_delay=0)
    row = wait_until(
        lambda: (s := status_of(source)) is not None and s["state"] == "terminated" and s,
        "terminated",
    )
    assert row["reason"] == "NOT_FOUND - no queue 'absent' in vhost '/'"
    assert "absent" not in source.queues


def test_a_source_exchange_with_a_key(source: Broker) -> None:
    # spec 20.3: an exclusive server-named queue bound with src-exchange-key
    channel = channel_of(source)
    channel.exchange_declare("events", "topic")
    channel.queue_declare("out")
    shovel(source, src_exchange="events", src_exchange_key="order.*", dest_queue="out")
    row = running(source)
    assert (row["src_exchange"], row["src_exchange_key"]) == ("events", "order.*")
    temporary = [q for q in source.queues.values() if q.name.startswith("amq.gen-")]
    assert len(temporary) == 1 and temporary[0].exclusive
    for key in ("order.new", "user.new", "order.paid"):
        channel.basic_publish("events", key, key.encode())
    wait_until(lambda: bodies(source, "out") == [b"order.new", b"order.paid"], "orders moved")


def test_without_a_destination_each_message_keeps_its_exchange_and_key(source: Broker) -> None:
    # spec 20.4: neither dest-queue nor dest-exchange
    source.add_vhost("copy")
    there = channel_of(source, "copy")
    there.exchange_declare("events", "direct")
    there.queue_declare("a")
    there.queue_bind("a", "events", "to-a")
    here = channel_of(source)
    here.exchange_declare("events", "direct")
    here.queue_declare("in")
    here.queue_bind("in", "events", "to-a")
    shovel(source, src_queue="in", dest_uri="amqp:///copy")
    here.basic_publish("events", "to-a", b"x")
    wait_until(lambda: bodies(source, "a", vhost="copy") == [b"x"], "kept exchange and key")


@pytest.mark.parametrize(("key", "queue"), [(None, "by-original-key"), ("other", "by-new-key")])
def test_a_destination_exchange_with_or_without_a_key(
    source: Broker, key: str | None, queue: str
) -> None:
    # spec 20.4: dest-exchange replaces the exchange; dest-exchange-key, when set, the key
    channel = channel_of(source)
    channel.exchange_declare("out", "direct")
    for name, binding in (("by-original-key", "original"), ("by-new-key", "other")):
        channel.queue_declare(name)
        channel.queue_bind(name, "out", binding)
    channel.queue_declare("in")
    keys: dict[str, Any] = {"dest_exchange": "out"}
    if key is not None:
        keys["dest_exchange_key"] = key
    shovel(source, src_queue="in", **keys)
    channel.exchange_declare("first", "fanout")
    channel.queue_bind("in", "first")
    channel.basic_publish("first", "original", b"x")
    wait_until(lambda: bodies(source, queue) == [b"x"], f"routed to {queue}")
    assert bodies(source, "by-original-key" if key else "by-new-key") == []


def test_forward_and_timestamp_headers(source: Broker) -> None:
    # spec 20.7: x-shovelled prepended to what earlier shovels wrote; x-shovelled-timestamp
    channel = channel_of(source)
    channel.queue_declare("in")
    earlier = {"shovel-name": "earlier"}
    channel.basic_publish("", "in", b"x", BasicProperties(headers={"x-shovelled": [earlier]}))
    shovel(
        source,
        src_queue="in",
        dest_queue="out",
        dest_add_forward_headers=True,
        dest_add_timestamp_header=True,
    )
    wait_until(lambda: bodies(source, "out") == [b"x"], "moved")
    headers = source.queues["out"].peek()[0].properties.headers
    assert headers["x-shovelled"] == [
        {
            "shovelled-by": "amqpmodel",
            "shovel-type": "dynamic",
            "shovel-name": "s",
            "shovel-vhost": "/",
            "src-uri": "amqp://",
            "dest-uri": "amqp://",
            "src-queue": "in",
            "dest-queue": "out",
        },
        earlier,
    ]
    stamp = headers["x-shovelled-timestamp"]
    assert isinstance(stamp, TaggedInt) and stamp.amqp_tag == b"l"  # a long, as RabbitMQ's


def test_publish_properties_replace_the_messages_own(source: Broker) -> None:
    # spec 20.4: dest-publish-properties
    channel = channel_of(source)
    channel.queue_declare("in")
    channel.basic_publish("", "in", b"x", BasicProperties(delivery_mode=1, app_id="mine"))
    shovel(source, src_queue="in", dest_queue="out", dest_publish_properties={"delivery_mode": 2})
    wait_until(lambda: bodies(source, "out") == [b"x"], "moved")
    properties = source.queues["out"].peek()[0].properties
    assert (properties.delivery_mode, properties.app_id) == (2, "mine")


def test_delete_after_queue_length(source: Broker) -> None:
    # spec 20.5, 20.8: as many as the queue held at start, then the shovel deletes itself
    channel = channel_of(source)
    channel.queue_declare("in")
    publish(channel, "in", 5)
    shovel(source, src_queue="in", dest_queue="out", src_delete_after="queue-length")
    wait_until(lambda: source.list_parameters("shovel") == [], "the parameter cleared")
    assert bodies(source, "out") == [f"m{i}".encode() for i in range(5)]
    assert shovel_status(source) == []
    publish(channel, "in", 1, start=5)
    assert bodies(source, "in") == [b"m5"]  # stopped: nothing consumes any more
    assert source.queues["in"].consumer_count == 0


@pytest.mark.parametrize("mode", ["on-confirm", "on-publish"])
def test_delete_after_a_count(source: Broker, mode: str) -> None:
    channel = channel_of(source)
    channel.queue_declare("in")
    publish(channel, "in", 10)
    shovel(source, src_queue="in", dest_queue="out", src_delete_after=4, ack_mode=mode)
    wait_until(lambda: source.list_parameters("shovel") == [], "the parameter cleared")
    assert bodies(source, "out") == [b"m0", b"m1", b"m2", b"m3"]
    # the prefetched rest went back, in order, redelivered
    assert bodies(source, "in") == [f"m{i}".encode() for i in range(4, 10)]
    assert source.queues["in"].messages_unacknowledged == 0


def test_delete_after_zero_removes_the_shovel_at_once(source: Broker) -> None:
    channel_of(source).queue_declare("in")
    shovel(source, src_queue="in", dest_queue="out", src_delete_after=0)
    wait_until(lambda: source.list_parameters("shovel") == [], "the parameter cleared")
    assert shovel_status(source) == []


def test_no_ack_consumes_without_acks(source: Broker) -> None:
    # spec 20.5: no-ack consumes with no_ack=true
    channel = channel_of(source)
    channel.queue_declare("in")
    publish(channel, "in", 3)
    shovel(source, src_queue="in", dest_queue="out", ack_mode="no-ack")
    wait_until(lambda: len(bodies(source, "out")) == 3, "moved")
    consumer = next(iter(source.queues["in"].consumers))
    assert consumer.auto_ack and consumer.prefetch == 0  # no basic.qos either


def test_on_publish_acks_after_publishing(source: Broker) -> None:
    channel = channel_of(source)
    channel.queue_declare("in")
    publish(channel, "in", 3)
    shovel(source, src_queue="in", dest_queue="out", ack_mode="on-publish")
    wait_until(lambda: len(bodies(source, "out")) == 3, "moved")
    wait_until(lambda: source.queues["in"].stats.acked == 3, "acked")
    consumer = next(iter(source.queues["in"].consumers))
    assert not consumer.auto_ack


def test_a_prefetch_bounds_what_the_shovel_holds(source: Broker) -> None:
    channel = channel_of(source)
    channel.queue_declare("in")
    channel.queue_declare("full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    publish(channel, "in", 20)
    shovel(source, src_queue="in", dest_queue="full", src_prefetch_count=5)
    # every publish is nacked: messages go back to the source, again and again
    wait_until(lambda: (s := status_of(source)) and s.get("forwarded", 0) > 10, "retries")
    assert source.queues["in"].messages_unacknowledged <= 5
    assert source.queues["in"].messages == 20  # nothing lost


def test_a_nacked_message_goes_back_to_the_source_and_is_moved_later(source: Broker) -> None:
    # spec 20.5: on-confirm acks the source only after the confirm; a nack requeues it
    channel = channel_of(source)
    channel.queue_declare("in")
    channel.queue_declare("out", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    publish(channel, "in", 2)
    shovel(source, src_queue="in", dest_queue="out")
    wait_until(lambda: (s := status_of(source)) and s.get("forwarded", 0) > 3, "a retry")
    assert bodies(source, "in") == [b"m1"] or source.queues["in"].messages_unacknowledged == 1
    channel.basic_get("out", auto_ack=True)  # room again
    wait_until(lambda: source.queues["in"].messages == 0, "the second moved")
    assert channel.basic_get("out", auto_ack=True)[2] == b"m1"


def test_clearing_the_parameter_stops_the_shovel(source: Broker) -> None:
    channel = channel_of(source)
    channel.queue_declare("in")
    shovel(source, src_queue="in", dest_queue="out")
    running(source)
    source.clear_parameter("shovel", "s")
    assert shovel_status(source) == []
    assert source.queues["in"].consumer_count == 0  # stopped before clear_parameter returned
    publish(channel, "in", 1)
    assert bodies(source, "in") == [b"m0"]
    assert not [c for c in source.connections if c.client_properties.get("connection_name")]


def test_a_changed_definition_restarts_the_shovel(source: Broker) -> None:
    channel = channel_of(source)
    channel.queue_declare("in")
    shovel(source, src_queue="in", dest_queue="first")
    running(source)
    shovel(source, src_queue="in", dest_queue="second")
    wait_until(lambda: running(source).get("dest_queue") == "second", "the new definition")
    publish(channel, "in", 1)
    wait_until(lambda: bodies(source, "second") == [b"m0"], "moved to second")
    assert bodies(source, "first") == []
    assert source.queues["in"].consumer_count == 1


def test_closing_the_broker_stops_its_shovels(source: Broker) -> None:
    channel_of(source).queue_declare("in")
    shovel(source, src_queue="in", dest_queue="out")
    running(source)
    source.close()
    assert shovel_status(source) == []
    assert source.connections == []


def test_a_deleted_source_queue_restarts_the_shovel(source: Broker) -> None:
    # basic.cancel from the source: "needed a restart"; the restart declares the queue again
    channel = channel_of(source)
    channel.queue_declare("in")
    shovel(source, src_queue="in", dest_queue="out")
    running(source)
    channel.queue_delete("in")
    wait_until(lambda: "in" in source.queues and source.queues["in"].consumer_count, "back")
    publish(channel, "in", 1)
    wait_until(lambda: bodies(source, "out") == [b"m0"], "moved after the restart")


def test_a_closed_source_connection_requeues_and_the_shovel_starts_again(source: Broker) -> None:
    # spec 20.6: the unacked messages go back to the queue and are moved after the restart
    channel = channel_of(source)
    channel.queue_declare("in")
    channel.queue_declare("out", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    channel.basic_publish("", "out", b"filler")  # full: every publish is nacked
    publish(channel, "in", 3)
    shovel(source, src_queue="in", dest_queue="out", reconnect_delay=1)
    wait_until(lambda: source.queues["in"].messages_unacknowledged == 3, "held by the shovel")
    connection = next(
        c for c in source.connections if c.client_properties.get("connection_name") == "Shovel s"
    )
    connection.close(320, "CONNECTION_FORCED - Closed via management plugin")
    assert source.queues["in"].messages == 3
    wait_until(
        lambda: (
            [c.channel.connection for c in source.queues["in"].consumers] != [connection]
            and source.queues["in"].consumer_count == 1
        ),
        "a new consumer on the source queue",
    )
    moved: list[bytes] = []

    def take() -> bool:  # room for one more each time
        method, _, body = channel.basic_get("out", auto_ack=True)
        if method is not None and body != b"filler":
            moved.append(body)
        return len(moved) == 3

    wait_until(take, "all three moved after the restart")
    # each once; nacks send messages back behind those the shovel holds, so order may change
    assert sorted(moved) == [b"m0", b"m1", b"m2"]


def test_reconnect_delay_zero_stays_terminated(source: Broker) -> None:
    # spec 20.6
    channel_of(source).queue_declare("in")
    shovel(source, src_queue="in", dest_uri="amqp:///missing", dest_queue="out", reconnect_delay=0)
    row = wait_until(
        lambda: (s := status_of(source)) is not None and s["state"] == "terminated" and s,
        "terminated",
    )
    assert row["reason"] == "failed to connect to destination"
    assert source.list_parameters("shovel") != []  # the parameter stays


def test_a_failing_shovel_tries_again_after_the_delay(source: Broker) -> None:
    # spec 20.6: the destination vhost appears later; the shovel gets there by itself
    channel = channel_of(source)
    channel.queue_declare("in")
    publish(channel, "in", 1)
    shovel(source, src_queue="in", dest_uri="amqp:///later", dest_queue="out", reconnect_delay=1)
    wait_until(lambda: (s := status_of(source)) and s["state"] == "terminated", "terminated")
    source.add_vhost("later")
    wait_until(lambda: bodies(source, "out", vhost="later") == [b"m0"], "moved after all")


def test_a_refused_definition_starts_nothing(source: Broker) -> None:
    with pytest.raises(ParameterError):
        shovel(source, dest_queue="out")
    assert shovel_status(source) == []


def test_shovels_in_other_vhosts(source: Broker) -> None:
    # the parameter's vhost names the shovel; its URIs say where messages come from and go
    source.add_vhost("v")
    channel_of(source, "v").queue_declare("in")
    source.set_parameter(
        "shovel",
        "s",
        {"src-uri": "amqp:///v", "src-queue": "in", "dest-uri": "amqp:///v", "dest-queue": "out"},
        vhost="v",
    )
    row = wait_until(lambda: (s := status_of(source, "s", "v")) and s["state"] == "running", "up")
    assert row
    source.delete_vhost("v")  # takes the parameter, and so the shovel, with it
    assert shovel_status(source) == []


def test_the_source_uri_names_the_user_and_a_list_is_tried_in_turn(source: Broker) -> None:
    # spec 20.2: a random URI of the list, then another until one connects
    source.add_user("alice", "secret")
    source.set_permissions("alice")  # spec 15.4
    channel_of(source).queue_declare("in")
    shovel(source, src_uri=["amqp:///missing", "amqp://alice@/%2F"], src_queue="in", dest_queue="o")
    running(source)
    consumers = source.queues["in"].consumers
    assert [c.channel.connection.user for c in consumers] == ["alice"]
