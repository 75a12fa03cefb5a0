"""Errors in process: which close what, reply codes and texts, state after a close (spec 9.1-9.3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from amqpmodel import (
    AccessRefused,
    AMQPError,
    Broker,
    Channel,
    ChannelClosed,
    ChannelError,
    CommandInvalid,
    Connection,
    ConnectionClosed,
    ConnectionForced,
    ContentTooLarge,
    FrameError,
    FrameSyntaxError,
    InternalError,
    InvalidPath,
    NoConsumers,
    NoRoute,
    NotAllowed,
    NotFound,
    NotImplementedByBroker,
    PreconditionFailed,
    ResourceError,
    ResourceLocked,
    UnexpectedFrame,
)

# ----------------------------------------------------------------- 9.1 the table of codes

CHANNEL_LEVEL = [
    (ContentTooLarge, 311, "CONTENT_TOO_LARGE"),
    (NoRoute, 312, "NO_ROUTE"),
    (NoConsumers, 313, "NO_CONSUMERS"),
    (AccessRefused, 403, "ACCESS_REFUSED"),
    (NotFound, 404, "NOT_FOUND"),
    (ResourceLocked, 405, "RESOURCE_LOCKED"),
    (PreconditionFailed, 406, "PRECONDITION_FAILED"),
]
CONNECTION_LEVEL = [
    (ConnectionForced, 320, "CONNECTION_FORCED"),
    (InvalidPath, 402, "INVALID_PATH"),
    (FrameError, 501, "FRAME_ERROR"),
    (FrameSyntaxError, 502, "SYNTAX_ERROR"),
    (CommandInvalid, 503, "COMMAND_INVALID"),
    (ChannelError, 504, "CHANNEL_ERROR"),
    (UnexpectedFrame, 505, "UNEXPECTED_FRAME"),
    (ResourceError, 506, "RESOURCE_ERROR"),
    (NotAllowed, 530, "NOT_ALLOWED"),
    (NotImplementedByBroker, 540, "NOT_IMPLEMENTED"),
    (InternalError, 541, "INTERNAL_ERROR"),
]


@pytest.mark.parametrize("cls,code,name", CHANNEL_LEVEL, ids=[n for _, _, n in CHANNEL_LEVEL])
def test_9_1_channel_level_codes(cls: type[AMQPError], code: int, name: str) -> None:
    error = cls("something went wrong")
    assert isinstance(error, AMQPError)
    assert error.reply_code == code
    assert not error.is_connection_error
    assert error.reply_text == f"{name} - something went wrong"  # spec 9.2


@pytest.mark.parametrize("cls,code,name", CONNECTION_LEVEL, ids=[n for _, _, n in CONNECTION_LEVEL])
def test_9_1_connection_level_codes(cls: type[AMQPError], code: int, name: str) -> None:
    error = cls("something went wrong")
    assert isinstance(error, AMQPError)
    assert error.reply_code == code
    assert error.is_connection_error
    assert error.reply_text == f"{name} - something went wrong"  # spec 9.2


# ----------------------------------------------------------------- 9.1 a channel error closes only its channel


def test_9_1_channel_error_closes_only_that_channel(broker: Broker, conn: Connection) -> None:
    bad, good = conn.channel(), conn.channel()
    good.queue_declare("q")
    with pytest.raises(NotFound):
        bad.queue_declare("missing", passive=True)
    assert bad.is_closed
    assert good.is_open
    assert conn.is_open
    good.basic_publish("", "q", b"m")  # the other channel goes on
    assert broker.queues["q"].messages_ready == 1
    third = conn.channel()  # and new channels can be opened
    assert third.is_open


def test_9_1_channel_error_does_not_touch_other_connections(broker: Broker) -> None:
    first, second = broker.connect(), broker.connect()
    a, b = first.channel(), second.channel()
    with pytest.raises(NotFound):
        a.basic_get("missing")
    assert a.is_closed
    assert b.is_open and second.is_open and first.is_open
    first.close()
    second.close()


def test_9_1_channel_number_is_free_again_after_channel_error(conn: Connection) -> None:
    ch = conn.channel()
    number = ch.channel_number
    with pytest.raises(NotFound):
        ch.exchange_declare("missing", passive=True)
    again = conn.channel(number)
    assert again.is_open
    assert again is not ch


# ----------------------------------------------------------------- 9.2 reply text, class and method ids


def _declare_missing_queue(ch: Channel) -> None:
    ch.queue_declare("missing", passive=True)


def _declare_missing_exchange(ch: Channel) -> None:
    ch.exchange_declare("missing", passive=True)


def _bind_missing_queue(ch: Channel) -> None:
    ch.queue_bind("missing", "amq.direct", "k")


def _purge_missing_queue(ch: Channel) -> None:
    ch.queue_purge("missing")


def _publish_missing_exchange(ch: Channel) -> None:
    ch.basic_publish("missing", "k", b"m")


def _get_missing_queue(ch: Channel) -> None:
    ch.basic_get("missing")


def _consume_missing_queue(ch: Channel) -> None:
    ch.basic_consume("missing", lambda *args: None)


def _ack_unknown_tag(ch: Channel) -> None:
    ch.basic_ack(99)


def _nack_unknown_tag(ch: Channel) -> None:
    ch.basic_nack(99)


def _reject_unknown_tag(ch: Channel) -> None:
    ch.basic_reject(99)


def _delete_amq_exchange(ch: Channel) -> None:
    ch.exchange_delete("amq.direct")


def _exchange_bind_missing(ch: Channel) -> None:
    ch.exchange_bind("missing", "amq.direct", "k")


def _declare_reserved_queue(ch: Channel) -> None:
    ch.queue_declare("amq.mine")


def _commit_without_tx(ch: Channel) -> None:
    ch.tx_commit()


CHANNEL_ERRORS: list[tuple[Callable[[Channel], None], int, str, int, int]] = [
    (_declare_missing_queue, 404, "NOT_FOUND - no queue 'missing' in vhost '/'", 50, 10),
    (_declare_missing_exchange, 404, "NOT_FOUND - no exchange 'missing' in vhost '/'", 40, 10),
    (_bind_missing_queue, 404, "NOT_FOUND - no queue 'missing' in vhost '/'", 50, 20),
    (_purge_missing_queue, 404, "NOT_FOUND - no queue 'missing' in vhost '/'", 50, 30),
    (_publish_missing_exchange, 404, "NOT_FOUND - no exchange 'missing' in vhost '/'", 60, 40),
    (_get_missing_queue, 404, "NOT_FOUND - no queue 'missing' in vhost '/'", 60, 70),
    (_consume_missing_queue, 404, "NOT_FOUND - no queue 'missing' in vhost '/'", 60, 20),
    (_ack_unknown_tag, 406, "PRECONDITION_FAILED - unknown delivery tag 99", 60, 80),
    (_nack_unknown_tag, 406, "PRECONDITION_FAILED - unknown delivery tag 99", 60, 120),
    (_reject_unknown_tag, 406, "PRECONDITION_FAILED - unknown delivery tag 99", 60, 90),
    (_delete_amq_exchange, 403, "", 40, 20),
    (_exchange_bind_missing, 404, "NOT_FOUND - no exchange 'missing' in vhost '/'", 40, 30),
    (
        _declare_reserved_queue,
        403,
        "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'",
        50,
        10,
    ),
    (_commit_without_tx, 406, "PRECONDITION_FAILED - channel is not transactional", 90, 20),
]


@pytest.mark.parametrize(
    "action,code,text,class_id,method_id",
    CHANNEL_ERRORS,
    ids=[a.__name__.strip("_") for a, *_ in CHANNEL_ERRORS],
)
def test_9_2_channel_error_carries_code_text_and_method(
    conn: Connection,
    action: Callable[[Channel], None],
    code: int,
    text: str,
    class_id: int,
    method_id: int,
) -> None:
    ch = conn.channel()
    with pytest.raises(AMQPError) as info:
        action(ch)
    error = info.value
    assert error.reply_code == code
    if text:
        assert error.reply_text == text
    else:
        assert error.reply_text.startswith("ACCESS_REFUSED - ")
    assert (error.class_id, error.method_id) == (class_id, method_id)
    assert not error.is_connection_error
    assert ch.is_closed  # spec 9.3
    assert conn.is_open  # spec 9.1


def test_9_2_reply_text_at_most_255_characters(conn: Connection) -> None:
    ch = conn.channel()
    name = "q" * 255
    with pytest.raises(NotFound) as info:
        ch.queue_declare(name, passive=True)
    text = info.value.reply_text
    assert text.startswith("NOT_FOUND - no queue 'qqq")
    assert len(text.encode("utf-8")) <= 255
    # as RabbitMQ clips a long text: 252 bytes, then "..." (seen on 3.10 with pika's suite)
    assert text.endswith("...") and len(text.encode("utf-8")) == 255
    with pytest.raises(ChannelClosed) as closed:
        ch.queue_declare("q")
    assert closed.value.reply_text == text


def test_9_2_reply_text_limit_counts_utf8_bytes(conn: Connection) -> None:
    ch = conn.channel()
    name = "é" * 120  # 240 bytes, a legal name
    with pytest.raises(NotFound) as info:
        ch.queue_declare(name, passive=True)
    text = info.value.reply_text
    assert text.startswith("NOT_FOUND - no queue 'éé")
    assert len(text.encode("utf-8")) <= 255
    text.encode("utf-8").decode("utf-8")  # never cut inside a character


def test_9_2_reply_text_is_name_dash_explanation(conn: Connection) -> None:
    ch = conn.channel()
    with pytest.raises(AMQPError) as info:
        ch.queue_declare("q", arguments={"x-max-length": -1})
    error = info.value
    assert error.reply_code == 406
    assert error.reply_text.startswith(
        "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'q'"
    )
    assert str(error.reply_code) in str(error)


# ----------------------------------------------------------------- 9.3 the channel after a channel error


def test_9_3_later_calls_raise_channel_closed_with_the_reason(conn: Connection) -> None:
    ch = conn.channel()
    with pytest.raises(NotFound) as info:
        ch.queue_declare("missing", passive=True)
    calls: list[Callable[[], Any]] = [
        lambda: ch.queue_declare("q"),
        lambda: ch.basic_publish("", "q", b"m"),
        lambda: ch.basic_get("q"),
        lambda: ch.basic_consume("q", lambda *args: None),
        lambda: ch.basic_ack(1),
        lambda: ch.basic_nack(1),
        lambda: ch.basic_reject(1),
        lambda: ch.basic_qos(prefetch_count=1),
        lambda: ch.basic_recover(),
        lambda: ch.confirm_delivery(),
        lambda: ch.tx_select(),
        lambda: ch.exchange_declare("x"),
        lambda: ch.queue_bind("q", "amq.direct"),
        lambda: ch.queue_purge("q"),
        lambda: ch.queue_delete("q"),
    ]
    for call in calls:
        with pytest.raises(ChannelClosed) as closed:
            call()
        assert closed.value.reply_code == 404
        assert closed.value.reply_text == info.value.reply_text
    assert conn.is_open
    ch.close()  # closing again is a no-op


def test_9_3_unacked_messages_requeued_after_channel_error(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    for body in (b"1", b"2", b"3"):
        ch.basic_publish("", "q", body)
    first, _, _ = ch.basic_get("q")
    second, _, _ = ch.basic_get("q")
    assert first is not None and second is not None
    queue = broker.queues["q"]
    assert queue.messages_unacknowledged == 2
    with pytest.raises(PreconditionFailed):
        ch.basic_ack(12345)
    assert queue.messages_unacknowledged == 0
    assert queue.messages_ready == 3
    other = conn.channel()
    got = []
    for _ in range(3):
        method, _, body = other.basic_get("q", auto_ack=True)
        assert method is not None
        got.append((body, method.redelivered))
    # spec 2.12: back in their original position, marked redelivered
    assert got == [(b"1", True), (b"2", True), (b"3", False)]


def test_9_3_consumers_removed_after_channel_error(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    got: list[bytes] = []
    ch.basic_consume("q", lambda c, m, p, b: got.append(b))
    ch.basic_publish("", "q", b"held")
    queue = broker.queues["q"]
    assert queue.consumer_count == 1
    with pytest.raises(NotFound):
        ch.queue_declare("missing", passive=True)
    assert queue.consumer_count == 0
    assert queue.messages_ready == 1  # the delivery it held came back
    other = conn.channel()
    other.basic_publish("", "q", b"after")
    broker.run_until_idle()
    assert got == []  # no callback of a closed channel runs
    assert queue.messages_ready == 2


def test_9_3_auto_delete_queue_goes_with_its_last_consumer_on_channel_error(
    broker: Broker, conn: Connection
) -> None:
    # spec 2.8: a channel error removes the consumer like a close does
    ch = conn.channel()
    ch.queue_declare("ad", auto_delete=True)
    ch.basic_consume("ad", lambda *args: None)
    with pytest.raises(NotFound):
        ch.basic_get("missing")
    assert "ad" not in broker.queues


def test_9_3_transaction_discarded_after_channel_error(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    ch.queue_declare("target")
    ch.basic_publish("", "q", b"m")
    method, _, _ = ch.basic_get("q")
    assert method is not None
    ch.tx_select()
    ch.basic_publish("", "target", b"never committed")
    ch.basic_ack(method.delivery_tag)
    with pytest.raises(NotFound):
        ch.basic_publish("missing", "k", b"m")
    assert broker.queues["target"].messages_ready == 0
    queue = broker.queues["q"]
    # the buffered ack was dropped; the message is requeued like any unacked one
    assert (queue.messages_ready, queue.messages_unacknowledged) == (1, 0)
    assert queue.stats.acked == 0


def test_9_3_other_channels_keep_their_unacked(broker: Broker, conn: Connection) -> None:
    bad, good = conn.channel(), conn.channel()
    good.queue_declare("q")
    good.basic_publish("", "q", b"m")
    method, _, _ = good.basic_get("q")
    assert method is not None
    with pytest.raises(NotFound):
        bad.basic_get("missing")
    assert broker.queues["q"].messages_unacknowledged == 1
    good.basic_ack(method.delivery_tag)
    assert broker.queues["q"].messages == 0


def test_9_3_close_callback_receives_the_error(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    reasons: list[tuple[Channel, Any]] = []
    ch.add_on_close_callback(lambda channel, reason: reasons.append((channel, reason)))
    with pytest.raises(NotFound) as info:
        ch.queue_purge("missing")
    assert reasons == []  # callbacks run on drain, not inside the call
    broker.run_until_idle()
    assert len(reasons) == 1
    channel, reason = reasons[0]
    assert channel is ch
    assert isinstance(reason, NotFound)
    assert reason.reply_code == 404
    assert reason.reply_text == info.value.reply_text


def test_9_3_close_callback_on_normal_close_has_no_error(conn: Connection) -> None:
    ch = conn.channel()
    reasons: list[Any] = []
    ch.add_on_close_callback(lambda channel, reason: reasons.append(reason))
    ch.close()
    conn.process_data_events()
    assert reasons == [None]


def test_9_3_close_callback_runs_once(broker: Broker, conn: Connection) -> None:
    ch = conn.channel()
    reasons: list[Any] = []
    ch.add_on_close_callback(lambda channel, reason: reasons.append(reason))
    with pytest.raises(NotFound):
        ch.queue_purge("missing")
    ch.close()
    broker.run_until_idle()
    assert len(reasons) == 1


def test_9_3_pending_deliveries_of_closed_channel_are_not_run(
    broker: Broker, conn: Connection
) -> None:
    ch = conn.channel()
    ch.queue_declare("q")
    got: list[bytes] = []
    ch.basic_consume("q", lambda c, m, p, b: got.append(b))
    ch.basic_publish("", "q", b"m")  # delivery pending, not yet drained
    with pytest.raises(NotFound):
        ch.basic_get("missing")
    broker.run_until_idle()
    assert got == []
    assert broker.queues["q"].messages_ready == 1


# ----------------------------------------------------------------- connection errors (9.1)


def test_9_1_530_reused_consumer_tag_closes_the_connection(
    broker: Broker, conn: Connection
) -> None:
    ch, other = conn.channel(), conn.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", lambda *args: None, consumer_tag="tag")
    with pytest.raises(NotAllowed) as info:
        ch.basic_consume("q", lambda *args: None, consumer_tag="tag")
    error = info.value
    assert error.reply_code == 530
    assert error.reply_text == "NOT_ALLOWED - attempt to reuse consumer tag 'tag'"
    assert (error.class_id, error.method_id) == (60, 20)
    assert error.is_connection_error
    assert conn.is_closed
    assert ch.is_closed and other.is_closed
    assert broker.queues["q"].consumer_count == 0


def test_9_1_later_calls_after_connection_error_raise_connection_closed(conn: Connection) -> None:
    ch, other = conn.channel(), conn.channel()
    with pytest.raises(NotImplementedByBroker) as info:
        ch.basic_qos(prefetch_size=1)
    assert info.value.reply_code == 540
    assert (info.value.class_id, info.value.method_id) == (60, 10)
    for channel in (ch, other):
        with pytest.raises(ConnectionClosed) as closed:
            channel.queue_declare("q")
        assert closed.value.reply_code == 540
        assert closed.value.reply_text == info.value.reply_text
    with pytest.raises(ConnectionClosed) as closed:
        conn.channel()
    assert closed.value.reply_code == 540
    with pytest.raises(ConnectionClosed):
        conn.add_callback_threadsafe(lambda: None)
    conn.close()  # idempotent


def test_9_1_540_recover_requeue_false_closes_the_connection(conn: Connection) -> None:
    ch = conn.channel()
    with pytest.raises(NotImplementedByBroker) as info:
        ch.basic_recover(requeue=False)
    assert info.value.reply_text == "NOT_IMPLEMENTED - requeue=false"
    assert (info.value.class_id, info.value.method_id) == (60, 110)
    assert conn.is_closed


def test_9_1_connection_error_requeues_unacked_of_every_channel(broker: Broker) -> None:
    setup = broker.connect().channel()
    setup.queue_declare("q")
    for body in (b"1", b"2"):
        setup.basic_publish("", "q", body)
    conn = broker.connect()
    a, b = conn.channel(), conn.channel()
    assert a.basic_get("q")[0] is not None
    assert b.basic_get("q")[0] is not None
    queue = broker.queues["q"]
    assert queue.messages_unacknowledged == 2
    with pytest.raises(NotImplementedByBroker):
        a.basic_publish("", "q", b"x", immediate=True)
    assert (queue.messages_ready, queue.messages_unacknowledged) == (2, 0)
    assert all(m.body in (b"1", b"2") for m in queue.peek())
    assert setup.is_open  # another connection is not affected
    setup.connection.close()


def test_9_1_connection_error_deletes_exclusive_queues(broker: Broker) -> None:
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("mine", exclusive=True)
    with pytest.raises(NotImplementedByBroker):
        ch.basic_qos(prefetch_size=10)
    assert "mine" not in broker.queues


def test_9_1_connection_error_reason_reaches_failing_channel_callback(broker: Broker) -> None:
    conn = broker.connect()
    ch, other = conn.channel(), conn.channel()
    reasons: dict[str, Any] = {}
    ch.add_on_close_callback(lambda channel, reason: reasons.__setitem__("failing", reason))
    other.add_on_close_callback(lambda channel, reason: reasons.__setitem__("other", reason))
    with pytest.raises(NotImplementedByBroker):
        ch.basic_qos(prefetch_size=1)
    conn.process_data_events()
    assert set(reasons) == {"failing", "other"}
    # api.md: reason is the AMQPError, None only for a client's own close
    for which in ("failing", "other"):
        reason = reasons[which]
        assert reason is not None, which
        assert reason.reply_code == 540
        assert reason.reply_text == "NOT_IMPLEMENTED - prefetch_size!=0 (1)"


def test_9_1_close_callbacks_of_a_closed_connection_run_on_run_until_idle(
    broker: Broker,
) -> None:
    # api.md: run_until_idle runs the pending callbacks of every connection,
    # including the close callbacks queued when a connection error closed it
    conn = broker.connect()
    ch = conn.channel()
    reasons: list[Any] = []
    ch.add_on_close_callback(lambda channel, reason: reasons.append(reason))
    with pytest.raises(NotImplementedByBroker):
        ch.basic_qos(prefetch_size=1)
    assert reasons == []
    broker.run_until_idle()
    assert len(reasons) == 1


# ----------------------------------------------------------------- Broker.connect refusals


def test_9_1_connect_to_unknown_vhost_is_530(broker: Broker) -> None:
    before = len(broker.connections)
    with pytest.raises(NotAllowed) as info:
        broker.connect(vhost="nope")
    assert info.value.reply_code == 530
    assert info.value.reply_text.startswith("NOT_ALLOWED - ")
    assert "nope" in info.value.reply_text
    assert len(broker.connections) == before


def test_9_1_connect_to_deleted_vhost_is_530(broker: Broker) -> None:
    broker.add_vhost("v")
    broker.connect(vhost="v").close()
    broker.delete_vhost("v")
    with pytest.raises(NotAllowed) as info:
        broker.connect(vhost="v")
    assert info.value.reply_code == 530


def test_9_1_connect_as_unknown_user_is_403(broker: Broker) -> None:
    before = len(broker.connections)
    with pytest.raises(AccessRefused) as info:
        broker.connect(user="mallory")
    assert info.value.reply_code == 403
    assert info.value.reply_text.startswith("ACCESS_REFUSED - ")
    assert len(broker.connections) == before


def test_9_1_connect_as_deleted_user_is_403(broker: Broker) -> None:
    broker.add_user("temp", "pw")
    broker.set_permissions("temp")  # spec 15.4: no access without
    broker.connect(user="temp").close()
    broker.delete_user("temp")
    with pytest.raises(AccessRefused):
        broker.connect(user="temp")


def test_9_1_connect_to_other_vhost_works(broker: Broker) -> None:
    broker.add_vhost("v")
    conn = broker.connect(vhost="v")
    ch = conn.channel()
    ch.queue_declare("q")
    assert "q" in broker.vhost("v").queues
    assert "q" not in broker.queues
    with pytest.raises(NotFound) as info:
        ch.queue_declare("missing", passive=True)
    assert info.value.reply_text == "NOT_FOUND - no queue 'missing' in vhost 'v'"
    conn.close()


# ----------------------------------------------------------------- the hierarchy


def _exported_exceptions() -> list[type[BaseException]]:
    import amqpmodel

    exported = (getattr(amqpmodel, name) for name in amqpmodel.__all__)
    return [obj for obj in exported if isinstance(obj, type) and issubclass(obj, BaseException)]


def test_every_exported_exception_is_an_amqp_error() -> None:
    # docs/api.md, Errors: AMQPError is the one base
    exceptions = _exported_exceptions()
    assert len(exceptions) >= 24
    assert [cls.__name__ for cls in exceptions if not issubclass(cls, AMQPError)] == []


def test_every_exported_exception_carries_a_reply_code_and_text(
    broker: Broker, conn: Connection
) -> None:
    import amqpmodel

    samples: list[AMQPError] = [
        cls("explanation")
        for cls in _exported_exceptions()
        if cls.__init__ is AMQPError.__init__ and issubclass(cls, AMQPError)
    ]
    samples += [
        amqpmodel.ChannelClosed(406, "PRECONDITION_FAILED - x"),
        amqpmodel.ConnectionClosed(320, "CONNECTION_FORCED - x"),
        amqpmodel.UnroutableError([]),
        amqpmodel.NackError([]),
        amqpmodel.CallbacksDidNotSettle("pending"),
        amqpmodel.ParameterError("Parameter does not exist"),
        amqpmodel.ConnectionBlockedTimeout(("memory",), 1.0),
    ]
    assert {type(sample) for sample in samples} == set(_exported_exceptions())
    for sample in samples:
        assert isinstance(sample.reply_code, int) and isinstance(sample.reply_text, str)
        assert isinstance(sample.is_connection_error, bool)


def test_9_3_channel_closed_is_an_amqp_error_with_the_close_reason(conn: Connection) -> None:
    ch = conn.channel()
    with pytest.raises(NotFound):
        ch.queue_declare("missing", passive=True)
    with pytest.raises(AMQPError) as caught:
        ch.queue_declare("q")
    error = caught.value
    assert isinstance(error, ChannelClosed)
    assert (error.reply_code, error.reply_text) == (
        404,
        "NOT_FOUND - no queue 'missing' in vhost '/'",
    )
    assert error.args == (404, "NOT_FOUND - no queue 'missing' in vhost '/'")
    assert not error.is_connection_error
    assert str(error) == "(404) NOT_FOUND - no queue 'missing' in vhost '/'"


def test_9_1_connection_closed_is_an_amqp_error_with_the_close_reason(conn: Connection) -> None:
    ch = conn.channel()
    conn.close()
    with pytest.raises(AMQPError) as caught:
        ch.queue_declare("q")
    error = caught.value
    assert isinstance(error, ConnectionClosed)
    assert error.reply_code == 200 and error.is_connection_error


def test_closed_errors_close_nothing_more(broker: Broker, conn: Connection) -> None:
    # a call on a closed channel raises ChannelClosed; the connection stays open
    ch = conn.channel()
    ch.close()
    for _ in range(2):
        with pytest.raises(ChannelClosed):
            ch.basic_qos(prefetch_count=1)
    assert conn.is_open
    conn.channel().queue_declare("still-works")


def test_8_4_unroutable_error_is_an_amqp_error_and_the_channel_stays_open(ch: Channel) -> None:
    import amqpmodel

    ch.confirm_delivery()
    with pytest.raises(AMQPError) as caught:
        ch.basic_publish("", "nowhere", b"m", mandatory=True)
    error = caught.value
    assert isinstance(error, amqpmodel.UnroutableError)
    assert (error.reply_code, error.reply_text) == (312, "NO_ROUTE")
    assert len(error.messages) == 1 and error.messages[0].body == b"m"
    assert str(error) == "1 unroutable message(s) returned"
    assert ch.is_open


def test_5_3_nack_error_is_an_amqp_error_and_the_channel_stays_open(ch: Channel) -> None:
    import amqpmodel

    ch.queue_declare("full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    with pytest.raises(AMQPError) as caught:
        ch.basic_publish("", "full", b"m")
    assert isinstance(caught.value, amqpmodel.NackError)
    assert str(caught.value) == "1 message(s) nacked by the broker"
    assert ch.is_open


def test_callbacks_did_not_settle_is_an_amqp_error_and_a_runtime_error(
    broker: Broker, ch: Channel
) -> None:
    import amqpmodel

    ch.queue_declare("loop")

    def again(channel: Channel, method: Any, properties: Any, body: bytes) -> None:
        channel.basic_publish("", "loop", body)

    ch.basic_consume("loop", again, auto_ack=True)
    ch.basic_publish("", "loop", b"m")
    with pytest.raises(AMQPError) as caught:
        broker.run_until_idle(max_rounds=5)
    assert isinstance(caught.value, amqpmodel.CallbacksDidNotSettle)
    assert isinstance(caught.value, RuntimeError)
    ch.basic_cancel(ch.consumer_tags[0])
    broker.run_until_idle()
