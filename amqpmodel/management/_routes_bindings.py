"""Bindings: list, create (201 with a relative Location), get and delete one by its
properties key (spec 18.6, 18.8, 18.11)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from aiohttp import web

from amqpmodel import Binding, VirtualHost

from ._handlers import (
    context,
    level,
    list_response,
    no_content,
    one,
    path_vhost,
    user,
    visible_vhosts,
)
from ._http import ApiError, bad_request, read_json
from ._routes_exchanges import path_exchange_name
from ._shapes import binding_object, properties_key

__all__ = ["ROUTES"]

_KINDS = {"q": "queue", "e": "exchange"}


@level("management")
async def bindings(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        items = [
            binding_object(binding, vhost.name)
            for vhost in visible_vhosts(request)
            for binding in vhost.bindings
        ]
    return list_response(request, items, ())


def _ends(request: web.Request) -> tuple[VirtualHost, str, str, str]:
    """vhost, source, destination type, destination, as the path names them. The
    ends are not looked up: a bind names what is missing (404 with the AMQP
    explanation), a listing between missing ends is empty, as on RabbitMQ."""
    vhost = path_vhost(request)
    source = path_exchange_name(request, "source")
    kind = _KINDS[request.match_info["kind"]]
    destination = request.match_info["destination"]
    if kind == "exchange":
        destination = "" if destination == "amq.default" else destination
    return vhost, source, kind, destination


def _between(vhost: VirtualHost, source: str, kind: str, destination: str) -> list[Binding]:
    return [
        b
        for b in vhost.bindings
        if b.source == source and b.destination_type == kind and b.destination == destination
    ]


@level("management")
async def bindings_between(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        vhost, source, kind, destination = _ends(request)
        items = [binding_object(b, vhost.name) for b in _between(vhost, source, kind, destination)]
    return list_response(request, items, ())


@level("management")
async def create_binding(request: web.Request) -> web.Response:
    """queue.bind or exchange.bind; 201 with Location naming the binding (spec 18.6)."""
    ctx = context(request)
    vhost, source, kind, destination = _ends(request)
    body = await read_json(request)
    routing_key = body.get("routing_key", "")
    arguments = body.get("arguments") or {}
    if not isinstance(routing_key, str):
        raise bad_request("routing_key must be a string")
    if not isinstance(arguments, dict):
        raise bad_request("arguments must be an object")
    with ctx.channel(vhost.name, user(request).name) as channel:
        if kind == "queue":
            channel.queue_bind(destination, source, routing_key, arguments)
        else:
            channel.exchange_bind(destination, source, routing_key, arguments)
    last = request.match_info["destination"]
    location = (
        urllib.parse.quote(last, safe="")
        + "/"
        + urllib.parse.quote(properties_key(routing_key, arguments), safe="")
    )
    return web.Response(status=201, headers={"Location": location})


def _named(request: web.Request) -> tuple[VirtualHost, Binding]:
    vhost, source, kind, destination = _ends(request)
    key = request.match_info["props"]
    for binding in _between(vhost, source, kind, destination):
        if properties_key(binding.routing_key, binding.arguments) == key:
            return vhost, binding
    raise ApiError(404, "Object Not Found", "Not Found")


@level("management")
async def binding(request: web.Request) -> web.Response:
    with context(request).lock():
        vhost, found = _named(request)
        return one(request, binding_object(found, vhost.name))


@level("management")
async def delete_binding(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost, found = _named(request)
    with ctx.channel(vhost.name, user(request).name) as channel:
        if found.destination_type == "queue":
            channel.queue_unbind(
                found.destination, found.source, found.routing_key, found.arguments
            )
        else:
            channel.exchange_unbind(
                found.destination, found.source, found.routing_key, found.arguments
            )
    return no_content()


_ONE = "/api/bindings/{vhost}/e/{source}/{kind:q|e}/{destination}"

ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/bindings", bindings),
    ("GET", "/api/bindings/{vhost}", bindings),
    ("GET", _ONE, bindings_between),
    ("POST", _ONE, create_binding),
    ("GET", _ONE + "/{props}", binding),
    ("DELETE", _ONE + "/{props}", delete_binding),
]
