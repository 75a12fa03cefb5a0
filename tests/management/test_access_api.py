"""The management API on the broker's policies, permissions, limits, users, parameters,
shovels and definitions (spec 18.2, 18.3, 18.8, 14, 15, 16): what it sets is what AMQP
clients are checked against, and who may call what."""

from __future__ import annotations

import time

import pika
import pika.exceptions
import pytest
from _mgmt_helpers import Api

from amqpmodel import Broker, NotAllowed
from amqpmodel._passwords import hash_password
from amqpmodel.server import ServeURL

pytestmark = pytest.mark.timeout(60)

FULL = {"configure": ".*", "write": ".*", "read": ".*"}


def user(api: Api, broker: Broker, name: str, *tags: str) -> Api:
    broker.add_user(name, "pw", tags=tags)
    return api.as_user(name, "pw")


# ----------------------------------------------------------------- who may see a vhost (18.2, 18.3)


def test_a_vhost_the_user_cannot_use_is_refused_spec_18_2(api: Api, broker: Broker) -> None:
    broker.add_vhost("private", grant_default_user=False)
    broker.connect("/").channel().queue_declare("shared")
    viewer = user(api, broker, "viewer", "management")
    # spec 18.2: 404 (RabbitMQ 3.10 answers 401 "User not authorised to access virtual host")
    refused = {"error": "not_found", "reason": "Not Found"}
    for path in ("/api/queues/private", "/api/exchanges/private", "/api/bindings/private",
                 "/api/policies/private", "/api/exchanges/private/amq.direct"):
        assert viewer.get(path)[:2] == (404, refused), path
    assert viewer.get("/api/queues/nowhere")[0] == 404  # missing: the handler's 404
    # listings show only the vhosts the user has permissions on
    assert viewer.get("/api/queues")[1] == [] and viewer.get("/api/vhosts")[1] == []
    broker.set_permissions("viewer", ".*", ".*", ".*", vhost="/")
    assert [q["name"] for q in viewer.get("/api/queues")[1]] == ["shared"]
    assert [v["name"] for v in viewer.get("/api/vhosts")[1]] == ["/"]
    # administrators read every vhost; monitoring users list every vhost
    admin = user(api, broker, "root", "administrator")
    assert admin.get("/api/queues/private")[0] == 200
    watcher = user(api, broker, "watcher", "monitoring")
    assert [v["name"] for v in watcher.get("/api/vhosts")[1]] == ["/", "private"]
    assert watcher.get("/api/queues")[1] == []


def test_an_administrator_without_permissions_cannot_act_in_the_vhost(
    api: Api, broker: Broker
) -> None:
    # actions run as an AMQP client of the caller: no permission entry, 530 (spec 15.9, 18.4)
    broker.add_vhost("private", grant_default_user=False)
    admin = user(api, broker, "root", "administrator")
    assert admin.put("/api/queues/private/q", {})[1] == {
        "error": "not_authorised",
        "reason": "Access refused.",
    }


def test_policies_need_policymaker_and_the_vhost_spec_18_3(api: Api, broker: Broker) -> None:
    body = {"pattern": ".*", "definition": {"max-length": 1}}
    viewer = user(api, broker, "viewer", "management")
    broker.set_permissions("viewer", ".*", ".*", ".*")
    object_refused = {"error": "not_authorised", "reason": "User not authorised to access object"}
    assert viewer.put("/api/policies/%2F/p", body)[:2] == (401, object_refused)
    maker = user(api, broker, "maker", "policymaker")
    assert maker.put("/api/policies/%2F/p", body)[:2] == (401, object_refused)  # no access to "/"
    broker.set_permissions("maker", ".*", ".*", ".*")
    assert maker.put("/api/policies/%2F/p", body)[0] == 201
    assert maker.get("/api/parameters")[0] == 200
    assert viewer.get("/api/parameters")[:2] == (401, object_refused)
    status, answer, _ = maker.put("/api/operator-policies/%2F/op", body)
    assert (status, answer["reason"]) == (401, "Not administrator user")  # spec 14.9


# ----------------------------------------------------------------- policies (14, 18.8)


def test_policies_set_list_and_clear_spec_14_1(api: Api, broker: Broker) -> None:
    body = {"pattern": "^jobs$", "definition": {"max-length": 2}, "priority": 3, "apply-to": "queues"}
    assert api.put("/api/policies/%2F/cap", body)[0] == 201
    assert api.put("/api/policies/%2F/cap", body)[0] == 204
    expected = {"vhost": "/", "name": "cap", "pattern": "^jobs$", "apply-to": "queues",
                "definition": {"max-length": 2}, "priority": 3}
    assert api.get("/api/policies")[1] == [expected]
    assert api.get("/api/policies/%2F/cap")[1] == expected
    assert broker.list_policies() == [expected]
    assert api.delete("/api/policies/%2F/cap")[0] == 204
    assert api.delete("/api/policies/%2F/cap")[0] == 404
    assert api.get("/api/policies/%2F/cap")[0] == 404


def test_a_refused_policy_is_400_with_rabbitmqs_text_spec_14_8(api: Api) -> None:
    status, answer, _ = api.put(
        "/api/policies/%2F/p", {"pattern": ".*", "definition": {"max-length": -1}}
    )
    assert (status, answer) == (
        400,
        {"error": "bad_request", "reason": "Validation failed\n\n-1 is not a valid maximum length\n"},
    )
    status, answer, _ = api.put("/api/policies/%2F/p", {"pattern": ".*"})
    assert (status, answer["reason"]) == (400, "[{key_missing,definition}]")  # spec 18.4


def test_queue_and_exchange_objects_show_their_policies_spec_14_19(
    api: Api, broker: Broker
) -> None:
    ch = broker.connect().channel()
    ch.queue_declare("jobs")
    ch.queue_declare("plain")
    ch.exchange_declare("orders")
    api.put("/api/policies/%2F/ttl", {"pattern": "^jobs$", "definition": {"message-ttl": 900,
                                                                          "max-length": 10}})
    api.put("/api/operator-policies/%2F/cap", {"pattern": ".*", "definition": {"max-length": 5},
                                                "apply-to": "queues"})
    api.put("/api/policies/%2F/ae", {"pattern": "^orders$", "apply-to": "exchanges",
                                     "definition": {"alternate-exchange": "spill"}})
    jobs = api.get("/api/queues/%2F/jobs")[1]
    assert (jobs["policy"], jobs["operator_policy"]) == ("ttl", "cap")
    assert jobs["effective_policy_definition"] == {"message-ttl": 900, "max-length": 5}
    plain = api.get("/api/queues/%2F/plain")[1]
    assert (plain["policy"], plain["operator_policy"]) == (None, "cap")
    orders = api.get("/api/exchanges/%2F/orders")[1]
    assert orders["policy"] == "ae"
    assert orders["effective_policy_definition"] == {"alternate-exchange": "spill"}
    assert "policy" not in api.get("/api/exchanges/%2F/amq.direct")[1]  # none applies
    assert api.get("/api/queues/%2F?columns=name,policy")[1] == [
        {"name": "jobs", "policy": "ttl"},
        {"name": "plain", "policy": None},
    ]


def test_operator_policies_are_parameters_too_spec_16_4(api: Api, broker: Broker) -> None:
    api.put("/api/operator-policies/%2F/cap", {"pattern": ".*", "definition": {"max-length": 5}})
    api.put("/api/vhost-limits/%2F/max-queues", {"value": 10})
    assert api.get("/api/parameters")[1] == [
        {"vhost": "/", "component": "operator_policy", "name": "cap",
         "value": {"pattern": ".*", "definition": {"max-length": 5}, "priority": 0,
                   "apply-to": "all"}},
        {"vhost": "/", "component": "vhost-limits", "name": "limits",
         "value": {"max-queues": 10}},
    ]
    assert api.delete("/api/parameters/operator_policy/%2F/cap")[0] == 204
    assert broker.list_operator_policies() == []


# ----------------------------------------------------------------- permissions (15.4, 15.11)


def test_permissions_set_what_amqp_clients_are_checked_against_spec_15_4(
    api: Api, broker: Broker, served: ServeURL
) -> None:
    api.put("/api/users/app", {"password": "pw", "tags": ""})
    assert api.put("/api/permissions/%2F/app", {"configure": "^app-", "write": ".*",
                                                 "read": ".*"})[0] == 201
    assert api.get("/api/permissions/%2F/app")[1] == {
        "user": "app", "vhost": "/", "configure": "^app-", "write": ".*", "read": ".*"}
    assert {p["user"] for p in api.get("/api/vhosts/%2F/permissions")[1]} == {"app", "guest"}
    assert [u["name"] for u in api.get("/api/users/without-permissions")[1]] == []
    connection = pika.BlockingConnection(
        pika.URLParameters(served.replace("guest:guest", "app:pw"))
    )
    channel = connection.channel()
    channel.queue_declare("app-jobs")
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
        channel.queue_declare("other")
    assert info.value.reply_code == 403
    connection.close()
    assert api.delete("/api/permissions/%2F/app")[0] == 204
    assert api.delete("/api/permissions/%2F/app")[0] == 404
    assert [u["name"] for u in api.get("/api/users/without-permissions")[1]] == ["app"]
    with pytest.raises(NotAllowed):  # spec 15.9: no entry, no vhost
        broker.connect("/", user="app")
    status, answer, _ = api.put("/api/permissions/%2F/app", {"configure": ".*"})
    assert (status, answer["reason"]) == (400, "[{key_missing,write},{key_missing,read}]")


def test_topic_permissions_spec_15_11(api: Api, broker: Broker) -> None:
    body = {"exchange": "amq.topic", "write": "^app\\.", "read": ".*"}
    assert api.put("/api/topic-permissions/%2F/guest", body)[0] == 201
    assert api.put("/api/topic-permissions/%2F/guest", body)[0] == 204
    entry = {"user": "guest", "vhost": "/", **body}
    assert api.get("/api/topic-permissions")[1] == [entry]
    assert api.get("/api/topic-permissions/%2F/guest")[1] == [entry]
    assert api.get("/api/users/guest/topic-permissions")[1] == [entry]
    publish = {"properties": {}, "routing_key": "other.x", "payload": "x",
               "payload_encoding": "string"}
    assert api.post("/api/exchanges/%2F/amq.topic/publish", publish)[0] == 401  # 403 on AMQP
    assert api.delete("/api/topic-permissions/%2F/guest/amq.topic")[0] == 204
    assert api.get("/api/topic-permissions/%2F/guest")[0] == 404
    assert api.post("/api/exchanges/%2F/amq.topic/publish", publish)[1] == {"routed": False}


# ----------------------------------------------------------------- limits, users, vhosts


def test_vhost_limits_spec_15_14(api: Api, broker: Broker) -> None:
    assert api.put("/api/vhost-limits/%2F/max-queues", {"value": 1})[0] == 204
    assert api.get("/api/vhost-limits")[1] == [{"vhost": "/", "value": {"max-queues": 1}}]
    assert broker.vhost_limits("/") == {"max-queues": 1}
    assert api.put("/api/queues/%2F/one", {})[0] == 201
    assert api.put("/api/queues/%2F/two", {})[1] == {
        "error": "bad_request",
        "reason": "cannot declare queue 'two': queue limit in vhost '/' (1) is reached",
    }
    status, answer, _ = api.put("/api/vhost-limits/%2F/max-queues", {"value": "many"})
    assert (status, answer["reason"]) == (
        400, 'Validation failed\n\n<<"many">> is not a valid value for max-queues\n')
    assert api.delete("/api/vhost-limits/%2F/max-queues")[0] == 204
    assert api.delete("/api/vhost-limits/%2F/max-queues")[0] == 404
    assert api.get("/api/vhost-limits/%2F")[1] == [] and broker.vhost_limits("/") == {}


def test_users_with_hashes_of_each_scheme_and_rabbitmqs_refusals_spec_15_2(
    api: Api, broker: Broker
) -> None:
    long_hash = hash_password("pw5", algorithm="rabbit_password_hashing_sha512")
    body = {"password_hash": long_hash, "hashing_algorithm": "rabbit_password_hashing_sha512",
            "tags": "management"}
    assert api.put("/api/users/long", body)[0] == 201
    assert broker.authenticate("long", "pw5")
    assert api.get("/api/users/long")[1]["hashing_algorithm"] == "rabbit_password_hashing_sha512"
    assert api.as_user("long", "pw5").get("/api/whoami")[0] == 200
    assert api.put("/api/users/notags", {"password": "x"})[1] == {
        "error": "bad_request", "reason": "tags_not_present"}  # spec 16.10
    both = {"password": "x", "password_hash": long_hash, "tags": ""}
    assert api.put("/api/users/both", both)[1]["reason"] == (
        "both_password_and_password_hash_are_provided"
    )
    assert api.put("/api/users/long", {"tags": "monitoring"})[0] == 204  # only the tags
    assert broker.authenticate("long", "pw5") and broker.users["long"][1] == ("monitoring",)


def test_a_vhost_put_sets_its_metadata_default_type_and_tracing(
    api: Api, broker: Broker
) -> None:
    admin = user(api, broker, "root", "administrator")
    body = {"description": "jobs", "tags": "eu,prod", "default_queue_type": "quorum",
            "tracing": True}
    assert admin.put("/api/vhosts/work", body)[0] == 201
    # its creator, not guest, gets full permissions on it (as RabbitMQ's API gives them)
    assert [p["user"] for p in broker.list_permissions("work")] == ["root"]
    assert broker.vhost("work").tracing  # spec 17.1
    shown = admin.get("/api/vhosts/work")[1]
    assert (shown["description"], shown["tags"], shown["default_queue_type"], shown["tracing"]) == (
        "jobs", ["eu", "prod"], "quorum", True)
    assert admin.put("/api/queues/work/q", {"durable": True})[0] == 201
    assert broker.vhost("work").queues["q"].queue_type == "quorum"  # spec 11.3
    assert admin.put("/api/vhosts/work", {"tracing": False})[0] == 204
    assert not broker.vhost("work").tracing
    status, answer, _ = admin.put("/api/vhosts/odd", {"default_queue_type": "fifo"})
    assert status == 400 and "odd" not in broker.vhosts
    assert api.get("/api/vhosts/work")[0] == 200  # guest is an administrator too


# ----------------------------------------------------------------- parameters, shovels (16.4, 20)


def test_runtime_parameters_and_shovels_spec_20_1_20_8(api: Api, broker: Broker) -> None:
    status, answer, _ = api.put("/api/parameters/nope/%2F/x", {"value": {}})
    assert (status, answer["reason"]) == (400, "Validation failed\n\ncomponent nope not found\n")
    broker.connect().channel().queue_declare("in", durable=True)
    value = {"src-uri": "amqp://", "src-queue": "in", "dest-uri": "amqp://", "dest-queue": "out"}
    assert api.put("/api/parameters/shovel/%2F/move", {"value": value})[0] == 201
    assert api.get("/api/parameters/shovel")[1] == [
        {"vhost": "/", "component": "shovel", "name": "move", "value": value}]
    assert api.get("/api/parameters/shovel/%2F/move")[1]["value"] == value
    deadline = time.monotonic() + 20
    while not (rows := api.get("/api/shovels")[1]) or rows[0]["state"] != "running":
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
    assert (rows[0]["name"], rows[0]["vhost"], rows[0]["type"]) == ("move", "/", "dynamic")
    assert api.get("/api/shovels/vhost/%2F/move")[1][0]["name"] == "move"
    assert api.get("/api/shovels/%2F")[1][0]["name"] == "move"
    broker.connect().channel().basic_publish("", "in", b"moved")
    while "out" not in broker.queues or broker.queues["out"].messages_ready == 0:
        assert time.monotonic() < deadline, "the shovel did not move the message"
        time.sleep(0.02)
    assert api.delete("/api/parameters/shovel/%2F/move")[0] == 204
    assert api.delete("/api/parameters/shovel/%2F/move")[0] == 404
    assert api.get("/api/shovels")[1] == []


def test_global_parameters_and_the_cluster_name(api: Api) -> None:
    assert api.put("/api/global-parameters/cluster_name", {"value": "prod-1"})[0] == 201
    assert api.get("/api/global-parameters")[1] == [{"name": "cluster_name", "value": "prod-1"}]
    assert api.get("/api/cluster-name")[1] == {"name": "prod-1"}
    assert api.get("/api/overview")[1]["cluster_name"] == "prod-1"
    assert api.delete("/api/global-parameters/cluster_name")[0] == 204
    assert api.delete("/api/global-parameters/cluster_name")[0] == 404
    assert api.get("/api/cluster-name")[1]["name"].startswith("rabbit@")
    assert api.put("/api/cluster-name", {"name": "prod-2"})[0] == 204
    assert api.get("/api/global-parameters/cluster_name")[1] == {
        "name": "cluster_name", "value": "prod-2"}
    assert api.put("/api/cluster-name", {})[1]["reason"] == "[{key_missing,name}]"


# ----------------------------------------------------------------- definitions (16)


def test_definitions_carry_everything_and_import_with_rabbitmqs_errors_spec_16(
    api: Api, broker: Broker
) -> None:
    api.put("/api/policies/%2F/ttl", {"pattern": "^q$", "definition": {"message-ttl": 5}})
    api.put("/api/users/app", {"password": "pw", "tags": "management"})
    api.put("/api/permissions/%2F/app", {"configure": "", "write": ".*", "read": ".*"})
    document = api.get("/api/definitions")[1]
    assert (document["product_name"], document["rabbitmq_definition_format"]) == (
        "amqpmodel", "cluster")
    assert document["explanation"].startswith("Definitions of cluster 'rabbit@")
    assert [p["name"] for p in document["policies"]] == ["ttl"]
    assert {"user": "app", "vhost": "/", "configure": "", "write": ".*", "read": ".*"} in (
        document["permissions"])
    # into a second broker's API: the same document back
    copy = Broker(default_user=None)
    copy.import_definitions(document)
    assert copy.export_definitions()["permissions"] == broker.export_definitions()["permissions"]
    status, answer, _ = api.post("/api/definitions", {"users": [{"name": "x", "password": "p"}]})
    assert (status, answer) == (400, {"error": "bad_request", "reason": "tags_not_present"})
    single = api.get("/api/definitions/%2F")[1]
    assert single["explanation"] == "Definitions of virtual host '/'"
    api.put("/api/vhosts/copy", {})
    assert api.post("/api/definitions/copy", single)[0] == 204
    assert broker.vhost("copy").policies["ttl"].definition == {"message-ttl": 5}


def test_ctl_trace_on_and_off_reach_the_tracer_spec_17_1(
    served: ServeURL, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    from amqpmodel._cli import main

    url = served.management_url
    assert url is not None
    assert main(["ctl", "--management-url", url, "trace_on"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        'Starting tracing for vhost "/" ...',
        "Trace enabled for vhost /",
    ]
    assert broker.vhost("/").tracing
    ch = broker.connect().channel()
    ch.queue_declare("traces")
    ch.queue_bind("traces", "amq.rabbitmq.trace", "publish.#")
    ch.basic_publish("", "nowhere", b"seen")
    assert [m.body for m in broker.queues["traces"].peek()] == [b"seen"]
    assert main(["ctl", "--management-url", url, "trace_off"]) == 0
    assert not broker.vhost("/").tracing
