"""Direct reply-to over the wire with pika: an RPC round trip without a reply queue."""

from __future__ import annotations

import pika
import pika.exceptions
import pytest

REPLY_TO = "amq.rabbitmq.reply-to"


def test_rpc_with_direct_reply_to(amqp_url: str) -> None:
    client = pika.BlockingConnection(pika.URLParameters(amqp_url))
    server = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        server_channel = server.channel()
        server_channel.queue_declare("rpc")
        channel = client.channel()
        replies: list[tuple[str, bytes]] = []
        channel.basic_consume(
            REPLY_TO,
            lambda ch, method, props, body: replies.append((props.correlation_id, body)),
            auto_ack=True,
        )
        channel.basic_publish(
            "", "rpc", b"4", pika.BasicProperties(reply_to=REPLY_TO, correlation_id="c1")
        )
        request = None
        for _ in range(100):
            request = server_channel.basic_get("rpc", auto_ack=True)
            if request[0] is not None:
                break
        assert request is not None and request[0] is not None
        _, properties, body = request
        assert properties.reply_to.startswith(REPLY_TO + ".")
        server_channel.basic_publish(
            "", properties.reply_to, b"3", pika.BasicProperties(correlation_id="c1")
        )
        for _ in range(100):
            if replies:
                break
            client.process_data_events(time_limit=0.02)
        assert replies == [("c1", b"3")]
    finally:
        client.close()
        server.close()


def test_reply_consumer_with_acks_is_refused(amqp_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
            connection.channel().basic_consume(REPLY_TO, lambda *a: None, auto_ack=False)
        assert info.value.reply_code == 406
        assert info.value.reply_text == "PRECONDITION_FAILED - reply consumer cannot acknowledge"
    finally:
        connection.close()
