"""Queue and exchange declare arguments: validation at creation (spec 2.7) and equivalence (1.7, 2.3)."""

from __future__ import annotations

from typing import Any, TypeGuard

import attrs

from ._errors import PreconditionFailed

__all__ = [
    "MAX_TTL_MS",
    "QueueArguments",
    "check_exchange_equivalent",
    "check_queue_equivalent",
    "is_int",
    "text",
    "type_name",
]

MAX_TTL_MS = 315_360_000_000  # ten years, spec 2.7 and 3.2


@attrs.define(slots=True)
class QueueArguments:
    """The arguments a queue acts on, parsed once at declare time (see ``_queue_types.py``)."""

    queue_type: str = "classic"
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
    # quorum queues (spec 11.11, 11.18): None is no limit
    delivery_limit: int | None = 20
    dead_letter_strategy: str = "at-most-once"
    # streams (spec 12.3, 12.5)
    max_age_ms: int | None = None
    segment_size_bytes: int = 500_000_000
    filter_size_bytes: int = 16
    # which of the keys a policy yields to were declared (spec 14.11, 14.12)
    overflow_declared: bool = False
    dead_letter_strategy_declared: bool = False
    delivery_limit_declared: bool = False

    @property
    def unlimited(self) -> bool:
        """No TTL and no length limit: publishing needs neither the clock nor limit checks."""
        return self.message_ttl is None and self.max_length is None and self.max_length_bytes is None


def is_int(value: Any) -> TypeGuard[int]:
    """An AMQP integer (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def text(value: Any) -> Any:
    """A longstr as text (values arrive as bytes from some clients)."""
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else value


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
    shown = text(value)
    return str(shown).lower() if isinstance(shown, bool) else str(shown)


def _describe(value: Any) -> str:
    if value is None:
        return "none"
    return f"the value '{_shown(value)}' of type '{type_name(value)}'"


def _same(a: Any, b: Any) -> bool:
    a, b = text(a), text(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if is_int(a) and is_int(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def check_queue_equivalent(
    where: str,
    current: tuple[bool, bool, dict[str, Any]],
    received: tuple[bool, bool, dict[str, Any]],
    keys: tuple[str, ...],
    *,
    missing_queue_type_is_classic: bool = True,
) -> None:
    """406 unless (durable, auto_delete, arguments) agree with the existing queue; only
    ``keys``, the queue type's own arguments, are compared (spec 2.3, 11.27).

    A missing ``x-queue-type`` reads as "classic" (4.0+, where every declare gets
    one, spec 11.3). With ``missing_queue_type_is_classic=False`` (RabbitMQ 3.13, no
    injection) it only equals "classic" and otherwise prints as none (spec 0.x.17)."""
    for field, now, new in (
        ("durable", current[0], received[0]),
        ("auto_delete", current[1], received[1]),
    ):
        if now != new:
            raise PreconditionFailed(
                f"inequivalent arg '{field}' for {where}: received '{str(new).lower()}' but current is '{str(now).lower()}'"
            )
    current_args, received_args = current[2], received[2]
    for key in keys:
        now_value = current_args.get(key)
        new_value = received_args.get(key)
        if key == "x-queue-type":
            if missing_queue_type_is_classic:
                now_value = now_value if now_value is not None else "classic"
                new_value = new_value if new_value is not None else "classic"
            elif (now_value is None) != (new_value is None) and text(
                now_value if now_value is not None else new_value
            ) == "classic":
                continue
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
