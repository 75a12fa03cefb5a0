"""A dynamic shovel's definition: RabbitMQ's validation of the ``shovel`` parameter, and its parsed form.

The keys, defaults and error texts are those of ``rabbit_shovel_parameters``
and ``rabbit_amqp091_shovel`` (spec 20.2-20.7): the mutual-exclusion checks
come first (source queue or exchange, destination queue or exchange, no-ack
with a numeric delete-after), then every key's own check in the order
``rabbit_parameter_validation:proplist`` reports them (unrecognised keys
first, then the known keys last to first). Legacy names (``prefetch-count``,
``delete-after``, ``add-forward-headers``, ``add-timestamp-header``,
``publish-properties``) are accepted as RabbitMQ accepts them.

Two amqpmodel limits are checked after RabbitMQ's rules, with texts of their
own: the source is this broker (a ``src-uri`` without a host), and a
destination on the network needs pika.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import attrs

from amqpmodel.driver import PROPERTY_NAMES, erlang_proplist, erlang_term

from ._uri import AmqpUri, UriError, parse_uri

__all__ = ["DEFAULT_PREFETCH", "DEFAULT_RECONNECT_DELAY", "ShovelDefinition", "validate"]

DEFAULT_PREFETCH = 1000
DEFAULT_RECONNECT_DELAY = 5
ACK_MODES = ("no-ack", "on-publish", "on-confirm")
PROTOCOLS = ("amqp091",)  # the shovel protocols amqpmodel has (RabbitMQ: also amqp10, local)
# every property but headers (dest-add-forward-headers governs those)
PUBLISH_PROPERTIES = tuple(name for name in PROPERTY_NAMES if name != "headers")
_NUMERIC_PROPERTIES = ("delivery_mode", "priority", "timestamp")

Check = Callable[[str, Any], list[str]]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(key: str, value: Any) -> list[str]:
    if _is_number(value):
        return []
    return [f"{key} should be a number, actually was {erlang_term(value)}"]


def _binary(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return []
    return [f"{key} should be binary, actually was {erlang_term(value)}"]


def _boolean(key: str, value: Any) -> list[str]:
    if isinstance(value, bool):
        return []
    return [f"{key} should be boolean, actually was {erlang_term(value)}"]


def _enum(options: tuple[str, ...]) -> Check:
    def check(key: str, value: Any) -> list[str]:
        if not isinstance(value, str):
            return [f"{key} should be binary, actually was {erlang_term(value)}"]
        if value in options:
            return []
        return [
            f"{key} should be one of {erlang_term(list(options))}, "
            f"actually was {erlang_term(value)}"
        ]

    return check


def _queue_name(key: str, value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"{key} should be binary, actually was {erlang_term(value)}"]
    size = len(value.encode("utf-8", "surrogateescape"))
    if size > 255:
        return [f"{key} should be less than 255 bytes, actually was {size}"]
    return []


def _uri(key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            parse_uri(value)
        except UriError as error:
            return [error.text]
        return []
    if not isinstance(value, list):
        return [f"{key} should be list, actually was {erlang_term(value)}"]
    for item in value:
        errors = _uri(key, item)
        if errors:
            return errors
    return []


def _delete_after(key: str, value: Any) -> list[str]:
    if value in ("never", "queue-length") or (_is_integer(value) and value >= 0):
        return []
    return [
        f'{key} should be a number greater than or equal to 0, "never" or "queue-length", '
        f"actually was {erlang_term(value)}"
    ]


def _table(key: str, value: Any) -> list[str]:
    # RabbitMQ checks each x-argument against the declare/consume rules; here the
    # declare or consume itself refuses a bad one (the shovel terminates with its text)
    if isinstance(value, dict):
        return []
    return [f"{key} not a list {erlang_term(value)}"]


def _properties(key: str, value: Any) -> list[str]:
    if isinstance(value, list) and not value:
        return []
    if not isinstance(value, dict):
        return [f"{key} not a list {erlang_term(value)}"]
    checks: list[tuple[str, Check, bool]] = [
        (name, _number if name in _NUMERIC_PROPERTIES else _binary, False)
        for name in PUBLISH_PROPERTIES
    ]
    return _proplist(key, checks, value)


def _internal_owner(key: str, value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [f"{key} not a list {erlang_term(value)}"]
    checks: list[tuple[str, Check, bool]] = [
        ("name", _binary, False),
        ("kind", _enum(("exchange", "queue")), False),
        ("virtual_host", _binary, False),
    ]
    return _proplist(key, checks, value)


_KEYS: list[tuple[str, Check, bool]] = [  # (key, check, mandatory), RabbitMQ's order
    ("internal", _boolean, False),
    ("internal_owner", _internal_owner, False),
    ("reconnect-delay", _number, False),
    ("ack-mode", _enum(ACK_MODES), False),
    ("src-protocol", _enum(PROTOCOLS), False),
    ("dest-protocol", _enum(PROTOCOLS), False),
    ("src-uri", _uri, True),
    ("src-exchange", _binary, False),
    ("src-exchange-key", _binary, False),
    ("src-queue", _binary, False),
    ("src-queue-args", _table, False),
    ("src-consumer-args", _table, False),
    ("prefetch-count", _number, False),
    ("src-prefetch-count", _number, False),
    ("delete-after", _delete_after, False),
    ("src-delete-after", _delete_after, False),
    ("src-predeclared", _boolean, False),
    ("dest-uri", _uri, True),
    ("dest-exchange", _binary, False),
    ("dest-exchange-key", _binary, False),
    ("dest-queue", _queue_name, False),
    ("dest-queue-args", _table, False),
    ("add-forward-headers", _boolean, False),
    ("add-timestamp-header", _boolean, False),
    ("dest-add-forward-headers", _boolean, False),
    ("dest-add-timestamp-header", _boolean, False),
    ("publish-properties", _properties, False),
    ("dest-publish-properties", _properties, False),
    ("dest-predeclared", _boolean, False),
]


def _proplist(name: str, checks: list[tuple[str, Check, bool]], value: dict[str, Any]) -> list[str]:
    """``rabbit_parameter_validation:proplist``: unrecognised keys first, then each
    known key's errors, last key first (it prepends as it folds)."""
    results: list[list[str]] = []
    for key, check, mandatory in checks:
        if key in value:
            results.append(check(key, value[key]))
        elif mandatory:
            results.append([f'Key "{key}" not found in {name}'])
    known = {key for key, _, _ in checks}
    remainder = sorted(
        ((k, v) for k, v in value.items() if k not in known),
        key=lambda item: item[0].encode("utf-8", "surrogateescape"),
    )
    errors = [f"Unrecognised terms {erlang_proplist(remainder)} in {name}"] if remainder else []
    for result in reversed(results):
        errors += result
    return errors


def _count(value: dict[str, Any], a: str, b: str) -> int:
    return (a in value) + (b in value)


def _delete_after_value(value: dict[str, Any]) -> Any:
    return value.get("src-delete-after", value.get("delete-after", "never"))


def validate(name: str, value: Any) -> list[str]:
    """Every error RabbitMQ reports for the shovel parameter ``name`` = ``value``, in
    its order (spec 20.2, 20.4, 20.5), then amqpmodel's own limits."""
    if isinstance(value, list):  # a proplist of no known keys: what RabbitMQ makes of it
        return [
            "Must specify 'src-exchange' or 'src-queue'",
            *([f"Unrecognised terms {erlang_term(value)} in {name}"] if value else []),
            f'Key "dest-uri" not found in {name}',
            f'Key "src-uri" not found in {name}',
        ]
    if not isinstance(value, dict):
        return [f"{name} not a list {erlang_term(value)}"]
    errors: list[str] = []
    sources = _count(value, "src-exchange", "src-queue")
    if sources == 0:
        errors.append("Must specify 'src-exchange' or 'src-queue'")
    elif sources == 2:
        errors.append("Cannot specify 'src-exchange' and 'src-queue'")
    if value.get("ack-mode") == "no-ack" and _is_integer(
        value.get("src-delete-after", value.get("delete-after"))
    ):
        errors.append("Cannot specify 'no-ack' and numerical 'delete-after'")
    if _count(value, "dest-exchange", "dest-queue") == 2:
        errors.append("Cannot specify 'dest-exchange' and 'dest-queue'")
    errors += _proplist(name, _KEYS, value)
    if errors:
        return errors
    return _amqpmodel_limits(value)


def _uris(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _amqpmodel_limits(value: dict[str, Any]) -> list[str]:
    errors = []
    for uri in _uris(value["src-uri"]):
        if not parse_uri(uri).is_local:
            errors.append(
                f'src-uri "{uri}": amqpmodel\'s shovels move messages out of this broker, so '
                'the source URI names no host ("amqp://" or "amqp:///vhost")'
            )
    remote = [uri for uri in _uris(value["dest-uri"]) if not parse_uri(uri).is_local]
    if remote and importlib.util.find_spec("pika") is None:
        errors.append(
            f'dest-uri "{remote[0]}": a shovel to another broker needs pika '
            "(pip install 'amqpmodel[shovel]')"
        )
    if not _uris(value["src-uri"]) or not _uris(value["dest-uri"]):
        errors.append("src-uri and dest-uri need at least one URI each")
    return errors


@attrs.frozen
class ShovelDefinition:
    """A validated shovel parameter, with RabbitMQ's defaults filled in (spec 20.2-20.7)."""

    vhost: str
    name: str
    value: dict[str, Any] = attrs.field(eq=False)  # as set, for comparisons and restarts
    src_uris: tuple[AmqpUri, ...]
    src_queue: str | None
    src_exchange: str | None
    src_exchange_key: str
    src_queue_args: dict[str, Any]
    src_consumer_args: dict[str, Any]
    src_predeclared: bool
    prefetch_count: Any
    delete_after: Any  # "never", "queue-length" or a count
    dest_uris: tuple[AmqpUri, ...]
    dest_queue: str | None
    dest_exchange: str | None
    dest_exchange_key: str | None  # None: keep each message's routing key
    dest_queue_args: dict[str, Any]
    dest_predeclared: bool
    add_forward_headers: bool
    add_timestamp_header: bool
    publish_properties: dict[str, Any]
    ack_mode: str
    reconnect_delay: Any

    @classmethod
    def parse(cls, vhost: str, name: str, value: dict[str, Any]) -> ShovelDefinition:
        """``value`` must have passed ``validate``."""
        get = value.get
        properties = get("dest-publish-properties", get("publish-properties", {}))
        return cls(
            vhost=vhost,
            name=name,
            value=value,
            src_uris=tuple(parse_uri(u) for u in _uris(value["src-uri"])),
            src_queue=get("src-queue"),
            src_exchange=get("src-exchange"),
            src_exchange_key=get("src-exchange-key", ""),
            src_queue_args=dict(get("src-queue-args", {})),
            src_consumer_args=dict(get("src-consumer-args", {})),
            src_predeclared=get("src-predeclared", False),
            prefetch_count=get("src-prefetch-count", get("prefetch-count", DEFAULT_PREFETCH)),
            delete_after=_delete_after_value(value),
            dest_uris=tuple(parse_uri(u) for u in _uris(value["dest-uri"])),
            dest_queue=get("dest-queue"),
            dest_exchange=get("dest-exchange"),
            dest_exchange_key=get("dest-exchange-key"),
            dest_queue_args=dict(get("dest-queue-args", {})),
            dest_predeclared=get("dest-predeclared", False),
            add_forward_headers=get("dest-add-forward-headers", get("add-forward-headers", False)),
            add_timestamp_header=get(
                "dest-add-timestamp-header", get("add-timestamp-header", False)
            ),
            publish_properties=dict(properties) if isinstance(properties, dict) else {},
            ack_mode=get("ack-mode", "on-confirm"),
            reconnect_delay=get("reconnect-delay", DEFAULT_RECONNECT_DELAY),
        )

    @property
    def restarts(self) -> bool:
        """Whether a failed shovel starts again: RabbitMQ's supervisor restarts it only for
        a whole number of seconds above 0 (``rabbit_shovel_dyn_worker_sup``, spec 20.6)."""
        return _is_integer(self.reconnect_delay) and self.reconnect_delay > 0

    @property
    def source_endpoint(self) -> dict[str, str]:
        """What status reports of the source (``source_endpoint``)."""
        if self.src_queue is not None:
            return {"src_queue": self.src_queue}
        return {"src_exchange": self.src_exchange or "", "src_exchange_key": self.src_exchange_key}

    @property
    def dest_endpoint(self) -> dict[str, str]:
        """What status reports of the destination: the keys that were set."""
        found = {
            "dest_exchange": self.dest_exchange,
            "dest_exchange_key": self.dest_exchange_key,
            "dest_queue": self.dest_queue,
        }
        return {key: text for key, text in found.items() if text is not None}
