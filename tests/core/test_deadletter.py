"""Dead lettering (spec 4.1-4.7): triggers, routing, x-death and friends, cycles."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from amqpmodel import BasicProperties, Broker, Channel, Connection, VirtualClock

# a whole-second instant far from the epoch, so x-death times are meaningful
T0 = 1_700_000_000


def _at(seconds: float) -> datetime.datetime:
    return datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=int(seconds))


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


@pytest.fixture
def now(clock: VirtualClock) -> VirtualClock:
    clock.advance(T0 - clock.now())
    return clock


def _setup_dlx(ch: Channel, exchange_type: str = "fanout") -> None:
    """A DLX "dlx" and a queue "dlq" that receives every dead letter through it."""
    ch.exchange_declare("dlx", exchange_type)
    ch.queue_declare("dlq")
    ch.queue_bind("dlq", "dlx", "#" if exchange_type == "topic" else "")


def _source(ch: Channel, name: str = "q", **arguments: Any) -> None:
    arguments.setdefault("x-dead-letter-exchange", "dlx")
    ch.queue_declare(name, arguments=arguments)


def _get_all(ch: Channel, queue: str) -> list[tuple[Any, BasicProperties, bytes]]:
    result = []
    while True:
        method, properties, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return result
        result.append((method, properties, body))


def _reject(ch: Channel, queue: str) -> None:
    method, _, _ = ch.basic_get(queue)
    assert method is not None
    ch.basic_reject(method.delivery_tag, requeue=False)


def _death(properties: BasicProperties, index: int = 0) -> dict[str, Any]:
    assert properties.headers is not None
    return properties.headers["x-death"][index]


# ----------------------------------------------------------------- 4.1 triggers and reasons


def test_reject_requeue_false_dead_letters_rejected_spec_4_1(broker: Broker, ch: Channel) -> None:
    _setup_dlx(ch)
    _source(ch)
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    [(method, properties, body)] = _get_all(ch, "dlq")
    assert body == b"m"
    assert _death(properties)["reason"] == "rejected"
    assert broker.queues["q"].stats.dead_lettered == 1
    assert broker.queues["q"].messages == 0


def test_nack_requeue_false_multiple_dead_letters_each_rejected_spec_4_1(
    broker: Broker, ch: Channel
) -> None:
    _setup_dlx(ch)
    _source(ch)
    for body in (b"a", b"b", b"c"):
        ch.basic_publish("", "q", body)
    tags = [ch.basic_get("q")[0].delivery_tag for _ in range(3)]
    ch.basic_nack(tags[-1], multiple=True, requeue=False)
    got = _get_all(ch, "dlq")
    assert [body for _, _, body in got] == [b"a", b"b", b"c"]
    assert {_death(p)["reason"] for _, p, _ in got} == {"rejected"}
    assert broker.queues["q"].stats.dead_lettered == 3


def test_requeue_true_does_not_dead_letter_spec_4_1(broker: Broker, ch: Channel) -> None:
    _setup_dlx(ch)
    _source(ch)
    ch.basic_publish("", "q", b"m")
    method, _, _ = ch.basic_get("q")
    ch.basic_nack(method.delivery_tag, requeue=True)
    assert broker.queues["dlq"].messages == 0
    assert broker.queues["q"].messages_ready == 1


def test_ttl_dead_letters_expired_spec_4_1(broker: Broker, ch: Channel, now: VirtualClock) -> None:
    _setup_dlx(ch)
    _source(ch, **{"x-message-ttl": 5000})
    ch.basic_publish("", "q", b"m")
    now.advance(5)
    [(_, properties, body)] = _get_all(ch, "dlq")
    assert body == b"m"
    assert _death(properties)["reason"] == "expired"
    assert broker.queues["q"].stats.dead_lettered == 1
    assert broker.queues["q"].stats.dropped["expired"] == 0


def test_drop_head_dead_letters_maxlen_spec_4_1(broker: Broker, ch: Channel) -> None:
    _setup_dlx(ch)
    _source(ch, **{"x-max-length": 1})
    ch.basic_publish("", "q", b"old")
    ch.basic_publish("", "q", b"new")
    [(_, properties, body)] = _get_all(ch, "dlq")
    assert body == b"old"
    assert _death(properties)["reason"] == "maxlen"
    assert [m.body for m in broker.queues["q"].peek()] == [b"new"]


def test_reject_publish_dlx_dead_letters_maxlen_spec_4_1(broker: Broker, ch: Channel) -> None:
    _setup_dlx(ch)
    _source(ch, **{"x-max-length": 1, "x-overflow": "reject-publish-dlx"})
    ch.basic_publish("", "q", b"old")
    ch.basic_publish("", "q", b"new")
    [(_, properties, body)] = _get_all(ch, "dlq")
    assert body == b"new"
    assert _death(properties)["reason"] == "maxlen"
    assert [m.body for m in broker.queues["q"].peek()] == [b"old"]


def test_purge_does_not_dead_letter_spec_4_1(broker: Broker, ch: Channel) -> None:
    _setup_dlx(ch)
    _source(ch)
    ch.basic_publish("", "q", b"m")
    assert ch.queue_purge("q").message_count == 1
    assert broker.queues["dlq"].messages == 0
    assert broker.queues["q"].stats.dropped["purged"] == 1
    assert broker.queues["q"].stats.dead_lettered == 0


def test_queue_delete_does_not_dead_letter_spec_4_1(broker: Broker, ch: Channel) -> None:
    _setup_dlx(ch)
    _source(ch)
    ch.basic_publish("", "q", b"m")
    queue = broker.queues["q"]
    assert ch.queue_delete("q").message_count == 1
    assert broker.queues["dlq"].messages == 0
    assert queue.stats.dead_lettered == 0
    assert queue.stats.dropped["deleted"] == 1


def test_queue_expiry_does_not_dead_letter_spec_4_1(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    _setup_dlx(ch)
    _source(ch, **{"x-expires": 1000})
    ch.basic_publish("", "q", b"m")
    queue = broker.queues["q"]
    now.advance(2)
    assert "q" not in broker.queues
    assert broker.queues["dlq"].messages == 0
    assert queue.stats.dead_lettered == 0
    assert queue.stats.dropped["expired_queue"] == 1


def test_reject_without_dlx_drops_rejected(broker: Broker, ch: Channel) -> None:
    # spec 4.1: without a DLX a rejected message is simply gone
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    stats = broker.queues["q"].stats
    assert stats.dropped["rejected"] == 1
    assert stats.dead_lettered == 0


# ----------------------------------------------------------------- 4.2 the DLX and routing


def test_missing_dlx_drops_silently_spec_4_2(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("other")
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "nowhere"})
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    assert ch.is_open
    queue = broker.queues["q"]
    assert queue.messages == 0
    # gone, and accounted for exactly once (dead-lettered into nothing, or dropped)
    assert queue.stats.dead_lettered + sum(queue.stats.dropped.values()) == 1
    assert broker.queues["other"].stats.enqueued == 0
    queue._check()


def test_dlx_deleted_after_declare_drops_silently_spec_4_2(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    _setup_dlx(ch)
    _source(ch, **{"x-message-ttl": 1000})
    ch.basic_publish("", "q", b"m")
    ch.exchange_delete("dlx")
    now.advance(1)
    assert ch.is_open
    queue = broker.queues["q"]
    assert queue.messages == 0
    assert queue.stats.dead_lettered + sum(queue.stats.dropped.values()) == 1
    assert broker.queues["dlq"].stats.enqueued == 0


def test_dlx_created_later_is_used_spec_4_2(broker: Broker, ch: Channel) -> None:
    # the DLX is looked up at dead-letter time, not at declare time
    _source(ch)
    ch.basic_publish("", "q", b"m")
    _setup_dlx(ch)
    _reject(ch, "q")
    assert [body for _, _, body in _get_all(ch, "dlq")] == [b"m"]


def test_unroutable_dead_letter_dropped_spec_4_2(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("dlx", "direct")
    ch.queue_declare("dlq")
    ch.queue_bind("dlq", "dlx", "other-key")
    _source(ch)
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    assert ch.is_open
    assert broker.queues["dlq"].stats.enqueued == 0
    assert broker.queues["q"].messages == 0


def test_dead_letter_routed_through_dlx_alternate_exchange_spec_4_2(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("ae", "fanout")
    ch.queue_declare("aeq")
    ch.queue_bind("aeq", "ae")
    ch.exchange_declare("dlx", "direct", arguments={"alternate-exchange": "ae"})
    ch.queue_declare("dlq")
    ch.queue_bind("dlq", "dlx", "matched")
    _source(ch)
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    [(method, properties, body)] = _get_all(ch, "aeq")
    assert body == b"m"
    assert method.exchange == "dlx"
    assert _death(properties)["reason"] == "rejected"
    assert broker.queues["dlq"].stats.enqueued == 0


def test_dead_letter_through_dlx_e2e_binding_spec_4_2(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("dlx", "fanout")
    ch.exchange_declare("inner", "fanout")
    ch.exchange_bind("inner", "dlx")
    ch.queue_declare("dlq")
    ch.queue_bind("dlq", "inner")
    _source(ch)
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    [(method, _, body)] = _get_all(ch, "dlq")
    assert body == b"m"
    assert method.exchange == "dlx"


def test_dead_lettering_sends_no_confirms_spec_4_2(broker: Broker, ch: Channel) -> None:
    _setup_dlx(ch)
    _source(ch)
    confirms: list[Any] = []
    ch.confirm_delivery(confirms.append)
    ch.basic_publish("", "q", b"m")
    broker.run_until_idle()
    assert len(confirms) == 1
    seq = ch.next_publish_seq_no
    _reject(ch, "q")
    broker.run_until_idle()
    assert len(confirms) == 1
    assert ch.next_publish_seq_no == seq
    assert broker.queues["dlq"].messages_ready == 1


def test_dead_letter_delivered_to_consumer_of_dlq_spec_4_2(broker: Broker, ch: Channel) -> None:
    _setup_dlx(ch)
    _source(ch)
    received: list[Any] = []
    ch.basic_consume("dlq", lambda c, m, p, b: received.append((m, p, b)), auto_ack=True)
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    broker.run_until_idle()
    [(method, properties, body)] = received
    assert body == b"m"
    assert method.exchange == "dlx"
    assert _death(properties)["queue"] == "q"


# ----------------------------------------------------------------- 4.3 routing keys


def test_dead_letter_routing_key_overrides_spec_4_3(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("dlx", "direct")
    for name in ("by-rk", "by-cc", "by-dlrk"):
        ch.queue_declare(name)
    ch.queue_bind("by-rk", "dlx", "q")
    ch.queue_bind("by-cc", "dlx", "cc")
    ch.queue_bind("by-dlrk", "dlx", "dlrk")
    _source(ch, **{"x-dead-letter-routing-key": "dlrk"})
    ch.basic_publish("", "q", b"m", BasicProperties(headers={"CC": ["cc"]}))
    # the CC made the default exchange also try a queue named "cc": there is none
    _reject(ch, "q")
    [(method, properties, body)] = _get_all(ch, "by-dlrk")
    assert body == b"m"
    assert method.exchange == "dlx"
    assert method.routing_key == "dlrk"
    # spec 4.4: x-death records the original keys, not the dead-letter routing key
    assert _death(properties)["routing-keys"] == ["q", "cc"]
    assert broker.queues["by-rk"].stats.enqueued == 0
    assert broker.queues["by-cc"].stats.enqueued == 0


def test_dead_letter_uses_original_rk_cc_and_bcc_spec_4_3(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("src", "direct")
    _source(ch)
    ch.queue_bind("q", "src", "rk")
    ch.exchange_declare("dlx", "direct")
    for key in ("rk", "cc1", "cc2", "bcc"):
        ch.queue_declare(f"dl-{key}")
        ch.queue_bind(f"dl-{key}", "dlx", key)
    headers = {"CC": ["cc1", "cc2"], "BCC": ["bcc"]}
    ch.basic_publish("src", "rk", b"m", BasicProperties(headers=headers))
    assert broker.queues["q"].messages_ready == 1  # one copy (spec 1.16)
    _reject(ch, "q")
    for key in ("rk", "cc1", "cc2", "bcc"):
        [(method, properties, body)] = _get_all(ch, f"dl-{key}")
        assert body == b"m"
        assert method.exchange == "dlx"
        assert method.routing_key == "rk"
        assert "BCC" not in (properties.headers or {})  # spec 4.6


def test_dead_letter_routing_key_with_topic_dlx_spec_4_3(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("dlx", "topic")
    ch.queue_declare("orders-dead")
    ch.queue_bind("orders-dead", "dlx", "orders.#")
    _source(ch)
    ch.exchange_declare("src", "topic")
    ch.queue_bind("q", "src", "orders.*")
    ch.basic_publish("src", "orders.created", b"m")
    _reject(ch, "q")
    [(method, _, _)] = _get_all(ch, "orders-dead")
    assert method.routing_key == "orders.created"


def test_default_exchange_as_dlx_routes_by_queue_name_spec_4_3(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("dlq")
    ch.queue_declare(
        "q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"}
    )
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    [(method, properties, body)] = _get_all(ch, "dlq")
    assert body == b"m"
    assert method.exchange == ""
    assert method.routing_key == "dlq"
    assert _death(properties)["exchange"] == ""


# ----------------------------------------------------------------- 4.4 x-death


def test_x_death_fields_spec_4_4(broker: Broker, ch: Channel, now: VirtualClock) -> None:
    ch.exchange_declare("src", "direct")
    _setup_dlx(ch)
    _source(ch)
    ch.queue_bind("q", "src", "rk")
    headers = {"CC": ["cc"], "BCC": ["bcc"], "app": "kept"}
    ch.basic_publish(
        "src", "rk", b"m", BasicProperties(headers=headers, expiration="60000", message_id="id-1")
    )
    now.advance(7)
    _reject(ch, "q")
    [(_, properties, body)] = _get_all(ch, "dlq")
    assert body == b"m"
    assert properties.message_id == "id-1"
    assert properties.headers["app"] == "kept"
    x_death = properties.headers["x-death"]
    assert isinstance(x_death, list)
    assert len(x_death) == 1
    death = x_death[0]
    assert set(death) == {
        "count",
        "reason",
        "queue",
        "time",
        "exchange",
        "routing-keys",
        "original-expiration",
    }
    assert type(death["count"]) is int
    assert death["count"] == 1
    assert death["reason"] == "rejected"
    assert death["queue"] == "q"
    assert isinstance(death["time"], datetime.datetime)
    assert _naive_utc(death["time"]) == _at(T0 + 7)
    assert death["exchange"] == "src"
    assert death["routing-keys"] == ["rk", "cc"]  # BCC excluded
    assert death["original-expiration"] == "60000"
    for field in ("reason", "queue", "exchange", "original-expiration"):
        assert isinstance(death[field], str), field


def test_x_death_without_expiration_has_no_original_expiration_spec_4_4(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    _setup_dlx(ch)
    _source(ch, **{"x-message-ttl": 2000})
    ch.basic_publish("", "q", b"m")
    now.advance(2)
    [(_, properties, _)] = _get_all(ch, "dlq")
    death = _death(properties)
    assert "original-expiration" not in death  # the queue TTL is not the message's expiration
    assert death["reason"] == "expired"
    assert death["exchange"] == ""
    assert death["routing-keys"] == ["q"]
    assert _naive_utc(death["time"]) == _at(T0 + 2)


def test_x_death_time_is_instant_of_expiry_spec_4_4(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    _setup_dlx(ch)
    _source(ch, **{"x-message-ttl": 30_000})
    ch.basic_publish("", "q", b"a")
    now.advance(10)
    ch.basic_publish("", "q", b"b")
    now.advance(3600)  # far past both deadlines in one step
    got = _get_all(ch, "dlq")
    assert [body for _, _, body in got] == [b"a", b"b"]
    assert [_naive_utc(_death(p)["time"]) for _, p, _ in got] == [_at(T0 + 30), _at(T0 + 40)]


def test_x_death_repeat_increments_count_and_moves_to_front_spec_4_4(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    # q1 and q2 dead-letter into each other through the default exchange
    ch.queue_declare(
        "q1", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "q2"}
    )
    ch.queue_declare(
        "q2", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "q1"}
    )
    ch.basic_publish("", "q1", b"m")
    now.advance(1)
    _reject(ch, "q1")  # -> q2
    now.advance(1)
    _reject(ch, "q2")  # -> q1
    now.advance(1)
    _reject(ch, "q1")  # -> q2 again
    [(_, properties, body)] = _get_all(ch, "q2")
    assert body == b"m"
    x_death = properties.headers["x-death"]
    assert [(d["queue"], d["reason"], d["count"]) for d in x_death] == [
        ("q1", "rejected", 2),
        ("q2", "rejected", 1),
    ]
    # time is the first time for the pair
    assert _naive_utc(x_death[0]["time"]) == _at(T0 + 1)
    assert _naive_utc(x_death[1]["time"]) == _at(T0 + 2)
    assert type(x_death[0]["count"]) is int


def test_x_death_one_entry_per_queue_and_reason_spec_4_4(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    # rejected from q1 into q2, rejected from q2 back into q1, expired from q1 into q2
    # (allowed: q2's own entry is a rejection, spec 4.7)
    ch.queue_declare(
        "q1",
        arguments={
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "q2",
            "x-message-ttl": 5000,
        },
    )
    ch.queue_declare(
        "q2", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "q1"}
    )
    ch.basic_publish("", "q1", b"m")
    _reject(ch, "q1")
    now.advance(1)
    _reject(ch, "q2")
    assert broker.queues["q1"].messages_ready == 1
    now.advance(5)
    [(method, properties, _)] = _get_all(ch, "q2")
    x_death = properties.headers["x-death"]
    assert [(d["queue"], d["reason"], d["count"]) for d in x_death] == [
        ("q1", "expired", 1),
        ("q2", "rejected", 1),
        ("q1", "rejected", 1),
    ]
    assert [d["exchange"] for d in x_death] == ["", "", ""]
    assert [d["routing-keys"] for d in x_death] == [["q1"], ["q2"], ["q1"]]
    assert [_naive_utc(d["time"]) for d in x_death] == [_at(T0 + 6), _at(T0 + 1), _at(T0)]


def test_x_death_exchange_is_the_one_before_this_dead_lettering_spec_4_4(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("dlx1", "fanout")
    ch.exchange_declare("dlx2", "fanout")
    ch.queue_declare("q1", arguments={"x-dead-letter-exchange": "dlx1"})
    ch.queue_declare("q2", arguments={"x-dead-letter-exchange": "dlx2"})
    ch.queue_declare("q3")
    ch.queue_bind("q1", "src")
    ch.queue_bind("q2", "dlx1")
    ch.queue_bind("q3", "dlx2")
    ch.basic_publish("src", "key", b"m")
    _reject(ch, "q1")
    _reject(ch, "q2")
    [(method, properties, _)] = _get_all(ch, "q3")
    assert method.exchange == "dlx2"
    x_death = properties.headers["x-death"]
    assert [(d["queue"], d["exchange"]) for d in x_death] == [("q2", "dlx1"), ("q1", "src")]
    assert [d["routing-keys"] for d in x_death] == [["key"], ["key"]]


def test_client_set_x_death_is_ignored_spec_4_4(broker: Broker, ch: Channel) -> None:
    # spec 0.3: 4.0+ ignores a client-set x-death and writes its own
    _setup_dlx(ch)
    _source(ch)
    forged = [
        {"count": 41, "reason": "rejected", "queue": "q", "exchange": "", "routing-keys": ["q"]}
    ]
    ch.basic_publish("", "q", b"m", BasicProperties(headers={"x-death": forged}))
    _reject(ch, "q")
    [(_, properties, _)] = _get_all(ch, "dlq")
    x_death = properties.headers["x-death"]
    assert len(x_death) == 1
    assert x_death[0]["count"] == 1


def test_maxlen_x_death_for_reject_publish_dlx_spec_4_4(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    _setup_dlx(ch)
    _source(ch, **{"x-max-length": 0, "x-overflow": "reject-publish-dlx"})
    ch.basic_publish("", "q", b"m", BasicProperties(expiration="1000"))
    [(method, properties, _)] = _get_all(ch, "dlq")
    death = _death(properties)
    assert (death["queue"], death["reason"], death["count"]) == ("q", "maxlen", 1)
    assert death["original-expiration"] == "1000"
    assert death["routing-keys"] == ["q"]
    assert properties.expiration is None


# ----------------------------------------------------------------- 4.5 x-first-death / x-last-death


def test_first_and_last_death_headers_spec_4_5(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("dlx1", "fanout")
    ch.exchange_declare("dlx2", "fanout")
    ch.queue_declare("q1", arguments={"x-dead-letter-exchange": "dlx1"})
    ch.queue_declare("q2", arguments={"x-dead-letter-exchange": "dlx2", "x-message-ttl": 1000})
    ch.queue_declare("q3")
    ch.queue_bind("q1", "src")
    ch.queue_bind("q2", "dlx1")
    ch.queue_bind("q3", "dlx2")
    ch.basic_publish("src", "", b"m")
    _reject(ch, "q1")
    [(_, first, _)] = [(m, p, b) for m, p, b in [ch.basic_get("q2")]]
    assert first.headers["x-first-death-queue"] == "q1"
    assert first.headers["x-first-death-reason"] == "rejected"
    assert first.headers["x-first-death-exchange"] == "src"
    assert first.headers["x-last-death-queue"] == "q1"
    assert first.headers["x-last-death-reason"] == "rejected"
    assert first.headers["x-last-death-exchange"] == "src"
    ch.basic_recover(requeue=True)
    now.advance(1)  # expires in q2 -> dlx2 -> q3
    [(_, properties, _)] = _get_all(ch, "q3")
    headers = properties.headers
    assert headers["x-first-death-queue"] == "q1"
    assert headers["x-first-death-reason"] == "rejected"
    assert headers["x-first-death-exchange"] == "src"
    assert headers["x-last-death-queue"] == "q2"
    assert headers["x-last-death-reason"] == "expired"
    assert headers["x-last-death-exchange"] == "dlx1"
    for key in (
        "x-first-death-queue",
        "x-first-death-reason",
        "x-first-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
        "x-last-death-exchange",
    ):
        assert isinstance(headers[key], str), key


def test_first_death_survives_repeat_of_same_pair_spec_4_5(broker: Broker, ch: Channel) -> None:
    ch.queue_declare(
        "q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "q"}
    )
    ch.basic_publish("", "q", b"m")
    for _ in range(3):
        _reject(ch, "q")  # rejected cycles are allowed (spec 4.7)
    [(_, properties, _)] = _get_all(ch, "q")
    headers = properties.headers
    assert headers["x-death"][0]["count"] == 3
    assert len(headers["x-death"]) == 1
    assert (headers["x-first-death-queue"], headers["x-first-death-reason"]) == ("q", "rejected")
    assert headers["x-first-death-exchange"] == ""
    assert (headers["x-last-death-queue"], headers["x-last-death-reason"]) == ("q", "rejected")
    assert headers["x-last-death-exchange"] == ""


def test_client_set_first_death_headers_do_not_survive_spec_4_5(
    broker: Broker, ch: Channel
) -> None:
    # the first dead-lettering sets them from the real death, not from what a client sent
    _setup_dlx(ch)
    _source(ch)
    forged = {"x-first-death-queue": "fake", "x-first-death-reason": "expired"}
    ch.basic_publish("", "q", b"m", BasicProperties(headers=forged))
    _reject(ch, "q")
    [(_, properties, _)] = _get_all(ch, "dlq")
    assert properties.headers["x-first-death-queue"] == "q"
    assert properties.headers["x-first-death-reason"] == "rejected"


# ----------------------------------------------------------------- 4.6 expiration and BCC


def test_expiration_removed_on_dead_lettering_spec_4_6(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    _setup_dlx(ch)
    _source(ch)
    ch.basic_publish("", "q", b"m", BasicProperties(expiration="1000", priority=3))
    _reject(ch, "q")
    assert [m.properties.expiration for m in broker.queues["dlq"].peek()] == [None]
    now.advance(60)  # no longer subject to the old expiration
    [(_, properties, body)] = _get_all(ch, "dlq")
    assert body == b"m"
    assert properties.expiration is None
    assert properties.priority == 3
    assert _death(properties)["original-expiration"] == "1000"


def test_expired_message_dead_letter_has_no_expiration_spec_4_6(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    _setup_dlx(ch)
    _source(ch)
    ch.basic_publish("", "q", b"m", BasicProperties(expiration="500"))
    now.advance(1)
    [(_, properties, _)] = _get_all(ch, "dlq")
    assert properties.expiration is None
    assert _death(properties)["reason"] == "expired"
    assert _death(properties)["original-expiration"] == "500"


def test_bcc_stripped_at_publish_spec_4_6(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("a")
    ch.queue_declare("b")
    ch.basic_publish("", "a", b"m", BasicProperties(headers={"BCC": ["b"], "x": 1}))
    for name in ("a", "b"):
        [(_, properties, body)] = _get_all(ch, name)
        assert body == b"m"
        assert "BCC" not in properties.headers
        assert properties.headers["x"] == 1


def test_bcc_not_in_dead_letter_headers_spec_4_6(broker: Broker, ch: Channel) -> None:
    _setup_dlx(ch)
    _source(ch)
    ch.queue_declare("hidden")
    ch.basic_publish("", "q", b"m", BasicProperties(headers={"BCC": ["hidden"]}))
    _reject(ch, "q")
    [(_, properties, _)] = _get_all(ch, "dlq")
    assert "BCC" not in properties.headers
    assert _death(properties)["routing-keys"] == ["q"]


# ----------------------------------------------------------------- 4.7 cycles


def test_expired_self_cycle_dropped_spec_4_7(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    ch.queue_declare(
        "q",
        arguments={
            "x-message-ttl": 1000,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "q",
        },
    )
    ch.basic_publish("", "q", b"m")
    now.advance(1)
    queue = broker.queues["q"]
    assert queue.messages == 0
    assert queue.stats.enqueued == 1  # the dead letter never came back
    now.advance(10)
    assert queue.stats.enqueued == 1


def test_expired_two_queue_cycle_dropped_spec_4_7(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    for name, other in (("q1", "q2"), ("q2", "q1")):
        ch.queue_declare(
            name,
            arguments={
                "x-message-ttl": 1000,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": other,
            },
        )
    ch.basic_publish("", "q1", b"m")
    now.advance(1)
    assert broker.queues["q2"].messages_ready == 1
    now.advance(1)
    assert broker.queues["q1"].messages == 0
    assert broker.queues["q2"].messages == 0
    assert broker.queues["q1"].stats.enqueued == 1
    assert broker.queues["q2"].stats.enqueued == 1


def test_maxlen_self_cycle_dropped_spec_4_7(broker: Broker, ch: Channel) -> None:
    ch.queue_declare(
        "q",
        arguments={
            "x-max-length": 1,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "q",
        },
    )
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    queue = broker.queues["q"]
    assert [m.body for m in queue.peek()] == [b"b"]
    assert queue.stats.enqueued == 2


def test_rejected_self_cycle_allowed_spec_4_7(broker: Broker, ch: Channel) -> None:
    ch.queue_declare(
        "q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "q"}
    )
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    _reject(ch, "q")
    method, properties, body = ch.basic_get("q", auto_ack=True)
    assert body == b"m"
    assert method.redelivered is False  # a dead letter is a new message
    assert _death(properties)["count"] == 2


def test_cycle_with_rejection_in_between_allowed_spec_4_7(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    # q1 -rejected-> q2 -expired-> q1: a "rejected" death lies between, so q1 gets it
    ch.queue_declare(
        "q1", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "q2"}
    )
    ch.queue_declare(
        "q2",
        arguments={
            "x-message-ttl": 1000,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "q1",
        },
    )
    ch.basic_publish("", "q1", b"m")
    _reject(ch, "q1")
    now.advance(1)
    [(_, properties, body)] = _get_all(ch, "q1")
    assert body == b"m"
    assert [(d["queue"], d["reason"]) for d in properties.headers["x-death"]] == [
        ("q2", "expired"),
        ("q1", "rejected"),
    ]


def test_cycle_expired_after_rejection_older_than_target_dropped_spec_4_7(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    # history newest first at the second expiry: (q2 expired), (q1 expired), (q0 rejected):
    # from the q1 entry to the newest no death is "rejected", so q1's copy is dropped
    ch.queue_declare(
        "q0", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "q1"}
    )
    for name, other in (("q1", "q2"), ("q2", "q1")):
        ch.queue_declare(
            name,
            arguments={
                "x-message-ttl": 1000,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": other,
            },
        )
    ch.basic_publish("", "q0", b"m")
    _reject(ch, "q0")
    assert broker.queues["q1"].messages_ready == 1
    now.advance(1)
    assert broker.queues["q2"].messages_ready == 1
    now.advance(1)
    assert broker.queues["q1"].messages == 0
    assert broker.queues["q2"].messages == 0
    assert broker.queues["q1"].stats.enqueued == 1


def test_cycle_drops_only_the_cycling_copy_spec_4_7(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("q", arguments={"x-message-ttl": 1000, "x-dead-letter-exchange": "dlx"})
    ch.queue_declare("sink")
    ch.queue_bind("q", "dlx")
    ch.queue_bind("sink", "dlx")
    ch.basic_publish("", "q", b"m")
    now.advance(1)
    [(_, properties, body)] = _get_all(ch, "sink")
    assert body == b"m"
    assert _death(properties)["queue"] == "q"
    assert broker.queues["q"].messages == 0
    assert broker.queues["q"].stats.enqueued == 1


def test_rejected_fanout_back_to_source_allowed_spec_4_7(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "dlx"})
    ch.queue_declare("sink")
    ch.queue_bind("q", "dlx")
    ch.queue_bind("sink", "dlx")
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    assert broker.queues["q"].messages_ready == 1
    assert broker.queues["sink"].messages_ready == 1


def test_channel_close_requeue_does_not_dead_letter(
    broker: Broker, conn: Connection, clock: VirtualClock
) -> None:
    # spec 4.1 and 7.13: closing requeues, it does not reject
    ch = conn.channel()
    _setup_dlx(ch)
    _source(ch)
    ch.basic_publish("", "q", b"m")
    ch.basic_get("q")
    ch.close()
    assert broker.queues["q"].messages_ready == 1
    assert broker.queues["dlq"].messages == 0


def test_dead_letter_gets_fresh_ttl_in_target_queue(
    broker: Broker, ch: Channel, now: VirtualClock
) -> None:
    # spec 3.1 and 4.6: the copy has no expiration; the target's own TTL counts from its arrival
    ch.exchange_declare("dlx", "fanout")
    ch.exchange_declare("final", "fanout")
    ch.queue_declare("dlq", arguments={"x-message-ttl": 1000, "x-dead-letter-exchange": "final"})
    ch.queue_declare("end")
    ch.queue_bind("dlq", "dlx")
    ch.queue_bind("end", "final")
    _source(ch)
    ch.basic_publish("", "q", b"m", BasicProperties(expiration="100000"))
    now.advance(5)
    _reject(ch, "q")
    now.advance(0.75)
    assert broker.queues["dlq"].messages_ready == 1
    now.advance(0.25)
    assert broker.queues["dlq"].messages_ready == 0
    [(_, properties, _)] = _get_all(ch, "end")
    x_death = properties.headers["x-death"]
    assert [(d["queue"], d["reason"]) for d in x_death] == [("dlq", "expired"), ("q", "rejected")]
    assert "original-expiration" not in x_death[0]  # the copy had no expiration any more
    assert x_death[1]["original-expiration"] == "100000"
    assert _naive_utc(x_death[0]["time"]) == _at(T0 + 6)
    assert _naive_utc(x_death[1]["time"]) == _at(T0 + 5)


def test_dead_letter_refused_by_full_target_is_dropped_spec_4_2(
    broker: Broker, ch: Channel
) -> None:
    # the target's reject-publish refuses the dead letter: no confirm, no error, it is gone
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dlq", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    ch.queue_bind("dlq", "dlx")
    _source(ch)
    ch.confirm_delivery()
    ch.basic_publish("", "q", b"m")
    _reject(ch, "q")
    assert ch.is_open
    assert broker.queues["dlq"].stats.dropped["overflow"] == 1
    assert broker.queues["q"].messages == 0
