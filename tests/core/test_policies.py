"""Policies and operator policies (spec 14): validation texts, matching, precedence
against arguments, the operator merge, and what a change does to running queues."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import BasicProperties, Broker, Channel, NackError, VirtualClock
from amqpmodel._parameters import ParameterError


def bodies(broker: Broker, queue: str) -> list[bytes]:
    return [m.body for m in broker.queues[queue].peek()]


def fill(ch: Channel, queue: str, count: int) -> None:
    for i in range(count):
        ch.basic_publish("", queue, b"%d" % i)


# ----------------------------------------------------------------- validation (14.7, 14.8)


@pytest.mark.parametrize(
    ("definition", "reason"),
    [
        ({}, "no policy provided"),
        ({"foo": 1}, '[{<<"foo">>,1}] are not recognised policy settings'),
        ({"max-length": -1}, "-1 is not a valid maximum length"),
        ({"message-ttl": "x"}, '<<"x">> is not a valid message TTL'),
        ({"expires": 0}, "0 is not a valid queue expiry"),
        ({"overflow": "drop-tail"}, '<<"drop-tail">> is not a valid overflow value'),
        ({"dead-letter-exchange": 5}, "5 is not a valid dead letter exchange name"),
        ({"max-age": "7d"}, '<<"7d">> is not a valid max age'),
        ({"queue-version": 3}, "3 is not a valid queue-version value"),
        (
            {"stream-filter-size-bytes": 300},
            "300 is not a valid filter size. Valid range is 16-255",
        ),
    ],
)
def test_invalid_definitions_refused_with_rabbitmq_text_spec_14_7_14_8(
    broker: Broker, definition: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ParameterError) as info:
        broker.set_policy("p", ".*", definition)
    assert str(info.value) == f"Validation failed\n\n{reason}\n"
    assert broker.list_policies() == []


def test_bad_pattern_priority_and_apply_to_refused_spec_14_8(broker: Broker) -> None:
    with pytest.raises(ParameterError) as info:
        broker.set_policy("p", "(", {"max-length": 1})
    assert "pattern should be regular expression but is invalid" in str(info.value)
    with pytest.raises(ParameterError) as info:
        broker.set_policy("p", ".*", {"max-length": 1}, priority="high")  # type: ignore[arg-type]
    assert 'priority should be a number, actually was <<"high">>' in str(info.value)
    with pytest.raises(ParameterError) as info:
        broker.set_policy("p", ".*", {"max-length": 1}, apply_to="topics")
    assert str(info.value) == (
        "Validation failed\n\napply-to 'topics' unrecognised; should be one of: 'queues', "
        "'classic_queues',  'quorum_queues', 'streams', 'exchanges', or 'all'\n"
    )


def test_operator_policy_takes_only_its_keys_spec_14_9(broker: Broker) -> None:
    with pytest.raises(ParameterError) as info:
        broker.set_operator_policy("op", ".*", {"dead-letter-exchange": "dlx"})
    assert "are not recognised policy settings" in str(info.value)
    broker.set_operator_policy("op", ".*", {"max-length": 3})
    assert broker.list_operator_policies()[0]["definition"] == {"max-length": 3}


def test_clearing_an_unknown_policy_fails_spec_14_1(broker: Broker) -> None:
    with pytest.raises(ParameterError, match="Parameter does not exist"):
        broker.clear_policy("missing")


# ----------------------------------------------------------------- matching (14.2-14.5)


def test_pattern_is_unanchored_and_per_vhost_spec_14_2(broker: Broker, ch: Channel) -> None:
    broker.add_vhost("other")
    broker.set_policy("p", "q", {"max-length": 1}, vhost="other")
    ch.queue_declare("aqb")
    assert broker.queues["aqb"].policy is None
    broker.set_policy("p", "q", {"max-length": 1})
    assert broker.queues["aqb"].policy is not None
    assert broker.queues["aqb"].policy.name == "p"


def test_highest_priority_wins_spec_14_3(broker: Broker, ch: Channel) -> None:
    broker.set_policy("low", ".*", {"max-length": 10}, priority=1)
    broker.set_policy("high", "^q$", {"max-length": 2}, priority=5)
    ch.queue_declare("q")
    assert broker.queues["q"].policy.name == "high"
    fill(ch, "q", 4)
    assert broker.queues["q"].messages_ready == 2


def test_apply_to_reaches_only_its_kind_spec_14_4(broker: Broker, ch: Channel) -> None:
    broker.set_policy("cq", ".*", {"max-length-bytes": 100}, apply_to="classic_queues")
    broker.set_policy("qq", ".*", {"max-length-bytes": 200}, apply_to="quorum_queues")
    broker.set_policy("st", ".*", {"max-length-bytes": 300}, apply_to="streams")
    broker.set_policy("ex", ".*", {"alternate-exchange": "ae"}, apply_to="exchanges")
    ch.queue_declare("c")
    ch.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum"})
    ch.queue_declare("s", durable=True, arguments={"x-queue-type": "stream"})
    ch.exchange_declare("x", "direct")
    assert {n: broker.queues[n].policy.name for n in ("c", "q", "s")} == {
        "c": "cq",
        "q": "qq",
        "s": "st",
    }
    assert broker.exchanges["x"].policy.name == "ex"


def test_policy_with_a_key_the_type_refuses_never_matches_it_spec_14_5(
    broker: Broker, ch: Channel
) -> None:
    broker.set_policy("both", ".*", {"message-ttl": 1000, "delivery-limit": 5}, priority=9)
    broker.set_policy("plain", ".*", {"max-length": 7})
    ch.queue_declare("c")
    ch.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum"})
    assert broker.queues["c"].policy.name == "plain"  # skipped: delivery-limit
    assert broker.queues["q"].policy.name == "both"
    broker.set_operator_policy("op", ".*", {"delivery-limit": 3})
    assert broker.queues["c"].operator_policy is None
    assert broker.queues["q"].operator_policy.name == "op"


# ----------------------------------------------------------------- merging (14.10-14.12, 14.19)


def test_operator_merge_rules_spec_14_10(broker: Broker, ch: Channel) -> None:
    broker.set_policy("p", ".*", {"max-length": 10, "overflow": "drop-head", "expires": 5000})
    broker.set_operator_policy("op", ".*", {"max-length": 4, "overflow": "reject-publish"})
    ch.queue_declare("q")
    assert broker.queues["q"].effective_policy_definition == {
        "max-length": 4,
        "overflow": "reject-publish",
        "expires": 5000,
    }


def test_delivery_limit_merge_negative_means_higher_spec_14_10(broker: Broker, ch: Channel) -> None:
    broker.set_policy("p", ".*", {"delivery-limit": -1})
    broker.set_operator_policy("op", ".*", {"delivery-limit": 3})
    ch.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum"})
    assert broker.queues["q"].effective_policy_definition == {"delivery-limit": 3}
    assert broker.queues["q"].type_figures()["delivery limit"] == 3


def test_classic_lower_limit_wins_argument_wins_dead_letter_spec_14_11(
    broker: Broker, ch: Channel
) -> None:
    ch.exchange_declare("mine", "fanout")
    ch.exchange_declare("theirs", "fanout")
    ch.queue_declare("dead-mine")
    ch.queue_bind("dead-mine", "mine")
    ch.queue_declare(
        "q",
        arguments={"x-max-length": 2, "x-dead-letter-exchange": "mine", "x-overflow": "drop-head"},
    )
    broker.set_policy(
        "p",
        "^q$",
        {"max-length": 5, "dead-letter-exchange": "theirs", "overflow": "reject-publish"},
    )
    fill(ch, "q", 3)
    assert bodies(broker, "q") == [b"1", b"2"]  # argument 2 < policy 5; drop-head kept
    assert broker.queues["dead-mine"].messages_ready == 1  # the argument's DLX


def test_policy_fills_in_what_arguments_leave_out_spec_14_11(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("dead")
    broker.set_policy("p", "^q$", {"dead-letter-exchange": "", "dead-letter-routing-key": "dead"})
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    method, _, _ = ch.basic_get("q")
    ch.basic_reject(method.delivery_tag, requeue=False)
    assert bodies(broker, "dead") == [b"m"]


def test_quorum_overflow_policy_wins_spec_14_12(broker: Broker, ch: Channel) -> None:
    ch.queue_declare(
        "q",
        durable=True,
        arguments={"x-queue-type": "quorum", "x-max-length": 1, "x-overflow": "drop-head"},
    )
    broker.set_policy("p", "^q$", {"overflow": "reject-publish"})
    ch.confirm_delivery()
    ch.basic_publish("", "q", b"1")
    ch.basic_publish("", "q", b"2")  # crosses: still taken (11.22)
    with pytest.raises(NackError):
        ch.basic_publish("", "q", b"3")
    assert bodies(broker, "q") == [b"1", b"2"]


def test_stream_policy_wins_spec_12_6_14_12(broker: Broker, ch: Channel) -> None:
    ch.queue_declare(
        "s",
        durable=True,
        arguments={
            "x-queue-type": "stream",
            "x-max-length-bytes": 10_000,
            "x-stream-max-segment-size-bytes": 500,
        },
    )
    for i in range(10):
        ch.basic_publish("", "s", b"%d" % i + b"." * 99)
    assert broker.queues["s"].first_offset == 0
    broker.set_policy("p", "^s$", {"max-length-bytes": 700})  # retention runs on the change
    assert broker.queues["s"].first_offset == 6


def test_exchange_argument_wins_over_policy_alternate_spec_14_12(
    broker: Broker, ch: Channel
) -> None:
    for name in ("ae-arg", "ae-policy"):
        ch.exchange_declare(name, "fanout")
        ch.queue_declare(name)
        ch.queue_bind(name, name)
    broker.set_policy("p", "^x", {"alternate-exchange": "ae-policy"})
    ch.exchange_declare("x1", "direct", arguments={"alternate-exchange": "ae-arg"})
    ch.exchange_declare("x2", "direct")
    ch.basic_publish("x1", "nowhere", b"one")
    ch.basic_publish("x2", "nowhere", b"two")
    assert bodies(broker, "ae-arg") == [b"one"]
    assert bodies(broker, "ae-policy") == [b"two"]


def test_entities_report_policy_and_effective_definition_spec_14_19(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    queue = broker.queues["q"]
    assert (queue.policy, queue.operator_policy, queue.effective_policy_definition) == (
        None,
        None,
        {},
    )
    broker.set_policy("p", ".*", {"message-ttl": 5})
    assert queue.effective_policy_definition == {"message-ttl": 5}
    assert queue.arguments == {"x-queue-type": "classic"}  # arguments are not touched


# ----------------------------------------------------------------- changes (14.14-14.18)


def test_new_length_limit_trims_at_once_spec_14_15(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    fill(ch, "q", 5)
    broker.set_policy("p", "^q$", {"max-length": 2})
    assert bodies(broker, "q") == [b"3", b"4"]
    assert broker.queues["q"].stats.dropped["maxlen"] == 3


def test_overflow_before_the_change_is_used_while_trimming_spec_14_15(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    fill(ch, "q", 5)
    broker.set_policy("p", "^q$", {"max-length": 2, "overflow": "reject-publish"})
    assert bodies(broker, "q") == [b"3", b"4"]  # dropped under drop-head, in force before


def test_ttl_from_a_policy_is_not_retroactive_spec_14_16(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"old")
    broker.set_policy("p", "^q$", {"message-ttl": 1000})
    ch.basic_publish("", "q", b"new")
    clock.advance(2)
    assert bodies(broker, "q") == [b"old", b"new"]  # the head never expires: new waits behind it
    ch.basic_get("q", auto_ack=True)
    clock.advance(0.001)
    assert bodies(broker, "q") == []


def test_removing_a_ttl_does_not_save_messages_that_had_one_spec_14_16(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    broker.set_policy("p", "^q$", {"message-ttl": 1000})
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    broker.clear_policy("p")
    clock.advance(2)
    assert bodies(broker, "q") == []


def test_expires_from_a_policy_restarts_the_timer_spec_14_17(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    ch.queue_declare("q")
    clock.advance(100)
    broker.set_policy("p", "^q$", {"expires": 10_000})
    clock.advance(9)
    assert "q" in broker.queues
    clock.advance(2)
    assert "q" not in broker.queues


def test_quorum_delivery_limit_policy_applies_to_the_running_queue_spec_14_18(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum"})
    ch.basic_publish("", "q", b"m")
    broker.set_policy("p", "^q$", {"delivery-limit": 1})
    for _ in range(2):
        method, _, _ = ch.basic_get("q")
        ch.basic_nack(method.delivery_tag)
    assert ch.basic_get("q")[0] is None
    assert broker.queues["q"].stats.dropped["delivery_limit"] == 1


def test_policy_change_with_the_same_winner_changes_nothing_spec_14_14(
    broker: Broker, ch: Channel
) -> None:
    broker.set_policy("p", "^q$", {"max-length": 3})
    ch.queue_declare("q")
    before = broker.queues["q"].policy
    broker.set_policy("unrelated", "^zzz$", {"max-length": 1})
    assert broker.queues["q"].policy is before


def test_properties_expiration_still_combines_with_policy_ttl_spec_14_11(
    broker: Broker, clock: VirtualClock, ch: Channel
) -> None:
    broker.set_policy("p", "^q$", {"message-ttl": 10_000})
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", BasicProperties(expiration="1000"))
    clock.advance(1.5)
    assert bodies(broker, "q") == []
