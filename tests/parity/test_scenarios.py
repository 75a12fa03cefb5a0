"""Parity scenarios: each written once, run in-process, over the wire and against RabbitMQ.

Every expected value below is what the spec (shared/spec/rabbitmq-semantics.md)
says; the rabbitmq backend checks that the real broker agrees, the other two
that amqpmodel does. Where RabbitMQ 3.10 differs from the spec, the scenario is
marked ``rabbitmq_differs`` (strict xfail on that backend only).
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import pytest


def bodies(deliveries: list[dict[str, Any]]) -> list[bytes]:
    return [d["body"] for d in deliveries]


# -- default exchange ---------------------------------------------------------


def test_default_exchange_routes_by_name_with_cc_and_bcc_spec_1_2(backend, c):
    q1, q2, q3 = (backend.unique(n) for n in ("q1", "q2", "q3"))
    for q in (q1, q2, q3):
        c.declare_queue(q)
    headers = {"CC": [q2, q1], "BCC": [q3]}
    c.publish("", q1, b"m", {"headers": headers})
    got1, got2, got3 = (c.get(q, auto_ack=True) for q in (q1, q2, q3))
    # spec 1.2: one copy each, deduplicated; spec 4.6: BCC is stripped
    assert [g["body"] for g in (got1, got2, got3)] == [b"m", b"m", b"m"]
    assert got1["properties"]["headers"] == {"CC": [q2, q1]}
    assert got1["routing_key"] == q1
    assert got1["exchange"] == ""
    assert c.get(q1) is None


def test_default_exchange_refuses_bind_403_spec_1_3(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    assert c.error_of(lambda: c.bind(q, "", q)) == (
        403,
        "ACCESS_REFUSED - operation not permitted on the default exchange",
    )


def test_default_exchange_cc_without_bcc_spec_1_2(backend, c):
    q1, q2 = backend.unique("q1"), backend.unique("q2")
    c.declare_queue(q1)
    c.declare_queue(q2)
    c.publish("", q1, b"m", {"headers": {"CC": [q2, q2, backend.unique("missing")]}})
    assert c.get_bodies(q1) == [b"m"]
    assert c.get_bodies(q2) == [b"m"]


# -- exchange types -------------------------------------------------------------


def test_direct_and_fanout_routing_spec_1_12(backend, c):
    direct, fanout = backend.unique("direct"), backend.unique("fanout")
    c.declare_exchange(direct, "direct")
    c.declare_exchange(fanout, "fanout")
    qa, qb = backend.unique("qa"), backend.unique("qb")
    c.declare_queue(qa)
    c.declare_queue(qb)
    c.bind(qa, direct, "Key")
    c.bind(qb, direct, "key")
    c.bind(qa, fanout, "ignored")
    c.bind(qb, fanout, "")
    c.publish(direct, "Key", b"d1")
    c.publish(direct, "KEY", b"d2")
    c.publish(direct, "x", b"d3", {"headers": {"CC": ["key"]}})
    c.publish(fanout, "anything", b"f")
    assert c.get_bodies(qa) == [b"d1", b"f"]
    assert c.get_bodies(qb) == [b"d3", b"f"]


@pytest.mark.parametrize(
    ("routing_key", "expected"),
    [
        ("", ["#", "#.#", ""]),
        ("a.b", ["#", "#.#", "#.b", "*.*", "a.*", "a.#", "a.#.b", "#.*.#", "#.*"]),
        ("oneword", ["#", "#.#", "*", "#.*.#", "#.*"]),
        ("a.b.c", ["#", "#.#", "a.#", "#.*.#", "#.*"]),
        ("a..b", ["#", "#.#", "a.*.b", "a.#", "a.#.b", "#.b", "#.*.#", "#.*"]),
    ],
)
def test_topic_routing_vectors_spec_1_13_1_15(backend, c, routing_key, expected):
    topic = backend.unique("topic")
    c.declare_exchange(topic, "topic")
    patterns = [
        "#",
        "#.#",
        "",
        "*",
        "#.b",
        "*.*",
        "a.*",
        "a.#",
        "a.#.b",
        "a.*.b",
        "#.*.#",
        "#.*",
        "a#b",
    ]
    assert sorted(_matched_patterns(backend, c, topic, patterns, routing_key)) == sorted(expected)


def _matched_patterns(backend, c, topic: str, patterns: list[str], routing_key: str) -> list[str]:
    """Bind a queue per pattern to ``topic``, publish ``routing_key``: the patterns that got it."""
    queues = {}
    for pattern in patterns:
        queues[pattern] = backend.unique("t")
        c.declare_queue(queues[pattern])
        c.bind(queues[pattern], topic, pattern)
    c.publish(topic, routing_key, b"m")
    return [p for p in patterns if c.get(queues[p], auto_ack=True) is not None]


WILDCARD_PATTERNS = [
    "#.error",
    "*.*.rabbit",
    "#.*.b.c",
    "*.a.#.b",
    "a.#.*",
    "a.*.#",
    "*.#.*",
    "#.a.#",
    "a.#.#.b",
]


@pytest.mark.parametrize(
    ("routing_key", "expected"),
    [
        ("error", ["#.error"]),
        ("kern.x.error", ["#.error", "*.#.*"]),
        ("quick.orange.rabbit", ["*.*.rabbit", "*.#.*"]),
        ("x.b.c", ["#.*.b.c", "*.#.*"]),
        ("x.a.y.b", ["*.a.#.b", "*.#.*", "#.a.#"]),
        ("a.b", ["a.#.*", "a.*.#", "*.#.*", "#.a.#", "a.#.#.b"]),
        ("a", ["#.a.#"]),
        ("a.*.#", ["a.#.*", "a.*.#", "*.#.*", "#.a.#"]),
    ],
)
def test_topic_wildcard_runs_and_leading_wildcards_spec_1_14(backend, c, routing_key, expected):
    # keys that start with a wildcard, and runs of wildcards in any order
    topic = backend.unique("topic")
    c.declare_exchange(topic, "topic")
    matched = _matched_patterns(backend, c, topic, WILDCARD_PATTERNS, routing_key)
    assert sorted(matched) == sorted(expected)


def _reference_topic_match(binding: list[str], routing: list[str]) -> bool:
    """spec 1.14, written out: ``*`` one word, ``#`` zero or more, else the word itself."""
    if not binding:
        return not routing
    if binding[0] == "#":
        return any(
            _reference_topic_match(binding[1:], routing[i:]) for i in range(len(routing) + 1)
        )
    return (
        bool(routing)
        and binding[0] in ("*", routing[0])
        and (_reference_topic_match(binding[1:], routing[1:]))
    )


def _check_topic_sample(
    backend,
    c,
    seed: int,
    binding_words: tuple[list[str], int, int],
    routing_words: tuple[list[str], int, int],
) -> None:
    """Bind 24 random keys, publish 30 random routing keys, compare with the reference.

    ``binding_words`` and ``routing_words`` are (alphabet, fewest words, most words).
    """
    import random

    rng = random.Random(seed)

    def key(alphabet: list[str], fewest: int, most: int) -> str:
        return ".".join(rng.choice(alphabet) for _ in range(rng.randint(fewest, most)))

    binding_keys = sorted({key(*binding_words) for _ in range(40)})[:24]
    routing_keys = [key(*routing_words) for _ in range(30)]
    topic = backend.unique("topic")
    c.declare_exchange(topic, "topic")
    queues = {}
    for binding_key in binding_keys:
        queues[binding_key] = backend.unique("r")
        c.declare_queue(queues[binding_key])
        c.bind(queues[binding_key], topic, binding_key)
    for routing_key in routing_keys:
        c.publish(topic, routing_key, routing_key.encode())

    def words(k: str) -> list[str]:
        return k.split(".") if k else []

    for binding_key, queue in queues.items():
        expected = [
            rk.encode()
            for rk in routing_keys
            if _reference_topic_match(words(binding_key), words(rk))
        ]
        assert c.get_bodies(queue) == expected, binding_key


def test_topic_random_keys_agree_with_the_reference_spec_1_13_1_16(backend, c):
    # a fixed random sample over a small alphabet (empty words, literal "*"
    # and "#" words in routing keys); the rabbitmq backend checks the
    # reference itself against the real broker
    _check_topic_sample(
        backend, c, 1316, (["a", "b", "", "*", "#"], 0, 4), (["a", "b", "c", "", "*", "#"], 0, 4)
    )


def test_topic_long_routing_keys_with_repeated_words_spec_1_13_1_16(backend, c):
    # binding keys with several literal words and wildcard runs between them,
    # routing keys of 9-14 words that repeat their words (amqpmodel matches
    # routing keys over 8 words by the positions of each word)
    _check_topic_sample(
        backend, c, 1413, (["a", "b", "*", "#", "*", "#"], 2, 6), (["a", "b", "c", ""], 9, 14)
    )


def test_topic_queue_bound_twice_gets_one_copy_spec_1_16(backend, c):
    topic = backend.unique("topic")
    c.declare_exchange(topic, "topic")
    q = backend.unique("q")
    c.declare_queue(q)
    c.bind(q, topic, "a.*")
    c.bind(q, topic, "#")
    c.bind(q, topic, "a.b")
    c.publish(topic, "a.b", b"once")
    assert c.get_bodies(q) == [b"once"]


def test_headers_exchange_x_match_all_any_spec_1_17_1_20(backend, c):
    hx = backend.unique("headers")
    c.declare_exchange(hx, "headers")
    names = {}
    bindings = {
        "all": {"x-match": "all", "a": 1, "b": "two"},
        "any": {"x-match": "any", "a": 1, "b": "two"},
        "default_all": {"a": 1},
        "void": {"x-match": "all", "c": None},
        "all_empty": {"x-match": "all"},
        "any_empty": {"x-match": "any"},
        "all_x": {"x-match": "all", "x-foo": "bar"},
        "all_with_x": {"x-match": "all-with-x", "x-foo": "bar"},
    }
    for key, arguments in bindings.items():
        names[key] = backend.unique(key)
        c.declare_queue(names[key])
        c.bind(names[key], hx, "rk-ignored", arguments)

    def route(headers: dict[str, Any]) -> list[str]:
        c.publish(hx, "whatever", b"m", {"headers": headers})
        return sorted(k for k in bindings if c.get(names[k], auto_ack=True) is not None)

    assert route({"a": 1, "b": "two"}) == sorted(
        ["all", "any", "default_all", "all_empty", "all_x"]
    )
    assert route({"a": 1}) == sorted(["any", "default_all", "all_empty", "all_x"])
    assert route({"a": "1", "c": "anything"}) == sorted(["void", "all_empty", "all_x"])
    assert route({"a": decimal.Decimal("1.0")}) == sorted(["all_empty", "all_x"])
    assert route({"x-foo": "bar"}) == sorted(["all_empty", "all_x", "all_with_x"])
    assert route({}) == sorted(["all_empty", "all_x"])


def test_headers_bad_x_match_refused_406_spec_1_17(backend, c):
    hx = backend.unique("headers")
    c.declare_exchange(hx, "headers")
    q = backend.unique("q")
    c.declare_queue(q)
    code, _text = c.error_of(lambda: c.bind(q, hx, "", {"x-match": "some"}))
    assert code == 406


def test_exchange_to_exchange_binding_spec_1_21(backend, c):
    source, middle = backend.unique("src"), backend.unique("mid")
    c.declare_exchange(source, "topic")
    c.declare_exchange(middle, "fanout")
    c.bind_exchange(middle, source, "a.#")
    c.bind_exchange(source, middle, "")  # a cycle: each exchange visited once
    q_direct, q_via = backend.unique("direct"), backend.unique("via")
    c.declare_queue(q_direct)
    c.declare_queue(q_via)
    c.bind(q_direct, source, "a.b")
    c.bind(q_via, middle, "")
    c.bind(q_direct, middle, "")
    c.publish(source, "a.b", b"m")
    c.publish(source, "z", b"none")
    got = c.get(q_via, auto_ack=True)
    assert (got["body"], got["exchange"], got["routing_key"]) == (b"m", source, "a.b")
    assert c.get_bodies(q_direct) == [b"m"]
    assert c.get_bodies(q_via) == []


def test_alternate_exchange_and_mandatory_spec_1_23_1_24_8_4(backend, c):
    main, alt = backend.unique("main"), backend.unique("alt")
    c.declare_exchange(alt, "fanout")
    c.declare_exchange(main, "direct", arguments={"alternate-exchange": alt})
    q_main, q_alt = backend.unique("qmain"), backend.unique("qalt")
    c.declare_queue(q_main)
    c.declare_queue(q_alt)
    c.bind(q_main, main, "k")
    c.bind(q_alt, alt, "")
    c.publish(main, "k", b"routed", mandatory=True)
    c.publish(main, "other", b"alternate", mandatory=True)
    c.pump(0.05)
    assert c.returns == []
    assert c.get_bodies(q_main) == [b"routed"]
    got = c.get(q_alt, auto_ack=True)
    assert (got["body"], got["exchange"], got["routing_key"]) == (b"alternate", main, "other")


def test_mandatory_unroutable_is_returned_spec_8_4(backend, c):
    x = backend.unique("x")
    c.declare_exchange(x, "direct")
    c.publish(x, "nowhere", b"back", {"message_id": "m1"}, mandatory=True)
    c.publish(x, "nowhere", b"lost")
    c.pump(0.1)
    assert c.returns == [
        {
            "reply_code": 312,
            "reply_text": "NO_ROUTE",
            "exchange": x,
            "routing_key": "nowhere",
            "body": b"back",
            "properties": {"message_id": "m1"},
        }
    ]


def test_publish_to_missing_exchange_404_spec_1_8(backend, c):
    x = backend.unique("missing")
    assert c.error_of(lambda: c.publish(x, "k", b"m")) == (
        404,
        f"NOT_FOUND - no exchange '{x}' in vhost '/'",
    )
    assert c.error_of(lambda: c.declare_exchange(x, passive=True)) == (
        404,
        f"NOT_FOUND - no exchange '{x}' in vhost '/'",
    )


def test_exchange_redeclare_406_text_spec_1_7(backend, c):
    x = backend.unique("x")
    c.declare_exchange(x, "direct")
    assert c.error_of(lambda: c.declare_exchange(x, "fanout")) == (
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'type' for exchange '{x}' in vhost '/': "
        "received 'fanout' but current is 'direct'",
    )
    assert c.error_of(lambda: c.declare_exchange(x, "direct", durable=True)) == (
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '{x}' in vhost '/': "
        "received 'true' but current is 'false'",
    )


@pytest.mark.rabbitmq_differs(
    "RabbitMQ 3.10 differs: spec 1.6 (3.10 closes the connection with 503)"
)
def test_unknown_exchange_type_406_spec_1_6(backend, c):
    x = backend.unique("x")
    assert c.error_of(lambda: c.declare_exchange(x, "no-such-type")) == (
        406,
        "PRECONDITION_FAILED - unknown exchange type 'no-such-type'",
    )


# -- queues ---------------------------------------------------------------------


def test_declare_ok_counts_ready_and_consumers_spec_2_6(backend, c):
    q = backend.unique("q")
    assert c.declare_queue(q) == (q, 0, 0)
    for i in range(3):
        c.publish("", q, f"m{i}")
    c.get(q)  # one unacked: not counted
    other = backend.client()
    other.consume(q)
    other.wait(2)
    assert c.declare_queue(q, passive=True) == (q, 0, 1)
    assert c.declare_queue(q) == (q, 0, 1)


def test_server_named_queue_spec_2_2(backend, c):
    name, _, _ = c.declare_queue("", exclusive=True)
    assert name.startswith("amq.gen-")
    assert len(name) == len("amq.gen-") + 22
    c.publish("", name, b"m")
    assert c.get_bodies("") == [b"m"]  # spec 2.2: "" means the last declared queue


def test_queue_redeclare_406_texts_spec_2_3(backend, c):
    q = backend.unique("q")
    c.declare_queue(q, arguments={"x-max-length": 10})
    assert c.error_of(lambda: c.declare_queue(q, durable=True, arguments={"x-max-length": 10})) == (
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'durable' for queue '{q}' in vhost '/': "
        "received 'true' but current is 'false'",
    )
    assert c.error_of(lambda: c.declare_queue(q, arguments={"x-max-length": 11})) == (
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '{q}' in vhost '/': "
        "received '11' but current is '10'",
    )
    assert c.error_of(lambda: c.declare_queue(q)) == (
        406,
        f"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '{q}' in vhost '/': "
        "received none but current is the value '10' of type 'signedint'",
    )
    # other arguments are ignored
    assert c.declare_queue(q, arguments={"x-max-length": 10, "x-whatever": 1}) == (q, 0, 0)


def test_passive_declare_missing_404_spec_2_6(backend, c):
    q = backend.unique("missing")
    assert c.error_of(lambda: c.declare_queue(q, passive=True)) == (
        404,
        f"NOT_FOUND - no queue '{q}' in vhost '/'",
    )
    assert c.error_of(lambda: c.purge(q)) == (404, f"NOT_FOUND - no queue '{q}' in vhost '/'")
    assert c.error_of(lambda: c.get(q)) == (404, f"NOT_FOUND - no queue '{q}' in vhost '/'")


def test_reserved_amq_prefix_403_spec_2_1(backend, c):
    assert c.error_of(lambda: c.declare_queue("amq.parity-test")) == (
        403,
        "ACCESS_REFUSED - queue name 'amq.parity-test' contains reserved prefix 'amq.*'",
    )


def test_exclusive_queue_from_another_connection_405_spec_2_5(backend, c):
    q = backend.unique("excl")
    c.declare_queue(q, exclusive=True)
    other = backend.client()
    text = (
        f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{q}' in vhost '/'. "
        "It could be originally declared on another connection or the exclusive property value "
        "does not match that of the original declaration."
    )
    assert other.error_of(lambda: other.declare_queue(q, passive=True)) == (405, text)
    assert other.error_of(lambda: other.get(q)) == (405, text)
    assert other.error_of(lambda: other.consume(q)) == (405, text)
    assert other.error_of(lambda: other.purge(q)) == (405, text)
    other.publish("", q, b"allowed")  # publishing is allowed
    other.sync_round_trip()
    assert c.get_bodies(q) == [b"allowed"]
    c.close()
    assert other.error_of(lambda: other.declare_queue(q, passive=True))[0] == 404


def test_purge_and_delete_counts_spec_2_10_2_11(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    for i in range(4):
        c.publish("", q, f"m{i}")
    first = c.get(q)
    assert c.purge(q) == 3
    c.publish("", q, b"again")
    c.consume(q)
    c.wait(1)
    assert c.error_of(lambda: c.delete_queue(q, if_unused=True)) == (
        406,
        f"PRECONDITION_FAILED - queue '{q}' in vhost '/' in use",
    )
    del first


def test_delete_if_empty_and_count_spec_2_10(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    c.publish("", q, b"a")
    c.publish("", q, b"b")
    assert c.error_of(lambda: c.delete_queue(q, if_empty=True)) == (
        406,
        f"PRECONDITION_FAILED - queue '{q}' in vhost '/' not empty",
    )
    c.get(q)  # one unacked, one ready
    assert c.delete_queue(q) == 1
    assert c.delete_queue(q) == 0  # missing: ok


# -- basic.get and acknowledgements ---------------------------------------------


def test_basic_get_fields_and_redelivered_spec_7_9_7_10(backend, c):
    x = backend.unique("x")
    c.declare_exchange(x, "direct")
    q = backend.unique("q")
    c.declare_queue(q)
    c.bind(q, x, "rk")
    c.publish(x, "rk", b"one")
    c.publish(x, "rk", b"two")
    got = c.get(q)
    assert {
        k: got[k]
        for k in ("body", "delivery_tag", "redelivered", "exchange", "routing_key", "message_count")
    } == {
        "body": b"one",
        "delivery_tag": 1,
        "redelivered": False,
        "exchange": x,
        "routing_key": "rk",
        "message_count": 1,
    }
    c.reject(got["delivery_tag"], requeue=True)
    again = c.get(q)
    assert (again["body"], again["delivery_tag"], again["redelivered"], again["message_count"]) == (
        b"one",
        2,
        True,
        1,
    )
    third = c.get(q, auto_ack=True)
    assert (third["body"], third["delivery_tag"], third["redelivered"], third["message_count"]) == (
        b"two",
        3,
        False,
        0,
    )
    assert c.get(q) is None
    c.ack(2)


def test_requeue_after_nack_keeps_original_order_spec_2_12(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    for i in range(5):
        c.publish("", q, f"m{i}")
    tag = c.consume(q)
    deliveries = c.wait(5)
    assert bodies(deliveries) == [b"m0", b"m1", b"m2", b"m3", b"m4"]
    assert [d["delivery_tag"] for d in deliveries] == [1, 2, 3, 4, 5]
    c.cancel(tag)  # spec 2.12: cancel does not requeue; the tags stay valid
    c.ack(1)
    c.nack(4, requeue=True)
    c.nack(2, requeue=True)
    c.consume(q)
    again = c.wait(2)
    assert [(d["body"], d["redelivered"], d["delivery_tag"]) for d in again] == [
        (b"m1", True, 6),
        (b"m3", True, 7),
    ]
    c.ack(0, multiple=True)
    assert c.settle(0.05) == []


def test_requeue_order_with_basic_get_and_nack_multiple_spec_2_12(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    for i in range(4):
        c.publish("", q, f"m{i}")
    tags = [c.get(q)["delivery_tag"] for _ in range(3)]
    assert tags == [1, 2, 3]
    c.nack(2, multiple=True, requeue=True)  # m0, m1 back in front of m3
    got = [c.get(q, auto_ack=True) for _ in range(3)]
    assert [(g["body"], g["redelivered"]) for g in got] == [
        (b"m0", True),
        (b"m1", True),
        (b"m3", False),
    ]
    c.reject(3, requeue=True)
    assert c.get_bodies(q) == [b"m2"]


def test_multiple_ack_spec_7_11(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    for i in range(4):
        c.publish("", q, f"m{i}")
    for _ in range(4):
        c.get(q)
    c.ack(3, multiple=True)
    c.nack(4, requeue=True)
    got = c.get(q, auto_ack=True)
    assert (got["body"], got["redelivered"], got["message_count"]) == (b"m3", True, 0)
    assert c.error_of(lambda: c.ack(3)) == (406, "PRECONDITION_FAILED - unknown delivery tag 3")


def test_unknown_delivery_tag_406_spec_7_11(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    c.publish("", q, b"m")
    tag = c.get(q)["delivery_tag"]
    c.ack(tag)
    assert c.error_of(lambda: c.ack(tag)) == (
        406,
        f"PRECONDITION_FAILED - unknown delivery tag {tag}",
    )
    c.publish("", q, b"n")
    c.get(q, auto_ack=True)
    assert c.error_of(lambda: c.ack(1)) == (406, "PRECONDITION_FAILED - unknown delivery tag 1")
    assert c.error_of(lambda: c.reject(7)) == (406, "PRECONDITION_FAILED - unknown delivery tag 7")


def test_channel_close_requeues_unacked_spec_7_13(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    c.publish("", q, b"a")
    c.publish("", q, b"b")
    other = backend.client()
    other.get(q)
    other.get(q)
    other.close()
    got = [c.get(q, auto_ack=True) for _ in range(2)]
    assert [(g["body"], g["redelivered"]) for g in got] == [(b"a", True), (b"b", True)]


# -- consumers ------------------------------------------------------------------


def test_prefetch_limits_unacked_deliveries_spec_7_5(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    for i in range(5):
        c.publish("", q, f"m{i}")
    c.qos(2)
    c.consume(q)
    first = c.wait(2)
    assert bodies(first) == [b"m0", b"m1"]
    assert c.settle(0.1) == []
    c.ack(first[1]["delivery_tag"])
    assert bodies(c.wait(1)) == [b"m2"]
    assert c.settle(0.05) == []
    c.ack(0, multiple=True)
    assert bodies(c.wait(2)) == [b"m3", b"m4"]
    c.ack(0, multiple=True)


def test_consumer_priorities_spec_7_4(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    c.qos(1)
    low = c.consume(q, arguments={"x-priority": -1})
    high = c.consume(q, arguments={"x-priority": 5})
    for i in range(3):
        c.publish("", q, f"m{i}")
    got = c.wait(2)
    assert [(d["consumer_tag"], d["body"]) for d in got] == [(high, b"m0"), (low, b"m1")]
    c.ack(got[1]["delivery_tag"])  # the low-priority consumer is free, the high one blocked
    got = c.wait(1)
    assert [(d["consumer_tag"], d["body"]) for d in got] == [(low, b"m2")]
    c.ack(0, multiple=True)


def test_round_robin_among_equal_consumers_spec_7_4(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    a = c.consume(q, auto_ack=True, consumer_tag="ctag-a")
    b = c.consume(q, auto_ack=True, consumer_tag="ctag-b")
    for i in range(4):
        c.publish("", q, f"m{i}")
    got = c.wait(4)
    assert [(d["consumer_tag"], d["body"]) for d in got] == [
        (a, b"m0"),
        (b, b"m1"),
        (a, b"m2"),
        (b, b"m3"),
    ]


def test_single_active_consumer_failover_spec_7_6(backend, c):
    q = backend.unique("sac")
    c.declare_queue(q, arguments={"x-single-active-consumer": True})
    first = c.consume(q, consumer_tag="first")
    c.consume(q, consumer_tag="second", arguments={"x-priority": 1})
    third = c.consume(q, consumer_tag="third", arguments={"x-priority": 3})
    for i in range(3):
        c.publish("", q, f"m{i}")
    got = c.wait(3)
    assert {d["consumer_tag"] for d in got} == {first}
    assert c.declare_queue(q, passive=True) == (q, 0, 3)
    c.cancel(first)
    c.ack(0, multiple=True)
    c.publish("", q, b"after")
    got = c.wait(1)
    assert [(d["consumer_tag"], d["body"]) for d in got] == [(third, b"after")]
    c.ack(0, multiple=True)


def test_exclusive_consumer_403_spec_7_3(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    c.consume(q, exclusive=True)
    other = backend.client()
    assert other.error_of(lambda: other.consume(q)) == (
        403,
        f"ACCESS_REFUSED - queue '{q}' in vhost '/' in exclusive use",
    )


def test_queue_delete_cancels_consumers_spec_7_8(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    tag = c.consume(q)
    other = backend.client()
    assert other.delete_queue(q) == 0
    c.pump(0.1)
    assert c.cancelled == [tag]


# -- TTL --------------------------------------------------------------------------


def test_queue_ttl_expires_messages_spec_3_1(backend, c):
    q = backend.unique("ttl")
    c.declare_queue(q, arguments={"x-message-ttl": 80})
    c.publish("", q, b"old")
    c.pump(0.2)
    c.publish("", q, b"new")
    got = c.get(q, auto_ack=True)
    assert (got["body"], got["message_count"]) == (b"new", 0)


def test_per_message_expiration_min_with_queue_ttl_spec_3_1_3_3(backend, c):
    q = backend.unique("ttl")
    c.declare_queue(q, arguments={"x-message-ttl": 10_000})
    c.publish("", q, b"long")  # live head: expired messages behind it stay
    c.publish("", q, b"short", {"expiration": "50"})
    c.publish("", q, b"plain")
    c.pump(0.15)
    assert c.declare_queue(q, passive=True)[1] == 3  # spec 3.3: only the head is cleared
    assert c.get(q, auto_ack=True)["body"] == b"long"
    assert c.get_bodies(q) == [b"plain"]


def test_invalid_expiration_406_spec_3_2(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    code, text = c.error_of(lambda: c.publish("", q, b"m", {"expiration": "abc"}))
    assert code == 406
    assert text.startswith("PRECONDITION_FAILED - invalid expiration")


def test_ttl_zero_without_consumer_expires_spec_3_4(backend, c):
    q = backend.unique("q")
    c.declare_queue(q, arguments={"x-message-ttl": 0})
    c.publish("", q, b"gone", mandatory=True)
    c.pump(0.05)
    assert c.returns == []
    assert c.get(q) is None
    c.consume(q, auto_ack=True)
    c.publish("", q, b"taken")
    assert bodies(c.wait(1)) == [b"taken"]


# -- dead lettering ---------------------------------------------------------------


def _deaths_without_time(headers: dict[str, Any]) -> list[dict[str, Any]]:
    deaths = headers["x-death"]
    for death in deaths:
        assert isinstance(death.pop("time"), datetime.datetime)
    return deaths


def test_dead_letter_rejected_x_death_spec_4_1_4_4_4_5(backend, c):
    dlx = backend.unique("dlx")
    c.declare_exchange(dlx, "fanout")
    q, dead = backend.unique("q"), backend.unique("dead")
    c.declare_queue(dead)
    c.bind(dead, dlx, "")
    c.declare_queue(q, arguments={"x-dead-letter-exchange": dlx})
    c.publish("", q, b"m", {"expiration": "60000", "headers": {"CC": ["cc-key"], "keep": "yes"}})
    tag = c.get(q)["delivery_tag"]
    c.reject(tag, requeue=False)
    got = c.get_eventually(dead)
    assert (got["exchange"], got["routing_key"]) == (dlx, q)
    props = got["properties"]
    assert "expiration" not in props  # spec 4.6
    headers = props["headers"]
    assert _deaths_without_time(headers) == [
        {
            "count": 1,
            "reason": "rejected",
            "queue": q,
            "exchange": "",
            "routing-keys": [q, "cc-key"],
            "original-expiration": "60000",
        }
    ]
    assert {k: v for k, v in headers.items() if k != "x-death" and not k.startswith("x-last-")} == {
        "CC": ["cc-key"],
        "keep": "yes",
        "x-first-death-queue": q,
        "x-first-death-reason": "rejected",
        "x-first-death-exchange": "",
    }


@pytest.mark.rabbitmq_differs(
    "RabbitMQ 3.10 differs: spec 0.7 (no x-last-death-* headers before 3.13)"
)
def test_dead_letter_last_death_headers_spec_0_7_4_5(backend, c):
    dlx = backend.unique("dlx")
    c.declare_exchange(dlx, "fanout")
    q, dead = backend.unique("q"), backend.unique("dead")
    c.declare_queue(dead)
    c.bind(dead, dlx, "")
    c.declare_queue(q, arguments={"x-dead-letter-exchange": dlx})
    c.publish("", q, b"m")
    c.reject(c.get(q)["delivery_tag"], requeue=False)
    headers = c.get_eventually(dead)["properties"]["headers"]
    assert (
        headers["x-last-death-queue"],
        headers["x-last-death-reason"],
        headers["x-last-death-exchange"],
    ) == (
        q,
        "rejected",
        "",
    )


def test_dead_letter_expired_twice_counts_and_order_spec_4_4(backend, c):
    dlx = backend.unique("dlx")
    c.declare_exchange(dlx, "direct")
    a, b = backend.unique("a"), backend.unique("b")
    # a -(expired)-> dlx "to-b" -> b -(rejected)-> dlx "to-a" -> a -(expired)-> b
    c.declare_queue(
        a,
        arguments={
            "x-message-ttl": 50,
            "x-dead-letter-exchange": dlx,
            "x-dead-letter-routing-key": "to-b",
        },
    )
    c.declare_queue(
        b, arguments={"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "to-a"}
    )
    c.bind(b, dlx, "to-b")
    c.bind(a, dlx, "to-a")
    c.publish("", a, b"m")
    c.pump(0.15)
    got = c.get(b)
    assert got is not None
    c.reject(got["delivery_tag"], requeue=False)
    c.pump(0.15)
    got = c.get(b, auto_ack=True)
    assert got is not None
    assert (got["exchange"], got["routing_key"]) == (dlx, "to-b")
    headers = got["properties"]["headers"]
    assert _deaths_without_time(headers) == [
        # a repeat only counts and moves the entry: exchange and keys stay the first ones
        {"count": 2, "reason": "expired", "queue": a, "exchange": "", "routing-keys": [a]},
        {"count": 1, "reason": "rejected", "queue": b, "exchange": dlx, "routing-keys": ["to-b"]},
    ]
    assert (
        headers["x-first-death-queue"],
        headers["x-first-death-reason"],
        headers["x-first-death-exchange"],
    ) == (
        a,
        "expired",
        "",
    )


def test_dead_letter_cycle_without_reject_dropped_spec_4_7(backend, c):
    dlx = backend.unique("dlx")
    c.declare_exchange(dlx, "fanout")
    q = backend.unique("q")
    c.declare_queue(q, arguments={"x-message-ttl": 30, "x-dead-letter-exchange": dlx})
    c.bind(q, dlx, "")
    c.publish("", q, b"m")
    c.pump(0.2)
    assert c.get(q) is None  # spec 4.7: expired into itself a second time: dropped


# -- length limits ------------------------------------------------------------------


def test_max_length_drop_head_dead_letters_maxlen_spec_5_2_4_1(backend, c):
    dlx = backend.unique("dlx")
    c.declare_exchange(dlx, "fanout")
    q, dead = backend.unique("q"), backend.unique("dead")
    c.declare_queue(dead)
    c.bind(dead, dlx, "")
    c.declare_queue(q, arguments={"x-max-length": 2, "x-dead-letter-exchange": dlx})
    c.confirm()
    assert [c.publish("", q, f"m{i}") for i in range(4)] == ["ack"] * 4
    assert c.get_bodies(q) == [b"m2", b"m3"]
    first = c.get_eventually(dead)
    assert first["body"] == b"m0"
    assert first["properties"]["headers"]["x-death"][0]["reason"] == "maxlen"
    assert c.get_eventually(dead)["body"] == b"m1"


def test_max_length_reject_publish_nacks_spec_5_3_8_3(backend, c):
    q = backend.unique("q")
    c.declare_queue(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    c.confirm()
    assert [c.publish("", q, f"m{i}") for i in range(3)] == ["ack", "nack", "nack"]
    assert c.get_bodies(q) == [b"m0"]


def test_reject_publish_to_several_queues_nack_but_lands_spec_5_4(backend, c):
    fanout = backend.unique("fanout")
    c.declare_exchange(fanout, "fanout")
    full, free = backend.unique("full"), backend.unique("free")
    c.declare_queue(full, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    c.declare_queue(free)
    c.bind(full, fanout, "")
    c.bind(free, fanout, "")
    c.confirm()
    assert c.publish(fanout, "", b"m") == "nack"
    assert c.get_bodies(free) == [b"m"]
    assert c.get_bodies(full) == []


def test_max_length_bytes_drop_head_spec_5_1(backend, c):
    q = backend.unique("q")
    c.declare_queue(q, arguments={"x-max-length-bytes": 10})
    for body in (b"aaaa", b"bbbb", b"cccc"):
        c.publish("", q, body)
    assert c.get_bodies(q) == [b"bbbb", b"cccc"]


def test_confirms_mandatory_unroutable_returned_spec_8_2_8_4(backend, c):
    x = backend.unique("x")
    c.declare_exchange(x, "direct")
    c.confirm()
    assert c.publish(x, "nowhere", b"m", mandatory=True) == "returned"
    assert c.publish(x, "nowhere", b"m") == "ack"


def test_confirm_then_tx_406_spec_8_7(backend, c):
    c.confirm()
    assert c.error_of(c.tx_select) == (
        406,
        "PRECONDITION_FAILED - cannot switch from confirm to tx mode",
    )


def test_tx_commit_on_non_tx_channel_406_spec_8_7(backend, c):
    assert c.error_of(c.tx_commit) == (406, "PRECONDITION_FAILED - channel is not transactional")


# -- priority queues ----------------------------------------------------------------


def test_priority_queue_order_spec_6_2(backend, c):
    q = backend.unique("prio")
    c.declare_queue(q, arguments={"x-max-priority": 5})
    for body, priority in [("p0", None), ("p3a", 3), ("p9", 9), ("p1", 1), ("p3b", 3), ("p5", 5)]:
        c.publish("", q, body, {"priority": priority} if priority is not None else None)
    assert c.get_bodies(q) == [b"p9", b"p5", b"p3a", b"p3b", b"p1", b"p0"]


def test_priority_ignored_without_max_priority_spec_6_2(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    c.publish("", q, b"low", {"priority": 0})
    c.publish("", q, b"high", {"priority": 9})
    assert c.get_bodies(q) == [b"low", b"high"]


def test_priority_queue_requeue_keeps_position_spec_6_2_2_12(backend, c):
    q = backend.unique("prio")
    c.declare_queue(q, arguments={"x-max-priority": 2})
    c.publish("", q, b"a", {"priority": 1})
    c.publish("", q, b"b", {"priority": 1})
    c.publish("", q, b"c", {"priority": 2})
    assert c.get(q)["body"] == b"c"
    assert c.get(q)["body"] == b"a"
    c.nack(0, multiple=True, requeue=True)
    got = [c.get(q, auto_ack=True) for _ in range(3)]
    assert [(g["body"], g["redelivered"]) for g in got] == [
        (b"c", True),
        (b"a", True),
        (b"b", False),
    ]


# -- transactions ---------------------------------------------------------------------


def test_tx_commit_and_rollback_publishes_spec_8_8(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    c.tx_select()
    c.publish("", q, b"rolled-back")
    c.tx_rollback()
    c.publish("", q, b"committed")
    assert c.get(q) is None
    c.tx_commit()
    got = c.get(q)
    assert (got["body"], got["message_count"]) == (b"committed", 0)
    c.tx_commit()


def test_tx_acks_buffered_and_rollback_keeps_them_outstanding_spec_8_8(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    c.publish("", q, b"a")
    c.publish("", q, b"b")
    c.tx_select()
    c.get(q)
    c.get(q)
    c.ack(1)
    c.tx_rollback()  # the ack is dropped: tag 1 is outstanding again, nothing requeued
    assert c.get(q) is None
    c.ack(2, multiple=True)
    c.tx_commit()
    c.recover()
    c.pump(0.05)
    assert c.get(q) is None


def test_tx_commit_partial_with_reject_publish_406_spec_5_6(backend, c):
    q = backend.unique("q")
    c.declare_queue(q, arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    c.tx_select()
    c.publish("", q, b"m")
    assert c.error_of(c.tx_commit) == (406, "PRECONDITION_FAILED - partial tx completion")


# -- properties ----------------------------------------------------------------------


def test_properties_round_trip_spec_8_2(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    stamp = datetime.datetime(2024, 5, 17, 12, 30, 45)
    headers = {
        "string": "text",
        "int": 7,
        "negative": -123456,
        "big": 2**40,
        "true": True,
        "false": False,
        "bytes": b"\x00\xffraw",
        "timestamp": stamp,
        "decimal": decimal.Decimal("3.14"),
        "array": [1, "two", [3], {"four": 4}],
        "nested": {"inner": {"deep": "value", "list": []}, "n": 0},
        "empty": {},
        "void": None,
    }
    properties = {
        "content_type": "application/json",
        "content_encoding": "gzip",
        "headers": headers,
        "delivery_mode": 2,
        "priority": 4,
        "correlation_id": "corr-1",
        "reply_to": "reply.queue",
        "expiration": "60000",
        "message_id": "msg-1",
        "timestamp": 1_700_000_000,
        "type": "kind",
        "user_id": "guest",
        "app_id": "parity",
    }
    c.publish("", q, b"\x00body\xff", properties)
    got = c.get(q, auto_ack=True)
    assert got["body"] == b"\x00body\xff"
    assert got["properties"] == properties
    c.consume(q, auto_ack=True)
    c.publish("", q, b"again", properties)
    (delivered,) = c.wait(1)
    assert delivered["properties"] == properties


def test_user_id_mismatch_406_spec_8_6(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    assert c.error_of(lambda: c.publish("", q, b"m", {"user_id": "someone-else"})) == (
        406,
        "PRECONDITION_FAILED - user_id property set to 'someone-else' but authenticated user was 'guest'",
    )


def test_empty_body_and_no_properties_spec_8_2(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    c.publish("", q, b"")
    got = c.get(q, auto_ack=True)
    assert (got["body"], got["properties"]) == (b"", {})


# -- more errors and lifecycle ---------------------------------------------------------


def test_exchange_delete_if_unused_406_and_missing_ok_spec_1_9(backend, c):
    x = backend.unique("x")
    c.declare_exchange(x, "fanout")
    q = backend.unique("q")
    c.declare_queue(q)
    c.bind(q, x, "")
    assert c.error_of(lambda: c.delete_exchange(x, if_unused=True)) == (
        406,
        f"PRECONDITION_FAILED - exchange '{x}' in vhost '/' in use",
    )
    c.delete_exchange(x)
    c.delete_exchange(x)  # missing: delete-ok
    c.publish("", q, b"still-there")
    assert c.get_bodies(q) == [b"still-there"]


def test_bind_to_missing_exchange_404_spec_1_22(backend, c):
    q, x = backend.unique("q"), backend.unique("missing")
    c.declare_queue(q)
    assert c.error_of(lambda: c.bind(q, x, "k")) == (
        404,
        f"NOT_FOUND - no exchange '{x}' in vhost '/'",
    )
    c.unbind(q, "amq.direct", "never-bound")  # spec 1.22: unbind-ok


def test_auto_delete_exchange_goes_with_last_binding_spec_1_10(backend, c):
    x = backend.unique("ad")
    c.declare_exchange(x, "fanout", auto_delete=True)
    q = backend.unique("q")
    c.declare_queue(q)
    c.bind(q, x, "")
    c.unbind(q, x, "")
    assert c.error_of(lambda: c.declare_exchange(x, passive=True)) == (
        404,
        f"NOT_FOUND - no exchange '{x}' in vhost '/'",
    )


def test_auto_delete_queue_goes_with_last_consumer_spec_2_8(backend, c):
    q = backend.unique("ad")
    c.declare_queue(q, auto_delete=True)
    tag = c.consume(q)
    c.cancel(tag)
    assert c.error_of(lambda: c.declare_queue(q, passive=True)) == (
        404,
        f"NOT_FOUND - no queue '{q}' in vhost '/'",
    )


def test_queue_expires_when_unused_spec_2_9(backend, c):
    q = backend.unique("exp")
    c.declare_queue(q, arguments={"x-expires": 100})
    c.publish("", q, b"m")
    c.pump(0.3)
    assert c.error_of(lambda: c.declare_queue(q, passive=True)) == (
        404,
        f"NOT_FOUND - no queue '{q}' in vhost '/'",
    )


def test_invalid_queue_argument_406_spec_2_7(backend, c):
    q = backend.unique("q")
    code, text = c.error_of(lambda: c.declare_queue(q, arguments={"x-max-length": -1}))
    assert code == 406
    assert text.startswith(
        f"PRECONDITION_FAILED - invalid arg 'x-max-length' for queue '{q}' in vhost '/'"
    )


def test_expired_dead_letter_keeps_original_expiration_spec_4_4_4_6(backend, c):
    dlx = backend.unique("dlx")
    c.declare_exchange(dlx, "fanout")
    q, dead = backend.unique("q"), backend.unique("dead")
    c.declare_queue(dead)
    c.bind(dead, dlx, "")
    c.declare_queue(
        q, arguments={"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "new-key"}
    )
    c.publish("", q, b"m", {"expiration": "40"})
    c.pump(0.15)
    c.get(q)  # the head is cleared before a get (spec 3.3)
    got = c.get_eventually(dead)
    assert got["routing_key"] == "new-key"
    assert "expiration" not in got["properties"]
    assert _deaths_without_time(got["properties"]["headers"]) == [
        {
            "count": 1,
            "reason": "expired",
            "queue": q,
            "exchange": "",
            "routing-keys": [q],
            "original-expiration": "40",
        }
    ]


def test_basic_recover_requeues_unacked_spec_7_12(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    c.publish("", q, b"a")
    c.publish("", q, b"b")
    c.get(q)
    c.get(q)
    c.recover()
    got = [c.get(q, auto_ack=True) for _ in range(2)]
    assert [(g["body"], g["redelivered"], g["delivery_tag"]) for g in got] == [
        (b"a", True, 3),
        (b"b", True, 4),
    ]


def test_global_qos_alone_limits_channel_spec_7_5_0_1(backend, c):
    q1, q2 = backend.unique("q1"), backend.unique("q2")
    c.declare_queue(q1)
    c.declare_queue(q2)
    for q in (q1, q2):
        for i in range(3):
            c.publish("", q, f"{q[-2:]}{i}")
    c.qos(3, global_qos=True)
    c.consume(q1)
    c.consume(q2)
    assert len(c.wait(3)) == 3
    assert c.settle(0.1) == []
    c.ack(0, multiple=True)
    assert len(c.wait(3)) == 3
    c.ack(0, multiple=True)


@pytest.mark.rabbitmq_differs(
    "RabbitMQ 3.10 differs: spec 7.5 (with a per-consumer limit also set, 3.10 ignores the global one)"
)
def test_global_qos_channel_limit_with_consumer_limit_spec_7_5_0_1(backend, c):
    q1, q2 = backend.unique("q1"), backend.unique("q2")
    c.declare_queue(q1)
    c.declare_queue(q2)
    for q in (q1, q2):
        for i in range(3):
            c.publish("", q, f"{q[-2:]}{i}")
    c.qos(3, global_qos=True)
    c.qos(2)
    c.consume(q1)
    c.consume(q2)
    got = c.wait(3)
    assert len(got) == 3
    assert c.settle(0.1) == []
    c.ack(0, multiple=True)
    assert len(c.wait(3)) == 3
    c.ack(0, multiple=True)


def test_prefetch_size_540_closes_connection_spec_7_5(backend, c):
    code, _text = c.error_of(lambda: c._call(lambda ch: ch.basic_qos(prefetch_size=10)))
    assert code == 540
    q = backend.unique("q")
    c.declare_queue(q)  # a new connection works


def test_channel_error_keeps_other_channels_spec_9_1(backend, c):
    q = backend.unique("q")
    c.declare_queue(q)
    second = c.connection.channel()
    assert c.error_of(lambda: c.declare_queue(backend.unique("missing"), passive=True))[0] == 404
    assert second.is_open
    second.basic_publish("", q, b"through second")
    assert c.get_bodies(q) == [b"through second"]


# -- direct reply-to (not in the numbered spec; RabbitMQ's behaviour) ------------------


def test_direct_reply_to_round_trip(backend, c):
    server = backend.client()
    rpc = backend.unique("rpc")
    server.declare_queue(rpc)
    c.consume("amq.rabbitmq.reply-to", auto_ack=True)
    c.publish("", rpc, b"ping", {"reply_to": "amq.rabbitmq.reply-to", "correlation_id": "c1"})
    request = server.get_eventually(rpc)
    assert request is not None
    key = request["properties"]["reply_to"]
    assert key.startswith("amq.rabbitmq.reply-to.")
    server.publish("", key, b"pong", {"correlation_id": "c1"})
    (reply,) = c.wait(1)
    assert (reply["body"], reply["properties"], reply["exchange"], reply["routing_key"]) == (
        b"pong",
        {"correlation_id": "c1"},
        "",
        key,
    )
    assert reply["redelivered"] is False


def test_direct_reply_to_errors(backend, c):
    rpc = backend.unique("rpc")
    c.declare_queue(rpc)
    assert c.error_of(lambda: c.publish("", rpc, b"q", {"reply_to": "amq.rabbitmq.reply-to"})) == (
        406,
        "PRECONDITION_FAILED - fast reply consumer does not exist",
    )
    assert c.error_of(lambda: c.consume("amq.rabbitmq.reply-to", auto_ack=False)) == (
        406,
        "PRECONDITION_FAILED - reply consumer cannot acknowledge",
    )
    c.consume("amq.rabbitmq.reply-to", auto_ack=True)
    assert c.error_of(lambda: c.consume("amq.rabbitmq.reply-to", auto_ack=True)) == (
        406,
        "PRECONDITION_FAILED - reply consumer already set",
    )
