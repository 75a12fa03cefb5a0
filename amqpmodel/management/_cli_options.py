"""``amqpmodel serve``'s options for the management driver: ``--management-port``,
``--prometheus-port``, ``--no-management``, and what it says about them.

Kept here so that the CLI only wires them in. A port left at its default that
another process holds (a RabbitMQ on the same machine, or a second serve
started at the same moment) is skipped with a warning, whether the probe
before the start finds it taken or the bind at the start fails; a port given
explicitly that cannot be had is an error, as the AMQP port is. Without
aiohttp (the ``management`` extra) serve runs AMQP only and says so once."""

from __future__ import annotations

import argparse
import importlib.util
import socket
import sys
from typing import Any

__all__ = [
    "DEFAULT_MANAGEMENT_PORT",
    "DEFAULT_PROMETHEUS_PORT",
    "OPTIONAL_PORTS",
    "add_arguments",
    "announce",
    "http_ports",
    "port_taken",
]

DEFAULT_MANAGEMENT_PORT = 15672
DEFAULT_PROMETHEUS_PORT = 15692
_INSTALL = "pip install 'amqpmodel[management]'"

# (host, port) left at their defaults by this process's serve: a failed bind of one
# is port_taken's warning, not a failed start (the HTTP servers read this)
OPTIONAL_PORTS: set[tuple[str, int]] = set()


def port_taken(port: int, error: OSError, *, management: bool) -> None:
    """The warning for a default port another process holds: serve goes on without it."""
    what, option = (
        ("management API", "management") if management else ("Prometheus metrics", "prometheus")
    )
    print(
        f"amqpmodel serve: port {port} is taken ({error.strerror}): no {what} "
        f"(choose another with --{option}-port)",
        file=sys.stderr,
        flush=True,
    )


def add_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument(
        "--management-port",
        type=int,
        default=None,
        metavar="PORT",
        help=f"RabbitMQ's management HTTP API (and /metrics) on this port of the same host "
        f"(default {DEFAULT_MANAGEMENT_PORT}; 0 picks a free one and prints it)",
    )
    serve.add_argument(
        "--prometheus-port",
        type=int,
        default=None,
        metavar="PORT",
        help=f"Prometheus metrics alone, as rabbitmq_prometheus (default {DEFAULT_PROMETHEUS_PORT})",
    )
    serve.add_argument(
        "--no-management",
        action="store_true",
        help="serve AMQP only: no management API, no metrics port",
    )


def _free(host: str, port: int) -> OSError | None:
    if port == 0:
        return None
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        return error
    return None


def http_ports(args: argparse.Namespace) -> tuple[int | None, int | None] | None:
    """(management port, prometheus port), None for each not served; None when an
    explicitly given port cannot be had (the CLI exits 1)."""
    if args.no_management:
        return None, None
    if importlib.util.find_spec("aiohttp") is None:
        print(
            f"amqpmodel serve: no management API or metrics: they need the management extra "
            f"({_INSTALL})",
            file=sys.stderr,
            flush=True,
        )
        return None, None
    chosen: list[int | None] = []
    for given, default, what in (
        (args.management_port, DEFAULT_MANAGEMENT_PORT, "management API"),
        (args.prometheus_port, DEFAULT_PROMETHEUS_PORT, "Prometheus metrics"),
    ):
        port = default if given is None else given
        error = _free(args.host, port)
        if error is None:
            chosen.append(port)
            if given is None:  # taken between this probe and the bind: still a warning
                OPTIONAL_PORTS.add((args.host, port))
        elif given is not None:
            print(
                f"amqpmodel serve: cannot listen on {args.host}:{port} for the {what}: {error}",
                file=sys.stderr,
            )
            return None
        else:
            port_taken(port, error, management=default == DEFAULT_MANAGEMENT_PORT)
            chosen.append(None)
    return chosen[0], chosen[1]


def announce(server: Any) -> None:
    """Where the HTTP servers listen, after the AMQP line."""
    management = getattr(server, "management", None)
    prometheus = getattr(server, "prometheus", None)
    if management is not None and not management.listening:
        management = None
    if prometheus is not None and not prometheus.listening:
        prometheus = None
    if management is not None:
        print(
            f"amqpmodel management API on {management.url}/api/ (amqpmodel ctl, rabbitmqadmin)",
            flush=True,
        )
    if prometheus is not None:
        print(f"amqpmodel Prometheus metrics on {prometheus.url}/metrics", flush=True)
