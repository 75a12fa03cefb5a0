"""Queue length limits: x-max-length, x-max-length-bytes and x-overflow (spec 5.1-5.6)."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import (
    BasicAck,
    BasicNack,
    BasicProperties,
    Broker,
    Channel,
    ChannelClosed,
    Connection,
    NackError,
    PreconditionFailed,
)


def _declare(ch: Channel, name: str, **arguments: Any) -> None:
    ch.queue_declare(name, arguments=arguments or None)


def _ready(broker: Broker, name: str) -> list[bytes]:
    return [m.body for m in broker.queues[name].peek()]


def _get_all(ch: Channel, queue: str) -> list[tuple[Any, BasicProperties, bytes]]:
    result = []
    while True:
        method, properties, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return result
        result.append((method, properties, body))


def _dlx(ch: Channel) -> dict[str, Any]:
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dlq")
    ch.queue_bind("dlq", "dlx")
    return {"x-dead-letter-exchange": "dlx"}


# ----------------------------------------------------------------- 5.1 what counts


def test_only_ready_messages_count_towards_max_length_spec_5_1(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 2})
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    ch.basic_get("q")  # "a" is unacked now
    ch.basic_publish("", "q", b"c")
    queue = broker.queues["q"]
    assert _ready(broker, "q") == [b"b", b"c"]
    assert queue.messages == 3
    assert queue.stats.dropped["maxlen"] == 0


def test_only_ready_bytes_count_towards_max_length_bytes_spec_5_1(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length-bytes": 10})
    ch.basic_publish("", "q", b"x" * 6)
    ch.basic_get("q")
    ch.basic_publish("", "q", b"y" * 10)
    queue = broker.queues["q"]
    assert queue.message_bytes_ready == 10
    assert queue.stats.dropped["maxlen"] == 0


def test_byte_limit_counts_body_bytes_only_spec_5_1(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length-bytes": 5})
    big_headers = {"h": "v" * 1000}
    ch.basic_publish("", "q", b"12345", BasicProperties(headers=big_headers, message_id="m" * 100))
    assert _ready(broker, "q") == [b"12345"]
    assert broker.queues["q"].message_bytes_ready == 5
    ch.basic_publish("", "q", b"6")
    assert _ready(broker, "q") == [b"6"]


def test_byte_limit_counts_utf8_bytes_of_str_body_spec_5_1(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length-bytes": 4})
    ch.basic_publish("", "q", "é")  # 2 bytes
    ch.basic_publish("", "q", "éé")  # 4 bytes: 6 in all, the head goes
    assert _ready(broker, "q") == ["éé".encode()]


def test_both_limits_apply_whichever_is_hit_spec_5_1(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 3, "x-max-length-bytes": 10})
    for body in (b"1", b"2", b"3", b"4"):
        ch.basic_publish("", "q", body)
    assert _ready(broker, "q") == [b"2", b"3", b"4"]  # the count limit
    ch.basic_publish("", "q", b"x" * 10)
    assert _ready(broker, "q") == [b"x" * 10]  # the byte limit took three more heads
    assert broker.queues["q"].stats.dropped["maxlen"] == 4


# ----------------------------------------------------------------- 5.2 drop-head


def test_drop_head_is_default_spec_5_2(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 2})
    for body in (b"a", b"b", b"c", b"d"):
        ch.basic_publish("", "q", body)
    queue = broker.queues["q"]
    assert _ready(broker, "q") == [b"c", b"d"]
    assert queue.stats.dropped["maxlen"] == 2
    assert queue.stats.enqueued == 4


def test_explicit_drop_head_drops_oldest_spec_5_2(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 1, "x-overflow": "drop-head"})
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    assert [body for _, _, body in _get_all(ch, "q")] == [b"b"]


def test_drop_head_drops_several_for_bytes_spec_5_2(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length-bytes": 10})
    for body in (b"aaa", b"bbb", b"ccc"):
        ch.basic_publish("", "q", body)
    ch.basic_publish("", "q", b"z" * 9)
    assert _ready(broker, "q") == [b"z" * 9]
    assert broker.queues["q"].stats.dropped["maxlen"] == 3


def test_drop_head_message_larger_than_byte_limit_drops_itself_spec_5_2(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length-bytes": 4})
    ch.basic_publish("", "q", b"ok")
    ch.basic_publish("", "q", b"too big")
    assert _ready(broker, "q") == []
    assert broker.queues["q"].stats.dropped["maxlen"] == 2


def test_drop_head_publisher_is_acked_spec_5_2(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 0})
    confirms: list[Any] = []
    ch.confirm_delivery(confirms.append)
    ch.basic_publish("", "q", b"a")  # no NackError
    ch.basic_publish("", "q", b"b")
    broker.run_until_idle()
    assert confirms == [BasicAck(1, False), BasicAck(2, False)]
    assert broker.queues["q"].stats.dropped["maxlen"] == 2


def test_drop_head_dead_letters_maxlen_in_order_spec_5_2(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 1}, **_dlx(ch))
    for body in (b"a", b"b", b"c"):
        ch.basic_publish("", "q", body)
    got = _get_all(ch, "dlq")
    assert [body for _, _, body in got] == [b"a", b"b"]
    assert {p.headers["x-death"][0]["reason"] for _, p, _ in got} == {"maxlen"}
    assert broker.queues["q"].stats.dead_lettered == 2
    assert _ready(broker, "q") == [b"c"]


def test_drop_head_free_consumer_takes_message_without_enqueue_spec_5_2(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length": 0})
    received: list[bytes] = []
    ch.basic_consume("q", lambda c, m, p, body: received.append(body), auto_ack=True)
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    broker.run_until_idle()
    assert received == [b"a", b"b"]
    assert broker.queues["q"].stats.dropped["maxlen"] == 0


def test_drop_head_busy_consumer_message_enqueued_then_dropped_spec_5_2(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length": 1})
    received: list[Any] = []
    ch.basic_qos(prefetch_count=1)
    ch.basic_consume("q", lambda c, m, p, body: received.append((m.delivery_tag, body)))
    for body in (b"a", b"b", b"c"):
        ch.basic_publish("", "q", body)
    broker.run_until_idle()
    assert [body for _, body in received] == [b"a"]
    assert _ready(broker, "q") == [b"c"]
    ch.basic_ack(received[0][0])
    broker.run_until_idle()
    assert [body for _, body in received] == [b"a", b"c"]
    ch.basic_ack(received[1][0])
    assert broker.queues["q"].stats.dropped["maxlen"] == 1


def test_drop_head_priority_queue_drops_highest_priority_first_spec_5_2(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length": 2, "x-max-priority": 9})
    ch.basic_publish("", "q", b"low", BasicProperties(priority=1))
    ch.basic_publish("", "q", b"high", BasicProperties(priority=9))
    ch.basic_publish("", "q", b"mid", BasicProperties(priority=5))
    assert _ready(broker, "q") == [b"mid", b"low"]
    assert broker.queues["q"].stats.dropped["maxlen"] == 1


# ----------------------------------------------------------------- 5.3 reject-publish


def test_reject_publish_discards_new_message_silently_spec_5_3(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 2, "x-overflow": "reject-publish"})
    for body in (b"a", b"b", b"c"):
        ch.basic_publish("", "q", body)  # no error without confirms
    assert ch.is_open
    queue = broker.queues["q"]
    assert _ready(broker, "q") == [b"a", b"b"]
    assert queue.stats.dropped["overflow"] == 1
    assert queue.stats.dropped["maxlen"] == 0


def test_reject_publish_nacks_under_confirms_spec_5_3(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 1, "x-overflow": "reject-publish"})
    confirms: list[Any] = []
    ch.confirm_delivery(confirms.append)
    ch.basic_publish("", "q", b"a")
    with pytest.raises(NackError) as info:
        ch.basic_publish("", "q", b"b")
    assert [m.body for m in info.value.messages] == [b"b"]
    assert ch.is_open
    broker.run_until_idle()
    assert confirms == [BasicAck(1, False), BasicNack(2, False, False)]
    assert _ready(broker, "q") == [b"a"]


def test_reject_publish_accepts_again_when_room_spec_5_3(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    ch.basic_publish("", "q", b"a")
    with pytest.raises(NackError):
        ch.basic_publish("", "q", b"b")
    ch.basic_get("q", auto_ack=True)
    ch.basic_publish("", "q", b"c")
    assert _ready(broker, "q") == [b"c"]


def test_reject_publish_byte_limit_spec_5_3(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length-bytes": 5, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    ch.basic_publish("", "q", b"abc")
    with pytest.raises(NackError):
        ch.basic_publish("", "q", b"def")
    ch.basic_publish("", "q", b"de")  # exactly at the limit
    assert _ready(broker, "q") == [b"abc", b"de"]
    assert broker.queues["q"].stats.dropped["overflow"] == 1


def test_reject_publish_max_length_zero_rejects_even_with_consumer_spec_5_3(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length": 0, "x-overflow": "reject-publish"})
    received: list[bytes] = []
    ch.basic_consume("q", lambda c, m, p, body: received.append(body), auto_ack=True)
    ch.confirm_delivery()
    with pytest.raises(NackError):
        ch.basic_publish("", "q", b"a")
    broker.run_until_idle()
    assert received == []
    assert broker.queues["q"].stats.dropped["overflow"] == 1


def test_reject_publish_with_room_delivers_to_free_consumer_spec_5_3(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length": 1, "x-overflow": "reject-publish"})
    received: list[bytes] = []
    ch.basic_consume("q", lambda c, m, p, body: received.append(body), auto_ack=True)
    ch.confirm_delivery()
    for body in (b"a", b"b", b"c"):
        ch.basic_publish("", "q", body)
    broker.run_until_idle()
    assert received == [b"a", b"b", b"c"]


def test_reject_publish_dlx_nacks_and_dead_letters_maxlen_spec_5_3(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length": 1, "x-overflow": "reject-publish-dlx"}, **_dlx(ch))
    confirms: list[Any] = []
    ch.confirm_delivery(confirms.append)
    ch.basic_publish("", "q", b"a")
    with pytest.raises(NackError):
        ch.basic_publish("", "q", b"b")
    broker.run_until_idle()
    assert confirms == [BasicAck(1, False), BasicNack(2, False, False)]
    assert _ready(broker, "q") == [b"a"]
    [(method, properties, body)] = _get_all(ch, "dlq")
    assert body == b"b"
    assert method.exchange == "dlx"
    death = properties.headers["x-death"][0]
    assert (death["reason"], death["queue"], death["count"]) == ("maxlen", "q", 1)
    stats = broker.queues["q"].stats
    assert stats.dead_lettered == 1
    assert stats.dropped["overflow"] == 0


def test_reject_publish_dlx_without_dlx_just_discards_spec_5_3(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 1, "x-overflow": "reject-publish-dlx"})
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    assert _ready(broker, "q") == [b"a"]
    stats = broker.queues["q"].stats
    assert stats.dead_lettered == 0
    assert sum(stats.dropped.values()) == 1


def test_reject_publish_keeps_oldest_in_priority_queue_spec_5_3(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length": 1, "x-overflow": "reject-publish", "x-max-priority": 5})
    ch.basic_publish("", "q", b"low", BasicProperties(priority=0))
    ch.basic_publish("", "q", b"high", BasicProperties(priority=5))
    assert _ready(broker, "q") == [b"low"]


@pytest.mark.parametrize("mode", ["drop-head", "reject-publish", "reject-publish-dlx"])
def test_overflow_modes_accepted_spec_5_3(broker: Broker, ch: Channel, mode: str) -> None:
    ch.queue_declare("q", arguments={"x-max-length": 1, "x-overflow": mode})
    assert broker.queues["q"].arguments["x-overflow"] == mode


def test_unknown_overflow_mode_refused_spec_2_7(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", arguments={"x-overflow": "drop-tail"})
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith(
        "PRECONDITION_FAILED - invalid arg 'x-overflow' for queue 'q' in vhost '/'"
    )


@pytest.mark.parametrize(
    "arguments",
    [
        {"x-max-length": -1},
        {"x-max-length-bytes": -1},
        {"x-max-length": "1"},
        {"x-max-length": 1.0},
    ],
)
def test_invalid_length_limits_refused_spec_2_7(
    broker: Broker, conn: Connection, arguments: dict[str, Any]
) -> None:
    ch = conn.channel()
    [key] = arguments
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", arguments=arguments)
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith(
        f"PRECONDITION_FAILED - invalid arg '{key}' for queue 'q' in vhost '/'"
    )
    assert "q" not in broker.queues


# ----------------------------------------------------------------- 5.4 several queues


def test_rejected_by_one_queue_nacked_but_lands_in_others_spec_5_4(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("fan", "fanout")
    _declare(ch, "full", **{"x-max-length": 0, "x-overflow": "reject-publish"})
    _declare(ch, "open")
    _declare(ch, "capped", **{"x-max-length": 0})  # drop-head: accepts, then drops
    for name in ("full", "open", "capped"):
        ch.queue_bind(name, "fan")
    confirms: list[Any] = []
    ch.confirm_delivery(confirms.append)
    with pytest.raises(NackError) as info:
        ch.basic_publish("fan", "", b"m")
    assert [m.body for m in info.value.messages] == [b"m"]
    broker.run_until_idle()
    assert confirms == [BasicNack(1, False, False)]
    assert _ready(broker, "open") == [b"m"]
    assert broker.queues["full"].stats.dropped["overflow"] == 1
    assert broker.queues["capped"].stats.dropped["maxlen"] == 1


def test_all_queues_accept_gives_ack_spec_5_4(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("fan", "fanout")
    _declare(ch, "a", **{"x-max-length": 1, "x-overflow": "reject-publish"})
    _declare(ch, "b")
    ch.queue_bind("a", "fan")
    ch.queue_bind("b", "fan")
    confirms: list[Any] = []
    ch.confirm_delivery(confirms.append)
    ch.basic_publish("fan", "", b"m1")
    with pytest.raises(NackError):
        ch.basic_publish("fan", "", b"m2")
    broker.run_until_idle()
    assert confirms == [BasicAck(1, False), BasicNack(2, False, False)]
    assert _ready(broker, "a") == [b"m1"]
    assert _ready(broker, "b") == [b"m1", b"m2"]


def test_rejected_by_one_queue_without_confirms_still_lands_in_others_spec_5_4(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "full", **{"x-max-length": 0, "x-overflow": "reject-publish"})
    _declare(ch, "open")
    ch.basic_publish("", "full", b"m", BasicProperties(headers={"CC": ["open"]}))
    assert ch.is_open
    assert _ready(broker, "open") == [b"m"]
    assert _ready(broker, "full") == []


# ----------------------------------------------------------------- 5.5 requeue over the limit


def test_requeue_over_limit_drop_head_drops_head_again_spec_5_5(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length": 2})
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    method, _, _ = ch.basic_get("q")  # "a" unacked
    ch.basic_publish("", "q", b"c")
    assert _ready(broker, "q") == [b"b", b"c"]
    ch.basic_nack(method.delivery_tag, requeue=True)
    # "a" went back to its original place, the head, and is the one dropped
    assert _ready(broker, "q") == [b"b", b"c"]
    assert broker.queues["q"].stats.dropped["maxlen"] == 1


def test_requeue_over_limit_drop_head_dead_letters_maxlen_spec_5_5(
    broker: Broker, ch: Channel
) -> None:
    _declare(ch, "q", **{"x-max-length": 1}, **_dlx(ch))
    ch.basic_publish("", "q", b"a")
    method, _, _ = ch.basic_get("q")
    ch.basic_publish("", "q", b"b")
    ch.basic_reject(method.delivery_tag, requeue=True)
    [(_, properties, body)] = _get_all(ch, "dlq")
    assert body == b"a"
    assert properties.headers["x-death"][0]["reason"] == "maxlen"
    assert _ready(broker, "q") == [b"b"]


def test_requeue_over_limit_drop_head_several_spec_5_5(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 2})
    for body in (b"a", b"b"):
        ch.basic_publish("", "q", body)
    tags = [ch.basic_get("q")[0].delivery_tag for _ in range(2)]
    for body in (b"c", b"d"):
        ch.basic_publish("", "q", body)
    ch.basic_nack(tags[-1], multiple=True, requeue=True)
    assert _ready(broker, "q") == [b"c", b"d"]
    assert broker.queues["q"].stats.dropped["maxlen"] == 2


@pytest.mark.parametrize("mode", ["reject-publish", "reject-publish-dlx"])
def test_requeue_over_limit_reject_publish_drops_nothing_spec_5_5(
    broker: Broker, ch: Channel, mode: str
) -> None:
    _declare(ch, "q", **{"x-max-length": 2, "x-overflow": mode}, **_dlx(ch))
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    method, _, _ = ch.basic_get("q")
    ch.basic_publish("", "q", b"c")
    ch.basic_nack(method.delivery_tag, requeue=True)
    queue = broker.queues["q"]
    assert _ready(broker, "q") == [b"a", b"b", b"c"]  # over the limit, nothing dropped
    assert queue.stats.dropped["maxlen"] == 0
    assert queue.stats.dead_lettered == 0
    assert broker.queues["dlq"].messages == 0
    ch.confirm_delivery()
    with pytest.raises(NackError):
        ch.basic_publish("", "q", b"d")
    assert _ready(broker, "q") == [b"a", b"b", b"c"]


def test_multiple_nack_requeues_all_then_drops_head_spec_5_5(broker: Broker, ch: Channel) -> None:
    # spec 5.5 with 2.12: one nack(multiple=True) is one requeue: every message goes back
    # to its place, then heads are dropped until within the limit (RabbitMQ requeues the
    # whole batch before dropping)
    _declare(ch, "q", **{"x-max-length-bytes": 10})
    ch.basic_publish("", "q", b"a")  # 1 byte, oldest
    ch.basic_publish("", "q", b"b" * 6)
    first_a, _, _ = ch.basic_get("q")
    ch.basic_get("q")  # b: the lower outstanding tag once "a" is taken again
    ch.basic_nack(first_a.delivery_tag, requeue=True)
    ch.basic_get("q")  # a again
    ch.basic_publish("", "q", b"c" * 5)
    ch.basic_nack(0, multiple=True, requeue=True)
    # back: a(1) b(6) c(5) = 12 bytes; dropping a leaves 11, dropping b leaves 5
    assert _ready(broker, "q") == [b"c" * 5]
    assert broker.queues["q"].stats.dropped["maxlen"] == 2


def test_requeue_on_channel_close_over_limit_drops_head_spec_5_5(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    _declare(ch, "q", **{"x-max-length": 1})
    ch.basic_publish("", "q", b"a")
    ch.basic_get("q")
    ch.basic_publish("", "q", b"b")
    ch.close()
    assert _ready(broker, "q") == [b"b"]
    assert broker.queues["q"].stats.dropped["maxlen"] == 1


# ----------------------------------------------------------------- 5.6 transactions


def test_tx_commit_with_rejected_publish_fails_partial_spec_5_6(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    _declare(ch, "full", **{"x-max-length": 1, "x-overflow": "reject-publish"})
    _declare(ch, "open")
    ch.tx_select()
    ch.basic_publish("", "full", b"1")
    ch.basic_publish("", "open", b"2")
    ch.basic_publish("", "full", b"3")  # rejected at commit
    assert broker.queues["full"].stats.enqueued == 0  # buffered until commit (spec 8.8)
    with pytest.raises(PreconditionFailed) as info:
        ch.tx_commit()
    assert info.value.reply_code == 406
    assert info.value.reply_text == "PRECONDITION_FAILED - partial tx completion"
    # partial: what could be enqueued was
    assert _ready(broker, "full") == [b"1"]
    assert _ready(broker, "open") == [b"2"]
    assert broker.queues["full"].stats.dropped["overflow"] == 1
    assert ch.is_closed
    with pytest.raises(ChannelClosed):
        ch.basic_publish("", "open", b"x")


def test_tx_commit_rejected_for_one_of_several_queues_spec_5_6(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.exchange_declare("fan", "fanout")
    _declare(ch, "full", **{"x-max-length": 0, "x-overflow": "reject-publish"})
    _declare(ch, "open")
    ch.queue_bind("full", "fan")
    ch.queue_bind("open", "fan")
    ch.tx_select()
    ch.basic_publish("fan", "", b"m")
    with pytest.raises(PreconditionFailed) as info:
        ch.tx_commit()
    assert info.value.reply_text == "PRECONDITION_FAILED - partial tx completion"
    assert _ready(broker, "open") == [b"m"]


def test_tx_commit_reject_publish_dlx_fails_partial_spec_5_6(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    _declare(ch, "q", **{"x-max-length": 0, "x-overflow": "reject-publish-dlx"}, **_dlx(ch))
    ch.tx_select()
    ch.basic_publish("", "q", b"m")
    with pytest.raises(PreconditionFailed) as info:
        ch.tx_commit()
    assert info.value.reply_code == 406
    assert info.value.reply_text == "PRECONDITION_FAILED - partial tx completion"
    assert _ready(broker, "dlq") == [b"m"]


def test_tx_commit_drop_head_succeeds_spec_5_6(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 1})
    ch.tx_select()
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    ch.tx_commit()
    assert ch.is_open
    assert _ready(broker, "q") == [b"b"]


def test_tx_commit_within_limit_succeeds_spec_5_6(broker: Broker, ch: Channel) -> None:
    _declare(ch, "q", **{"x-max-length": 2, "x-overflow": "reject-publish"})
    ch.tx_select()
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    ch.tx_commit()
    assert _ready(broker, "q") == [b"a", b"b"]
    ch.basic_publish("", "q", b"c")
    ch.tx_rollback()  # a rolled-back publish is never offered, so nothing fails
    ch.tx_commit()
    assert ch.is_open
    assert broker.queues["q"].stats.dropped["overflow"] == 0
