"""Real management clients against amqpmodel's API (spec 18): RabbitMQ's own
``rabbitmqadmin`` (Debian's rabbitmq-server ships it) and amqpstorm's
``ManagementApi`` from PyPI, doing what they do against RabbitMQ."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from amqpmodel import Broker
from amqpmodel.server import ServeURL

pytestmark = pytest.mark.timeout(120)


def _rabbitmqadmin() -> str | None:
    candidates = [os.environ.get("AMQPMODEL_RABBITMQADMIN"), shutil.which("rabbitmqadmin")]
    candidates += sorted(
        glob.glob(
            "/usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins/rabbitmq_management-*/priv/www/cli/rabbitmqadmin"
        )
    )
    return next((c for c in candidates if c and os.path.isfile(c)), None)


RABBITMQADMIN = _rabbitmqadmin()


@pytest.fixture
def admin(served: ServeURL) -> Any:
    """``admin("list", "queues")`` runs rabbitmqadmin against the management port."""
    if RABBITMQADMIN is None:
        if os.environ.get("CI"):
            pytest.fail("rabbitmqadmin is missing: .ci/run must install it")
        pytest.skip("rabbitmqadmin not installed (Debian's rabbitmq-server ships it)")
    assert served.management_url is not None
    port = urllib.parse.urlsplit(served.management_url).port

    def run(*args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [sys.executable, RABBITMQADMIN, "-H", "127.0.0.1", "-P", str(port), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check:
            assert result.returncode == 0, (result.stdout, result.stderr)
        return result.stdout + result.stderr

    return run


def test_rabbitmqadmin_declares_publishes_gets_and_lists(admin: Any, broker: Broker) -> None:
    assert admin("declare", "exchange", "name=logs", "type=topic").strip() == "exchange declared"
    assert admin("declare", "queue", "name=audit", "durable=true").strip() == "queue declared"
    assert broker.queues["audit"].durable
    assert (
        admin("declare", "binding", "source=logs", "destination=audit", "routing_key=#").strip()
        == "binding declared"
    )
    assert (
        admin("publish", "exchange=logs", "routing_key=app.info", "payload=hello").strip()
        == "Message published"
    )
    assert (
        admin("publish", "exchange=logs", "routing_key=x", "payload=nowhere", "--vhost=/").strip()
        != ""
    )
    assert broker.queues["audit"].messages_ready == 2
    listing = admin("list", "queues", "name", "messages")
    assert "| audit | 2" in listing
    got = json.loads(
        admin("-f", "raw_json", "get", "queue=audit", "count=1", "ackmode=ack_requeue_false")
    )
    assert got[0]["payload"] == "hello" and got[0]["routing_key"] == "app.info"
    assert broker.queues["audit"].messages_ready == 1
    bindings = admin("-f", "tsv", "list", "bindings")
    assert "logs\taudit\t#" in bindings
    exchanges = admin("-f", "tsv", "list", "exchanges", "name", "type")
    assert "logs\ttopic" in exchanges
    assert admin("purge", "queue", "name=audit").strip() == "queue purged"
    assert broker.queues["audit"].messages_ready == 0
    assert admin("delete", "queue", "name=audit").strip() == "queue deleted"
    assert "audit" not in broker.queues


def test_rabbitmqadmin_exports_and_imports_definitions(
    admin: Any, broker: Broker, tmp_path: Path
) -> None:
    channel = broker.connect().channel()
    channel.exchange_declare("orders", "direct", durable=True)
    channel.queue_declare("orders.new", durable=True)
    channel.queue_bind("orders.new", "orders", "new")
    path = tmp_path / "definitions.json"
    assert "Exported definitions" in admin("export", str(path))
    document = json.loads(path.read_text())
    assert [q["name"] for q in document["queues"]] == ["orders.new"]
    channel.queue_delete("orders.new")
    assert "Uploaded definitions" in admin("import", str(path))
    assert broker.queues["orders.new"].durable
    assert [b.routing_key for b in broker.exchanges["orders"].bindings] == ["new"]


def test_rabbitmqadmin_shows_overview_and_errors(admin: Any, broker: Broker) -> None:
    overview = admin("show", "overview")
    assert "cluster_name" in overview and "object_totals.queues" in overview
    admin("declare", "queue", "name=q", "durable=true")
    refused = admin("declare", "queue", "name=q", "durable=false", check=False)
    assert "inequivalent arg 'durable'" in refused
    assert "Access refused" in admin("-p", "nope", "list", "queues", check=False)
    assert "No items" in admin("list", "consumers")
    assert "guest" in admin("list", "users")


# ----------------------------------------------------------------- amqpstorm


@pytest.fixture
def storm(served: ServeURL) -> Any:
    management = pytest.importorskip("amqpstorm.management")
    return management.ManagementApi(served.management_url, "guest", "guest", timeout=10)


def test_amqpstorm_management_api(storm: Any, broker: Broker, served: ServeURL) -> None:
    assert storm.overview()["product_name"] == "amqpmodel"
    assert storm.aliveness_test("/")["status"] == "ok"
    assert storm.whoami()["name"] == "guest"
    storm.queue.declare("jobs", durable=True)
    storm.exchange.declare("work", exchange_type="direct")
    storm.queue.bind("jobs", "work", routing_key="jobs")
    assert storm.basic.publish("do it", "jobs", exchange="work") == {"routed": True}
    (message,) = storm.basic.get("jobs", requeue=False)
    assert message.body == "do it"
    assert broker.queues["jobs"].messages_ready == 0
    assert [q["name"] for q in storm.queue.list()] == ["jobs"]
    assert {b["source"] for b in storm.queue.bindings("jobs")} == {"", "work"}
    storm.virtual_host.create("staging")
    assert "staging" in broker.vhosts
    assert {v["name"] for v in storm.virtual_host.list()} == {"/", "staging"}
    storm.user.create("app", "secret", tags="management")
    assert broker.authenticate("app", "secret")
    assert storm.healthchecks.get()["status"] == "ok"
    storm.queue.purge("jobs")
    storm.queue.delete("jobs")
    assert "jobs" not in broker.queues


def test_amqpstorm_sees_its_refusals_as_api_errors(storm: Any) -> None:
    from amqpstorm.management import ApiError

    with pytest.raises(ApiError) as info:
        storm.queue.get("missing")
    assert info.value.error_code == 404
    storm.queue.declare("q", durable=True)
    with pytest.raises(ApiError) as info:
        storm.queue.declare("q", durable=False)
    assert info.value.error_code == 400
