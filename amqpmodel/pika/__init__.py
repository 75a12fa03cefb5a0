"""A drop-in ``pika``: pika's own ``BlockingConnection``, connected to a broker in this process.

    from amqpmodel import pika          # instead of ``import pika``

    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    channel = connection.channel()      # pika's BlockingChannel, pika's exceptions

Everything here is pika's (``ConnectionParameters``, ``BasicProperties``,
``exceptions``, ``spec``...), except ``BlockingConnection``, whose transport
is amqpmodel's server state machine instead of a socket: the application,
its error handling and the values it receives are exactly those of pika over
a socket. Unmodified code that does ``import pika`` is redirected with
``amqpmodel.testing.patch_pika(broker)`` (or the ``amqp_pika`` fixture).
Needs the ``pika`` package and the ``server`` extra (``pamqp``).
"""

from pika import (
    BasicProperties,
    ConnectionParameters,
    DeliveryMode,
    PlainCredentials,
    SSLOptions,
    URLParameters,
    adapters,
    exceptions,
    spec,
)
from pika.exchange_type import ExchangeType

from ._blocking import BlockingChannel, BlockingConnection, PikaBlockingConnection, target_broker
from ._legacy import Py2Bytes
from ._patch import PikaPatch, patch_pika

__all__ = [
    "BasicProperties",
    "BlockingChannel",
    "BlockingConnection",
    "ConnectionParameters",
    "DeliveryMode",
    "ExchangeType",
    "PikaBlockingConnection",
    "PikaPatch",
    "PlainCredentials",
    "Py2Bytes",
    "SSLOptions",
    "URLParameters",
    "adapters",
    "exceptions",
    "patch_pika",
    "spec",
    "target_broker",
]
