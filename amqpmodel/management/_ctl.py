"""``amqpmodel ctl``: rabbitmqctl's commands, arguments and output for a running
``amqpmodel serve``, spoken over its management API (spec 18).

Lists print tab-separated columns under a header, preceded by rabbitmqctl's
"Listing … ..." line (``-q`` drops that line, ``-s`` the header too);
``--formatter json`` prints a JSON array. Errors print "Error:" and a reason
to stderr and exit non-zero with rabbitmqctl's codes (64 usage, 65 bad input,
69 unreachable, 70 refused)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ._ctl_access import COMMANDS as ACCESS_COMMANDS
from ._ctl_access import add_parsers as add_access_parsers
from ._ctl_client import (
    DEFAULT_URL,
    EX_DATAERR,
    EX_USAGE,
    Client,
    CtlError,
    print_table,
    quote,
)
from ._ctl_listings import LISTING_LINES, LISTINGS, Row

__all__ = ["main"]


def _list(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    listing = LISTINGS[args.ctl_command]
    columns = tuple(args.columns) or listing.default
    unknown = [c for c in columns if c not in listing.known]
    if unknown:
        raise CtlError(f"Info key(s) {','.join(unknown)} are not supported", EX_USAGE)
    vhost = args.vhost
    rows = [listing.row(item) for item in client.get(listing.path.format(vhost=quote(vhost)))]
    if not args.quiet and not args.silent and args.formatter != "json":
        out.write(LISTING_LINES[listing.what].format(vhost=vhost) + "\n")
    print_table(
        rows,
        columns,
        formatter=args.formatter,
        headers=not args.silent and not args.no_table_headers,
        out=out,
    )


# ----------------------------------------------------------------- actions


def _say(args: argparse.Namespace, out: TextIO, text: str) -> None:
    if not args.quiet and not args.silent:
        out.write(text + "\n")


def _add_user(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Adding user "{args.username}" ...')
    if args.username in {u["name"] for u in client.get("/api/users")}:
        raise CtlError(f'User "{args.username}" already exists')
    client.request(
        "PUT", f"/api/users/{quote(args.username)}", {"password": args.password, "tags": ""}
    )


def _user_exists(client: Client, name: str) -> None:
    if name not in {u["name"] for u in client.get("/api/users")}:
        raise CtlError(f'User "{name}" does not exist')


def _delete_user(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Deleting user "{args.username}" ...')
    _user_exists(client, args.username)
    client.request("DELETE", f"/api/users/{quote(args.username)}")


def _change_password(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Changing password for user "{args.username}" ...')
    _user_exists(client, args.username)
    user = client.get(f"/api/users/{quote(args.username)}")
    client.request(
        "PUT",
        f"/api/users/{quote(args.username)}",
        {"password": args.password, "tags": user["tags"]},
    )


def _set_user_tags(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Setting tags for user "{args.username}" to [{", ".join(args.tags)}] ...')
    _user_exists(client, args.username)
    user = client.get(f"/api/users/{quote(args.username)}")
    client.request(
        "PUT",
        f"/api/users/{quote(args.username)}",
        {
            "password_hash": user["password_hash"],
            "hashing_algorithm": user["hashing_algorithm"],
            "tags": args.tags,
        },
    )


def _add_vhost(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Adding vhost "{args.name}" ...')
    body: dict[str, Any] = {}
    if args.description is not None:
        body["description"] = args.description
    if args.tags is not None:
        body["tags"] = args.tags
    if args.default_queue_type is not None:
        body["default_queue_type"] = args.default_queue_type
    client.request("PUT", f"/api/vhosts/{quote(args.name)}", body)


def _delete_vhost(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Deleting vhost "{args.name}" ...')
    if args.name not in {v["name"] for v in client.get("/api/vhosts")}:
        raise CtlError(f'Virtual host "{args.name}" does not exist')
    client.request("DELETE", f"/api/vhosts/{quote(args.name)}")


def _queue_exists(client: Client, vhost: str, name: str) -> Row:
    try:
        found: Row = client.get(f"/api/queues/{quote(vhost)}/{quote(name)}")
    except CtlError as error:
        if error.status == 404:
            raise CtlError(f"Queue '{name}' in vhost '{vhost}' does not exist") from None
        raise
    return found


def _purge_queue(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f"Purging queue '{args.queue}' in vhost '{args.vhost}' ...")
    _queue_exists(client, args.vhost, args.queue)
    client.request("DELETE", f"/api/queues/{quote(args.vhost)}/{quote(args.queue)}/contents")


def _delete_queue(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f"Deleting queue '{args.queue}' on vhost '{args.vhost}' ...")
    messages = _queue_exists(client, args.vhost, args.queue).get("messages", 0)
    query = "&".join(
        flag
        for flag, on in (("if-empty=true", args.if_empty), ("if-unused=true", args.if_unused))
        if on
    )
    client.request(
        "DELETE",
        f"/api/queues/{quote(args.vhost)}/{quote(args.queue)}" + (f"?{query}" if query else ""),
    )
    _say(
        args,
        out,
        f"Queue was successfully deleted with {messages} message{'s' if messages != 1 else ''}",
    )


def _close_connection(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f"Closing connection {args.connection}, reason: {args.explanation}...")
    client.request(
        "DELETE",
        f"/api/connections/{quote(args.connection)}",
        headers={"X-Reason": args.explanation},
    )


def _export_definitions(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    document = client.get("/api/definitions")
    text = json.dumps(document)
    if args.path == "-":
        out.write(text + "\n")
        return
    _say(args, out, f'Exporting definitions in JSON to a file at "{args.path}" ...')
    try:
        with open(args.path, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as error:
        raise CtlError(f"could not write {args.path}: {error.strerror}", 73) from None


def _import_definitions(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    _say(args, out, f'Importing definitions in JSON from a file at "{args.path}" ...')
    try:
        with open(args.path, encoding="utf-8") if args.path != "-" else _stdin() as file:
            document = json.load(file)
    except OSError as error:
        raise CtlError(f"could not read {args.path}: {error.strerror}", 66) from None
    except ValueError as error:
        raise CtlError(f"Could not parse JSON document: {error}", EX_DATAERR) from None
    client.request("POST", "/api/definitions", document)
    _say(
        args,
        out,
        "Successfully started definition import. This process is asynchronous and can take some time.",
    )


def _stdin() -> Any:
    import contextlib

    return contextlib.nullcontext(sys.stdin)


def _status(client: Client, args: argparse.Namespace, out: TextIO) -> None:
    overview = client.get("/api/overview")
    (node,) = client.get("/api/nodes")[:1] or [{}]
    if args.formatter == "json":
        out.write(json.dumps({"overview": overview, "node": node}) + "\n")
        return
    lines = [
        f"Status of node {overview['node']} ...",
        "Runtime",
        "",
        f"OS PID: {node.get('os_pid', '')}",
        f"Product name: {overview['product_name']}",
        f"Product version: {overview['product_version']}",
        f"RabbitMQ version: {overview['rabbitmq_version']}",
        f"Uptime (seconds): {node.get('uptime', 0) // 1000}",
        "",
        "Totals",
        "",
        f"Connection count: {overview['object_totals']['connections']}",
        f"Queue count: {overview['object_totals']['queues']}",
        f"Virtual host count: {len(client.get('/api/vhosts'))}",
        "",
        "Listeners",
        "",
    ]
    lines += [
        f"Interface: {listener['ip_address']}, port: {listener['port']}, protocol: {listener['protocol']}"
        for listener in overview.get("listeners", [])
    ]
    out.write("\n".join(lines) + "\n")


# ----------------------------------------------------------------- the parser


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """rabbitmqctl's general options; accepted before or after the command."""
    default = DEFAULT_URL if top else argparse.SUPPRESS
    parser.add_argument(
        "--management-url",
        default=default,
        metavar="URL",
        help=f"the management API of the server (default {DEFAULT_URL})",
    )
    parser.add_argument(
        "-p", "--vhost", default="/" if top else argparse.SUPPRESS, help="virtual host (default /)"
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="no informational messages",
    )
    parser.add_argument(
        "-s",
        "--silent",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="no informational messages, no table headers",
    )
    parser.add_argument(
        "--no-table-headers", action="store_true", default=False if top else argparse.SUPPRESS
    )
    parser.add_argument(
        "--formatter", choices=("table", "json"), default="table" if top else argparse.SUPPRESS
    )
    parser.add_argument(
        "-t",
        "--timeout",
        type=float,
        default=60.0 if top else argparse.SUPPRESS,
        help="seconds to wait for the server (default 60)",
    )


COMMANDS: dict[str, Callable[[Client, argparse.Namespace, TextIO], None]] = {
    **{name: _list for name in LISTINGS},
    "add_user": _add_user,
    "delete_user": _delete_user,
    "change_password": _change_password,
    "set_user_tags": _set_user_tags,
    "add_vhost": _add_vhost,
    "delete_vhost": _delete_vhost,
    "purge_queue": _purge_queue,
    "delete_queue": _delete_queue,
    "close_connection": _close_connection,
    "export_definitions": _export_definitions,
    "import_definitions": _import_definitions,
    "status": _status,
    **ACCESS_COMMANDS,
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # rabbitmqctl's usage errors exit 64
        self.print_usage(sys.stderr)
        sys.stderr.write(f"Error: {message}\n")
        raise SystemExit(EX_USAGE)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The ``ctl`` arguments, on ``parser`` (the CLI's subcommand) or a new one."""
    if parser is None:
        parser = _Parser(prog="amqpmodel ctl")
    _common(parser, top=True)
    commands = parser.add_subparsers(dest="ctl_command", metavar="COMMAND", parser_class=_Parser)
    add = commands.add_parser

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = add(name, help=help_text)
        _common(sub, top=False)
        return sub

    for name, listing in LISTINGS.items():
        sub = command(name, f"list {listing.what}, as rabbitmqctl {name}")
        sub.add_argument(
            "columns", nargs="*", metavar="column", help=f"default: {' '.join(listing.default)}"
        )
    sub = command("add_user", "add a user")
    sub.add_argument("username")
    sub.add_argument("password")
    sub = command("delete_user", "delete a user")
    sub.add_argument("username")
    sub = command("change_password", "change a user's password")
    sub.add_argument("username")
    sub.add_argument("password")
    sub = command("set_user_tags", "set a user's tags (none: clear them)")
    sub.add_argument("username")
    sub.add_argument("tags", nargs="*")
    sub = command("add_vhost", "add a virtual host")
    sub.add_argument("name")
    sub.add_argument("--description")
    sub.add_argument("--tags")
    sub.add_argument("--default-queue-type")
    sub = command("delete_vhost", "delete a virtual host")
    sub.add_argument("name")
    sub = command("purge_queue", "purge a queue")
    sub.add_argument("queue")
    sub = command("delete_queue", "delete a queue")
    sub.add_argument("queue")
    sub.add_argument("-e", "--if-empty", action="store_true")
    sub.add_argument("-u", "--if-unused", action="store_true")
    sub = command("close_connection", "close a connection with 320 and a reason")
    sub.add_argument("connection")
    sub.add_argument("explanation")
    sub = command("export_definitions", "export definitions to a file, - for standard output")
    sub.add_argument("path")
    sub = command("import_definitions", "import definitions from a file, - for standard input")
    sub.add_argument("path")
    command("status", "the node's status")
    add_access_parsers(command)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run a parsed ``ctl`` command; rabbitmqctl's output and exit code."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    if args.ctl_command is None:
        err.write("Error: no command given; try amqpmodel ctl --help\n")
        return EX_USAGE
    try:
        client = Client(args.management_url, timeout=args.timeout)
        COMMANDS[args.ctl_command](client, args, out)
    except CtlError as error:
        err.write(f"Error:\n{error.message}\n")
        return error.code
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return run(args)
