"""``@pytest.mark.rabbitmq_version(...)`` in a project's own suite (pytester): the marker is
registered by the plugin (``--strict-markers`` accepts it), picks the version of that
test's ``amqp_broker`` and of the server behind ``amqp_url``, and a bad version fails
the test with the list of known ones (spec 0.x)."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

TESTS = textwrap.dedent(
    """
    import pytest

    @pytest.mark.rabbitmq_version("3.13")
    def test_marked(amqp_broker, amqp_channel):
        assert amqp_broker.rabbitmq_version.version == "3.13.7"
        amqp_channel.queue_declare("c")
        assert amqp_broker.queues["c"].arguments == {}

    def test_unmarked(amqp_broker):
        assert amqp_broker.rabbitmq_version.version == "4.2.9"

    @pytest.mark.rabbitmq_version("4.3")
    class TestWholeClass:
        def test_one(self, amqp_broker):
            assert amqp_broker.rabbitmq_version.series == "4.3"

    @pytest.mark.rabbitmq_version("4.0")
    def test_over_the_wire(amqp_url):
        import pika
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        assert connection._impl.server_properties["version"] in ("4.0.9", b"4.0.9")
        connection.close()

    @pytest.mark.rabbitmq_version("4.1")
    def test_bad_version(amqp_broker):
        pass
    """
)


@pytest.mark.timeout(120)
def test_the_rabbitmq_version_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_versions=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*unknown RabbitMQ version '4.1': known are 3.13*"])
