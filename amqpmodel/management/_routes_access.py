"""Virtual hosts, users, permissions, policies, parameters and limits (spec 18.8, 15, 14).

What the broker has is served as RabbitMQ shapes it: vhosts and users; every user
may use every vhost (the broker checks no permissions yet), so each (user, vhost)
has ".*" for configure, write and read; there are no topic permissions (so every
topic is allowed), policies, parameters or limits. Setting what the broker cannot
hold yet answers 501 and changes nothing."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from amqpmodel import VirtualHost
from amqpmodel.driver import restore_user

from ._handlers import (
    context,
    created_or_updated,
    level,
    list_response,
    no_content,
    one,
    path_vhost,
)
from ._http import (
    bad_request,
    json_response,
    not_found,
    parse_bool,
    read_json,
    require_keys,
    unsupported,
)
from ._shapes import user_object, vhost_object

__all__ = ["ROUTES", "FULL_ACCESS", "parse_tags", "permission_objects", "put_user"]

FULL_ACCESS = ".*"
_HASHING = "rabbit_password_hashing_sha256"


# ----------------------------------------------------------------- vhosts


@level("management")
async def vhosts(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        items = [vhost_object(ctx, v) for v in ctx.broker.vhosts.values()]
    return list_response(request, items, ("name",))


@level("management")
async def vhost(request: web.Request) -> web.Response:
    ctx = context(request)
    with ctx.lock():
        return one(request, vhost_object(ctx, path_vhost(request, "name")))


def parse_tags(value: Any) -> list[str]:
    """Tags as an array or a comma-separated string (spec 18.8, 16.3)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [tag.strip() for tag in value.split(",") if tag.strip()]
    if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        return [tag for tag in value if tag]
    raise bad_request("tags must be an array or a comma-separated string")


def put_vhost(ctx: Any, name: str, body: dict[str, Any]) -> bool:
    """Create a vhost (idempotent); keep its description, tags and default queue
    type for the API. Returns whether it existed."""
    if parse_bool(body.get("tracing", False), "tracing"):
        raise unsupported("tracing (the firehose, spec 17) is")
    given = body.get("metadata")
    metadata: dict[str, Any] = given if isinstance(given, dict) else {}
    merged: dict[str, Any] = {
        **metadata,
        **{k: body[k] for k in ("description", "tags", "default_queue_type") if k in body},
    }
    existed = name in ctx.broker.vhosts
    ctx.broker.add_vhost(name)
    kept: dict[str, Any] = {}
    if "description" in merged:
        kept["description"] = str(merged["description"])
    if "tags" in merged:
        kept["tags"] = parse_tags(merged["tags"])
    if merged.get("default_queue_type"):
        kept["default_queue_type"] = str(merged["default_queue_type"])
    if kept or not existed:
        ctx.vhost_metadata[name] = {**ctx.vhost_metadata.get(name, {}), **kept}
    return existed


@level("administrator")
async def declare_vhost(request: web.Request) -> web.Response:
    ctx = context(request)
    body = await read_json(request)
    return created_or_updated(put_vhost(ctx, request.match_info["name"], body))


@level("administrator")
async def delete_vhost(request: web.Request) -> web.Response:
    ctx = context(request)
    name = request.match_info["name"]
    if name not in ctx.broker.vhosts:
        raise not_found()
    ctx.broker.delete_vhost(name)
    ctx.vhost_metadata.pop(name, None)
    return no_content()


# ----------------------------------------------------------------- users


@level("administrator")
async def users(request: web.Request) -> web.Response:
    ctx = context(request)
    items = [user_object(name, h, tags) for name, (h, tags) in ctx.broker.users.items()]
    if request.path.endswith("/without-permissions"):
        items = []  # every user may use every vhost
    return list_response(request, items, ("name",))


@level("administrator")
async def user_detail(request: web.Request) -> web.Response:
    ctx = context(request)
    found = ctx.broker.users.get(request.match_info["name"])
    return one(request, user_object(request.match_info["name"], *found) if found else None)


def put_user(ctx: Any, name: str, body: dict[str, Any], *, tags_required: bool = False) -> bool:
    """Create or change a user from a PUT body or a definitions entry (spec 16.3, 16.10)."""
    if tags_required and "tags" not in body:
        raise bad_request("tags_not_present")
    tags = tuple(parse_tags(body.get("tags")))
    if len(tags) > 32:  # spec 15.3
        raise bad_request("a user can have at most 32 tags")
    existed = name in ctx.broker.users
    if "password" in body and "password_hash" in body:
        raise bad_request("password and password_hash cannot both be given")
    if "password" in body:
        password = body["password"]
        if not isinstance(password, str):
            raise bad_request("password must be a string")
        ctx.broker.add_user(name, password, tags)
    elif "password_hash" in body:
        algorithm = body.get("hashing_algorithm") or _HASHING
        if algorithm != _HASHING:
            raise unsupported(f"password hashing algorithm {algorithm} is")
        password_hash = body["password_hash"]
        if not isinstance(password_hash, str):
            raise bad_request("password_hash must be a string")
        restore_user(ctx.broker, name, password_hash, tags)
    elif existed:
        restore_user(ctx.broker, name, ctx.broker.users[name][0], tags)  # only the tags change
    else:
        restore_user(ctx.broker, name, "", tags)  # a user without password cannot log in
    return existed


@level("administrator")
async def declare_user(request: web.Request) -> web.Response:
    ctx = context(request)
    body = await read_json(request)
    return created_or_updated(put_user(ctx, request.match_info["name"], body, tags_required=True))


@level("administrator")
async def delete_user(request: web.Request) -> web.Response:
    ctx = context(request)
    name = request.match_info["name"]
    if name not in ctx.broker.users:
        raise not_found()
    ctx.broker.delete_user(name)
    return no_content()


@level("administrator")
async def bulk_delete_users(request: web.Request) -> web.Response:
    ctx = context(request)
    body = await read_json(request)
    names = body.get("users")
    if not isinstance(names, list):
        raise bad_request("[{key_missing,users}]")
    for name in names:
        if isinstance(name, str):
            ctx.broker.delete_user(name)
    return no_content()


# ----------------------------------------------------------------- permissions


def permission_objects(
    ctx: Any, *, vhost: str | None = None, user: str | None = None
) -> list[dict[str, Any]]:
    return [
        {
            "user": name,
            "vhost": host,
            "configure": FULL_ACCESS,
            "write": FULL_ACCESS,
            "read": FULL_ACCESS,
        }
        for name in ctx.broker.users
        for host in ctx.broker.vhosts
        if (vhost is None or host == vhost) and (user is None or name == user)
    ]


@level("administrator")
async def permissions(request: web.Request) -> web.Response:
    ctx = context(request)
    vhost_name = None
    user_name = None
    if "vhost" in request.match_info:
        vhost_name = path_vhost(request).name
    if "user" in request.match_info:
        user_name = request.match_info["user"]
        if user_name not in ctx.broker.users:
            raise not_found()
    return list_response(
        request, permission_objects(ctx, vhost=vhost_name, user=user_name), ("vhost", "user")
    )


def _vhost_and_user(request: web.Request) -> tuple[VirtualHost, str]:
    vhost = path_vhost(request)
    name = request.match_info["user"]
    if name not in context(request).broker.users:
        raise not_found()
    return vhost, name


@level("administrator")
async def permission(request: web.Request) -> web.Response:
    vhost, name = _vhost_and_user(request)
    return one(request, permission_objects(context(request), vhost=vhost.name, user=name)[0])


@level("administrator")
async def set_permission(request: web.Request) -> web.Response:
    """Full access is what every user has: setting it changes nothing (204); anything
    narrower needs permission checks the broker does not have yet."""
    _vhost_and_user(request)
    body = await read_json(request)
    require_keys(body, "configure", "write", "read")
    if all(body[key] == FULL_ACCESS for key in ("configure", "write", "read")):
        return no_content()
    raise unsupported('permissions other than ".*" are')


@level("administrator")
async def clear_permission(request: web.Request) -> web.Response:
    _vhost_and_user(request)
    raise unsupported("clearing permissions (every user may use every vhost) is")


# ----------------------------------------------------------------- what does not exist yet


def _empty_list(default_sort: tuple[str, ...]) -> Any:
    @level("management")
    async def handler(request: web.Request) -> web.Response:
        if "vhost" in request.match_info:
            path_vhost(request)
        return list_response(request, [], default_sort)

    return handler


def _missing(what_level: str) -> Any:
    @level(what_level)
    async def handler(request: web.Request) -> web.Response:
        if "vhost" in request.match_info:
            path_vhost(request)
        raise not_found()

    return handler


def _not_yet(what: str, what_level: str) -> Any:
    @level(what_level)
    async def handler(request: web.Request) -> web.Response:
        if "vhost" in request.match_info:
            path_vhost(request)
        raise unsupported(what)

    return handler


@level("management")
async def vhost_limits(request: web.Request) -> web.Response:
    if "vhost" in request.match_info:
        path_vhost(request)
    return json_response([])


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/vhosts", vhosts),
    ("GET", "/api/vhosts/{name}", vhost),
    ("PUT", "/api/vhosts/{name}", declare_vhost),
    ("DELETE", "/api/vhosts/{name}", delete_vhost),
    ("GET", "/api/users", users),
    ("GET", "/api/users/without-permissions", users),
    ("POST", "/api/users/bulk-delete", bulk_delete_users),
    ("GET", "/api/users/{name}", user_detail),
    ("PUT", "/api/users/{name}", declare_user),
    ("DELETE", "/api/users/{name}", delete_user),
    ("GET", "/api/permissions", permissions),
    ("GET", "/api/vhosts/{vhost}/permissions", permissions),
    ("GET", "/api/users/{user}/permissions", permissions),
    ("GET", "/api/permissions/{vhost}/{user}", permission),
    ("PUT", "/api/permissions/{vhost}/{user}", set_permission),
    ("DELETE", "/api/permissions/{vhost}/{user}", clear_permission),
    ("GET", "/api/topic-permissions", _empty_list(("vhost", "user"))),
    ("GET", "/api/vhosts/{vhost}/topic-permissions", _empty_list(("vhost", "user"))),
    ("GET", "/api/users/{user}/topic-permissions", _empty_list(("vhost", "user"))),
    ("GET", "/api/topic-permissions/{vhost}/{user}", _missing("administrator")),
    (
        "PUT",
        "/api/topic-permissions/{vhost}/{user}",
        _not_yet("topic permissions are", "administrator"),
    ),
    ("DELETE", "/api/topic-permissions/{vhost}/{user}", _missing("administrator")),
    ("DELETE", "/api/topic-permissions/{vhost}/{user}/{exchange}", _missing("administrator")),
    ("GET", "/api/policies", _empty_list(("vhost", "name"))),
    ("GET", "/api/policies/{vhost}", _empty_list(("vhost", "name"))),
    ("GET", "/api/policies/{vhost}/{name}", _missing("management")),
    ("PUT", "/api/policies/{vhost}/{name}", _not_yet("policies are", "policymaker")),
    ("DELETE", "/api/policies/{vhost}/{name}", _missing("policymaker")),
    ("GET", "/api/operator-policies", _empty_list(("vhost", "name"))),
    ("GET", "/api/operator-policies/{vhost}", _empty_list(("vhost", "name"))),
    ("GET", "/api/operator-policies/{vhost}/{name}", _missing("administrator")),
    (
        "PUT",
        "/api/operator-policies/{vhost}/{name}",
        _not_yet("operator policies are", "administrator"),
    ),
    ("DELETE", "/api/operator-policies/{vhost}/{name}", _missing("administrator")),
    ("GET", "/api/parameters", _empty_list(("vhost", "component", "name"))),
    ("GET", "/api/parameters/{component}", _empty_list(("vhost", "component", "name"))),
    ("GET", "/api/parameters/{component}/{vhost}", _empty_list(("vhost", "component", "name"))),
    ("GET", "/api/parameters/{component}/{vhost}/{name}", _missing("management")),
    (
        "PUT",
        "/api/parameters/{component}/{vhost}/{name}",
        _not_yet("runtime parameters are", "policymaker"),
    ),
    ("DELETE", "/api/parameters/{component}/{vhost}/{name}", _missing("policymaker")),
    ("GET", "/api/global-parameters", _empty_list(("name",))),
    ("GET", "/api/global-parameters/{name}", _missing("management")),
    ("PUT", "/api/global-parameters/{name}", _not_yet("global parameters are", "administrator")),
    ("GET", "/api/vhost-limits", vhost_limits),
    ("GET", "/api/vhost-limits/{vhost}", vhost_limits),
    (
        "PUT",
        "/api/vhost-limits/{vhost}/{name}",
        _not_yet("virtual host limits are", "administrator"),
    ),
    ("DELETE", "/api/vhost-limits/{vhost}/{name}", _missing("administrator")),
    ("GET", "/api/user-limits", _empty_list(("user",))),
    ("GET", "/api/user-limits/{user}", _empty_list(("user",))),
    ("PUT", "/api/user-limits/{user}/{name}", _not_yet("user limits are", "administrator")),
]
