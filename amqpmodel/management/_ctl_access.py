"""``amqpmodel ctl``'s commands for permissions, topic permissions, policies, operator
policies, runtime and global parameters, vhost limits, tracing and shovels, with
rabbitmqctl's arguments, informational lines and columns (values such as policy
definitions printed as compact JSON, as rabbitmqctl prints them)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any, TextIO

from ._ctl_client import EX_DATAERR, Client, CtlError, print_table, quote

__all__ = ["COMMANDS", "add_parsers"]

Command = Callable[[Client, argparse.Namespace, TextIO], None]


def _say(args: argparse.Namespace, out: TextIO, text: str) -> None:
    if not args.quiet and not args.silent:
        out.write(text + "\n")


def _json_argument(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise CtlError(f"Could not parse JSON document: {error}", EX_DATAERR) from None


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _table(
    args: argparse.Namespace, out: TextIO, line: str, rows: list[dict[str, Any]], columns: tuple[str, ...]
) -> None:
    if not args.quiet and not args.silent and args.formatter != "json":
        out.write(line + "\n")
    print_table(
        rows,
        columns,
        formatter=args.formatter,
        headers=not args.silent and not args.no_table_headers,
        out=out,
    )


def _ignore_missing(action: Callable[[], Any]) -> None:
    """rabbitmqctl's clear_permissions and clear_topic_permissions of nothing succeed."""
    try:
        action()
    except CtlError as error:
        if error.status != 404:
            raise


def _user_exists(client: Client, name: str) -> None:
    if name not in {u["name"] for u in client.get("/api/users")}:
        raise CtlError(f"User {name} does not exist")


# ----------------------------------------------------------------- permissions (15.4, 15.11)


def _set_permissions(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Setting permissions for user "{args.username}" in vhost "{args.vhost}" ...')
    _user_exists(client, args.username)
    client.request(
        "PUT",
        f"/api/permissions/{quote(args.vhost)}/{quote(args.username)}",
        {"configure": args.conf, "write": args.write, "read": args.read},
    )


def _clear_permissions(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Clearing permissions for user "{args.username}" in vhost "{args.vhost}" ...')
    _user_exists(client, args.username)
    path = f"/api/permissions/{quote(args.vhost)}/{quote(args.username)}"
    _ignore_missing(lambda: client.request("DELETE", path))


def _list_user_permissions(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _user_exists(client, args.username)
    rows = client.get(f"/api/users/{quote(args.username)}/permissions")
    line = f'Listing permissions for user "{args.username}" ...'
    _table(args, out, line, rows, ("vhost", "configure", "write", "read"))


def _set_topic_permissions(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(
        args,
        out,
        f'Setting topic permissions on "{args.exchange}" for user "{args.username}" in vhost '
        f'"{args.vhost}" ...',
    )
    _user_exists(client, args.username)
    client.request(
        "PUT",
        f"/api/topic-permissions/{quote(args.vhost)}/{quote(args.username)}",
        {"exchange": args.exchange, "write": args.write, "read": args.read},
    )


def _clear_topic_permissions(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    on = f'on "{args.exchange}" ' if args.exchange else ""
    _say(
        args,
        out,
        f'Clearing topic permissions {on}for user "{args.username}" in vhost "{args.vhost}" ...',
    )
    _user_exists(client, args.username)
    path = f"/api/topic-permissions/{quote(args.vhost)}/{quote(args.username)}"
    if args.exchange:
        path += f"/{quote(args.exchange)}"
    _ignore_missing(lambda: client.request("DELETE", path))


def _list_topic_permissions(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    rows = client.get(f"/api/vhosts/{quote(args.vhost)}/topic-permissions")
    line = f'Listing topic permissions for vhost "{args.vhost}" ...'
    _table(args, out, line, rows, ("user", "exchange", "write", "read"))


def _list_user_topic_permissions(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _user_exists(client, args.username)
    rows = client.get(f"/api/users/{quote(args.username)}/topic-permissions")
    line = f'Listing topic permissions for user "{args.username}" ...'
    _table(args, out, line, rows, ("vhost", "exchange", "write", "read"))


# ----------------------------------------------------------------- policies (14)


def _policy_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**item, "definition": _compact(item["definition"])} for item in items]


_POLICY_COLUMNS = ("vhost", "name", "pattern", "apply-to", "definition", "priority")


def _set_policy(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    operator = args.ctl_command == "set_operator_policy"
    what = "operator policy override" if operator else "policy"
    _say(
        args,
        out,
        f'Setting {what} "{args.name}" for pattern "{args.pattern}" to "{args.definition}" '
        f'with priority "{args.priority}" for vhost "{args.vhost}" ...',
    )
    definition = _json_argument(args.definition)
    kind = "operator-policies" if operator else "policies"
    client.request(
        "PUT",
        f"/api/{kind}/{quote(args.vhost)}/{quote(args.name)}",
        {
            "pattern": args.pattern,
            "definition": definition,
            "priority": args.priority,
            "apply-to": args.apply_to,
        },
    )


def _clear_policy(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    operator = args.ctl_command == "clear_operator_policy"
    what = "operator policy" if operator else "policy"
    _say(args, out, f'Clearing {what} "{args.name}" on vhost "{args.vhost}" ...')
    kind = "operator-policies" if operator else "policies"
    try:
        client.request("DELETE", f"/api/{kind}/{quote(args.vhost)}/{quote(args.name)}")
    except CtlError as error:
        if error.status == 404:
            raise CtlError("Parameter does not exist") from None
        raise


def _list_policies(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    operator = args.ctl_command == "list_operator_policies"
    kind = "operator-policies" if operator else "policies"
    rows = _policy_rows(client.get(f"/api/{kind}/{quote(args.vhost)}"))
    what = "operator policy overrides" if operator else "policies"
    _table(args, out, f'Listing {what} for vhost "{args.vhost}" ...', rows, _POLICY_COLUMNS)


# ----------------------------------------------------------------- parameters (16.4, 20.1)


def _set_parameter(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(
        args,
        out,
        f'Setting runtime parameter "{args.name}" for component "{args.component}" to '
        f'"{args.value}" in vhost "{args.vhost}" ...',
    )
    value = _json_argument(args.value)
    client.request(
        "PUT",
        f"/api/parameters/{quote(args.component)}/{quote(args.vhost)}/{quote(args.name)}",
        {"value": value},
    )


def _clear_parameter(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(
        args,
        out,
        f'Clearing runtime parameter "{args.name}" for component "{args.component}" on vhost '
        f'"{args.vhost}" ...',
    )
    path = f"/api/parameters/{quote(args.component)}/{quote(args.vhost)}/{quote(args.name)}"
    try:
        client.request("DELETE", path)
    except CtlError as error:
        if error.status == 404:
            raise CtlError("Parameter does not exist") from None
        raise


def _list_parameters(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    rows = [
        {**item, "value": _compact(item["value"])}
        for item in client.get("/api/parameters")
        if item["vhost"] == args.vhost
    ]
    line = f'Listing runtime parameters for vhost "{args.vhost}" ...'
    _table(args, out, line, rows, ("component", "name", "value"))


def _set_global_parameter(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Setting global runtime parameter "{args.name}" to "{args.value}" ...')
    value = _json_argument(args.value)
    client.request("PUT", f"/api/global-parameters/{quote(args.name)}", {"value": value})


def _clear_global_parameter(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Clearing global runtime parameter "{args.name}" ...')
    try:
        client.request("DELETE", f"/api/global-parameters/{quote(args.name)}")
    except CtlError as error:
        if error.status == 404:
            raise CtlError("Parameter does not exist") from None
        raise


def _list_global_parameters(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    rows = [
        {**item, "value": _compact(item["value"])} for item in client.get("/api/global-parameters")
    ]
    _table(args, out, "Listing global runtime parameters ...", rows, ("name", "value"))


# ----------------------------------------------------------------- user limits (15.15)


def _set_user_limits(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Setting user limits to "{args.definition}" for user "{args.username}" ...')
    limits = _json_argument(args.definition)
    if not isinstance(limits, dict):
        raise CtlError(
            "user limits are a JSON object, such as '{\"max-connections\": 10}'", EX_DATAERR
        )
    for name, value in limits.items():
        client.request(
            "PUT", f"/api/user-limits/{quote(args.username)}/{quote(name)}", {"value": value}
        )


def _clear_user_limits(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    user = quote(args.username)
    if args.limit == "all":
        _say(args, out, f'Clearing all limits for user "{args.username}" ...')
        items = client.get(f"/api/user-limits/{user}")
        names = list(items[0]["value"]) if items else []
    else:
        _say(args, out, f'Clearing "{args.limit}" limit for user "{args.username}" ...')
        names = [args.limit]
    for name in names:
        client.request("DELETE", f"/api/user-limits/{user}/{quote(name)}")


def _list_user_limits(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    if args.all_users:
        rows = [
            {"user": item["user"], "limits": _compact(item["value"])}
            for item in client.get("/api/user-limits")
        ]
        _table(args, out, "Listing limits for all users ...", rows, ("user", "limits"))
        return
    items = client.get(f"/api/user-limits/{quote(args.user)}")
    _say(args, out, f'Listing limits for user "{args.user}" ...')
    out.write(_compact(items[0]["value"] if items else {}) + "\n")


# ----------------------------------------------------------------- vhost limits (15.14)


def _set_vhost_limits(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Setting vhost limits to "{args.limits}" for vhost "{args.vhost}" ...')
    limits = _json_argument(args.limits)
    if not isinstance(limits, dict):
        raise CtlError("vhost limits are a JSON object, such as '{\"max-queues\": 10}'", EX_DATAERR)
    client.request(
        "PUT",
        f"/api/parameters/vhost-limits/{quote(args.vhost)}/limits",
        {"value": limits},
    )


def _clear_vhost_limits(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Clearing vhost "{args.vhost}" limits ...')
    _ignore_missing(
        lambda: client.request("DELETE", f"/api/parameters/vhost-limits/{quote(args.vhost)}/limits")
    )


def _list_vhost_limits(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    if args.all_vhosts:
        rows = [
            {"vhost": item["vhost"], "limits": _compact(item["value"])}
            for item in client.get("/api/vhost-limits")
        ]
        _table(args, out, "Listing limits for all vhosts ...", rows, ("vhost", "limits"))
        return
    items = client.get(f"/api/vhost-limits/{quote(args.vhost)}")
    _say(args, out, f'Listing limits for vhost "{args.vhost}" ...')
    if args.formatter == "json":
        out.write(json.dumps(items[0]["value"] if items else {}) + "\n")
    else:
        out.write((_compact(items[0]["value"]) if items else "") + "\n")


# ----------------------------------------------------------------- tracing (17), shovels (20)


def _trace(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    on = args.ctl_command == "trace_on"
    _say(args, out, f'{"Starting" if on else "Stopping"} tracing for vhost "{args.vhost}" ...')
    if args.vhost not in {v["name"] for v in client.get("/api/vhosts")}:
        raise CtlError(f'Virtual host "{args.vhost}" does not exist')
    client.request("PUT", f"/api/vhosts/{quote(args.vhost)}", {"tracing": on})
    _say(args, out, f"Trace {'enabled' if on else 'disabled'} for vhost {args.vhost}")


_SHOVEL_COLUMNS = ("name", "vhost", "type", "state", "src_uri", "dest_uri", "timestamp")


def _shovel_status(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    rows = client.get("/api/shovels")
    node = rows[0]["node"] if rows else client.get("/api/overview")["node"]
    _table(args, out, f"Shovel status on node {node}", rows, _SHOVEL_COLUMNS)


def _restart_shovel(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    node = client.get("/api/overview")["node"]
    _say(args, out, f"Restarting dynamic Shovel {args.name} in virtual host {args.vhost} on node {node}")
    try:
        client.request(
            "DELETE", f"/api/shovels/vhost/{quote(args.vhost)}/{quote(args.name)}/restart"
        )
    except CtlError as error:
        if error.status != 404:
            raise
        raise CtlError(
            "Shovel with the given name was not found on the target node "
            f"'{node}' and / or virtual host '{args.vhost}'"
        ) from None


COMMANDS: dict[str, Command] = {
    "set_permissions": _set_permissions,
    "clear_permissions": _clear_permissions,
    "list_user_permissions": _list_user_permissions,
    "set_topic_permissions": _set_topic_permissions,
    "clear_topic_permissions": _clear_topic_permissions,
    "list_topic_permissions": _list_topic_permissions,
    "list_user_topic_permissions": _list_user_topic_permissions,
    "set_policy": _set_policy,
    "clear_policy": _clear_policy,
    "list_policies": _list_policies,
    "set_operator_policy": _set_policy,
    "clear_operator_policy": _clear_policy,
    "list_operator_policies": _list_policies,
    "set_parameter": _set_parameter,
    "clear_parameter": _clear_parameter,
    "list_parameters": _list_parameters,
    "set_global_parameter": _set_global_parameter,
    "clear_global_parameter": _clear_global_parameter,
    "list_global_parameters": _list_global_parameters,
    "set_vhost_limits": _set_vhost_limits,
    "clear_vhost_limits": _clear_vhost_limits,
    "list_vhost_limits": _list_vhost_limits,
    "set_user_limits": _set_user_limits,
    "clear_user_limits": _clear_user_limits,
    "list_user_limits": _list_user_limits,
    "trace_on": _trace,
    "trace_off": _trace,
    "shovel_status": _shovel_status,
    "restart_shovel": _restart_shovel,
}


def add_parsers(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The arguments of the commands above, as rabbitmqctl takes them."""
    sub = command("set_permissions", "set a user's permissions in a vhost")
    for name in ("username", "conf", "write", "read"):
        sub.add_argument(name)
    sub = command("clear_permissions", "remove a user's permissions in a vhost")
    sub.add_argument("username")
    sub = command("list_user_permissions", "list a user's permissions in every vhost")
    sub.add_argument("username")
    sub = command("set_topic_permissions", "limit a user's routing keys on a topic exchange")
    for name in ("username", "exchange", "write", "read"):
        sub.add_argument(name)
    sub = command("clear_topic_permissions", "remove a user's topic permissions")
    sub.add_argument("username")
    sub.add_argument("exchange", nargs="?")
    command("list_topic_permissions", "list the topic permissions of a vhost")
    sub = command("list_user_topic_permissions", "list a user's topic permissions")
    sub.add_argument("username")
    for name, what in (("set_policy", "a policy"), ("set_operator_policy", "an operator policy")):
        sub = command(name, f"set {what}")
        sub.add_argument("name")
        sub.add_argument("pattern")
        sub.add_argument("definition")
        sub.add_argument("--priority", type=int, default=0)
        sub.add_argument("--apply-to", default="all")
    for name, what in (("clear_policy", "a policy"), ("clear_operator_policy", "an operator policy")):
        sub = command(name, f"clear {what}")
        sub.add_argument("name")
    command("list_policies", "list the policies of a vhost")
    command("list_operator_policies", "list the operator policies of a vhost")
    sub = command("set_parameter", "set a runtime parameter (a shovel: component shovel)")
    for name in ("component", "name", "value"):
        sub.add_argument(name)
    sub = command("clear_parameter", "clear a runtime parameter")
    sub.add_argument("component")
    sub.add_argument("name")
    command("list_parameters", "list the runtime parameters of a vhost")
    sub = command("set_global_parameter", "set a global runtime parameter")
    sub.add_argument("name")
    sub.add_argument("value")
    sub = command("clear_global_parameter", "clear a global runtime parameter")
    sub.add_argument("name")
    command("list_global_parameters", "list the global runtime parameters")
    sub = command("set_vhost_limits", "set a vhost's limits, '{\"max-queues\": N, ...}'")
    sub.add_argument("limits")
    command("clear_vhost_limits", "clear a vhost's limits")
    sub = command("list_vhost_limits", "a vhost's limits (--global: every vhost's)")
    sub.add_argument("--global", dest="all_vhosts", action="store_true")
    sub = command("set_user_limits", "set a user's limits, '{\"max-connections\": N, ...}'")
    sub.add_argument("username")
    sub.add_argument("definition")
    sub = command("clear_user_limits", "clear a user's limit (max-connections, max-channels, all)")
    sub.add_argument("username")
    sub.add_argument("limit")
    sub = command("list_user_limits", "a user's limits (--global: every user's)")
    sub.add_argument("--user", default="guest")
    sub.add_argument("--global", dest="all_users", action="store_true")
    command("trace_on", "turn the firehose tracer on in a vhost")
    command("trace_off", "turn the firehose tracer off in a vhost")
    command("shovel_status", "the status of every shovel")
    sub = command("restart_shovel", "stop a dynamic shovel and start it again")
    sub.add_argument("name")

