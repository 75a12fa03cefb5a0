"""The JSON shape of each object of the management API, written once and used by
list and detail endpoints alike (spec 18.8-18.11)."""

from __future__ import annotations

import base64
import urllib.parse
import zlib
from typing import Any

from amqpmodel import BasicProperties, Binding, Channel, Consumer, Exchange, Queue, VirtualHost
from amqpmodel.driver import PROPERTY_NAMES, channel_state, vhost_metadata

from ._context import ClientConnection, Context
from ._http import to_json

__all__ = [
    "binding_object",
    "channel_object",
    "connection_object",
    "consumer_object",
    "exchange_name",
    "exchange_object",
    "properties_key",
    "properties_object",
    "queue_object",
    "vhost_object",
]


def exchange_name(name: str) -> str:
    """The default exchange is "amq.default" in paths and bindings' ends (spec 18.7)."""
    return name if name else "amq.default"


def exchange_object(exchange: Exchange, vhost: str) -> dict[str, Any]:
    """Spec 18.8; ``policy`` (and 14.19's operator policy and merged definition) only
    when one applies, as RabbitMQ leaves them out."""
    obj: dict[str, Any] = {
        "name": exchange.name,
        "vhost": vhost,
        "type": exchange.type,
        "durable": exchange.durable,
        "auto_delete": exchange.auto_delete,
        "internal": exchange.internal,
        "arguments": exchange.arguments,
        "user_who_performed_action": "rmq-internal",
    }
    policy, operator = exchange.policy, exchange.operator_policy
    if policy is not None:
        obj["policy"] = policy.name
    if operator is not None:
        obj["operator_policy"] = operator.name
    if policy is not None or operator is not None:
        obj["effective_policy_definition"] = exchange.effective_policy_definition
    return obj


def properties_key(routing_key: str, arguments: dict[str, Any]) -> str:
    """Spec 18.11: "~" for an empty key without arguments; the form-encoded key without
    arguments; else key + "~" + a 32-bit hash of the arguments (base64url)."""
    if not arguments:
        if routing_key == "":
            return "~"
        return urllib.parse.quote_plus(routing_key, safe="").replace("~", "%7E")
    digest = zlib.crc32(to_json(dict(sorted(arguments.items()))).encode("utf-8"))
    packed = base64.urlsafe_b64encode(digest.to_bytes(4, "big")).decode("ascii").rstrip("=")
    return f"{routing_key}~{packed}"


def binding_object(binding: Binding, vhost: str) -> dict[str, Any]:
    return {
        "source": binding.source,
        "vhost": vhost,
        "destination": binding.destination,
        "destination_type": binding.destination_type,
        "routing_key": binding.routing_key,
        "arguments": binding.arguments,
        "properties_key": properties_key(binding.routing_key, binding.arguments),
    }


def _consumer_capacity(queue: Queue) -> float:
    """1.0 when a consumer could take the next ready message at once (RabbitMQ's
    consumer capacity), 0 when every consumer is blocked or there is none."""
    consumers = queue.consumers
    if not consumers:
        return 0.0
    if any(
        consumer.auto_ack or not consumer.prefetch or consumer.unacked < consumer.prefetch
        for consumer in consumers
    ):
        return 1.0
    return 0.0


def queue_object(
    context: Context,
    queue: Queue,
    vhost: VirtualHost,
    *,
    detail: bool = False,
    clients: dict[Any, ClientConnection] | None = None,
) -> dict[str, Any]:
    """Spec 18.10. ``detail`` adds what costs a scan of the queue (persistent
    messages) and the consumers, as GET of one queue does."""
    consumers = queue.consumers
    exclusive_tag = next((c.tag for c in consumers if c.exclusive), None)
    active = queue.single_active_consumer
    capacity = _consumer_capacity(queue)
    owner = queue.owner
    ready = queue.messages_ready
    unacked = queue.messages_unacknowledged
    obj: dict[str, Any] = {
        "name": queue.name,
        "vhost": vhost.name,
        "type": queue.queue_type,
        "durable": queue.durable,
        "auto_delete": queue.auto_delete,
        "exclusive": queue.exclusive,
        "owner_pid": _owner_name(context, owner, clients) if owner is not None else None,
        "arguments": queue.arguments,
        "state": "running",
        # spec 14.19: the winning policy and operator policy, and their merge
        "policy": queue.policy.name if queue.policy is not None else None,
        "operator_policy": queue.operator_policy.name if queue.operator_policy is not None else None,
        "effective_policy_definition": queue.effective_policy_definition,
        "consumers": len(consumers),
        "consumer_capacity": capacity,
        "consumer_utilisation": capacity if consumers else None,
        "messages": ready + unacked,
        "messages_ready": ready,
        "messages_unacknowledged": unacked,
        "message_bytes_ready": queue.message_bytes_ready,
        "exclusive_consumer_tag": exclusive_tag,
        "single_active_consumer_tag": active.tag if active is not None else None,
        "node": context.node,
    }
    stats = context.rates.queue(queue)
    if stats:
        obj["message_stats"] = stats
    if queue.queue_type == "quorum":
        obj.update(leader=context.node, members=[context.node], online=[context.node])
        limit = queue.arguments.get("x-delivery-limit")
        obj["delivery_limit"] = limit if limit is not None else 20
    if detail:
        obj["messages_persistent"] = queue.messages_persistent
        clients = clients if clients is not None else context.by_core()
        obj["consumer_details"] = [
            consumer_object(context, c, vhost.name, clients) for c in consumers
        ]
    return obj


def _owner_name(
    context: Context, owner: Any, clients: dict[Any, ClientConnection] | None
) -> str | None:
    record = (clients if clients is not None else context.by_core()).get(owner)
    return record.name if record is not None else None


def connection_object(context: Context, record: ClientConnection) -> dict[str, Any]:
    core = record.core
    wire = record.wire
    obj: dict[str, Any] = {
        "name": record.name,
        "vhost": core.vhost.name,
        "user": core.user,
        "user_who_performed_action": core.user,
        # spec 21.3, 21.6: "blocking", "blocked" or "flow" while the server holds it back
        "state": wire.flow_state if wire is not None else "running",
        "channels": len(core.channels),
        "node": context.node,
        "client_properties": core.client_properties,
        "ssl": False,
    }
    if wire is not None:
        peer_host, _, peer_port = wire.peer.rpartition(":")
        host, _, port = wire.local.rpartition(":")
        obj.update(
            type="network",
            protocol="AMQP 0-9-1",
            host=host,
            port=_int(port),
            peer_host=peer_host,
            peer_port=_int(peer_port),
            channel_max=wire.channel_max,
            frame_max=wire.frame_max,
            timeout=wire.heartbeat,
            auth_mechanism=wire.auth_mechanism,
            connected_at=int(wire.connected_at * 1000),
        )
    else:
        obj.update(
            type="direct",
            protocol="Direct 0-9-1",
            host=None,
            port=None,
            peer_host=None,
            peer_port=None,
            channel_max=2047,
            frame_max=0,
            timeout=0,
            auth_mechanism="none",
            connected_at=None,
        )
    return obj


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def connection_details(context: Context, record: ClientConnection) -> dict[str, Any]:
    wire = record.wire
    peer_host, _, peer_port = wire.peer.rpartition(":") if wire is not None else ("", "", "")
    return {
        "name": record.name,
        "peer_host": peer_host or None,
        "peer_port": _int(peer_port) if peer_port else None,
    }


def channel_object(context: Context, record: ClientConnection, channel: Channel) -> dict[str, Any]:
    state = channel_state(channel)
    core = record.core
    obj: dict[str, Any] = {
        "name": f"{record.name} ({channel.channel_number})",
        "number": channel.channel_number,
        "vhost": core.vhost.name,
        "user": core.user,
        "user_who_performed_action": core.user,
        "node": context.node,
        "connection_details": connection_details(context, record),
        "confirm": state.confirm,
        "transactional": state.transactional,
        "prefetch_count": state.prefetch_count,
        "global_prefetch_count": state.global_prefetch_count,
        "consumer_count": state.consumer_count,
        "messages_unacknowledged": state.messages_unacknowledged,
        "messages_unconfirmed": state.messages_unconfirmed,
        "messages_uncommitted": state.messages_uncommitted,
        "acks_uncommitted": state.acks_uncommitted,
        "state": "running",
    }
    stats = context.rates.channel(channel, state)
    if stats:
        obj["message_stats"] = stats
    return obj


def consumer_object(
    context: Context,
    consumer: Consumer,
    vhost: str,
    clients: dict[Any, ClientConnection] | None = None,
) -> dict[str, Any]:
    channel = consumer.channel
    record = (clients if clients is not None else context.by_core()).get(channel.connection)
    details: dict[str, Any] = {
        "number": channel.channel_number,
        "user": channel.connection.user,
        "node": context.node,
    }
    if record is not None:
        details.update(
            name=f"{record.name} ({channel.channel_number})",
            connection_name=record.name,
            **{k: v for k, v in connection_details(context, record).items() if k != "name"},
        )
    queue = consumer.queue
    active_consumer = queue.single_active_consumer
    single = active_consumer is not None
    active = not single or active_consumer is consumer
    arguments: dict[str, Any] = {}
    if consumer.priority:
        arguments["x-priority"] = consumer.priority
    return {
        "consumer_tag": consumer.tag,
        "queue": {"name": queue.name, "vhost": vhost},
        "channel_details": details,
        "ack_required": not consumer.auto_ack,
        "exclusive": consumer.exclusive,
        "prefetch_count": consumer.prefetch,
        "arguments": arguments,
        "active": active,
        "activity_status": ("single_active" if active else "waiting") if single else "up",
    }


def vhost_object(context: Context, vhost: VirtualHost) -> dict[str, Any]:
    metadata = vhost_metadata(context.broker, vhost.name)
    ready = sum(q.messages_ready for q in vhost.queues.values())
    unacked = sum(q.messages_unacknowledged for q in vhost.queues.values())
    obj: dict[str, Any] = {
        "name": vhost.name,
        "description": metadata["description"],
        "tags": metadata["tags"],
        "default_queue_type": metadata["default_queue_type"],
        "tracing": vhost.tracing,  # spec 17.1
        "protected_from_deletion": False,
        "cluster_state": {context.node: "running"},
        "messages": ready + unacked,
        "messages_ready": ready,
        "messages_unacknowledged": unacked,
    }
    obj["metadata"] = {
        "description": obj["description"],
        "tags": obj["tags"],
        "default_queue_type": obj["default_queue_type"],
    }
    stats = context.rates.totals(vhost.name)
    if any(v for k, v in stats.items() if not k.endswith("_details")):
        obj["message_stats"] = stats
    return obj


def properties_object(properties: BasicProperties) -> dict[str, Any]:
    """The properties that are set, by their AMQP names (spec 18.13)."""
    result: dict[str, Any] = {}
    for name in PROPERTY_NAMES:
        value = getattr(properties, name, None)
        if value is not None:
            result[name] = value
    return result
