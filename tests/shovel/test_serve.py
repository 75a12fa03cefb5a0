"""``amqpmodel serve --parameter shovel NAME JSON`` runs a dynamic shovel in the server
(spec 20.1): messages published to the server over the wire move to another broker."""

from __future__ import annotations

import json
import subprocess
import sys

import pika
import pytest
from _helpers import ServeProcess, wait_until

from amqpmodel import Broker

pytestmark = pytest.mark.timeout(120)


def test_serve_runs_the_shovels_its_parameters_define(destination: tuple[Broker, str]) -> None:
    target, url = destination
    definition = {
        "src-uri": "amqp://",
        "src-queue": "jobs",
        "dest-uri": url,
        "dest-queue": "jobs",
        "dest-add-forward-headers": True,
    }
    server = ServeProcess("--parameter", "shovel", "to-target", json.dumps(definition)).start()
    try:
        connection = pika.BlockingConnection(pika.URLParameters(server.url))

        def declared() -> pika.adapters.blocking_connection.BlockingChannel | None:
            channel = connection.channel()
            try:
                channel.queue_declare("jobs", passive=True)  # the shovel declares it (20.3)
            except pika.exceptions.ChannelClosedByBroker:
                return None
            return channel

        channel = wait_until(declared, "the shovel's source queue")
        channel.basic_publish("", "jobs", b"work")
        connection.close()
        wait_until(lambda: "jobs" in target.queues and target.queues["jobs"].messages, "moved")
        message = target.queues["jobs"].peek()[0]
        assert message.body == b"work"
        assert message.properties.headers["x-shovelled"][0]["shovel-name"] == "to-target"
    finally:
        output = server.stop()
    assert "Traceback" not in output


def test_serve_refuses_a_parameter_rabbitmq_would_refuse() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "amqpmodel",
            "serve",
            "--port",
            "0",
            "--quiet",
            "--no-management",
            "--parameter",
            "shovel",
            "bad",
            json.dumps({"src-uri": "amqp://"}),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.endswith(  # after whatever else serve said first
        "amqpmodel serve: --parameter shovel bad: Validation failed\n\n"
        "Must specify 'src-exchange' or 'src-queue'\n"
        'Key "dest-uri" not found in bad\n\n'
    )


def test_serve_refuses_a_parameter_that_is_not_json() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "amqpmodel",
            "serve",
            "--port",
            "0",
            "--quiet",
            "--no-management",
            "--parameter",
            "shovel",
            "bad",
            "{nope",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "\namqpmodel serve: --parameter shovel bad: Could not parse JSON document: " in (
        "\n" + result.stderr
    )
