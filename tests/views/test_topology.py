"""The topology picture: readable at the tutorials' size and at 50 exchanges and 200 queues.

Checked from the SVG itself (ElementTree; the browser test measures the real
text): no two boxes overlap, every text fits in its box, several bindings
between two entities are one edge listing their keys, dead-letter,
alternate-exchange and consumer edges are drawn as their own kinds, long
names are shortened with the full name on hover, and a legend explains the
boxes, the edges and the counts.
"""

from __future__ import annotations

import _view_geometry as _geometry
import _view_scenes as _scenes
import pytest

from amqpmodel import Broker, VirtualClock

pytestmark = pytest.mark.timeout(120)


def _no_overlaps(svg: str) -> list[_geometry.Box]:
    root = _geometry.parse(svg)
    boxes = _geometry.boxes(root)
    rects = [(" / ".join(b.texts), b.left, b.top, b.right, b.bottom) for b in boxes]
    assert _geometry.overlapping(rects) == []
    texts = _geometry.text_extents(root)
    assert _geometry.overlapping(texts) == []
    for box in boxes:  # every line inside its own box
        for text in box.texts:
            extent = next(
                t
                for t in texts
                if t[0] == text and box.left <= t[1] <= box.right and box.top <= t[2] <= box.bottom
            )
            assert extent[3] <= box.right and extent[4] <= box.bottom, (text, box)
    return boxes


def test_the_tutorials_topology_is_drawn_without_overlaps() -> None:
    broker = Broker(clock=VirtualClock())
    _scenes.tutorials(broker)
    svg = broker.topology()._repr_svg_()
    boxes = _no_overlaps(svg)
    kinds = [b.kind for b in boxes]
    assert (
        kinds.count("node exchange") == 7
    )  # logs, direct_logs, topic_logs, work, retry, unrouted, orders
    assert kinds.count("node queue") == 15
    assert kinds.count("node consumer") == 13


def test_several_bindings_between_two_entities_are_one_edge_listing_their_keys() -> None:
    # tutorial 4: one queue bound to direct_logs with info, warning and error
    broker = Broker()
    ch = broker.connect().channel()
    ch.exchange_declare("direct_logs", "direct")
    ch.queue_declare("screen")
    for severity in ("info", "warning", "error"):
        ch.queue_bind("screen", "direct_logs", severity)
    topology = broker.topology()
    root = _geometry.parse(topology._repr_svg_())
    assert _geometry.edges(root) == [("binding", "x:direct_logs", "q:screen")]
    labels = [b for b in _geometry.boxes(root) if b.kind == "edge-label binding"]
    assert [label.texts for label in labels] == [["info", "warning", "error"]]
    assert '"x:direct_logs" -> "q:screen" [label="info\\nwarning\\nerror"];' in topology.to_dot()


def test_many_keys_on_one_edge_are_counted_and_listed_on_hover() -> None:
    broker = Broker()
    ch = broker.connect().channel()
    ch.exchange_declare("events", "topic")
    ch.queue_declare("all")
    keys = [f"region.{n}.#" for n in range(9)]
    for key in keys:
        ch.queue_bind("all", "events", key)
    root = _geometry.parse(broker.topology()._repr_svg_())
    (label,) = [b for b in _geometry.boxes(root) if b.kind == "edge-label binding"]
    assert label.texts == ["region.0.#", "region.1.#", "region.2.#", "+6 more"]
    assert label.title == "binding keys: " + "\n".join(keys)


def test_dead_letter_and_alternate_exchange_edges_are_drawn_as_their_own_kinds() -> None:
    # spec 4.1 (dead-letter exchange), 1.23 (alternate exchange)
    broker = Broker(clock=VirtualClock())
    _scenes.tutorials(broker)
    root = _geometry.parse(broker.topology()._repr_svg_())
    edges = _geometry.edges(root)
    assert ("dead-letter", "q:work", "x:retry") in edges
    assert ("dead-letter", "q:retry.5s", "x:work") in edges
    assert ("alternate", "x:orders", "x:unrouted") in edges
    assert ("binding", "x:orders", "q:work") in edges
    assert ("consume", "q:task_queue", "c:task_queue:0") in edges
    assert ("consume", "q:task_queue", "c:task_queue:1") in edges
    styles = {
        path.get("class"): (path.get("stroke"), path.get("stroke-dasharray"))
        for path in root.iter(_geometry.SVG + "path")
        if (path.get("class") or "").startswith("edge ")
    }
    assert (
        len(set(styles.values())) == len(styles) == 4
    )  # binding, dead letters, alternate, consume
    dot = broker.topology().to_dot()
    assert '"q:work" -> "x:retry" [label="dead letters", style=dashed, color="#c0392b"];' in dot
    assert '"x:orders" -> "x:unrouted" [label="alternate", style=dashed, color="#d98200"];' in dot


def test_a_retry_loop_turns_back_its_dead_letters_not_its_bindings() -> None:
    broker = Broker(clock=VirtualClock())
    _scenes.tutorials(broker)
    root = _geometry.parse(broker.topology()._repr_svg_())
    boxes = {b.title.splitlines()[0]: b for b in _geometry.boxes(root) if b.kind.startswith("node")}
    # left to right along the loop: work exchange, work queue, retry exchange, retry queue
    order = ["exchange work", "queue work", "exchange retry", "queue retry.5s"]
    lefts = [boxes[name].left for name in order]
    assert lefts == sorted(lefts) and len(set(lefts)) == 4


def test_consumers_are_shown_with_their_connection_prefetch_and_unacked() -> None:
    broker = Broker(clock=VirtualClock())
    _scenes.tutorials(broker)
    root = _geometry.parse(broker.topology()._repr_svg_())
    workers = [
        b
        for b in _geometry.boxes(root)
        if b.kind == "node consumer" and b.texts[0].startswith("worker.py")
    ]
    assert sorted(w.texts[0] for w in workers) == ["worker.py 1 (ch 1)", "worker.py 2 (ch 1)"]
    assert [w.texts[1] for w in workers] == ["prefetch 1 · unacked 1"] * 2
    assert all(w.title.startswith("consumer amq.ctag-") for w in workers)


def test_many_consumers_on_one_queue_are_one_node_that_counts_them() -> None:
    broker = Broker()
    ch = broker.connect().channel()
    ch.queue_declare("busy")
    for _ in range(5):
        ch.basic_consume("busy", lambda *a: None, auto_ack=True)
    root = _geometry.parse(broker.topology()._repr_svg_())
    (group,) = [b for b in _geometry.boxes(root) if b.kind == "node consumers"]
    assert group.texts == ["5 consumers", "unacked 0"]
    assert len(group.title.splitlines()) == 6  # a line per consumer on hover
    assert "5 consumers" in (root.findtext(_geometry.SVG + "text") or "")  # the caption counts them


def test_long_names_are_shortened_with_the_full_name_on_hover() -> None:
    broker = Broker()
    ch = broker.connect().channel()
    name = "orders.eu-west-1.payments.settlement.retries.dead-letters.v2"
    ch.queue_declare(name)
    root = _geometry.parse(broker.topology()._repr_svg_())
    (queue,) = [b for b in _geometry.boxes(root) if b.kind == "node queue"]
    shown = queue.texts[0]
    assert shown != name and "…" in shown
    head, tail = shown.split("…")
    assert name.startswith(head) and name.endswith(tail) and tail  # the end is kept
    assert queue.title.splitlines()[0] == f"queue {name}"
    assert f'label="{name}\\n' in broker.topology().to_dot()  # DOT keeps the whole name


def test_the_legend_explains_boxes_edges_and_counts() -> None:
    broker = Broker()
    svg = broker.topology()._repr_svg_()
    root = _geometry.parse(svg)
    legend = next(g for g in root.iter(_geometry.SVG + "g") if g.get("class") == "legend")
    texts = [t.text or "" for t in legend.iter(_geometry.SVG + "text")]
    assert "queue: name, type, ready, unacked" in texts
    assert "dead letters" in texts and "alternate exchange" in texts and "consumes" in texts
    assert any(
        t.startswith("ready: messages waiting for a consumer · unacked: delivered") for t in texts
    )


def test_queue_boxes_show_type_and_labelled_counts() -> None:
    broker = Broker()
    ch = broker.connect().channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"a")
    ch.basic_publish("", "q", b"b")
    ch.basic_get("q")
    root = _geometry.parse(broker.topology()._repr_svg_())
    (queue,) = [b for b in _geometry.boxes(root) if b.kind == "node queue"]
    assert queue.texts == ["q", "classic · ready 1 · unacked 1"]


def test_missing_targets_and_self_loops_are_noted_in_the_box() -> None:
    broker = Broker()
    ch = broker.connect().channel()
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "nowhere"})
    ch.exchange_declare("loop", "topic")
    ch.exchange_bind("loop", "loop", "again.#")
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "gone"})
    ch.queue_declare("d", arguments={"x-dead-letter-exchange": ""})
    boxes = {
        b.texts[0]: b.texts
        for b in _geometry.boxes(_geometry.parse(broker.topology()._repr_svg_()))
    }
    assert "alternate 'nowhere': missing" in boxes["x"]
    assert "↻ bound to itself: again.#" in boxes["loop"]
    assert "dead letters: 'gone' missing" in boxes["q"]
    assert "dead letters: default exchange" in boxes["d"]


def test_a_dead_letter_routing_key_through_the_default_exchange_points_at_its_queue() -> None:
    broker = Broker()
    ch = broker.connect().channel()
    ch.queue_declare("parked")
    ch.queue_declare(
        "orders", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "parked"}
    )
    root = _geometry.parse(broker.topology()._repr_svg_())
    assert ("dead-letter", "q:orders", "q:parked") in _geometry.edges(root)


def test_names_and_keys_that_are_not_xml_are_cleaned() -> None:
    broker = Broker()
    ch = broker.connect().channel()
    ch.exchange_declare("x", "direct")
    ch.queue_declare("bad\x01name")
    ch.queue_bind("bad\x01name", "x", "key\udcff")  # a key that was not UTF-8 on the wire
    svg = broker.topology()._repr_svg_()
    svg.encode("utf-8")  # no lone surrogate left
    boxes = _geometry.boxes(_geometry.parse(svg))
    (queue,) = [b for b in boxes if b.kind == "node queue"]
    assert queue.texts[0] == "bad\ufffdname"
    (label,) = [b for b in boxes if b.kind == "edge-label binding"]
    assert label.texts == ["key\ufffd"]


def test_to_dot_labels_break_lines_instead_of_printing_backslash_n() -> None:
    broker = Broker()
    ch = broker.connect().channel()
    ch.queue_declare('say "hi" \\ there')
    dot = broker.topology().to_dot()
    line = next(line for line in dot.splitlines() if line.startswith('  "q:'))
    # one DOT escape \n per line break; the name's own backslash and quotes escaped
    assert 'label="say \\"hi\\" \\\\ there\\nclassic · ready 0 · unacked 0"' in line
    assert "\\\\n" not in dot


def test_fifty_exchanges_and_two_hundred_queues_hold_up() -> None:
    broker = Broker()
    _scenes.large(broker)
    topology = broker.topology()
    svg = topology._repr_svg_()
    boxes = _no_overlaps(svg)
    assert sum(1 for b in boxes if b.kind == "node queue") == 200
    assert sum(1 for b in boxes if b.kind == "node exchange") == 50
    # every binding drawn: one edge per (exchange, queue) pair, keys listed on it
    root = _geometry.parse(svg)
    pairs = {(b.source, b.destination) for b in broker.bindings if b.source}
    drawn = {
        (s[2:], t[2:])
        for kind, s, t in _geometry.edges(root)
        if kind in ("binding", "exchange-binding")
    }
    assert drawn == pairs
