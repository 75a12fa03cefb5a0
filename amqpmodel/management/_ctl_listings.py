"""The list_* commands of ``amqpmodel ctl``: rabbitmqctl's info keys (default and
known columns) for each, the management API path their rows come from, and how
an API object becomes a row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["LISTINGS", "LISTING_LINES", "Listing", "Row"]

Row = dict[str, Any]


def _queue_row(item: Row) -> Row:
    return {**item, "pid": item.get("node"), "owner_pid": item.get("owner_pid")}


def _binding_row(item: Row) -> Row:
    return {
        "source_name": item["source"],
        "source_kind": "exchange",
        "destination_name": item["destination"],
        "destination_kind": item["destination_type"],
        "routing_key": item["routing_key"],
        "arguments": item["arguments"],
        "vhost": item["vhost"],
    }


def _channel_row(item: Row) -> Row:
    return {**item, "pid": item["name"], "connection": item["connection_details"]["name"]}


def _consumer_row(item: Row) -> Row:
    return {
        **item,
        "queue_name": item["queue"]["name"],
        "channel_pid": item["channel_details"].get("name"),
    }


def _connection_row(item: Row) -> Row:
    return {**item, "pid": item["name"]}


def _user_row(item: Row) -> Row:
    return {"user": item["name"], "tags": item["tags"]}


class Listing:
    """A list_* command: where its rows come from, its default and known columns."""

    def __init__(
        self,
        what: str,
        path: str,
        row: Callable[[Row], Row],
        default: Sequence[str],
        known: Sequence[str],
        *,
        per_vhost: bool,
    ) -> None:
        self.what = what
        self.path = path
        self.row = row
        self.default = tuple(default)
        self.known = tuple(known)
        self.per_vhost = per_vhost


LISTINGS: dict[str, Listing] = {
    "list_queues": Listing(
        "queues",
        "/api/queues/{vhost}",
        _queue_row,
        ("name", "messages"),
        (
            "name",
            "durable",
            "auto_delete",
            "arguments",
            "policy",
            "pid",
            "owner_pid",
            "exclusive",
            "exclusive_consumer_tag",
            "messages_ready",
            "messages_unacknowledged",
            "messages",
            "message_bytes_ready",
            "consumers",
            "consumer_utilisation",
            "consumer_capacity",
            "state",
            "type",
        ),
        per_vhost=True,
    ),
    "list_exchanges": Listing(
        "exchanges",
        "/api/exchanges/{vhost}",
        dict,
        ("name", "type"),
        ("name", "type", "durable", "auto_delete", "internal", "arguments", "policy"),
        per_vhost=True,
    ),
    "list_bindings": Listing(
        "bindings",
        "/api/bindings/{vhost}",
        _binding_row,
        (
            "source_name",
            "source_kind",
            "destination_name",
            "destination_kind",
            "routing_key",
            "arguments",
        ),
        (
            "source_name",
            "source_kind",
            "destination_name",
            "destination_kind",
            "routing_key",
            "arguments",
        ),
        per_vhost=True,
    ),
    "list_connections": Listing(
        "connections",
        "/api/connections",
        _connection_row,
        ("user", "peer_host", "peer_port", "state"),
        (
            "pid",
            "name",
            "port",
            "host",
            "peer_port",
            "peer_host",
            "ssl",
            "user",
            "vhost",
            "timeout",
            "frame_max",
            "channel_max",
            "client_properties",
            "connected_at",
            "state",
            "channels",
            "protocol",
            "auth_mechanism",
            "user_who_performed_action",
            "type",
            "node",
        ),
        per_vhost=False,
    ),
    "list_channels": Listing(
        "channels",
        "/api/channels",
        _channel_row,
        ("pid", "user", "consumer_count", "messages_unacknowledged"),
        (
            "pid",
            "connection",
            "name",
            "number",
            "user",
            "vhost",
            "transactional",
            "confirm",
            "consumer_count",
            "messages_unacknowledged",
            "messages_uncommitted",
            "acks_uncommitted",
            "messages_unconfirmed",
            "prefetch_count",
            "global_prefetch_count",
            "state",
        ),
        per_vhost=False,
    ),
    "list_consumers": Listing(
        "consumers",
        "/api/consumers/{vhost}",
        _consumer_row,
        (
            "queue_name",
            "channel_pid",
            "consumer_tag",
            "ack_required",
            "prefetch_count",
            "active",
            "arguments",
        ),
        (
            "queue_name",
            "channel_pid",
            "consumer_tag",
            "ack_required",
            "prefetch_count",
            "active",
            "activity_status",
            "arguments",
            "exclusive",
        ),
        per_vhost=True,
    ),
    "list_users": Listing(
        "users", "/api/users", _user_row, ("user", "tags"), ("user", "tags"), per_vhost=False
    ),
    "list_vhosts": Listing(
        "vhosts",
        "/api/vhosts",
        dict,
        ("name",),
        ("name", "description", "tags", "default_queue_type", "tracing", "messages"),
        per_vhost=False,
    ),
    "list_permissions": Listing(
        "permissions",
        "/api/vhosts/{vhost}/permissions",
        dict,
        ("user", "configure", "write", "read"),
        ("user", "configure", "write", "read"),
        per_vhost=True,
    ),
}

LISTING_LINES = {
    "queues": "Listing queues for vhost {vhost} ...",
    "exchanges": "Listing exchanges for vhost {vhost} ...",
    "bindings": "Listing bindings for vhost {vhost}...",
    "connections": "Listing connections ...",
    "channels": "Listing channels ...",
    "consumers": "Listing consumers in vhost {vhost} ...",
    "users": "Listing users ...",
    "vhosts": "Listing vhosts ...",
    "permissions": 'Listing permissions for vhost "{vhost}" ...',
}
