"""The consumer ack timeout (spec 0.8) reaches a pika client as channel.close 406."""

from __future__ import annotations

import pika
import pika.exceptions

from amqpmodel import Broker, VirtualClock


def test_consumer_timeout_closes_the_channel_over_the_wire_spec_0_8(
    virtual_broker: Broker, virtual_clock: VirtualClock, virtual_url: str
) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(virtual_url))
    try:
        channel = connection.channel()
        channel.queue_declare("q")
        channel.basic_publish("", "q", b"slow")
        method, _, _ = channel.basic_get("q")
        assert method is not None
        reasons: list[Exception] = []
        channel._impl.add_on_close_callback(lambda _channel, reason: reasons.append(reason))
        other = connection.channel()
        virtual_clock.advance(1860)  # from the test thread, while the server's loop serves
        for _ in range(250):
            if channel.is_closed:
                break
            connection.process_data_events(time_limit=0.02)
        assert channel.is_closed
        (reason,) = reasons
        assert isinstance(reason, pika.exceptions.ChannelClosedByBroker)
        assert reason.reply_code == 406
        assert "delivery acknowledgement on channel 1 timed out" in reason.reply_text
        assert other.is_open and connection.is_open
        assert other.queue_declare("q", passive=True).method.message_count == 1  # requeued
    finally:
        connection.close()


def test_queue_consumer_timeout_argument_over_the_wire_spec_0_8(
    virtual_broker: Broker, virtual_clock: VirtualClock, virtual_url: str
) -> None:
    # the argument arrives as an AMQP integer ("I" or "l") and is read as milliseconds
    connection = pika.BlockingConnection(pika.URLParameters(virtual_url))
    try:
        channel = connection.channel()
        channel.queue_declare("q", arguments={"x-consumer-timeout": 120_000})
        channel.basic_publish("", "q", b"slow")
        method, _, _ = channel.basic_get("q")
        assert method is not None
        reasons: list[Exception] = []
        channel._impl.add_on_close_callback(lambda _channel, reason: reasons.append(reason))
        virtual_clock.advance(110)
        connection.process_data_events(time_limit=0.05)
        assert channel.is_open
        virtual_clock.advance(70)
        for _ in range(250):
            if channel.is_closed:
                break
            connection.process_data_events(time_limit=0.02)
        (reason,) = reasons
        assert isinstance(reason, pika.exceptions.ChannelClosedByBroker)
        assert reason.reply_code == 406
        assert "Timeout value used: 120000 ms" in reason.reply_text
    finally:
        connection.close()
