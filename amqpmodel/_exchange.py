"""Exchanges, bindings, the exchange type registry and the built-in types (direct, fanout, topic, headers).

An exchange type only answers "which destinations do these routing keys and
headers reach through my bindings?"; following exchange-to-exchange bindings
and alternate exchanges is the virtual host's job (spec 1.21-1.24). The
plugin types (x-delayed-message, x-consistent-hash, x-random,
x-local-random, spec 13) live in their own modules and register themselves
here exactly as a user's own type would, through ``register_exchange_type``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, Union

import attrs

from ._arguments import type_name
from ._errors import PreconditionFailed
from ._policies import Policy, effective_definition, exchange_alternate
from ._topic import TopicIndex
from ._version import RabbitMQVersion, rabbitmq_version

if TYPE_CHECKING:
    from ._properties import Message
    from ._queue import Queue
    from ._vhost import VirtualHost

__all__ = [
    "Binding",
    "Exchange",
    "ExchangeType",
    "ExchangeTypeBase",
    "exchange_type_known",
    "freeze_arguments",
    "register_exchange_type",
]

Destination = Union["Queue", "Exchange"]


def freeze_arguments(value: Any) -> Hashable:
    """A hashable image of an AMQP field value, type included (binding identity, spec 1.22)."""
    if isinstance(value, dict):
        return ("table", tuple(sorted((k, freeze_arguments(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(freeze_arguments(v) for v in value))
    return (type(value).__name__, value)


@attrs.frozen(slots=True)
class Binding:
    """A binding as ``rabbitmqctl list_bindings`` shows it."""

    source: str
    destination: str
    destination_type: str  # "queue" or "exchange"
    routing_key: str
    arguments: dict[str, Any] = attrs.field(factory=dict, eq=False, hash=False)


class ExchangeType(Protocol):
    """What an exchange type implements; register new ones with ``register_exchange_type``.

    One instance per exchange (the factory is called for each declare). The
    four methods below are required; ``ExchangeTypeBase`` documents the
    optional hooks (declare-argument validation, destination validation, a
    type that holds messages, deletion) that the registry looks up once, when
    an exchange is created, so a type without them costs nothing.
    """

    def validate_binding(self, routing_key: str, arguments: dict[str, Any]) -> None: ...

    def bind(
        self, destination: Destination, routing_key: str, arguments: dict[str, Any]
    ) -> None: ...

    def unbind(
        self, destination: Destination, routing_key: str, arguments: dict[str, Any]
    ) -> None: ...

    def route(
        self, routing_keys: Sequence[str], headers: dict[str, Any] | None
    ) -> Iterable[Destination]: ...


class ExchangeTypeBase:
    """A convenient base for an exchange type: every hook, doing nothing.

    Subclass it and override ``route``, ``bind`` and ``unbind`` (and the hooks
    you need); a type may also implement the ``ExchangeType`` protocol from
    scratch and define only the hooks it uses.

    Hooks, in the order an exchange meets them:

    - ``declared(exchange)``: once, when the exchange is created (declared or
      recovered), before anyone sees it. Read ``exchange.arguments`` here and
      raise ``PreconditionFailed`` to refuse the declare with 406 (spec 13.2,
      13.14); a redeclare does not call it again (spec 1.7).
    - ``validate_binding(routing_key, arguments)`` and
      ``validate_destination(destination, routing_key, arguments)``: before a
      binding is added; raise ``PreconditionFailed`` to refuse it (13.11, 13.18).
      Then ``validate_binding_for_version(version, routing_key, arguments)``
      with the broker's ``RabbitMQVersion``, for refusals that only some
      RabbitMQ versions make (a topic key with many ``#``, 0.x.13; a
      consistent-hash weight over 10000, 0.x.23).
    - ``route_message(routing_keys, message)``: routes like ``route`` when the
      whole message is at hand (publish, dead-lettering), for a type that
      looks at properties (x-consistent-hash's ``hash-property``, 13.13).
    - ``hold(vhost, exchange, message, routing_keys)``: when a message reaches
      the exchange (from a publish, an exchange-to-exchange binding or
      dead-lettering). Return True to take it out of routing now: it reaches
      no destination through this exchange (the alternate exchange applies)
      and the type becomes responsible for it (x-delayed-message routes it
      later with ``vhost.route_held``). A type that holds messages reports how
      many in ``messages_held`` and checks its own accounting in ``check()``.
    - ``deleted(vhost, exchange)``: the exchange was deleted; what it holds is
      dropped and counted.
    """

    __slots__ = ()

    messages_held: int = 0

    def declared(self, exchange: Exchange) -> None:
        pass

    def validate_binding(self, routing_key: str, arguments: dict[str, Any]) -> None:
        pass

    def validate_destination(
        self, destination: Destination, routing_key: str, arguments: dict[str, Any]
    ) -> None:
        pass

    def validate_binding_for_version(
        self, version: RabbitMQVersion, routing_key: str, arguments: dict[str, Any]
    ) -> None:
        pass

    def bind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        pass

    def unbind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        pass

    def route(
        self, routing_keys: Sequence[str], headers: dict[str, Any] | None
    ) -> Iterable[Destination]:
        return ()

    def deleted(self, vhost: VirtualHost, exchange: Exchange) -> None:
        pass

    def check(self) -> None:
        pass


HoldHook = Callable[["VirtualHost", "Exchange", "Message", Sequence[str]], bool]
RouteMessageHook = Callable[[Sequence[str], "Message"], Iterable[Destination]]


def _add(counts: dict[Destination, int], destination: Destination) -> None:
    counts[destination] = counts.get(destination, 0) + 1


def _remove(counts: dict[Destination, int], destination: Destination) -> None:
    count = counts.get(destination, 0)
    if count > 1:
        counts[destination] = count - 1
    elif count == 1:
        del counts[destination]


class DirectExchangeType:
    """Exact, case-sensitive match of binding key to each routing key (spec 1.12)."""

    __slots__ = ("_by_key",)

    def __init__(self) -> None:
        self._by_key: dict[str, dict[Destination, int]] = {}

    def validate_binding(self, routing_key: str, arguments: dict[str, Any]) -> None:
        pass

    def bind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        _add(self._by_key.setdefault(routing_key, {}), destination)

    def unbind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        counts = self._by_key.get(routing_key)
        if counts is not None:
            _remove(counts, destination)
            if not counts:
                del self._by_key[routing_key]

    def route(
        self, routing_keys: Sequence[str], headers: dict[str, Any] | None
    ) -> Iterable[Destination]:
        if len(routing_keys) == 1:
            return self._by_key.get(routing_keys[0], ())
        found: dict[Destination, None] = {}
        for key in routing_keys:
            found.update(dict.fromkeys(self._by_key.get(key, ())))
        return found


class FanoutExchangeType:
    """Every bound destination; keys ignored (spec 1.12)."""

    __slots__ = ("_destinations",)

    def __init__(self) -> None:
        self._destinations: dict[Destination, int] = {}

    def validate_binding(self, routing_key: str, arguments: dict[str, Any]) -> None:
        pass

    def bind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        _add(self._destinations, destination)

    def unbind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        _remove(self._destinations, destination)

    def route(
        self, routing_keys: Sequence[str], headers: dict[str, Any] | None
    ) -> Iterable[Destination]:
        return self._destinations


class TopicExchangeType:
    """Dot-separated words with ``*`` and ``#`` wildcards, matched by a trie (spec 1.13-1.15)."""

    __slots__ = ("_index",)

    def __init__(self) -> None:
        self._index: TopicIndex[Destination] = TopicIndex()

    def validate_binding(self, routing_key: str, arguments: dict[str, Any]) -> None:
        pass

    def validate_binding_for_version(
        self, version: RabbitMQVersion, routing_key: str, arguments: dict[str, Any]
    ) -> None:
        limit = version.max_topic_hash_wildcards  # spec 0.x.13: 4.3.5+ allows two
        if limit is not None:
            count = routing_key.split(".").count("#")
            if count > limit:
                raise PreconditionFailed(
                    f"Topic binding key '{routing_key}' uses {count} '#' wildcards, "
                    f"at most {limit} are allowed"
                )

    def bind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        self._index.add(routing_key, destination)

    def unbind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        self._index.remove(routing_key, destination)

    def route(
        self, routing_keys: Sequence[str], headers: dict[str, Any] | None
    ) -> Iterable[Destination]:
        if len(routing_keys) == 1:
            return self._index.match(routing_keys[0])
        found: dict[Destination, None] = {}
        for key in routing_keys:
            found.update(dict.fromkeys(self._index.match(key)))
        return found


_X_MATCH_VALUES = ("all", "any", "all-with-x", "any-with-x")
_VOID = object()


def _as_text(value: Any) -> Any:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else value


def _field_equal(a: Any, b: Any) -> bool:
    """AMQP field equality with the type tag ignored among integers (spec 1.19)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and a == b
    a, b = _as_text(a), _as_text(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_field_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_field_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


class _HeadersBinding:
    __slots__ = ("destination", "match_any", "pairs")

    def __init__(self, destination: Destination, arguments: dict[str, Any]) -> None:
        mode = _as_text(arguments.get("x-match", "all"))
        self.destination = destination
        self.match_any = mode.startswith("any")
        keep_x = mode.endswith("-with-x")
        self.pairs = [
            (key, value)
            for key, value in arguments.items()
            if key != "x-match" and (keep_x or not key.startswith("x-"))
        ]

    def matches(self, headers: dict[str, Any] | None) -> bool:
        headers = headers or {}
        if self.match_any:
            return any(self._pair_matches(k, v, headers) for k, v in self.pairs)
        return all(self._pair_matches(k, v, headers) for k, v in self.pairs)

    @staticmethod
    def _pair_matches(key: str, value: Any, headers: dict[str, Any]) -> bool:
        if key not in headers:
            return False
        # a void binding value only asks for the key to be present (spec 1.19)
        return value is None or _field_equal(headers[key], value)


class HeadersExchangeType:
    """Match message headers against binding arguments with ``x-match`` (spec 1.17-1.20)."""

    __slots__ = ("_bindings",)

    def __init__(self) -> None:
        self._bindings: list[tuple[Hashable, _HeadersBinding]] = []

    def validate_binding(self, routing_key: str, arguments: dict[str, Any]) -> None:
        if "x-match" not in arguments:
            return
        value = arguments["x-match"]
        if not isinstance(value, (str, bytes)):
            raise PreconditionFailed(
                f"Invalid x-match field type {type_name(value)} (value {value}); expected longstr"
            )
        if _as_text(value) not in _X_MATCH_VALUES:
            raise PreconditionFailed(
                f'Invalid x-match field value <<"{_as_text(value)}">>; '
                "expected all, any, all-with-x, or any-with-x"
            )

    def bind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        self._bindings.append(
            (
                _binding_identity(destination, routing_key, arguments),
                _HeadersBinding(destination, arguments),
            )
        )

    def unbind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        identity = _binding_identity(destination, routing_key, arguments)
        for i, (existing, _) in enumerate(self._bindings):
            if existing == identity:
                del self._bindings[i]
                return

    def route(
        self, routing_keys: Sequence[str], headers: dict[str, Any] | None
    ) -> Iterable[Destination]:
        found: dict[Destination, None] = {}
        for _, binding in self._bindings:
            if binding.matches(headers):
                found[binding.destination] = None
        return found


def _binding_identity(
    destination: Destination, routing_key: str, arguments: dict[str, Any]
) -> Hashable:
    return (id(destination), routing_key, freeze_arguments(arguments))


ExchangeTypeFactory = Callable[[], ExchangeType]

_EXCHANGE_TYPES: dict[str, ExchangeTypeFactory] = {
    "direct": DirectExchangeType,
    "fanout": FanoutExchangeType,
    "topic": TopicExchangeType,
    "headers": HeadersExchangeType,
}


def register_exchange_type(name: str, factory: ExchangeTypeFactory) -> None:
    """Make ``exchange_declare(exchange_type=name)`` create exchanges routed by ``factory()``.

    ``factory()`` is called once per exchange; what it returns implements
    ``ExchangeType`` and any of the hooks ``ExchangeTypeBase`` documents.
    Registering is process-wide, like enabling a plugin on a node."""
    _EXCHANGE_TYPES[name] = factory


def exchange_type_factory(name: str) -> ExchangeTypeFactory | None:
    return _EXCHANGE_TYPES.get(name)


def exchange_type_known(name: str, version: RabbitMQVersion) -> bool:
    """Whether exchange.declare of that RabbitMQ knows the type: registered here, and
    not x-local-random before 4.0 (spec 0.x.21)."""
    if name == "x-local-random" and not version.local_random_exchange:
        return False
    return name in _EXCHANGE_TYPES


class Exchange:
    """An exchange of a virtual host, with the bindings whose source it is."""

    __slots__ = (
        "alternate_exchange",
        "arguments",
        "auto_delete",
        "declared_alternate_exchange",
        "durable",
        "internal",
        "name",
        "operator_policy",
        "policy",
        "type",
        "vhost_name",
        "_bindings_in",
        "_bindings_out",
        "_hold",
        "_route_message",
        "_router",
        "_special",
        "__weakref__",
    )

    def __init__(
        self,
        name: str,
        type: str,
        *,
        durable: bool = False,
        auto_delete: bool = False,
        internal: bool = False,
        arguments: dict[str, Any] | None = None,
        vhost_name: str = "/",
    ) -> None:
        factory = _EXCHANGE_TYPES[type]
        self.name = name
        self.type = type
        self.durable = durable
        self.auto_delete = auto_delete
        self.internal = internal
        self.arguments: dict[str, Any] = dict(arguments or {})
        alternate = self.arguments.get("alternate-exchange")
        self.alternate_exchange: str | None = (
            _as_text(alternate) if isinstance(alternate, (str, bytes)) else None
        )
        # the argument's; a policy's alternate-exchange applies only without one (14.12)
        self.declared_alternate_exchange = self.alternate_exchange
        self.policy: Policy | None = None  # the policy and operator policy in force (14.19)
        self.operator_policy: Policy | None = None
        self.vhost_name = vhost_name
        self._router: ExchangeType = factory()
        declared = getattr(self._router, "declared", None)
        if declared is not None:
            declared(self)  # may refuse the declare (406): nothing was created yet
        # a type that holds messages (x-delayed-message) or routes by properties;
        # None for the others, so routing them costs one test
        self._hold: HoldHook | None = getattr(self._router, "hold", None)
        self._route_message: RouteMessageHook | None = getattr(self._router, "route_message", None)
        self._special = self._hold is not None or self._route_message is not None
        # identity -> Binding, for bindings where this exchange is the source / destination
        self._bindings_out: dict[Hashable, Binding] = {}
        self._bindings_in: dict[Hashable, Binding] = {}

    @property
    def effective_policy_definition(self) -> dict[str, Any]:
        """The merged definitions of the policy and operator policy in force (14.19)."""
        return effective_definition(self.policy, self.operator_policy)

    def _set_policies(self, policy: Policy | None, operator: Policy | None) -> None:
        """The policies that apply changed (14.14): the alternate exchange may (14.12)."""
        self.policy, self.operator_policy = policy, operator
        self.alternate_exchange = exchange_alternate(self, effective_definition(policy, operator))

    @property
    def bindings(self) -> list[Binding]:
        """Bindings whose source is this exchange, in creation order."""
        return list(self._bindings_out.values())

    @property
    def messages_delayed(self) -> int:
        """Messages this exchange holds to route later (x-delayed-message, spec 13.7);
        0 for a type that holds none."""
        return int(getattr(self._router, "messages_held", 0))

    def route(
        self, routing_keys: Sequence[str], headers: dict[str, Any] | None
    ) -> Iterable[Destination]:
        return self._router.route(routing_keys, headers)

    def _route_with(
        self, vhost: VirtualHost, message: Message, routing_keys: Sequence[str]
    ) -> Iterable[Destination] | None:
        """Route with the whole message at hand; None when this exchange held it."""
        hold = self._hold
        if hold is not None and hold(vhost, self, message, routing_keys):
            return None
        if self._route_message is not None:
            return self._route_message(routing_keys, message)
        return self._router.route(routing_keys, message.properties.headers)

    def _validate_binding(
        self,
        destination: Destination,
        routing_key: str,
        arguments: dict[str, Any],
        version: RabbitMQVersion | None = None,
    ) -> None:
        router = self._router
        router.validate_binding(routing_key, arguments)
        validate_destination = getattr(router, "validate_destination", None)
        if validate_destination is not None:
            validate_destination(destination, routing_key, arguments)
        for_version = getattr(router, "validate_binding_for_version", None)
        if for_version is not None:
            for_version(version or rabbitmq_version(), routing_key, arguments)

    def _deleted(self, vhost: VirtualHost) -> None:
        deleted = getattr(self._router, "deleted", None)
        if deleted is not None:
            deleted(vhost, self)

    def _check(self) -> None:
        check = getattr(self._router, "check", None)
        if check is not None:
            check()

    def __repr__(self) -> str:
        return f"<Exchange {self.name!r} type={self.type} bindings={len(self._bindings_out)}>"

    def _repr_html_(self) -> str:
        from ._inspect import exchange_html

        return exchange_html(self)
