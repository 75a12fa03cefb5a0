"""Definitions over HTTP (spec 16.1, 16.6, 16.12): ``GET``/``POST /api/definitions`` and
``/api/definitions/{vhost}``, administrators only.

The document is the broker's own (``broker.export_definitions()``, whose rules
are spec 16.1-16.10); the HTTP export adds what RabbitMQ's management plugin
adds: ``product_name``, ``product_version``, ``rabbitmq_definition_format``,
``original_cluster_name`` and ``explanation``. An import the broker refuses is
400 with its reason ("tags_not_present", a validation text...)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from amqpmodel import ParameterError

from ._context import Context
from ._handlers import context, level, no_content, path_vhost
from ._http import bad_request, json_response, read_json

__all__ = ["ROUTES", "export_definitions"]

log = logging.getLogger("amqpmodel.management")


def export_definitions(ctx: Context, vhost: str | None = None) -> dict[str, Any]:
    """The broker's document with the management plugin's fields (16.1, 16.6)."""
    with ctx.lock():
        document = ctx.broker.export_definitions(vhost=vhost)
    head: dict[str, Any] = {
        "rabbit_version": document.pop("rabbit_version"),
        "rabbitmq_version": document.pop("rabbitmq_version"),
        "product_name": "amqpmodel",
        "product_version": ctx.version,
    }
    if vhost is None:
        head.update(
            rabbitmq_definition_format="cluster",
            original_cluster_name=ctx.cluster_name,
            explanation=f"Definitions of cluster '{ctx.cluster_name}'",
        )
    else:
        head["explanation"] = f"Definitions of virtual host '{vhost}'"
    return {**head, **document}


@level("administrator")
async def get_definitions(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost = path_vhost(request).name if "vhost" in request.match_info else None
    headers = {}
    download = request.query.get("download")
    if download:  # spec 16.12
        headers["Content-Disposition"] = f'attachment; filename="{download}"'
    return json_response(export_definitions(ctx, vhost), headers=headers)


@level("administrator")
async def post_definitions(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost = path_vhost(request).name if "vhost" in request.match_info else None
    document = await read_json(request)
    try:
        ctx.broker.import_definitions(document, vhost=vhost)
    except ParameterError as error:
        log.warning("definitions import failed: %s", error.reason)
        raise bad_request(error.reason) from None
    log.info("definitions imported%s", f" into vhost '{vhost}'" if vhost else "")
    return no_content()


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/definitions", get_definitions),
    ("POST", "/api/definitions", post_definitions),
    ("GET", "/api/definitions/{vhost}", get_definitions),
    ("POST", "/api/definitions/{vhost}", post_definitions),
]
