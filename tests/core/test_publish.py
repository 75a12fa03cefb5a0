"""Publishing, publisher confirms, mandatory returns and transactions (spec 8)."""

from __future__ import annotations

from typing import Any

import pytest

from amqpmodel import (
    BasicAck,
    BasicNack,
    BasicProperties,
    BasicReturn,
    Broker,
    Channel,
    ChannelClosed,
    Connection,
    ConnectionClosed,
    NackError,
    NotFound,
    NotImplementedByBroker,
    PreconditionFailed,
    UnroutableError,
    VirtualClock,
)
from amqpmodel.testing import assert_accounted

# ----------------------------------------------------------------- helpers


class Recorder:
    """Collects confirms and returns in the order the connection delivers them."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_confirm(self, method: Any) -> None:
        self.events.append(("ack" if isinstance(method, BasicAck) else "nack", method))

    def on_return(
        self, channel: Channel, method: BasicReturn, properties: Any, body: bytes
    ) -> None:
        self.events.append(("return", (channel, method, properties, body)))

    @property
    def confirms(self) -> list[Any]:
        return [method for kind, method in self.events if kind in ("ack", "nack")]

    @property
    def returns(self) -> list[tuple[Channel, BasicReturn, Any, bytes]]:
        return [value for kind, value in self.events if kind == "return"]

    def outcome(self) -> dict[int, str]:
        """Sequence number -> "ack"/"nack", expanding multiple=true; each number exactly once."""
        seen: dict[int, str] = {}
        for method in self.confirms:
            kind = "ack" if isinstance(method, BasicAck) else "nack"
            if method.multiple:
                numbers = [n for n in range(1, method.delivery_tag + 1) if n not in seen]
                assert numbers, f"multiple=true {method} covers nothing new"
            else:
                numbers = [method.delivery_tag]
            for number in numbers:
                assert number not in seen, f"sequence number {number} confirmed twice"
                seen[number] = kind
        return seen


def confirming(ch: Channel) -> Recorder:
    recorder = Recorder()
    ch.confirm_delivery(ack_nack_callback=recorder.on_confirm)
    ch.add_on_return_callback(recorder.on_return)
    return recorder


# ----------------------------------------------------------------- 8.1 confirm.select and sequence numbers


def test_8_1_sequence_numbers_start_at_1_at_first_confirm_select(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"before confirm mode")
    ch.basic_publish("", "q", b"before confirm mode")
    recorder = confirming(ch)
    assert ch.next_publish_seq_no == 1
    for _ in range(3):
        ch.basic_publish("", "q", b"m")
    assert ch.next_publish_seq_no == 4
    broker.run_until_idle()
    assert recorder.outcome() == {1: "ack", 2: "ack", 3: "ack"}


def test_8_1_confirm_select_may_repeat_without_resetting_numbers(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    recorder = confirming(ch)
    ch.basic_publish("", "q", b"1")
    ch.confirm_delivery()  # spec 8.1: repeating confirm.select is fine
    ch.confirm_delivery(ack_nack_callback=recorder.on_confirm)
    assert ch.next_publish_seq_no == 2
    ch.basic_publish("", "q", b"2")
    broker.run_until_idle()
    assert recorder.outcome() == {1: "ack", 2: "ack"}
    assert ch.is_open


def test_8_1_callbacks_run_on_drain_not_inside_publish(conn: Connection, ch: Channel) -> None:
    ch.queue_declare("q")
    recorder = confirming(ch)
    ch.basic_publish("", "q", b"m")
    assert recorder.events == []
    conn.process_data_events()
    assert recorder.outcome() == {1: "ack"}
    conn.process_data_events()
    assert len(recorder.confirms) == 1  # not repeated by a second drain


def test_8_1_each_publish_confirmed_exactly_once_mixed_outcomes(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("plain")
    ch.queue_declare("full", arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    recorder = confirming(ch)
    expected: dict[int, str] = {}
    for i in range(1, 31):
        kind = i % 3
        try:
            if kind == 0:
                ch.basic_publish("", "plain", b"routed")
            elif kind == 1:
                ch.basic_publish("", "nowhere", b"unroutable", mandatory=bool(i % 2))
            else:
                ch.basic_publish("", "full", b"maybe rejected")
        except UnroutableError:
            pass
        except NackError:
            pass
        # the first two messages to "full" (i = 2, 5) fit; later ones are rejected (spec 5.3)
        expected[i] = "nack" if kind == 2 and i > 5 else "ack"
    broker.run_until_idle()
    assert recorder.outcome() == expected
    assert broker.queues["plain"].messages_ready == 10
    assert broker.queues["full"].messages_ready == 2


def test_8_1_multiple_ack_covers_every_number_up_to_its_tag(broker: Broker, ch: Channel) -> None:
    # Whether the broker coalesces confirms with multiple=true is its choice;
    # whichever it does, the union must be exactly the publishes made.
    ch.queue_declare("q")
    recorder = confirming(ch)
    for _ in range(50):
        ch.basic_publish("", "q", b"m")
    broker.run_until_idle()
    assert recorder.outcome() == {n: "ack" for n in range(1, 51)}
    for method in recorder.confirms:
        assert 1 <= method.delivery_tag <= 50


def test_8_1_confirms_per_channel_numbering(broker: Broker, conn: Connection) -> None:
    a, b = conn.channel(), conn.channel()
    a.queue_declare("q")
    ra, rb = confirming(a), confirming(b)
    for _ in range(3):
        a.basic_publish("", "q", b"a")
    b.basic_publish("", "q", b"b")
    broker.run_until_idle()
    assert ra.outcome() == {1: "ack", 2: "ack", 3: "ack"}
    assert rb.outcome() == {1: "ack"}


def test_8_1_next_publish_seq_no_does_not_advance_without_confirm_mode(ch: Channel) -> None:
    ch.queue_declare("q")
    before = ch.next_publish_seq_no
    ch.basic_publish("", "q", b"m")
    assert ch.next_publish_seq_no == before


# ----------------------------------------------------------------- 8.2 when acks come


def test_8_2_unroutable_without_mandatory_is_acked(broker: Broker, ch: Channel) -> None:
    recorder = confirming(ch)
    ch.basic_publish("amq.direct", "no-binding", b"m")  # returns None, no exception
    broker.run_until_idle()
    assert recorder.outcome() == {1: "ack"}
    assert recorder.returns == []


def test_8_2_unroutable_mandatory_returned_then_acked(broker: Broker, ch: Channel) -> None:
    recorder = confirming(ch)
    with pytest.raises(UnroutableError):
        ch.basic_publish("", "missing-queue", b"body", mandatory=True)
    broker.run_until_idle()
    kinds = [kind for kind, _ in recorder.events]
    assert kinds == ["return", "ack"]  # spec 8.2: basic.return before the ack
    assert recorder.outcome() == {1: "ack"}


def test_8_2_unroutable_error_lists_the_returned_message(ch: Channel) -> None:
    ch.confirm_delivery()
    props = BasicProperties(message_id="id-1")
    with pytest.raises(UnroutableError) as info:
        ch.basic_publish("amq.topic", "a.b", b"payload", properties=props, mandatory=True)
    assert len(info.value.messages) == 1
    returned = info.value.messages[0]
    assert returned.method.reply_code == 312
    assert returned.method.reply_text == "NO_ROUTE"
    assert returned.method.exchange == "amq.topic"
    assert returned.method.routing_key == "a.b"
    assert returned.body == b"payload"
    assert returned.properties.message_id == "id-1"
    assert ch.is_open  # a return is not an error


def test_8_2_routed_mandatory_on_confirming_channel_does_not_raise(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    recorder = confirming(ch)
    ch.basic_publish("", "q", b"m", mandatory=True)
    broker.run_until_idle()
    assert recorder.outcome() == {1: "ack"}
    assert recorder.returns == []


def test_8_2_routed_to_several_queues_acked_once(broker: Broker, ch: Channel) -> None:
    for name in ("a", "b", "c"):
        ch.queue_declare(name)
        ch.queue_bind(name, "amq.fanout")
    recorder = confirming(ch)
    ch.basic_publish("amq.fanout", "", b"m")
    broker.run_until_idle()
    assert recorder.outcome() == {1: "ack"}
    assert [broker.queues[n].messages_ready for n in "abc"] == [1, 1, 1]


def test_8_2_routed_to_a_consumer_is_acked(broker: Broker, conn: Connection) -> None:
    consumer_ch = conn.channel()
    consumer_ch.queue_declare("q")
    got: list[bytes] = []
    consumer_ch.basic_consume("q", lambda c, m, p, b: got.append(b), auto_ack=True)
    publisher = conn.channel()
    recorder = confirming(publisher)
    publisher.basic_publish("", "q", b"m")
    broker.run_until_idle()
    assert recorder.outcome() == {1: "ack"}
    assert got == [b"m"]


def test_8_2_unroutable_error_raised_without_ack_callback(broker: Broker, ch: Channel) -> None:
    ch.confirm_delivery()
    with pytest.raises(UnroutableError):
        ch.basic_publish("", "missing", b"m", mandatory=True)
    # still confirming afterwards, and numbering went on
    assert ch.next_publish_seq_no == 2


def test_8_2_routed_via_alternate_exchange_counts_as_routed(broker: Broker, ch: Channel) -> None:
    # spec 1.24: a message routed via an alternate exchange is not returned
    ch.exchange_declare("ae", "fanout")
    ch.queue_declare("caught")
    ch.queue_bind("caught", "ae")
    ch.exchange_declare("main", "direct", arguments={"alternate-exchange": "ae"})
    recorder = confirming(ch)
    ch.basic_publish("main", "unbound-key", b"m", mandatory=True)
    broker.run_until_idle()
    assert recorder.returns == []
    assert recorder.outcome() == {1: "ack"}
    assert broker.queues["caught"].messages_ready == 1


# ----------------------------------------------------------------- 8.3 nacks


def test_8_3_reject_publish_overflow_is_nacked(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    recorder = confirming(ch)
    ch.basic_publish("", "q", b"fits")
    with pytest.raises(NackError) as info:
        ch.basic_publish("", "q", b"refused")
    assert len(info.value.messages) == 1
    assert info.value.messages[0].body == b"refused"
    broker.run_until_idle()
    assert recorder.outcome() == {1: "ack", 2: "nack"}
    nack = recorder.confirms[-1]
    assert isinstance(nack, BasicNack)
    assert nack.delivery_tag == 2
    queue = broker.queues["q"]
    assert [m.body for m in queue.peek()] == [b"fits"]
    assert queue.stats.dropped["overflow"] == 1
    assert ch.is_open


def test_8_3_max_length_zero_nacks_even_with_a_waiting_consumer(
    broker: Broker, conn: Connection
) -> None:
    # spec 5.3: the limit is checked before waiting consumers
    consumer_ch = conn.channel()
    consumer_ch.queue_declare("q", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    got: list[bytes] = []
    consumer_ch.basic_consume("q", lambda c, m, p, b: got.append(b), auto_ack=True)
    publisher = conn.channel()
    recorder = confirming(publisher)
    with pytest.raises(NackError):
        publisher.basic_publish("", "q", b"m")
    broker.run_until_idle()
    assert got == []
    assert recorder.outcome() == {1: "nack"}


def test_8_3_nack_when_one_of_several_queues_rejects(broker: Broker, ch: Channel) -> None:
    # spec 5.4: nacked, but the message still lands in the queues that accepted it
    ch.queue_declare("open")
    ch.queue_declare("full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    ch.queue_bind("open", "amq.fanout")
    ch.queue_bind("full", "amq.fanout")
    recorder = confirming(ch)
    with pytest.raises(NackError):
        ch.basic_publish("amq.fanout", "", b"m")
    broker.run_until_idle()
    assert recorder.outcome() == {1: "nack"}
    assert broker.queues["open"].messages_ready == 1
    assert broker.queues["full"].messages_ready == 0


def test_8_3_drop_head_overflow_is_acked_not_nacked(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q", arguments={"x-max-length": 1})
    recorder = confirming(ch)
    ch.basic_publish("", "q", b"old")
    ch.basic_publish("", "q", b"new")
    broker.run_until_idle()
    assert recorder.outcome() == {1: "ack", 2: "ack"}
    assert [m.body for m in broker.queues["q"].peek()] == [b"new"]


def test_8_3_reject_publish_dlx_nacks_and_dead_letters(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("dead")
    ch.queue_declare(
        "q",
        arguments={
            "x-max-length": 0,
            "x-overflow": "reject-publish-dlx",
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "dead",
        },
    )
    recorder = confirming(ch)
    with pytest.raises(NackError):
        ch.basic_publish("", "q", b"m")
    broker.run_until_idle()
    assert recorder.outcome() == {1: "nack"}
    assert broker.queues["dead"].messages_ready == 1


def test_8_3_reject_publish_without_confirms_is_silent(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    ch.basic_publish("", "q", b"m")  # no confirm mode: discarded without a word
    assert ch.is_open
    assert broker.queues["q"].messages_ready == 0
    assert broker.queues["q"].stats.dropped["overflow"] == 1


# ----------------------------------------------------------------- 8.4 mandatory returns


def test_8_4_mandatory_unroutable_is_returned_312_no_route(broker: Broker, ch: Channel) -> None:
    returns: list[tuple[Any, ...]] = []
    ch.add_on_return_callback(lambda *args: returns.append(args))
    props = BasicProperties(content_type="text/plain", headers={"k": "v"})
    ch.basic_publish("amq.direct", "rk", b"body", properties=props, mandatory=True)
    assert returns == []  # callbacks never run inside a channel method
    broker.run_until_idle()
    assert len(returns) == 1
    channel, method, properties, body = returns[0]
    assert channel is ch
    assert method == BasicReturn(312, "NO_ROUTE", "amq.direct", "rk")
    assert properties.content_type == "text/plain"
    assert properties.headers == {"k": "v"}
    assert body == b"body"
    assert ch.is_open


def test_8_4_return_via_process_data_events(conn: Connection, ch: Channel) -> None:
    returns: list[BasicReturn] = []
    ch.add_on_return_callback(lambda c, m, p, b: returns.append(m))
    ch.basic_publish("", "no-such-queue", b"x", mandatory=True)
    conn.process_data_events()
    assert [(m.reply_code, m.reply_text, m.exchange, m.routing_key) for m in returns] == [
        (312, "NO_ROUTE", "", "no-such-queue")
    ]


def test_8_4_returned_message_has_bcc_removed_cc_kept(broker: Broker, ch: Channel) -> None:
    returns: list[tuple[Any, ...]] = []
    ch.add_on_return_callback(lambda *args: returns.append(args))
    props = BasicProperties(headers={"CC": ["c1"], "BCC": ["b1"], "x": 1})
    ch.basic_publish("", "nobody", b"m", properties=props, mandatory=True)
    broker.run_until_idle()
    assert len(returns) == 1
    headers = returns[0][2].headers
    assert "BCC" not in headers
    assert headers["CC"] == ["c1"]
    assert headers["x"] == 1


def test_8_4_non_mandatory_unroutable_is_not_returned(broker: Broker, ch: Channel) -> None:
    returns: list[Any] = []
    ch.add_on_return_callback(lambda *args: returns.append(args))
    ch.basic_publish("", "nobody", b"m")
    broker.run_until_idle()
    assert returns == []


def test_8_4_routed_mandatory_is_not_returned(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    returns: list[Any] = []
    ch.add_on_return_callback(lambda *args: returns.append(args))
    ch.basic_publish("", "q", b"m", mandatory=True)
    broker.run_until_idle()
    assert returns == []
    assert broker.queues["q"].messages_ready == 1


def test_8_4_every_return_callback_is_called(broker: Broker, ch: Channel) -> None:
    first: list[Any] = []
    second: list[Any] = []
    ch.add_on_return_callback(lambda *args: first.append(args))
    ch.add_on_return_callback(lambda *args: second.append(args))
    ch.basic_publish("", "nobody", b"m", mandatory=True)
    broker.run_until_idle()
    assert len(first) == len(second) == 1


def test_8_4_returns_go_to_the_publishing_channel_only(broker: Broker, conn: Connection) -> None:
    a, b = conn.channel(), conn.channel()
    on_a: list[Any] = []
    on_b: list[Any] = []
    a.add_on_return_callback(lambda *args: on_a.append(args))
    b.add_on_return_callback(lambda *args: on_b.append(args))
    b.basic_publish("", "nobody", b"m", mandatory=True)
    broker.run_until_idle()
    assert on_a == []
    assert len(on_b) == 1


# ----------------------------------------------------------------- 8.5 immediate


def test_8_5_immediate_true_is_a_540_connection_error(conn: Connection, ch: Channel) -> None:
    ch.queue_declare("q")
    other = conn.channel()
    with pytest.raises(NotImplementedByBroker) as info:
        ch.basic_publish("", "q", b"m", immediate=True)
    error = info.value
    assert error.reply_code == 540
    assert error.reply_text == "NOT_IMPLEMENTED - immediate=true"
    assert error.is_connection_error
    assert (error.class_id, error.method_id) == (60, 40)
    assert conn.is_closed
    assert ch.is_closed and other.is_closed
    with pytest.raises(ConnectionClosed) as closed:
        other.basic_publish("", "q", b"m")
    assert closed.value.reply_code == 540


def test_8_5_immediate_true_refused_even_with_a_consumer(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", lambda *args: None, auto_ack=True)
    with pytest.raises(NotImplementedByBroker):
        ch.basic_publish("", "q", b"m", immediate=True)
    assert conn.is_closed
    assert broker.queues["q"].stats.enqueued == 0


# ----------------------------------------------------------------- 8.6 406 on publish


def test_8_6_body_over_max_message_size_is_406() -> None:
    broker = Broker(clock=VirtualClock(), max_message_size=10)
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"x" * 10)  # exactly the maximum is fine
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_publish("", "q", b"x" * 11)
    assert info.value.reply_code == 406
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - message size 11 is larger than configured max size 10"
    )
    assert (info.value.class_id, info.value.method_id) == (60, 40)
    assert ch.is_closed
    assert conn.is_open  # channel-level (spec 9.1)
    assert broker.queues["q"].messages_ready == 1
    conn.close()
    assert_accounted(broker)


def test_8_6_default_max_message_size_is_16_mib() -> None:
    # spec 0.4
    broker = Broker(clock=VirtualClock())
    ch = broker.connect().channel()
    ch.queue_declare("q")
    limit = 16 * 1024 * 1024
    ch.basic_publish("", "q", bytes(limit))
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_publish("", "q", bytes(limit + 1))
    assert info.value.reply_text == (
        f"PRECONDITION_FAILED - message size {limit + 1} is larger than configured max size {limit}"
    )
    assert broker.queues["q"].messages_ready == 1


def test_8_6_user_id_mismatch_is_406(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", properties=BasicProperties(user_id="guest"))  # matches
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_publish("", "q", b"m", properties=BasicProperties(user_id="mallory"))
    assert info.value.reply_code == 406
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - user_id property set to 'mallory' but authenticated user was 'guest'"
    )
    assert ch.is_closed
    assert broker.queues["q"].messages_ready == 1


def test_8_6_user_id_checked_against_the_connection_user(broker: Broker) -> None:
    broker.add_user("alice", "secret")
    broker.set_permissions("alice")  # spec 15.4: no access without
    conn = broker.connect(user="alice")
    ch = conn.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", properties=BasicProperties(user_id="alice"))
    with pytest.raises(PreconditionFailed):
        ch.basic_publish("", "q", b"m", properties=BasicProperties(user_id="guest"))
    conn.close()


@pytest.mark.parametrize(
    "headers",
    [
        {"CC": "q"},
        {"CC": [1]},
        {"CC": {"a": "q"}},
        {"BCC": "q"},
        {"BCC": [True]},
        {"CC": ["q", 2]},
    ],
    ids=["cc-string", "cc-int-item", "cc-table", "bcc-string", "bcc-bool-item", "cc-mixed"],
)
def test_8_6_bad_cc_bcc_header_is_406(broker: Broker, ch: Channel, headers: dict[str, Any]) -> None:
    ch.queue_declare("q")
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_publish("", "q", b"m", properties=BasicProperties(headers=headers))
    assert info.value.reply_code == 406
    assert info.value.reply_text.startswith("PRECONDITION_FAILED - ")
    assert ch.is_closed
    assert broker.queues["q"].stats.enqueued == 0


def test_8_6_publish_error_on_confirming_channel_closes_it(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    recorder = confirming(ch)
    with pytest.raises(PreconditionFailed):
        ch.basic_publish("", "q", b"m", properties=BasicProperties(user_id="nobody"))
    with pytest.raises(ChannelClosed) as info:
        ch.basic_publish("", "q", b"m")
    assert info.value.reply_code == 406
    conn.process_data_events()
    assert recorder.confirms == []


# ----------------------------------------------------------------- 8.7 tx mode switches


def test_8_7_tx_select_repeats_fine(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.tx_select()
    ch.tx_select()
    ch.basic_publish("", "q", b"m")
    ch.tx_commit()
    assert broker.queues["q"].messages_ready == 1


def test_8_7_tx_select_after_confirm_select_is_406(conn: Connection, ch: Channel) -> None:
    ch.confirm_delivery()
    with pytest.raises(PreconditionFailed) as info:
        ch.tx_select()
    assert info.value.reply_text == "PRECONDITION_FAILED - cannot switch from confirm to tx mode"
    assert (info.value.class_id, info.value.method_id) == (90, 10)
    assert ch.is_closed
    assert conn.is_open


def test_8_7_confirm_select_after_tx_select_is_406(conn: Connection, ch: Channel) -> None:
    ch.tx_select()
    with pytest.raises(PreconditionFailed) as info:
        ch.confirm_delivery()
    assert info.value.reply_text == "PRECONDITION_FAILED - cannot switch from tx to confirm mode"
    assert (info.value.class_id, info.value.method_id) == (85, 10)
    assert ch.is_closed
    assert conn.is_open


@pytest.mark.parametrize("method,method_id", [("tx_commit", 20), ("tx_rollback", 30)])
def test_8_7_commit_or_rollback_on_non_tx_channel_is_406(
    conn: Connection, ch: Channel, method: str, method_id: int
) -> None:
    with pytest.raises(PreconditionFailed) as info:
        getattr(ch, method)()
    assert info.value.reply_code == 406
    assert info.value.reply_text == "PRECONDITION_FAILED - channel is not transactional"
    assert (info.value.class_id, info.value.method_id) == (90, method_id)
    assert ch.is_closed
    assert conn.is_open


def test_8_7_commit_on_confirming_channel_is_not_transactional(ch: Channel) -> None:
    ch.confirm_delivery()
    with pytest.raises(PreconditionFailed) as info:
        ch.tx_commit()
    assert info.value.reply_text == "PRECONDITION_FAILED - channel is not transactional"


# ----------------------------------------------------------------- 8.8 transactions


def test_8_8_publishes_buffered_until_commit(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.tx_select()
    ch.basic_publish("", "q", b"1")
    ch.basic_publish("", "q", b"2")
    queue = broker.queues["q"]
    assert queue.messages_ready == 0
    assert queue.stats.enqueued == 0
    ch.tx_commit()
    assert [m.body for m in queue.peek()] == [b"1", b"2"]


def test_8_8_commit_starts_a_new_transaction(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.tx_select()
    ch.basic_publish("", "q", b"1")
    ch.tx_commit()
    ch.basic_publish("", "q", b"2")
    assert broker.queues["q"].messages_ready == 1  # still in tx mode after commit
    ch.tx_rollback()
    assert [m.body for m in broker.queues["q"].peek()] == [b"1"]


def test_8_8_rollback_drops_buffered_publishes(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.tx_select()
    ch.basic_publish("", "q", b"dropped")
    ch.tx_rollback()
    ch.tx_commit()
    assert broker.queues["q"].messages_ready == 0
    assert broker.queues["q"].stats.enqueued == 0


def test_8_8_buffered_publish_reaches_consumer_only_after_commit(
    broker: Broker, conn: Connection
) -> None:
    consumer_ch = conn.channel()
    consumer_ch.queue_declare("q")
    got: list[bytes] = []
    consumer_ch.basic_consume("q", lambda c, m, p, b: got.append(b), auto_ack=True)
    publisher = conn.channel()
    publisher.tx_select()
    publisher.basic_publish("", "q", b"m")
    broker.run_until_idle()
    assert got == []
    publisher.tx_commit()
    broker.run_until_idle()
    assert got == [b"m"]


def test_8_8_ack_buffered_until_commit(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.tx_select()
    ch.basic_ack(method.delivery_tag)
    queue = broker.queues["q"]
    assert queue.messages_unacknowledged == 1
    assert queue.stats.acked == 0
    ch.tx_commit()
    assert queue.messages_unacknowledged == 0
    assert queue.stats.acked == 1


def test_8_8_nack_requeue_buffered_until_commit(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.tx_select()
    ch.basic_nack(method.delivery_tag, requeue=True)
    queue = broker.queues["q"]
    assert (queue.messages_ready, queue.messages_unacknowledged) == (0, 1)
    ch.tx_commit()
    assert (queue.messages_ready, queue.messages_unacknowledged) == (1, 0)
    again, _, _ = ch.basic_get("q", auto_ack=True)
    assert again is not None and again.redelivered


def test_8_8_reject_buffered_until_commit(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("dead")
    ch.queue_declare(
        "q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dead"}
    )
    ch.basic_publish("", "q", b"m")
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.tx_select()
    ch.basic_reject(method.delivery_tag, requeue=False)
    assert broker.queues["dead"].messages_ready == 0
    assert broker.queues["q"].messages_unacknowledged == 1
    ch.tx_commit()
    assert broker.queues["dead"].messages_ready == 1
    assert broker.queues["q"].messages == 0


def test_8_8_rollback_makes_buffered_acks_outstanding_again(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    for body in (b"1", b"2", b"3"):
        ch.basic_publish("", "q", body)
    tags = []
    for _ in range(3):
        method, _, _ = ch.basic_get("q")
        assert method is not None
        tags.append(method.delivery_tag)
    ch.tx_select()
    ch.basic_ack(tags[1])
    ch.basic_nack(tags[0], requeue=True)
    ch.basic_reject(tags[2], requeue=False)
    ch.tx_rollback()
    queue = broker.queues["q"]
    # nothing requeued, nothing acked: all three are unacked again
    assert (queue.messages_ready, queue.messages_unacknowledged) == (0, 3)
    assert queue.stats.acked == 0
    # the tags are outstanding again, so acking them is not "unknown delivery tag"
    ch.basic_ack(tags[2], multiple=True)
    ch.tx_commit()
    assert ch.is_open
    assert queue.messages == 0
    assert queue.stats.acked == 3


def test_8_8_double_ack_in_one_transaction_is_406(ch: Channel) -> None:
    # a buffered ack already claims the tag (spec 7.11)
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.tx_select()
    ch.basic_ack(method.delivery_tag)
    with pytest.raises(PreconditionFailed) as info:
        ch.basic_ack(method.delivery_tag)
    assert (
        info.value.reply_text == f"PRECONDITION_FAILED - unknown delivery tag {method.delivery_tag}"
    )


def test_8_8_errors_still_raise_at_once_in_tx_mode(conn: Connection, ch: Channel) -> None:
    ch.tx_select()
    with pytest.raises(NotFound) as info:
        ch.basic_publish("no-such-exchange", "rk", b"m")
    assert info.value.reply_text == "NOT_FOUND - no exchange 'no-such-exchange' in vhost '/'"
    assert ch.is_closed
    assert conn.is_open


def test_8_8_returns_come_at_commit_before_commit_ok(broker: Broker, ch: Channel) -> None:
    returns: list[BasicReturn] = []
    ch.add_on_return_callback(lambda c, m, p, b: returns.append(m))
    ch.tx_select()
    ch.basic_publish("", "nowhere", b"m", mandatory=True)
    broker.run_until_idle()
    assert returns == []  # the publish is buffered: nothing returned yet
    ch.tx_commit()
    # by the time tx_commit (commit-ok) is back, the return is already queued
    broker.run_until_idle()
    assert returns == [BasicReturn(312, "NO_ROUTE", "", "nowhere")]


def test_8_8_rolled_back_mandatory_publish_is_not_returned(broker: Broker, ch: Channel) -> None:
    returns: list[Any] = []
    ch.add_on_return_callback(lambda *args: returns.append(args))
    ch.tx_select()
    ch.basic_publish("", "nowhere", b"m", mandatory=True)
    ch.tx_rollback()
    ch.tx_commit()
    broker.run_until_idle()
    assert returns == []


def test_8_8_declares_are_not_transactional(broker: Broker, ch: Channel) -> None:
    ch.tx_select()
    ch.queue_declare("q")
    ch.exchange_declare("x", "fanout")
    ch.queue_bind("q", "x")
    ch.tx_rollback()
    assert "q" in broker.queues
    assert "x" in broker.exchanges
    ch.basic_publish("x", "", b"m")
    ch.tx_commit()
    assert broker.queues["q"].messages_ready == 1


def test_8_8_consumes_are_not_transactional(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    ch.tx_select()
    got: list[Any] = []
    ch.basic_consume("q", lambda c, m, p, b: got.append(m))
    ch.tx_rollback()
    assert broker.queues["q"].consumer_count == 1
    other = conn.channel()
    other.basic_publish("", "q", b"m")
    broker.run_until_idle()
    assert len(got) == 1  # delivery itself is not held by the transaction
    ch.basic_ack(got[0].delivery_tag)
    assert broker.queues["q"].messages_unacknowledged == 1  # but the ack is
    ch.tx_commit()
    assert broker.queues["q"].messages_unacknowledged == 0


def test_8_8_partial_tx_completion_is_406(broker: Broker, ch: Channel) -> None:
    # spec 5.6
    ch.queue_declare("full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    ch.tx_select()
    ch.basic_publish("", "full", b"m")
    with pytest.raises(PreconditionFailed) as info:
        ch.tx_commit()
    assert info.value.reply_text == "PRECONDITION_FAILED - partial tx completion"
    assert ch.is_closed


def test_8_6_valid_cc_bcc_arrays_are_accepted_and_route(broker: Broker, ch: Channel) -> None:
    # spec 1.2, 4.6: CC/BCC as arrays of longstr add routing keys; BCC is stripped
    for name in ("a", "b", "c"):
        ch.queue_declare(name)
    props = BasicProperties(headers={"CC": ["b"], "BCC": [b"c"]})
    ch.basic_publish("", "a", b"m", properties=props)
    assert ch.is_open
    for name in ("a", "b", "c"):
        (message,) = broker.queues[name].peek()
        assert "BCC" not in message.properties.headers
        assert message.properties.headers["CC"] == ["b"]


def test_8_4_pika_properties_returned_with_bcc_removed(broker: Broker, ch: Channel) -> None:
    pika = pytest.importorskip("pika")
    returns: list[tuple[Any, ...]] = []
    ch.add_on_return_callback(lambda *args: returns.append(args))
    props = pika.BasicProperties(headers={"BCC": ["hidden"]}, correlation_id="c-1")
    ch.basic_publish("", "nobody", b"m", properties=props, mandatory=True)
    broker.run_until_idle()
    (channel, method, properties, body) = returns[0]
    assert method.reply_code == 312
    assert properties.correlation_id == "c-1"
    assert "BCC" not in (properties.headers or {})
