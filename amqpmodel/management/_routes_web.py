"""The management web page: static files (plain HTML, CSS and JavaScript, no build
step) fed by the API, plus what RabbitMQ's API has no endpoint for: a queue's
messages read without taking them (ready, and held by consumers), and the
topology picture of a vhost (``amqpmodel.views``). Those live under
``/amqpmodel/``, outside RabbitMQ's ``/api/``."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from aiohttp import web

from amqpmodel import Message, views

from ._handlers import context, level, path_vhost
from ._http import json_response, not_found
from ._shapes import properties_object

__all__ = ["ROUTES"]

STATIC = Path(__file__).with_name("static")
_FILES = {"index.html": "text/html", "app.js": "text/javascript", "app.css": "text/css"}
READY_SHOWN = 100  # ready messages a queue page lists


def _file(name: str) -> web.Response:
    return web.Response(
        body=(STATIC / name).read_bytes(),
        content_type=_FILES[name],
        charset="utf-8",
        headers={"cache-control": "no-cache"},
    )


@level("none")
async def index(request: web.Request) -> web.Response:
    return _file("index.html")


@level("none")
async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _FILES:
        raise not_found()
    return _file(name)


def _message(message: Message) -> dict[str, Any]:
    body = message.body
    try:
        payload, encoding = body.decode("utf-8"), "string"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(body).decode("ascii"), "base64"
    return {
        "exchange": message.exchange,
        "routing_key": message.routing_key,
        "properties": properties_object(message.properties),
        "payload_bytes": len(body),
        "payload": payload,
        "payload_encoding": encoding,
    }


@level("management")
async def queue_messages(request: web.Request) -> web.Response:
    """A queue's messages, unchanged: the first ready ones in delivery order, and every
    delivery a channel holds unacknowledged, with who holds it."""
    ctx = context(request)
    with ctx.lock():
        vhost = path_vhost(request)
        queue = vhost.queues.get(request.match_info["name"])
        if queue is None:
            raise not_found()
        ready = queue.peek()
        clients = ctx.by_core()
        unacked = []
        for core, record in clients.items():
            if core.vhost is not vhost:
                continue
            for number, channel in sorted(core.channels.items()):
                for held in channel.unacked_messages(queue):
                    item = _message(held.message)
                    holder = held.consumer_tag if held.consumer_tag is not None else "basic.get"
                    item.update(
                        delivery_tag=held.delivery_tag,
                        redelivered=held.redelivered,
                        held_by=f"{holder} on {record.name} ({number})",
                        settling=held.settling,
                    )
                    unacked.append(item)
        shown = [dict(_message(m), redelivered=None) for m in ready[:READY_SHOWN]]
    return json_response({"ready_total": len(ready), "ready": shown, "unacked": unacked})


@level("management")
async def topology(request: web.Request) -> web.Response:
    vhost = path_vhost(request)
    return web.Response(
        text=views.topology_svg(vhost), content_type="image/svg+xml", charset="utf-8"
    )


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/", index),
    ("GET", "/static/{name}", static),
    ("GET", "/amqpmodel/api/queues/{vhost}/{name}/messages", queue_messages),
    ("GET", "/amqpmodel/topology/{vhost}.svg", topology),
]
