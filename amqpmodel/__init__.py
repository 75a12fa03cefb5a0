"""amqpmodel: an embeddable, in-process AMQP 0-9-1 broker that behaves like RabbitMQ.

Import everything from here; the underscored modules are private.
"""

from importlib.metadata import PackageNotFoundError, version

from ._alarms import ConnectionBlockedTimeout
from ._broker import Broker
from ._channel import Channel
from ._clock import Clock, MonotonicClock, VirtualClock
from ._connection import Connection
from ._default_broker import default_broker, set_default_broker
from ._diagram import Topology
from ._errors import (
    AccessRefused,
    AMQPError,
    CallbacksDidNotSettle,
    ChannelClosed,
    ChannelError,
    CommandInvalid,
    ConnectionClosed,
    ConnectionForced,
    ContentTooLarge,
    FrameError,
    FrameSyntaxError,
    InternalError,
    InvalidPath,
    NackError,
    NoConsumers,
    NoRoute,
    NotAllowed,
    NotFound,
    NotImplementedByBroker,
    PreconditionFailed,
    ResourceError,
    ResourceLocked,
    UnexpectedFrame,
    UnroutableError,
)
from ._exchange import Binding, Exchange, ExchangeType, ExchangeTypeBase, register_exchange_type
from ._kombu_alias import install as _install_kombu_alias
from ._methods import (
    BasicAck,
    BasicCancel,
    BasicNack,
    BasicReturn,
    Deliver,
    ExchangeBindOk,
    ExchangeDeclareOk,
    ExchangeDeleteOk,
    ExchangeUnbindOk,
    GetOk,
    QueueBindOk,
    QueueDeclareOk,
    QueueDeleteOk,
    QueuePurgeOk,
    QueueUnbindOk,
)
from ._parameters import ParameterError
from ._properties import BasicProperties, Message
from ._queue import Consumer, Queue, QueueStats
from ._vhost import VirtualHost

_install_kombu_alias()  # amqpmodel:// for kombu and Celery, without importing kombu here

try:
    __version__ = version("amqpmodel")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "AMQPError",
    "AccessRefused",
    "BasicAck",
    "BasicCancel",
    "BasicNack",
    "BasicProperties",
    "BasicReturn",
    "Binding",
    "Broker",
    "CallbacksDidNotSettle",
    "Channel",
    "ChannelClosed",
    "ChannelError",
    "Clock",
    "CommandInvalid",
    "Connection",
    "ConnectionBlockedTimeout",
    "ConnectionClosed",
    "ConnectionForced",
    "Consumer",
    "ContentTooLarge",
    "Deliver",
    "Exchange",
    "ExchangeBindOk",
    "ExchangeDeclareOk",
    "ExchangeDeleteOk",
    "ExchangeType",
    "ExchangeTypeBase",
    "ExchangeUnbindOk",
    "FrameError",
    "FrameSyntaxError",
    "GetOk",
    "InternalError",
    "InvalidPath",
    "Message",
    "MonotonicClock",
    "NackError",
    "NoConsumers",
    "NoRoute",
    "NotAllowed",
    "NotFound",
    "NotImplementedByBroker",
    "ParameterError",
    "PreconditionFailed",
    "Queue",
    "QueueBindOk",
    "QueueDeclareOk",
    "QueueDeleteOk",
    "QueuePurgeOk",
    "QueueStats",
    "QueueUnbindOk",
    "ResourceError",
    "ResourceLocked",
    "Topology",
    "UnexpectedFrame",
    "UnroutableError",
    "VirtualClock",
    "VirtualHost",
    "__version__",
    "default_broker",
    "register_exchange_type",
    "set_default_broker",
]
