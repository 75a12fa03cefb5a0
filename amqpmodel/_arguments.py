"""Queue and exchange declare arguments: validation at creation (spec 2.7) and equivalence (1.7, 2.3)."""

from __future__ import annotations

import math
from typing import Any

import attrs

from ._errors import PreconditionFailed

__all__ = [
    "QueueArguments",
    "check_exchange_equivalent",
    "check_queue_equivalent",
    "parse_queue_arguments",
    "type_name",
]

MAX_TTL_MS = 315_360_000_000  # ten years, spec 2.7 and 3.2

_OVERFLOW_MODES = ("drop-head", "reject-publish", "reject-publish-dlx")
_QUEUE_MODES = ("default", "lazy")

# arguments that belong to quorum queues or streams: a classic queue refuses them (spec 2.7)
_OTHER_QUEUE_TYPE_ARGUMENTS = frozenset(
    {
        "x-delivery-limit",
        "x-dead-letter-strategy",
        "x-quorum-initial-group-size",
        "x-quorum-target-group-size",
        "x-max-age",
        "x-stream-max-segment-size-bytes",
        "x-stream-filter-size-bytes",
        "x-initial-cluster-size",
        "x-max-in-memory-length",
        "x-max-in-memory-bytes",
    }
)

# arguments compared on redeclare (spec 2.3); others are ignored
_EQUIVALENCE_KEYS = (
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
)


@attrs.define(slots=True)
class QueueArguments:
    """The arguments a classic queue acts on, parsed once at declare time."""

    message_ttl: int | None = None
    expires: int | None = None
    dead_letter_exchange: str | None = None
    dead_letter_routing_key: str | None = None
    max_length: int | None = None
    max_length_bytes: int | None = None
    overflow: str = "drop-head"
    max_priority: int | None = None
    single_active_consumer: bool = False
    # x-consumer-timeout (spec 0.8, RabbitMQ 3.12-4.2 on classic queues): None
    # when absent (the broker's timeout applies), else milliseconds; infinite
    # for a value that is not an integer, which RabbitMQ accepts and never acts on
    consumer_timeout_ms: float | None = None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else value


def parse_queue_arguments(arguments: dict[str, Any], where: str) -> QueueArguments:
    """Validate the arguments of a queue being created; 406 "invalid arg" on the first bad one."""

    def invalid(key: str, reason: str) -> PreconditionFailed:
        return PreconditionFailed(f"invalid arg '{key}' for {where}: {reason}")

    def integer(key: str, minimum: int, maximum: int | None = None) -> int | None:
        if key not in arguments:
            return None
        value = arguments[key]
        if not _is_int(value):
            raise invalid(key, f'"expected integer, got {type_name(value)}"')
        if value < minimum:
            kind = "value_zero" if value == 0 else "value_negative"
            raise invalid(key, f"{{{kind},{value}}}")
        if maximum is not None and value > maximum:
            if key == "x-max-priority":
                raise invalid(key, f"{{max_value_exceeded,{value}}}")
            raise invalid(key, f"{{value_too_large,{value},{maximum}}}")
        return int(value)

    for key in arguments:
        if key in _OTHER_QUEUE_TYPE_ARGUMENTS:
            raise PreconditionFailed(
                f"invalid arg '{key}' for {where} of queue type rabbit_classic_queue"
            )
    queue_type = _text(arguments.get("x-queue-type", "classic"))
    if queue_type != "classic":
        raise invalid(
            "x-queue-type",
            f"queue type {queue_type!r} is not supported (amqpmodel has classic queues)",
        )
    parsed = QueueArguments()
    parsed.expires = integer("x-expires", 1, MAX_TTL_MS)
    parsed.message_ttl = integer("x-message-ttl", 0, MAX_TTL_MS)
    parsed.max_length = integer("x-max-length", 0)
    parsed.max_length_bytes = integer("x-max-length-bytes", 0)
    parsed.max_priority = integer("x-max-priority", 0, 255)
    if "x-overflow" in arguments:
        overflow = _text(arguments["x-overflow"])
        if overflow not in _OVERFLOW_MODES:
            raise invalid("x-overflow", "invalid_overflow")
        parsed.overflow = overflow
    if "x-queue-mode" in arguments:
        # RabbitMQ 3.x-4.2 check the mode although classic queues v2 ignore it
        mode = arguments["x-queue-mode"]
        if not isinstance(mode, (str, bytes)):
            raise invalid("x-queue-mode", f"{{unacceptable_type,{type_name(mode)}}}")
        if _text(mode) not in _QUEUE_MODES:
            raise invalid("x-queue-mode", f"\"unsupported queue mode '{_text(mode)}'\"")
    if "x-single-active-consumer" in arguments:
        sac = arguments["x-single-active-consumer"]
        if not isinstance(sac, bool):
            raise invalid("x-single-active-consumer", f"{{unacceptable_type,{type_name(sac)}}}")
        parsed.single_active_consumer = sac
    if "x-dead-letter-exchange" in arguments:
        dlx = _text(arguments["x-dead-letter-exchange"])
        if not isinstance(dlx, str):
            raise invalid("x-dead-letter-exchange", f"{{unacceptable_type,{type_name(dlx)}}}")
        parsed.dead_letter_exchange = dlx
    if "x-dead-letter-routing-key" in arguments:
        dlrk = _text(arguments["x-dead-letter-routing-key"])
        if not isinstance(dlrk, str):
            raise invalid("x-dead-letter-routing-key", f"{{unacceptable_type,{type_name(dlrk)}}}")
        if parsed.dead_letter_exchange is None:
            raise invalid("x-dead-letter-routing-key", "routing_key_but_no_dlx_defined")
        parsed.dead_letter_routing_key = dlrk
    if arguments.get("x-consumer-timeout") is not None:
        # not validated (RabbitMQ 4.2 neither validates nor compares it on redeclare)
        timeout = arguments["x-consumer-timeout"]
        parsed.consumer_timeout_ms = int(timeout) if _is_int(timeout) else math.inf
    return parsed


# RabbitMQ's names of the integer field types other than 'I' (signedint)
_TAGGED_TYPE_NAMES = {
    b"b": "byte",
    b"B": "unsignedbyte",
    b"s": "short",
    b"u": "unsignedshort",
    b"i": "unsignedint",
    b"l": "long",
    b"L": "long",
}


def type_name(value: Any) -> str:
    """The AMQP field type RabbitMQ names for a value, as pika would encode it."""
    if value is None:
        return "void"
    if isinstance(value, bool):
        return "bool"
    tagged = _TAGGED_TYPE_NAMES.get(getattr(value, "amqp_tag", b""))
    if tagged is not None:  # an integer that arrived on the wire with a narrower type
        return tagged
    if isinstance(value, int):
        return "signedint" if -(2**31) <= value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, (str, bytes)):
        return "longstr"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def _shown(value: Any) -> str:
    shown = _text(value)
    return str(shown).lower() if isinstance(shown, bool) else str(shown)


def _describe(value: Any) -> str:
    if value is None:
        return "none"
    return f"the value '{_shown(value)}' of type '{type_name(value)}'"


def _same(a: Any, b: Any) -> bool:
    a, b = _text(a), _text(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_int(a) and _is_int(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def check_queue_equivalent(
    where: str,
    current: tuple[bool, bool, dict[str, Any]],
    received: tuple[bool, bool, dict[str, Any]],
) -> None:
    """406 unless (durable, auto_delete, arguments) agree with the existing queue (spec 2.3)."""
    for field, now, new in (
        ("durable", current[0], received[0]),
        ("auto_delete", current[1], received[1]),
    ):
        if now != new:
            raise PreconditionFailed(
                f"inequivalent arg '{field}' for {where}: received '{str(new).lower()}' but current is '{str(now).lower()}'"
            )
    current_args, received_args = current[2], received[2]
    for key in _EQUIVALENCE_KEYS:
        now_value = current_args.get(key)
        new_value = received_args.get(key)
        if key == "x-queue-type":
            now_value = now_value if now_value is not None else "classic"
            new_value = new_value if new_value is not None else "classic"
        if now_value is None and new_value is None:
            continue
        if now_value is None or new_value is None:
            raise PreconditionFailed(
                f"inequivalent arg '{key}' for {where}: received {_describe(new_value)} but current is {_describe(now_value)}"
            )
        if not _same(now_value, new_value):
            raise PreconditionFailed(
                f"inequivalent arg '{key}' for {where}: received '{_shown(new_value)}' but current is '{_shown(now_value)}'"
            )


def check_exchange_equivalent(
    where: str,
    current: tuple[str, bool, bool, bool, Any],
    received: tuple[str, bool, bool, bool, Any],
) -> None:
    """406 unless type, durable, auto_delete, internal and alternate-exchange agree (spec 1.7)."""
    for field, now, new in zip(
        ("type", "durable", "auto_delete", "internal"), current, received, strict=False
    ):
        if now != new:
            shown_new = str(new).lower() if isinstance(new, bool) else new
            shown_now = str(now).lower() if isinstance(now, bool) else now
            raise PreconditionFailed(
                f"inequivalent arg '{field}' for {where}: received '{shown_new}' but current is '{shown_now}'"
            )
    now_ae, new_ae = current[4], received[4]
    if (now_ae is None) != (new_ae is None):
        raise PreconditionFailed(
            f"inequivalent arg 'alternate-exchange' for {where}: received {_describe(new_ae)} but current is {_describe(now_ae)}"
        )
    if now_ae is not None and not _same(now_ae, new_ae):
        raise PreconditionFailed(
            f"inequivalent arg 'alternate-exchange' for {where}: received '{_shown(new_ae)}' but current is '{_shown(now_ae)}'"
        )
