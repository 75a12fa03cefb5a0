"""The management HTTP API against spec 18: authentication, error bodies, status
codes, list parameters, and the objects' shapes, with real pika clients on the
same broker."""

from __future__ import annotations

import base64
from typing import Any

import pika
import pytest
from _mgmt_helpers import Api

from amqpmodel import Broker

pytestmark = pytest.mark.timeout(60)


# ----------------------------------------------------------------- authentication


def test_bad_credentials_are_401_not_authorized(api: Api) -> None:
    # spec 18.2
    status, body, headers = api.as_user("guest", "wrong").get("/api/overview")
    assert status == 401
    assert body == {"error": "not_authorized", "reason": "Not_Authorized"}
    assert headers["WWW-Authenticate"].startswith("Basic")
    status, body, _ = api.get("/api/overview", auth=False)
    assert (status, body["error"]) == (401, "not_authorized")
    status, body, _ = api.as_user("nobody", "x").get("/api/overview")
    assert status == 401


def test_a_user_without_a_management_tag_is_refused(api: Api, broker: Broker) -> None:
    # spec 18.1, 18.2
    broker.add_user("app", "secret", tags=())
    status, body, _ = api.as_user("app", "secret").get("/api/overview")
    assert (status, body) == (401, {"error": "not_authorised", "reason": "Not management user"})


def test_administrator_and_monitoring_endpoints_check_their_tag(api: Api, broker: Broker) -> None:
    # spec 18.3: users and definitions need administrator, nodes need monitoring
    broker.add_user("viewer", "secret", tags=("management",))
    viewer = api.as_user("viewer", "secret")
    assert viewer.get("/api/overview")[0] == 200
    assert viewer.get("/api/whoami")[1] == {
        "name": "viewer",
        "tags": ["management"],
        "is_internal_user": True,
    }
    status, body, _ = viewer.get("/api/users")
    assert (status, body["reason"]) == (401, "Not administrator user")
    status, body, _ = viewer.get("/api/nodes")
    assert (status, body["reason"]) == (401, "Not monitor user")
    broker.add_user("watcher", "secret", tags=("monitoring",))
    assert api.as_user("watcher", "secret").get("/api/nodes")[0] == 200


def test_management_users_see_only_their_own_connections(
    api: Api, broker: Broker, served: str, pika_channel: Any
) -> None:
    # spec 18.3: own connections and channels; monitoring sees all
    broker.add_user("viewer", "secret", tags=("management",))
    assert api.as_user("viewer", "secret").get("/api/connections")[1] == []
    assert len(api.get("/api/connections")[1]) == 1


# ----------------------------------------------------------------- errors and codes


def test_missing_objects_are_404_object_not_found(api: Api) -> None:
    # spec 18.5
    for path in (
        "/api/queues/%2F/nope",
        "/api/exchanges/%2F/nope",
        "/api/vhosts/nope",
        "/api/users/nope",
        "/api/queues/nope",
        "/api/no/such/endpoint",
    ):
        status, body, _ = api.get(path)
        assert (status, body) == (404, {"error": "Object Not Found", "reason": "Not Found"}), path
    status, body, _ = api.delete("/api/queues/%2F/nope")
    assert (status, body["error"]) == (404, "Object Not Found")


def test_publish_and_get_on_missing_targets_name_what_is_missing(api: Api) -> None:
    # spec 18.5
    message = {"properties": {}, "routing_key": "k", "payload": "x", "payload_encoding": "string"}
    assert api.post("/api/exchanges/%2F/nope/publish", message)[1] == {
        "error": "not_found",
        "reason": "exchange_not_found",
    }
    assert (
        api.post("/api/exchanges/nope/amq.direct/publish", message)[1]["reason"]
        == "vhost_not_found"
    )
    get = {"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto"}
    assert api.post("/api/queues/%2F/nope/get", get)[1] == {
        "error": "not_found",
        "reason": "queue_not_found",
    }


def test_put_creates_with_201_and_updates_with_204(api: Api, broker: Broker) -> None:
    # spec 18.6, 18.15: omitted fields take AMQP's defaults
    assert api.put("/api/queues/%2F/jobs", {})[0] == 201
    queue = broker.queues["jobs"]
    assert (queue.durable, queue.auto_delete, queue.exclusive) == (False, False, False)
    assert api.put("/api/queues/%2F/jobs", {})[0] == 204
    assert api.put("/api/exchanges/%2F/logs", {"type": "fanout", "durable": "true"})[0] == 201
    assert broker.exchanges["logs"].type == "fanout" and broker.exchanges["logs"].durable
    assert api.put("/api/exchanges/%2F/logs", {"type": "fanout", "durable": True})[0] == 204
    assert api.delete("/api/exchanges/%2F/logs")[0] == 204
    assert "logs" not in broker.exchanges
    assert api.delete("/api/queues/%2F/jobs")[0] == 204
    assert "jobs" not in broker.queues


def test_an_inequivalent_declare_is_400_with_the_amqp_explanation(api: Api) -> None:
    # spec 18.4, 18.15
    api.put("/api/queues/%2F/q", {"durable": True})
    status, body, _ = api.put("/api/queues/%2F/q", {"durable": False})
    assert status == 400
    assert body == {
        "error": "bad_request",
        "reason": "inequivalent arg 'durable' for queue 'q' in vhost '/': "
        "received 'false' but current is 'true'",
    }


def test_amqp_access_refusals_are_401_access_refused(api: Api) -> None:
    # spec 18.4: access_refused (a queue named amq.*, the default exchange) → 401
    assert api.put("/api/queues/%2F/amq.mine", {})[1] == {
        "error": "not_authorised",
        "reason": "Access refused.",
    }
    assert api.delete("/api/exchanges/%2F/amq.direct")[0] == 401


def test_a_missing_mandatory_key_is_named(api: Api) -> None:
    # spec 18.4, 18.14: all four keys of a publish are mandatory
    status, body, _ = api.post("/api/exchanges/%2F/amq.direct/publish", {"routing_key": "k"})
    assert status == 400
    assert (
        body["reason"]
        == "[{key_missing,properties},{key_missing,payload},{key_missing,payload_encoding}]"
    )


def test_bad_json_is_400(api: Api) -> None:
    status, body, _ = api.request("PUT", "/api/queues/%2F/q", b"{nope")
    assert (status, body["error"]) == (400, "bad_request")


def test_an_unsupported_method_is_405(api: Api) -> None:
    # spec 18.5
    assert api.post("/api/overview")[0] == 405
    assert api.put("/api/exchanges/%2F/amq.direct/publish", {})[0] == 405  # ⚠ POST only, 18.14


def test_user_limits_spec_15_15(api: Api, broker: Broker) -> None:
    assert api.put("/api/users/app", {"password": "pw", "tags": "management"})[0] in (201, 204)
    assert api.put("/api/user-limits/app/max-connections", {"value": 2})[0] == 204
    assert api.put("/api/user-limits/app/max-channels", {"value": 5})[0] == 204  # merged
    assert broker.user_limits() == {"app": {"max-connections": 2, "max-channels": 5}}
    assert api.get("/api/user-limits")[1] == [
        {"user": "app", "value": {"max-connections": 2, "max-channels": 5}}
    ]
    assert api.get("/api/user-limits/guest")[1] == []
    status, answer, _ = api.put("/api/user-limits/app/max-queues", {"value": 1})
    assert (status, answer["error"]) == (400, "bad_request")
    assert "Unrecognised terms" in answer["reason"]
    assert api.put("/api/user-limits/nobody/max-channels", {"value": 1})[0] == 404
    own = api.as_user("app", "pw")
    assert own.get("/api/user-limits/app")[1] == [
        {"user": "app", "value": {"max-connections": 2, "max-channels": 5}}
    ]
    assert own.get("/api/user-limits")[0] == 401  # every user's: administrators only
    assert own.get("/api/user-limits/guest")[0] == 401  # another's: monitoring users too
    assert api.delete("/api/user-limits/app/max-channels")[0] == 204
    assert broker.user_limits("app") == {"app": {"max-connections": 2}}


# ----------------------------------------------------------------- list parameters (spec 18.7)


def test_sort_sort_reverse_and_columns(api: Api) -> None:
    for name in ("b", "c", "a"):
        api.put(f"/api/queues/%2F/{name}", {})
    names = [q["name"] for q in api.get("/api/queues")[1]]
    assert names == ["a", "b", "c"]  # default order: vhost, name
    assert [q["name"] for q in api.get("/api/queues?sort=name&sort_reverse=true")[1]] == [
        "c",
        "b",
        "a",
    ]
    assert api.get("/api/queues?columns=name,messages")[1][0] == {"name": "a", "messages": 0}
    overview = api.get("/api/overview?columns=object_totals.queues,product_name")[1]
    assert overview == {"object_totals": {"queues": 3}, "product_name": "amqpmodel"}


def test_pagination(api: Api) -> None:
    for index in range(5):
        api.put(f"/api/queues/%2F/orders.{index}", {})
    api.put("/api/queues/%2F/Audit", {})
    page = api.get("/api/queues?page=2&page_size=2&name=ORDERS")[1]
    assert page == {
        "total_count": 6,
        "item_count": 2,
        "filtered_count": 5,
        "page": 2,
        "page_size": 2,
        "page_count": 3,
        "items": page["items"],
    }
    assert [q["name"] for q in page["items"]] == ["orders.2", "orders.3"]
    regex = api.get("/api/queues?page=1&name=%5Eorders%5C.%5B34%5D%24&use_regex=true")[1]
    assert [q["name"] for q in regex["items"]] == ["orders.3", "orders.4"]
    assert regex["page_size"] == 100  # the default
    status, body, _ = api.get("/api/queues?page=0")
    assert (status, body["error"]) == (400, "invalid_pagination_parameters")
    assert body["reason"].startswith("Invalid pagination parameters: page number 0")
    assert api.get("/api/queues?page=1&page_size=501")[0] == 400
    status, body, _ = api.get("/api/queues?page=9")
    assert (status, body["error"]) == (400, "page_out_of_range")


# ----------------------------------------------------------------- queues, publish, get (18.13, 18.14)


def test_publish_then_get_with_each_ack_mode(api: Api, broker: Broker) -> None:
    api.put("/api/queues/%2F/q", {})
    api.put("/api/queues/%2F/dead", {})
    api.put(
        "/api/queues/%2F/work",
        {"arguments": {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dead"}},
    )
    message = {
        "properties": {"delivery_mode": 2, "headers": {"attempt": 1}, "content_type": "text/plain"},
        "routing_key": "q",
        "payload": "hello",
        "payload_encoding": "string",
    }
    assert api.post("/api/exchanges/%2F/amq.default/publish", message)[1] == {"routed": True}
    take = {"count": 5, "ackmode": "ack_requeue_true", "encoding": "auto"}
    (first,) = api.post("/api/queues/%2F/q/get", take)[1]
    assert first == {
        "payload_bytes": 5,
        "redelivered": False,
        "exchange": "",
        "routing_key": "q",
        "message_count": 0,
        "properties": {"delivery_mode": 2, "headers": {"attempt": 1}, "content_type": "text/plain"},
        "payload": "hello",
        "payload_encoding": "string",
    }
    (again,) = api.post("/api/queues/%2F/q/get", {**take, "ackmode": "ack_requeue_false"})[1]
    assert again["redelivered"] is True  # requeued by the first get
    assert broker.queues["q"].messages == 0
    # reject_requeue_false dead-letters with reason "rejected"
    api.post("/api/exchanges/%2F/amq.default/publish", {**message, "routing_key": "work"})
    api.post("/api/queues/%2F/work/get", {**take, "ackmode": "reject_requeue_false"})
    assert broker.queues["dead"].messages_ready == 1
    method, properties, _ = broker.connect().channel().basic_get("dead", auto_ack=True)
    assert properties.headers["x-death"][0]["reason"] == "rejected"


def test_get_encodes_binary_payloads_in_base64_and_truncates(api: Api) -> None:
    api.put("/api/queues/%2F/q", {})
    raw = base64.b64encode(b"\xff\x00abc").decode()
    api.post(
        "/api/exchanges/%2F/amq.default/publish",
        {"properties": {}, "routing_key": "q", "payload": raw, "payload_encoding": "base64"},
    )
    take = {"count": 1, "ackmode": "ack_requeue_true", "encoding": "auto", "truncate": 2}
    (item,) = api.post("/api/queues/%2F/q/get", take)[1]
    assert (item["payload_bytes"], item["payload_encoding"]) == (5, "base64")
    assert base64.b64decode(item["payload"]) == b"\xff\x00"


def test_an_unroutable_publish_says_routed_false(api: Api) -> None:
    # spec 18.14: mandatory, so the return is seen
    message = {
        "properties": {},
        "routing_key": "nowhere",
        "payload": "x",
        "payload_encoding": "string",
    }
    assert api.post("/api/exchanges/%2F/amq.direct/publish", message)[1] == {"routed": False}


def test_a_nacked_publish_is_400_rejected(api: Api) -> None:
    # spec 18.14: reject-publish overflow nacks
    api.put(
        "/api/queues/%2F/full", {"arguments": {"x-max-length": 0, "x-overflow": "reject-publish"}}
    )
    message = {
        "properties": {},
        "routing_key": "full",
        "payload": "x",
        "payload_encoding": "string",
    }
    status, body, _ = api.post("/api/exchanges/%2F/amq.default/publish", message)
    assert status == 400
    assert body["reason"] == "rejected Unable to publish message. Check queue limits."


def test_purge_and_conditional_delete(api: Api, broker: Broker) -> None:
    api.put("/api/queues/%2F/q", {})
    message = {"properties": {}, "routing_key": "q", "payload": "x", "payload_encoding": "string"}
    api.post("/api/exchanges/%2F/amq.default/publish", message)
    status, body, _ = api.delete("/api/queues/%2F/q?if-empty=true")
    assert status == 400 and "not empty" in body["reason"]
    assert api.delete("/api/queues/%2F/q/contents")[0] == 204
    assert broker.queues["q"].messages_ready == 0
    assert api.delete("/api/queues/%2F/q?if-empty=true")[0] == 204


def test_queue_object_shape(api: Api, pika_channel: Any) -> None:
    # spec 18.10
    pika_channel.queue_declare("tasks", durable=True, arguments={"x-max-length": 10})
    pika_channel.basic_publish("", "tasks", b"one")
    pika_channel.basic_qos(prefetch_count=1)
    pika_channel.basic_consume("tasks", lambda *args: None, consumer_tag="worker")
    pika_channel.connection.process_data_events(time_limit=0.1)
    queue = api.get("/api/queues/%2F/tasks")[1]
    assert {
        k: queue[k]
        for k in (
            "name",
            "vhost",
            "type",
            "durable",
            "auto_delete",
            "exclusive",
            "state",
            "consumers",
            "messages",
            "messages_ready",
            "messages_unacknowledged",
        )
    } == {
        "name": "tasks",
        "vhost": "/",
        "type": "classic",
        "durable": True,
        "auto_delete": False,
        "exclusive": False,
        "state": "running",
        "consumers": 1,
        "messages": 1,
        "messages_ready": 0,
        "messages_unacknowledged": 1,
    }
    assert queue["arguments"]["x-max-length"] == 10
    assert queue["message_stats"]["publish"] == 1
    assert queue["message_stats"]["deliver_get"] == 1
    (consumer,) = queue["consumer_details"]
    assert consumer["consumer_tag"] == "worker" and consumer["prefetch_count"] == 1
    assert consumer["ack_required"] is True
    (listed,) = api.get("/api/consumers/%2F")[1]
    assert listed["queue"] == {"name": "tasks", "vhost": "/"}
    assert listed["channel_details"]["connection_name"] == api.get("/api/connections")[1][0]["name"]


# ----------------------------------------------------------------- bindings (18.6, 18.11)


def test_bindings_properties_key_location_and_delete(api: Api, broker: Broker) -> None:
    api.put("/api/exchanges/%2F/logs", {"type": "direct"})
    api.put("/api/queues/%2F/errors", {})
    status, _, headers = api.post("/api/bindings/%2F/e/logs/q/errors", {"routing_key": "a b~c"})
    assert status == 201
    assert headers["Location"] == "errors/a%2Bb%257Ec"
    api.post("/api/bindings/%2F/e/logs/q/errors", {"routing_key": "", "arguments": {}})
    api.post("/api/bindings/%2F/e/logs/q/errors", {"routing_key": "x", "arguments": {"k": 1}})
    keys = {
        b["routing_key"]: b["properties_key"]
        for b in api.get("/api/bindings/%2F/e/logs/q/errors")[1]
    }
    assert keys["a b~c"] == "a+b%7Ec"
    assert keys[""] == "~"
    assert keys["x"].startswith("x~") and len(keys["x"]) > 2
    one = api.get(f"/api/bindings/%2F/e/logs/q/errors/{keys['x'].replace('~', '%7E')}")[1]
    assert one["arguments"] == {"k": 1} and one["destination_type"] == "queue"
    assert api.delete("/api/bindings/%2F/e/logs/q/errors/~")[0] == 204
    assert {b.routing_key for b in broker.exchanges["logs"].bindings} == {"a b~c", "x"}
    assert api.get("/api/bindings/%2F/e/logs/q/errors/nope")[0] == 404
    # the default exchange's implicit binding is listed, with source ""
    (implicit,) = [b for b in api.get("/api/queues/%2F/errors/bindings")[1] if b["source"] == ""]
    assert implicit["routing_key"] == "errors"


def test_exchange_to_exchange_bindings(api: Api, broker: Broker) -> None:
    api.put("/api/exchanges/%2F/a", {"type": "fanout"})
    api.put("/api/exchanges/%2F/b", {"type": "fanout"})
    assert api.post("/api/bindings/%2F/e/a/e/b", {})[0] == 201
    (binding,) = api.get("/api/exchanges/%2F/b/bindings/destination")[1]
    assert (binding["source"], binding["destination_type"]) == ("a", "exchange")
    assert api.get("/api/exchanges/%2F/a/bindings/source")[1] == [binding]


# ----------------------------------------------------------------- clients (18.8)


def test_connections_and_channels_of_a_pika_client(api: Api, served: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(served))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_qos(prefetch_count=7)
    (conn,) = api.get("/api/connections")[1]
    assert (
        conn["name"] == f"{conn['peer_host']}:{conn['peer_port']} -> {conn['host']}:{conn['port']}"
    )
    assert conn["user"] == "guest" and conn["vhost"] == "/" and conn["protocol"] == "AMQP 0-9-1"
    assert (
        conn["channels"] == 1 and conn["frame_max"] == 131072 and conn["auth_mechanism"] == "PLAIN"
    )
    assert conn["client_properties"]["product"] == "Pika Python Client Library"
    (chan,) = api.get("/api/channels")[1]
    assert chan["name"] == f"{conn['name']} (1)"
    assert (chan["confirm"], chan["prefetch_count"], chan["number"]) == (True, 7, 1)
    assert chan["connection_details"]["name"] == conn["name"]
    assert api.get(f"/api/connections/{_quote(conn['name'])}/channels")[1] == [chan]
    connection.close()


def test_closing_a_connection_sends_320_with_the_reason(api: Api, served: str) -> None:
    # spec 18.8: X-Reason or "Closed via management plugin"
    connection = pika.BlockingConnection(pika.URLParameters(served))
    closed: list[Exception] = []
    connection.add_on_connection_blocked_callback(lambda *a: None)
    (conn,) = api.get("/api/connections")[1]
    assert (
        api.delete(f"/api/connections/{_quote(conn['name'])}", headers={"X-Reason": "maintenance"})[
            0
        ]
        == 204
    )
    try:
        connection.process_data_events(time_limit=1)
        connection.process_data_events(time_limit=1)
    except pika.exceptions.ConnectionClosedByBroker as error:
        closed.append(error)
    assert closed and closed[0].reply_code == 320
    assert closed[0].reply_text == "CONNECTION_FORCED - maintenance"


def _quote(name: str) -> str:
    import urllib.parse

    return urllib.parse.quote(name, safe="")


def test_in_process_connections_are_listed_as_direct(api: Api, broker: Broker) -> None:
    connection = broker.connect()
    connection.channel()
    (conn,) = api.get("/api/connections")[1]
    assert conn["type"] == "direct" and conn["channels"] == 1
    assert api.delete(f"/api/connections/{_quote(conn['name'])}")[0] == 204
    assert connection.is_closed and connection.close_reason == (
        320,
        "CONNECTION_FORCED - Closed via management plugin",
    )


# ----------------------------------------------------------------- vhosts, users


def test_vhosts_and_users(api: Api, broker: Broker) -> None:
    assert api.put("/api/vhosts/staging", {"description": "for tests", "tags": "a,b"})[0] == 201
    vhost = api.get("/api/vhosts/staging")[1]
    assert (vhost["description"], vhost["tags"], vhost["metadata"]["tags"]) == (
        "for tests",
        ["a", "b"],
        ["a", "b"],
    )
    assert api.put("/api/vhosts/staging", {})[0] == 204
    assert api.put("/api/users/app", {"password": "s3cret", "tags": "management"})[0] == 201
    assert broker.authenticate("app", "s3cret")
    user = api.get("/api/users/app")[1]
    assert (
        user["tags"] == ["management"]
        and user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    )
    # a password hash as RabbitMQ makes it (spec 15.2's vector)
    api.put(
        "/api/users/hashed",
        {"password_hash": "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR", "tags": []},
    )
    assert broker.authenticate("hashed", "test12")
    assert api.get("/api/users/app/permissions")[1] == []  # spec 15.4: none until given
    assert api.put("/api/permissions/staging/app", {"configure": "", "write": ".*",
                                                    "read": ".*"})[0] == 201
    assert {p["vhost"] for p in api.get("/api/users/app/permissions")[1]} == {"staging"}
    assert api.delete("/api/users/app")[0] == 204 and "app" not in broker.users
    assert api.delete("/api/vhosts/staging")[0] == 204 and "staging" not in broker.vhosts


# ----------------------------------------------------------------- definitions (spec 16)


def test_definitions_export_and_import(api: Api, broker: Broker, pika_channel: Any) -> None:
    pika_channel.exchange_declare("logs", "topic", durable=True)
    pika_channel.queue_declare("audit", durable=True, arguments={"x-message-ttl": 1000})
    pika_channel.queue_bind("audit", "logs", "#")
    pika_channel.queue_declare("", exclusive=True)
    document = api.get("/api/definitions")[1]
    assert document["rabbitmq_definition_format"] == "cluster"
    assert [q["name"] for q in document["queues"]] == ["audit"]  # spec 16.5: no exclusive queue
    assert [e["name"] for e in document["exchanges"]] == ["logs"]  # no default, no amq.*
    assert document["bindings"] == [
        {
            "source": "logs",
            "vhost": "/",
            "destination": "audit",
            "destination_type": "queue",
            "routing_key": "#",
            "arguments": {},
        }
    ]
    assert {u["name"] for u in document["users"]} == {"guest"}
    single = api.get("/api/definitions/%2F")[1]
    assert single["rabbitmq_definition_format"] == "single_virtual_host"
    assert "vhost" not in single["queues"][0] and "users" not in single
    # into another broker-state: a new vhost, imported with RabbitMQ's defaults (16.9)
    api.put("/api/vhosts/copy", {})
    assert api.post("/api/definitions/copy", single)[0] == 204
    copy = broker.vhost("copy")
    assert copy.queues["audit"].durable and copy.queues["audit"].arguments["x-message-ttl"] == 1000
    assert [b.routing_key for b in copy.exchanges["logs"].bindings] == ["#"]
    assert api.post("/api/definitions/copy", single)[0] == 204  # spec 16.8: idempotent
    assert len(copy.exchanges["logs"].bindings) == 1
    policies = {
        "policies": [{"vhost": "/", "name": "p", "pattern": ".*", "definition": {"message-ttl": 1}}]
    }
    assert api.post("/api/definitions", policies)[0] == 204
    assert broker.list_policies()[0]["name"] == "p"


# ----------------------------------------------------------------- overview and health (18.9, 18.12)


def test_overview_totals(api: Api, pika_channel: Any) -> None:
    pika_channel.queue_declare("q")
    pika_channel.basic_publish("", "q", b"x")
    pika_channel.queue_declare("q", passive=True)
    overview = api.get("/api/overview")[1]
    assert overview["object_totals"] == {
        "connections": 1,
        "channels": 1,
        "exchanges": 7,
        "queues": 1,
        "consumers": 0,
    }
    assert overview["queue_totals"] == {
        "messages": 1,
        "messages_ready": 1,
        "messages_unacknowledged": 0,
    }
    assert overview["product_name"] == "amqpmodel"
    assert {t["name"] for t in overview["exchange_types"]} >= {
        "direct",
        "fanout",
        "topic",
        "headers",
    }
    assert {listener["protocol"] for listener in overview["listeners"]} == {
        "amqp",
        "http",
        "http/prometheus",
    }
    assert overview["message_stats"]["publish"] == 1


def test_health_checks(api: Api, served: str) -> None:
    for check in (
        "alarms",
        "local-alarms",
        "virtual-hosts",
        "node-is-quorum-critical",
        "is-in-service",
        "ready-to-serve-clients",
        "below-node-connection-limit",
    ):
        assert api.get(f"/api/health/checks/{check}")[:2] == (200, {"status": "ok"}), check
    port = int(served.rsplit(":", 1)[1].split("/")[0])
    assert api.get(f"/api/health/checks/port-listener/{port}")[0] == 200
    status, body, _ = api.get("/api/health/checks/port-listener/1")
    assert (status, body["status"]) == (503, "failed")
    assert api.get("/api/health/checks/protocol-listener/amqp091")[0] == 200
    assert api.get("/api/health/checks/protocol-listener/mqtt")[0] == 503
    assert api.get("/api/aliveness-test/%2F")[1] == {"status": "ok"}
