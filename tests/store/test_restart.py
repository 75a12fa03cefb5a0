"""What a restart keeps and how it comes back (spec 22.1-22.25), in process: a broker closed
(or crashed) and opened again on the same data directory."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest

from amqpmodel import BasicProperties, Broker, Channel, NotFound
from amqpmodel.driver import (
    clear_global_parameter,
    global_parameter,
    list_global_parameters,
    set_global_parameter,
    set_vhost_metadata,
    vhost_metadata,
)

PERSISTENT = BasicProperties(delivery_mode=2)
Restart = Callable[..., Broker]  # the ``restart`` fixture (conftest)


def _channel(broker: Broker) -> Channel:
    return broker.connect().channel()


def _drain(ch: Channel, queue: str) -> list[tuple[bytes, bool]]:
    """(body, redelivered) of every ready message, acked."""
    result = []
    while True:
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return result
        result.append((body, method.redelivered))


def _bodies(ch: Channel, queue: str) -> list[bytes]:
    return [body for body, _ in _drain(ch, queue)]


def test_durable_entities_survive_and_transient_ones_do_not(restart: Restart) -> None:
    # spec 22.1, 22.7
    broker = restart()
    ch = _channel(broker)
    ch.exchange_declare("orders", "topic", durable=True)
    ch.exchange_declare("scratch", "fanout")
    ch.queue_declare("jobs", durable=True, arguments={"x-max-length": 10})
    ch.queue_declare("temp")
    ch.queue_declare("mine", durable=True, exclusive=True)
    named = ch.queue_declare("", durable=True).method.queue
    broker = restart(broker)
    assert set(broker.exchanges) >= {"orders", "amq.direct", "amq.topic"}
    assert "scratch" not in broker.exchanges
    assert broker.exchanges["orders"].type == "topic" and broker.exchanges["orders"].durable
    assert set(broker.queues) == {"jobs", named}
    assert broker.queues["jobs"].arguments == {"x-max-length": 10, "x-queue-type": "classic"}
    assert named.startswith("amq.gen-")
    ch = _channel(broker)
    assert ch.queue_declare(named, passive=True).method.queue == named  # spec 22.1
    ch.queue_declare("jobs", durable=True, arguments={"x-max-length": 10})  # still equivalent


def test_bindings_survive_when_both_ends_are_durable(restart: Restart) -> None:
    # spec 22.2
    broker = restart()
    ch = _channel(broker)
    ch.exchange_declare("logs", "direct", durable=True)
    ch.exchange_declare("side", "fanout", durable=True)
    ch.exchange_declare("gone", "fanout")
    ch.queue_declare("errors", durable=True)
    ch.queue_declare("temp")
    ch.queue_bind("errors", "logs", "error")
    ch.queue_bind("errors", "logs", "warning", arguments={"b": 1, "a": [1, "x"]})
    ch.queue_bind("temp", "logs", "error")
    ch.queue_bind("errors", "amq.topic", "#")
    ch.exchange_bind("side", "logs", "error")
    ch.exchange_bind("gone", "logs", "error")
    ch.queue_bind("errors", "gone")
    broker = restart(broker)
    shown = sorted(
        (b.source, b.destination_type, b.destination, b.routing_key)
        for b in broker.bindings
        if b.source
    )
    assert shown == [
        ("amq.topic", "queue", "errors", "#"),
        ("logs", "exchange", "side", "error"),
        ("logs", "queue", "errors", "error"),
        ("logs", "queue", "errors", "warning"),
    ]
    ch = _channel(broker)
    ch.basic_publish("logs", "error", b"e", PERSISTENT)
    assert ch.queue_declare("errors", passive=True).method.message_count == 1  # via "logs" only
    ch.queue_unbind("errors", "logs", "warning", arguments={"a": [1, "x"], "b": 1})
    broker = restart(broker)
    assert ("logs", "warning") not in [(b.source, b.routing_key) for b in broker.bindings]


def test_users_and_vhosts_survive(restart: Restart) -> None:
    # spec 22.3: users with password hashes and tags, vhosts
    broker = restart()
    broker.add_user("app", "s3cret", tags=("monitoring",))
    broker.add_vhost("staging")
    broker.add_vhost("old")
    broker.delete_vhost("old")
    broker.delete_user("guest")
    broker = restart(broker)
    assert set(broker.users) == {"app"}
    assert broker.users["app"][1] == ("monitoring",)
    assert "s3cret" not in broker.users["app"][0]  # kept hashed
    assert broker.authenticate("app", "s3cret") and not broker.authenticate("app", "nope")
    assert set(broker.vhosts) == {"/", "staging"}
    assert "amq.fanout" in broker.vhost("staging").exchanges  # spec 1.1


def test_user_limits_survive_and_go_with_their_user(restart: Restart) -> None:
    # spec 15.15, 22.3
    broker = restart()
    broker.add_user("app", "s3cret")
    broker.add_user("old", "x")
    broker.set_user_limits("app", {"max-channels": 3})
    broker.set_user_limits("old", {"max-connections": 1})
    broker = restart(broker)
    assert broker.user_limits() == {"app": {"max-channels": 3}, "old": {"max-connections": 1}}
    broker.delete_user("old")
    broker.clear_user_limits("app", "max-channels")
    broker.set_user_limits("guest", {"max-connections": 4})
    broker = restart(broker)
    assert broker.user_limits() == {"guest": {"max-connections": 4}}


def test_vhost_metadata_and_global_parameters_survive(restart: Restart) -> None:
    # spec 22.3: vhosts with their default_queue_type (and description, tags), and
    # global parameters
    broker = restart()
    broker.add_vhost("staging")
    broker.add_vhost("old")
    set_vhost_metadata(
        broker, "staging", description="pre-prod", tags=["eu"], default_queue_type="quorum"
    )
    set_vhost_metadata(broker, "old", description="going")
    set_global_parameter(broker, "cluster_name", "prod-1")
    set_global_parameter(broker, "gone", {"a": 1})
    broker = restart(broker)
    assert vhost_metadata(broker, "staging") == {
        "description": "pre-prod",
        "tags": ["eu"],
        "default_queue_type": "quorum",
    }
    ch = broker.connect("staging").channel()
    ch.queue_declare("q", durable=True)
    assert broker.vhost("staging").queues["q"].queue_type == "quorum"  # spec 11.3
    assert global_parameter(broker, "cluster_name") == "prod-1"
    broker.delete_vhost("old")
    clear_global_parameter(broker, "gone")
    broker = restart(broker)
    assert set(broker.vhosts) == {"/", "staging"}
    assert [p["name"] for p in list_global_parameters(broker)] == ["cluster_name"]
    broker.add_vhost("old")
    assert vhost_metadata(broker, "old")["description"] == ""  # nothing of the old one


def test_a_fresh_data_dir_gets_the_default_vhost_and_user_once(restart: Restart) -> None:
    broker = restart()
    assert set(broker.users) == {"guest"} and set(broker.vhosts) == {"/"}
    broker.delete_vhost("/")
    broker = restart(broker)
    assert broker.vhosts == {}  # as RabbitMQ: defaults only on the first boot


def test_persistent_messages_in_durable_queues_survive_transient_ones_do_not(
    restart: Restart,
) -> None:
    # spec 22.4, 22.5, 22.6
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("durable", durable=True)
    ch.queue_declare("transient")
    ch.exchange_declare("both", "fanout", durable=True)
    ch.queue_bind("durable", "both")
    ch.queue_bind("transient", "both")
    ch.basic_publish("", "durable", b"kept", PERSISTENT)
    ch.basic_publish("", "durable", b"lost")
    ch.basic_publish("", "durable", b"mode1", BasicProperties(delivery_mode=1))
    ch.basic_publish("both", "", b"fanout", PERSISTENT)
    broker = restart(broker)
    ch = _channel(broker)
    assert _bodies(ch, "durable") == [b"kept", b"fanout"]
    assert "transient" not in broker.queues


def test_recovered_messages_keep_everything_but_redelivered(restart: Restart) -> None:
    # spec 22.11
    stamp = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    properties = BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        headers={
            "n": 1,
            "big": 2**40,
            "f": 1.5,
            "s": "text",
            "b": b"\x00\xff",
            "list": [1, "two", {"three": 3}],
            "t": stamp,
            "flag": True,
            "none": None,
        },
        delivery_mode=2,
        priority=3,
        correlation_id="c-1",
        reply_to="replies",
        expiration="600000",
        message_id="m-1",
        timestamp=1_700_000_000,
        type="order",
        user_id="guest",
        app_id="shop",
        cluster_id="c",
    )
    broker = restart()
    ch = _channel(broker)
    ch.exchange_declare("shop", "topic", durable=True)
    ch.queue_declare("orders", durable=True)
    ch.queue_bind("orders", "shop", "order.*")
    ch.basic_publish("shop", "order.new", b"\x00body\xff", properties)
    broker = restart(broker)
    method, got, body = _channel(broker).basic_get("orders", auto_ack=True)
    assert method is not None
    assert (method.exchange, method.routing_key, body) == ("shop", "order.new", b"\x00body\xff")
    assert got == properties
    assert got.headers is not None and type(got.headers["t"]) is datetime.datetime


def test_dead_letter_history_survives(restart: Restart) -> None:
    # spec 22.11: x-death, x-first-death-* come back as they were
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("dlq", durable=True)
    ch.queue_declare(
        "work",
        durable=True,
        arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"},
    )
    ch.basic_publish("", "work", b"m", PERSISTENT)
    method, _, _ = ch.basic_get("work")
    assert method is not None
    ch.basic_reject(method.delivery_tag, requeue=False)
    before = broker.queues["dlq"].peek()[0]
    broker = restart(broker)
    after = broker.queues["dlq"].peek()[0]
    assert after.properties == before.properties
    assert after.annotations == before.annotations
    ch = _channel(broker)
    method, properties, _ = ch.basic_get("dlq")
    assert method is not None and properties.headers is not None
    assert properties.headers["x-death"][0]["count"] == 1
    assert properties.headers["x-first-death-reason"] == "rejected"


def test_order_is_kept_and_requeued_messages_return_to_their_place(restart: Restart) -> None:
    # spec 22.12, 22.14
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("q", durable=True)
    for i in range(6):
        ch.basic_publish("", "q", b"%d" % i, PERSISTENT)
    first, _, _ = ch.basic_get("q")
    second, _, _ = ch.basic_get("q")
    assert first is not None and second is not None
    ch.basic_nack(first.delivery_tag, requeue=True)  # back at the head
    ch.basic_get("q", auto_ack=True)  # "0" again, acked
    # "1" stays unacked at the stop
    broker = restart(broker)
    assert _drain(_channel(broker), "q") == [
        (b"1", True),  # spec 22.14: unacked at the stop, back in place, redelivered
        (b"2", False),
        (b"3", False),
        (b"4", False),
        (b"5", False),
    ]


def test_priorities_survive(restart: Restart) -> None:
    # spec 22.13 (RabbitMQ's priority_queue_recovery_SUITE)
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("p", durable=True, arguments={"x-max-priority": 3})
    for priority in (1, 2, 3, 1, 2, 3, 1, 2, 3):
        ch.basic_publish(
            "", "p", b"%d" % priority, BasicProperties(delivery_mode=2, priority=priority)
        )
    broker = restart(broker)
    assert _bodies(_channel(broker), "p") == [b"3", b"3", b"3", b"2", b"2", b"2", b"1", b"1", b"1"]


def test_what_left_a_queue_before_a_clean_stop_does_not_come_back(restart: Restart) -> None:
    # spec 22.16: acked, purged, expired, dropped by a length limit, dead-lettered
    broker = restart()
    clock: Any = broker.clock
    ch = _channel(broker)
    ch.queue_declare("acked", durable=True)
    ch.queue_declare("purged", durable=True)
    ch.queue_declare("ttl", durable=True, arguments={"x-message-ttl": 1000})
    ch.queue_declare("limited", durable=True, arguments={"x-max-length": 1})
    ch.queue_declare("dlq", durable=True)
    ch.queue_declare(
        "dead",
        durable=True,
        arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"},
    )
    for name in ("acked", "purged", "ttl", "limited", "limited", "dead"):
        ch.basic_publish("", name, name.encode(), PERSISTENT)
    method, _, _ = ch.basic_get("acked")
    assert method is not None
    ch.basic_ack(method.delivery_tag)
    ch.queue_purge("purged")
    clock.advance(2)
    method, _, _ = ch.basic_get("dead")
    assert method is not None
    ch.basic_reject(method.delivery_tag, requeue=False)
    broker = restart(broker)
    counts = {name: q.messages_ready for name, q in broker.queues.items()}
    assert counts == {"acked": 0, "purged": 0, "ttl": 0, "limited": 1, "dead": 0, "dlq": 1}


def test_redelivered_after_a_clean_stop_marks_only_delivered_messages(restart: Restart) -> None:
    # spec 22.17
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("q", durable=True)
    for i in range(3):
        ch.basic_publish("", "q", b"%d" % i, PERSISTENT)
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.basic_reject(method.delivery_tag, requeue=True)
    broker = restart(broker)
    assert _drain(_channel(broker), "q") == [(b"0", True), (b"1", False), (b"2", False)]


def test_every_message_is_redelivered_after_a_crash(restart: Restart) -> None:
    # spec 22.18
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("q", durable=True)
    ch.confirm_delivery()
    for i in range(3):
        ch.basic_publish("", "q", b"%d" % i, PERSISTENT)  # confirmed: stored
    broker = restart(broker, crash_it=True)
    assert _drain(_channel(broker), "q") == [(b"0", True), (b"1", True), (b"2", True)]


def test_a_crash_loses_at_most_what_was_not_committed(restart: Restart) -> None:
    # spec 22.15, 22.32: unconfirmed publishes may or may not survive; confirmed ones do
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("q", durable=True)
    broker._store.flush()  # type: ignore[union-attr]
    ch.confirm_delivery()
    ch.basic_publish("", "q", b"confirmed", PERSISTENT)
    other = _channel(broker)
    for i in range(100):
        other.basic_publish("", "q", b"maybe %d" % i, PERSISTENT)
    broker = restart(broker, crash_it=True)
    bodies = _bodies(_channel(broker), "q")
    assert bodies[0] == b"confirmed"
    assert bodies[1:] == [b"maybe %d" % i for i in range(len(bodies) - 1)]  # a prefix, in order


def test_message_ttl_counts_the_time_the_broker_was_down(restart: Restart) -> None:
    # spec 22.21: the expiry is an absolute time, stored with the message
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("dlq", durable=True)
    ch.queue_declare(
        "ttl",
        durable=True,
        arguments={
            "x-message-ttl": 120_000,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "dlq",
        },
    )
    ch.basic_publish("", "ttl", b"a", BasicProperties(delivery_mode=2, expiration="60000"))
    ch.basic_publish("", "ttl", b"b", PERSISTENT)
    broker = restart(broker, after=30)
    assert broker.queues["ttl"].messages_ready == 2
    broker.clock.advance(30)  # type: ignore[attr-defined]
    assert broker.queues["ttl"].messages_ready == 1  # "a" died 60 s after its publish
    broker = restart(broker, after=3600)  # "b" expired while down: dead-lettered at recovery
    assert broker.queues["ttl"].messages_ready == 0
    ch = _channel(broker)
    method, properties, body = ch.basic_get("dlq", auto_ack=True)
    assert body == b"a" and properties.headers["x-death"][0]["reason"] == "expired"
    method, properties, body = ch.basic_get("dlq", auto_ack=True)
    assert body == b"b" and properties.headers["x-death"][0]["reason"] == "expired"


def test_queue_expiry_starts_afresh_at_recovery(restart: Restart) -> None:
    # spec 22.22: a classic queue's x-expires period restarts with the full period
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("idle", durable=True, arguments={"x-expires": 60_000})
    broker.clock.advance(50)  # type: ignore[attr-defined]
    broker = restart(broker, after=3600)
    assert "idle" in broker.queues
    broker.clock.advance(59)  # type: ignore[attr-defined]
    assert "idle" in broker.queues
    broker.clock.advance(2)  # type: ignore[attr-defined]
    assert "idle" not in broker.queues
    broker = restart(broker)
    assert "idle" not in broker.queues  # its deletion was stored


def test_durable_auto_delete_entities_survive_until_used_and_left(restart: Restart) -> None:
    # spec 22.8
    broker = restart()
    ch = _channel(broker)
    ch.exchange_declare("ad-x", "fanout", durable=True, auto_delete=True)
    ch.queue_declare("ad-q", durable=True, auto_delete=True)
    ch.queue_bind("ad-q", "ad-x")
    broker = restart(broker)
    assert "ad-x" in broker.exchanges and "ad-q" in broker.queues
    ch = _channel(broker)
    tag = ch.basic_consume("ad-q", lambda *args: None)
    ch.basic_cancel(tag)  # the last consumer leaves: the queue goes (spec 2.8) ...
    assert "ad-q" not in broker.queues
    assert "ad-x" not in broker.exchanges  # ... and with its binding, the exchange (1.10)
    broker = restart(broker)
    assert "ad-q" not in broker.queues and "ad-x" not in broker.exchanges


def test_after_a_restart_declare_ok_counts_recovered_messages_and_tags_start_at_one(
    restart: Restart,
) -> None:
    # spec 22.25
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("q", durable=True)
    ch.basic_publish("", "q", b"1", PERSISTENT)
    ch.basic_publish("", "q", b"2", PERSISTENT)
    ch.basic_get("q")
    broker = restart(broker)
    ch = _channel(broker)
    assert ch.queue_declare("q", durable=True).method.message_count == 2
    method, _, _ = ch.basic_get("q")
    assert method is not None and method.delivery_tag == 1


def test_deleted_entities_stay_deleted(restart: Restart) -> None:
    broker = restart()
    ch = _channel(broker)
    ch.exchange_declare("x", "fanout", durable=True)
    ch.queue_declare("q", durable=True)
    ch.queue_bind("q", "x")
    ch.basic_publish("x", "", b"m", PERSISTENT)
    ch.queue_delete("q")
    ch.queue_declare("q", durable=True)  # the same name again: empty, unbound
    ch.exchange_delete("x")
    broker = restart(broker)
    assert "x" not in broker.exchanges
    assert broker.queues["q"].messages_ready == 0
    assert [b for b in broker.bindings if b.source] == []
    with pytest.raises(NotFound):
        _channel(broker).exchange_declare("x", passive=True)


def test_returned_messages_are_not_stored(restart: Restart) -> None:
    # spec 22.36
    broker = restart()
    ch = _channel(broker)
    returned: list[bytes] = []
    ch.add_on_return_callback(lambda channel, method, properties, body: returned.append(body))
    ch.basic_publish("amq.direct", "nowhere", b"r", PERSISTENT, mandatory=True)
    broker.run_until_idle()
    assert returned == [b"r"]
    broker = restart(broker)
    broker.run_until_idle()
    assert all(q.messages == 0 for q in broker.queues.values())


def test_broker_is_a_context_manager_that_stores_on_exit(data_dir: Any) -> None:
    with Broker(data_dir=data_dir) as broker:
        ch = _channel(broker)
        ch.queue_declare("q", durable=True)
        ch.basic_publish("", "q", b"m", PERSISTENT)
        assert broker.data_dir is not None
    assert not broker.connections
    with Broker(data_dir=data_dir) as broker:
        assert broker.queues["q"].messages_ready == 1
        assert broker.queues["q"].messages_persistent == 1


def test_views_show_how_many_messages_a_restart_keeps(restart: Restart) -> None:
    broker = restart()
    ch = _channel(broker)
    ch.queue_declare("jobs", durable=True)
    ch.queue_declare("temp")
    ch.basic_publish("", "jobs", b"p", PERSISTENT)
    ch.basic_publish("", "jobs", b"t")
    ch.basic_get("jobs")  # an unacked persistent message counts too
    ch.basic_publish("", "jobs", b"p2", PERSISTENT)
    jobs = broker.queues["jobs"]
    assert jobs.messages_persistent == 2
    assert "persistent=2" in repr(jobs)
    assert "persistent" not in repr(broker.queues["temp"])
    html = jobs._repr_html_()
    assert "<th>persistent</th>" in html and "<td>2</td>" in html
    assert broker.persistent_message_count() == 2


def test_a_confirm_covers_every_queue_a_message_reached(restart: Restart) -> None:
    # spec 22.31: confirmed when all its queues have it; unroutable: confirmed at once
    broker = restart()
    ch = _channel(broker)
    ch.exchange_declare("both", "fanout", durable=True)
    for name in ("a", "b"):
        ch.queue_declare(name, durable=True)
        ch.queue_bind(name, "both")
    confirms: list[Any] = []
    ch.confirm_delivery(confirms.append)
    ch.basic_publish("both", "", b"m", PERSISTENT)
    ch.basic_publish("amq.direct", "nowhere", b"u", PERSISTENT)
    while len(confirms) < 2:
        ch.connection.process_data_events(time_limit=0.05)
    assert [c.delivery_tag for c in confirms] == [1, 2]  # in order, each acked
    assert all(type(c).__name__ == "BasicAck" for c in confirms)
    broker = restart(broker, crash_it=True)  # confirmed: both copies were committed
    assert [broker.queues[name].messages_ready for name in ("a", "b")] == [1, 1]
