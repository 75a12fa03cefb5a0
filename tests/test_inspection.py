"""What notebook users see: HTML tables and the topology picture."""

from __future__ import annotations

from amqpmodel import Broker, Channel


def _topology(ch: Channel) -> None:
    ch.exchange_declare("logs", "fanout")
    ch.exchange_declare("events", "topic")
    ch.exchange_bind("logs", "events", "audit.#")
    ch.queue_declare("errors")
    ch.queue_declare("all <logs>")
    ch.queue_bind("all <logs>", "logs")
    ch.queue_bind("errors", "events", "*.error")
    ch.basic_publish("events", "db.error", b"disk full")


def test_html_tables_show_queues_exchanges_and_bindings(broker: Broker, ch: Channel) -> None:
    _topology(ch)
    html = broker._repr_html_()
    assert "<table>" in html and "errors" in html and "*.error" in html
    assert "all &lt;logs&gt;" in html and "<logs>" not in html  # names are escaped
    queue_html = broker.queues["errors"]._repr_html_()
    assert "disk full" in queue_html  # the first ready messages, non-destructively
    assert broker.queues["errors"].messages_ready == 1
    assert "audit.#" in broker.exchanges["events"]._repr_html_()


def test_topology_draws_what_the_application_built(broker: Broker, ch: Channel) -> None:
    _topology(ch)
    topology = broker.topology()
    assert [name for name, _ in topology.exchanges] == ["logs", "events"]  # unused amq.* left out
    assert ("events", "errors", "queue", "*.error") in topology.bindings
    assert ("events", "logs", "exchange", "audit.#") in topology.bindings
    assert ("errors", 1, 0, 0) in topology.queues
    svg = topology._repr_svg_()
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('<path class="edge ') == 3 and "all &lt;logs&gt;" in svg
    dot = topology.to_dot()
    assert dot.startswith("digraph") and '"x:events" -> "q:errors" [label="*.error"]' in dot
    text = repr(topology)
    assert "events --[*.error]--> queue errors" in text


def test_topology_of_an_empty_vhost(broker: Broker) -> None:
    topology = broker.add_vhost("empty").topology()
    assert topology.exchanges == [] and topology.queues == [] and topology.bindings == []
    assert topology._repr_svg_().startswith("<svg")
