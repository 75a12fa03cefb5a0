"""Exchanges: list, declare, delete, publish, and their bindings (spec 18.8, 18.14, 18.15).

Declares, deletes and publishes run through an in-process channel, so they get
the same checks and refusals as an AMQP client's."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from aiohttp import web

from amqpmodel import AMQPError, BasicProperties, NackError, UnroutableError
from amqpmodel.driver import PROPERTY_NAMES

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
from ._shapes import binding_object, exchange_object

__all__ = ["ROUTES", "path_exchange_name", "properties_from_json"]


def path_exchange_name(request: web.Request, key: str = "name") -> str:
    """A name in the path; "amq.default" is the default exchange (spec 18.7)."""
    name = request.match_info[key]
    return "" if name == "amq.default" else name


@level("management")
async def exchanges(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        items = [
            exchange_object(exchange, vhost.name)
            for vhost in visible_vhosts(request)
            for exchange in vhost.exchanges.values()
        ]
    return list_response(request, items)


@level("management")
async def exchange(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        vhost = path_vhost(request)
        found = vhost.exchanges.get(path_exchange_name(request))
        return one(request, exchange_object(found, vhost.name) if found is not None else None)


@level("management")
async def declare_exchange(request: web.Request) -> web.Response:
    """PUT: exchange.declare with AMQP's defaults for what the body leaves out (spec 18.15)."""
    ctx = context(request)
    vhost = path_vhost(request)
    name = path_exchange_name(request)
    body = await read_json(request)
    exchange_type = body.get("type", "direct")
    if not isinstance(exchange_type, str):
        raise bad_request("type must be a string")
    arguments = body.get("arguments") or {}
    if not isinstance(arguments, dict):
        raise bad_request("arguments must be an object")
    existed = name in vhost.exchanges
    with ctx.channel(vhost.name, user(request).name) as channel:
        channel.exchange_declare(
            name,
            exchange_type,
            durable=parse_bool(body.get("durable", False), "durable"),
            auto_delete=parse_bool(body.get("auto_delete", False), "auto_delete"),
            internal=parse_bool(body.get("internal", False), "internal"),
            arguments=arguments,
        )
    return created_or_updated(existed)


@level("management")
async def delete_exchange(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost = path_vhost(request)
    name = path_exchange_name(request)
    if name not in vhost.exchanges:
        raise ApiError(404, "Object Not Found", "Not Found")
    with ctx.channel(vhost.name, user(request).name) as channel:
        channel.exchange_delete(name, if_unused=request.query.get("if-unused") == "true")
    return no_content()


def properties_from_json(value: Any) -> BasicProperties:
    """Message properties from their JSON object (spec 18.14); keys that name no
    property are ignored, as RabbitMQ ignores them."""
    if not isinstance(value, dict):
        raise bad_request("properties must be an object")
    try:
        return BasicProperties(**{k: v for k, v in value.items() if k in PROPERTY_NAMES})
    except TypeError as error:
        raise bad_request(f"invalid properties: {error}") from None


def payload_bytes(body: dict[str, Any]) -> bytes:
    payload = body["payload"]
    encoding = body["payload_encoding"]
    if not isinstance(payload, str):
        raise bad_request("payload must be a string")
    if encoding == "string":
        return payload.encode("utf-8")
    if encoding == "base64":
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("payload is not valid base64") from None
    raise bad_request(f'payload_encoding must be "string" or "base64", got {encoding!r}')


@level("management")
async def publish(request: web.Request) -> web.Response:
    """POST …/publish: confirm mode, mandatory; {"routed": false} when returned (spec 18.14)."""
    ctx = context(request)
    vhost = ctx.broker.vhosts.get(request.match_info["vhost"])
    if vhost is None:
        raise ApiError(404, "not_found", "vhost_not_found")
    name = path_exchange_name(request)
    if name not in vhost.exchanges:
        raise ApiError(404, "not_found", "exchange_not_found")
    body = await read_json(request)
    require_keys(body, "properties", "routing_key", "payload", "payload_encoding")
    routing_key = body["routing_key"]
    if not isinstance(routing_key, str):
        raise bad_request("routing_key must be a string")
    properties = properties_from_json(body["properties"])
    payload = payload_bytes(body)
    routed = True
    with ctx.channel(vhost.name, user(request).name) as channel:
        channel.confirm_delivery()
        try:
            channel.basic_publish(name, routing_key, payload, properties, mandatory=True)
        except UnroutableError:
            routed = False
        except NackError:
            raise bad_request("rejected Unable to publish message. Check queue limits.") from None
        except TypeError as error:  # a property of the wrong type (502 on the wire)
            if isinstance(error, AMQPError):
                raise amqp_error(error) from None
            raise bad_request(str(error)) from None
    return json_response({"routed": routed})


@level("management")
async def exchange_bindings(request: web.Request) -> web.Response:
    ctx = context(request)
    side = request.match_info["side"]
    with ctx.lock():
        vhost = path_vhost(request)
        name = path_exchange_name(request)
        found = vhost.exchanges.get(name)
        if found is None:
            raise ApiError(404, "Object Not Found", "Not Found")
        if side == "source":
            bindings = [b for b in vhost.bindings if b.source == name]
        else:
            bindings = [
                b
                for b in vhost.bindings
                if b.destination_type == "exchange" and b.destination == name
            ]
        items = [binding_object(b, vhost.name) for b in bindings]
    return list_response(request, items, ())


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/exchanges", exchanges),
    ("GET", "/api/exchanges/{vhost}", exchanges),
    ("GET", "/api/exchanges/{vhost}/{name}", exchange),
    ("PUT", "/api/exchanges/{vhost}/{name}", declare_exchange),
    ("DELETE", "/api/exchanges/{vhost}/{name}", delete_exchange),
    ("POST", "/api/exchanges/{vhost}/{name}/publish", publish),
    ("GET", "/api/exchanges/{vhost}/{name}/bindings/{side:source|destination}", exchange_bindings),
]
