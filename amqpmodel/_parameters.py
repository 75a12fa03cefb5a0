"""Runtime parameters: (vhost, component, name) → JSON value settings that plugins act on.

RabbitMQ keeps plugin configuration set at run time (shovels, federation
upstreams, vhost limits) as runtime parameters: ``rabbitmqctl set_parameter
[-p vhost] component name value``. Each component is owned by a plugin, which
validates a value before it is stored and is told when one is set (changed)
or cleared (RabbitMQ's ``rabbit_runtime_parameter`` behaviour,
``rabbit_runtime_parameters.erl``). Here the plugin is a driver: it registers
a ``ParameterComponent`` (``amqpmodel.driver.register_parameter_component``)
and its hooks run on the thread that set or cleared the parameter, outside the
broker lock, so they may start or stop threads.

The components bundled with amqpmodel (``shovel``) register themselves when
first named, as an enabled RabbitMQ plugin is there from the start; a
component nobody registered is refused with RabbitMQ's "component x not
found". Values are kept as a private JSON copy; they are not stored in a data
directory yet.
"""

from __future__ import annotations

import importlib
import json
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import NotFound, _Report

if TYPE_CHECKING:
    from ._broker import Broker

__all__ = [
    "ParameterComponent",
    "ParameterError",
    "ParameterListener",
    "Parameters",
    "erlang_term",
    "parameter_component",
    "register_parameter_component",
    "validation_failed",
]

# what a parameter listener is told: ("set" | "clear", vhost, component, name, value or None)
ParameterListener = Callable[[str, str, str, str, Any], None]


class ParameterError(_Report, ValueError):
    """``set_parameter`` or ``clear_parameter`` refused, with RabbitMQ's text.

    ``reason`` is the whole text RabbitMQ returns (``rabbitmqctl`` prints it,
    the management API sends it as the 400 reason): for a rejected value
    "Validation failed\\n\\n" and one line per error (``errors``), as
    ``rabbit_runtime_parameters:format_error`` builds it; for a clear of
    something not set, "Parameter does not exist". Not from AMQP: ``reply_code``
    is 0. Also a ``ValueError``.
    """

    def __init__(self, reason: str, errors: list[str] | None = None) -> None:
        super().__init__(0, reason)
        self.reason = reason
        self.errors = list(errors) if errors is not None else [reason]
        self.args = (reason,)

    def __str__(self) -> str:
        return self.reason


def validation_failed(errors: list[str]) -> ParameterError:
    """The error for a value a component refused (``format_error``: a header line,
    an empty line, then each error on its own line)."""
    return ParameterError("Validation failed\n\n" + "".join(f"{e}\n" for e in errors), errors)


class ParameterComponent:
    """A runtime-parameter component: what a plugin answers for its parameters.

    Subclass it, name the component (``name = "shovel"``) and register one
    instance with ``register_parameter_component``. Every hook receives the
    broker, so one instance serves every broker in the process. Hooks run
    outside the broker lock on the caller's thread; ``notify`` and
    ``notify_clear`` run after the change is visible in ``list_parameters``.
    """

    name: str = ""

    def validate(self, broker: Broker, vhost: str, name: str, value: Any) -> list[str]:
        """The errors in ``value`` (RabbitMQ's texts), empty when it may be set."""
        return []

    def notify(self, broker: Broker, vhost: str, name: str, value: Any) -> None:
        """A parameter was set, or set to a different value (not called when the new
        value equals the old one, as RabbitMQ)."""

    def notify_clear(self, broker: Broker, vhost: str, name: str) -> None:
        """A parameter was cleared (by ``clear_parameter`` or with its vhost)."""

    def broker_closing(self, broker: Broker) -> None:
        """``broker.close()`` has begun: stop whatever runs for this broker, before its
        connections are closed."""


_COMPONENTS: dict[str, ParameterComponent] = {}
# components shipped as drivers of this package, imported the first time they are named
_BUNDLED = {"shovel": "amqpmodel.shovel"}


def register_parameter_component(component: ParameterComponent) -> None:
    """Make ``component.name`` a known component in this process (replacing any)."""
    if not component.name:
        raise ValueError("a parameter component needs a name")
    _COMPONENTS[component.name] = component


def parameter_component(name: str) -> ParameterComponent | None:
    """The registered component called ``name`` (importing a bundled one), or None."""
    component = _COMPONENTS.get(name)
    if component is None and name in _BUNDLED:
        importlib.import_module(_BUNDLED[name])
        component = _COMPONENTS.get(name)
    return component


_MISSING: Any = object()


def _json_copy(value: Any) -> Any:
    """A private copy of a JSON value (tuples become lists); anything else is refused."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ParameterError(f"Could not parse JSON document: {error}") from None


def _same(a: Any, b: Any) -> bool:
    # 1, 1.0 and true are equal in Python but not in JSON
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


class Parameters:
    """One broker's runtime parameters, and whom to tell when they change."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._guard = threading.Lock()  # the table only; hooks run without it
        self._values: dict[tuple[str, str, str], Any] = {}
        self._listeners: list[ParameterListener] = []

    def set(self, component: str, name: str, value: Any, vhost: str) -> None:
        if component == "policy":
            raise ParameterError("policies may not be set using this method")
        for what, text in (("component", component), ("name", name), ("vhost", vhost)):
            if not isinstance(text, str):
                raise TypeError(f"a parameter's {what} is a str, not {type(text).__name__}")
        copy = _json_copy(value)
        handler = parameter_component(component)
        if handler is None:
            raise validation_failed([f"component {component} not found"])
        if vhost not in self._broker.vhosts:
            raise NotFound(f"no vhost '{vhost}'")
        errors = handler.validate(self._broker, vhost, name, copy)
        if errors:
            raise validation_failed(errors)
        key = (vhost, component, name)
        with self._guard:
            old = self._values.get(key, _MISSING)
            self._values[key] = copy
        if old is not _MISSING and _same(old, copy):
            return
        self._stored(key, copy)
        for listener in list(self._listeners):
            listener("set", vhost, component, name, _json_copy(copy))
        handler.notify(self._broker, vhost, name, _json_copy(copy))

    def clear(self, component: str, name: str, vhost: str) -> None:
        if component == "policy":
            raise ParameterError("policies may not be cleared using this method")
        with self._guard:
            value = self._values.pop((vhost, component, name), _MISSING)
        if value is _MISSING:
            raise ParameterError("Parameter does not exist")
        self._stored((vhost, component, name), None)
        self._cleared(vhost, component, name)

    def _stored(self, key: tuple[str, str, str], value: Any) -> None:
        """Record a set (or a clear: None) for a store, as RabbitMQ keeps parameters."""
        broker = self._broker
        with broker._lock:
            journal = broker._journal
            if journal is not None:
                vhost, component, name = key
                record = None
                if value is not None:
                    record = {"vhost": vhost, "component": component, "name": name, "value": value}
                journal.access_changed("parameter", key, record)
                journal.sync_entities()

    def _cleared(self, vhost: str, component: str, name: str) -> None:
        for listener in list(self._listeners):
            listener("clear", vhost, component, name, None)
        handler = _COMPONENTS.get(component)
        if handler is not None:
            handler.notify_clear(self._broker, vhost, name)

    def list(self, component: str | None, vhost: str | None) -> list[dict[str, Any]]:
        with self._guard:
            items = sorted(self._values.items(), key=lambda item: item[0])
        return [
            {"vhost": v, "component": c, "name": n, "value": _json_copy(value)}
            for (v, c, n), value in items
            if (component is None or c == component) and (vhost is None or v == vhost)
        ]

    def vhost_deleted(self, vhost: str) -> None:
        """A deleted vhost takes its parameters with it (``clear_vhost``), each cleared."""
        with self._guard:
            keys = sorted(key for key in self._values if key[0] == vhost)
            for key in keys:
                del self._values[key]
        for v, component, name in keys:
            self._stored((v, component, name), None)
            self._cleared(v, component, name)

    def add_listener(self, listener: ParameterListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: ParameterListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def broker_closing(self) -> None:
        for component in list(_COMPONENTS.values()):
            component.broker_closing(self._broker)


# ---------------------------------------------------------------------- Erlang's ~tp


def erlang_term(value: Any) -> str:
    """A decoded JSON value as Erlang's ``~tp`` prints it in RabbitMQ's validation
    texts: strings as binaries (``<<"x">>``), ``null`` as the atom null, objects as
    maps with their keys in Erlang's order (``#{<<"a">> => 1}``)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _erlang_float(value)
    if isinstance(value, str):
        return _erlang_binary(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(erlang_term(item) for item in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: str(item[0]).encode("utf-8"))
        return "#{" + ",".join(f"{erlang_term(k)} => {erlang_term(v)}" for k, v in items) + "}"
    return repr(value)


def erlang_proplist(items: list[tuple[str, Any]]) -> str:
    """``[{<<"key">>,value},...]``: what RabbitMQ prints for unrecognised keys."""
    return "[" + ",".join(f"{{{erlang_term(k)},{erlang_term(v)}}}" for k, v in items) + "]"


def _erlang_binary(text: str) -> str:
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\t":
            escaped.append("\\t")
        elif ord(char) < 32:
            escaped.append(f"\\{ord(char):o}")
        else:
            escaped.append(char)
    body = "".join(escaped)
    return f'<<"{body}"/utf8>>' if any(ord(c) > 127 for c in text) else f'<<"{body}">>'


def _erlang_float(value: float) -> str:
    """Erlang's shortest round-trip form: the shorter of plain and scientific
    notation (plain on a tie), always with a fraction digit."""
    if not math.isfinite(value):
        return repr(value)
    digits, exponent = _shortest_digits(value)
    sign = "-" if value < 0 else ""
    point = exponent + 1  # position of the decimal point after the first digit
    if point <= 0:
        plain = "0." + "0" * -point + digits
    elif point >= len(digits):
        plain = digits + "0" * (point - len(digits)) + ".0"
    else:
        plain = digits[:point] + "." + digits[point:]
    scientific = digits[0] + "." + (digits[1:] or "0") + f"e{exponent}"
    return sign + (plain if len(plain) <= len(scientific) else scientific)


def _shortest_digits(value: float) -> tuple[str, int]:
    """The significant digits of repr(abs(value)) and the decimal exponent of the first."""
    text = repr(abs(value))
    if value == 0:
        return "0", 0
    if "e" in text:
        mantissa, _, exp_text = text.partition("e")
        return mantissa.replace(".", "").rstrip("0") or "0", int(exp_text)
    whole, _, fraction = text.partition(".")
    if whole.strip("0"):
        exponent = len(whole.lstrip("0")) - 1
    else:
        exponent = -(len(fraction) - len(fraction.lstrip("0")) + 1)
    digits = (whole + fraction).lstrip("0").rstrip("0") or "0"
    return digits, exponent
