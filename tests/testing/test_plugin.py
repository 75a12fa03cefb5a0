"""The pytest plugin (amqpmodel.testing): the strict check by marker and by ini
option, the ``amqp_url`` fixture, and the check functions used directly."""

from __future__ import annotations

import textwrap

import pytest

from amqpmodel import BasicProperties, Broker
from amqpmodel.testing import assert_strict, record_losses, strict_findings

pytest_plugins = ["pytester"]

# One test module for pytester: each case is a test body using the plugin's fixtures.
CASES = textwrap.dedent(
    """
    import pytest
    from amqpmodel import BasicProperties

    def test_unacked(amqp_channel, amqp_broker):
        amqp_channel.queue_declare("jobs")
        amqp_channel.basic_publish("", "jobs", b"job one", BasicProperties(message_id="j1"))
        amqp_channel.basic_consume("jobs", lambda ch, method, props, body: None)
        amqp_broker.run_until_idle()  # the handler forgot its ack

    def test_unroutable(amqp_channel):
        amqp_channel.exchange_declare("events", "topic")
        amqp_channel.basic_publish("events", "order.created", b"nobody listens")

    def test_length_limit(amqp_channel):
        amqp_channel.queue_declare("recent", arguments={"x-max-length": 1})
        amqp_channel.basic_publish("", "recent", b"first")
        amqp_channel.basic_publish("", "recent", b"second")  # spec 5.2: "first" dropped

    def test_reject_publish(amqp_channel):
        amqp_channel.queue_declare(
            "full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
        )
        amqp_channel.basic_publish("", "full", b"refused")  # spec 5.3

    def test_clean(amqp_channel, amqp_broker):
        amqp_channel.queue_declare("jobs", arguments={"x-max-length": 5})
        amqp_channel.add_on_return_callback(lambda *args: None)
        amqp_channel.basic_publish("", "nowhere", b"told", mandatory=True)  # returned: fine
        amqp_channel.basic_publish("", "jobs", b"job")
        amqp_channel.basic_consume(
            "jobs", lambda ch, method, props, body: ch.basic_ack(method.delivery_tag)
        )
        amqp_broker.run_until_idle()
        amqp_channel.stop_consuming()
        amqp_channel.basic_publish("", "jobs", b"left ready")  # ready messages are fine
    """
)
FAILING = ["test_unacked", "test_unroutable", "test_length_limit", "test_reject_publish"]


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    outcomes = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        if report.when == "call" or report.outcome != "passed":
            outcomes[report.head_line.rsplit(".", 1)[-1]] = report.outcome
    return outcomes


def test_without_the_option_or_marker_nothing_more_is_checked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest()
    result.assert_outcomes(passed=5)


def test_marker_fails_each_offending_test_and_passes_the_clean_one(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_cases="pytestmark = __import__('pytest').mark.amqp_strict\n" + CASES)
    result = pytester.runpytest()
    assert _outcomes(result) == {**dict.fromkeys(FAILING, "failed"), "test_clean": "passed"}
    output = result.stdout.str()
    assert (
        "unacknowledged: message published to exchange '' with routing key 'jobs' in vhost '/' "
        "(body b'job one', message_id 'j1'): delivered from queue 'jobs' to consumer"
    ) in output
    assert "(delivery tag 1 on channel 1), never acked, nacked or rejected" in output
    assert (
        "unroutable: message published to exchange 'events' with routing key 'order.created' "
        "in vhost '/' (body b'nobody listens'): exchange 'events' routed it to no queue "
        "(not mandatory: dropped)"
    ) in output
    assert (
        "maxlen: message published to exchange '' with routing key 'recent' in vhost '/' "
        "(body b'first'): dropped from the head of queue 'recent' (x-max-length 1, drop-head)"
    ) in output
    assert (
        "overflow: message published to exchange '' with routing key 'full' in vhost '/' "
        "(body b'refused'): refused by queue 'full' (x-max-length 0, x-overflow reject-publish)"
    ) in output


def test_ini_option_fails_each_offending_test_and_passes_the_clean_one(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\namqp_strict = true\n")
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest()
    assert _outcomes(result) == {**dict.fromkeys(FAILING, "failed"), "test_clean": "passed"}
    result.stdout.fnmatch_lines(["*amqp_strict: 1 message problem(s) at the end of the test:*"])


def test_marker_false_turns_the_ini_option_off_for_one_test(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\namqp_strict = true\n")
    pytester.makepyfile(
        test_cases="pytestmark = __import__('pytest').mark.amqp_strict(False)\n" + CASES
    )
    pytester.runpytest().assert_outcomes(passed=5)


def test_a_test_that_failed_already_is_not_reported_twice(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_cases="""
        import pytest

        @pytest.mark.amqp_strict
        def test_fails(amqp_channel):
            amqp_channel.basic_publish("", "nowhere", b"lost")
            assert False, "the test's own failure"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert "the test's own failure" in result.stdout.str()
    assert "amqp_strict:" not in result.stdout.str()


def test_strict_check_sees_unacked_deliveries_of_socket_clients(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("pamqp")
    pytest.importorskip("pika")
    pytester.makepyfile(
        test_cases="""
        import pika, pytest

        @pytest.mark.amqp_strict
        def test_wire(amqp_url, amqp_broker):
            channel = pika.BlockingConnection(pika.URLParameters(amqp_url)).channel()
            channel.queue_declare("wire")
            channel.basic_publish("", "wire", b"over the wire")
            method, properties, body = channel.basic_get("wire")
            assert body == b"over the wire"  # and never acked
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unacknowledged: *'wire'*b'over the wire'*basic.get*"])


def test_amqp_url_serves_the_tests_own_broker(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pamqp")
    pytest.importorskip("pika")
    pytester.makepyfile(
        test_cases="""
        import pika

        def test_wire(amqp_url, amqp_broker, amqp_clock):
            assert amqp_url.startswith("amqp://guest:guest@127.0.0.1:")
            connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
            channel = connection.channel()
            channel.queue_declare("q", arguments={"x-message-ttl": 60_000})
            channel.basic_publish("", "q", b"m")
            channel.queue_declare("q", passive=True)  # a round trip: the publish arrived
            assert amqp_broker.queues["q"].messages_ready == 1
            amqp_clock.advance(60)  # the same broker, the same clock
            assert amqp_broker.queues["q"].messages_ready == 0
            connection.close()

        def test_fresh_broker_each_time(amqp_url, amqp_broker):
            assert "q" not in amqp_broker.queues
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_amqp_url_skips_with_a_reason_without_the_server_extra(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import sys
        sys.modules["pamqp"] = None  # as if the server extra were not installed
        """
    )
    pytester.makepyfile(
        test_cases="""
        def test_wire(amqp_url):
            raise AssertionError("not reached")

        def test_in_process(amqp_channel):
            amqp_channel.queue_declare("q")
        """
    )
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*amqp_url needs amqpmodel's server extra*"])


# ----------------------------------------------------------------- the functions, used directly


def test_assert_strict_names_losses_recorded_on_a_broker_of_ones_own() -> None:
    broker = Broker()
    record_losses(broker)
    channel = broker.connect().channel()
    channel.basic_publish("amq.direct", "k", b"x" * 100, BasicProperties(message_id="big"))
    with pytest.raises(AssertionError) as caught:
        assert_strict(broker)
    text = str(caught.value)
    assert "unroutable: message published to exchange 'amq.direct' with routing key 'k'" in text
    assert "(body b'" + "x" * 40 + "'..., message_id 'big')" in text


def test_without_record_losses_the_counters_still_fail_the_check() -> None:
    broker = Broker()
    channel = broker.connect().channel()
    channel.basic_publish("amq.direct", "k", b"lost")
    assert strict_findings(broker) == [
        "unroutable: 1 message(s) in vhost '/'",
        "(call amqpmodel.testing.record_losses(broker) first to name them)",
    ]


def test_dead_letters_that_reach_no_queue_are_losses() -> None:
    # spec 4.2: a dead letter to a missing exchange, or routed nowhere, is dropped silently
    broker = Broker()
    record_losses(broker)
    channel = broker.connect().channel()
    channel.exchange_declare("dlx", "direct")
    channel.queue_declare("a", arguments={"x-dead-letter-exchange": "missing"})
    channel.queue_declare("b", arguments={"x-dead-letter-exchange": "dlx"})
    for queue in ("a", "b"):
        channel.basic_publish("", queue, queue.encode())
        method, _, _ = channel.basic_get(queue)
        assert method is not None
        channel.basic_reject(method.delivery_tag, requeue=False)
    findings = strict_findings(broker)
    assert [line.split(":")[0] for line in findings] == [
        "dead_letter_exchange_missing",
        "dead_letter_unroutable",
    ]
    assert "dead-lettered (rejected) from queue 'a' to exchange 'missing'" in findings[0]
    assert "exchange 'dlx', which routed it to no queue" in findings[1]


def test_the_log_keeps_the_last_offenders_and_counts_the_rest() -> None:
    broker = Broker()
    record_losses(broker, limit=3)
    channel = broker.connect().channel()
    for n in range(5):
        channel.basic_publish("amq.direct", "k", str(n).encode())
    findings = strict_findings(broker)
    assert len(findings) == 4
    assert [line.split("(body ")[1][:4] for line in findings[:3]] == ["b'2'", "b'3'", "b'4'"]
    assert findings[3] == "... and 2 earlier loss(es) not kept in full"


def test_mandatory_return_to_a_channel_without_a_return_callback_is_a_loss() -> None:
    # spec 8.4: the basic.return reaches nobody who listens
    broker = Broker()
    record_losses(broker)
    channel = broker.connect().channel()
    channel.basic_publish("", "nowhere", b"m", mandatory=True)
    (finding,) = strict_findings(broker)
    assert finding.endswith(
        "it was returned (mandatory) to channel 1, which has no return callback"
    )
    confirming = broker.connect().channel()
    confirming.confirm_delivery()
    with pytest.raises(Exception, match="unroutable"):
        confirming.basic_publish("", "nowhere", b"m", mandatory=True)
    assert len(strict_findings(broker)) == 1  # UnroutableError told the publisher


def test_a_delivery_whose_callback_never_ran_says_so() -> None:
    broker = Broker()
    channel = broker.connect().channel()
    channel.queue_declare("q")
    channel.basic_consume("q", lambda ch, method, props, body: ch.basic_ack(method.delivery_tag))
    channel.basic_publish("", "q", b"m")  # assigned, but nothing drained
    (finding,) = strict_findings(broker)
    assert finding.endswith(
        "(delivery tag 1 on channel 1), its callback has not run (drain: broker.run_until_idle())"
    )
    broker.run_until_idle()
    assert strict_findings(broker) == []


def test_an_ack_still_on_the_wire_does_not_fail_the_strict_check(pytester: pytest.Pytester) -> None:
    # the client's basic.ack may reach the server thread after the test body returned
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pika
            import pytest

            @pytest.mark.amqp_strict
            @pytest.mark.parametrize("round", range(20))
            def test_ack_then_return(amqp_url, round):
                channel = pika.BlockingConnection(pika.URLParameters(amqp_url)).channel()
                channel.queue_declare("q")
                channel.basic_publish("", "q", b"x")
                method, _, _ = channel.basic_get("q")
                channel.basic_ack(method.delivery_tag)   # asynchronous: no reply to wait for
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=20)


def test_a_refusal_the_publisher_was_told_of_is_not_flagged(pytester: pytest.Pytester) -> None:
    # reject-publish on a confirming channel: the publisher gets basic.nack (spec 8.3)
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest
            from amqpmodel import NackError

            @pytest.mark.amqp_strict
            def test_nacked(amqp_channel):
                amqp_channel.confirm_delivery()
                amqp_channel.queue_declare(
                    "full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
                with pytest.raises(NackError):
                    amqp_channel.basic_publish("", "full", b"refused")

            @pytest.mark.amqp_strict
            def test_not_told(amqp_channel):
                amqp_channel.queue_declare(
                    "full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
                amqp_channel.basic_publish("", "full", b"refused")
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    assert "test_not_told" in result.stdout.str() and "overflow" in result.stdout.str()
