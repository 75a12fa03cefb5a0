"""Queues: list, declare, delete, purge, get messages, and their bindings
(spec 18.8, 18.10, 18.13, 18.15)."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from amqpmodel import AMQPError

from ._handlers import (
    context,
    created_or_updated,
    level,
    list_response,
    no_content,
    one,
    path_vhost,
    user,
    visible_vhosts,
)
from ._http import (
    ApiError,
    amqp_error,
    bad_request,
    json_response,
    parse_bool,
    read_json,
    require_keys,
)
from ._shapes import binding_object, properties_object, queue_object

__all__ = ["ROUTES"]

_ACK_MODES = (
    "ack_requeue_true",
    "ack_requeue_false",
    "reject_requeue_true",
    "reject_requeue_false",
)


@level("management")
async def queues(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        clients = ctx.by_core()
        items = [
            queue_object(ctx, queue, vhost, clients=clients)
            for vhost in visible_vhosts(request)
            for queue in vhost.queues.values()
        ]
    return list_response(request, items)


@level("management")
async def queue(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        vhost = path_vhost(request)
        found = vhost.queues.get(request.match_info["name"])
        return one(
            request, queue_object(ctx, found, vhost, detail=True) if found is not None else None
        )


@level("management")
async def declare_queue(request: web.Request) -> web.Response:
    """PUT: queue.declare, not exclusive, AMQP defaults for the rest (spec 18.15)."""
    ctx = context(request)
    vhost = path_vhost(request)
    name = request.match_info["name"]
    body = await read_json(request)
    arguments = dict(body.get("arguments") or {})
    if not isinstance(body.get("arguments") or {}, dict):
        raise bad_request("arguments must be an object")
    queue_type = body.get("type") or body.get("queue_type")
    if queue_type is not None and "x-queue-type" not in arguments:
        arguments["x-queue-type"] = queue_type
    existed = name in vhost.queues
    with ctx.channel(vhost.name, user(request).name) as channel:
        channel.queue_declare(
            name,
            durable=parse_bool(body.get("durable", False), "durable"),
            auto_delete=parse_bool(body.get("auto_delete", False), "auto_delete"),
            arguments=arguments,
        )
    return created_or_updated(existed)


def _existing(request: web.Request) -> tuple[str, str]:
    vhost = path_vhost(request)
    name = request.match_info["name"]
    if name not in vhost.queues:
        raise ApiError(404, "Object Not Found", "Not Found")
    return vhost.name, name


@level("management")
async def delete_queue(request: web.Request) -> web.Response:
    vhost, name = _existing(request)
    with context(request).channel(vhost, user(request).name) as channel:
        channel.queue_delete(
            name,
            if_unused=request.query.get("if-unused") == "true",
            if_empty=request.query.get("if-empty") == "true",
        )
    return no_content()


@level("management")
async def purge_queue(request: web.Request) -> web.Response:
    vhost, name = _existing(request)
    with context(request).channel(vhost, user(request).name) as channel:
        channel.queue_purge(name)
    return no_content()


def _payload(body: bytes, encoding: str, truncate: int | None) -> tuple[str, str]:
    data = body[:truncate] if truncate is not None else body
    if encoding == "auto":
        try:
            return data.decode("utf-8"), "string"
        except UnicodeDecodeError:
            pass
    return base64.b64encode(data).decode("ascii"), "base64"


@level("management")
async def get_messages(request: web.Request) -> web.Response:
    """POST …/get: up to ``count`` basic.gets, then each one nacked or rejected as
    ``ackmode`` says; ack_requeue_false takes them with no_ack (spec 18.13)."""
    ctx = context(request)
    body = await read_json(request)  # the body is checked first, as RabbitMQ does
    require_keys(body, "count", "ackmode", "encoding")
    try:
        count = int(body["count"])
    except (TypeError, ValueError):
        raise bad_request("count must be an integer") from None
    ackmode = body["ackmode"]
    if ackmode not in _ACK_MODES:
        raise bad_request(f"Unknown ackmode: {ackmode}")
    encoding = body["encoding"]
    if encoding not in ("auto", "base64"):
        raise bad_request(f"Unsupported encoding: {encoding}")
    truncate = body.get("truncate")
    if truncate is not None:
        try:
            truncate = int(truncate)
        except (TypeError, ValueError):
            raise bad_request("truncate must be an integer") from None
    vhost = ctx.broker.vhosts.get(request.match_info["vhost"])
    if vhost is None:
        raise ApiError(404, "not_found", "vhost_not_found")
    name = request.match_info["name"]
    if name not in vhost.queues:
        raise ApiError(404, "not_found", "queue_not_found")
    items: list[dict[str, Any]] = []
    with ctx.channel(vhost.name, user(request).name) as channel:
        tags = []
        for _ in range(max(0, count)):
            method, properties, payload = channel.basic_get(
                name, auto_ack=ackmode == "ack_requeue_false"
            )
            if method is None or properties is None or payload is None:
                break
            tags.append(method.delivery_tag)
            text, payload_encoding = _payload(payload, encoding, truncate)
            items.append(
                {
                    "payload_bytes": len(payload),
                    "redelivered": method.redelivered,
                    "exchange": method.exchange,
                    "routing_key": method.routing_key,
                    "message_count": method.message_count,
                    "properties": properties_object(properties),
                    "payload": text,
                    "payload_encoding": payload_encoding,
                }
            )
        try:
            for tag in tags:
                if ackmode == "ack_requeue_true":
                    channel.basic_nack(tag, requeue=True)
                elif ackmode.startswith("reject"):
                    channel.basic_reject(tag, requeue=ackmode == "reject_requeue_true")
        except AMQPError as error:
            raise amqp_error(error) from None
    return json_response(items)


@level("administrator")
async def queue_actions(request: web.Request) -> web.Response:
    """RabbitMQ 4.x has no queue actions left (spec 18.8)."""
    _existing(request)
    body = await read_json(request)
    raise bad_request(["unknown", body.get("action")])


@level("management")
async def queue_bindings(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        vhost_name, name = _existing(request)
        vhost = ctx.broker.vhosts[vhost_name]
        items = [
            binding_object(b, vhost_name)
            for b in vhost.bindings
            if b.destination_type == "queue" and b.destination == name
        ]
    return list_response(request, items, ())


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/queues", queues),
    ("GET", "/api/queues/{vhost}", queues),
    ("GET", "/api/queues/{vhost}/{name}", queue),
    ("PUT", "/api/queues/{vhost}/{name}", declare_queue),
    ("DELETE", "/api/queues/{vhost}/{name}", delete_queue),
    ("DELETE", "/api/queues/{vhost}/{name}/contents", purge_queue),
    ("POST", "/api/queues/{vhost}/{name}/get", get_messages),
    ("POST", "/api/queues/{vhost}/{name}/actions", queue_actions),
    ("GET", "/api/queues/{vhost}/{name}/bindings", queue_bindings),
]
