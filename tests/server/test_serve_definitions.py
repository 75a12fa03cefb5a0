"""``amqpmodel serve --definitions PATH`` imports definitions at boot, as RabbitMQ's
``load_definitions`` (spec 16.11): a blank node then has only the users the file has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pika
import pika.exceptions
import pytest

pytestmark = pytest.mark.timeout(60)

DEFINITIONS = {
    "users": [{"name": "ops", "password": "s3cret", "tags": ["administrator"]}],
    "vhosts": [{"name": "/"}],
    "permissions": [{"user": "ops", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}],
    "policies": [{"vhost": "/", "name": "cap", "pattern": "^jobs$", "definition": {"max-length": 1}}],
    "queues": [{"name": "jobs", "vhost": "/", "durable": True, "arguments": {}}],
}


def _serve(*options: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--no-management", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_serve_loads_definitions_at_boot_without_the_default_user_spec_16_11(
    tmp_path: Path,
) -> None:
    path = tmp_path / "definitions.json"
    path.write_text(json.dumps(DEFINITIONS))
    process = _serve("--definitions", str(path))
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("amqpmodel listening on amqp://127.0.0.1:"), line
        port = int(line.split("amqp://127.0.0.1:")[1].split()[0])
        connection = pika.BlockingConnection(
            pika.URLParameters(f"amqp://ops:s3cret@127.0.0.1:{port}/%2F")
        )
        channel = connection.channel()
        channel.queue_declare("jobs", passive=True, durable=True)
        for body in (b"1", b"2"):
            channel.basic_publish("", "jobs", body)
        method, _, body = channel.basic_get("jobs", auto_ack=True)
        assert method is not None and body == b"2"  # the policy's max-length 1 dropped "1"
        connection.close()
        with pytest.raises(pika.exceptions.ProbableAuthenticationError):
            pika.BlockingConnection(pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{port}/%2F"))
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_refuses_definitions_it_cannot_import(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"users": [{"name": "x", "password": "p"}]}))
    process = _serve("--definitions", str(path))
    _, err = process.communicate(timeout=30)
    assert process.returncode == 2
    assert err.endswith(f"amqpmodel serve: --definitions {path}: tags_not_present\n")
