"""Each delivery gets its own properties: a handler that changes what it received
(``properties.headers``, nested tables and arrays such as ``x-death`` entries)
never changes the queued message, another queue's copy, a later redelivery or
a returned message, as encoding on the wire guarantees with RabbitMQ."""

from __future__ import annotations

import copy
import pickle
import sys
import threading
from typing import Any

import attrs

from amqpmodel import BasicProperties, Broker, Channel, VirtualClock

HEADERS: dict[str, Any] = {"attempt": 1, "trace": ["a", {"hop": 1}], "meta": {"k": [1, 2]}}


def _headers() -> dict[str, Any]:
    return {"attempt": 1, "trace": ["a", {"hop": 1}], "meta": {"k": [1, 2]}}


def _mutate(headers: dict[str, Any]) -> None:
    headers["attempt"] += 1
    headers["added"] = True
    headers["trace"].append("b")
    headers["trace"][1]["hop"] = 99
    headers["meta"]["k"].append(3)


def test_requeued_message_keeps_its_headers_after_a_consumer_changed_them(
    ch: Channel, broker: Broker
) -> None:
    # spec 2.12: a requeued message is the same message, redelivered
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", BasicProperties(headers=_headers()))
    seen: list[dict[str, Any]] = []

    def handler(channel: Channel, method: Any, properties: BasicProperties, body: bytes) -> None:
        assert properties.headers is not None
        seen.append(copy.deepcopy(properties.headers))
        _mutate(properties.headers)
        if not method.redelivered:
            channel.basic_nack(method.delivery_tag, requeue=True)
        else:
            channel.basic_ack(method.delivery_tag)

    ch.basic_consume("q", handler)
    broker.run_until_idle()
    assert seen == [HEADERS, HEADERS]
    assert broker.queues["q"].messages == 0


def test_quorum_redeliveries_keep_the_queued_headers_spec_11_14(
    ch: Channel, broker: Broker
) -> None:
    # a redelivery of a quorum message carries x-delivery-count, so it gets headers of
    # its own; the tables and arrays in them are the delivery's own too
    ch.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum"})
    ch.basic_publish("", "q", b"m", BasicProperties(headers=_headers()))
    seen: list[dict[str, Any]] = []

    def handler(channel: Channel, method: Any, properties: BasicProperties, body: bytes) -> None:
        assert properties.headers is not None
        seen.append(copy.deepcopy(properties.headers))
        _mutate(properties.headers)
        if len(seen) < 3:
            channel.basic_reject(method.delivery_tag, requeue=True)
        else:
            channel.basic_ack(method.delivery_tag)

    ch.basic_consume("q", handler)
    broker.run_until_idle()
    assert seen == [HEADERS, {**HEADERS, "x-delivery-count": 1}, {**HEADERS, "x-delivery-count": 2}]


def test_basic_get_gives_a_copy_each_time(ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", BasicProperties(headers=_headers()))
    method, properties, _ = ch.basic_get("q")
    assert method is not None and properties is not None and properties.headers is not None
    _mutate(properties.headers)
    ch.basic_reject(method.delivery_tag, requeue=True)
    assert ch.queue_declare("q", passive=True).message_count == 1
    assert broker_peek_headers(ch, "q") == HEADERS
    method, again, _ = ch.basic_get("q", auto_ack=True)
    assert method is not None and method.redelivered
    assert again is not None and again.headers == HEADERS


def broker_peek_headers(ch: Channel, queue: str) -> Any:
    return ch.connection.broker.queues[queue].peek()[0].properties.headers


def test_fanout_queues_do_not_see_each_others_changes(ch: Channel, broker: Broker) -> None:
    # spec 1.12: every bound queue gets the message; each delivery is its own
    ch.exchange_declare("fan", "fanout")
    for name in ("q1", "q2"):
        ch.queue_declare(name)
        ch.queue_bind(name, "fan")
    ch.basic_publish("fan", "", b"m", BasicProperties(headers=_headers(), message_id="id"))

    def handler(channel: Channel, method: Any, properties: BasicProperties, body: bytes) -> None:
        assert properties.headers is not None
        _mutate(properties.headers)
        channel.basic_ack(method.delivery_tag)

    ch.basic_consume("q1", handler)
    broker.run_until_idle()
    _, properties, _ = ch.basic_get("q2", auto_ack=True)
    assert properties is not None
    assert properties.headers == HEADERS
    assert properties.message_id == "id"


def test_consume_generator_yields_copies(ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", BasicProperties(headers=_headers()))
    for method, properties, _ in ch.consume("q", inactivity_timeout=1):
        assert properties.headers is not None
        _mutate(properties.headers)
        ch.basic_nack(method.delivery_tag, requeue=True)
        break
    ch.cancel()
    _, properties, _ = ch.basic_get("q", auto_ack=True)
    assert properties is not None and properties.headers == HEADERS


def test_nested_x_death_entries_are_copies(ch: Channel, clock: VirtualClock) -> None:
    # spec 4.4: the x-death array of tables is the broker's record of the deaths
    ch.queue_declare("dead")
    ch.queue_declare(
        "work",
        arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dead"},
    )
    ch.basic_publish("", "work", b"m", BasicProperties(headers={"n": 1}))
    method, _, _ = ch.basic_get("work")
    assert method is not None
    ch.basic_reject(method.delivery_tag, requeue=False)  # spec 4.1: "rejected"
    method, properties, _ = ch.basic_get("dead")
    assert method is not None and properties is not None and properties.headers is not None
    expected = copy.deepcopy(properties.headers["x-death"])
    death = properties.headers["x-death"][0]
    death["count"] = 1000
    death["routing-keys"].append("tampered")
    properties.headers["x-death"].append({"forged": True})
    ch.basic_nack(method.delivery_tag, requeue=True)
    _, again, _ = ch.basic_get("dead", auto_ack=True)
    assert again is not None and again.headers is not None
    assert again.headers["x-death"] == expected
    assert again.headers["x-death"][0]["count"] == 1


def test_returned_message_is_a_copy_per_return_callback(ch: Channel, broker: Broker) -> None:
    # spec 8.4: basic.return carries the original content
    seen: list[dict[str, Any]] = []

    def on_return(channel: Channel, method: Any, properties: BasicProperties, body: bytes) -> None:
        assert properties.headers is not None
        seen.append(copy.deepcopy(properties.headers))
        _mutate(properties.headers)

    ch.add_on_return_callback(on_return)
    ch.add_on_return_callback(on_return)
    published = BasicProperties(headers=_headers())
    ch.basic_publish("", "nowhere", b"m", published, mandatory=True)
    broker.run_until_idle()
    assert seen == [HEADERS, HEADERS]
    assert published.headers == HEADERS


def test_messages_without_headers_share_their_immutable_properties(
    ch: Channel, broker: Broker
) -> None:
    # nothing mutable to protect: no copy is made (the hot path stays cheap)
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", BasicProperties(message_id="x"))
    queued = broker.queues["q"].peek()[0].properties
    _, properties, _ = ch.basic_get("q", auto_ack=True)
    assert properties is queued


def test_wire_decoded_properties_keep_their_bytes_in_each_copy(ch: Channel, broker: Broker) -> None:
    # a driver resends a message's properties byte for byte; a delivery's private
    # copy is equal to them, so it keeps them (amqpmodel.driver.EncodedProperties)
    from amqpmodel.driver import EncodedProperties

    decoded = EncodedProperties.decoded(b"encoded", headers={"attempt": 1, "path": ["a"]})
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", decoded)
    method, properties, _ = ch.basic_get("q")
    assert method is not None and type(properties) is EncodedProperties
    assert properties is not decoded and properties.encoded == b"encoded"
    assert properties.headers is not None
    properties.headers["path"].append("b")
    ch.basic_reject(method.delivery_tag, requeue=True)
    _, again, _ = ch.basic_get("q", auto_ack=True)
    assert again is not None and again.headers == {"attempt": 1, "path": ["a"]}



def test_a_driver_that_encodes_deliveries_gets_the_queued_properties() -> None:
    # the socket server turns each delivery into frames at once: a private copy of
    # the headers would be made only to be encoded and dropped
    broker = Broker()
    for encodes, expect_shared in ((False, False), (True, True)):
        connection = broker.connect()
        if encodes:
            connection.encodes_deliveries()
        channel = connection.channel()
        channel.queue_declare("q")
        channel.basic_publish("", "q", b"x", BasicProperties(headers={"a": 1}))
        method, first, _ = channel.basic_get("q")
        channel.basic_nack(method.delivery_tag, requeue=True)
        _, second, _ = channel.basic_get("q", auto_ack=True)
        assert first.headers == second.headers == {"a": 1}
        assert (first is second) is expect_shared
        connection.close()


def test_headers_with_typed_integers_pickle_and_copy_with_their_types() -> None:
    from amqpmodel.driver import TAGGED_INTS

    properties = BasicProperties(headers={"n": TAGGED_INTS[b"l"](5), "u": TAGGED_INTS[b"B"](1)})
    for again in (pickle.loads(pickle.dumps(properties)), copy.deepcopy(properties)):
        assert again == properties
        assert [type(v) for v in again.headers.values()] == [TAGGED_INTS[b"l"], TAGGED_INTS[b"B"]]


def test_a_delivered_copy_reads_compares_and_pickles_as_its_message_properties(
    ch: Channel, broker: Broker
) -> None:
    # a delivery's copy is filled as it is read (DeliveredProperties); none of that shows
    sent = BasicProperties(content_type="application/json", headers=_headers(), priority=2)
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", sent)
    method, properties, _ = ch.basic_get("q")
    assert method is not None and properties is not sent
    assert properties == sent and sent == properties
    assert repr(properties) == repr(sent)
    assert pickle.loads(pickle.dumps(properties)) == sent
    assert copy.copy(properties) == sent
    assert attrs.evolve(properties, priority=5) == attrs.evolve(sent, priority=5)
    assert isinstance(properties, BasicProperties)
    _mutate(properties.headers)
    assert properties != sent
    ch.basic_reject(method.delivery_tag, requeue=True)
    assert ch.basic_get("q", auto_ack=True)[1] == sent


def test_two_threads_reading_a_delivered_copy_share_its_headers(ch: Channel) -> None:
    # a handler may pass its properties to another thread; both see one headers dict,
    # as with a plain BasicProperties, whichever thread reads it first
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", BasicProperties(headers={f"k{i}": {"n": i} for i in range(100)}))
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(200):
            method, delivered, _ = ch.basic_get("q")
            seen: list[Any] = [None, None]
            start = threading.Barrier(2)

            def read(
                i: int, delivered: Any = delivered, seen: list[Any] = seen, start: Any = start
            ) -> None:
                start.wait()
                seen[i] = delivered.headers

            threads = [threading.Thread(target=read, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert seen[0] is seen[1]
            ch.basic_reject(method.delivery_tag, requeue=True)
    finally:
        sys.setswitchinterval(switch)


def test_a_delivered_copy_equals_what_a_plain_one_equals(ch: Channel) -> None:
    from amqpmodel.driver import EncodedProperties

    source = BasicProperties(headers={"a": 1})
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", source)
    _, delivered, _ = ch.basic_get("q", auto_ack=True)
    encoded = EncodedProperties.decoded(b"x", headers={"a": 1})
    assert (delivered == source, source == delivered) == (True, True)
    assert (delivered == encoded, encoded == delivered) == (source == encoded, encoded == source)
