"""What every handler module uses: the request's context and user, access levels,
the vhost in a path, and list answers (spec 18.3, 18.7)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from amqpmodel import VirtualHost

from ._auth import User, login_vhosts
from ._context import Context
from ._http import ApiError, json_response, not_found
from ._listing import list_response_body

__all__ = [
    "CONTEXT",
    "Handler",
    "context",
    "level",
    "list_response",
    "path_vhost",
    "user",
    "visible_vhosts",
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

CONTEXT: web.AppKey[Context] = web.AppKey("amqpmodel.management", Context)

_LEVEL = "_management_level"

# where the middleware keeps the authenticated caller on the request
USER_KEY: Any = (
    web.RequestKey("amqpmodel.user", User) if hasattr(web, "RequestKey") else "amqpmodel.user"
)


def level(name: str) -> Callable[[H], H]:
    """The access a handler needs (spec 18.3): management, monitoring, policymaker,
    administrator; or "none" for what answers without credentials."""

    def mark(handler: H) -> H:
        setattr(handler, _LEVEL, name)
        return handler

    return mark


def level_of(handler: Any) -> str:
    return str(getattr(handler, _LEVEL, "management"))


def context(request: web.Request) -> Context:
    return request.app[CONTEXT]


def user(request: web.Request) -> User:
    found = request.get(USER_KEY)
    assert isinstance(found, User)
    return found


def path_vhost(request: web.Request, key: str = "vhost") -> VirtualHost:
    """The vhost named in the path; 404 when there is none (spec 18.2, 18.5)."""
    name = request.match_info[key]
    vhost = context(request).broker.vhosts.get(name)
    if vhost is None:
        raise not_found()
    return vhost


def visible_vhosts(request: web.Request, *, monitors: bool = False) -> list[VirtualHost]:
    """The vhost of the path if it names one (the middleware has checked that the
    caller may use it), else those the caller may see in a list: every vhost for an
    administrator (and, with ``monitors``, for a monitoring user: vhosts and their
    limits), else those it has permissions on (RabbitMQ's filter_vhost, spec 18.3)."""
    if "vhost" in request.match_info:
        return [path_vhost(request)]
    broker = context(request).broker
    caller = user(request)
    if caller.has("administrator") or (monitors and caller.has("monitoring")):
        return list(broker.vhosts.values())
    allowed = login_vhosts(broker, caller.name)
    return [vhost for name, vhost in broker.vhosts.items() if name in allowed]


def list_response(
    request: web.Request,
    items: list[dict[str, Any]],
    default_sort: tuple[str, ...] = ("vhost", "name"),
) -> web.Response:
    return json_response(list_response_body(items, request.query, default_sort))


def one(request: web.Request, item: dict[str, Any] | None) -> web.Response:
    """A single object, with the asked ``columns``; 404 when it does not exist."""
    if item is None:
        raise not_found()
    from ._listing import pick_columns

    return json_response(pick_columns(item, request.query.get("columns")))


def no_content(status: int = 204) -> web.Response:
    return web.Response(status=status)


def created_or_updated(existed: bool) -> web.Response:
    """Spec 18.6: 201 when a PUT created the resource, 204 when it was there."""
    return web.Response(status=204 if existed else 201)


__all__ += ["ApiError", "created_or_updated", "level_of", "no_content", "one"]
