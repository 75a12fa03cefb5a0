"""Streams over AMQP 0-9-1 (spec 12): declare rules, offsets, non-destructive reads,
credit-only settles, retention by size and age on the broker's clock, filtering."""

from __future__ import annotations

import datetime
import pickle
from typing import Any

import attrs
import pytest

from amqpmodel import (
    BasicProperties,
    Broker,
    Channel,
    Connection,
    NotImplementedByBroker,
    PreconditionFailed,
    VirtualClock,
)

STREAM = {"x-queue-type": "stream"}


def declare(ch: Channel, name: str = "s", **arguments: Any) -> None:
    ch.queue_declare(name, durable=True, arguments={**STREAM, **arguments})


def fill(ch: Channel, count: int, queue: str = "s", size: int = 1) -> None:
    for i in range(count):
        ch.basic_publish("", queue, b"%d" % i + b"." * (size - 1))


def read(
    broker: Broker, ch: Channel, offset: Any = None, prefetch: int = 1000, **arguments: Any
) -> list[tuple[int, bytes]]:
    """Consume everything a new consumer gets, acking as it goes; (offset, body) pairs."""
    got: list[tuple[int, bytes]] = []
    ch.basic_qos(prefetch_count=prefetch)
    if offset is not None:
        arguments["x-stream-offset"] = offset

    def on_message(channel: Channel, method: Any, properties: BasicProperties, body: bytes) -> None:
        got.append((properties.headers["x-stream-offset"], body))
        channel.basic_ack(method.delivery_tag)

    tag = ch.basic_consume("s", on_message, arguments=arguments)
    broker.run_until_idle()
    ch.basic_cancel(tag)
    return got


# ----------------------------------------------------------------- declare (12.1-12.5)


def test_stream_declared_spec_12_1(broker: Broker, ch: Channel) -> None:
    declare(ch)
    assert broker.queues["s"].queue_type == "stream"


def test_server_named_stream_refused_spec_12_1(ch: Channel) -> None:
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("", durable=True, arguments=STREAM)
    assert info.value.reply_text.endswith("for type rabbit_stream_queue")


def test_non_durable_stream_refused_spec_12_1(ch: Channel) -> None:
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("s", arguments=STREAM)
    assert "invalid property 'non-durable'" in info.value.reply_text


@pytest.mark.parametrize(
    ("arguments", "text"),
    [
        (
            {"x-stream-max-segment-size-bytes": 3_000_000_001},
            "Exceeded max value for x-stream-max-segment-size-bytes",
        ),
        ({"x-stream-filter-size-bytes": 8}, "Invalid value for x-stream-filter-size-bytes"),
        ({"x-stream-filter-size-bytes": 256}, "Invalid value for x-stream-filter-size-bytes"),
    ],
)
def test_segment_and_filter_sizes_checked_spec_12_2(
    ch: Channel, arguments: dict[str, Any], text: str
) -> None:
    with pytest.raises(PreconditionFailed) as info:
        declare(ch, **arguments)
    assert info.value.reply_text == f"PRECONDITION_FAILED - {text}"


@pytest.mark.parametrize(
    "key",
    [
        "x-overflow",
        "x-message-ttl",
        "x-expires",
        "x-max-length",
        "x-max-priority",
        "x-dead-letter-exchange",
        "x-single-active-consumer",
        "x-delivery-limit",
        "x-queue-mode",
    ],
)
def test_other_types_arguments_refused_spec_12_4(ch: Channel, key: str) -> None:
    with pytest.raises(PreconditionFailed) as info:
        declare(ch, **{key: 1})
    assert info.value.reply_text == (
        f"PRECONDITION_FAILED - invalid arg '{key}' for queue 's' in vhost '/' "
        "of queue type rabbit_stream_queue"
    )


@pytest.mark.parametrize("age", ["7D", "1Y", "90s", "2h", "3M", "15m"])
def test_valid_max_age_spec_12_5(broker: Broker, ch: Channel, age: str) -> None:
    declare(ch, **{"x-max-age": age})
    assert broker.queues["s"].queue_type == "stream"


@pytest.mark.parametrize("age", ["7d", "0D", "10", "1.5h", "7 D", "D"])
def test_invalid_max_age_spec_12_5(ch: Channel, age: str) -> None:
    with pytest.raises(PreconditionFailed) as info:
        declare(ch, **{"x-max-age": age})
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - invalid arg 'x-max-age' for queue 's' in vhost '/': invalid_max_age"
    )


def test_non_string_max_age_spec_12_5(ch: Channel) -> None:
    with pytest.raises(PreconditionFailed) as info:
        declare(ch, **{"x-max-age": 7})
    assert info.value.reply_text.endswith("{unacceptable_type,signedint}")


# ----------------------------------------------------------------- offsets (12.11, 12.12, 12.17, 12.23)


def test_next_is_the_default_spec_12_11(broker: Broker, ch: Channel) -> None:
    declare(ch)
    fill(ch, 3)
    assert read(broker, ch) == []


def test_first_reads_everything_with_offset_headers_spec_12_11_12_17(
    broker: Broker, ch: Channel
) -> None:
    declare(ch)
    fill(ch, 3)
    assert read(broker, ch, "first") == [(0, b"0"), (1, b"1"), (2, b"2")]


def test_reading_is_not_destructive_spec_12_16(broker: Broker, ch: Channel) -> None:
    declare(ch)
    fill(ch, 2)
    assert read(broker, ch, "first") == read(broker, ch, "first")
    assert broker.queues["s"].messages_ready == 2


def test_last_and_integer_offsets_spec_12_11(broker: Broker, ch: Channel) -> None:
    declare(ch)
    fill(ch, 5)
    assert read(broker, ch, "last") == [(4, b"4")]
    assert [o for o, _ in read(broker, ch, 3)] == [3, 4]
    assert [o for o, _ in read(broker, ch, 99)] == []  # clamped to next
    assert [o for o, _ in read(broker, ch, -4)] == [0, 1, 2, 3, 4]  # clamped to first


def test_timestamp_and_interval_offsets_spec_12_11(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    declare(ch)
    clock.set(1_000_000)
    fill(ch, 2)
    clock.advance(100)
    ch.basic_publish("", "s", b"later")
    clock.advance(10)
    moment = datetime.datetime.fromtimestamp(1_000_050, datetime.timezone.utc)
    assert read(broker, ch, moment) == [(2, b"later")]
    assert read(broker, ch, "60s") == [(2, b"later")]
    assert [o for o, _ in read(broker, ch, "1h")] == [0, 1, 2]


def test_invalid_offset_text_refused_spec_12_12(ch: Channel) -> None:
    declare(ch)
    ch.basic_qos(prefetch_count=10)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_consume("s", lambda *a: None, arguments={"x-stream-offset": "foo"})
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - invalid arg 'x-stream-offset' for queue 's' in vhost '/': "
        '{invalid_stream_offset_arg,{longstr,<<"foo">>}}'
    )


def test_consumer_restart_without_offset_misses_messages_spec_12_23(
    broker: Broker, ch: Channel
) -> None:
    declare(ch)
    fill(ch, 2)
    assert read(broker, ch) == []
    assert [o for o, _ in read(broker, ch, 1)] == [1]


# ----------------------------------------------------------------- consume refusals (12.13, 12.14)


def test_prefetch_required_spec_12_13(ch: Channel) -> None:
    declare(ch)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_consume("s", lambda *a: None)
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - consumer prefetch count is not set for stream queue 's' in vhost '/'"
    )


def test_auto_ack_refused_spec_12_13(conn: Connection, ch: Channel) -> None:
    declare(ch)
    ch.basic_qos(prefetch_count=10)
    with pytest.raises(NotImplementedByBroker) as info:
        ch.basic_consume("s", lambda *a: None, auto_ack=True)
    assert info.value.reply_text == (
        "NOT_IMPLEMENTED - automatic acknowledgement not supported by stream queue 's' in vhost '/'"
    )
    assert conn.is_closed


def test_global_qos_refused_spec_12_13(ch: Channel) -> None:
    declare(ch)
    ch.basic_qos(prefetch_count=10)
    ch.basic_qos(prefetch_count=10, global_qos=True)
    with pytest.raises(NotImplementedByBroker) as info:
        ch.basic_consume("s", lambda *a: None)
    assert info.value.reply_text.endswith("queue 's' in vhost '/' does not support global qos")


def test_consumer_priority_refused_spec_12_4(ch: Channel) -> None:
    declare(ch)
    ch.basic_qos(prefetch_count=10)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_consume("s", lambda *a: None, arguments={"x-priority": 1})
    assert info.value.reply_text.endswith("of queue type rabbit_stream_queue")


def test_get_refused_spec_12_14(conn: Connection, ch: Channel) -> None:
    declare(ch)
    with pytest.raises(NotImplementedByBroker) as info:
        ch.basic_get("s")
    assert info.value.reply_text == (
        "NOT_IMPLEMENTED - basic.get not supported by stream queues queue 's' in vhost '/'"
    )
    assert conn.is_closed


def test_purge_refused_spec_12_14(ch: Channel) -> None:
    declare(ch)
    with pytest.raises(NotImplementedByBroker) as info:
        ch.queue_purge("s")
    assert info.value.reply_text == (
        "NOT_IMPLEMENTED - queue.purge not supported by stream queues queue 's' in vhost '/'"
    )


# ----------------------------------------------------------------- credit (12.15, 12.16, 12.18)


def test_prefetch_is_credit_and_settles_only_give_it_back_spec_12_15(
    broker: Broker, ch: Channel
) -> None:
    declare(ch)
    fill(ch, 5)
    ch.basic_qos(prefetch_count=2)
    got: list[Any] = []
    ch.basic_consume("s", lambda c, m, p, b: got.append(m), arguments={"x-stream-offset": "first"})
    broker.run_until_idle()
    assert len(got) == 2
    ch.basic_nack(got[0].delivery_tag, requeue=True)  # credit, nothing requeued
    ch.basic_reject(got[1].delivery_tag, requeue=False)  # credit, nothing dead-lettered
    broker.run_until_idle()
    assert [m.redelivered for m in got] == [False] * 4
    assert len(got) == 4
    ch.basic_ack(got[-1].delivery_tag, multiple=True)
    broker.run_until_idle()
    assert len(got) == 5
    assert broker.queues["s"].messages_ready == 5
    with pytest.raises(PreconditionFailed):
        ch.basic_ack(999)  # unknown tags still fail (7.11)


def test_a_channel_wide_prefetch_set_later_holds_and_then_frees_a_reader_spec_12_13(
    broker: Broker, conn: Connection, ch: Channel
) -> None:
    # 12.13 refuses global qos at subscribe time; set afterwards, the channel's limit
    # holds the stream's reader back while it is full, and frees it as it empties
    declare(ch)
    ch.queue_declare("c")
    ch.basic_qos(prefetch_count=5)
    got: list[bytes] = []
    held: list[int] = []
    ch.basic_consume("s", lambda c, m, p, body: got.append(body), arguments={"x-stream-offset": "next"})
    ch.basic_consume("c", lambda c, m, p, body: held.append(m.delivery_tag))
    ch.basic_qos(prefetch_count=1, global_qos=True)
    ch.basic_publish("", "c", b"classic")
    broker.run_until_idle()
    ch.basic_publish("", "s", b"s1")
    broker.run_until_idle()
    assert (held, got) == ([1], [])  # the channel's one unacked delivery is the classic one
    ch.basic_ack(held[0])
    broker.run_until_idle()
    assert got == [b"s1"]
    broker.queues["s"]._check()


def test_consumers_read_independently_spec_12_23(broker: Broker, ch: Channel) -> None:
    declare(ch)
    ch.basic_qos(prefetch_count=100)
    a: list[bytes] = []
    b: list[bytes] = []
    ch.basic_consume(
        "s", lambda c, m, p, body: a.append(body), arguments={"x-stream-offset": "first"}
    )
    fill(ch, 2)
    ch.basic_consume("s", lambda c, m, p, body: b.append(body), arguments={"x-stream-offset": 1})
    broker.run_until_idle()
    assert (a, b) == ([b"0", b"1"], [b"1"])
    ch.basic_recover()


def test_each_delivery_has_its_own_properties_spec_12_17(broker: Broker, ch: Channel) -> None:
    declare(ch)
    sent = BasicProperties(content_type="text/plain", headers={"k": "v"}, priority=3)
    ch.basic_publish("", "s", b"m", sent)
    ch.basic_qos(prefetch_count=10)
    got: list[BasicProperties] = []

    def change_headers(c: Channel, m: Any, p: BasicProperties, b: bytes) -> None:
        p.headers["k"] = "changed by the first reader"
        got.append(p)

    first = {"x-stream-offset": "first"}
    ch.basic_consume("s", change_headers, arguments=first)
    ch.basic_consume("s", lambda c, m, p, b: got.append(p), arguments=first)
    broker.run_until_idle()
    changed, other = got
    assert changed.headers == {"k": "changed by the first reader", "x-stream-offset": 0}
    expected = BasicProperties(
        content_type="text/plain", headers={"k": "v", "x-stream-offset": 0}, priority=3
    )
    assert other == expected and expected == other  # reads as a plain BasicProperties
    assert repr(other) == repr(expected)
    assert pickle.loads(pickle.dumps(other)) == expected
    assert attrs.evolve(other, priority=4).priority == 4
    assert broker.queues["s"].peek()[0].properties == sent  # the log's copy is unchanged
    ch.queue_declare("copy")
    ch.basic_publish("", "copy", b"again", other)  # a delivery's properties publish again
    assert ch.basic_get("copy")[1] == expected


def test_cancelled_consumer_of_a_closed_channel_reads_no_more_spec_12_15(
    broker: Broker, conn: Connection, ch: Channel
) -> None:
    declare(ch)
    fill(ch, 3)
    other = conn.channel()
    other.basic_qos(prefetch_count=1)
    got: list[bytes] = []
    other.basic_consume(
        "s", lambda c, m, p, body: got.append(body), arguments={"x-stream-offset": "first"}
    )
    broker.run_until_idle()
    other.close()  # its one delivery is settled as lost: credit for a consumer now gone
    assert read(broker, ch, offset="first") == [(0, b"0"), (1, b"1"), (2, b"2")]
    fill(ch, 1)
    broker.run_until_idle()
    assert got == [b"0"]
    broker.queues["s"]._check()  # the accounting identity and the unacked count


def test_declare_ok_counts_and_unconditional_delete_spec_12_18(ch: Channel) -> None:
    declare(ch)
    fill(ch, 3)
    ch.basic_qos(prefetch_count=1)
    ch.basic_consume("s", lambda *a: None)
    ok = ch.queue_declare("s", passive=True).method
    assert (ok.message_count, ok.consumer_count) == (3, 0)
    assert ch.queue_delete("s", if_unused=True, if_empty=True).method.message_count == 3


# ----------------------------------------------------------------- retention (12.7-12.10)


def test_max_length_bytes_deletes_whole_old_segments_spec_12_7_12_10(
    broker: Broker, ch: Channel
) -> None:
    # segments of 3 messages: 100-byte bodies + 64 bytes of overhead each (12.10) = 492
    declare(ch, **{"x-max-length-bytes": 700, "x-stream-max-segment-size-bytes": 500})
    fill(ch, 10, size=100)
    stream = broker.queues["s"]
    # segments [0-2] [3-5] [6-8] [9]: the newest (164) is kept, with it [6-8] (656 in
    # all) fits, [3-5] does not: it goes with everything older
    assert stream.first_offset == 6
    assert stream.messages_ready == 4
    assert read(broker, ch, "first")[0][0] == 6
    assert stream.stats.dropped["retention"] == 6


def test_newest_segment_is_never_deleted_spec_12_7(broker: Broker, ch: Channel) -> None:
    declare(ch, **{"x-max-length-bytes": 1, "x-stream-max-segment-size-bytes": 10_000})
    fill(ch, 5, size=100)
    assert broker.queues["s"].messages_ready == 5
    assert broker.queues["s"].apply_retention() == 0


def test_max_age_on_the_broker_clock_spec_12_8_12_9(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    declare(ch, **{"x-max-age": "2h", "x-stream-max-segment-size-bytes": 300})
    fill(ch, 2, size=50)  # one segment (2 x 114 model bytes)
    clock.advance(3600)
    fill(ch, 2, size=50)  # rolls over: a second segment
    stream = broker.queues["s"]
    assert stream.segment_count >= 2
    clock.advance(2 * 3600)  # the hourly retention deletes the first segment only
    assert stream.first_offset == 2
    assert stream.messages_ready == 2
    clock.advance(10 * 3600)
    assert stream.messages_ready == 2  # the newest segment stays


# ----------------------------------------------------------------- filtering (12.20-12.22)


def publish_filtered(ch: Channel, body: bytes, value: str | None) -> None:
    headers = {"x-stream-filter-value": value} if value is not None else None
    ch.basic_publish("", "s", body, BasicProperties(headers=headers))


def test_no_filter_gets_everything_spec_12_20(broker: Broker, ch: Channel) -> None:
    declare(ch)
    publish_filtered(ch, b"a", "red")
    publish_filtered(ch, b"b", None)
    assert [b for _, b in read(broker, ch, "first")] == [b"a", b"b"]


def test_exact_filter_spec_12_22(broker: Broker, ch: Channel) -> None:
    declare(ch)
    for body, value in ((b"1", "red"), (b"2", "blue"), (b"3", None), (b"4", "red")):
        publish_filtered(ch, body, value)
    assert [b for _, b in read(broker, ch, "first", **{"x-stream-filter": "red"})] == [b"1", b"4"]
    assert [
        b
        for _, b in read(
            broker,
            ch,
            "first",
            **{"x-stream-filter": ["blue", 5], "x-stream-match-unfiltered": True},
        )
    ] == [b"2", b"3"]


def test_chunked_filter_lets_whole_chunks_through_spec_12_21_12_22(ch: Channel) -> None:
    broker = ch.connection.broker
    broker.stream_chunk_size = 2
    declare(ch)
    for body, value in ((b"1", "red"), (b"2", "blue"), (b"3", "blue"), (b"4", "blue")):
        publish_filtered(ch, body, value)
    # chunks [1 2] [3 4]: only the first has a red message, so it comes whole
    assert [b for _, b in read(broker, ch, "first", **{"x-stream-filter": "red"})] == [b"1", b"2"]
