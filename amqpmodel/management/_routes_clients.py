"""Clients: connections, channels and consumers (spec 18.3, 18.8).

A management user sees and closes its own connections and channels; monitoring
and administrator users see everyone's; only an administrator closes another
user's connection."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ._context import ClientConnection
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
from ._http import ApiError, not_found
from ._shapes import channel_object, connection_object, consumer_object

__all__ = ["ROUTES"]

log = logging.getLogger("amqpmodel.management")


def _visible(request: web.Request, records: list[ClientConnection]) -> list[ClientConnection]:
    caller = user(request)
    if "vhost" in request.match_info:
        vhost = path_vhost(request).name
        records = [r for r in records if r.core.vhost.name == vhost]
    if caller.has("monitoring"):
        return records
    return [r for r in records if r.core.user == caller.name]


@level("management")
async def connections(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        items = [connection_object(ctx, r) for r in _visible(request, ctx.connections())]
    return list_response(request, items, ("name",))


def _named_connection(request: web.Request) -> ClientConnection:
    ctx = context(request)
    records = _visible(request, ctx.connections())
    name = request.match_info["name"]
    for record in records:
        if record.name == name:
            return record
    raise not_found()


@level("management")
async def connection(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        return one(request, connection_object(ctx, _named_connection(request)))


@level("management")
async def close_connection(request: web.Request) -> web.Response:
    """connection.close 320 CONNECTION_FORCED with the X-Reason header's text (spec 18.8)."""
    caller = user(request)
    record = _named_connection(request)
    if record.core.user != caller.name and not caller.has("administrator"):
        raise ApiError(401, "not_authorised", "Not administrator user")
    reason = request.headers.get("X-Reason", "Closed via management plugin")
    text = f"CONNECTION_FORCED - {reason}"
    log.info(
        "Closing connection %s (vhost: '%s', user: '%s') via the management API: %s",
        record.name,
        record.core.vhost.name,
        record.core.user,
        reason,
    )
    if record.wire is not None:
        record.wire.close(320, text)
    else:
        record.core.close(320, text)
    return no_content()


def _channels(request: web.Request) -> list[dict[str, Any]]:
    ctx = context(request)
    visible = {r.core for r in _visible(request, ctx.connections())}
    if "name" in request.match_info:  # /api/connections/{name}/channels
        visible = {_named_connection(request).core}
    return [
        channel_object(ctx, record, channel)
        for record, channel in ctx.channels()
        if record.core in visible
    ]


@level("management")
async def channels(request: web.Request) -> web.Response:
    with context(request).lock():
        items = _channels(request)
    return list_response(request, items, ("name",))


@level("management")
async def channel(request: web.Request) -> web.Response:
    name = request.match_info["channel"]
    with context(request).lock():
        found = next((c for c in _channels(request) if c["name"] == name), None)
    return one(request, found)


@level("management")
async def consumers(request: web.Request) -> web.Response:
    ctx = context(request)
    caller = user(request)
    with ctx.lock():
        vhosts = visible_vhosts(request)
        clients = ctx.by_core()
        items = [
            consumer_object(ctx, consumer, vhost.name, clients)
            for vhost in vhosts
            for queue in vhost.queues.values()
            for consumer in queue.consumers
            if caller.has("monitoring") or consumer.channel.connection.user == caller.name
        ]
    return list_response(request, items, ("queue.vhost", "queue.name", "consumer_tag"))


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/connections", connections),
    ("GET", "/api/vhosts/{vhost}/connections", connections),
    ("GET", "/api/connections/{name}", connection),
    ("DELETE", "/api/connections/{name}", close_connection),
    ("GET", "/api/connections/{name}/channels", channels),
    ("GET", "/api/channels", channels),
    ("GET", "/api/vhosts/{vhost}/channels", channels),
    ("GET", "/api/channels/{channel}", channel),
    ("GET", "/api/consumers", consumers),
    ("GET", "/api/consumers/{vhost}", consumers),
]
