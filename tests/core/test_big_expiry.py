"""A 30-minute x-message-ttl on 100 000 messages, settled by one clock step (spec 3.1, 3.3, 4.1, 4.4)."""

from __future__ import annotations

import datetime
from typing import Any

from amqpmodel import Broker, Channel, VirtualClock

T0 = 1_700_000_000  # a whole second
MESSAGES = 100_000
BATCHES = 100
TTL_MS = 30 * 60 * 1000


def _naive_utc(value: Any) -> Any:
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return value


def test_hundred_thousand_messages_expire_and_dead_letter_in_order(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    clock.advance(T0 - clock.now())  # spec 3.1, 3.3, 4.1, 4.4 on a large queue
    ch.exchange_declare("dlx", "direct")
    ch.queue_declare("dlq")
    ch.queue_bind("dlq", "dlx", "big")
    ch.queue_declare("big", arguments={"x-message-ttl": TTL_MS, "x-dead-letter-exchange": "dlx"})
    per_batch = MESSAGES // BATCHES
    # batch b is published at T0 + b seconds, so deadlines span T0+1800 .. T0+1899
    for batch in range(BATCHES):
        if batch:
            clock.advance(1)
        for index in range(batch * per_batch, (batch + 1) * per_batch):
            ch.basic_publish("", "big", str(index).encode())
    big = broker.queues["big"]
    dlq = broker.queues["dlq"]
    assert big.messages_ready == MESSAGES
    assert dlq.messages_ready == 0
    assert clock.now() == T0 + BATCHES - 1

    clock.advance(1800)  # spec 3.1: every deadline (T0+1800 .. T0+1899) falls in this step

    assert big.messages_ready == 0
    assert big.stats.enqueued == MESSAGES
    assert big.stats.dead_lettered == MESSAGES
    assert big.stats.dropped["expired"] == 0
    assert dlq.stats.enqueued == MESSAGES
    assert dlq.messages_ready == MESSAGES

    messages = dlq.peek()
    assert [m.body for m in messages] == [str(i).encode() for i in range(MESSAGES)]
    epoch = datetime.datetime(1970, 1, 1)
    for index, message in enumerate(messages):
        assert message.exchange == "dlx"
        assert message.routing_key == "big"
        assert message.properties.expiration is None
        headers = message.properties.headers
        assert headers is not None
        [stored] = headers["x-death"]
        death = dict(stored)
        expected_time = epoch + datetime.timedelta(seconds=T0 + 1800 + index // per_batch)
        assert _naive_utc(death.pop("time")) == expected_time, index
        assert death == {
            "count": 1,
            "reason": "expired",
            "queue": "big",
            "exchange": "",
            "routing-keys": ["big"],
        }, index
        assert type(death["count"]) is int
        assert headers["x-first-death-queue"] == "big"
        assert headers["x-first-death-reason"] == "expired"
        assert headers["x-first-death-exchange"] == ""
        assert headers["x-last-death-queue"] == "big"
        assert headers["x-last-death-reason"] == "expired"

    # delivery through the public API agrees with the stored order
    method, properties, body = ch.basic_get("dlq", auto_ack=True)
    assert body == b"0"
    assert method.exchange == "dlx"
    assert method.message_count == MESSAGES - 1
    ch.queue_purge("dlq")
