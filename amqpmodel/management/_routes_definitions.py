"""Definitions: export and import of the broker's topology, users and vhosts (spec 16).

Export leaves out exclusive queues, the default and ``amq.*`` exchanges and the
default exchange's implicit bindings (16.5); a single-vhost export drops the
vhost field (16.6). Import runs in RabbitMQ's order (16.7) with its merge rules
(16.8): existing queues and exchanges are left as they are, bindings added
idempotently; its defaults differ from AMQP's (16.9: durable unless told)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ._context import Context
from ._handlers import context, level, no_content, path_vhost, user
from ._http import ApiError, bad_request, json_response, parse_bool, read_json, unsupported
from ._routes_access import FULL_ACCESS, permission_objects, put_user, put_vhost
from ._shapes import user_object, vhost_metadata

__all__ = ["ROUTES", "export_definitions", "import_definitions"]

log = logging.getLogger("amqpmodel.management")


def _vhost_items(ctx: Context, name: str, with_vhost: bool) -> dict[str, list[dict[str, Any]]]:
    vhost = ctx.broker.vhosts[name]
    queues: list[dict[str, Any]] = []
    for queue in vhost.queues.values():
        if queue.exclusive:
            continue
        item = {
            "name": queue.name,
            "vhost": name,
            "type": queue.queue_type,
            "durable": queue.durable,
            "auto_delete": queue.auto_delete,
            "arguments": queue.arguments,
        }
        queues.append(item)
    exchanges = [
        {
            "name": exchange.name,
            "vhost": name,
            "type": exchange.type,
            "durable": exchange.durable,
            "auto_delete": exchange.auto_delete,
            "internal": exchange.internal,
            "arguments": exchange.arguments,
        }
        for exchange in vhost.exchanges.values()
        if exchange.name and not exchange.name.startswith("amq.") and not exchange.internal
    ]
    exported_queues = {q["name"] for q in queues}
    bindings = [
        {
            "source": binding.source,
            "vhost": name,
            "destination": binding.destination,
            "destination_type": binding.destination_type,
            "routing_key": binding.routing_key,
            "arguments": binding.arguments,
        }
        for binding in vhost.bindings
        if binding.source != ""
        and (binding.destination_type != "queue" or binding.destination in exported_queues)
    ]
    result: dict[str, list[dict[str, Any]]] = {
        "queues": queues,
        "exchanges": exchanges,
        "bindings": bindings,
    }
    if not with_vhost:
        for items in result.values():
            for item in items:
                item.pop("vhost", None)
    return result


def export_definitions(ctx: Context, vhost: str | None = None) -> dict[str, Any]:
    with ctx.lock():
        head: dict[str, Any] = {
            "rabbit_version": ctx.broker.rabbitmq_version.version,
            "rabbitmq_version": ctx.broker.rabbitmq_version.version,
            "product_name": "amqpmodel",
            "product_version": ctx.version,
        }
        if vhost is not None:
            metadata = vhost_metadata(ctx, vhost)
            items = _vhost_items(ctx, vhost, with_vhost=False)
            return {
                **head,
                "rabbitmq_definition_format": "single_virtual_host",
                "original_vhost_name": vhost,
                "explanation": f"Definitions of virtual host '{vhost}'",
                "metadata": metadata,
                "description": metadata["description"],
                "limits": {},
                "parameters": [],
                "policies": [],
                **items,
            }
        queues: list[dict[str, Any]] = []
        exchanges: list[dict[str, Any]] = []
        bindings: list[dict[str, Any]] = []
        for name in ctx.broker.vhosts:
            items = _vhost_items(ctx, name, with_vhost=True)
            queues += items["queues"]
            exchanges += items["exchanges"]
            bindings += items["bindings"]
        return {
            **head,
            "rabbitmq_definition_format": "cluster",
            "original_cluster_name": ctx.cluster_name,
            "explanation": f"Definitions of cluster '{ctx.cluster_name}'",
            "users": [user_object(n, h, t) for n, (h, t) in ctx.broker.users.items()],
            "vhosts": [
                {"name": name, "limits": [], "metadata": vhost_metadata(ctx, name)}
                for name in ctx.broker.vhosts
            ],
            "permissions": permission_objects(ctx),
            "topic_permissions": [],
            "parameters": [],
            "global_parameters": [{"name": "cluster_name", "value": ctx.cluster_name}],
            "policies": [],
            "queues": queues,
            "exchanges": exchanges,
            "bindings": bindings,
        }


def _list(document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = document.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise bad_request(f"{key} must be an array of objects")
    return value


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise bad_request(f"[{{key_missing,{key}}}]")
    return value


def import_definitions(
    ctx: Context, document: dict[str, Any], caller: str, vhost: str | None = None
) -> None:
    """Apply a definitions document (spec 16.7, 16.8); a failing item stops the import
    with an error, earlier items stay applied (16.10)."""
    if vhost is None:
        for item in _list(document, "users"):
            put_user(ctx, _text(item, "name"), item, tags_required=True)
        for item in _list(document, "vhosts"):
            put_vhost(ctx, _text(item, "name"), item)
        for item in _list(document, "permissions"):
            if any(item.get(k) != FULL_ACCESS for k in ("configure", "write", "read")):
                raise unsupported('permissions other than ".*" are')
        if _list(document, "topic_permissions"):
            raise unsupported("topic permissions are")
        for item in _list(document, "global_parameters"):
            name = item.get("name")
            if isinstance(name, str) and not name.startswith("internal") and name != "cluster_name":
                raise unsupported("global parameters are")
    if _list(document, "policies"):
        raise unsupported("policies are")
    if _list(document, "parameters"):
        raise unsupported("runtime parameters (operator policies, limits, shovels) are")
    for kind in ("exchanges", "queues", "bindings"):
        for item in _list(document, kind):
            host = vhost if vhost is not None else _text(item, "vhost")
            if host not in ctx.broker.vhosts:
                raise ApiError(400, "bad_request", f"vhost_not_found: {host}")
            _import_entity(ctx, kind, item, host, caller)


def _import_entity(ctx: Context, kind: str, item: dict[str, Any], vhost: str, caller: str) -> None:
    host = ctx.broker.vhosts[vhost]
    if kind == "bindings":
        source, destination = _text(item, "source"), _text(item, "destination")
        arguments = item.get("arguments") or {}
        routing_key = item.get("routing_key", "")
        with ctx.channel(vhost, caller) as channel:
            if item.get("destination_type", "queue") == "queue":
                channel.queue_bind(destination, source, routing_key, arguments)
            else:
                channel.exchange_bind(destination, source, routing_key, arguments)
        return
    name = _text(item, "name")
    if name.startswith("amq.") or (kind == "exchanges" and name == ""):
        log.warning("definitions import: skipping %s '%s' in vhost '%s'", kind[:-1], name, vhost)
        return  # spec 16.9
    existing = host.exchanges if kind == "exchanges" else host.queues
    if name in existing:
        return  # spec 16.8: left as it is
    durable = parse_bool(item.get("durable", True), "durable")
    auto_delete = parse_bool(item.get("auto_delete", False), "auto_delete")
    arguments = item.get("arguments") or {}
    with ctx.channel(vhost, caller) as channel:
        if kind == "exchanges":
            channel.exchange_declare(
                name,
                item.get("type", "direct"),
                durable=durable,
                auto_delete=auto_delete,
                internal=parse_bool(item.get("internal", False), "internal"),
                arguments=arguments,
            )
        else:
            channel.queue_declare(
                name, durable=durable, auto_delete=auto_delete, arguments=arguments
            )


@level("administrator")
async def get_definitions(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost = path_vhost(request).name if "vhost" in request.match_info else None
    headers = {}
    download = request.query.get("download")
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{download}"'
    return json_response(export_definitions(ctx, vhost), headers=headers)


@level("administrator")
async def post_definitions(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost = path_vhost(request).name if "vhost" in request.match_info else None
    document = await read_json(request)
    import_definitions(ctx, document, user(request).name, vhost)
    log.info("definitions imported%s", f" into vhost '{vhost}'" if vhost else "")
    return no_content()


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/definitions", get_definitions),
    ("POST", "/api/definitions", post_definitions),
    ("GET", "/api/definitions/{vhost}", get_definitions),
    ("POST", "/api/definitions/{vhost}", post_definitions),
]
