"""The small immutable method objects the broker hands back (deliveries, returns, *-ok replies)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self

import attrs

__all__ = [
    "BasicAck",
    "BasicCancel",
    "BasicNack",
    "BasicReturn",
    "Deliver",
    "ExchangeBindOk",
    "ExchangeDeclareOk",
    "ExchangeDeleteOk",
    "ExchangeUnbindOk",
    "GetOk",
    "QueueBindOk",
    "QueueDeclareOk",
    "QueueDeleteOk",
    "QueuePurgeOk",
    "QueueUnbindOk",
]


class _PikaMethodFrame:
    """pika's BlockingChannel returns frames whose ``.method`` is the reply; ours is both."""

    __slots__ = ()

    @property
    def method(self) -> Self:
        return self


@attrs.define(slots=True)
class Deliver(_PikaMethodFrame):
    """basic.deliver: what a consumer callback receives as ``method``.

    Not frozen only because frozen attrs classes are slower to create, and one
    is created per delivery; treat it as read-only.
    """

    consumer_tag: str
    delivery_tag: int
    redelivered: bool
    exchange: str
    routing_key: str


@attrs.define(slots=True)
class GetOk(_PikaMethodFrame):
    """basic.get-ok; ``message_count`` is the number of ready messages left (spec 7.9).

    Not frozen for the same reason as ``Deliver``; treat it as read-only.
    """

    delivery_tag: int
    redelivered: bool
    exchange: str
    routing_key: str
    message_count: int


@attrs.frozen(slots=True)
class BasicReturn(_PikaMethodFrame):
    """basic.return of an unroutable mandatory message (spec 8.4)."""

    reply_code: int
    reply_text: str
    exchange: str
    routing_key: str


@attrs.frozen(slots=True)
class BasicAck(_PikaMethodFrame):
    """A publisher confirm (spec 8.1)."""

    delivery_tag: int
    multiple: bool = False


@attrs.frozen(slots=True)
class BasicNack(_PikaMethodFrame):
    """A negative publisher confirm (spec 8.3)."""

    delivery_tag: int
    multiple: bool = False
    requeue: bool = False


@attrs.frozen(slots=True)
class BasicCancel(_PikaMethodFrame):
    """A broker-initiated consumer cancel (spec 7.8)."""

    consumer_tag: str


@attrs.frozen(slots=True)
class QueueDeclareOk(_PikaMethodFrame):
    queue: str
    message_count: int
    consumer_count: int


@attrs.frozen(slots=True)
class QueuePurgeOk(_PikaMethodFrame):
    message_count: int


@attrs.frozen(slots=True)
class QueueDeleteOk(_PikaMethodFrame):
    message_count: int


@attrs.frozen(slots=True)
class QueueBindOk(_PikaMethodFrame):
    pass


@attrs.frozen(slots=True)
class QueueUnbindOk(_PikaMethodFrame):
    pass


@attrs.frozen(slots=True)
class ExchangeDeclareOk(_PikaMethodFrame):
    pass


@attrs.frozen(slots=True)
class ExchangeDeleteOk(_PikaMethodFrame):
    pass


@attrs.frozen(slots=True)
class ExchangeBindOk(_PikaMethodFrame):
    pass


@attrs.frozen(slots=True)
class ExchangeUnbindOk(_PikaMethodFrame):
    pass
