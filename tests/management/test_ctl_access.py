"""``amqpmodel ctl`` on permissions, policies, parameters, limits, definitions and shovels:
rabbitmqctl's commands, lines and columns (as RabbitMQ 3.10's rabbitmqctl prints them
on this machine), end to end through the management API to the broker."""

from __future__ import annotations

import json
import time
from pathlib import Path

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

    def lines(self, *args: str) -> list[str]:
        code, out, err = self(*args)
        assert code == 0, err
        return out.splitlines()


@pytest.fixture
def ctl(served: ServeURL, capsys: pytest.CaptureFixture[str]) -> Ctl:
    assert served.management_url is not None
    return Ctl(served.management_url, capsys)


def test_permissions_spec_15_4(ctl: Ctl, broker: Broker) -> None:
    broker.add_user("app", "pw")
    broker.add_vhost("staging", grant_default_user=False)
    assert ctl.lines("set_permissions", "-p", "staging", "app", "^app-", ".*", "") == [
        'Setting permissions for user "app" in vhost "staging" ...'
    ]
    assert broker.list_user_permissions("app") == [
        {"user": "app", "vhost": "staging", "configure": "^app-", "write": ".*", "read": ""}
    ]
    assert ctl.lines("list_permissions", "-p", "staging") == [
        'Listing permissions for vhost "staging" ...',
        "user\tconfigure\twrite\tread",
        "app\t^app-\t.*\t",
    ]
    assert ctl.lines("list_user_permissions", "app") == [
        'Listing permissions for user "app" ...',
        "vhost\tconfigure\twrite\tread",
        "staging\t^app-\t.*\t",
    ]
    assert ctl.lines("clear_permissions", "-p", "staging", "app") == [
        'Clearing permissions for user "app" in vhost "staging" ...'
    ]
    assert broker.list_user_permissions("app") == []
    assert ctl("clear_permissions", "-p", "staging", "app")[0] == 0  # nothing to clear: fine
    code, _, err = ctl("set_permissions", "nobody", ".*", ".*", ".*")
    assert code == 70 and "User nobody does not exist" in err


def test_topic_permissions_spec_15_11(ctl: Ctl, broker: Broker) -> None:
    assert ctl.lines("set_topic_permissions", "guest", "amq.topic", "^a", ".*") == [
        'Setting topic permissions on "amq.topic" for user "guest" in vhost "/" ...'
    ]
    assert ctl.lines("list_topic_permissions") == [
        'Listing topic permissions for vhost "/" ...',
        "user\texchange\twrite\tread",
        "guest\tamq.topic\t^a\t.*",
    ]
    assert ctl.lines("list_user_topic_permissions", "guest")[2] == "/\tamq.topic\t^a\t.*"
    assert ctl.lines("clear_topic_permissions", "guest", "amq.topic") == [
        'Clearing topic permissions on "amq.topic" for user "guest" in vhost "/" ...'
    ]
    assert broker.list_topic_permissions() == []


def test_policies_and_operator_policies_spec_14(ctl: Ctl, broker: Broker) -> None:
    assert ctl.lines(
        "set_policy", "--priority", "1", "--apply-to", "queues", "ttl", "^q", '{"message-ttl":5}'
    ) == [
        'Setting policy "ttl" for pattern "^q" to "{"message-ttl":5}" with priority "1" '
        'for vhost "/" ...'
    ]
    assert broker.list_policies()[0]["definition"] == {"message-ttl": 5}
    assert ctl.lines("list_policies") == [
        'Listing policies for vhost "/" ...',
        "vhost\tname\tpattern\tapply-to\tdefinition\tpriority",
        '/\tttl\t^q\tqueues\t{"message-ttl":5}\t1',
    ]
    assert ctl.lines("set_operator_policy", "cap", ".*", '{"max-length": 9}')[0] == (
        'Setting operator policy override "cap" for pattern ".*" to "{"max-length": 9}" '
        'with priority "0" for vhost "/" ...'
    )
    assert ctl.lines("list_operator_policies") == [
        'Listing operator policy overrides for vhost "/" ...',
        "vhost\tname\tpattern\tapply-to\tdefinition\tpriority",
        '/\tcap\t.*\tall\t{"max-length":9}\t0',
    ]
    assert ctl.lines("clear_operator_policy", "cap") == ['Clearing operator policy "cap" on vhost "/" ...']
    assert ctl.lines("clear_policy", "ttl") == ['Clearing policy "ttl" on vhost "/" ...']
    assert broker.list_policies() == broker.list_operator_policies() == []
    code, _, err = ctl("set_operator_policy", "bad", ".*", '{"dead-letter-exchange": "x"}')
    assert code == 70 and "are not recognised policy settings" in err  # spec 14.9


def test_user_limits(ctl: Ctl, broker: Broker) -> None:
    # spec 15.15, with rabbitmqctl's banners
    assert ctl.lines("set_user_limits", "guest", '{"max-connections": 5, "max-channels": 9}') == [
        'Setting user limits to "{"max-connections": 5, "max-channels": 9}" for user "guest" ...'
    ]
    assert broker.user_limits() == {"guest": {"max-connections": 5, "max-channels": 9}}
    assert ctl.lines("list_user_limits") == [
        'Listing limits for user "guest" ...',
        '{"max-connections":5,"max-channels":9}',
    ]
    assert ctl.lines("list_user_limits", "--global") == [
        "Listing limits for all users ...",
        "user\tlimits",
        'guest\t{"max-connections":5,"max-channels":9}',
    ]
    assert ctl.lines("clear_user_limits", "guest", "max-channels") == [
        'Clearing "max-channels" limit for user "guest" ...'
    ]
    assert broker.user_limits() == {"guest": {"max-connections": 5}}
    assert ctl.lines("clear_user_limits", "guest", "all") == [
        'Clearing all limits for user "guest" ...'
    ]
    assert broker.user_limits() == {}


def test_parameters_global_parameters_and_limits(ctl: Ctl, broker: Broker) -> None:
    assert ctl.lines("set_vhost_limits", '{"max-queues": 20}') == [
        'Setting vhost limits to "{"max-queues": 20}" for vhost "/" ...'
    ]
    assert broker.vhost_limits("/") == {"max-queues": 20}
    assert ctl.lines("list_vhost_limits") == ['Listing limits for vhost "/" ...', '{"max-queues":20}']
    assert ctl.lines("list_vhost_limits", "--global") == [
        "Listing limits for all vhosts ...",
        "vhost\tlimits",
        '/\t{"max-queues":20}',
    ]
    assert ctl.lines("list_parameters") == [
        'Listing runtime parameters for vhost "/" ...',
        "component\tname\tvalue",
        'vhost-limits\tlimits\t{"max-queues":20}',
    ]
    assert ctl.lines("clear_vhost_limits") == ['Clearing vhost "/" limits ...']
    assert broker.vhost_limits("/") == {}
    code, _, err = ctl("set_parameter", "nope", "n", "{}")
    assert code == 70 and "component nope not found" in err
    code, _, err = ctl("clear_parameter", "nope", "n")
    assert code == 70 and "Parameter does not exist" in err
    assert ctl.lines("set_global_parameter", "cluster_name", '"prod-1"') == [
        'Setting global runtime parameter "cluster_name" to ""prod-1"" ...'
    ]
    assert ctl.lines("list_global_parameters") == [
        "Listing global runtime parameters ...",
        "name\tvalue",
        'cluster_name\t"prod-1"',
    ]
    assert ctl.lines("clear_global_parameter", "cluster_name") == [
        'Clearing global runtime parameter "cluster_name" ...'
    ]


def test_a_shovel_set_as_a_parameter_shows_in_shovel_status_spec_20(
    ctl: Ctl, broker: Broker
) -> None:
    broker.connect().channel().queue_declare("in", durable=True)
    value = '{"src-uri": "amqp://", "src-queue": "in", "dest-uri": "amqp://", "dest-queue": "out"}'
    assert ctl("set_parameter", "shovel", "move", value)[0] == 0
    deadline = time.monotonic() + 20
    while True:
        lines = ctl.lines("shovel_status")
        if len(lines) == 3 and lines[2].split("\t")[3] == "running":
            break
        assert time.monotonic() < deadline, lines
        time.sleep(0.05)
    assert lines[0].startswith("Shovel status on node rabbit@")
    assert lines[1] == "name\tvhost\ttype\tstate\tsrc_uri\tdest_uri\ttimestamp"
    assert lines[2].startswith("move\t/\tdynamic\trunning\tamqp://\tamqp://\t")
    (restarting,) = ctl.lines("restart_shovel", "move")
    assert restarting.startswith("Restarting dynamic Shovel move in virtual host / on node rabbit@")
    code, _, err = ctl("restart_shovel", "nope")
    assert code == 70 and "Shovel with the given name was not found" in err
    assert ctl.lines("clear_parameter", "shovel", "move") == [
        'Clearing runtime parameter "move" for component "shovel" on vhost "/" ...'
    ]
    assert ctl.lines("shovel_status", "-q") == ["name\tvhost\ttype\tstate\tsrc_uri\tdest_uri\ttimestamp"]


def test_user_tags_passwords_and_a_definitions_round_trip(
    ctl: Ctl, broker: Broker, tmp_path: Path
) -> None:
    assert ctl("add_user", "app", "one")[0] == 0
    assert ctl("set_user_tags", "app", "policymaker")[0] == 0
    assert ctl("change_password", "app", "two")[0] == 0
    assert broker.authenticate("app", "two") and broker.users["app"][1] == ("policymaker",)
    ctl("set_permissions", "app", "^app", ".*", ".*")
    ctl("set_policy", "ttl", "^q$", '{"message-ttl": 5}')
    path = tmp_path / "defs.json"
    assert ctl("export_definitions", str(path))[0] == 0
    document = json.loads(path.read_text())
    broker.clear_policy("ttl")
    broker.delete_user("app")
    assert ctl("import_definitions", str(path))[0] == 0
    assert broker.authenticate("app", "two")
    assert broker.list_user_permissions("app")[0]["configure"] == "^app"
    assert [p["name"] for p in broker.list_policies()] == ["ttl"]
    assert document["policies"][0]["definition"] == {"message-ttl": 5}
