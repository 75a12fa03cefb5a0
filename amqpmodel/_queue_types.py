"""Queue types (classic, quorum, stream): which declare and consume arguments each takes,
and the checks of queue.declare and basic.consume that depend on the type.

RabbitMQ validates a declare in this order (spec 11.2, 11.6-11.10, 12.2-12.4):
``x-queue-type`` (injected first when missing, 11.3), then the values of the
type's own arguments in one fixed order, then the names: an argument that
another type takes is refused "of queue type rabbit_x_queue", one that no type
knows is accepted and ignored. The queue properties come after the arguments
(11.4). Redeclare compares only the type's own arguments (11.27).

The queues themselves live in ``_queue.py`` (classic, the base),
``_queue_quorum.py`` and ``_queue_stream.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import attrs

from ._arguments import MAX_TTL_MS, QueueArguments, is_int, text, type_name
from ._errors import InternalError, PreconditionFailed
from ._version import RabbitMQVersion

__all__ = [
    "QUEUE_TYPES",
    "RELAXED_QUORUM_KEYS",
    "QueueType",
    "check_consume_arguments",
    "check_properties",
    "check_transient_nonexclusive",
    "declared_type",
    "equivalence_keys",
    "parse_max_age",
    "parse_queue_arguments",
]


@attrs.frozen
class QueueType:
    """What RabbitMQ's queue type module declares about itself (its ``capabilities``)."""

    name: str  # "quorum": x-queue-type, management "type" (spec 11.37)
    module: str  # "rabbit_quorum_queue": in error texts (spec 11.5, 11.9)
    queue_arguments: tuple[str, ...]  # in RabbitMQ's order: also the equivalence keys
    consumer_arguments: tuple[str, ...]
    server_named: bool
    replicated: bool  # durable, not exclusive, not auto-delete only (spec 11.4)


CLASSIC = QueueType(
    "classic",
    "rabbit_classic_queue",
    (
        "x-expires",
        "x-message-ttl",
        "x-dead-letter-exchange",
        "x-dead-letter-routing-key",
        "x-max-length",
        "x-max-length-bytes",
        "x-max-priority",
        "x-overflow",
        "x-queue-mode",
        "x-queue-version",
        "x-single-active-consumer",
        "x-queue-type",
        "x-queue-master-locator",
        "x-queue-leader-locator",
    ),
    ("x-priority",),
    server_named=True,
    replicated=False,
)
QUORUM = QueueType(
    "quorum",
    "rabbit_quorum_queue",
    (
        "x-dead-letter-exchange",
        "x-dead-letter-routing-key",
        "x-dead-letter-strategy",
        "x-expires",
        "x-max-length",
        "x-max-length-bytes",
        "x-max-in-memory-length",
        "x-max-in-memory-bytes",
        "x-overflow",
        "x-single-active-consumer",
        "x-queue-type",
        "x-quorum-initial-group-size",
        "x-delivery-limit",
        "x-message-ttl",
        "x-queue-leader-locator",
    ),
    ("x-priority",),
    server_named=False,
    replicated=True,
)
STREAM = QueueType(
    "stream",
    "rabbit_stream_queue",
    (
        "x-max-length-bytes",
        "x-queue-type",
        "x-max-age",
        "x-stream-max-segment-size-bytes",
        "x-stream-filter-size-bytes",
        "x-initial-cluster-size",
        "x-queue-leader-locator",
    ),
    ("x-stream-offset", "x-stream-filter", "x-stream-match-unfiltered"),
    server_named=False,
    replicated=True,
)
QUEUE_TYPES: dict[str, QueueType] = {t.name: t for t in (CLASSIC, QUORUM, STREAM)}

# RabbitMQ 4.3's quorum queues also own these (spec 11.7, 0.x.11), so the other types
# refuse them there
QUORUM_4_3 = attrs.evolve(
    QUORUM,
    queue_arguments=(
        *QUORUM.queue_arguments,
        "x-consumer-disconnected-timeout",
        "x-consumer-timeout",
        "x-delayed-retry-type",
        "x-delayed-retry-min",
        "x-delayed-retry-max",
    ),
    consumer_arguments=("x-priority", "x-consumer-timeout"),
)


@attrs.frozen
class _Catalog:
    """The queue types of one RabbitMQ version and every argument any of them takes."""

    types: dict[str, QueueType]
    queue_arguments: frozenset[str]
    consumer_arguments: frozenset[str]


def _catalog_of(types: tuple[QueueType, ...]) -> _Catalog:
    return _Catalog(
        {t.name: t for t in types},
        frozenset(a for t in types for a in t.queue_arguments),
        frozenset(a for t in types for a in t.consumer_arguments),
    )


_CATALOG = _catalog_of((CLASSIC, QUORUM, STREAM))
_CATALOG_4_3 = _catalog_of((CLASSIC, QUORUM_4_3, STREAM))


def _catalog(version: RabbitMQVersion | None) -> _Catalog:
    if version is not None and version.quorum_timeout_arguments:
        return _CATALOG_4_3
    return _CATALOG

_OVERFLOW_MODES = ("drop-head", "reject-publish", "reject-publish-dlx")
_QUEUE_MODES = ("default", "lazy")
_DLX_STRATEGIES = ("at-most-once", "at-least-once")
_LEADER_LOCATORS = ("client-local", "balanced", "random", "least-leaders", "min-masters")
_MAX_AGE = re.compile(r"([0-9]+)(.*)", re.DOTALL)
_AGE_UNITS_MS = {
    "Y": 365 * 86_400_000,
    "M": 30 * 86_400_000,
    "D": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1000,
}


def parse_max_age(value: Any) -> int | None:
    """``x-max-age`` and interval offsets: digits forming an integer > 0, then one unit
    of Y M D h m s (spec 12.5); milliseconds, or None when the text is not one."""
    value = text(value)
    if not isinstance(value, str):
        return None
    match = _MAX_AGE.fullmatch(value)
    if match is None or not match.group(1).isascii():
        return None
    amount = int(match.group(1))
    unit = _AGE_UNITS_MS.get(match.group(2))
    if amount <= 0 or unit is None:
        return None
    return amount * unit


def declared_type(arguments: dict[str, Any], default: str = "classic") -> Any:
    """The x-queue-type a declare names, with "", "undefined" and none meaning the
    default (spec 11.6); not validated."""
    value = text(arguments.get("x-queue-type"))
    if value is None or value in ("", "undefined"):
        return default
    return value


def augment_arguments(
    arguments: dict[str, Any], default: str, durable: bool, exclusive: bool, auto_delete: bool
) -> dict[str, Any]:
    """Add the x-queue-type a declare without one gets (spec 11.3): the vhost's default
    type, or "classic" when the flags do not suit that type."""
    if "x-queue-type" in arguments and text(arguments["x-queue-type"]) not in ("", "undefined"):
        return arguments
    chosen = default
    found = QUEUE_TYPES.get(default)
    if found is None or (found.replicated and (not durable or exclusive or auto_delete)):
        chosen = "classic"
    augmented = dict(arguments)
    augmented["x-queue-type"] = chosen
    return augmented


# ----------------------------------------------------------------- value checks (spec 2.7, 11.8)

Check = Callable[[Any, dict[str, Any]], "str | None"]


def _integer_error(value: Any) -> str | None:
    if not is_int(value):
        return f'"expected integer, got {type_name(value)}"'
    return None


def _non_negative(value: Any, _: dict[str, Any]) -> str | None:
    error = _integer_error(value)
    if error is None and value < 0:
        return f"{{value_negative,{value}}}"
    return error


def _positive(value: Any, arguments: dict[str, Any]) -> str | None:
    error = _non_negative(value, arguments)
    if error is None and value == 0:
        return "{value_zero,0}"
    return error


def _expiry(value: int) -> str | None:
    if value > MAX_TTL_MS:
        return f"{{value_too_large,{value},{MAX_TTL_MS}}}"
    if value < 0:
        return f"{{value_negative,{value}}}"
    return None


def _expires(value: Any, _: dict[str, Any]) -> str | None:
    error = _integer_error(value)
    if error is not None:
        return error
    if value == 0:
        return "{value_zero,0}"
    return _expiry(value)


def _message_ttl(value: Any, _: dict[str, Any]) -> str | None:
    return _integer_error(value) or _expiry(value)


def _max_priority(value: Any, arguments: dict[str, Any]) -> str | None:
    error = _non_negative(value, arguments)
    if error is None and value > 255:
        return f"{{max_value_exceeded,{value}}}"
    return error


def _one_of(choices: tuple[str, ...], reason: str, other: str | None = None) -> Check:
    def check(value: Any, _: dict[str, Any]) -> str | None:
        shown = text(value)
        if not isinstance(shown, str):
            return other if other is not None else f"{{unacceptable_type,{type_name(value)}}}"
        return None if shown in choices else reason

    return check


def _string(value: Any, _: dict[str, Any]) -> str | None:
    if isinstance(text(value), str):
        return None
    return f"{{unacceptable_type,{type_name(value)}}}"


def _dead_letter_routing_key(value: Any, arguments: dict[str, Any]) -> str | None:
    error = _string(value, arguments)
    if error is None and "x-dead-letter-exchange" not in arguments:
        return "routing_key_but_no_dlx_defined"
    return error


def _boolean(value: Any, _: dict[str, Any]) -> str | None:
    return None if isinstance(value, bool) else f"{{unacceptable_type,{type_name(value)}}}"


def _queue_mode(value: Any, _: dict[str, Any]) -> str | None:
    shown = text(value)
    if not isinstance(shown, str):
        return f"{{unacceptable_type,{type_name(value)}}}"
    return None if shown in _QUEUE_MODES else f"\"unsupported queue mode '{shown}'\""


def _queue_version(value: Any, arguments: dict[str, Any]) -> str | None:
    error = _non_negative(value, arguments)
    if error is None and value not in (1, 2):
        return f"\"unsupported queue version '{value}'\""
    return error


def _queue_version_2(value: Any, arguments: dict[str, Any]) -> str | None:
    error = _non_negative(value, arguments)
    if error is None and value != 2:
        return f"\"unsupported queue version '{value}'\""  # 4.3 (spec 0.x.18)
    return error


def _queue_type(value: Any, _: dict[str, Any]) -> str | None:
    shown = text(value)
    if not isinstance(shown, str):
        return f"{{unacceptable_type,{type_name(value)}}}"
    if shown in QUEUE_TYPES or shown in ("", "undefined"):
        return None
    return f"\"unsupported queue type '{shown}'\""


def _max_age(value: Any, _: dict[str, Any]) -> str | None:
    if not isinstance(text(value), str):
        return f"{{unacceptable_type,{type_name(value)}}}"
    return None if parse_max_age(value) is not None else "invalid_max_age"


# every argument RabbitMQ validates, in the order it validates them (spec 11.2)
_DECLARE_CHECKS: tuple[tuple[str, Check], ...] = (
    ("x-expires", _expires),
    ("x-message-ttl", _message_ttl),
    ("x-dead-letter-exchange", _string),
    ("x-dead-letter-routing-key", _dead_letter_routing_key),
    ("x-dead-letter-strategy", _one_of(_DLX_STRATEGIES, "invalid_dlx_strategy")),
    ("x-max-length", _non_negative),
    ("x-max-length-bytes", _non_negative),
    ("x-max-in-memory-length", _non_negative),
    ("x-max-in-memory-bytes", _non_negative),
    ("x-max-priority", _max_priority),
    ("x-overflow", _one_of(_OVERFLOW_MODES, "invalid_overflow")),
    ("x-queue-mode", _queue_mode),
    ("x-queue-version", _queue_version),
    ("x-single-active-consumer", _boolean),
    ("x-consumer-timeout", _non_negative),  # owned by 4.3's quorum queues only (0.x.11)
    ("x-consumer-disconnected-timeout", _non_negative),
    ("x-queue-type", _queue_type),
    ("x-quorum-initial-group-size", _positive),
    ("x-max-age", _max_age),
    ("x-stream-max-segment-size-bytes", _non_negative),
    ("x-stream-filter-size-bytes", _non_negative),
    ("x-initial-cluster-size", _positive),
    ("x-queue-leader-locator", _one_of(_LEADER_LOCATORS, "invalid_queue_locator_arg")),
)


# 4.3 (spec 0.x.18): x-queue-version 2 only, x-queue-mode no longer validated
_DECLARE_CHECKS_4_3: tuple[tuple[str, Check], ...] = tuple(
    (key, _queue_version_2 if key == "x-queue-version" else check)
    for key, check in _DECLARE_CHECKS
    if key != "x-queue-mode"
)


def _declare_checks(version: RabbitMQVersion | None) -> tuple[tuple[str, Check], ...]:
    if version is None:
        return _DECLARE_CHECKS
    if not version.classic_queue_version_1 or not version.queue_mode_validated:
        # the two go together in every modelled version (4.3)
        return _DECLARE_CHECKS_4_3
    return _DECLARE_CHECKS


def _invalid(key: str, where: str, reason: str) -> PreconditionFailed:
    return PreconditionFailed(f"invalid arg '{key}' for {where}: {reason}")


def parse_queue_arguments(
    arguments: dict[str, Any], where: str, version: RabbitMQVersion | None = None
) -> QueueArguments:
    """Validate the arguments of a queue being created (with x-queue-type already
    added, spec 11.3) and parse what its type acts on; 406 on the first bad one.
    ``version``: the broker's RabbitMQ (spec 0.x.11, 0.x.18); None is the default."""
    reason = _queue_type(arguments.get("x-queue-type", "classic"), arguments)
    if reason is not None:
        raise _invalid("x-queue-type", where, reason)
    catalog = _catalog(version)
    queue_type = catalog.types[declared_type(arguments)]
    own = queue_type.queue_arguments
    for key, check in _declare_checks(version):
        if key in own and key in arguments:
            reason = check(arguments[key], arguments)
            if reason is not None:
                raise _invalid(key, where, reason)
    for key in arguments:
        if key in catalog.queue_arguments and key not in own:
            raise PreconditionFailed(
                f"invalid arg '{key}' for {where} of queue type {queue_type.module}"
            )
    return _parsed(QUEUE_TYPES[queue_type.name], arguments)


def _parsed(queue_type: QueueType, arguments: dict[str, Any]) -> QueueArguments:
    def get(key: str) -> Any:
        return arguments.get(key) if key in queue_type.queue_arguments else None

    parsed = QueueArguments(queue_type=queue_type.name)
    parsed.expires = get("x-expires")
    parsed.message_ttl = get("x-message-ttl")
    parsed.max_length = get("x-max-length")
    parsed.max_length_bytes = get("x-max-length-bytes")
    parsed.max_priority = get("x-max-priority")
    if get("x-overflow") is not None:
        parsed.overflow = text(arguments["x-overflow"])
        parsed.overflow_declared = True
    parsed.single_active_consumer = get("x-single-active-consumer") is True
    if get("x-dead-letter-exchange") is not None:
        parsed.dead_letter_exchange = text(arguments["x-dead-letter-exchange"])
    if get("x-dead-letter-routing-key") is not None:
        parsed.dead_letter_routing_key = text(arguments["x-dead-letter-routing-key"])
    if arguments.get("x-consumer-timeout") is not None:
        # known to no queue type in 4.2, so neither validated nor compared; the
        # channel's timeout reads it (spec 0.8, 11.30); a non-integer never acts
        timeout = arguments["x-consumer-timeout"]
        parsed.consumer_timeout_ms = int(timeout) if is_int(timeout) else math.inf
    if queue_type is QUORUM:
        limit = arguments.get("x-delivery-limit")
        # not validated: a non-integer means the default, a negative one none (spec 11.8, 11.11)
        if is_int(limit):
            parsed.delivery_limit = None if limit < 0 else int(limit)
            parsed.delivery_limit_declared = True
        if get("x-dead-letter-strategy") is not None:
            parsed.dead_letter_strategy = text(arguments["x-dead-letter-strategy"])
            parsed.dead_letter_strategy_declared = True
    elif queue_type is STREAM:
        if get("x-max-age") is not None:
            parsed.max_age_ms = parse_max_age(arguments["x-max-age"])
        if get("x-stream-max-segment-size-bytes") is not None:
            parsed.segment_size_bytes = int(arguments["x-stream-max-segment-size-bytes"])
        if get("x-stream-filter-size-bytes") is not None:
            parsed.filter_size_bytes = int(arguments["x-stream-filter-size-bytes"])
    return parsed


# the text of RabbitMQ's denied deprecated feature (rabbit_deprecated_features, phase
# denied_by_default), which 4.3 sends as a 541 connection close (spec 0.x.3)
_TRANSIENT_NONEXCLUSIVE_DENIED = (
    "Feature `transient_nonexcl_queues` is deprecated.\n"
    "By default, this feature is not permitted anymore.\n"
    "The feature will be removed from a future major RabbitMQ version, regardless of "
    "the configuration; actual version to be determined.\n"
    "To continue using this feature when it is not permitted by default, set the "
    "following parameter in your configuration:\n"
    '    "deprecated_features.permit.transient_nonexcl_queues = true"'
)


def check_transient_nonexclusive(version: RabbitMQVersion, durable: bool, exclusive: bool) -> None:
    """4.3 refuses to create a queue that is neither durable nor exclusive: 541, closing
    the connection, after the argument checks and before ``check_properties`` (spec
    0.2, 0.x.3), so a non-durable quorum queue or stream gets this and not 406."""
    if not durable and not exclusive and not version.transient_nonexclusive_queues:
        raise InternalError(_TRANSIENT_NONEXCLUSIVE_DENIED)


def check_properties(
    queue_type: QueueType, where: str, durable: bool, exclusive: bool, auto_delete: bool
) -> None:
    """Quorum queues and streams are durable, shared and lasting (spec 11.4, 12.1);
    then a stream's own limits (12.2)."""
    if not queue_type.replicated:
        return
    for bad, prop in ((auto_delete, "auto-delete"), (exclusive, "exclusive-owner")):
        if bad:
            raise PreconditionFailed(f"invalid property '{prop}' for {where}")
    if not durable:
        raise PreconditionFailed(f"invalid property 'non-durable' for {where}")


def check_stream_limits(arguments: dict[str, Any]) -> None:
    """A stream's segment and filter sizes (spec 12.2), after the property checks."""
    segment = arguments.get("x-stream-max-segment-size-bytes")
    if segment is not None and segment > 3_000_000_000:
        raise PreconditionFailed("Exceeded max value for x-stream-max-segment-size-bytes")
    if "x-stream-filter-size-bytes" in arguments:
        size = arguments["x-stream-filter-size-bytes"]
        if not is_int(size):
            raise PreconditionFailed("Invalid type for x-stream-filter-size-bytes")
        if not 16 <= size <= 255:
            raise PreconditionFailed("Invalid value for x-stream-filter-size-bytes")


# spec 11.28: what a redeclare as "classic" compares on a quorum queue with
# quorum_relaxed_checks_on_redeclaration = true
RELAXED_QUORUM_KEYS = (
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-expires",
    "x-max-length",
    "x-max-length-bytes",
    "x-single-active-consumer",
    "x-message-ttl",
)


def equivalence_keys(
    queue_type_name: str, version: RabbitMQVersion | None = None
) -> tuple[str, ...]:
    """The arguments compared on redeclare: the type's own (spec 2.3, 11.27) in
    ``version`` (None: the default)."""
    found = _catalog(version).types.get(queue_type_name, CLASSIC)
    return found.queue_arguments


def check_consume_arguments(
    queue_type: QueueType,
    arguments: dict[str, Any],
    where: str,
    version: RabbitMQVersion | None = None,
) -> None:
    """basic.consume arguments: the type's own are validated, another type's refused
    (spec 11.10, 12.4); ``x-stream-offset`` values are checked by the stream.
    ``version``: the broker's RabbitMQ (4.3's quorum queues own ``x-consumer-timeout``,
    which the other types then refuse, spec 0.x.11); None is the default."""
    catalog = _catalog(version)
    own = catalog.types.get(queue_type.name, queue_type).consumer_arguments
    if "x-priority" in own and "x-priority" in arguments:
        priority = arguments["x-priority"]
        if not is_int(priority):
            raise _invalid("x-priority", where, f'"expected integer, got {type_name(priority)}"')
    if "x-consumer-timeout" in own and "x-consumer-timeout" in arguments:
        reason = _non_negative(arguments["x-consumer-timeout"], arguments)  # 4.3 (11.7)
        if reason is not None:
            raise _invalid("x-consumer-timeout", where, reason)
    for key in arguments:
        if key in catalog.consumer_arguments and key not in own:
            raise PreconditionFailed(
                f"invalid arg '{key}' for {where} of queue type {queue_type.module}"
            )
