"""Virtual hosts, users, permissions, topic permissions and limits (spec 18.8, 15).

Each handler calls the broker's own verbs (``add_vhost``, ``set_permissions``,
``set_topic_permissions``, ``set_vhost_limits``...), so what the API sets is
what AMQP clients are checked against. A user is created or changed as a
definitions import changes it (16.3, 16.10): the same texts for the same
refusals ("tags_not_present", ...)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from amqpmodel import Broker, ParameterError
from amqpmodel.driver import set_vhost_metadata

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
    bad_request,
    json_response,
    not_found,
    parse_bool,
    read_json,
    require_keys,
)
from ._shapes import vhost_object

__all__ = ["ROUTES", "parse_tags", "put_user", "put_vhost"]

FULL_ACCESS = ".*"


def parameter_error(error: ParameterError) -> Exception:
    """A refusal of the broker's verbs: 400 with its text (spec 18.4)."""
    return bad_request(error.reason)


# ----------------------------------------------------------------- vhosts


@level("management")
async def vhosts(request: web.Request) -> web.Response:
    """Monitoring users and administrators see every vhost, others those they may use."""
    ctx = context(request)
    with ctx.lock():
        items = [vhost_object(ctx, v) for v in visible_vhosts(request, monitors=True)]
    return list_response(request, items, ("name",))


@level("administrator")
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


def put_vhost(broker: Broker, name: str, body: dict[str, Any], acting_user: str) -> bool:
    """Create a vhost (giving its creator full permissions on it, as RabbitMQ's API
    does) or change the metadata given; ``tracing`` turns the firehose on or off
    (spec 17.1). Returns whether it existed."""
    given = body.get("metadata")
    metadata: dict[str, Any] = given if isinstance(given, dict) else {}
    merged: dict[str, Any] = {
        **metadata,
        **{k: body[k] for k in ("description", "tags", "default_queue_type") if k in body},
    }
    queue_type = merged.get("default_queue_type") or None
    if queue_type is not None and queue_type not in ("classic", "quorum", "stream"):
        raise bad_request(f"default queue type '{queue_type}' is not one of classic, quorum, stream")
    tracing = body.get("tracing")
    existed = name in broker.vhosts
    broker.add_vhost(name, grant_default_user=False)
    if not existed and acting_user in broker.users:
        broker.set_permissions(acting_user, FULL_ACCESS, FULL_ACCESS, FULL_ACCESS, vhost=name)
    set_vhost_metadata(
        broker,
        name,
        description=str(merged["description"]) if "description" in merged else None,
        tags=parse_tags(merged["tags"]) if "tags" in merged else None,
        default_queue_type=str(queue_type) if queue_type is not None else None,
    )
    if tracing is not None:
        if parse_bool(tracing, "tracing"):
            broker.trace_on(name)
        else:
            broker.trace_off(name)
    return existed


@level("administrator")
async def declare_vhost(request: web.Request) -> web.Response:
    ctx = context(request)
    body = await read_json(request)
    existed = put_vhost(ctx.broker, request.match_info["name"], body, user(request).name)
    return created_or_updated(existed)


@level("administrator")
async def delete_vhost(request: web.Request) -> web.Response:
    ctx = context(request)
    name = request.match_info["name"]
    if name not in ctx.broker.vhosts:
        raise not_found()
    ctx.broker.delete_vhost(name)
    return no_content()


# ----------------------------------------------------------------- users


@level("administrator")
async def users(request: web.Request) -> web.Response:
    ctx = context(request)
    items = ctx.broker.list_users()
    if request.path.endswith("/without-permissions"):
        with_access = {p["user"] for p in ctx.broker.list_permissions()}
        items = [item for item in items if item["name"] not in with_access]
    return list_response(request, items, ("name",))


def _user_item(broker: Broker, name: str) -> dict[str, Any] | None:
    return next((item for item in broker.list_users() if item["name"] == name), None)


@level("administrator")
async def user_detail(request: web.Request) -> web.Response:
    return one(request, _user_item(context(request).broker, request.match_info["name"]))


def put_user(broker: Broker, name: str, body: dict[str, Any]) -> bool:
    """Create or change a user as RabbitMQ's put_user does for the API and definitions
    alike (spec 16.3, 16.10): ``password`` or ``password_hash`` (with its
    ``hashing_algorithm``), ``tags`` mandatory. Returns whether it existed."""
    existed = name in broker.users
    try:
        broker.import_definitions({"users": [{**body, "name": name}]})
    except ParameterError as error:
        raise parameter_error(error) from None
    return existed


@level("administrator")
async def declare_user(request: web.Request) -> web.Response:
    ctx = context(request)
    body = await read_json(request)
    return created_or_updated(put_user(ctx.broker, request.match_info["name"], body))


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


def _path_user(request: web.Request) -> str:
    name = request.match_info["user"]
    if name not in context(request).broker.users:
        raise not_found()
    return name


@level("administrator")
async def permissions(request: web.Request) -> web.Response:
    ctx = context(request)
    items = ctx.broker.list_permissions()
    if "vhost" in request.match_info:
        vhost_name = path_vhost(request).name
        items = [p for p in items if p["vhost"] == vhost_name]
    if "user" in request.match_info:
        user_name = _path_user(request)
        items = [p for p in items if p["user"] == user_name]
    return list_response(request, items, ("vhost", "user"))


def _permission(request: web.Request) -> dict[str, str] | None:
    vhost_name = path_vhost(request).name
    name = _path_user(request)
    found = context(request).broker.list_user_permissions(name)
    return next((p for p in found if p["vhost"] == vhost_name), None)


@level("administrator")
async def permission(request: web.Request) -> web.Response:
    return one(request, _permission(request))


@level("administrator")
async def set_permission(request: web.Request) -> web.Response:
    """``rabbitmqctl set_permissions``; the three regexes are mandatory (spec 18.8)."""
    existed = _permission(request) is not None
    body = await read_json(request)
    require_keys(body, "configure", "write", "read")
    configure, write, read = (body[key] for key in ("configure", "write", "read"))
    if not all(isinstance(pattern, str) for pattern in (configure, write, read)):
        raise bad_request("configure, write and read are regular expressions (strings)")
    context(request).broker.set_permissions(
        request.match_info["user"], configure, write, read, vhost=request.match_info["vhost"]
    )
    return created_or_updated(existed)


@level("administrator")
async def clear_permission(request: web.Request) -> web.Response:
    if _permission(request) is None:
        raise not_found()
    context(request).broker.clear_permissions(
        request.match_info["user"], vhost=request.match_info["vhost"]
    )
    return no_content()


# ----------------------------------------------------------------- topic permissions (15.11)


@level("administrator")
async def topic_permissions(request: web.Request) -> web.Response:
    ctx = context(request)
    items = ctx.broker.list_topic_permissions()
    if "vhost" in request.match_info:
        vhost_name = path_vhost(request).name
        items = [p for p in items if p["vhost"] == vhost_name]
    if "user" in request.match_info:
        user_name = _path_user(request)
        items = [p for p in items if p["user"] == user_name]
    return list_response(request, items, ("vhost", "user"))


def _topic_permissions_of(request: web.Request) -> list[dict[str, str]]:
    vhost_name = path_vhost(request).name
    name = _path_user(request)
    return [
        p
        for p in context(request).broker.list_topic_permissions(vhost_name)
        if p["user"] == name
        and ("exchange" not in request.match_info or p["exchange"] == request.match_info["exchange"])
    ]


@level("administrator")
async def topic_permission(request: web.Request) -> web.Response:
    found = _topic_permissions_of(request)
    if not found:
        raise not_found()
    return json_response(found)


@level("administrator")
async def set_topic_permission(request: web.Request) -> web.Response:
    """``rabbitmqctl set_topic_permissions``: exchange, write and read are mandatory."""
    vhost_name = path_vhost(request).name
    name = _path_user(request)
    body = await read_json(request)
    require_keys(body, "exchange", "write", "read")
    exchange, write, read = (body[key] for key in ("exchange", "write", "read"))
    if not all(isinstance(value, str) for value in (exchange, write, read)):
        raise bad_request("exchange, write and read are strings")
    broker = context(request).broker
    existed = any(
        p["user"] == name and p["exchange"] == exchange
        for p in broker.list_topic_permissions(vhost_name)
    )
    broker.set_topic_permissions(name, exchange, write, read, vhost=vhost_name)
    return created_or_updated(existed)


@level("administrator")
async def clear_topic_permission(request: web.Request) -> web.Response:
    if not _topic_permissions_of(request):
        raise not_found()
    context(request).broker.clear_topic_permissions(
        request.match_info["user"],
        request.match_info.get("exchange"),
        vhost=request.match_info["vhost"],
    )
    return no_content()


# ----------------------------------------------------------------- vhost limits (15.14)


@level("management")
async def vhost_limits(request: web.Request) -> web.Response:
    """[{vhost, value}] for the vhosts with limits (every vhost for monitoring users)."""
    ctx = context(request)
    items = []
    for host in visible_vhosts(request, monitors=True):
        limits = ctx.broker.vhost_limits(host.name)
        if limits:
            items.append({"vhost": host.name, "value": limits})
    return json_response(items)


@level("administrator")
async def set_vhost_limit(request: web.Request) -> web.Response:
    """PUT /api/vhost-limits/{vhost}/{name} {"value": N}: one limit of the vhost."""
    vhost_name = path_vhost(request).name
    body = await read_json(request)
    require_keys(body, "value")
    broker = context(request).broker
    limits = {**broker.vhost_limits(vhost_name), request.match_info["name"]: body["value"]}
    try:
        broker.set_vhost_limits(vhost_name, limits)
    except ParameterError as error:
        raise parameter_error(error) from None
    return no_content()


@level("administrator")
async def clear_vhost_limit(request: web.Request) -> web.Response:
    vhost_name = path_vhost(request).name
    broker = context(request).broker
    limits = broker.vhost_limits(vhost_name)
    if limits.pop(request.match_info["name"], None) is None:
        raise not_found()
    if limits:
        broker.set_vhost_limits(vhost_name, limits)
    else:
        broker.clear_vhost_limits(vhost_name)
    return no_content()


# ----------------------------------------------------------------- user limits (15.15)


@level("management")
async def user_limits(request: web.Request) -> web.Response:
    """[{user, value}] for the users with limits: every user's for an administrator;
    one user's for an administrator, a monitoring user or that user."""
    broker = context(request).broker
    name = request.match_info.get("user")
    caller = user(request)
    if name is None:
        if not caller.has("administrator"):
            raise ApiError(401, "not_authorised", "Not administrator user")
    else:
        if name not in broker.users:
            raise not_found()
        if name != caller.name and not caller.has("monitoring"):
            raise ApiError(401, "not_authorised", "User not authorised to access object")
    return json_response(
        [{"user": who, "value": value} for who, value in broker.user_limits(name).items()]
    )


@level("administrator")
async def set_user_limit(request: web.Request) -> web.Response:
    """PUT /api/user-limits/{user}/{name} {"value": N}: one limit of the user."""
    broker = context(request).broker
    name = request.match_info["user"]
    if name not in broker.users:
        raise not_found()
    body = await read_json(request)
    require_keys(body, "value")
    try:
        broker.set_user_limits(name, {request.match_info["name"]: body["value"]})
    except ParameterError as error:
        raise parameter_error(error) from None
    return no_content()


@level("administrator")
async def clear_user_limit(request: web.Request) -> web.Response:
    broker = context(request).broker
    name = request.match_info["user"]
    if name not in broker.users:
        raise not_found()
    broker.clear_user_limits(name, request.match_info["name"])
    return no_content()


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
    ("GET", "/api/topic-permissions", topic_permissions),
    ("GET", "/api/vhosts/{vhost}/topic-permissions", topic_permissions),
    ("GET", "/api/users/{user}/topic-permissions", topic_permissions),
    ("GET", "/api/topic-permissions/{vhost}/{user}", topic_permission),
    ("PUT", "/api/topic-permissions/{vhost}/{user}", set_topic_permission),
    ("DELETE", "/api/topic-permissions/{vhost}/{user}", clear_topic_permission),
    ("DELETE", "/api/topic-permissions/{vhost}/{user}/{exchange}", clear_topic_permission),
    ("GET", "/api/vhost-limits", vhost_limits),
    ("GET", "/api/vhost-limits/{vhost}", vhost_limits),
    ("PUT", "/api/vhost-limits/{vhost}/{name}", set_vhost_limit),
    ("DELETE", "/api/vhost-limits/{vhost}/{name}", clear_vhost_limit),
    ("GET", "/api/user-limits", user_limits),
    ("GET", "/api/user-limits/{user}", user_limits),
    ("PUT", "/api/user-limits/{user}/{name}", set_user_limit),
    ("DELETE", "/api/user-limits/{user}/{name}", clear_user_limit),
]
