"""The plugin's drop-in fixtures, as a project's own test suite uses them (pytester):
``amqp_pika`` for unmodified pika code, ``amqp_kombu`` and ``amqpmodel://`` with no
import of amqpmodel.kombu first."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

APP = textwrap.dedent(
    """
    import pika

    def send(text):
        connection = pika.BlockingConnection(pika.ConnectionParameters("rabbit.internal"))
        channel = connection.channel()
        channel.queue_declare("inbox")
        channel.basic_publish("", "inbox", text.encode())
        connection.close()

    def receive_one():
        connection = pika.BlockingConnection(pika.URLParameters("amqp://guest:guest@rabbit/%2F"))
        method, properties, body = connection.channel().basic_get("inbox", auto_ack=True)
        return body   # the connection is left open, as careless code does
    """
)

TESTS = textwrap.dedent(
    """
    import sys

    import kombu
    import kombu.transport

    import app


    def test_unmodified_pika_code_reaches_the_tests_broker(amqp_pika, amqp_broker):
        app.send("hello")
        assert amqp_broker.queues["inbox"].messages_ready == 1
        assert app.receive_one() == b"hello"
        assert amqp_broker.queues["inbox"].messages_ready == 0
        assert len(amqp_pika.connections) == 1   # closed by the fixture at teardown


    def test_pika_is_itself_again_without_the_fixture():
        import pika
        from amqpmodel.pika import PikaBlockingConnection
        assert pika.BlockingConnection is PikaBlockingConnection


    def test_the_amqpmodel_url_is_known_to_kombu_before_any_import():
        assert "amqpmodel.kombu" not in sys.modules
        assert kombu.transport.TRANSPORT_ALIASES["amqpmodel"] == "amqpmodel.kombu:Transport"


    def test_amqp_kombu_is_on_the_tests_broker(amqp_kombu, amqp_broker, amqp_clock):
        queue = kombu.Queue("jobs", message_ttl=60)
        producer = kombu.Producer(amqp_kombu.default_channel)
        producer.publish({"id": 1}, routing_key="jobs", declare=[queue])
        assert amqp_broker.queues["jobs"].messages_ready == 1
        amqp_clock.advance(60)
        assert amqp_broker.queues["jobs"].messages_ready == 0
    """
)


def test_the_drop_in_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=APP, test_app=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
