"""Resource alarms in process: the memory high watermark and the disk free limit (spec 21.1-21.3).

The broker's own accounting of message bytes decides (``Broker.memory_use()``),
so every test sets a small watermark and counts in that accounting's units:
a message costs its body plus ``MESSAGE_OVERHEAD`` bytes. Checks are
periodic on the broker's clock: a ``VirtualClock`` test advances it to let an
alarm clear.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from amqpmodel import (
    AMQPError,
    BasicProperties,
    Broker,
    ChannelClosed,
    ConnectionBlockedTimeout,
    VirtualClock,
)
from amqpmodel._alarms import MEMORY_CHECK_INTERVAL
from amqpmodel._memory import MESSAGE_OVERHEAD, total_memory

BODY = b"x" * 100
COST = len(BODY) + MESSAGE_OVERHEAD  # what one queued message counts for
SHORT = 0.05  # seconds an in-process publish waits before it gives up, in these tests


def blocked_broker(messages: int = 10, **options: object) -> tuple[Broker, VirtualClock]:
    """A broker whose watermark is reached by ``messages`` messages of ``BODY``."""
    clock = VirtualClock()
    broker = Broker(
        clock=clock,
        memory_high_watermark=messages * COST,
        blocked_publish_timeout=SHORT,
        **options,  # type: ignore[arg-type]
    )
    return broker, clock


# ----------------------------------------------------------------- settings (spec 21.1)


@pytest.mark.parametrize(
    ("value", "limit"),
    [
        (0.4, int(total_memory() * 0.4)),
        ("0.4", int(total_memory() * 0.4)),
        ("1", total_memory()),
        (2.0, total_memory()),  # RabbitMQ takes a relative watermark above 1.0 as 1.0
        (200_000_000, 200_000_000),
        ("200MB", 200_000_000),
        ("200M", 200_000_000),
        ("1GiB", 1024**3),
        ("512MiB", 512 * 1024**2),
        ("5000", 5000),
        (0, 0),
    ],
)
def test_watermark_is_read_as_rabbitmq_reads_vm_memory_high_watermark(
    value: float | int | str, limit: int
) -> None:
    # spec 21.1: relative (a fraction of the machine's memory) or absolute (bytes, units)
    assert Broker(memory_high_watermark=value).memory_limit == limit


def test_default_watermark_follows_the_version_profile() -> None:
    # spec 21.1 (0.x.15): 0.6 of the memory in RabbitMQ 4, 0.4 in 3.13
    assert Broker().memory_limit == int(total_memory() * 0.6)
    assert Broker(rabbitmq_version="3.13").memory_limit == int(total_memory() * 0.4)


@pytest.mark.parametrize("value", ["200XB", "lots", "-1", -5, -0.5, "0.4.1"])
def test_a_watermark_rabbitmq_would_refuse_is_a_value_error(value: object) -> None:
    with pytest.raises(ValueError):
        Broker(memory_high_watermark=value)  # type: ignore[arg-type]


def test_disk_free_limit_defaults_to_fifty_megabytes() -> None:
    # spec 21.2: disk_free_limit 50000000 bytes; a float is a multiple of the memory
    assert Broker().disk_free_limit == 50_000_000
    assert Broker(disk_free_limit="1GB").disk_free_limit == 10**9
    assert Broker(disk_free_limit=1.5).disk_free_limit == int(total_memory() * 1.5)


# ----------------------------------------------------------------- the accounting


def test_accounting_counts_ready_unacked_streams_and_delayed_bodies() -> None:
    broker = Broker()
    channel = broker.connect().channel()
    channel.queue_declare("ready")
    channel.queue_declare("log", durable=True, arguments={"x-queue-type": "stream"})
    channel.exchange_declare("later", "x-delayed-message", arguments={"x-delayed-type": "direct"})
    channel.basic_publish("", "ready", b"a" * 10)
    channel.basic_publish("", "ready", b"b" * 20)
    channel.basic_publish("", "log", b"c" * 30)
    channel.basic_publish("later", "k", b"d" * 40, BasicProperties(headers={"x-delay": 60_000}))
    method, _, _ = channel.basic_get("ready")  # 10 bytes now unacknowledged
    use = broker.memory_use()
    assert (use.ready, use.unacknowledged, use.streams, use.delayed) == (20, 10, 30, 40)
    assert use.messages == 4
    assert use.total == 100 + 4 * MESSAGE_OVERHEAD
    channel.basic_ack(method.delivery_tag)
    assert broker.memory_use().unacknowledged == 0


def test_a_stream_message_being_read_is_counted_once() -> None:
    broker = Broker()
    channel = broker.connect().channel()
    channel.queue_declare("log", durable=True, arguments={"x-queue-type": "stream"})
    channel.basic_publish("", "log", b"s" * 50)
    channel.basic_qos(prefetch_count=10)
    channel.basic_consume("log", lambda *args: None, arguments={"x-stream-offset": "first"})
    broker.run_until_idle()
    use = broker.memory_use()
    assert (use.streams, use.unacknowledged, use.messages) == (50, 0, 1)


def test_far_below_the_watermark_no_timer_is_kept() -> None:
    # the alarm rises from the publishes' own credit: an idle broker pays nothing
    broker = Broker(clock=VirtualClock())
    channel = broker.connect().channel()
    channel.queue_declare("q")
    for _ in range(100):
        channel.basic_publish("", "q", BODY)
    assert broker.resource_alarms == ()
    assert broker.next_deadline() is None


# ----------------------------------------------------------------- the alarm (spec 21.1, 21.3)


def test_publishing_past_the_watermark_raises_the_alarm_and_blocks_the_publisher() -> None:
    broker, _ = blocked_broker(10)
    channel = broker.connect().channel()
    channel.queue_declare("q")
    published = 0
    with pytest.raises(ConnectionBlockedTimeout) as raised:
        for _ in range(100):
            channel.basic_publish("", "q", BODY)
            published += 1
    assert published == 10  # the publish that reached the watermark went in
    assert broker.resource_alarms == ("memory",)
    assert broker.queues["q"].messages_ready == 10  # the refused one was not published
    error = raised.value
    assert isinstance(error, AMQPError) and error.reply_code == 0
    assert "low on memory" in error.reply_text and error.alarms == ("memory",)
    assert channel.is_open  # nothing was closed: the caller may retry


def test_the_alarm_clears_at_the_next_check_after_consumers_drain() -> None:
    broker, clock = blocked_broker(10)
    channel = broker.connect().channel()
    channel.queue_declare("q")
    with pytest.raises(ConnectionBlockedTimeout):
        for _ in range(20):
            channel.basic_publish("", "q", BODY)
    consumer = broker.connect().channel()
    while consumer.basic_get("q", auto_ack=True)[0] is not None:  # spec 21.3: gets go on
        pass
    assert broker.resource_alarms == ("memory",)  # checks are periodic, as RabbitMQ's
    clock.advance(MEMORY_CHECK_INTERVAL)
    assert broker.resource_alarms == ()
    channel.basic_publish("", "q", BODY)
    assert broker.queues["q"].messages_ready == 1


def test_consumers_and_acks_go_on_while_the_alarm_is_on() -> None:
    # spec 21.3: only publishing is blocked, so a backlog drains
    broker, clock = blocked_broker(5)
    producer = broker.connect().channel()
    producer.queue_declare("q")
    with pytest.raises(ConnectionBlockedTimeout):
        for _ in range(10):
            producer.basic_publish("", "q", BODY)
    consumer = broker.connect().channel()
    consumer.basic_qos(prefetch_count=2)
    seen: list[bytes] = []

    def on_message(ch: object, method: object, properties: object, body: bytes) -> None:
        seen.append(body)
        consumer.basic_ack(method.delivery_tag)  # type: ignore[attr-defined]

    consumer.basic_consume("q", on_message)
    broker.run_until_idle()
    assert len(seen) == 5
    clock.advance(MEMORY_CHECK_INTERVAL)
    assert broker.resource_alarms == ()


def test_a_blocked_publisher_waits_until_another_thread_drains_the_queue() -> None:
    broker = Broker(memory_high_watermark=10 * COST, blocked_publish_timeout=30.0)
    channel = broker.connect().channel()
    channel.queue_declare("q")
    done = threading.Event()

    def publish() -> None:
        for _ in range(15):
            channel.basic_publish("", "q", BODY)
        done.set()

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    while broker.resource_alarms != ("memory",):
        time.sleep(0.01)
    assert not done.is_set()
    consumer = broker.connect().channel()
    drained = 0
    while not done.wait(0.01):
        while consumer.basic_get("q", auto_ack=True)[0] is not None:
            drained += 1
    publisher.join(10)
    drained += consumer.queue_declare("q", passive=True).method.message_count
    assert drained == 15  # every publish went in once the alarm had cleared


def test_closing_the_channel_of_a_waiting_publisher_ends_its_wait() -> None:
    broker = Broker(memory_high_watermark=0, blocked_publish_timeout=30.0)
    channel = broker.connect().channel()
    channel.queue_declare("q")
    outcome: list[BaseException] = []

    def publish() -> None:
        try:
            channel.basic_publish("", "q", BODY)
        except BaseException as error:  # noqa: BLE001 - the test reads it
            outcome.append(error)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    time.sleep(0.1)
    channel.close()
    publisher.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], ChannelClosed)


def test_a_watermark_of_zero_blocks_every_publisher_until_it_is_raised() -> None:
    # RabbitMQ's way to stop all publishing: set_vm_memory_high_watermark 0
    broker = Broker(memory_high_watermark=0, blocked_publish_timeout=SHORT)
    channel = broker.connect().channel()
    channel.queue_declare("q")
    assert broker.resource_alarms == ("memory",)
    with pytest.raises(ConnectionBlockedTimeout):
        channel.basic_publish("", "q", BODY)
    broker.set_memory_high_watermark("1MB")  # re-evaluated at once
    assert broker.resource_alarms == ()
    channel.basic_publish("", "q", BODY)
    broker.set_memory_high_watermark(0.0)
    assert broker.resource_alarms == ("memory",)


def test_alarm_listeners_hear_each_change_once() -> None:
    broker, clock = blocked_broker(3)
    heard: list[tuple[str, ...]] = []
    broker.add_alarm_listener(heard.append)
    channel = broker.connect().channel()
    channel.queue_declare("q")
    with pytest.raises(ConnectionBlockedTimeout):
        for _ in range(5):
            channel.basic_publish("", "q", BODY)
    channel.queue_purge("q")
    clock.advance(MEMORY_CHECK_INTERVAL)
    assert heard == [("memory",), ()]
    broker.remove_alarm_listener(heard.append)
    broker.set_memory_high_watermark(0)
    assert heard == [("memory",), ()]


def test_a_fanout_counts_its_body_in_every_queue_it_reaches() -> None:
    broker, _ = blocked_broker(10)
    channel = broker.connect().channel()
    channel.exchange_declare("fan", "fanout")
    for name in ("a", "b"):
        channel.queue_declare(name)
        channel.queue_bind(name, "fan")
    with pytest.raises(ConnectionBlockedTimeout):
        for _ in range(10):
            channel.basic_publish("fan", "", BODY)
    assert broker.queues["a"].messages_ready == 5  # 5 publishes x 2 queues


def test_repr_and_html_show_the_alarm() -> None:
    broker = Broker(memory_high_watermark=0)
    assert "alarms=memory" in repr(broker)
    html = broker._repr_html_()
    assert "resource alarms" in html and "publishers blocked" in html
    assert "alarm" not in repr(Broker())


# ----------------------------------------------------------------- the disk alarm (spec 21.2)


def test_disk_alarm_with_a_data_dir(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    clock = VirtualClock()
    broker = Broker(
        clock=clock,
        data_dir=tmp_path / "data",
        disk_free_limit=free * 4 + 10**12,
        blocked_publish_timeout=SHORT,
    )
    try:
        assert broker.resource_alarms == ("disk",)  # checked when the broker starts
        channel = broker.connect().channel()
        channel.queue_declare("q")
        with pytest.raises(ConnectionBlockedTimeout) as raised:
            channel.basic_publish("", "q", BODY)
        assert "low on disk" in raised.value.reply_text
        broker.set_memory_high_watermark(0)
        with pytest.raises(ConnectionBlockedTimeout) as raised:
            channel.basic_publish("", "q", BODY)
        assert "low on memory & disk" in raised.value.reply_text  # spec 21.4's reasons
        broker.set_memory_high_watermark(0.5)
        broker.set_disk_free_limit("50MB")
        assert broker.resource_alarms == ()
        channel.basic_publish("", "q", BODY)
        assert broker.next_deadline() is not None  # the disk is checked periodically
    finally:
        broker.close()


def test_without_a_data_dir_the_disk_is_not_watched() -> None:
    broker = Broker(disk_free_limit=10**18)
    assert broker.resource_alarms == ()
    assert broker.next_deadline() is None
