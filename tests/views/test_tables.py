"""Tables of queues, exchanges, bindings, connections, channels, consumers and messages, in HTML and text."""

from __future__ import annotations

import copy
import json

import _view_geometry as _geometry
import pytest

from amqpmodel import BasicProperties, Broker, Channel, VirtualClock
from amqpmodel.views import Cell, Table, queue_tables

pytestmark = pytest.mark.timeout(60)


def _ignore(*_: object) -> None:
    pass


def test_broker_queues_is_a_dict_that_shows_as_a_table(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("hello")
    ch.queue_declare("task_queue", durable=True)
    ch.basic_publish("", "hello", b"Hello World!")
    queues = broker.queues
    # the dict behaviour code relied on is unchanged (spec 18.10: the facts shown)
    assert isinstance(queues, dict)
    assert set(queues) == {"hello", "task_queue"}
    assert queues == {
        "hello": broker.vhost("/").queues["hello"],
        "task_queue": queues["task_queue"],
    }
    assert dict(queues) == broker.vhost("/").queues
    assert queues["hello"] is broker.vhost("/").queues["hello"]
    assert json.dumps(sorted(queues)) == '["hello", "task_queue"]'
    assert copy.copy(queues) == queues
    text = repr(queues)
    lines = text.splitlines()
    assert lines[0] == "queues (2)"
    assert lines[1].split() == [
        "name",
        "type",
        "features",
        "ready",
        "unacked",
        "persistent",
        "consumers",
        "arguments",
    ]
    assert lines[2].split()[:4] == ["hello", "classic", "1", "0"]
    assert lines[3].split()[:4] == ["task_queue", "classic", "D", "0"]
    html = queues._repr_html_()
    assert "<th>type</th>" in html and "<td>classic</td>" in html and "<td>hello</td>" in html


def test_a_table_is_a_snapshot_and_reading_again_follows_changes(
    broker: Broker, ch: Channel
) -> None:
    before = broker.queues
    ch.queue_declare("later")
    assert "later" not in before
    assert "later" in broker.queues
    assert broker.queues == broker.vhost("/").queues  # equal to the live dict


def test_empty_tables_compare_equal_to_plain_ones(broker: Broker) -> None:
    assert broker.queues == {}
    assert [b for b in broker.bindings if b.source] == []
    assert broker.connections == [] and broker.channels == [] and broker.consumers == []
    assert "(none)" in repr(broker.queues)


def test_exchanges_and_bindings_tables(broker: Broker, ch: Channel) -> None:
    ch.exchange_declare("logs", "fanout", durable=True)
    ch.exchange_declare("orders", "topic", arguments={"alternate-exchange": "logs"})
    ch.queue_declare("audit")
    ch.queue_bind("audit", "orders", "order.#")
    ch.queue_bind("audit", "amq.headers", "", {"x-match": "any", "kind": "pdf"})
    exchanges = broker.exchanges
    assert isinstance(exchanges, dict) and exchanges["logs"].type == "fanout"
    text = repr(exchanges)
    assert "(AMQP default)" in text  # the default exchange, as rabbitmqctl names it
    row = next(line for line in text.splitlines() if line.startswith("orders"))
    assert row.split()[:3] == ["orders", "topic", "AE"]
    assert "alternate-exchange=logs" in row
    bindings = broker.bindings
    assert isinstance(bindings, list) and len(bindings) == 3
    # spec 18.11: source, destination, destination type, routing key, arguments
    table = repr(bindings).splitlines()
    assert table[1].split("  ")[:1] == ["source"] and "destination type" in table[1]
    assert any(line.split()[:4] == ["orders", "queue", "audit", "order.#"] for line in table)
    assert any("x-match=any, kind=pdf" in line for line in table)
    assert "<td>order.#</td>" in bindings._repr_html_()


def test_connections_channels_and_consumers_tables(broker: Broker) -> None:
    # spec 18.8: the facts of RabbitMQ's connection, channel and consumer objects
    worker = broker.connect(client_properties={"connection_name": "worker 1", "product": "tests"})
    ch = worker.channel()
    ch.queue_declare("jobs")
    ch.basic_qos(prefetch_count=3)
    ch.confirm_delivery()
    ch.basic_consume("jobs", _ignore, consumer_tag="work-1", arguments={"x-priority": 5})
    ch.basic_publish("", "jobs", b"job")
    connections = repr(broker.connections).splitlines()
    assert connections[0] == "connections (1)"
    assert connections[2].split()[:5] == ["worker", "1", "guest", "/", "running"]
    channels = repr(broker.channels).splitlines()
    assert channels[1].split()[:2] == ["channel", "user"]
    # channel, user, vhost, mode C (confirm), prefetch 3, global 0, 1 consumer, 1 unacked
    assert channels[2].split()[:10] == ["worker", "1", "(1)", "guest", "/", "C", "3", "0", "1", "1"]
    consumers = repr(broker.consumers).splitlines()
    assert consumers[2].split()[:2] == ["work-1", "jobs"]
    assert "x-priority=5" in consumers[2] and "up" in consumers[2].split()
    assert "<td>work-1</td>" in broker.consumers._repr_html_()
    assert repr(worker.channels).splitlines()[0] == "channels (1)"
    assert "<td>work-1</td>" in worker._repr_html_() and "<td>work-1</td>" in ch._repr_html_()
    worker.close()


def test_single_active_consumer_status(broker: Broker, ch: Channel) -> None:
    # spec 7.6: one consumer is active, the others wait
    ch.queue_declare("sac", arguments={"x-single-active-consumer": True})
    ch.basic_consume("sac", _ignore, consumer_tag="first")
    ch.basic_consume("sac", _ignore, consumer_tag="second")
    rows = {line.split()[0]: line.split() for line in repr(broker.consumers).splitlines()[2:]}
    assert "single_active" in rows["first"] and "waiting" in rows["second"]


def test_a_queue_view_lists_held_messages_and_who_holds_them() -> None:
    # spec 7.11: delivered and not yet acknowledged, by channel, consumer and delivery tag
    broker = Broker(clock=VirtualClock())
    producer = broker.connect().channel()
    producer.queue_declare("task_queue")
    for n in range(3):
        producer.basic_publish("", "task_queue", f"task {n}".encode())
    worker = broker.connect(client_properties={"connection_name": "worker 1"}).channel()
    worker.basic_qos(prefetch_count=1)
    worker.basic_consume("task_queue", _ignore, consumer_tag="w1")
    getter = broker.connect(client_properties={"connection_name": "debugger"}).channel()
    getter.basic_get("task_queue")
    tables = queue_tables(broker.queues["task_queue"])
    unacked = next(t for t in tables if t.title.startswith("unacknowledged"))
    assert unacked.title == "unacknowledged messages (2)"
    text = unacked.to_text()
    assert "worker 1 (1)" in text and "w1" in text and "task 0" in text
    assert "debugger (1)" in text and "(basic.get)" in text and "task 1" in text
    ready = next(t for t in tables if t.title.startswith("ready"))
    assert ready.title == "ready messages (1)" and "task 2" in ready.to_text()
    html = broker.queues["task_queue"]._repr_html_()
    assert "<td>w1</td>" in html and "<td>(basic.get)</td>" in html
    assert broker.queues["task_queue"].messages_unacknowledged == 2  # nothing changed


def test_channel_unacked_messages_include_settles_awaiting_commit(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("q")
    ch.queue_declare("other")
    for body in (b"a", b"b"):
        ch.basic_publish("", "q", body)
    ch.basic_publish("", "other", b"c")
    ch.tx_select()
    first = ch.basic_get("q")
    second = ch.basic_get("q")
    ch.basic_get("other")
    ch.basic_ack(first[0].delivery_tag)
    held = ch.unacked_messages()
    assert [(u.delivery_tag, u.queue, u.consumer_tag) for u in held] == [
        (1, "q", None),
        (2, "q", None),
        (3, "other", None),
    ]
    # spec 8.8: acked inside the open transaction, still unacknowledged for the queue
    assert [u.settling for u in held] == ["ack", None, None]
    assert [u.message.body for u in ch.unacked_messages(broker.queues["q"])] == [b"a", b"b"]
    assert "acked at tx.commit" in queue_tables(broker.queues["q"])[2].to_text()
    ch.tx_commit()
    assert [u.delivery_tag for u in ch.unacked_messages()] == [second[0].delivery_tag, 3]


def test_message_views_show_properties_and_headers_with_x_death(
    broker: Broker, ch: Channel, clock: VirtualClock
) -> None:
    # spec 4.4: the dead-lettered copy carries x-death; views show it as a table
    ch.queue_declare("dead")
    ch.queue_declare(
        "orders",
        arguments={
            "x-message-ttl": 1000,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": "dead",
        },
    )
    properties = BasicProperties(
        content_type="application/json", delivery_mode=2, message_id="m-1", headers={"attempt": 2}
    )
    ch.basic_publish("", "orders", b'{"id": 42}', properties)
    clock.advance(2)
    tables = queue_tables(broker.queues["dead"])
    ready = tables[1]
    _, exchange, routing_key, _, shown_properties, headers, body = ready.rows[0]
    assert (exchange, routing_key) == ("(AMQP default)", "dead")
    assert (
        isinstance(shown_properties, Cell) and isinstance(headers, Cell) and isinstance(body, Cell)
    )
    assert shown_properties.text == "content_type=application/json, delivery_mode=2, message_id=m-1"
    assert headers.text.startswith(
        "attempt: 2, x-death: [{count: 1, reason: expired, queue: orders"
    )
    assert body.text == '{"id": 42}'
    assert "x-death: [{count: 1, reason: expire…" in ready.to_text()  # a REPL row is cut
    html = broker.queues["dead"]._repr_html_()
    assert "<b>x-death</b>: <table>" in html  # one row per death, a column per field
    assert "<th>reason</th>" in html and "<td>expired</td>" in html
    assert "<b>delivery_mode</b>: 2" in html


def test_bodies_are_shown_as_text_or_bytes_and_cut(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("q")
    ch.basic_publish("", "q", "é" * 100)
    ch.basic_publish("", "q", b"\xff\xfe binary")
    text = queue_tables(broker.queues["q"])[1].to_text()
    assert "é" * 40 in text and "b'\\xff\\xfe binary'" in text
    html = broker.queues["q"]._repr_html_()
    assert 'title="200 bytes"' in html  # the size on hover


def test_names_and_values_are_escaped_in_html(broker: Broker, ch: Channel) -> None:
    ch.queue_declare("<script>")
    ch.basic_publish("", "<script>", b"<b>bold</b>", BasicProperties(headers={"<h>": "<v>"}))
    html = broker.queues._repr_html_() + broker.queues["<script>"]._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;h&gt;" in html


def test_text_tables_align_wide_characters() -> None:
    table = Table.of("t", ("name", "n"), [("队列", 1), ("queue", 22)], ("n",))
    lines = table.to_text().splitlines()
    assert lines[2] == "队列    1"
    assert lines[3] == "queue  22"


def test_views_cost_nothing_per_message(broker: Broker, ch: Channel) -> None:
    # a view reads state when shown; publishing to a queue shown before changes nothing
    ch.queue_declare("q")
    shown = repr(broker.queues)
    for _ in range(1000):
        ch.basic_publish("", "q", b"x")
    assert repr(broker.queues) != shown and broker.queues["q"].messages_ready == 1000
    assert queue_tables(broker.queues["q"])[1].note == "the first 20 of 1000"


def test_quorum_and_stream_queues_show_their_type_and_own_figures(
    broker: Broker, ch: Channel
) -> None:
    # spec 18.10: a queue's "type"; the figures only its type has, in one column
    ch.queue_declare(
        "orders", durable=True, arguments={"x-queue-type": "quorum", "x-delivery-limit": 3}
    )
    ch.queue_declare("events", durable=True, arguments={"x-queue-type": "stream"})
    ch.queue_declare("plain")
    table = broker.queues.table()
    assert table.columns[:2] == ("name", "type") and "type figures" in table.columns
    rows = {row[0]: row for row in table.rows}
    figures = table.columns.index("type figures")
    assert (
        rows["orders"][1] == "quorum"
        and rows["events"][1] == "stream"
        and rows["plain"][1] == "classic"
    )
    assert "delivery limit 3" in rows["orders"][figures].text  # type: ignore[union-attr]
    assert "first offset 0" in rows["events"][figures].text  # type: ignore[union-attr]
    assert rows["plain"][figures].text == ""  # type: ignore[union-attr]
    texts = [b.texts for b in _geometry.boxes(_geometry.parse(broker.topology()._repr_svg_()))]
    orders = next(t for t in texts if t[0] == "orders")
    assert orders[1] == "quorum · ready 0 · unacked 0" and orders[2].startswith("delivery limit 3")


def test_without_queues_of_other_types_the_figures_column_is_left_out(
    broker: Broker, ch: Channel
) -> None:
    ch.queue_declare("plain")
    assert "type figures" not in broker.queues.table().columns


def test_a_transactional_channel_shows_what_waits_for_its_commit(
    broker: Broker, ch: Channel
) -> None:
    # spec 18.8: mode T, messages_uncommitted and acks_uncommitted (spec 8.8)
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"a")
    ch.tx_select()
    method, _, _ = ch.basic_get("q")
    ch.basic_ack(method.delivery_tag)
    ch.basic_publish("", "q", b"b")
    (row,) = broker.channels.table().rows
    columns = broker.channels.table().columns
    facts = dict(zip(columns, row, strict=True))
    assert facts["mode"] == "T"
    assert (facts["unacked"], facts["uncommitted"], facts["acks uncommitted"]) == (0, 1, 1)
    ch.tx_commit()
    (row,) = broker.channels.table().rows
    assert dict(zip(columns, row, strict=True))["uncommitted"] == 0


def test_queues_and_exchanges_show_their_policies_spec_14_19() -> None:
    broker = Broker()
    channel = broker.connect().channel()
    channel.queue_declare("jobs")
    plain = repr(broker.queues)
    assert "policy" not in plain.splitlines()[1]  # no policy anywhere: no column
    broker.set_policy("cap", "^jobs$", {"max-length": 5})
    table = repr(broker.queues)
    assert "policy" in table.splitlines()[1] and "cap" in table
    assert 'max-length' in broker.queues._repr_html_()  # the definition on hover
    broker.set_policy("ae", "^amq\\.direct$", {"alternate-exchange": "x"}, apply_to="exchanges")
    assert "ae" in repr(broker.exchanges)
