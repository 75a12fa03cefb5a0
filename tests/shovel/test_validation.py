"""The shovel parameter's validation: RabbitMQ 4.2's keys, checks and texts, in its order
(spec 20.2, 20.4, 20.5; rabbit_shovel_parameters, rabbit_amqp091_shovel,
rabbit_parameter_validation)."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import Broker, ParameterError

VALID = {"src-uri": "amqp://", "src-queue": "q", "dest-uri": "amqp://", "dest-queue": "d"}


def errors_of(value: Any, name: str = "s") -> list[str]:
    broker = Broker()
    try:
        with pytest.raises(ParameterError) as raised:
            broker.set_parameter("shovel", name, value)
        assert raised.value.reason == "Validation failed\n\n" + "".join(
            f"{line}\n" for line in raised.value.errors
        )
        assert broker.list_parameters() == []
        return raised.value.errors
    finally:
        broker.close()


def with_(**changes: Any) -> dict[str, Any]:
    value = dict(VALID)
    for key, item in changes.items():
        key = key.replace("_", "-")
        if item is None:
            value.pop(key, None)
        else:
            value[key] = item
    return value


def test_a_source_queue_or_exchange_is_needed() -> None:
    # spec 20.2
    assert errors_of(with_(src_queue=None)) == ["Must specify 'src-exchange' or 'src-queue'"]
    assert errors_of(with_(src_exchange="x")) == ["Cannot specify 'src-exchange' and 'src-queue'"]


def test_not_both_destination_queue_and_exchange() -> None:
    # spec 20.4
    assert errors_of(with_(dest_exchange="x")) == [
        "Cannot specify 'dest-exchange' and 'dest-queue'"
    ]


@pytest.mark.parametrize("key", ["src-delete-after", "delete-after"])
def test_no_ack_with_a_numeric_delete_after(key: str) -> None:
    # spec 20.5
    assert errors_of({**VALID, "ack-mode": "no-ack", key: 5}) == [
        "Cannot specify 'no-ack' and numerical 'delete-after'"
    ]


def test_no_ack_with_queue_length_is_allowed() -> None:
    broker = Broker()
    try:
        broker.set_parameter("shovel", "s", with_(ack_mode="no-ack", src_delete_after="never"))
        assert broker.list_parameters("shovel")[0]["value"]["ack-mode"] == "no-ack"
    finally:
        broker.close()


def test_the_uris_are_mandatory() -> None:
    # proplist: missing mandatory keys, reported last key first
    assert errors_of(with_(src_uri=None, dest_uri=None), name="my-shovel") == [
        'Key "dest-uri" not found in my-shovel',
        'Key "src-uri" not found in my-shovel',
    ]


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("http://host", '{{unexpected_uri_scheme,"http"},"http://host"}'),
        ("nothing", '{{unable_to_parse_uri,no_scheme},"nothing"}'),
        ("amqp://host:70000", '{{port_out_of_range,70000},"amqp://host:70000"}'),
        ("amqp://:5672", '{port_requires_host,"amqp://:5672"}'),
        ("amqp://host/a/b", '{{invalid_vhost,"a/b"},"amqp://host/a/b"}'),
    ],
)
def test_a_uri_amqp_uri_cannot_parse(uri: str, reason: str) -> None:
    assert errors_of(with_(dest_uri=uri)) == [f'"{uri}" not a valid URI: {reason}']


def test_a_uri_list_is_checked_item_by_item() -> None:
    assert errors_of(with_(dest_uri=["amqp://", "ftp://x"])) == [
        '"ftp://x" not a valid URI: {{unexpected_uri_scheme,"ftp"},"ftp://x"}'
    ]
    assert errors_of(with_(dest_uri=5)) == ["dest-uri should be list, actually was 5"]


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        (
            "ack-mode",
            "sometimes",
            'ack-mode should be one of [<<"no-ack">>,<<"on-publish">>,'
            '<<"on-confirm">>], actually was <<"sometimes">>',
        ),
        ("ack-mode", 1, "ack-mode should be binary, actually was 1"),
        ("reconnect-delay", "5", 'reconnect-delay should be a number, actually was <<"5">>'),
        ("src-prefetch-count", True, "src-prefetch-count should be a number, actually was true"),
        ("prefetch-count", None, "prefetch-count should be a number, actually was null"),
        (
            "src-delete-after",
            "always",
            "src-delete-after should be a number greater than or "
            'equal to 0, "never" or "queue-length", actually was <<"always">>',
        ),
        (
            "src-delete-after",
            -1,
            "src-delete-after should be a number greater than or equal "
            'to 0, "never" or "queue-length", actually was -1',
        ),
        (
            "dest-add-forward-headers",
            "yes",
            'dest-add-forward-headers should be boolean, actually was <<"yes">>',
        ),
        ("src-predeclared", 1, "src-predeclared should be boolean, actually was 1"),
        ("src-exchange-key", 7, "src-exchange-key should be binary, actually was 7"),
        ("dest-queue", "q" * 256, "dest-queue should be less than 255 bytes, actually was 256"),
        (
            "src-protocol",
            "amqp10",
            'src-protocol should be one of [<<"amqp091">>], actually was <<"amqp10">>',
        ),
        (
            "dest-publish-properties",
            {"delivery_mode": "2", "colour": "red"},
            'Unrecognised terms [{<<"colour">>,<<"red">>}] in dest-publish-properties',
        ),
    ],
)
def test_each_key_is_checked(key: str, value: Any, error: str) -> None:
    assert error in errors_of({**VALID, key: value})


def test_publish_properties_values_are_checked() -> None:
    assert errors_of(with_(dest_publish_properties={"delivery_mode": "2", "app_id": 1})) == [
        "app_id should be binary, actually was 1",
        'delivery_mode should be a number, actually was <<"2">>',
    ]


def test_unrecognised_keys_come_first_then_the_keys_last_to_first() -> None:
    value = with_(zeta=1, alpha="x", ack_mode="x", dest_predeclared="no")
    assert errors_of(value, name="s1") == [
        'Unrecognised terms [{<<"alpha">>,<<"x">>},{<<"zeta">>,1}] in s1',
        'dest-predeclared should be boolean, actually was <<"no">>',
        'ack-mode should be one of [<<"no-ack">>,<<"on-publish">>,<<"on-confirm">>], '
        'actually was <<"x">>',
    ]


def test_the_exclusion_checks_come_before_the_keys() -> None:
    assert errors_of({"src-uri": "amqp://", "dest-queue": 5, "dest-exchange": "x"}) == [
        "Must specify 'src-exchange' or 'src-queue'",
        "Cannot specify 'dest-exchange' and 'dest-queue'",
        "dest-queue should be binary, actually was 5",
        'Key "dest-uri" not found in s',
    ]


def test_a_value_that_is_not_an_object() -> None:
    # RabbitMQ 3.10 answers a JSON array so (checked over its HTTP API)
    assert errors_of(["amqp://"], name="s") == [
        "Must specify 'src-exchange' or 'src-queue'",
        'Unrecognised terms [<<"amqp://">>] in s',
        'Key "dest-uri" not found in s',
        'Key "src-uri" not found in s',
    ]
    assert errors_of("amqp://", name="s") == ['s not a list <<"amqp://">>']


def test_the_source_is_this_broker() -> None:
    # amqpmodel's limit: a shovel moves messages out of the broker it runs in
    assert errors_of(with_(src_uri="amqp://elsewhere:5672")) == [
        'src-uri "amqp://elsewhere:5672": amqpmodel\'s shovels move messages out of this '
        'broker, so the source URI names no host ("amqp://" or "amqp:///vhost")'
    ]


def test_every_key_rabbitmq_knows_is_accepted() -> None:
    broker = Broker()
    try:
        broker.add_vhost("v")
        broker.set_parameter(
            "shovel",
            "everything",
            {
                "src-uri": ["amqp:///v"],
                "src-exchange": "x",
                "src-exchange-key": "k",
                "src-consumer-args": {},
                "prefetch-count": 10,
                "delete-after": "never",
                "src-protocol": "amqp091",
                "dest-protocol": "amqp091",
                "dest-uri": "amqp://guest:guest@127.0.0.1:1/%2F",
                "dest-exchange": "y",
                "dest-exchange-key": "z",
                "add-forward-headers": True,
                "add-timestamp-header": False,
                "publish-properties": {"delivery_mode": 2, "app_id": "a"},
                "ack-mode": "on-publish",
                "reconnect-delay": 0,
                "internal": False,
                "internal_owner": {"name": "q", "kind": "queue", "virtual_host": "/"},
            },
        )
        assert [p["name"] for p in broker.list_parameters("shovel")] == ["everything"]
    finally:
        broker.close()
