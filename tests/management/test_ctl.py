"""``amqpmodel ctl``: rabbitmqctl's commands, arguments and output over the management
API; the seed tutorials' ``rabbitmqctl`` lines with ``amqpmodel ctl`` in their place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pika
import pytest

from amqpmodel import Broker
from amqpmodel._cli import main
from amqpmodel.server import ServeURL

pytestmark = pytest.mark.timeout(60)


class Ctl:
    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url = url
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(["ctl", "--management-url", self.url, *args])
        out, err = self.capsys.readouterr()
        return code, out, err


@pytest.fixture
def ctl(served: ServeURL, capsys: pytest.CaptureFixture[str]) -> Ctl:
    assert served.management_url is not None
    return Ctl(served.management_url, capsys)


@pytest.fixture
def tutorials(served: ServeURL) -> Any:
    """The seed tutorials' topology: "hello" (1), a durable "task_queue" with a message
    taken and not acked (2), the "logs" fanout with an exclusive queue bound (3)."""
    connection = pika.BlockingConnection(pika.URLParameters(served))
    channel = connection.channel()
    channel.queue_declare("hello")
    channel.basic_publish("", "hello", b"Hello World!")
    channel.queue_declare("task_queue", durable=True)
    for body in (b"First message.", b"Second message.."):
        channel.basic_publish("", "task_queue", body, pika.BasicProperties(delivery_mode=2))
    channel.basic_qos(prefetch_count=1)
    channel.basic_consume("task_queue", lambda *args: None)
    channel.exchange_declare("logs", "fanout")
    logs_queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(logs_queue, "logs")
    connection.process_data_events(time_limit=0.2)
    yield logs_queue
    connection.close()


def test_tutorial_one_list_queues(ctl: Ctl, tutorials: str) -> None:
    # tutorial 1: `sudo rabbitmqctl list_queues`
    code, out, err = ctl("list_queues")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Listing queues for vhost / ..."
    assert lines[1] == "name\tmessages"
    assert "hello\t1" in lines[2:]
    assert "task_queue\t2" in lines[2:]
    assert f"{tutorials}\t0" in lines[2:]


def test_tutorial_two_list_queues_with_columns(ctl: Ctl, tutorials: str) -> None:
    # tutorial 2: `sudo rabbitmqctl list_queues name messages_ready messages_unacknowledged`
    code, out, _ = ctl("list_queues", "name", "messages_ready", "messages_unacknowledged")
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "name\tmessages_ready\tmessages_unacknowledged"
    assert "task_queue\t1\t1" in lines
    assert "hello\t1\t0" in lines


def test_tutorial_three_list_exchanges_and_bindings(ctl: Ctl, tutorials: str) -> None:
    # tutorial 3: `sudo rabbitmqctl list_exchanges`, `rabbitmqctl list_bindings`
    code, out, _ = ctl("list_exchanges")
    lines = out.splitlines()
    assert code == 0 and lines[:2] == ["Listing exchanges for vhost / ...", "name\ttype"]
    assert "logs\tfanout" in lines and "amq.topic\ttopic" in lines and "\tdirect" in lines
    code, out, _ = ctl("list_bindings")
    lines = out.splitlines()
    assert lines[:2] == [
        "Listing bindings for vhost /...",
        "source_name\tsource_kind\tdestination_name\tdestination_kind\trouting_key\targuments",
    ]
    # pika binds with the queue's name as routing key when none is given, as RabbitMQ shows
    assert f"logs\texchange\t{tutorials}\tqueue\t{tutorials}\t[]" in lines
    assert "\texchange\thello\tqueue\thello\t[]" in lines


def test_quiet_silent_and_json(ctl: Ctl, tutorials: str) -> None:
    code, out, _ = ctl("list_queues", "-q", "name")
    assert out.splitlines()[0] == "name"
    code, out, _ = ctl("-s", "list_queues", "name")
    assert "name" not in out.splitlines() and "hello" in out.splitlines()
    code, out, _ = ctl("list_queues", "name", "messages", "--formatter", "json")
    assert {"name": "hello", "messages": 1} in json.loads(out)
    code, out, err = ctl("list_queues", "nonsense")
    assert code == 64 and "Info key(s) nonsense are not supported" in err


def test_connections_channels_and_consumers(ctl: Ctl, tutorials: str) -> None:
    code, out, _ = ctl("list_connections")
    lines = out.splitlines()
    assert lines[:2] == ["Listing connections ...", "user\tpeer_host\tpeer_port\tstate"]
    assert lines[2].startswith("guest\t127.0.0.1\t") and lines[2].endswith("\trunning")
    code, out, _ = ctl("list_channels")
    assert out.splitlines()[1] == "pid\tuser\tconsumer_count\tmessages_unacknowledged"
    assert out.splitlines()[2].endswith("\tguest\t1\t1")
    code, out, _ = ctl("list_consumers")
    lines = out.splitlines()
    assert (
        lines[1]
        == "queue_name\tchannel_pid\tconsumer_tag\tack_required\tprefetch_count\tactive\targuments"
    )
    assert lines[2].startswith("task_queue\t") and "\ttrue\t1\ttrue\t[]" in lines[2]


def test_users_vhosts_and_permissions(ctl: Ctl, broker: Broker) -> None:
    assert ctl("add_user", "app", "s3cret")[:2] == (0, 'Adding user "app" ...\n')
    assert broker.authenticate("app", "s3cret")
    code, _, err = ctl("add_user", "app", "x")
    assert code == 70 and 'User "app" already exists' in err
    assert ctl("change_password", "app", "n3w")[0] == 0 and broker.authenticate("app", "n3w")
    assert ctl("set_user_tags", "app", "management", "monitoring")[1] == (
        'Setting tags for user "app" to [management, monitoring] ...\n'
    )
    assert broker.users["app"][1] == ("management", "monitoring") and broker.authenticate(
        "app", "n3w"
    )
    lines = ctl("list_users")[1].splitlines()
    assert lines[:2] == ["Listing users ...", "user\ttags"]
    assert "app\t[management, monitoring]" in lines and "guest\t[administrator]" in lines
    assert ctl("add_vhost", "staging")[0] == 0 and "staging" in broker.vhosts
    assert ctl("list_vhosts")[1].splitlines() == ["Listing vhosts ...", "name", "/", "staging"]
    assert ctl("set_permissions", "-p", "staging", "app", "^app-.*", ".*", ".*")[0] == 0
    lines = ctl("list_permissions", "-p", "staging")[1].splitlines()
    assert lines[0] == 'Listing permissions for vhost "staging" ...'
    assert "app\t^app-.*\t.*\t.*" in lines  # spec 15.4
    assert ctl("delete_vhost", "staging")[0] == 0 and "staging" not in broker.vhosts
    assert ctl("delete_user", "app")[0] == 0 and "app" not in broker.users
    code, _, err = ctl("delete_user", "app")
    assert code == 70 and 'User "app" does not exist' in err


def test_bad_input_is_an_error_not_a_traceback(ctl: Ctl) -> None:
    # rabbitmqctl-style errors, non-zero exits
    code, _, err = ctl("clear_policy", "ttl")
    assert code == 70 and "Parameter does not exist" in err
    code, _, err = ctl("set_policy", "ttl", ".*", "{nope")
    assert code == 65 and "Could not parse JSON document" in err
    code, _, err = ctl("set_policy", "ttl", ".*", '{"max-length": -1}')
    assert code == 70 and err.startswith("Error:\n") and "Traceback" not in err
    assert "-1 is not a valid maximum length" in err  # spec 14.7


def test_queue_actions_and_close_connection(ctl: Ctl, broker: Broker, served: ServeURL) -> None:
    channel = broker.connect().channel()
    channel.queue_declare("jobs")
    channel.basic_publish("", "jobs", b"x")
    assert ctl("purge_queue", "jobs")[1] == "Purging queue 'jobs' in vhost '/' ...\n"
    assert broker.queues["jobs"].messages == 0
    channel.basic_publish("", "jobs", b"x")
    code, out, _ = ctl("delete_queue", "jobs")
    assert out.splitlines() == [
        "Deleting queue 'jobs' on vhost '/' ...",
        "Queue was successfully deleted with 1 message",
    ]
    code, _, err = ctl("delete_queue", "jobs")
    assert code == 70 and "Queue 'jobs' in vhost '/' does not exist" in err
    connection = pika.BlockingConnection(pika.URLParameters(served))
    names = ctl("list_connections", "-q", "--no-table-headers", "name")[1].splitlines()
    (name,) = [n for n in names if " -> " in n]  # the wire one, not the in-process one
    assert ctl("close_connection", name, "go away")[0] == 0
    with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as info:
        connection.process_data_events(time_limit=2)
        connection.process_data_events(time_limit=2)
    assert info.value.reply_text == "CONNECTION_FORCED - go away"


def test_export_and_import_definitions(ctl: Ctl, broker: Broker, tmp_path: Path) -> None:
    channel = broker.connect().channel()
    channel.queue_declare("audit", durable=True)
    path = tmp_path / "defs.json"
    assert ctl("export_definitions", str(path))[0] == 0
    assert [q["name"] for q in json.loads(path.read_text())["queues"]] == ["audit"]
    code, out, _ = ctl("export_definitions", "-")
    assert json.loads(out)["rabbitmq_definition_format"] == "cluster"
    channel.queue_delete("audit")
    code, out, _ = ctl("import_definitions", str(path))
    assert code == 0 and "Successfully started definition import" in out
    assert broker.queues["audit"].durable


def test_status(ctl: Ctl) -> None:
    code, out, _ = ctl("status")
    assert code == 0 and out.startswith("Status of node rabbit@")
    assert "Product name: amqpmodel" in out and "protocol: amqp" in out


def test_an_unreachable_server_is_exit_69(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ctl", "--management-url", "http://guest:guest@127.0.0.1:1", "list_queues"])
    assert code == 69
    assert capsys.readouterr().err.startswith("Error:\nunable to perform an operation on node")


def test_ctl_from_the_command_line(served: ServeURL) -> None:
    # the console entry, as a user runs it (no aiohttp needed on this side: urllib)
    broker_url = served.management_url
    assert broker_url is not None
    url = broker_url.replace("http://", "http://guest:guest@")
    result = subprocess.run(
        [sys.executable, "-m", "amqpmodel", "ctl", "--management-url", url, "list_vhosts"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["Listing vhosts ...", "name", "/"]


def test_serve_prints_its_http_ports_and_ctl_reaches_them() -> None:
    # `amqpmodel serve --management-port 0` picks a free port and prints it
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "amqpmodel",
            "serve",
            "--port",
            "0",
            "--management-port",
            "0",
            "--prometheus-port",
            "0",
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("amqpmodel listening on amqp://127.0.0.1:"), first
        management = process.stdout.readline()
        assert management.startswith("amqpmodel management API on http://127.0.0.1:"), management
        metrics = process.stdout.readline()
        assert metrics.startswith("amqpmodel Prometheus metrics on http://127.0.0.1:"), metrics
        url = management.split()[4].removesuffix("/api/")
        result = subprocess.run(
            [sys.executable, "-m", "amqpmodel", "ctl", "--management-url", url, "list_queues"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (result.returncode, result.stdout) == (
            0,
            "Listing queues for vhost / ...\nname\tmessages\n",
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_without_aiohttp_serves_amqp_only_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse
    import importlib.util

    from amqpmodel.management import _cli_options

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "aiohttp" else real(name, *a)
    )
    args = argparse.Namespace(
        no_management=False, management_port=None, prometheus_port=None, host="127.0.0.1"
    )
    assert _cli_options.http_ports(args) == (None, None)
    err = capsys.readouterr().err
    assert "pip install 'amqpmodel[management]'" in err and err.count("\n") == 1


def test_an_explicit_management_port_that_is_taken_is_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse
    import socket

    from amqpmodel.management import _cli_options

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        given = argparse.Namespace(
            no_management=False, management_port=port, prometheus_port=0, host="127.0.0.1"
        )
        assert _cli_options.http_ports(given) is None
        assert (
            f"cannot listen on 127.0.0.1:{port} for the management API" in capsys.readouterr().err
        )
