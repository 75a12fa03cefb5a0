"""Runtime parameters (RabbitMQ's set_parameter / clear_parameter / list_parameters), the API
shovels rest on (spec 20.1, 16.4): validation by the component's plugin, RabbitMQ's error
texts, and the hooks through which a driver learns of changes."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import AMQPError, Broker, NotFound, ParameterError
from amqpmodel.driver import (
    ParameterComponent,
    erlang_proplist,
    erlang_term,
    register_parameter_component,
)


class RecordingComponent(ParameterComponent):
    """A component that accepts objects with "ok": true and records every hook call."""

    name = "test-recording"

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def validate(self, broker: Broker, vhost: str, name: str, value: Any) -> list[str]:
        if isinstance(value, dict) and value.get("ok") is True:
            return []
        return [f"{name} is not ok", "a second line"]

    def notify(self, broker: Broker, vhost: str, name: str, value: Any) -> None:
        self.calls.append(("set", vhost, name, value))

    def notify_clear(self, broker: Broker, vhost: str, name: str) -> None:
        self.calls.append(("clear", vhost, name))

    def broker_closing(self, broker: Broker) -> None:
        self.calls.append(("closing",))


@pytest.fixture
def component() -> RecordingComponent:
    recording = RecordingComponent()
    register_parameter_component(recording)
    return recording


@pytest.fixture
def broker() -> Broker:
    return Broker()


def test_set_list_and_clear(broker: Broker, component: RecordingComponent) -> None:
    broker.add_vhost("other")
    broker.set_parameter("test-recording", "b", {"ok": True, "n": 1})
    broker.set_parameter("test-recording", "a", {"ok": True}, vhost="other")
    assert broker.list_parameters() == [
        {"vhost": "/", "component": "test-recording", "name": "b", "value": {"ok": True, "n": 1}},
        {"vhost": "other", "component": "test-recording", "name": "a", "value": {"ok": True}},
    ]
    assert [p["name"] for p in broker.list_parameters(vhost="other")] == ["a"]
    assert broker.list_parameters(component="shovel") == []
    broker.clear_parameter("test-recording", "b")
    assert [p["name"] for p in broker.list_parameters()] == ["a"]
    assert component.calls == [
        ("set", "/", "b", {"ok": True, "n": 1}),
        ("set", "other", "a", {"ok": True}),
        ("clear", "/", "b"),
    ]


def test_values_are_private_copies(broker: Broker, component: RecordingComponent) -> None:
    value: dict[str, Any] = {"ok": True, "list": [1, 2]}
    broker.set_parameter("test-recording", "x", value)
    value["list"].append(3)
    listed = broker.list_parameters()[0]["value"]
    listed["ok"] = False
    assert broker.list_parameters()[0]["value"] == {"ok": True, "list": [1, 2]}


def test_setting_the_same_value_again_notifies_nothing(
    broker: Broker, component: RecordingComponent
) -> None:
    # rabbit_runtime_parameters: {old, Term} -> ok without Mod:notify
    broker.set_parameter("test-recording", "x", {"ok": True, "n": 1})
    broker.set_parameter("test-recording", "x", {"ok": True, "n": 1})
    broker.set_parameter("test-recording", "x", {"ok": True, "n": 1.0})  # JSON: not the same
    assert [call[0] for call in component.calls] == ["set", "set"]


def test_a_value_the_component_refuses_is_not_set(
    broker: Broker, component: RecordingComponent
) -> None:
    with pytest.raises(ParameterError) as raised:
        broker.set_parameter("test-recording", "x", {"ok": False})
    # rabbit_runtime_parameters:format_error, the text spec 14.8 describes
    assert raised.value.reason == "Validation failed\n\nx is not ok\na second line\n"
    assert raised.value.errors == ["x is not ok", "a second line"]
    assert raised.value.reply_code == 0
    assert isinstance(raised.value, AMQPError) and isinstance(raised.value, ValueError)
    assert broker.list_parameters() == [] and component.calls == []


def test_unknown_component(broker: Broker) -> None:
    with pytest.raises(ParameterError) as raised:
        broker.set_parameter("federation-upstream", "x", {})
    assert raised.value.reason == "Validation failed\n\ncomponent federation-upstream not found\n"


def test_policies_are_not_parameters(broker: Broker) -> None:
    with pytest.raises(ParameterError) as raised:
        broker.set_parameter("policy", "x", {})
    assert raised.value.reason == "policies may not be set using this method"
    with pytest.raises(ParameterError) as raised:
        broker.clear_parameter("policy", "x")
    assert raised.value.reason == "policies may not be cleared using this method"


def test_clearing_what_is_not_set(broker: Broker, component: RecordingComponent) -> None:
    with pytest.raises(ParameterError) as raised:
        broker.clear_parameter("test-recording", "x")
    assert raised.value.reason == "Parameter does not exist"


def test_unknown_vhost(broker: Broker, component: RecordingComponent) -> None:
    with pytest.raises(NotFound) as raised:
        broker.set_parameter("test-recording", "x", {"ok": True}, vhost="nope")
    assert raised.value.reply_text == "NOT_FOUND - no vhost 'nope'"


def test_a_value_that_is_not_json(broker: Broker, component: RecordingComponent) -> None:
    with pytest.raises(ParameterError) as raised:
        broker.set_parameter("test-recording", "x", {"ok": True, "bytes": b"\x00"})
    assert raised.value.reason.startswith("Could not parse JSON document: ")
    with pytest.raises(TypeError):
        broker.set_parameter("test-recording", 42, {"ok": True})  # type: ignore[arg-type]


def test_deleting_a_vhost_clears_its_parameters(
    broker: Broker, component: RecordingComponent
) -> None:
    # rabbit_runtime_parameters:clear_vhost: each one cleared, its plugin told
    broker.add_vhost("v")
    broker.set_parameter("test-recording", "x", {"ok": True}, vhost="v")
    broker.set_parameter("test-recording", "y", {"ok": True})
    broker.delete_vhost("v")
    assert [(p["vhost"], p["name"]) for p in broker.list_parameters()] == [("/", "y")]
    assert component.calls[-1] == ("clear", "v", "x")


def test_listeners_hear_every_change(broker: Broker, component: RecordingComponent) -> None:
    heard: list[tuple[Any, ...]] = []

    def listener(*event: Any) -> None:
        heard.append(event)

    broker.add_parameter_listener(listener)
    broker.set_parameter("test-recording", "x", {"ok": True})
    broker.clear_parameter("test-recording", "x")
    broker.remove_parameter_listener(listener)
    broker.set_parameter("test-recording", "y", {"ok": True})
    assert heard == [
        ("set", "/", "test-recording", "x", {"ok": True}),
        ("clear", "/", "test-recording", "x", None),
    ]


def test_closing_the_broker_tells_the_components(
    broker: Broker, component: RecordingComponent
) -> None:
    broker.close()
    broker.close()
    assert component.calls == [("closing",)]


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        ("x", '<<"x">>'),
        ('say "hi"', '<<"say \\"hi\\"">>'),
        ("héllo", '<<"héllo"/utf8>>'),
        (None, "null"),
        (True, "true"),
        (5, "5"),
        (-1, "-1"),
        (1.5, "1.5"),
        (100.0, "100.0"),
        (1e10, "1.0e10"),
        (0.0, "0.0"),
        ([1, "a"], '[1,<<"a">>]'),
        ({"b": 1, "a": None}, '#{<<"a">> => null,<<"b">> => 1}'),
    ],
)
def test_values_print_as_erlang_terms(value: Any, printed: str) -> None:
    # RabbitMQ's texts print values with ~tp (spec 14.7: strings show as <<"x">>)
    assert erlang_term(value) == printed


def test_unrecognised_keys_print_as_a_proplist() -> None:
    assert erlang_proplist([("foo", 1), ("bar", "x")]) == '[{<<"foo">>,1},{<<"bar">>,<<"x">>}]'
