"""Version profiles (queue-types.md 0.x, rabbitmq-semantics.md 0): ``Broker(rabbitmq_version=...)``
picks which RabbitMQ the broker behaves as. Each switched row is checked on two
versions that differ; the profile table itself is checked against the spec's."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from amqpmodel import (
    BasicProperties,
    Broker,
    Channel,
    ChannelClosed,
    CommandInvalid,
    ConnectionClosed,
    InternalError,
    NotImplementedByBroker,
    PreconditionFailed,
    VirtualClock,
)
from amqpmodel._version import KNOWN_RABBITMQ_VERSIONS, RabbitMQVersion, rabbitmq_version
from amqpmodel.testing import assert_accounted

MIB = 1024 * 1024

Open = Callable[[str], tuple[Broker, Channel]]


@pytest.fixture
def open_broker() -> Iterator[Open]:
    """``open_broker("3.13")``: a broker of that version on a virtual clock and a
    channel on it; every broker made has its accounting checked at the end."""
    made: list[Broker] = []

    def open_one(version: str) -> tuple[Broker, Channel]:
        broker = Broker(clock=VirtualClock(), rabbitmq_version=version)
        made.append(broker)
        return broker, broker.connect().channel()

    yield open_one
    for broker in made:
        assert_accounted(broker)


# ----------------------------------------------------------------- naming a version


def test_series_names_its_latest_patch_and_connection_start_version() -> None:
    assert {name: rabbitmq_version(name).version for name in KNOWN_RABBITMQ_VERSIONS} == {
        "3.13": "3.13.7",
        "4.0": "4.0.9",
        "4.2": "4.2.9",
        "4.3": "4.3.5",
    }
    assert rabbitmq_version("4.2") == rabbitmq_version("4.2.9")
    assert rabbitmq_version("4.2.5").version == "4.2.5"
    assert rabbitmq_version("4.2.5") != rabbitmq_version("4.2")
    assert Broker().rabbitmq_version.version == "4.2.9"  # the default
    profile = rabbitmq_version("4.3")
    assert rabbitmq_version(profile) is profile
    assert Broker(rabbitmq_version=profile).rabbitmq_version is profile


@pytest.mark.parametrize("name", ["4.1", "5.0", "4.2.10", "3.12", "4", "4.2.x", "", " 4.2"])
def test_unknown_version_is_a_value_error_listing_the_known_ones(name: str) -> None:
    with pytest.raises(ValueError) as info:
        Broker(rabbitmq_version=name)
    text = str(info.value)
    assert f"unknown RabbitMQ version {name!r}" in text
    for known in ("3.13 (3.13.0-3.13.7)", "4.0 (4.0.0-4.0.9)", "4.2 (4.2.0-4.2.9)", "4.3"):
        assert known in text


def test_profile_is_frozen() -> None:
    profile = rabbitmq_version("4.2")
    with pytest.raises(AttributeError):
        profile.global_qos = False  # type: ignore[misc]


# the spec's table, row by row, for the attributes that other modules act on (or
# that record a behaviour amqpmodel does not model yet: 0.x.15, 0.x.19, 0.x.22)
TABLE: dict[str, dict[str, Any]] = {
    # 0.x.6, 0.x.7, 0.x.8, 0.x.9, 0.x.10, 0.x.14, 0.x.15, 0.x.20, 0.x.22
    "3.13": {
        "quorum_default_delivery_limit": None,
        "quorum_acquired_count": False,
        "quorum_priorities": "ignored",
        "quorum_requeue_to_back": False,
        "quorum_consumer_timeout": False,
        "dead_letter_first_last_headers": True,
        "memory_high_watermark": 0.4,
        "sac_get_queue_type_shown": "quorum",
        "modulus_hash_in_core": False,
    },
    "4.0": {
        "quorum_default_delivery_limit": 20,
        "quorum_acquired_count": False,
        "quorum_priorities": "two-levels",
        "quorum_requeue_to_back": True,
        "quorum_consumer_timeout": False,
        "dead_letter_first_last_headers": True,
        "memory_high_watermark": 0.6,
        "sac_get_queue_type_shown": "quorum",
        "modulus_hash_in_core": False,
    },
    "4.2": {
        "quorum_default_delivery_limit": 20,
        "quorum_acquired_count": False,
        "quorum_priorities": "two-levels",
        "quorum_requeue_to_back": True,
        "quorum_consumer_timeout": False,
        "dead_letter_first_last_headers": True,
        "memory_high_watermark": 0.6,
        "sac_get_queue_type_shown": '<<"quorum">>',
        "modulus_hash_in_core": False,
    },
    "4.3": {
        "quorum_default_delivery_limit": 20,
        "quorum_acquired_count": True,
        "quorum_priorities": "strict",
        "quorum_requeue_to_back": True,
        "quorum_consumer_timeout": True,
        "dead_letter_first_last_headers": True,
        "memory_high_watermark": 0.6,
        "sac_get_queue_type_shown": '<<"quorum">>',
        "modulus_hash_in_core": True,
    },
}


@pytest.mark.parametrize("series", list(TABLE))
def test_profile_attributes_follow_the_spec_table(series: str) -> None:
    # spec 0.x.6-0.x.10, 0.x.14, 0.x.15, 0.x.20, 0.x.22
    profile = rabbitmq_version(series)
    assert {key: getattr(profile, key) for key in TABLE[series]} == TABLE[series]


@pytest.mark.parametrize(
    ("version", "expected"),
    [("4.2.6", False), ("4.2.7", True), ("4.3.0", False), ("4.3.1", True), ("4.0", False)],
)
def test_passive_declare_permission_rows_by_patch(version: str, expected: bool) -> None:
    # spec 0.x.19: recorded only (amqpmodel has no permissions yet)
    assert rabbitmq_version(version).passive_declare_permission is expected


def test_every_profile_attribute_is_documented() -> None:
    source = (__import__("inspect").getsource(RabbitMQVersion)).split("\n")
    names = [field.name for field in RabbitMQVersion.__attrs_attrs__]
    for name in names:
        line = next(i for i, text in enumerate(source) if text.strip().startswith(f"{name}:"))
        assert source[line + 1].strip().startswith('"""'), f"{name} has no docstring"


# ----------------------------------------------------------------- 0.x.1, 0.x.2 global qos


def _two_consumers_on_global_limit(ch: Channel, broker: Broker) -> int:
    ch.queue_declare("q", durable=True)
    for n in range(4):
        ch.basic_publish("", "q", b"%d" % n)
    ch.basic_qos(prefetch_count=1, global_qos=True)
    got: list[bytes] = []
    for _ in range(2):
        ch.basic_consume("q", lambda c, m, p, b: got.append(b))
    broker.run_until_idle()
    return len(got)


def test_global_qos_is_per_consumer_in_4_3(open_broker: Open) -> None:
    # spec 0.x.1 (0.1): one channel-wide unacked message up to 4.2; one per consumer in 4.3
    broker, ch = open_broker("4.2")
    assert _two_consumers_on_global_limit(ch, broker) == 1
    broker, ch = open_broker("4.3")
    assert _two_consumers_on_global_limit(ch, broker) == 2


def test_global_limit_refuses_quorum_consumer_only_before_4_3(open_broker: Open) -> None:
    # spec 0.x.2 (11.29): the 540 needs a global limit, which 4.3 never sets
    broker, ch = open_broker("4.2")
    ch.queue_declare("qq", durable=True, arguments={"x-queue-type": "quorum"})
    ch.basic_qos(prefetch_count=5, global_qos=True)
    with pytest.raises(NotImplementedByBroker) as info:
        ch.basic_consume("qq", lambda c, m, p, b: None)
    assert info.value.reply_text == (
        "NOT_IMPLEMENTED - queue 'qq' in vhost '/' does not support global qos"
    )
    broker, ch = open_broker("4.3")
    ch.queue_declare("qq", durable=True, arguments={"x-queue-type": "quorum"})
    ch.basic_qos(prefetch_count=5, global_qos=True)
    assert ch.basic_consume("qq", lambda c, m, p, b: None)


# ----------------------------------------------------------------- 0.x.3 transient queues

TRANSIENT_DENIED = (
    "Feature `transient_nonexcl_queues` is deprecated.\n"
    "By default, this feature is not permitted anymore.\n"
    "The feature will be removed from a future major RabbitMQ version, regardless of the "
    "configuration; actual version to be determined.\n"
    "To continue using this feature when it is not permitted by default, set the following "
    "parameter in your configuration:\n"
    '    "deprecated_features.permit.transient_nonexcl_queues = true"'
)


def test_transient_non_exclusive_queue_is_541_in_4_3(open_broker: Open) -> None:
    # spec 0.x.3 (0.2)
    broker, ch = open_broker("4.2")
    ch.queue_declare("t")
    assert "t" in broker.queues
    broker, ch = open_broker("4.3")
    ch.queue_declare("durable", durable=True)
    ch.queue_declare("mine", exclusive=True)  # exclusive transient queues stay
    with pytest.raises(InternalError) as info:
        ch.queue_declare("t")
    assert info.value.reply_code == 541
    assert info.value.explanation == TRANSIENT_DENIED
    # a shortstr on the wire: the first 252 bytes and "..." (spec 9.2)
    assert info.value.reply_text == ("INTERNAL_ERROR - " + TRANSIENT_DENIED)[:252] + "..."
    assert ch.connection.is_closed  # a connection error
    assert "t" not in broker.queues


def test_transient_check_comes_after_arguments_and_before_properties(open_broker: Open) -> None:
    # spec 0.x.3: a non-durable quorum queue gets 541 in 4.3, 406 (11.4) before
    broker, ch = open_broker("4.2")
    with pytest.raises(PreconditionFailed, match="invalid property 'non-durable'"):
        ch.queue_declare("qq", arguments={"x-queue-type": "quorum"})
    broker, ch = open_broker("4.3")
    with pytest.raises(InternalError):
        ch.queue_declare("qq", arguments={"x-queue-type": "quorum"})
    broker, ch = open_broker("4.3")
    with pytest.raises(PreconditionFailed, match=r"\{value_negative,-1\}"):
        ch.queue_declare("t", arguments={"x-max-length": -1})  # arguments first
    broker, ch = open_broker("4.3")
    ch.queue_declare("t", durable=True)
    ch.queue_declare("t", durable=True)  # a redeclare is not a creation


# ----------------------------------------------------------------- 0.x.4 client-set x-death

WHEN = datetime.datetime(2024, 5, 1, 12, 0, 0)


def _dead_letter_republished(ch: Channel, broker: Broker) -> dict[str, Any]:
    ch.queue_declare("dlq")
    ch.queue_declare(
        "q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"}
    )
    client_death = {
        "count": 5,
        "reason": "rejected",
        "queue": "q",
        "time": WHEN,
        "exchange": "",
        "routing-keys": ["q"],
    }
    ch.basic_publish("", "q", b"m", BasicProperties(headers={"x-death": [client_death]}))
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.basic_reject(method.delivery_tag, requeue=False)
    method, properties, _ = ch.basic_get("dlq", auto_ack=True)
    assert method is not None and properties is not None and properties.headers is not None
    return properties.headers


def test_client_set_x_death_continues_counts_in_3_13(open_broker: Open) -> None:
    # spec 0.x.4 (0.3): 3.13 continues the publisher's counts; 4.0+ starts afresh
    broker, ch = open_broker("3.13")
    headers = _dead_letter_republished(ch, broker)
    assert [(d["queue"], d["reason"], d["count"]) for d in headers["x-death"]] == [
        ("q", "rejected", 6)
    ]
    assert headers["x-death"][0]["time"] == WHEN  # the first time of the pair stays
    assert "x-first-death-queue" not in headers  # the publisher set none; 3.13 adds none
    assert headers["x-last-death-queue"] == "q"
    broker, ch = open_broker("4.0")
    headers = _dead_letter_republished(ch, broker)
    assert [(d["queue"], d["reason"], d["count"]) for d in headers["x-death"]] == [
        ("q", "rejected", 1)
    ]
    assert headers["x-first-death-queue"] == "q"


def test_client_set_x_death_is_ignored_in_3_13_0_to_3_13_2(open_broker: Open) -> None:
    # spec 0.x.4: the header was ignored from 3.13.0 until 3.13.3 (rabbitmq-server#11339)
    broker, ch = open_broker("3.13.2")
    headers = _dead_letter_republished(ch, broker)
    assert [d["count"] for d in headers["x-death"]] == [1]
    broker, ch = open_broker("3.13.3")
    headers = _dead_letter_republished(ch, broker)
    assert [d["count"] for d in headers["x-death"]] == [6]


def test_client_x_death_of_another_pair_is_kept_behind_the_new_one(open_broker: Open) -> None:
    # spec 0.x.4 with 4.4: a new (queue, reason) goes first; an invalid table is skipped
    broker, ch = open_broker("3.13")
    ch.queue_declare("dlq")
    ch.queue_declare(
        "q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"}
    )
    old = {
        "count": 2,
        "reason": "expired",
        "queue": "elsewhere",
        "time": WHEN,
        "exchange": "x",
        "routing-keys": ["k"],
        "original-expiration": "100",
    }
    broken = {"count": 1, "reason": "rejected"}  # no queue, time, ...
    ch.basic_publish(
        "",
        "q",
        b"m",
        BasicProperties(headers={"x-death": [old, broken], "x-first-death-queue": "elsewhere"}),
    )
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.basic_reject(method.delivery_tag, requeue=False)
    _, properties, _ = ch.basic_get("dlq", auto_ack=True)
    assert properties is not None and properties.headers is not None
    deaths = properties.headers["x-death"]
    assert [(d["queue"], d["reason"], d["count"]) for d in deaths] == [
        ("q", "rejected", 1),
        ("elsewhere", "expired", 2),
    ]
    assert deaths[1]["original-expiration"] == "100"
    assert properties.headers["x-first-death-queue"] == "elsewhere"  # the publisher's


# ----------------------------------------------------------------- 0.x.5 max message size


def test_default_max_message_size_is_128_mib_in_3_13(open_broker: Open) -> None:
    # spec 0.x.5 (0.4)
    broker, ch = open_broker("3.13")
    assert broker.max_message_size == 128 * MIB
    ch.queue_declare("q")
    ch.basic_publish("", "q", bytes(16 * MIB + 1))
    assert broker.queues["q"].messages_ready == 1
    ch.queue_purge("q")
    broker, ch = open_broker("4.0")
    assert broker.max_message_size == 16 * MIB
    ch.queue_declare("q")
    with pytest.raises(PreconditionFailed, match="is larger than configured max size 16777216"):
        ch.basic_publish("", "q", bytes(16 * MIB + 1))
    assert Broker(rabbitmq_version="3.13", max_message_size=10).max_message_size == 10


# ----------------------------------------------------------------- 0.x.10, 0.x.11 consumer timeouts


def _unacked_for_31_minutes(broker: Broker, queue: str) -> bool:
    ch = broker.connect().channel()
    got: list[int] = []
    ch.basic_qos(prefetch_count=10)
    ch.basic_consume(queue, lambda c, m, p, b: got.append(m.delivery_tag))
    ch.basic_publish("", queue, b"slow")
    broker.run_until_idle()
    assert got == [1]
    clock = broker.clock
    assert isinstance(clock, VirtualClock)
    clock.advance(31 * 60)
    return ch.is_open


def test_classic_and_stream_deliveries_never_time_out_in_4_3(open_broker: Open) -> None:
    # spec 0.x.10 (0.8, 12.24): the channel-level timeout exists up to 4.2 only
    broker, ch = open_broker("4.2")
    ch.queue_declare("q")
    assert not _unacked_for_31_minutes(broker, "q")
    broker, ch = open_broker("4.3")
    ch.queue_declare("q", durable=True)
    assert _unacked_for_31_minutes(broker, "q")
    ch.queue_declare("s", durable=True, arguments={"x-queue-type": "stream"})
    assert _unacked_for_31_minutes(broker, "s")
    broker, ch = open_broker("4.2")
    ch.queue_declare("s", durable=True, arguments={"x-queue-type": "stream"})
    assert not _unacked_for_31_minutes(broker, "s")
    # what the closed channels left unacked went back (nothing lost): accounted at teardown


def test_x_consumer_timeout_on_classic_declare_is_refused_in_4_3(open_broker: Open) -> None:
    # spec 0.x.11
    broker, ch = open_broker("4.2")
    ch.queue_declare("q", durable=True, arguments={"x-consumer-timeout": 1000})
    assert broker.queues["q"].arguments["x-consumer-timeout"] == 1000
    broker, ch = open_broker("4.3")
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", durable=True, arguments={"x-consumer-timeout": 1000})
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - invalid arg 'x-consumer-timeout' for queue 'q' in vhost '/' "
        "of queue type rabbit_classic_queue"
    )
    broker, ch = open_broker("4.3")
    with pytest.raises(PreconditionFailed, match="of queue type rabbit_stream_queue"):
        ch.queue_declare(
            "s", durable=True, arguments={"x-queue-type": "stream", "x-consumer-timeout": 1}
        )


def test_x_consumer_timeout_on_classic_consume_is_refused_in_4_3(open_broker: Open) -> None:
    # spec 0.x.11
    broker, ch = open_broker("4.2")
    ch.queue_declare("q", durable=True)
    assert ch.basic_consume("q", lambda c, m, p, b: None, arguments={"x-consumer-timeout": 5})
    broker, ch = open_broker("4.3")
    ch.queue_declare("q", durable=True)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_consume("q", lambda c, m, p, b: None, arguments={"x-consumer-timeout": 5})
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - invalid arg 'x-consumer-timeout' for queue 'q' in vhost '/' "
        "of queue type rabbit_classic_queue"
    )


def test_quorum_queue_owns_x_consumer_timeout_in_4_3(open_broker: Open) -> None:
    # spec 0.x.11, 11.7: validated as an integer >= 0 there, compared on redeclare
    quorum = {"x-queue-type": "quorum"}
    broker, ch = open_broker("4.3")
    ch.queue_declare("qq", durable=True, arguments={**quorum, "x-consumer-timeout": 5000})
    with pytest.raises(PreconditionFailed, match="inequivalent arg 'x-consumer-timeout'"):
        ch.queue_declare("qq", durable=True, arguments={**quorum, "x-consumer-timeout": 1})
    broker, ch = open_broker("4.3")
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("qq", durable=True, arguments={**quorum, "x-consumer-timeout": -1})
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - invalid arg 'x-consumer-timeout' for queue 'qq' in vhost '/': "
        "{value_negative,-1}"
    )
    broker, ch = open_broker("4.2")  # no type knows it: accepted, not compared
    ch.queue_declare("qq", durable=True, arguments={**quorum, "x-consumer-timeout": -1})
    ch.queue_declare("qq", durable=True, arguments={**quorum, "x-consumer-timeout": 7})


# ----------------------------------------------------------------- 0.x.12, 0.x.21 exchange types


def test_unknown_exchange_type_is_503_in_3_13_0_to_3_13_2(open_broker: Open) -> None:
    # spec 0.x.12 (1.6)
    broker, ch = open_broker("3.13.2")
    with pytest.raises(CommandInvalid) as info:
        ch.exchange_declare("x", "no-such-type")
    assert info.value.reply_code == 503
    assert info.value.reply_text == "COMMAND_INVALID - unknown exchange type 'no-such-type'"
    assert ch.connection.is_closed
    broker, ch = open_broker("3.13")
    with pytest.raises(PreconditionFailed) as refused:
        ch.exchange_declare("x", "no-such-type")
    assert refused.value.reply_text == "PRECONDITION_FAILED - unknown exchange type 'no-such-type'"
    assert ch.connection.is_open and ch.is_closed


def test_x_local_random_is_unknown_in_3_13(open_broker: Open) -> None:
    # spec 0.x.21 (13.18)
    broker, ch = open_broker("4.0")
    ch.exchange_declare("lr", "x-local-random")
    broker, ch = open_broker("3.13")
    with pytest.raises(PreconditionFailed) as info:
        ch.exchange_declare("lr", "x-local-random")
    assert info.value.reply_text == "PRECONDITION_FAILED - unknown exchange type 'x-local-random'"
    broker, ch = open_broker("3.13.0")
    with pytest.raises(CommandInvalid):
        ch.exchange_declare("lr", "x-local-random")
    broker, ch = open_broker("3.13")
    with pytest.raises(PreconditionFailed, match="unknown exchange type 'x-local-random'"):
        ch.exchange_declare(
            "d", "x-delayed-message", arguments={"x-delayed-type": "x-local-random"}
        )


# ----------------------------------------------------------------- 0.x.13 topic keys


def test_topic_key_with_three_hashes_is_refused_from_4_3_5(open_broker: Open) -> None:
    # spec 0.x.13 (0.6)
    for version in ("4.2", "4.3.4"):
        broker, ch = open_broker(version)
        ch.queue_declare("q", durable=True)
        ch.queue_bind("q", "amq.topic", "#.a.#.b.#")
    broker, ch = open_broker("4.3.5")
    ch.queue_declare("q", durable=True)
    ch.queue_bind("q", "amq.topic", "#.a.#")  # two are allowed
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_bind("q", "amq.topic", "#.a.#.b.#")
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - Topic binding key '#.a.#.b.#' uses 3 '#' wildcards, "
        "at most 2 are allowed"
    )
    broker, ch = open_broker("4.3")
    ch.exchange_declare("t", "topic")
    with pytest.raises(PreconditionFailed, match="uses 4 '#' wildcards"):
        ch.exchange_bind("amq.direct", "t", "#.#.#.#")  # any destination
    broker, ch = open_broker("4.3")
    ch.exchange_declare("d", "x-delayed-message", arguments={"x-delayed-type": "topic"})
    ch.queue_declare("q", durable=True)
    with pytest.raises(PreconditionFailed, match="uses 3 '#' wildcards"):
        ch.queue_bind("q", "d", "#.#.#")  # the routing type's rule (13.1)


# ----------------------------------------------------------------- 0.x.16, 0.x.17 x-queue-type


def test_x_queue_type_is_injected_in_3_13_only_with_a_vhost_default(open_broker: Open) -> None:
    # spec 0.x.16 (11.3)
    broker, ch = open_broker("4.0")
    ch.queue_declare("c", arguments={"x-max-length": 3})
    assert broker.queues["c"].arguments == {"x-max-length": 3, "x-queue-type": "classic"}
    broker, ch = open_broker("3.13")
    ch.queue_declare("c", arguments={"x-max-length": 3})
    assert broker.queues["c"].arguments == {"x-max-length": 3}
    assert broker.queues["c"].queue_type == "classic"
    broker.vhost("/").default_queue_type = "quorum"
    ch.queue_declare("d", durable=True)
    ch.queue_declare("e")  # quorum does not suit: classic
    assert broker.queues["d"].arguments == {"x-queue-type": "quorum"}
    assert broker.queues["e"].arguments == {"x-queue-type": "classic"}


def test_quorum_redeclared_without_type_says_none_in_3_13(open_broker: Open) -> None:
    # spec 0.x.17 (11.28)
    quorum = {"x-queue-type": "quorum"}
    texts = {}
    for version in ("3.13", "4.0"):
        broker, ch = open_broker(version)
        ch.queue_declare("qq", durable=True, arguments=quorum)
        with pytest.raises(PreconditionFailed) as info:
            ch.queue_declare("qq", durable=True)
        texts[version] = info.value.reply_text
    prefix = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'qq' in vhost '/': "
    assert texts == {
        "3.13": prefix + "received none but current is the value 'quorum' of type 'longstr'",
        # both present: plain values (C/rabbit_misc.erl val/1; 11.28's text shows the
        # typed form, which the code prints only when one side is missing)
        "4.0": prefix + "received 'classic' but current is 'quorum'",
    }


def test_missing_x_queue_type_equals_classic_on_redeclare_in_3_13(open_broker: Open) -> None:
    # spec 0.x.17: none and "classic" are the same classic queue
    broker, ch = open_broker("3.13")
    ch.queue_declare("a", arguments={"x-queue-type": "classic"})
    ch.queue_declare("a")
    ch.queue_declare("b")
    ch.queue_declare("b", arguments={"x-queue-type": "classic"})
    with pytest.raises(
        PreconditionFailed,
        match="received the value 'quorum' of type 'longstr' but current is none",
    ):
        ch.queue_declare("b", arguments={"x-queue-type": "quorum"})


# ----------------------------------------------------------------- 0.x.18 classic queue versions


def test_classic_queue_version_1_is_refused_in_4_3(open_broker: Open) -> None:
    # spec 0.x.18
    broker, ch = open_broker("4.2")
    ch.queue_declare("q", arguments={"x-queue-version": 1})
    broker, ch = open_broker("4.3")
    ch.queue_declare("v2", durable=True, arguments={"x-queue-version": 2})
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("q", durable=True, arguments={"x-queue-version": 1})
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - invalid arg 'x-queue-version' for queue 'q' in vhost '/': "
        "\"unsupported queue version '1'\""
    )


def test_x_queue_mode_is_not_validated_in_4_3(open_broker: Open) -> None:
    # spec 0.x.18 (⚠ row note: follow the code, which accepts any value)
    broker, ch = open_broker("4.2")
    with pytest.raises(PreconditionFailed, match="unsupported queue mode 'eager'"):
        ch.queue_declare("q", arguments={"x-queue-mode": "eager"})
    broker, ch = open_broker("4.3")
    ch.queue_declare("q", durable=True, arguments={"x-queue-mode": "eager"})
    with pytest.raises(PreconditionFailed, match="of queue type rabbit_quorum_queue"):
        ch.queue_declare(
            "qq", durable=True, arguments={"x-queue-type": "quorum", "x-queue-mode": "lazy"}
        )


# ----------------------------------------------------------------- 0.x.23 consistent-hash weights


def test_consistent_hash_weight_over_10000_is_refused_from_4_2_6(open_broker: Open) -> None:
    # spec 0.x.23 (13.11)
    broker, ch = open_broker("4.2.5")
    ch.exchange_declare("h", "x-consistent-hash")
    ch.queue_declare("q")
    ch.queue_bind("q", "h", "20000")
    ch.basic_publish("h", "any", b"m")
    assert broker.queues["q"].messages_ready == 1
    ch.queue_purge("q")
    for version in ("4.2.6", "4.3"):
        broker, ch = open_broker(version)
        ch.exchange_declare("h", "x-consistent-hash")
        ch.queue_declare("q", durable=True)
        ch.queue_bind("q", "h", "10000")
        with pytest.raises(PreconditionFailed) as info:
            ch.queue_bind("q", "h", "10001")
        assert info.value.reply_text == (
            "PRECONDITION_FAILED - The binding key must not exceed 10000"
        )
    broker, ch = open_broker("4.2.5")
    ch.exchange_declare("h", "x-consistent-hash")
    ch.queue_declare("q")
    with pytest.raises(PreconditionFailed, match="must be greater than 0"):
        ch.queue_bind("q", "h", "0")  # the other rules hold in every version


# ----------------------------------------------------------------- the pytest marker


@pytest.mark.rabbitmq_version("3.13")
def test_marker_picks_the_version_of_amqp_broker(broker: Broker, ch: Channel) -> None:
    assert broker.rabbitmq_version.version == "3.13.7"
    ch.queue_declare("c")
    assert broker.queues["c"].arguments == {}  # 3.13's rule (0.x.16)


@pytest.mark.rabbitmq_version(version="4.3.4")
def test_marker_takes_a_patch_release_by_keyword(broker: Broker) -> None:
    assert broker.rabbitmq_version.version == "4.3.4"


def test_unmarked_test_gets_the_default_version(broker: Broker) -> None:
    assert broker.rabbitmq_version.version == "4.2.9"


def test_closed_channel_errors_after_a_version_refusal(open_broker: Open) -> None:
    # a 406 from a version rule closes the channel as any 406 does (spec 9.1)
    broker, ch = open_broker("4.3")
    with pytest.raises(PreconditionFailed):
        ch.queue_declare("q", durable=True, arguments={"x-queue-version": 1})
    with pytest.raises(ChannelClosed):
        ch.queue_declare("q2", durable=True)
    broker, ch = open_broker("3.13.1")
    with pytest.raises(CommandInvalid):
        ch.exchange_declare("x", "nope")
    with pytest.raises(ConnectionClosed):
        ch.connection.channel()
