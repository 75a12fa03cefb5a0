"""Direct reply-to (``amq.rabbitmq.reply-to``): RPC replies without a reply queue.

Not in the numbered spec; the behaviour and the 406 texts were checked
against RabbitMQ 3.10 with pika.
"""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import (
    BasicProperties,
    Broker,
    Channel,
    NotAllowed,
    PreconditionFailed,
    UnroutableError,
)

REPLY_TO = "amq.rabbitmq.reply-to"


def _rpc_pair(broker: Broker) -> tuple[Channel, Channel, list[tuple[Any, Any, bytes]]]:
    client = broker.connect().channel()
    server = broker.connect().channel()
    server.queue_declare("rpc")
    replies: list[tuple[Any, Any, bytes]] = []
    client.basic_consume(REPLY_TO, lambda ch, m, p, b: replies.append((m, p, b)), auto_ack=True)
    return client, server, replies


def test_request_carries_a_private_reply_key_and_the_reply_skips_queues(broker: Broker) -> None:
    client, server, replies = _rpc_pair(broker)
    client.basic_publish(
        "", "rpc", b"fib(10)", BasicProperties(reply_to=REPLY_TO, correlation_id="c1")
    )
    _, request_properties, body = server.basic_get("rpc", auto_ack=True)
    assert body == b"fib(10)"
    key = request_properties.reply_to
    assert key.startswith(REPLY_TO + ".") and len(key) > len(REPLY_TO) + 1
    queues_before = set(broker.queues)
    server.basic_publish("", key, b"55", BasicProperties(correlation_id="c1"))
    assert replies == []  # callbacks run on drain
    broker.run_until_idle()
    ((method, properties, reply),) = replies
    assert reply == b"55" and properties.correlation_id == "c1"
    assert method.exchange == "" and method.routing_key == key
    assert method.delivery_tag == 1 and not method.redelivered
    assert set(broker.queues) == queues_before  # no queue was involved


def test_each_channel_gets_its_own_key(broker: Broker) -> None:
    first, server, first_replies = _rpc_pair(broker)
    second = broker.connect().channel()
    second_replies: list[bytes] = []
    second.basic_consume(REPLY_TO, lambda ch, m, p, b: second_replies.append(b), auto_ack=True)
    for channel in (first, second):
        channel.basic_publish("", "rpc", b"q", BasicProperties(reply_to=REPLY_TO))
    keys = [server.basic_get("rpc", auto_ack=True)[1].reply_to for _ in range(2)]
    assert keys[0] != keys[1]
    server.basic_publish("", keys[1], b"to second")
    broker.run_until_idle()
    assert first_replies == [] and second_replies == [b"to second"]


def test_reply_consumer_must_not_ack(broker: Broker, ch: Channel) -> None:
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_consume(REPLY_TO, lambda *a: None)
    assert info.value.reply_text == "PRECONDITION_FAILED - reply consumer cannot acknowledge"
    assert ch.is_closed


def test_only_one_reply_consumer_per_channel(broker: Broker, ch: Channel) -> None:
    ch.basic_consume(REPLY_TO, lambda *a: None, auto_ack=True)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_consume(REPLY_TO, lambda *a: None, auto_ack=True)
    assert info.value.reply_text == "PRECONDITION_FAILED - reply consumer already set"


def test_reply_to_without_a_reply_consumer_is_refused(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("rpc")
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_publish("", "rpc", b"q", BasicProperties(reply_to=REPLY_TO))
    assert info.value.reply_text == "PRECONDITION_FAILED - fast reply consumer does not exist"
    assert broker.queues["rpc"].messages_ready == 0


def test_reply_to_a_gone_consumer_is_unroutable(broker: Broker) -> None:
    client, server, replies = _rpc_pair(broker)
    client.basic_publish("", "rpc", b"q", BasicProperties(reply_to=REPLY_TO))
    key = server.basic_get("rpc", auto_ack=True)[1].reply_to
    client.close()
    returned: list[Any] = []
    server.add_on_return_callback(lambda ch, m, p, b: returned.append(m))
    server.basic_publish("", key, b"late", mandatory=True)
    broker.run_until_idle()
    assert replies == [] and [m.reply_code for m in returned] == [312]
    confirming = broker.connect().channel()
    confirming.confirm_delivery()
    with pytest.raises(UnroutableError):
        confirming.basic_publish("", key, b"late", mandatory=True)


def test_cancel_ends_the_reply_consumer(broker: Broker) -> None:
    client = broker.connect().channel()
    server = broker.connect().channel()
    server.queue_declare("rpc")
    replies: list[bytes] = []
    tag = client.basic_consume(REPLY_TO, lambda ch, m, p, b: replies.append(b), auto_ack=True)
    assert tag.startswith("amq.ctag-")
    client.basic_publish("", "rpc", b"q", BasicProperties(reply_to=REPLY_TO))
    key = server.basic_get("rpc", auto_ack=True)[1].reply_to
    client.basic_cancel(tag)
    server.basic_publish("", key, b"late")
    broker.run_until_idle()
    assert replies == []
    with pytest.raises(PreconditionFailed):
        client.basic_publish("", "rpc", b"q", BasicProperties(reply_to=REPLY_TO))


def test_reply_consumer_tag_cannot_be_reused_spec_7_1(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_consume(REPLY_TO, lambda *a: None, auto_ack=True, consumer_tag="t")
    with pytest.raises(NotAllowed):
        ch.basic_consume("q", lambda *a: None, consumer_tag="t")


def test_pseudo_queue_declares_as_rabbitmq_does(broker: Broker, ch: Channel) -> None:
    ok = ch.queue_declare(REPLY_TO, passive=True)
    assert (ok.queue, ok.message_count, ok.consumer_count) == (REPLY_TO, 0, 1)
    ok = ch.queue_declare(REPLY_TO)
    assert (ok.queue, ok.message_count, ok.consumer_count) == (REPLY_TO, 0, 1)
    assert REPLY_TO not in broker.queues
