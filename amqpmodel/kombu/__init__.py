"""A kombu transport backed by an in-process amqpmodel ``Broker``: ``amqpmodel://``.

``kombu.Connection("amqpmodel://")`` and Celery's ``broker_url = "amqpmodel://"``
reach the process's default broker (``amqpmodel.default_broker()``) with
RabbitMQ's semantics: acks and redelivery, prefetch, TTL, dead-lettering,
priorities, every exchange type and exchange-to-exchange bindings; the
broker's state can be inspected meanwhile. Importing this package registers
the ``amqpmodel`` alias with kombu; ``transport="amqpmodel.kombu:Transport"``
works without it. Needs kombu (an optional dependency of amqpmodel).
"""

from __future__ import annotations

from ._channel import Channel
from ._connection import Connection
from ._message import Message
from ._registry import ALIAS, register, use_broker
from ._transport import Transport

__all__ = ["ALIAS", "Channel", "Connection", "Message", "Transport", "register", "use_broker"]

register()
