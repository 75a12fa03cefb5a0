"""The graph a topology picture draws, read from a vhost: exchanges, queues and consumers, and the edges between them.

Edges are of five kinds: a binding (exchange to queue), an exchange-to-exchange
binding, an alternate exchange (spec 1.23), dead letters (a queue to its
dead-letter exchange, spec 4) and consuming (a queue to its consumers).
Several bindings between the same two entities become one edge listing their
keys, so that they are never drawn on top of each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ._metrics import text_width
from ._rows import connection_label, type_figures
from ._values import field_text

if TYPE_CHECKING:
    from amqpmodel._consumer import Consumer
    from amqpmodel._exchange import Binding
    from amqpmodel._queue import Queue
    from amqpmodel._vhost import VirtualHost

__all__ = ["EDGE_KINDS", "Edge", "Graph", "Node", "read_graph"]

BINDING, E2E, ALTERNATE, DEAD_LETTER, CONSUME = (
    "binding",
    "exchange-binding",
    "alternate",
    "dead-letter",
    "consume",
)
EDGE_KINDS = (BINDING, E2E, ALTERNATE, DEAD_LETTER, CONSUME)

# more consumers than this on one queue are drawn as one node that counts them
CONSUMERS_DRAWN = 3
FIGURES_WIDTH = 240.0  # pixels of a queue's type figures on one line of its box


@attrs.define(slots=True)
class Node:
    """An exchange, a queue, a consumer or a group of consumers.

    ``lines`` are what the box shows (the first is the name); ``notes`` are
    extra lines in the box for what has no edge to draw (an alternate exchange
    that does not exist); ``title`` is the full description shown on hover.
    """

    id: str
    kind: str  # "exchange", "queue", "consumer", "consumers"
    name: str
    detail: str
    notes: list[str] = attrs.field(factory=list)
    title: str = ""
    count: int = 1  # the consumers a "consumers" node stands for


@attrs.define(slots=True)
class Edge:
    source: str
    target: str
    kind: str
    keys: list[str] = attrs.field(factory=list)  # binding keys (or arguments) listed on the edge

    @property
    def label_lines(self) -> list[str]:
        if self.kind == ALTERNATE:
            return ["alternate"]
        if self.kind == DEAD_LETTER:
            return ["dead letters", *self.keys]
        return list(self.keys)


@attrs.define(slots=True)
class Graph:
    vhost: str
    nodes: dict[str, Node]
    edges: list[Edge]


def _binding_key(binding: Binding, exchange_type: str) -> str | None:
    """What an edge lists for a binding: its key, its arguments for a headers
    exchange, nothing where the key means nothing (fanout, key "")."""
    if binding.arguments:
        return ", ".join(f"{k}={field_text(v)}" for k, v in binding.arguments.items())
    if exchange_type == "fanout":
        return None  # a fanout exchange ignores keys (spec 1.12): listing them says nothing
    return binding.routing_key if binding.routing_key else '""'


def _exchange_id(name: str) -> str:
    return "x:" + name


def _queue_id(name: str) -> str:
    return "q:" + name


def _queue_detail(queue: Queue) -> str:
    return (
        f"{queue.queue_type} · ready {queue.messages_ready}"
        f" · unacked {queue.messages_unacknowledged}"
    )


def _figure_lines(queue: Queue) -> list[str]:
    """The type's own figures (a quorum queue's delivery limit, a stream's offsets),
    as many to a line as fit in a box."""
    lines: list[str] = []
    for name, value in type_figures(queue).items():
        figure = f"{name} {'none' if value is None else field_text(value)}"
        if lines and text_width(f"{lines[-1]} · {figure}", 11.0) <= FIGURES_WIDTH:
            lines[-1] = f"{lines[-1]} · {figure}"
        else:
            lines.append(figure)
    return lines


def _consumer_node(queue: Queue, consumer: Consumer, number: int) -> Node:
    channel = consumer.channel
    who = f"{connection_label(channel.connection)} (ch {channel.channel_number})"
    if consumer.auto_ack:
        detail = "auto-ack"
    else:
        limit = f"prefetch {consumer.prefetch}" if consumer.prefetch else "no prefetch limit"
        detail = f"{limit} · unacked {consumer.unacked}"
    title = (
        f"consumer {consumer.tag} on queue {queue.name}\n"
        f"channel {channel.channel_number} of {connection_label(channel.connection)}\n{detail}"
    )
    return Node(f"c:{queue.name}:{number}", "consumer", who, detail, title=title)


def read_graph(vhost: VirtualHost) -> Graph:
    """The graph of ``vhost`` now. The predeclared ``amq.*`` exchanges appear only
    when something uses them, and the default exchange never (every queue is
    bound to it), so the picture shows what the application built."""
    bindings = vhost.bindings
    queues = vhost.queues
    exchanges = vhost.exchanges
    used: set[str] = set()
    for b in bindings:
        if b.source:
            used.add(b.source)
            if b.destination_type == "exchange":
                used.add(b.destination)
    for exchange in exchanges.values():
        if exchange.alternate_exchange is not None and exchange.name:
            used.update((exchange.name, exchange.alternate_exchange))
    dead_letter: dict[str, tuple[str, str | None]] = {}
    for queue in queues.values():
        target = _dead_letter_target(queue.arguments)
        if target is not None:
            dead_letter[queue.name] = target
            used.add(target[0])

    nodes: dict[str, Node] = {}
    for exchange in exchanges.values():
        name = exchange.name
        if name == "" or (name.startswith("amq.") and name not in used):
            continue
        detail = exchange.type
        if exchange.internal:
            detail += " · internal"
        if exchange.type == "x-delayed-message":
            detail += f" · delayed {exchange.messages_delayed}"
        flags = [
            f
            for f, on in (("durable", exchange.durable), ("auto-delete", exchange.auto_delete))
            if on
        ]
        title = f"exchange {name}\ntype {exchange.type}" + (
            f"\n{', '.join(flags)}" if flags else ""
        )
        if exchange.arguments:
            title += "\n" + ", ".join(f"{k}={field_text(v)}" for k, v in exchange.arguments.items())
        nodes[_exchange_id(name)] = Node(_exchange_id(name), "exchange", name, detail, title=title)
    consumer_nodes: list[tuple[Queue, Node]] = []
    for queue in queues.values():
        flags = [
            f
            for f, on in (
                ("durable", queue.durable),
                ("auto-delete", queue.auto_delete),
                ("exclusive", queue.exclusive),
            )
            if on
        ]
        title = f"queue {queue.name}\ntype {queue.queue_type}" + (
            f"\n{', '.join(flags)}" if flags else ""
        )
        title += (
            f"\nready {queue.messages_ready} (waiting for a consumer)"
            f"\nunacked {queue.messages_unacknowledged} (delivered, not yet acknowledged)"
            f"\nconsumers {queue.consumer_count}"
        )
        if queue.arguments:
            title += "\n" + ", ".join(f"{k}={field_text(v)}" for k, v in queue.arguments.items())
        node_id = _queue_id(queue.name)
        nodes[node_id] = Node(
            node_id, "queue", queue.name, _queue_detail(queue), _figure_lines(queue), title
        )
        consumers = queue.consumers
        if len(consumers) <= CONSUMERS_DRAWN:
            consumer_nodes += [
                (queue, _consumer_node(queue, c, i)) for i, c in enumerate(consumers)
            ]
        else:
            unacked = sum(c.unacked for c in consumers)
            title = f"{len(consumers)} consumers on queue {queue.name}\n" + "\n".join(
                f"{c.tag}: {connection_label(c.channel.connection)} (ch {c.channel.channel_number})"
                for c in consumers
            )
            group = Node(
                f"c:{queue.name}:*",
                "consumers",
                f"{len(consumers)} consumers",
                f"unacked {unacked}",
                title=title,
                count=len(consumers),
            )
            consumer_nodes.append((queue, group))

    edges: dict[tuple[str, str, str], Edge] = {}

    def edge(source: str, target: str, kind: str, key: str | None = None) -> None:
        found = edges.get((source, target, kind))
        if found is None:
            found = edges[(source, target, kind)] = Edge(source, target, kind)
        if key is not None and key not in found.keys:
            found.keys.append(key)

    for b in bindings:
        if not b.source:
            continue
        source = exchanges.get(b.source)
        key = _binding_key(b, source.type if source is not None else "")
        if b.destination_type == "queue":
            edge(_exchange_id(b.source), _queue_id(b.destination), BINDING, key)
        else:
            edge(_exchange_id(b.source), _exchange_id(b.destination), E2E, key)
    for exchange in exchanges.values():
        alternate = exchange.alternate_exchange
        if alternate is None or _exchange_id(exchange.name) not in nodes:
            continue
        if alternate in exchanges and alternate != "":
            edge(_exchange_id(exchange.name), _exchange_id(alternate), ALTERNATE)
        else:
            nodes[_exchange_id(exchange.name)].notes.append(f"alternate '{alternate}': missing")
    for queue_name, (dlx, routing_key) in dead_letter.items():
        from_queue = _queue_id(queue_name)
        if dlx == "":  # the default exchange routes them to the queue the key names
            if routing_key is not None and routing_key in queues:
                edge(from_queue, _queue_id(routing_key), DEAD_LETTER, "via the default exchange")
            else:
                nodes[from_queue].notes.append("dead letters: default exchange")
        elif dlx in exchanges:
            as_key = None if routing_key is None else f"as {routing_key}"
            edge(from_queue, _exchange_id(dlx), DEAD_LETTER, as_key)
        else:
            nodes[from_queue].notes.append(f"dead letters: '{dlx}' missing")
    for queue, node in consumer_nodes:
        nodes[node.id] = node
        edge(_queue_id(queue.name), node.id, CONSUME)
    return Graph(vhost.name, nodes, list(edges.values()))


def _dead_letter_target(arguments: dict[str, Any]) -> tuple[str, str | None] | None:
    """(dead-letter exchange, routing key or None) a queue's arguments name (spec 4.1)."""
    exchange = arguments.get("x-dead-letter-exchange")
    if not isinstance(exchange, (str, bytes)):
        return None
    routing_key = arguments.get("x-dead-letter-routing-key")
    key = field_text(routing_key) if isinstance(routing_key, (str, bytes)) else None
    return field_text(exchange), key
