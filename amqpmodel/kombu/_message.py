"""Received messages: the py-amqp message a delivery arrives as, and kombu's view of it.

A consumer's callback (``basic_consume(callback=...)``) and ``basic_get``
return py-amqp's ``amqp.Message``, with the ``delivery_info`` py-amqp fills
in, so code that uses the channel directly sees what it sees with RabbitMQ;
kombu's ``Consumer`` and ``Queue.get`` turn it into ``Message`` through
``Channel.message_to_python``.
"""

from __future__ import annotations

from typing import Any

import amqp
from kombu.transport import base

import amqpmodel

from ._properties import from_properties

__all__ = ["Message", "received"]


def received(
    channel: Any,
    properties: amqpmodel.BasicProperties | None,
    body: bytes,
    delivery_info: dict[str, Any],
) -> Any:
    """The ``amqp.Message`` a py-amqp channel hands over for a delivery or a get-ok.

    As py-amqp's channels do by default (``auto_decode``), a body with a
    content_encoding it can decode with arrives as ``str``; other bodies as bytes.
    """
    values = from_properties(properties)
    encoding = values.get("content_encoding")
    content: bytes | str = body
    if encoding is not None:
        try:
            content = body.decode(encoding)
        except Exception:  # an encoding Python does not know ("binary"), or bad bytes
            pass
    message = amqp.Message(content, channel=channel, **values)
    message.delivery_info = delivery_info
    return message


class Message(base.Message):
    """A kombu message made from a received ``amqp.Message``; ``ack``, ``reject``
    and ``requeue`` settle it on the channel it came from."""

    def __init__(self, raw: Any, channel: Any = None, **kwargs: Any) -> None:
        properties = raw.properties
        super().__init__(  # type: ignore[no-untyped-call]
            body=raw.body,
            channel=channel,
            delivery_tag=raw.delivery_info["delivery_tag"],
            content_type=properties.get("content_type"),
            content_encoding=properties.get("content_encoding"),
            delivery_info=raw.delivery_info,
            properties=properties,
            headers=properties.get("application_headers") or {},
            **kwargs,
        )
