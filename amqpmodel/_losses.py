"""The record of messages a broker lost silently (unroutable, length-limit drops), kept only when asked for."""

from __future__ import annotations

from collections import Counter, deque
from typing import TYPE_CHECKING

import attrs

from ._properties import Message

if TYPE_CHECKING:
    from ._queue import Queue

__all__ = ["Loss", "LossLog", "describe_message", "record_length_drop"]

_PREVIEW = 40  # body bytes shown in a description


@attrs.frozen(slots=True)
class Loss:
    """One message the broker dropped without telling anyone.

    ``reason``: "unroutable" (a publish that reached no queue and was returned
    to nobody), "dead_letter_unroutable", "dead_letter_exchange_missing" (a
    dead letter that reached no queue, spec 4.2), "maxlen" (dropped from the
    head by a length limit, spec 5.2) or "overflow" (refused by reject-publish,
    5.3); ``where`` says where it went, in words.
    """

    reason: str
    vhost: str
    exchange: str
    routing_key: str
    body: bytes
    message_id: str | None
    where: str

    def describe(self) -> str:
        return describe_message(
            self.vhost, self.exchange, self.routing_key, self.body, self.message_id, self.where
        )


def describe_message(
    vhost: str,
    exchange: str,
    routing_key: str,
    body: bytes,
    message_id: str | None,
    where: str,
) -> str:
    """One line naming a message (where it was published, a body preview, its id) and its fate."""
    preview = repr(body[:_PREVIEW]) + ("..." if len(body) > _PREVIEW else "")
    named = f", message_id {message_id!r}" if message_id is not None else ""
    return (
        f"message published to exchange {exchange!r} with routing key {routing_key!r} "
        f"in vhost {vhost!r} (body {preview}{named}): {where}"
    )


class LossLog:
    """Counts of silent losses by reason, and the last ``limit`` of them in full.

    A broker has one only while something asks for it (the strict check of
    ``amqpmodel.testing``); without one the paths that drop messages cost one
    attribute test, and publishing that routes costs nothing.
    """

    def __init__(self, limit: int = 100) -> None:
        self.counts: Counter[str] = Counter()
        self.recent: deque[Loss] = deque(maxlen=limit)

    def record(self, reason: str, vhost: str, message: Message, where: str) -> None:
        self.counts[reason] += 1
        body = message.body
        self.recent.append(
            Loss(
                reason,
                vhost,
                message.exchange,
                message.routing_key,
                body[: _PREVIEW + 1],
                message.properties.message_id,
                where,
            )
        )

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def record_length_drop(queue: Queue, reason: str, message: Message) -> None:
    """Note a length-limit drop ("maxlen": drop-head, spec 5.2; "overflow":
    reject-publish, 5.3) in the broker's log, which the caller found present."""
    losses = queue._vhost._broker._losses
    assert losses is not None
    args = queue._args
    limits = ", ".join(
        f"{name} {value}"
        for name, value in (
            ("x-max-length", args.max_length),
            ("x-max-length-bytes", args.max_length_bytes),
        )
        if value is not None
    )
    if reason == "maxlen":
        where = f"dropped from the head of queue {queue.name!r} ({limits}, drop-head)"
    else:
        where = f"refused by queue {queue.name!r} ({limits}, x-overflow {args.overflow})"
    losses.record(reason, queue._vhost.name, message, where)
