"""``Broker``'s policy verbs, named as rabbitmqctl's (spec 14): set_policy, clear_policy,
set_operator_policy, clear_operator_policy, list_policies, list_operator_policies.

Kept out of ``_broker.py``; the methods are assigned onto ``Broker`` there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import NotFound
from ._parameters import ParameterError
from ._policies import Policy, apply_all, validate_policy

if TYPE_CHECKING:
    from ._broker import Broker
    from ._vhost import VirtualHost

__all__ = [
    "clear_operator_policy",
    "clear_policy",
    "list_operator_policies",
    "list_policies",
    "restore_policy",
    "set_operator_policy",
    "set_policy",
]


def _vhost(broker: Broker, name: str) -> VirtualHost:
    vhost = broker.vhosts.get(name)
    if vhost is None:
        raise NotFound(f"no vhost '{name}'")
    return vhost


def _set(broker: Broker, policy_args: tuple[Any, ...], vhost_name: str, operator: bool) -> None:
    with broker._lock:
        broker.tick()
        vhost = _vhost(broker, vhost_name)
        name, pattern, definition, priority, apply_to = policy_args
        policy = validate_policy(
            vhost_name, name, pattern, definition, priority, apply_to, operator
        )
        table = vhost.operator_policies if operator else vhost.policies
        table[name] = policy  # a set with the same name replaces it (14.1)
        if broker._journal is not None:
            broker._journal.policy_changed(policy, operator, True)
        apply_all(vhost)  # spec 14.14
        if broker._journal is not None:
            broker._journal.sync_entities()


def _clear(broker: Broker, name: str, vhost_name: str, operator: bool) -> None:
    with broker._lock:
        broker.tick()
        vhost = _vhost(broker, vhost_name)
        table = vhost.operator_policies if operator else vhost.policies
        policy = table.pop(name, None)
        if policy is None:
            raise ParameterError("Parameter does not exist")
        if broker._journal is not None:
            broker._journal.policy_changed(policy, operator, False)
        apply_all(vhost)
        if broker._journal is not None:
            broker._journal.sync_entities()


def set_policy(
    self: Broker,
    name: str,
    pattern: str,
    definition: dict[str, Any],
    priority: int = 0,
    apply_to: str = "all",
    vhost: str = "/",
) -> None:
    """Set a policy, as ``rabbitmqctl set_policy -p vhost --priority P --apply-to A
    name pattern definition``; a refused one raises ``ParameterError`` with RabbitMQ's
    text (spec 14.7, 14.8). Every queue and exchange of the vhost is matched again."""
    _set(self, (name, pattern, definition, priority, apply_to), vhost, operator=False)


def clear_policy(self: Broker, name: str, vhost: str = "/") -> None:
    """Remove a policy (``rabbitmqctl clear_policy``); ``ParameterError`` if unknown."""
    _clear(self, name, vhost, operator=False)


def set_operator_policy(
    self: Broker,
    name: str,
    pattern: str,
    definition: dict[str, Any],
    priority: int = 0,
    apply_to: str = "all",
    vhost: str = "/",
) -> None:
    """Set an operator policy (``rabbitmqctl set_operator_policy``): only the keys of
    spec 14.9, merged with the policy in force as 14.10 says."""
    _set(self, (name, pattern, definition, priority, apply_to), vhost, operator=True)


def clear_operator_policy(self: Broker, name: str, vhost: str = "/") -> None:
    """Remove an operator policy (``rabbitmqctl clear_operator_policy``)."""
    _clear(self, name, vhost, operator=True)


def _listed(broker: Broker, vhost: str | None, operator: bool) -> list[dict[str, Any]]:
    with broker._lock:
        hosts = [_vhost(broker, vhost)] if vhost is not None else list(broker.vhosts.values())
        return [
            policy.as_dict()
            for host in hosts
            for policy in sorted(
                (host.operator_policies if operator else host.policies).values(),
                key=lambda p: p.name,
            )
        ]


def list_policies(self: Broker, vhost: str | None = None) -> list[dict[str, Any]]:
    """The policies (of one vhost, or all), as ``rabbitmqctl list_policies`` shows them."""
    return _listed(self, vhost, operator=False)


def list_operator_policies(self: Broker, vhost: str | None = None) -> list[dict[str, Any]]:
    """The operator policies (``rabbitmqctl list_operator_policies``)."""
    return _listed(self, vhost, operator=True)


def restore_policy(broker: Broker, policy: dict[str, Any], operator: bool) -> None:
    """A policy read back by a store, before the entities it applies to (spec 22.23)."""
    vhost = broker.vhosts.get(policy["vhost"])
    if vhost is None:
        return
    restored: Policy = validate_policy(
        policy["vhost"],
        policy["name"],
        policy["pattern"],
        policy["definition"],
        policy["priority"],
        policy["apply-to"],
        operator,
    )
    (vhost.operator_policies if operator else vhost.policies)[restored.name] = restored
