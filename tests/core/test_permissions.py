"""Users, permissions, topic permissions and vhost limits (spec 15), checked in process
exactly as a wire connection of the same user would be."""

from __future__ import annotations

import pytest

from amqpmodel import (
    AccessRefused,
    BasicProperties,
    Broker,
    ConnectionClosed,
    NotAllowed,
    NotFound,
    ParameterError,
    PreconditionFailed,
)


@pytest.fixture
def alice(broker: Broker) -> Broker:
    broker.add_user("alice", "secret")
    return broker


def test_default_user_has_full_access_to_slash_spec_15_1(broker: Broker) -> None:
    assert broker.list_permissions() == [
        {"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
    ]


def test_user_without_permission_cannot_open_vhost_spec_15_9(alice: Broker) -> None:
    with pytest.raises(NotAllowed) as info:
        alice.connect(user="alice")
    assert info.value.reply_text == "NOT_ALLOWED - access to vhost '/' refused for user 'alice'"
    alice.set_permissions("alice", ".*", ".*", ".*")
    assert alice.connect(user="alice").is_open


def test_missing_vhost_is_530_without_quotes_spec_15_9(broker: Broker) -> None:
    with pytest.raises(NotAllowed) as info:
        broker.connect("nowhere")
    assert info.value.reply_text == "NOT_ALLOWED - vhost nowhere not found"


@pytest.mark.parametrize(
    ("operation", "text"),
    [
        (lambda ch: ch.queue_declare("other"), "configure access to queue 'other'"),
        (lambda ch: ch.exchange_declare("other", "fanout"), "configure access to exchange 'other'"),
        (lambda ch: ch.queue_delete("other"), "configure access to queue 'other'"),
        (lambda ch: ch.basic_publish("", "mine", b"x"), "write access to exchange 'amq.default'"),
        (lambda ch: ch.basic_get("theirs"), "read access to queue 'theirs'"),
        (lambda ch: ch.queue_purge("theirs"), "read access to queue 'theirs'"),
        (lambda ch: ch.basic_consume("theirs", lambda *a: None), "read access to queue 'theirs'"),
        (
            lambda ch: ch.queue_bind("mine", "amq.direct", "k"),
            "read access to exchange 'amq.direct'",
        ),
    ],
)
def test_each_method_checks_its_permission_spec_15_4_15_7(
    alice: Broker, operation: object, text: str
) -> None:
    admin = alice.connect().channel()
    admin.queue_declare("theirs")
    alice.set_permissions("alice", configure="^mine$", write="^mine$", read="^mine$")
    channel = alice.connect(user="alice").channel()
    channel.queue_declare("mine")
    with pytest.raises(AccessRefused) as info:
        operation(channel)  # type: ignore[operator]
    assert info.value.reply_text == (
        f"ACCESS_REFUSED - {text} in vhost '/' refused for user 'alice'"
    )
    assert channel.is_closed


def test_permission_check_precedes_existence_spec_15_6(alice: Broker) -> None:
    alice.set_permissions("alice", "^$", "^$", "^$")
    channel = alice.connect(user="alice").channel()
    with pytest.raises(AccessRefused):  # 403, not 404, for a missing queue
        channel.basic_get("missing")


def test_empty_pattern_matches_nothing_spec_15_4(alice: Broker) -> None:
    alice.set_permissions("alice", "", "", "")
    channel = alice.connect(user="alice").channel()
    with pytest.raises(AccessRefused):
        channel.queue_declare("q")


def test_invalid_regex_denies_spec_15_4(alice: Broker) -> None:
    alice.set_permissions("alice", "(", ".*", ".*")
    channel = alice.connect(user="alice").channel()
    with pytest.raises(AccessRefused):
        channel.queue_declare("q")


def test_dead_letter_exchange_needs_write_and_queue_read_spec_15_4(alice: Broker) -> None:
    alice.set_permissions("alice", configure=".*", write="^q$", read=".*")
    channel = alice.connect(user="alice").channel()
    with pytest.raises(AccessRefused) as info:
        channel.queue_declare("q", arguments={"x-dead-letter-exchange": "dlx"})
    assert "write access to exchange 'dlx'" in info.value.reply_text


def test_passive_declare_needs_any_one_permission_spec_15_5(alice: Broker) -> None:
    alice.connect().channel().queue_declare("q")
    alice.set_permissions("alice", configure="^$", write="^$", read="^q$")
    channel = alice.connect(user="alice").channel()
    assert channel.queue_declare("q", passive=True).method.queue == "q"
    alice.set_permissions("alice", "^$", "^$", "^$")
    channel = alice.connect(user="alice").channel()
    with pytest.raises(AccessRefused) as info:
        channel.queue_declare("q", passive=True)
    assert "configure access to queue 'q'" in info.value.reply_text  # the last one tried


def test_open_channel_keeps_its_recent_successful_checks_spec_15_18(alice: Broker) -> None:
    alice.set_permissions("alice")
    connection = alice.connect(user="alice")
    channel = connection.channel()
    channel.queue_declare("q")
    channel.basic_publish("", "q", b"1")
    alice.clear_permissions("alice")
    channel.basic_publish("", "q", b"2")  # the same check, remembered: still passes
    with pytest.raises(AccessRefused):
        channel.basic_get("q")  # a new check sees the change
    assert connection.is_open  # vhost access is checked only at connection.open


def test_topic_permissions_check_routing_and_binding_keys_spec_15_11_15_12(
    alice: Broker,
) -> None:
    alice.set_permissions("alice")
    alice.set_topic_permissions("alice", "amq.topic", write="^{username}\\.", read="^public\\.")
    channel = alice.connect(user="alice").channel()
    channel.queue_declare("q")
    channel.basic_publish("amq.topic", "alice.news", b"ok")
    with pytest.raises(AccessRefused) as info:
        channel.basic_publish("amq.topic", "bob.news", b"no")
    assert info.value.reply_text == (
        "ACCESS_REFUSED - write access to topic 'bob.news' in exchange 'amq.topic' in vhost "
        "'/' refused for user 'alice'"
    )
    channel = alice.connect(user="alice").channel()
    channel.queue_bind("q", "amq.topic", "public.#")
    with pytest.raises(AccessRefused) as info:
        channel.queue_bind("q", "amq.topic", "secret.#")
    assert "read access to topic 'secret.#'" in info.value.reply_text


def test_topic_permission_checks_every_cc_key_spec_15_11(alice: Broker) -> None:
    alice.set_permissions("alice")
    alice.set_topic_permissions("alice", "amq.topic", write="^a\\.", read=".*")
    channel = alice.connect(user="alice").channel()
    with pytest.raises(AccessRefused):
        channel.basic_publish("amq.topic", "a.1", b"x", BasicProperties(headers={"CC": ["b.1"]}))


def test_user_id_must_match_unless_impersonator_spec_15_13(alice: Broker) -> None:
    alice.set_permissions("alice")
    channel = alice.connect(user="alice").channel()
    channel.queue_declare("q")
    with pytest.raises(PreconditionFailed):
        channel.basic_publish("", "q", b"x", BasicProperties(user_id="bob"))
    alice.set_user_tags("alice", ["impersonator"])
    channel = alice.connect(user="alice").channel()
    channel.basic_publish("", "q", b"x", BasicProperties(user_id="bob"))
    assert alice.queues["q"].messages_ready == 1


def test_vhost_connection_limit_spec_15_14(broker: Broker) -> None:
    broker.set_vhost_limits("/", {"max-connections": 1})
    first = broker.connect()
    with pytest.raises(NotAllowed) as info:
        broker.connect()
    assert info.value.reply_text == (
        "NOT_ALLOWED - access to vhost '/' refused for user 'guest': connection limit (1) is reached"
    )
    first.close()
    broker.connect()


def test_vhost_queue_limit_spec_15_14(broker: Broker) -> None:
    channel = broker.connect().channel()
    channel.queue_declare("a")
    broker.set_vhost_limits("/", {"max-queues": 1})  # existing queues stay
    channel.queue_declare("a")  # a redeclare is not a new queue
    with pytest.raises(PreconditionFailed) as info:
        channel.queue_declare("b")
    assert info.value.reply_text == (
        "PRECONDITION_FAILED - cannot declare queue 'b': queue limit in vhost '/' (1) is reached"
    )
    broker.set_vhost_limits("/", {"max-queues": -1})  # negative: no limit
    broker.connect().channel().queue_declare("b")


def test_user_connection_limit_spec_15_15(alice: Broker) -> None:
    alice.set_permissions("alice")
    alice.add_vhost("other")
    alice.set_permissions("alice", vhost="other")
    alice.set_user_limits("alice", {"max-connections": 2})
    first = alice.connect(user="alice")
    alice.connect("other", user="alice")  # counted over every vhost
    with pytest.raises(NotAllowed) as info:
        alice.connect(user="alice")
    assert info.value.reply_text == (
        "NOT_ALLOWED - connection refused for user 'alice': user connection limit (2) is reached"
    )
    alice.connect()  # another user's connections are not limited
    first.close()
    alice.connect(user="alice")
    alice.set_user_limits("alice", {"max-connections": 0})  # open ones stay open
    with pytest.raises(NotAllowed):
        alice.connect(user="alice")
    alice.set_user_limits("alice", {"max-connections": -1})  # negative: no limit
    alice.connect(user="alice")


def test_limits_are_checked_in_rabbitmqs_order_spec_15_9(alice: Broker) -> None:
    alice.set_vhost_limits("/", {"max-connections": 0})
    alice.set_user_limits("alice", {"max-connections": 0})
    with pytest.raises(NotAllowed, match="connection limit \\(0\\) is reached"):
        alice.connect(user="alice")  # the vhost's first; alice has no permission either
    alice.clear_vhost_limits("/")
    with pytest.raises(NotAllowed, match="user connection limit"):
        alice.connect(user="alice")  # then the user's, before the permission
    alice.clear_user_limits("alice")
    with pytest.raises(NotAllowed, match="access to vhost '/' refused for user 'alice'"):
        alice.connect(user="alice")


def test_user_channel_limit_spec_15_15(alice: Broker) -> None:
    alice.set_permissions("alice")
    alice.set_user_limits("alice", {"max-channels": 2})
    one = alice.connect(user="alice")
    two = alice.connect(user="alice")
    one.channel()
    two.channel()  # counted over every connection of the user
    with pytest.raises(NotAllowed) as info:
        one.channel()
    assert info.value.reply_code == 530
    assert info.value.reply_text == (
        "NOT_ALLOWED - number of channels opened for user 'alice' has reached the maximum "
        "allowed user limit of 2"
    )
    assert one.is_closed  # a connection error (530): the connection goes
    two.channel()  # its channel closed with it: one is free again
    alice.connect().channel()  # guest is not limited


def test_user_limits_are_validated_listed_and_cleared_spec_15_15(alice: Broker) -> None:
    with pytest.raises(ParameterError) as info:
        alice.set_user_limits("alice", {"max-queues": 1, "max-channels": "a"})
    assert str(info.value) == (
        "Validation failed\n\nUnrecognised terms [{<<\"max-queues\">>,1}] in user-limits\n"
        "max-channels should be a number, actually was <<\"a\">>\n"
    )
    with pytest.raises(NotFound):
        alice.set_user_limits("nobody", {"max-channels": 1})
    alice.set_user_limits("alice", {"max-channels": 3})
    alice.set_user_limits("alice", {"max-connections": 5})  # merged, as RabbitMQ does
    assert alice.user_limits() == {"alice": {"max-channels": 3, "max-connections": 5}}
    assert [u["limits"] for u in alice.list_users() if u["name"] == "alice"] == [
        {"max-channels": 3, "max-connections": 5}
    ]
    alice.clear_user_limits("alice", "max-channels")
    assert alice.user_limits("alice") == {"alice": {"max-connections": 5}}
    alice.delete_user("alice")
    assert alice.user_limits() == {}


def test_deleting_a_user_closes_its_connections_spec_15_17(alice: Broker) -> None:
    alice.set_permissions("alice")
    connection = alice.connect(user="alice")
    alice.delete_user("alice")
    assert connection.is_closed
    assert connection.close_reason == (320, "CONNECTION_FORCED - user 'alice' is deleted")
    assert alice.list_permissions() == [
        {"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
    ]
    with pytest.raises(ConnectionClosed):
        connection.channel()


def test_a_new_vhost_gives_the_default_user_access_spec_15_4(broker: Broker) -> None:
    broker.add_vhost("team")
    broker.connect("team")
    broker.add_vhost("locked", grant_default_user=False)  # as rabbitmqctl add_vhost
    with pytest.raises(NotAllowed):
        broker.connect("locked")


def test_change_password_and_tags_spec_15_3(alice: Broker) -> None:
    alice.change_password("alice", "new")
    assert alice.authenticate("alice", "new") and not alice.authenticate("alice", "secret")
    alice.set_user_tags("alice", ["monitoring"])
    assert [u["tags"] for u in alice.list_users() if u["name"] == "alice"] == [["monitoring"]]


def test_passwords_compare_as_bytes_spec_15_2(broker: Broker) -> None:
    broker.add_user("bytes", b"\xff\xfe")
    assert broker.authenticate("bytes", b"\xff\xfe")
    assert not broker.authenticate("bytes", b"\xfe\xff")
