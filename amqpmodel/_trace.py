"""The firehose tracer (spec 17): copies of publishes and deliveries to amq.rabbitmq.trace.

``broker.trace_on(vhost)`` turns it on for one vhost (off at start, not stored,
17.1). Each basic.publish then yields one ``publish.<exchange>`` message, after
routing and even when unroutable (17.3), and each basic.deliver and get-ok one
``deliver.<queue>`` message (17.4), routed by amq.rabbitmq.trace's bindings like
any topic publish, without confirms or mandatory, at most once (17.2). A trace
message carries the original body and only headers (17.5, 17.6). Messages that
went through amq.rabbitmq.trace are never traced again, and neither is routing a
channel did not do: dead-lettering, delayed release (17.7).
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._errors import NotFound
from ._properties import _PROPERTY_NAMES, BasicProperties, Message

if TYPE_CHECKING:
    from ._broker import Broker
    from ._channel import Channel
    from ._queue import Queue
    from ._vhost import VirtualHost

__all__ = ["TRACE_EXCHANGE", "node_name", "trace_deliver", "trace_off", "trace_on", "trace_publish"]

TRACE_EXCHANGE = "amq.rabbitmq.trace"


def node_name() -> str:
    """The node name RabbitMQ would have on this host (``rabbit@<short hostname>``)."""
    return f"rabbit@{platform.node().split('.')[0] or 'localhost'}"


_NODE = node_name()


def _properties_table(properties: BasicProperties) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for name in _PROPERTY_NAMES:  # in RabbitMQ's order
        value = getattr(properties, name)
        if value is None:
            continue
        if name == "timestamp" and not isinstance(value, int):
            value = int(value.timestamp())  # a datetime: POSIX seconds
        table[name] = value
    return table


def _connection_name(channel: Channel) -> str:
    name = channel.connection.client_properties.get("connection_name")
    return str(name) if isinstance(name, str) else "in-process"


def _emit(vhost: VirtualHost, routing_key: str, headers: dict[str, Any], body: bytes) -> None:
    exchange = vhost.exchanges.get(TRACE_EXCHANGE)
    if exchange is None:
        return
    message = Message(TRACE_EXCHANGE, routing_key, BasicProperties(headers=headers), body)
    queues = vhost.route(exchange, (routing_key,), headers)
    only = len(queues) == 1
    for queue in queues:
        queue._publish(message, None, None, only, True)


def trace_publish(
    channel: Channel, message: Message, routing_keys: Sequence[str], queues: Sequence[Queue]
) -> None:
    """Spec 17.3, 17.5, 17.6: a publish.<exchange> copy (the vhost traces)."""
    if message.exchange == TRACE_EXCHANGE:
        return  # spec 17.7
    connection = channel.connection
    headers = {
        "exchange_name": message.exchange,
        "routing_keys": list(routing_keys),
        "properties": _properties_table(message.properties),
        "node": _NODE,
        "vhost": connection.vhost.name,
        "connection": _connection_name(channel),
        "channel": channel.channel_number,
        "user": connection.user,
        "routed_queues": [queue.name for queue in queues],
    }
    _emit(connection.vhost, "publish." + message.exchange, headers, message.body)


def trace_deliver(channel: Channel, queue: Queue, message: Message, redelivered: bool) -> None:
    """Spec 17.4-17.6: a deliver.<queue> copy of a basic.deliver or get-ok."""
    if message.exchange == TRACE_EXCHANGE:
        return  # spec 17.7
    connection = channel.connection
    headers_in = message.properties.headers or {}
    cc = headers_in.get("CC")
    keys = [message.routing_key, *(cc if isinstance(cc, list) else [])]
    headers = {
        "exchange_name": message.exchange,
        "routing_keys": keys,
        "properties": _properties_table(message.properties),
        "node": _NODE,
        "redelivered": 1 if redelivered else 0,
        "vhost": connection.vhost.name,
        "connection": _connection_name(channel),
        "channel": channel.channel_number,
        "user": connection.user,
    }
    _emit(connection.vhost, "deliver." + queue.name, headers, message.body)


def _traced_vhost(broker: Broker, vhost: str) -> VirtualHost:
    found = broker.vhosts.get(vhost)
    if found is None:
        raise NotFound(f"no vhost '{vhost}'")
    return found


def trace_on(self: Broker, vhost: str = "/") -> None:
    """Start the firehose for a vhost (``rabbitmqctl trace_on -p vhost``, spec 17.1);
    twice is harmless. Not stored: a restart turns it off."""
    with self._lock:
        host = _traced_vhost(self, vhost)
        host.tracing = True
        for channel in host._channels():
            channel._refresh_plain_publish()  # publishes must now pass by the tracer


def trace_off(self: Broker, vhost: str = "/") -> None:
    """Stop the firehose for a vhost (``rabbitmqctl trace_off``)."""
    with self._lock:
        host = _traced_vhost(self, vhost)
        host.tracing = False
        for channel in host._channels():
            channel._refresh_plain_publish()
