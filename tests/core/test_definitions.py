"""Definitions (spec 16): ``broker.export_definitions()`` and ``import_definitions(data)``
in RabbitMQ's JSON format: what is exported and left out, the single-vhost form, the
import order, merge rules, defaults and errors, password hashes (15.2), boot import
(16.11), and a round trip export -> import -> export that changes nothing."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from amqpmodel import AccessRefused, Broker, NotFound, ParameterError
from amqpmodel._definitions import load_definitions
from amqpmodel._metadata import (
    list_global_parameters,
    set_global_parameter,
    set_vhost_metadata,
    vhost_metadata,
)
from amqpmodel._passwords import hash_password
from amqpmodel.driver import ParameterComponent, register_parameter_component

KEYS = {
    "rabbit_version",
    "rabbitmq_version",
    "users",
    "vhosts",
    "permissions",
    "topic_permissions",
    "parameters",
    "global_parameters",
    "policies",
    "queues",
    "exchanges",
    "bindings",
}


class Upstreams(ParameterComponent):
    """A plugin's runtime-parameter component, as federation's upstreams would be."""

    name = "test-upstream"

    def validate(self, broker: Broker, vhost: str, name: str, value: Any) -> list[str]:
        return [] if isinstance(value, dict) and "uri" in value else ["uri is missing"]


register_parameter_component(Upstreams())


def fresh() -> Broker:
    """A blank node, as one that imports definitions at boot (16.11)."""
    return Broker(default_user=None)


def populated() -> Broker:
    """A broker with something of every kind that definitions carry."""
    broker = Broker()
    ch = broker.connect().channel()
    ch.exchange_declare("logs", "topic", durable=True)
    ch.exchange_declare("spill", "fanout", durable=True)
    ch.exchange_declare("orders", "direct", durable=True, arguments={"alternate-exchange": "spill"})
    ch.exchange_declare("hop", "fanout", auto_delete=True)
    ch.queue_declare("audit", durable=True, arguments={"x-message-ttl": 1000})
    ch.queue_declare("jobs", durable=True, arguments={"x-queue-type": "quorum"})
    ch.queue_declare("events", durable=True, arguments={"x-queue-type": "stream"})
    ch.queue_bind("audit", "logs", "#")
    ch.queue_bind("jobs", "orders", "new", arguments={"x-match": "any", "n": 1})
    ch.exchange_bind("hop", "logs", "audit.*")
    broker.add_user("app", "s3cret", tags=["management", "custom"])
    broker.add_user("nopass", "x", tags=[])
    broker.set_user_limits("nopass", {"max-channels": 10, "max-connections": 2})
    broker.add_vhost("staging")
    set_vhost_metadata(
        broker, "staging", description="pre-prod", tags=["eu"], default_queue_type="quorum"
    )
    broker.set_permissions("app", "^app-", ".*", ".*", vhost="staging")
    broker.set_topic_permissions("app", "amq.topic", "^app\\.", ".*", vhost="staging")
    broker.set_policy("ttl", "^audit$", {"message-ttl": 500}, priority=2, apply_to="queues")
    broker.set_policy("ae", "^ord", {"alternate-exchange": "spill"}, apply_to="exchanges")
    broker.set_operator_policy("cap", ".*", {"max-length": 100}, apply_to="quorum_queues")
    broker.set_vhost_limits("staging", {"max-queues": 50, "max-connections": -1})
    broker.set_parameter("test-upstream", "dc2", {"uri": "amqp://dc2"}, vhost="staging")
    set_global_parameter(broker, "cluster_name", "prod-1")
    broker.connect("staging", user="app").channel().queue_declare("app-work")
    return broker


# ----------------------------------------------------------------- export (16.1-16.5)


def test_export_has_rabbitmqctls_keys_and_version_spec_16_1() -> None:
    broker = Broker(rabbitmq_version="4.0")
    document = broker.export_definitions()
    assert set(document) == KEYS
    assert document["rabbit_version"] == document["rabbitmq_version"] == "4.0.9"
    json.dumps(document)  # JSON-ready as it is


def test_entity_shapes_spec_16_2() -> None:
    document = populated().export_definitions()
    audit = next(q for q in document["queues"] if q["name"] == "audit")
    assert audit == {
        "name": "audit",
        "vhost": "/",
        "type": "classic",
        "durable": True,
        "auto_delete": False,
        "arguments": {"x-message-ttl": 1000, "x-queue-type": "classic"},
    }
    assert {q["name"]: q["type"] for q in document["queues"]}["events"] == "stream"
    orders = next(e for e in document["exchanges"] if e["name"] == "orders")
    assert orders == {
        "name": "orders",
        "vhost": "/",
        "type": "direct",
        "durable": True,
        "auto_delete": False,
        "arguments": {"alternate-exchange": "spill"},
    }
    assert {
        "source": "orders",
        "vhost": "/",
        "destination": "jobs",
        "destination_type": "queue",
        "routing_key": "new",
        "arguments": {"x-match": "any", "n": 1},
    } in document["bindings"]
    assert {
        "source": "logs",
        "vhost": "/",
        "destination": "hop",
        "destination_type": "exchange",
        "routing_key": "audit.*",
        "arguments": {},
    } in document["bindings"]


def test_users_vhosts_and_permissions_shapes_spec_16_3() -> None:
    document = populated().export_definitions()
    (app,) = [u for u in document["users"] if u["name"] == "app"]
    assert set(app) == {"name", "password_hash", "hashing_algorithm", "tags", "limits"}
    assert app["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    assert app["tags"] == ["management", "custom"] and app["limits"] == {}
    (nopass,) = [u for u in document["users"] if u["name"] == "nopass"]
    assert nopass["limits"] == {"max-channels": 10, "max-connections": 2}  # spec 15.15
    assert {"name": "staging", "limits": {"max-queues": 50, "max-connections": -1},
            "metadata": {"description": "pre-prod", "tags": ["eu"],
                         "default_queue_type": "quorum"}} in document["vhosts"]
    root = next(v for v in document["vhosts"] if v["name"] == "/")
    assert root["limits"] == [] and root["metadata"]["description"] == "Default virtual host"
    assert {"user": "app", "vhost": "staging", "configure": "^app-", "write": ".*",
            "read": ".*"} in document["permissions"]
    assert document["topic_permissions"] == [
        {"user": "app", "vhost": "staging", "exchange": "amq.topic", "write": "^app\\.",
         "read": ".*"}
    ]


def test_operator_policies_limits_and_components_are_parameters_spec_16_4() -> None:
    document = populated().export_definitions()
    assert document["parameters"] == [
        {
            "vhost": "/",
            "component": "operator_policy",
            "name": "cap",
            "value": {"pattern": ".*", "definition": {"max-length": 100}, "priority": 0,
                      "apply-to": "quorum_queues"},
        },
        {"vhost": "staging", "component": "test-upstream", "name": "dc2",
         "value": {"uri": "amqp://dc2"}},
        {"vhost": "staging", "component": "vhost-limits", "name": "limits",
         "value": {"max-queues": 50, "max-connections": -1}},
    ]
    assert document["policies"] == [
        {"vhost": "/", "name": "ae", "pattern": "^ord", "apply-to": "exchanges",
         "definition": {"alternate-exchange": "spill"}, "priority": 0},
        {"vhost": "/", "name": "ttl", "pattern": "^audit$", "apply-to": "queues",
         "definition": {"message-ttl": 500}, "priority": 2},
    ]
    assert document["global_parameters"] == [{"name": "cluster_name", "value": "prod-1"}]


def test_export_leaves_out_what_cannot_be_restored_spec_16_5(broker: Broker) -> None:
    connection = broker.connect()
    ch = connection.channel()
    ch.queue_declare("mine", exclusive=True)
    ch.queue_declare("shared")
    ch.exchange_declare("hidden", "topic", internal=True)
    set_global_parameter(broker, "internal_cluster_id", "rabbitmq-cluster-id-x")
    set_global_parameter(broker, "cluster_name", "c")
    document = broker.export_definitions()
    assert [q["name"] for q in document["queues"]] == ["shared"]
    assert document["exchanges"] == []  # not "", not amq.*, not internal
    assert document["bindings"] == []  # the default exchange's bindings are implicit
    assert document["global_parameters"] == [{"name": "cluster_name", "value": "c"}]
    connection.close()


# ----------------------------------------------------------------- one vhost (16.6)


def test_single_vhost_export_and_import_into_another_vhost_spec_16_6() -> None:
    source = populated()
    single = source.export_definitions(vhost="/")
    assert single["rabbitmq_definition_format"] == "single_virtual_host"
    assert single["original_vhost_name"] == "/"
    assert single["description"] == "Default virtual host" == single["metadata"]["description"]
    assert single["limits"] == []
    for absent in ("users", "vhosts", "permissions", "topic_permissions", "global_parameters"):
        assert absent not in single
    for kind in ("queues", "exchanges", "bindings", "policies", "parameters"):
        assert single[kind] and all("vhost" not in item for item in single[kind]), kind
    target = fresh()
    target.add_vhost("copy")
    target.import_definitions(single, vhost="copy")
    copy = target.vhost("copy")
    assert sorted(copy.queues) == ["audit", "events", "jobs"]
    assert copy.queues["audit"].policy is not None and copy.queues["audit"].policy.name == "ttl"
    assert copy.queues["jobs"].operator_policy is not None
    assert sorted(b.routing_key for b in copy.exchanges["logs"].bindings) == ["#", "audit.*"]
    assert target.vhost("/").queues == {}
    with pytest.raises(NotFound):
        target.import_definitions(single, vhost="nope")
    with pytest.raises(NotFound):
        target.export_definitions(vhost="nope")


# ----------------------------------------------------------------- import order (16.7)


def test_each_kind_finds_what_the_kinds_before_it_made_spec_16_7() -> None:
    broker = fresh()
    broker.import_definitions(
        {
            # listed "backwards": the import's order, not the file's, decides
            "bindings": [{"source": "in", "vhost": "v", "destination": "q",
                          "destination_type": "queue", "routing_key": "k", "arguments": {}}],
            "queues": [{"name": "q", "vhost": "v", "durable": True, "auto_delete": False,
                        "arguments": {}}],
            "policies": [{"vhost": "v", "name": "ttl", "pattern": "^q$",
                          "definition": {"message-ttl": 5}}],
            "exchanges": [{"name": "in", "vhost": "v", "type": "direct"}],
            "permissions": [{"user": "u", "vhost": "v", "configure": ".*", "write": ".*",
                             "read": ".*"}],
            "vhosts": [{"name": "v"}],
            "users": [{"name": "u", "password": "p", "tags": ""}],
        }
    )
    queue = broker.vhost("v").queues["q"]
    assert queue.policy is not None and queue.policy.name == "ttl"  # policies before queues
    assert [b.destination for b in broker.vhost("v").exchanges["in"].bindings] == ["q"]
    broker.connect("v", user="u").close()  # the permission found its user and vhost


def test_queue_limits_are_checked_before_any_queue_spec_16_7() -> None:
    broker = fresh()
    broker.add_vhost("v")
    broker.set_vhost_limits("v", {"max-queues": 2})
    queues = [{"name": f"q{i}", "vhost": "v", "arguments": {}} for i in range(3)]
    with pytest.raises(ParameterError) as info:
        broker.import_definitions({"queues": queues})
    assert info.value.reason == (
        'Adding 3 queue(s) to virtual host "v" would exceed the limit of 2 queue(s).\n\n'
        "This virtual host currently has 0 queue(s) defined.\n\nImport aborted!"
    )
    assert broker.vhost("v").queues == {}
    broker.import_definitions({"queues": queues[:2]})
    broker.import_definitions({"queues": queues[:2]})  # existing ones do not count as new
    assert sorted(broker.vhost("v").queues) == ["q0", "q1"]


# ----------------------------------------------------------------- merge rules (16.8)


def test_existing_entities_are_left_as_they_are_and_nothing_is_deleted_spec_16_8(
    broker: Broker,
) -> None:
    ch = broker.connect().channel()
    ch.queue_declare("q", durable=False, arguments={"x-max-length": 3})
    ch.queue_declare("kept")
    ch.exchange_declare("x", "fanout")
    broker.add_user("u", "old", tags=["a"])
    broker.set_policy("p", ".*", {"max-length": 9})
    document = {
        "users": [{"name": "u", "password": "new", "tags": ["b"]}],
        "queues": [{"name": "q", "vhost": "/", "durable": True, "arguments": {"x-max-length": 1}}],
        "exchanges": [{"name": "x", "vhost": "/", "type": "topic", "durable": True}],
        "bindings": [{"source": "x", "vhost": "/", "destination": "q", "destination_type": "queue",
                      "routing_key": "", "arguments": {}}],
        "policies": [{"vhost": "/", "name": "p", "pattern": "^q$",
                      "definition": {"max-length": 2}, "priority": 1}],
    }
    broker.import_definitions(document)
    broker.import_definitions(document)  # twice: bindings are added once
    queue = broker.queues["q"]
    assert not queue.durable and queue.arguments["x-max-length"] == 3  # no equivalence check
    assert broker.exchanges["x"].type == "fanout"
    assert len(broker.exchanges["x"].bindings) == 1
    assert broker.authenticate("u", "new") and broker.users["u"][1] == ("b",)  # overwritten
    assert broker.list_policies()[0]["definition"] == {"max-length": 2}
    assert "kept" in broker.queues


def test_vhost_entries_overwrite_their_metadata_spec_16_8(broker: Broker) -> None:
    broker.add_vhost("v")
    set_vhost_metadata(broker, "v", description="old", tags=["t"])
    broker.import_definitions({"vhosts": [{"name": "v", "tracing": True}]})
    assert vhost_metadata(broker, "v") == {
        "description": "",
        "tags": [],
        "default_queue_type": "classic",
    }
    assert broker.vhost("v").tracing  # spec 17.1: the import may turn the tracer on
    broker.import_definitions(
        {"vhosts": [{"name": "v", "metadata": {"description": "d", "tags": "a,b"}}]}
    )
    assert vhost_metadata(broker, "v")["tags"] == ["a", "b"]


# ----------------------------------------------------------------- defaults (16.9)


def test_import_defaults_differ_from_amqp_spec_16_9(
    broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    broker.add_vhost("q-default")
    set_vhost_metadata(broker, "q-default", default_queue_type="quorum")
    with caplog.at_level(logging.WARNING, logger="amqpmodel.definitions"):
        broker.import_definitions(
            {
                "queues": [
                    {"name": "plain", "vhost": "/"},
                    {"name": "typed", "vhost": "/", "type": "quorum", "arguments": {}},
                    {"name": "by-vhost", "vhost": "q-default", "type": "classic"},
                    {"name": "amq.reserved", "vhost": "/"},
                ],
                "exchanges": [
                    {"name": "ex", "vhost": "/", "type": "direct"},
                    {"name": "", "vhost": "/", "type": "direct"},
                    {"name": "amq.mine", "vhost": "/", "type": "topic"},
                ],
            }
        )
    plain = broker.queues["plain"]
    assert plain.durable and not plain.auto_delete
    assert broker.queues["typed"].queue_type == "classic"  # the type field is not read
    assert broker.vhost("q-default").queues["by-vhost"].queue_type == "quorum"
    assert broker.exchanges["ex"].durable and not broker.exchanges["ex"].auto_delete
    assert "amq.reserved" not in broker.queues and "amq.mine" not in broker.exchanges
    skipped = [r.getMessage() for r in caplog.records]
    assert any("amq.reserved" in m for m in skipped) and any("amq.mine" in m for m in skipped)
    assert any("exchange ''" in m for m in skipped)


# ----------------------------------------------------------------- errors (16.10)


def test_a_user_without_tags_is_refused_spec_16_10() -> None:
    broker = fresh()
    with pytest.raises(ParameterError) as info:
        broker.import_definitions({"users": [{"name": "u", "password": "p"}]})
    assert info.value.reason == "tags_not_present"
    assert "u" not in broker.users


def test_password_and_hash_together_are_refused_and_neither_is_passwordless_spec_16_10() -> None:
    broker = fresh()
    both = {"name": "u", "password": "p", "password_hash": hash_password("p"), "tags": []}
    with pytest.raises(ParameterError) as info:
        broker.import_definitions({"users": [both]})
    assert info.value.reason == "both_password_and_password_hash_are_provided"
    broker.import_definitions({"users": [{"name": "nobody", "tags": ["management"]}]})
    assert broker.users["nobody"] == ("", ("management",))
    assert not broker.authenticate("nobody", "") and not broker.authenticate("nobody", "x")


def test_a_failing_item_stops_the_import_and_earlier_ones_stay_spec_16_10() -> None:
    broker = fresh()
    document = {
        "users": [{"name": "first", "password": "p", "tags": []}, {"name": "second"}],
        "queues": [{"name": "never", "vhost": "/"}],
    }
    with pytest.raises(ParameterError):
        broker.import_definitions(document)
    assert "first" in broker.users and "never" not in broker.queues


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            {"queues": [{"name": "q", "vhost": "missing"}]},
            'Please create virtual host "missing" prior to importing definitions.',
        ),
        (
            {"permissions": [{"user": "ghost", "vhost": "/", "configure": "", "write": "",
                              "read": ""}]},
            '{no_such_user,<<"ghost">>}',
        ),
        (
            {"policies": [{"vhost": "/", "name": "bad", "pattern": ".*",
                           "definition": {"foo": 1}}]},
            "Validation failed\n\n[{&lt;&lt;\"foo\"&gt;&gt;,1}] are not recognised policy "
            "settings\n (//bad)",
        ),
        (
            {"parameters": [{"vhost": "/", "component": "nope", "name": "n", "value": {}}]},
            "Validation failed\n\ncomponent nope not found\n (//nope/n)",
        ),
        (
            {"parameters": [{"vhost": "/", "component": "test-upstream", "name": "n",
                             "value": {}}]},
            "Validation failed\n\nuri is missing\n (//test-upstream/n)",
        ),
        (
            {"exchanges": [{"name": "e", "vhost": "/", "type": "nope"}]},
            "precondition_failed: unknown exchange type 'nope'",
        ),
        (
            {"queues": [{"name": "q", "vhost": "/", "arguments": {"x-max-length": "ten"}}]},
            "precondition_failed: invalid arg 'x-max-length' for queue 'q' in vhost '/': "
            '"expected integer, got longstr"',
        ),
    ],
)
def test_errors_carry_rabbitmqs_texts_spec_16_10(document: dict[str, Any], reason: str) -> None:
    broker = Broker()
    with pytest.raises(ParameterError) as info:
        broker.import_definitions(document)
    assert info.value.reason == reason


def test_a_document_must_be_an_object() -> None:
    with pytest.raises(ParameterError):
        fresh().import_definitions([])  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        fresh().import_definitions({"queues": {"name": "q"}})


# ----------------------------------------------------------------- password hashes (15.2)


def test_hashes_of_every_scheme_log_in_and_export_with_their_algorithm_spec_15_2() -> None:
    broker = fresh()
    users = [
        {"name": "vector", "password_hash": "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR",
         "tags": []},
        {"name": "long", "password_hash": hash_password("p5", algorithm="rabbit_password_hashing_sha512"),
         "hashing_algorithm": "rabbit_password_hashing_sha512", "tags": []},
        {"name": "short", "password_hash": hash_password("p2", algorithm="rabbit_password_hashing_md5"),
         "hashing_algorithm": "rabbit_password_hashing_md5", "tags": []},
    ]
    broker.import_definitions({"users": users})
    assert broker.authenticate("vector", "test12")
    assert broker.authenticate("long", "p5") and not broker.authenticate("long", "p2")
    assert broker.authenticate("short", "p2")
    algorithms = {u["name"]: u["hashing_algorithm"] for u in broker.export_definitions()["users"]}
    assert algorithms == {
        "vector": "rabbit_password_hashing_sha256",
        "long": "rabbit_password_hashing_sha512",
        "short": "rabbit_password_hashing_md5",
    }


def test_a_hash_without_algorithm_is_md5_for_rabbitmq_3_0_to_3_5_spec_15_2() -> None:
    md5 = hash_password("old", algorithm="rabbit_password_hashing_md5")
    broker = fresh()
    broker.import_definitions(
        {"rabbit_version": "3.5.7", "users": [{"name": "u", "password_hash": md5, "tags": ""}]}
    )
    assert broker.authenticate("u", "old")
    with pytest.raises(ParameterError) as info:  # 3.6+: the default, sha256, which it is not
        fresh().import_definitions(
            {"rabbit_version": "3.6.0", "users": [{"name": "u", "password_hash": md5, "tags": ""}]}
        )
    assert "is not a rabbit_password_hashing_sha256 hash" in info.value.reason


def test_an_unknown_hashing_algorithm_is_a_clear_error() -> None:
    user = {"name": "u", "password_hash": "abc", "hashing_algorithm": "rabbit_password_hashing_foo",
            "tags": []}
    with pytest.raises(ParameterError) as info:
        fresh().import_definitions({"users": [user]})
    assert "unsupported hashing_algorithm <<\"rabbit_password_hashing_foo\">>" in info.value.reason


# ----------------------------------------------------------------- boot import (16.11)


def test_load_definitions_from_a_file_or_a_directory_in_name_order_spec_16_11(
    tmp_path: Path,
) -> None:
    (tmp_path / "10-users.json").write_text(
        json.dumps({"users": [{"name": "ops", "password": "pw", "tags": ["administrator"]}],
                    "permissions": [{"user": "ops", "vhost": "/", "configure": ".*",
                                     "write": ".*", "read": ".*"}]})
    )
    (tmp_path / "20-policy.json").write_text(
        json.dumps({"policies": [{"vhost": "/", "name": "p", "pattern": ".*",
                                  "definition": {"max-length": 1}}]})
    )
    (tmp_path / "30-policy.json").write_text(
        json.dumps({"policies": [{"vhost": "/", "name": "p", "pattern": ".*",
                                  "definition": {"max-length": 2}}]})
    )
    (tmp_path / "notes.txt").write_text("not definitions")
    broker = fresh()
    loaded = load_definitions(broker, tmp_path)
    assert [p.name for p in loaded] == ["10-users.json", "20-policy.json", "30-policy.json"]
    assert broker.list_policies()[0]["definition"] == {"max-length": 2}
    assert set(broker.users) == {"ops"}  # no guest: a blank node importing definitions
    single = fresh()
    assert load_definitions(single, tmp_path / "10-users.json") == [tmp_path / "10-users.json"]
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ParameterError) as info:
        load_definitions(fresh(), tmp_path / "broken.json")
    assert "broken.json" in info.value.reason


# ----------------------------------------------------------------- round trip


def test_export_import_export_is_the_same_document() -> None:
    source = populated()
    document = source.export_definitions()
    target = fresh()
    target.import_definitions(json.loads(json.dumps(document)))
    assert target.export_definitions() == document
    # and the imported broker behaves as the source: the user logs in, policies apply
    assert target.authenticate("app", "s3cret")
    assert target.queues["audit"].effective_policy_definition == {"message-ttl": 500}
    assert target.exchanges["orders"].policy is not None
    assert target.vhost("staging").default_queue_type == "quorum"
    assert list_global_parameters(target) == [{"name": "cluster_name", "value": "prod-1"}]
    ch = target.connect("staging", user="app").channel()
    with pytest.raises(AccessRefused):  # the topic permission came across (15.11)
        ch.basic_publish("amq.topic", "other.key", b"x")


@pytest.mark.timeout(30)
def test_a_shovel_in_the_definitions_runs_after_import_spec_16_4() -> None:
    source = Broker()
    target = fresh()
    try:
        source.connect().channel().queue_declare("in", durable=True)
        source.set_parameter(
            "shovel", "move",
            {"src-uri": "amqp://", "src-queue": "in", "dest-uri": "amqp://", "dest-queue": "out"},
        )
        document = source.export_definitions()
        assert [p["component"] for p in document["parameters"]] == ["shovel"]
        target.import_definitions(document)
        ch = target.connect("/", user="guest").channel()
        ch.basic_publish("", "in", b"moved")
        deadline = time.monotonic() + 20
        while "out" not in target.queues or target.queues["out"].messages_ready == 0:
            assert time.monotonic() < deadline, "the imported shovel did not move the message"
            time.sleep(0.02)
        assert [m.body for m in target.queues["out"].peek()] == [b"moved"]
    finally:
        source.close()
        target.close()
