"""The package as a user meets it: layering, public API, the command line, the pytest plugin."""

from __future__ import annotations

import subprocess
import sys

import amqpmodel

pytest_plugins = ["pytester"]


def test_core_import_loads_no_io_or_codec() -> None:
    # STYLE.md: the core does no I/O; the wire codec is only for amqpmodel.server.
    # (socket itself is imported by the standard library's importlib.metadata;
    # ruff's banned-api rule keeps it out of our own core modules.)
    code = (
        "import sys, amqpmodel\n"
        "bad = [m for m in ('pamqp', 'asyncio', 'amqpmodel.server') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_all_names_exist_and_are_public() -> None:
    for name in amqpmodel.__all__:
        assert hasattr(amqpmodel, name), name
        assert not name.startswith("_") or name == "__version__"


def test_command_line_hello_runs_the_tutorial() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "amqpmodel", "hello"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert " [x] Sent 'Hello World!'" in out.stdout
    assert " [x] Received b'Hello World!'" in out.stdout


def test_pytest_plugin_fixtures(pytester) -> None:  # type: ignore[no-untyped-def]
    pytester.makepyfile(
        """
        def test_ttl(amqp_channel, amqp_clock, amqp_broker):
            amqp_channel.queue_declare("q", arguments={"x-message-ttl": 1000})
            amqp_channel.basic_publish("", "q", b"x")
            amqp_clock.advance(1)
            assert amqp_broker.queues["q"].messages_ready == 0
            assert amqp_broker.queues["q"].stats.dropped["expired"] == 1
        """
    )
    result = pytester.runpytest()  # the plugin is registered by its entry point
    result.assert_outcomes(passed=1)
