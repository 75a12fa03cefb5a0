"""Direct reply-to: RPC replies that skip queues (RabbitMQ's ``amq.rabbitmq.reply-to``).

A client consumes, without acks, from the pseudo-queue
``amq.rabbitmq.reply-to`` and publishes requests whose ``reply_to`` property
names it; the broker rewrites that property to a key unique to the consuming
channel, ``amq.rabbitmq.reply-to.<id>``. A reply published to the default
exchange with that routing key goes straight to the consumer, with no queue in
between; with no such consumer it is unroutable. The texts of the 406 errors
are RabbitMQ's (checked against RabbitMQ 3.10).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import PreconditionFailed
from ._validation import generate_name

if TYPE_CHECKING:
    from ._channel import Channel

__all__ = ["REPLY_TO", "REPLY_TO_PREFIX", "ReplyConsumer"]

REPLY_TO = "amq.rabbitmq.reply-to"
REPLY_TO_PREFIX = REPLY_TO + "."


class ReplyConsumer:
    """The one direct reply-to consumer a channel may have."""

    __slots__ = ("callback", "channel", "key", "tag")

    def __init__(self, channel: Channel, tag: str, callback: Callable[..., Any]) -> None:
        self.channel = channel
        self.tag = tag
        self.callback = callback
        self.key = generate_name(REPLY_TO_PREFIX)


def check_reply_consumer(channel: Channel, auto_ack: bool) -> None:
    """406s of basic.consume on the pseudo-queue."""
    if not auto_ack:
        raise PreconditionFailed("reply consumer cannot acknowledge")
    if channel._reply_consumer is not None:
        raise PreconditionFailed("reply consumer already set")


def reply_key(channel: Channel) -> str:
    """What ``reply_to = amq.rabbitmq.reply-to`` becomes on this channel."""
    consumer = channel._reply_consumer
    if consumer is None:
        raise PreconditionFailed("fast reply consumer does not exist")
    return consumer.key
