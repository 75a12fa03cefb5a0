"""The node as a whole: overview, nodes, whoami, health checks, cluster name,
extensions (spec 18.8, 18.9, 18.12)."""

from __future__ import annotations

import os
import platform
import shutil
import threading
import time
from typing import Any

from aiohttp import web

from amqpmodel.driver import exchange_type_names, set_global_parameter

from ._context import Context
from ._handlers import context, level, list_response, one, path_vhost, user
from ._http import bad_request, json_response, not_found, read_json, require_keys

__all__ = ["ROUTES"]


_EXCHANGE_DESCRIPTIONS = {
    "direct": "AMQP direct exchange, as per the AMQP specification",
    "fanout": "AMQP fanout exchange, as per the AMQP specification",
    "topic": "AMQP topic exchange, as per the AMQP specification",
    "headers": "AMQP headers exchange, as per the AMQP specification",
    "x-consistent-hash": "Consistent Hashing Exchange",
    "x-delayed-message": "Delayed Message Exchange",
    "x-random": "Picks one random destination for each message",
    "x-local-random": "Picks one random local queue for each message",
}


def _exchange_types() -> list[dict[str, Any]]:
    return [
        {"name": name, "description": _EXCHANGE_DESCRIPTIONS.get(name, ""), "enabled": True}
        for name in exchange_type_names()
    ]


def _object_totals(ctx: Context) -> dict[str, int]:
    broker = ctx.broker
    with ctx.lock():
        connections = ctx.connections()
        return {
            "connections": len(connections),
            "channels": sum(len(r.core.channels) for r in connections),
            "exchanges": sum(len(v.exchanges) for v in broker.vhosts.values()),
            "queues": sum(len(v.queues) for v in broker.vhosts.values()),
            "consumers": sum(
                q.consumer_count for v in broker.vhosts.values() for q in v.queues.values()
            ),
        }


def _queue_totals(ctx: Context) -> dict[str, int]:
    with ctx.lock():
        queues = [q for v in ctx.broker.vhosts.values() for q in v.queues.values()]
        ready = sum(q.messages_ready for q in queues)
        unacked = sum(q.messages_unacknowledged for q in queues)
    return {
        "messages": ready + unacked,
        "messages_ready": ready,
        "messages_unacknowledged": unacked,
    }


@level("management")
async def overview(request: web.Request) -> web.Response:
    ctx = context(request)
    return one(
        request,
        {
            "management_version": ctx.broker.rabbitmq_version.version,
            "rates_mode": "basic",
            "sample_retention_policies": {"global": [600, 3600], "basic": [600], "detailed": [600]},
            "exchange_types": _exchange_types(),
            "product_version": ctx.version,
            "product_name": "amqpmodel",
            "rabbitmq_version": ctx.broker.rabbitmq_version.version,
            "cluster_name": ctx.cluster_name,
            "erlang_version": f"none (Python {platform.python_version()})",
            "erlang_full_version": f"none (Python {platform.python_version()})",
            "release_series_support_status": "supported",
            "disable_stats": False,
            "enable_queue_totals": True,
            "is_op_policy_updating_enabled": True,
            "message_stats": ctx.rates.totals(),
            "queue_totals": _queue_totals(ctx),
            "object_totals": _object_totals(ctx),
            "statistics_db_event_queue": 0,
            "node": ctx.node,
            "listeners": [dict(listener, node=ctx.node) for listener in ctx.listeners],
            "contexts": [
                {"node": ctx.node, "description": "RabbitMQ Management", "path": "/", **listener}
                for listener in ctx.listeners
                if listener["protocol"] == "http"
            ],
        },
    )


def _memory_used() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def _fds() -> tuple[int, int]:
    try:
        used = len(os.listdir("/proc/self/fd"))
    except OSError:
        used = 0
    try:
        import resource

        total = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, ValueError, OSError):
        total = 0
    return used, total


def _node(ctx: Context) -> dict[str, Any]:
    where = ctx.broker.data_dir or os.getcwd()
    try:
        disk_free = shutil.disk_usage(where).free
    except OSError:
        disk_free = 0
    fd_used, fd_total = _fds()
    return {
        "name": ctx.node,
        "type": "disc",
        "running": True,
        "being_drained": False,
        # spec 21.1: the broker's own accounting of message bytes against its watermark
        "mem_used": ctx.broker.memory_use().total,
        "mem_limit": ctx.broker.memory_limit,
        "mem_alarm": "memory" in ctx.broker.resource_alarms,
        "mem_calculation_strategy": "message_bytes",
        "disk_free": disk_free,
        "disk_free_limit": ctx.broker.disk_free_limit,
        "disk_free_alarm": "disk" in ctx.broker.resource_alarms,
        "fd_used": fd_used,
        "fd_total": fd_total,
        "sockets_used": len(ctx.connections()),
        "proc_used": threading.active_count(),
        "proc_total": 1048576,
        "run_queue": 0,
        "processors": os.cpu_count() or 1,
        "os_pid": str(os.getpid()),
        "uptime": int((time.time() - ctx.started) * 1000),
        "partitions": [],
        "exchange_types": _exchange_types(),
        "rates_mode": "basic",
        "net_ticktime": 60,
        "enabled_plugins": ["rabbitmq_management", "rabbitmq_prometheus"],
    }


@level("monitoring")
async def nodes(request: web.Request) -> web.Response:
    return list_response(request, [_node(context(request))], ("name",))


@level("monitoring")
async def node(request: web.Request) -> web.Response:
    ctx = context(request)
    if request.match_info["node"] != ctx.node:
        raise not_found()
    return one(request, _node(ctx))


@level("management")
async def whoami(request: web.Request) -> web.Response:
    caller = user(request)
    return json_response({"name": caller.name, "tags": list(caller.tags), "is_internal_user": True})


@level("none")
async def auth(request: web.Request) -> web.Response:
    return json_response({"oauth_enabled": False})


@level("management")
async def extensions(request: web.Request) -> web.Response:
    return json_response([])


@level("management")
async def cluster_name(request: web.Request) -> web.Response:
    return json_response({"name": context(request).cluster_name})


@level("administrator")
async def set_cluster_name(request: web.Request) -> web.Response:
    """PUT {"name": ...}: the global parameter ``cluster_name``, as RabbitMQ keeps it."""
    body = await read_json(request)
    require_keys(body, "name")
    name = body["name"]
    if not isinstance(name, str) or not name:
        raise bad_request("the cluster name is a non-empty string")
    set_global_parameter(context(request).broker, "cluster_name", name)
    return web.Response(status=204)


# ----------------------------------------------------------------- health checks (spec 18.12)

_OK = {"status": "ok"}


@level("management")
async def health_ok(request: web.Request) -> web.Response:
    """No alarms exist in amqpmodel yet, a vhost is never down, there is no quorum to
    lose: these checks pass while the node runs (spec 18.12)."""
    return json_response(_OK)


@level("management")
async def health_port_listener(request: web.Request) -> web.Response:
    ctx = context(request)
    ports = [listener["port"] for listener in ctx.listeners]
    try:
        port = int(request.match_info["port"])
    except ValueError:
        return json_response({"status": "failed", "reason": "Invalid port"}, status=400)
    if port in ports:
        return json_response({"status": "ok", "port": port})
    return json_response(
        {"status": "failed", "reason": "No active listener", "missing": port, "ports": ports},
        status=503,
    )


_PROTOCOL_ALIASES = {"amqp091": "amqp", "amqp0-9-1": "amqp", "http/prometheus": "http/prometheus"}


@level("management")
async def health_protocol_listener(request: web.Request) -> web.Response:
    ctx = context(request)
    asked = request.match_info["protocol"].lower()
    protocol = _PROTOCOL_ALIASES.get(asked, asked)
    protocols = [listener["protocol"] for listener in ctx.listeners]
    if protocol in protocols:
        return json_response({"status": "ok", "protocol": protocol})
    return json_response(
        {
            "status": "failed",
            "reason": "No active listener",
            "missing": asked,
            "protocols": protocols,
        },
        status=503,
    )


@level("management")
async def health_connection_limit(request: web.Request) -> web.Response:
    ctx = context(request)
    limit = ctx.amqp.settings.max_connections if ctx.amqp is not None else None
    count = ctx.amqp.connection_count() if ctx.amqp is not None else 0
    if limit is None or count < limit:
        return json_response(_OK)
    return json_response(
        {
            "status": "failed",
            "reason": f"node connection limit ({limit}) is reached",
            "limit": limit,
            "connections": count,
        },
        status=503,
    )


@level("management")
async def aliveness(request: web.Request) -> web.Response:
    """A no-op from RabbitMQ 4.0.6; before, a real round trip through a queue named
    "aliveness-test", which stays behind (spec 18.12, 0.x.24)."""
    vhost = path_vhost(request)
    ctx = context(request)
    if ctx.broker.rabbitmq_version.aliveness_test_declares_queue:
        with ctx.channel(vhost.name, user(request).name) as channel:
            channel.queue_declare(_ALIVENESS_QUEUE)
            channel.basic_publish("", _ALIVENESS_QUEUE, b"test_message")
            method, _, _ = channel.basic_get(_ALIVENESS_QUEUE, auto_ack=True)
        if method is None:
            return json_response(
                {"status": "failed", "reason": "aliveness-test queue is empty"}, status=503
            )
    return json_response(_OK)


_ALIVENESS_QUEUE = "aliveness-test"


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/overview", overview),
    ("GET", "/api/nodes", nodes),
    ("GET", "/api/nodes/{node}", node),
    ("GET", "/api/whoami", whoami),
    ("GET", "/api/auth", auth),
    ("GET", "/api/extensions", extensions),
    ("GET", "/api/cluster-name", cluster_name),
    ("PUT", "/api/cluster-name", set_cluster_name),
    ("GET", "/api/health/checks/alarms", health_ok),
    ("GET", "/api/health/checks/local-alarms", health_ok),
    ("GET", "/api/health/checks/virtual-hosts", health_ok),
    ("GET", "/api/health/checks/node-is-quorum-critical", health_ok),
    ("GET", "/api/health/checks/node-is-mirror-sync-critical", health_ok),
    ("GET", "/api/health/checks/is-in-service", health_ok),
    ("GET", "/api/health/checks/ready-to-serve-clients", health_ok),
    ("GET", "/api/health/checks/certificate-expiration/{within}/{unit}", health_ok),
    ("GET", "/api/health/checks/port-listener/{port}", health_port_listener),
    ("GET", "/api/health/checks/protocol-listener/{protocol}", health_protocol_listener),
    ("GET", "/api/health/checks/below-node-connection-limit", health_connection_limit),
    ("GET", "/api/aliveness-test/{vhost}", aliveness),
    # RabbitMQ 3.x's node health check, which older clients (amqpstorm) still call
    ("GET", "/api/healthchecks/node", health_ok),
    ("GET", "/api/healthchecks/node/", health_ok),
    ("GET", "/api/healthchecks/node/{node}", health_ok),
]
