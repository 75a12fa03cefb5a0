"""Policies and operator policies (spec 14): validation, matching, and what they make of
a queue's or an exchange's settings.

A policy is stored per vhost (``VirtualHost.policies``, ``.operator_policies``);
matching runs when an entity is created and for every entity of the vhost
whenever a policy changes (14.14). The winner is the highest priority among
those whose pattern matches (unanchored, 14.2), whose apply-to covers the
entity (14.4) and, for a queue, none of whose keys the queue type refuses
(14.5). An entity then works with its declared arguments merged with the
policy's definition, key by key, as RabbitMQ merges them (14.10-14.12).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from ._arguments import QueueArguments, is_int
from ._parameters import erlang_proplist, erlang_term, validation_failed
from ._queue_types import parse_max_age

if TYPE_CHECKING:
    from ._exchange import Exchange
    from ._queue import Queue
    from ._vhost import VirtualHost

__all__ = [
    "APPLY_TO",
    "Policy",
    "apply_all",
    "apply_policies",
    "effective_definition",
    "exchange_alternate",
    "policy_arguments",
    "select",
    "validate_policy",
]

APPLY_TO = ("all", "exchanges", "queues", "classic_queues", "quorum_queues", "streams")
_APPLY_TO_QUEUE_TYPE = {"classic_queues": "classic", "quorum_queues": "quorum", "streams": "stream"}

# keys a queue type does not support: a policy with any of them never matches it (14.5, 14.6)
_HA = ("ha-mode", "ha-params", "ha-sync-mode", "ha-promote-on-shutdown", "ha-promote-on-failure")
UNSUPPORTED: dict[str, frozenset[str]] = {
    "classic": frozenset(
        (
            "max-age",
            "stream-max-segment-size-bytes",
            "initial-cluster-size",
            "delivery-limit",
            "dead-letter-strategy",
            "max-in-memory-length",
            "max-in-memory-bytes",
            "target-group-size",
        )
    ),
    "quorum": frozenset(
        (
            "max-priority",
            "queue-mode",
            *_HA,
            "queue-master-locator",
            "max-age",
            "stream-max-segment-size-bytes",
            "initial-cluster-size",
        )
    ),
    "stream": frozenset(
        (
            "expires",
            "message-ttl",
            "dead-letter-exchange",
            "dead-letter-routing-key",
            "dead-letter-strategy",
            "max-length",
            "max-in-memory-length",
            "max-in-memory-bytes",
            "max-priority",
            "overflow",
            "queue-mode",
            "delivery-limit",
            *_HA,
            "queue-master-locator",
            "target-group-size",
        )
    ),
}


def _integer(minimum: int | None, maximum: int | None, thing: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if (
            is_int(value)
            and (minimum is None or value >= minimum)
            and (maximum is None or value <= maximum)
        ):
            return None
        return f"{erlang_term(value)} is not a valid {thing}"

    return check


def _string(thing: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if isinstance(value, str) else f"{erlang_term(value)} is not a valid {thing}"

    return check


def _one_of(choices: Iterable[Any], thing: str) -> Callable[[Any], str | None]:
    allowed = tuple(choices)

    def check(value: Any) -> str | None:
        ok = any(value == c and type(value) is type(c) for c in allowed)
        return None if ok else f"{erlang_term(value)} is not a valid {thing}"

    return check


def _max_age(value: Any) -> str | None:
    if parse_max_age(value) is not None and isinstance(value, str):
        return None
    return f"{erlang_term(value)} is not a valid max age"


# spec 14.7: each key RabbitMQ's policy validators know, and its check
VALIDATORS: dict[str, Callable[[Any], str | None]] = {
    "alternate-exchange": _string("alternate exchange name"),
    "consumer-timeout": _integer(0, None, "consumer timeout"),
    "dead-letter-exchange": _string("dead letter exchange name"),
    "dead-letter-routing-key": _string("dead letter routing key"),
    "dead-letter-strategy": _one_of(("at-most-once", "at-least-once"), "dead letter strategy"),
    "message-ttl": _integer(0, None, "message TTL"),
    "expires": _integer(1, None, "queue expiry"),
    "max-length": _integer(0, None, "maximum length"),
    "max-length-bytes": _integer(0, None, "maximum length in bytes"),
    "max-in-memory-length": _integer(0, None, "maximum memory in bytes"),
    "max-in-memory-bytes": _integer(0, None, "maximum memory in bytes"),
    "queue-mode": _one_of(("default", "lazy"), "queue-mode value"),
    "queue-version": _one_of((1, 2), "queue-version value"),
    "overflow": _one_of(("drop-head", "reject-publish", "reject-publish-dlx"), "overflow value"),
    "delivery-limit": _integer(None, None, "delivery limit"),
    "max-age": _max_age,
    "stream-max-segment-size-bytes": _integer(0, 3_000_000_000, "segment size"),
    "stream-filter-size-bytes": _integer(16, 255, "filter size. Valid range is 16-255"),
    "queue-leader-locator": _one_of(
        ("client-local", "balanced", "random", "least-leaders"), "queue leader locator value"
    ),
    "initial-cluster-size": _integer(0, None, "cluster size"),
    "target-group-size": _integer(1, None, "target group size"),
}
OPERATOR_KEYS = frozenset(
    (
        "expires",
        "message-ttl",
        "max-length",
        "max-length-bytes",
        "max-in-memory-length",
        "max-in-memory-bytes",
        "delivery-limit",
        "queue-version",
        "overflow",
        "target-group-size",
    )
)


@attrs.frozen
class Policy:
    """A policy or an operator policy of a vhost (spec 14.1, 14.9)."""

    vhost: str
    name: str
    pattern: str
    definition: dict[str, Any]
    priority: int = 0
    apply_to: str = "all"
    regex: re.Pattern[str] = attrs.field(eq=False, repr=False, default=re.compile(""))

    def as_dict(self) -> dict[str, Any]:
        """As ``rabbitmqctl list_policies`` and the management API show it."""
        return {
            "vhost": self.vhost,
            "name": self.name,
            "pattern": self.pattern,
            "apply-to": self.apply_to,
            "definition": dict(self.definition),
            "priority": self.priority,
        }


def validate_policy(
    vhost: str,
    name: str,
    pattern: Any,
    definition: Any,
    priority: Any,
    apply_to: Any,
    operator: bool,
) -> Policy:
    """A validated policy, or ``ParameterError`` with RabbitMQ's text (spec 14.7, 14.8)."""
    if not isinstance(definition, dict) or not definition:
        raise validation_failed(["no policy provided"])
    known = OPERATOR_KEYS if operator else VALIDATORS.keys()
    unknown = [(key, value) for key, value in definition.items() if key not in known]
    if unknown:
        raise validation_failed([f"{erlang_proplist(unknown)} are not recognised policy settings"])
    for key, value in definition.items():
        error = VALIDATORS[key](value)
        if error is not None:
            raise validation_failed([error])
    if not isinstance(pattern, str):
        raise validation_failed(
            [f"pattern should be regular expression but is {erlang_term(pattern)}"]
        )
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise validation_failed(
            [f"pattern should be regular expression but is invalid: {error}"]
        ) from None
    if isinstance(priority, bool) or not isinstance(priority, (int, float)):
        raise validation_failed(
            [f"priority should be a number, actually was {erlang_term(priority)}"]
        )
    if apply_to not in APPLY_TO:
        raise validation_failed(
            [
                f"apply-to '{apply_to}' unrecognised; should be one of: 'queues', "
                "'classic_queues',  'quorum_queues', 'streams', 'exchanges', or 'all'"
            ]
        )
    return Policy(vhost, name, pattern, dict(definition), int(priority), apply_to, regex)


def _applies(policy: Policy, name: str, queue_type: str | None) -> bool:
    """Whether ``policy`` can apply to the entity (14.2, 14.4, 14.5); ``queue_type``
    None for an exchange."""
    apply_to = policy.apply_to
    if queue_type is None:
        if apply_to not in ("all", "exchanges"):
            return False
    else:
        if apply_to == "exchanges":
            return False
        wanted = _APPLY_TO_QUEUE_TYPE.get(apply_to)
        if wanted is not None and wanted != queue_type:
            return False
        unsupported = UNSUPPORTED.get(queue_type, frozenset())
        if any(key in unsupported for key in policy.definition):
            return False
    return policy.regex.search(name) is not None


def select(policies: Iterable[Policy], name: str, queue_type: str | None) -> Policy | None:
    """The policy that applies: the highest priority, then the first name (14.3)."""
    best: Policy | None = None
    for policy in policies:
        if not _applies(policy, name, queue_type):
            continue
        if best is None or (policy.priority, best.name) > (best.priority, policy.name):
            best = policy
    return best


def _merge_value(key: str, value: Any, operator: Any) -> Any:
    """Spec 14.10: a policy's value against the operator policy's."""
    if key == "delivery-limit":
        return max(value, operator) if value < 0 or operator < 0 else min(value, operator)
    if key in ("queue-version", "overflow") or isinstance(operator, bool):
        return operator
    if key == "target-group-size":
        return max(value, operator)
    return min(value, operator)


def effective_definition(policy: Policy | None, operator: Policy | None) -> dict[str, Any]:
    """The merge of the two definitions (14.10, 14.19); {} when neither applies."""
    merged = dict(policy.definition) if policy is not None else {}
    if operator is not None:
        for key, value in operator.definition.items():
            merged[key] = _merge_value(key, merged[key], value) if key in merged else value
    return merged


def _lower(argument: int | None, policy: Any) -> int | None:
    if policy is None:
        return argument
    return int(policy) if argument is None else min(argument, int(policy))


def policy_arguments(
    queue_type: str, declared: QueueArguments, definition: dict[str, Any]
) -> QueueArguments:
    """A queue's settings: its declared arguments with the policy's (14.11, 14.12)."""
    if not definition:
        return declared
    get = definition.get
    args = attrs.evolve(declared)
    if queue_type == "stream":  # the policy wins (12.6)
        if "max-length-bytes" in definition:
            args.max_length_bytes = int(definition["max-length-bytes"])
        if "max-age" in definition:
            args.max_age_ms = parse_max_age(definition["max-age"])
        return args
    args.expires = _lower(declared.expires, get("expires"))
    args.message_ttl = _lower(declared.message_ttl, get("message-ttl"))
    args.max_length = _lower(declared.max_length, get("max-length"))
    args.max_length_bytes = _lower(declared.max_length_bytes, get("max-length-bytes"))
    if "consumer-timeout" in definition:  # the lower of argument and policy (11.30)
        timeout = float(definition["consumer-timeout"])
        own = declared.consumer_timeout_ms
        args.consumer_timeout_ms = timeout if own is None else min(own, timeout)
    declared_keys = _declared_keys(declared)
    if "dead-letter-exchange" not in declared_keys and "dead-letter-exchange" in definition:
        args.dead_letter_exchange = definition["dead-letter-exchange"]
    if "dead-letter-routing-key" not in declared_keys and "dead-letter-routing-key" in definition:
        args.dead_letter_routing_key = definition["dead-letter-routing-key"]
    if "overflow" in definition and (queue_type == "quorum" or "overflow" not in declared_keys):
        args.overflow = definition["overflow"]  # quorum: the policy wins (11.20)
    if queue_type == "quorum":
        if "dead-letter-strategy" not in declared_keys and "dead-letter-strategy" in definition:
            args.dead_letter_strategy = definition["dead-letter-strategy"]
        if "delivery-limit" in definition:
            args.delivery_limit = _delivery_limit(declared, int(definition["delivery-limit"]))
        if args.dead_letter_exchange is None:
            args.dead_letter_routing_key = None  # 11.18: no DLX anywhere, no dead-lettering
    return args


def _declared_keys(declared: QueueArguments) -> set[str]:
    keys = set()
    if declared.dead_letter_exchange is not None:
        keys.add("dead-letter-exchange")
    if declared.dead_letter_routing_key is not None:
        keys.add("dead-letter-routing-key")
    if declared.overflow_declared:
        keys.add("overflow")
    if declared.dead_letter_strategy_declared:
        keys.add("dead-letter-strategy")
    return keys


def _delivery_limit(declared: QueueArguments, policy: int) -> int | None:
    """Spec 11.11: the lower wins, unless either is negative, then the higher."""
    if not declared.delivery_limit_declared:
        return None if policy < 0 else policy
    argument = -1 if declared.delivery_limit is None else declared.delivery_limit
    chosen = max(argument, policy) if argument < 0 or policy < 0 else min(argument, policy)
    return None if chosen < 0 else chosen


def exchange_alternate(exchange: Exchange, definition: dict[str, Any]) -> str | None:
    """The alternate exchange in force: the argument wins over the policy (14.12)."""
    declared: str | None = exchange.declared_alternate_exchange
    if declared is not None:
        return declared
    value = definition.get("alternate-exchange")
    return str(value) if isinstance(value, str) else None


def apply_policies(vhost: VirtualHost, entity: Queue | Exchange) -> None:
    """Match the vhost's policies against one entity and apply the winners (14.3-14.5,
    14.14): at creation, and for every entity when a policy changes."""
    queue_type = getattr(entity, "queue_type", None)  # None: an exchange
    policy = select(vhost.policies.values(), entity.name, queue_type)
    operator = select(vhost.operator_policies.values(), entity.name, queue_type)
    if policy is not entity.policy or operator is not entity.operator_policy:
        entity._set_policies(policy, operator)


def apply_all(vhost: VirtualHost) -> None:
    """A policy of the vhost was set or cleared: match every entity again (14.14)."""
    for exchange in list(vhost.exchanges.values()):
        apply_policies(vhost, exchange)
    for queue in list(vhost.queues.values()):
        if not queue.is_deleted:
            apply_policies(vhost, queue)
