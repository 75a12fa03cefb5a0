"""Policies, operator policies, runtime parameters, global parameters and shovels
(spec 18.8, 14, 16.4, 20.8), served from the broker's own verbs.

Listings show only the vhosts the caller may use (administrators: all); setting a
policy or a parameter needs the policymaker tag and access to the vhost, operator
policies the administrator tag (18.3, 14.9). A value the broker refuses is 400
with RabbitMQ's validation text (14.8, 18.4)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from amqpmodel import Broker, ParameterError
from amqpmodel.driver import (
    clear_global_parameter,
    global_parameter,
    list_global_parameters,
    set_global_parameter,
)

from ._handlers import (
    context,
    created_or_updated,
    level,
    list_response,
    no_content,
    one,
    path_vhost,
    visible_vhosts,
)
from ._http import bad_request, json_response, not_found, read_json, require_keys

__all__ = ["ROUTES", "parameter_items"]

_OPERATOR = "operator_policy"  # the components definitions use for them (16.4)
_LIMITS = "vhost-limits"


def _refused(error: ParameterError) -> Exception:
    if error.reason == "Parameter does not exist":
        return not_found()
    return bad_request(error.reason)


def _visible_names(request: web.Request) -> set[str]:
    return {vhost.name for vhost in visible_vhosts(request)}


# ----------------------------------------------------------------- policies (14)


def _policies(request: web.Request, operator: bool) -> list[dict[str, Any]]:
    broker = context(request).broker
    listed = broker.list_operator_policies() if operator else broker.list_policies()
    names = _visible_names(request)
    return [policy for policy in listed if policy["vhost"] in names]


def _policy_handlers(operator: bool) -> dict[str, Any]:
    """The four handlers of /api/policies or /api/operator-policies."""
    writer = "administrator" if operator else "policymaker"

    @level("management")
    async def listing(request: web.Request) -> web.Response:
        return list_response(request, _policies(request, operator), ("vhost", "name"))

    def found(request: web.Request) -> dict[str, Any] | None:
        vhost = path_vhost(request).name
        name = request.match_info["name"]
        return next(
            (p for p in _policies(request, operator) if p["vhost"] == vhost and p["name"] == name),
            None,
        )

    @level("management")
    async def detail(request: web.Request) -> web.Response:
        return one(request, found(request))

    @level(writer)
    async def put(request: web.Request) -> web.Response:
        """PUT {pattern, definition} (mandatory), priority, apply-to (spec 18.8)."""
        vhost = path_vhost(request).name
        body = await read_json(request)
        require_keys(body, "pattern", "definition")
        existed = found(request) is not None
        broker = context(request).broker
        setter = broker.set_operator_policy if operator else broker.set_policy
        try:
            setter(
                request.match_info["name"],
                body["pattern"],
                body["definition"],
                body.get("priority", 0) if body.get("priority") is not None else 0,
                body.get("apply-to", "all") or "all",
                vhost=vhost,
            )
        except ParameterError as error:
            raise _refused(error) from None
        return created_or_updated(existed)

    @level(writer)
    async def delete(request: web.Request) -> web.Response:
        vhost = path_vhost(request).name
        broker = context(request).broker
        clear = broker.clear_operator_policy if operator else broker.clear_policy
        try:
            clear(request.match_info["name"], vhost=vhost)
        except ParameterError as error:
            raise _refused(error) from None
        return no_content()

    return {"list": listing, "detail": detail, "put": put, "delete": delete}


_POLICY = _policy_handlers(operator=False)
_OPERATOR_POLICY = _policy_handlers(operator=True)


# ----------------------------------------------------------------- runtime parameters (16.4)


def parameter_items(broker: Broker, vhost: str | None = None) -> list[dict[str, Any]]:
    """Every runtime parameter as RabbitMQ lists them: the components' (shovels...),
    operator policies ("operator_policy") and vhost limits ("vhost-limits", "limits")."""
    items = broker.list_parameters(vhost=vhost)
    for name in [vhost] if vhost is not None else sorted(broker.vhosts):
        limits = broker.vhost_limits(name)
        if limits:
            items.append({"vhost": name, "component": _LIMITS, "name": "limits", "value": limits})
    for policy in broker.list_operator_policies(vhost):
        value = {key: policy[key] for key in ("pattern", "definition", "priority", "apply-to")}
        items.append(
            {"vhost": policy["vhost"], "component": _OPERATOR, "name": policy["name"], "value": value}
        )
    return items


@level("policymaker")
async def parameters(request: web.Request) -> web.Response:
    ctx = context(request)
    names = _visible_names(request)
    component = request.match_info.get("component")
    items = [
        item
        for item in parameter_items(ctx.broker)
        if item["vhost"] in names and component in (None, item["component"])
    ]
    return list_response(request, items, ("vhost", "component", "name"))


def _parameter(request: web.Request) -> dict[str, Any] | None:
    vhost = path_vhost(request).name
    component, name = request.match_info["component"], request.match_info["name"]
    return next(
        (
            item
            for item in parameter_items(context(request).broker, vhost)
            if item["component"] == component and item["name"] == name
        ),
        None,
    )


@level("policymaker")
async def parameter(request: web.Request) -> web.Response:
    return one(request, _parameter(request))


@level("policymaker")
async def set_parameter(request: web.Request) -> web.Response:
    """PUT {"value": ...}: ``rabbitmqctl set_parameter`` (a shovel starts, spec 20.1)."""
    vhost = path_vhost(request).name
    component, name = request.match_info["component"], request.match_info["name"]
    body = await read_json(request)
    require_keys(body, "value")
    value = body["value"]
    existed = _parameter(request) is not None
    broker = context(request).broker
    try:
        if component == _OPERATOR:
            policy = value if isinstance(value, dict) else {}
            broker.set_operator_policy(
                name,
                policy.get("pattern"),  # type: ignore[arg-type]  # validated there
                policy.get("definition"),  # type: ignore[arg-type]
                policy.get("priority", 0),
                policy.get("apply-to", "all"),
                vhost=vhost,
            )
        elif component == _LIMITS:
            if not isinstance(value, dict):
                raise bad_request("vhost limits are an object")
            broker.set_vhost_limits(vhost, value)
        else:
            broker.set_parameter(component, name, value, vhost=vhost)
    except ParameterError as error:
        raise _refused(error) from None
    return created_or_updated(existed)


@level("policymaker")
async def clear_parameter(request: web.Request) -> web.Response:
    vhost = path_vhost(request).name
    component, name = request.match_info["component"], request.match_info["name"]
    broker = context(request).broker
    if _parameter(request) is None:
        raise not_found()
    try:
        if component == _OPERATOR:
            broker.clear_operator_policy(name, vhost=vhost)
        elif component == _LIMITS:
            broker.clear_vhost_limits(vhost)
        else:
            broker.clear_parameter(component, name, vhost=vhost)
    except ParameterError as error:
        raise _refused(error) from None
    return no_content()


# ----------------------------------------------------------------- global parameters


@level("management")
async def global_parameters(request: web.Request) -> web.Response:
    items = list_global_parameters(context(request).broker)
    return list_response(request, items, ("name",))


@level("management")
async def global_parameter_detail(request: web.Request) -> web.Response:
    broker = context(request).broker
    name = request.match_info["name"]
    value = global_parameter(broker, name)
    return one(request, {"name": name, "value": value} if value is not None else None)


@level("policymaker")
async def set_global(request: web.Request) -> web.Response:
    body = await read_json(request)
    require_keys(body, "value")
    broker = context(request).broker
    name = request.match_info["name"]
    existed = global_parameter(broker, name) is not None
    try:
        set_global_parameter(broker, name, body["value"])
    except ParameterError as error:
        raise _refused(error) from None
    return created_or_updated(existed)


@level("policymaker")
async def clear_global(request: web.Request) -> web.Response:
    try:
        clear_global_parameter(context(request).broker, request.match_info["name"])
    except ParameterError as error:
        raise _refused(error) from None
    return no_content()


# ----------------------------------------------------------------- shovels (20.8)


def _shovels(request: web.Request) -> list[dict[str, Any]]:
    from amqpmodel.shovel import shovel_status  # the plugin, imported when asked about

    ctx = context(request)
    names = _visible_names(request)
    return [
        {**row, "node": ctx.node}
        for row in shovel_status(ctx.broker)
        if row["vhost"] in names
    ]


@level("management")
async def shovels(request: web.Request) -> web.Response:
    """``GET /api/shovels[/{vhost}]`` (rabbitmq_shovel_management): every shovel's status."""
    return json_response(_shovels(request))


@level("management")
async def shovel(request: web.Request) -> web.Response:
    vhost = path_vhost(request).name
    name = request.match_info["name"]
    found = [row for row in _shovels(request) if row["vhost"] == vhost and row["name"] == name]
    if not found:
        raise not_found()
    return json_response(found)


@level("policymaker")
async def restart_shovel(request: web.Request) -> web.Response:
    """``DELETE /api/shovels/vhost/{vhost}/{name}/restart``: stop and start it again."""
    from amqpmodel.shovel import restart_shovel as restart

    vhost = path_vhost(request).name
    if not restart(context(request).broker, request.match_info["name"], vhost):
        raise not_found()
    return no_content()


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/policies", _POLICY["list"]),
    ("GET", "/api/policies/{vhost}", _POLICY["list"]),
    ("GET", "/api/policies/{vhost}/{name}", _POLICY["detail"]),
    ("PUT", "/api/policies/{vhost}/{name}", _POLICY["put"]),
    ("DELETE", "/api/policies/{vhost}/{name}", _POLICY["delete"]),
    ("GET", "/api/operator-policies", _OPERATOR_POLICY["list"]),
    ("GET", "/api/operator-policies/{vhost}", _OPERATOR_POLICY["list"]),
    ("GET", "/api/operator-policies/{vhost}/{name}", _OPERATOR_POLICY["detail"]),
    ("PUT", "/api/operator-policies/{vhost}/{name}", _OPERATOR_POLICY["put"]),
    ("DELETE", "/api/operator-policies/{vhost}/{name}", _OPERATOR_POLICY["delete"]),
    ("GET", "/api/parameters", parameters),
    ("GET", "/api/parameters/{component}", parameters),
    ("GET", "/api/parameters/{component}/{vhost}", parameters),
    ("GET", "/api/parameters/{component}/{vhost}/{name}", parameter),
    ("PUT", "/api/parameters/{component}/{vhost}/{name}", set_parameter),
    ("DELETE", "/api/parameters/{component}/{vhost}/{name}", clear_parameter),
    ("GET", "/api/global-parameters", global_parameters),
    ("GET", "/api/global-parameters/{name}", global_parameter_detail),
    ("PUT", "/api/global-parameters/{name}", set_global),
    ("DELETE", "/api/global-parameters/{name}", clear_global),
    ("GET", "/api/shovels", shovels),
    ("GET", "/api/shovels/{vhost}", shovels),
    ("GET", "/api/shovels/vhost/{vhost}/{name}", shovel),
    ("DELETE", "/api/shovels/vhost/{vhost}/{name}/restart", restart_shovel),
]
