"""The ``amqpmodel`` command: ``serve`` (the AMQP socket server), ``ctl`` (rabbitmqctl over
the management API) and ``hello`` (an in-process demo)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

from ._alarms import DEFAULT_DISK_FREE_LIMIT
from ._broker import DEFAULT_CONSUMER_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE, Broker
from ._definitions import load_definitions
from ._errors import NotFound
from ._memory import parse_watermark
from ._parameters import ParameterError
from ._version import (
    DEFAULT_RABBITMQ_VERSION,
    KNOWN_RABBITMQ_VERSIONS,
    RabbitMQVersion,
    rabbitmq_version,
)
from .management import _cli_options as management_options

__all__ = ["main"]


def _hello() -> int:
    """The seed's "Hello World" tutorial, in process."""
    broker = Broker()
    channel = broker.connect().channel()
    channel.queue_declare(queue="hello")
    channel.basic_publish(exchange="", routing_key="hello", body=b"Hello World!")
    print(" [x] Sent 'Hello World!'")

    def callback(ch: object, method: object, properties: object, body: bytes) -> None:
        print(f" [x] Received {body!r}")

    channel.basic_consume(queue="hello", on_message_callback=callback, auto_ack=True)
    broker.run_until_idle()
    queue = broker.queues["hello"]
    print(f" [.] queue 'hello': {queue.messages_ready} ready, {queue.consumer_count} consumer")
    return 0


def _parse_user(text: str) -> tuple[str, str]:
    """NAME:PASSWORD, NAME:@FILE (the file's first line) or NAME:env:VARIABLE, so that a
    password need not show in ``ps``."""
    name, sep, password = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError(
            "users are given as NAME:PASSWORD, NAME:@FILE or NAME:env:VAR"
        )
    if password.startswith("@"):
        try:
            with open(password[1:], encoding="utf-8") as file:
                password = file.readline().rstrip("\r\n")
        except OSError as error:
            raise argparse.ArgumentTypeError(
                f"cannot read the password of {name}: {error}"
            ) from None
    elif password.startswith("env:"):
        variable = password[4:]
        if variable not in os.environ:
            raise argparse.ArgumentTypeError(f"environment variable {variable} is not set")
        password = os.environ[variable]
    return name, password


_MAX_MESSAGE_SIZE_LIMIT = 512 * 1024 * 1024  # RabbitMQ's ceiling for max_message_size


def _message_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of bytes") from None
    if not 1 <= value <= _MAX_MESSAGE_SIZE_LIMIT:
        raise argparse.ArgumentTypeError(f"between 1 and {_MAX_MESSAGE_SIZE_LIMIT} bytes")
    return value


def _consumer_timeout(text: str) -> float | None:
    if text == "off":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("milliseconds, or 'off'") from None
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1 millisecond, or 'off'")
    return value / 1000


def _rabbitmq_version(text: str) -> RabbitMQVersion:
    try:
        return rabbitmq_version(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _handshake_timeout(text: str) -> float:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("milliseconds") from None
    if value < 1:
        raise argparse.ArgumentTypeError("at least 1 millisecond")
    return value / 1000


def _max_connections(text: str) -> int | None:
    if text == "infinity":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a number of connections, or 'infinity'") from None
    if value < 0:
        raise argparse.ArgumentTypeError("at least 0, or 'infinity'")
    return value


def _watermark(text: str) -> float | int:
    """RabbitMQ's forms: a fraction ("0.4") or a size ("200MB", "1GiB", "5000000")."""
    try:
        value = parse_watermark(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if value.absolute is not None:
        return value.absolute
    assert value.relative is not None
    return value.relative


def _serve(args: argparse.Namespace) -> int:
    try:
        from .server import ServerSettings, run_server
        from .server._listener import raise_open_file_limit
    except ImportError as error:  # pamqp missing
        print(
            f"amqpmodel serve needs the server extra: pip install 'amqpmodel[server]' ({error})",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=logging.INFO if not args.quiet else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .store import StoreError

    http_ports = management_options.http_ports(args)
    if http_ports is None:
        return 1
    limits = raise_open_file_limit()  # as RabbitMQ's start script: idle sockets cost files
    if limits is not None:
        logging.getLogger("amqpmodel.server").info(
            "open files limit: %d (was %d)", limits[1], limits[0]
        )

    try:
        broker = Broker(
            # spec 16.11: a blank node importing definitions creates no default user
            default_user=None if args.no_guest or args.definitions else ("guest", "guest"),
            max_message_size=args.max_message_size,
            consumer_timeout=args.consumer_timeout,
            data_dir=args.data_dir,
            sync=args.sync,
            rabbitmq_version=args.rabbitmq_version,
            memory_high_watermark=args.memory_high_watermark,
            disk_free_limit=args.disk_free_limit,
        )
    except StoreError as error:
        print(f"amqpmodel serve: {error}", file=sys.stderr)
        return 1
    try:
        if args.definitions:  # spec 16.11: before the users, vhosts and parameters given here
            try:
                load_definitions(broker, args.definitions)
            except ParameterError as error:
                print(
                    f"amqpmodel serve: --definitions {args.definitions}: {error.reason}",
                    file=sys.stderr,
                )
                return 2
        for name, password in args.user:
            broker.add_user(name, password, tags=("administrator",))
        for vhost in args.vhost:
            broker.add_vhost(vhost)
        for user, vhost, configure, write, read in args.permission:  # spec 15.4
            try:
                broker.set_permissions(user, configure, write, read, vhost=vhost)
            except NotFound as error:  # no such user or vhost
                print(
                    f"amqpmodel serve: --permission {user} {vhost}: {error.reply_text}",
                    file=sys.stderr,
                )
                return 2
        for component, name, text in args.parameter:  # shovels start here (spec 20.1)
            try:
                broker.set_parameter(component, name, json.loads(text))
            except ValueError as error:  # bad JSON, or a ParameterError with RabbitMQ's text
                reason = getattr(error, "reason", f"Could not parse JSON document: {error}")
                print(f"amqpmodel serve: --parameter {component} {name}: {reason}", file=sys.stderr)
                return 2
        where = f"data in {broker.data_dir}" if broker.data_dir else "in memory"

        def ready(server: object) -> None:
            port = getattr(server, "port", args.port)
            print(
                f"amqpmodel listening on amqp://{args.host}:{port} ({where}; Ctrl-C to stop)",
                flush=True,
            )
            management_options.announce(server)

        try:
            settings = ServerSettings(
                handshake_timeout=args.handshake_timeout, max_connections=args.max_connections
            )
            run_server(
                broker,
                args.host,
                args.port,
                settings=settings,
                ready=ready,
                management_port=http_ports[0],
                prometheus_port=http_ports[1],
            )
        except KeyboardInterrupt:
            pass
        except OSError as error:
            print(
                f"amqpmodel serve: cannot listen on {args.host}:{args.port}: {error}",
                file=sys.stderr,
            )
            return 1
        if broker.data_dir is None:
            discarded = broker.persistent_message_count()
            if discarded:
                print(
                    f"amqpmodel: discarding {discarded} persistent message"
                    f"{'s' if discarded != 1 else ''} in durable queues "
                    "(in memory; keep them across restarts with --data-dir)",
                    flush=True,
                )
    finally:
        broker.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="amqpmodel", description="An in-process AMQP 0-9-1 broker that behaves like RabbitMQ."
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run an AMQP 0-9-1 server")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=5672,
        help="port (default 5672; 0 picks a free one and prints it)",
    )
    serve.add_argument(
        "--user",
        action="append",
        type=_parse_user,
        default=[],
        metavar="NAME:PASSWORD",
        help="add a user (repeatable); guest/guest exists unless --no-guest",
    )
    serve.add_argument(
        "--permission",
        action="append",
        nargs=5,
        default=[],
        metavar=("USER", "VHOST", "CONFIGURE", "WRITE", "READ"),
        help="give a user access to a vhost (repeatable), as rabbitmqctl set_permissions; "
        "a user without one cannot open the vhost (guest has '.*' on '/')",
    )
    serve.add_argument(
        "--no-guest", action="store_true", help="do not create the default guest user"
    )
    serve.add_argument(
        "--vhost",
        action="append",
        default=[],
        help="add a virtual host (repeatable); '/' always exists",
    )
    serve.add_argument(
        "--max-message-size",
        type=_message_size,
        default=None,
        metavar="BYTES",
        help=f"largest message body accepted (default {DEFAULT_MAX_MESSAGE_SIZE}, as RabbitMQ 4; "
        "134217728 with --rabbitmq-version 3.13; at most 536870912)",
    )
    serve.add_argument(
        "--rabbitmq-version",
        type=_rabbitmq_version,
        default=DEFAULT_RABBITMQ_VERSION,
        metavar="VERSION",
        help=f"the RabbitMQ to behave as: {', '.join(KNOWN_RABBITMQ_VERSIONS)} or a patch "
        f"release such as 4.2.5 (default {DEFAULT_RABBITMQ_VERSION}); connection.start "
        "reports it",
    )
    serve.add_argument(
        "--consumer-timeout",
        type=_consumer_timeout,
        default=DEFAULT_CONSUMER_TIMEOUT,
        metavar="MS",
        help="how long a delivery may stay unacknowledged before its channel is closed, "
        "in milliseconds as in rabbitmq.conf (default 1800000), or 'off'",
    )
    serve.add_argument(
        "--data-dir",
        metavar="PATH",
        help="keep durable queues and exchanges, persistent messages, vhosts and users "
        "across restarts in this directory (created if needed; default: in memory)",
    )
    serve.add_argument(
        "--sync",
        choices=("normal", "full"),
        default="normal",
        help="with --data-dir: 'normal' (default) survives a killed process, 'full' also a "
        "power loss (an fsync per commit)",
    )
    serve.add_argument(
        "--handshake-timeout",
        type=_handshake_timeout,
        default=10.0,
        metavar="MS",
        help="close a socket that has not completed connection.open within this many "
        "milliseconds (default 10000, as RabbitMQ's handshake_timeout)",
    )
    serve.add_argument(
        "--max-connections",
        type=_max_connections,
        default=None,
        metavar="N",
        help="refuse connection.open (530) while more than N sockets are open, as "
        "RabbitMQ's connection_max (default 'infinity')",
    )
    serve.add_argument(
        "--memory-high-watermark",
        type=_watermark,
        default=None,
        metavar="LIMIT",
        help="block publishers while the messages held take more than this: a fraction of "
        "the machine's memory (0.4) or a size (200MB, 1GiB), as RabbitMQ's "
        "vm_memory_high_watermark (default 0.6; 0.4 with --rabbitmq-version 3.13)",
    )
    serve.add_argument(
        "--disk-free-limit",
        type=_watermark,
        default=DEFAULT_DISK_FREE_LIMIT,
        metavar="LIMIT",
        help="with --data-dir: block publishers while its disk has less free space than "
        "this: a size (50MB) or a multiple of the memory (1.0), as RabbitMQ's "
        f"disk_free_limit (default {DEFAULT_DISK_FREE_LIMIT})",
    )
    serve.add_argument(
        "--parameter",
        nargs=3,
        action="append",
        default=[],
        metavar=("COMPONENT", "NAME", "JSON"),
        help="set a runtime parameter in vhost '/' at start, as rabbitmqctl set_parameter; "
        'a dynamic shovel: --parameter shovel NAME \'{"src-uri": "amqp://", ...}\' '
        "(repeatable)",
    )
    serve.add_argument(
        "--definitions",
        metavar="PATH",
        help="import a definitions file (RabbitMQ's JSON; or every .json file of a directory, "
        "in name order) at start, as RabbitMQ's load_definitions; guest then exists only if "
        "the definitions have it",
    )
    management_options.add_arguments(serve)
    serve.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    from .management import _ctl

    _ctl.build_parser(
        commands.add_parser("ctl", help="rabbitmqctl's commands over the management API")
    )
    commands.add_parser("hello", help="run the 'Hello World' tutorial in process")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        print("\n(no command given: running the in-process 'Hello World'; try 'amqpmodel serve')\n")
        return _hello()
    if args.command == "serve":
        return _serve(args)
    if args.command == "ctl":
        return _ctl.run(args)
    if args.command == "hello":
        return _hello()
    parser.error(f"unknown command {args.command}")
    return 2
