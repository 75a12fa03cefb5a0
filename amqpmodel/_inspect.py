"""HTML tables of queues, exchanges and bindings, for Jupyter (``_repr_html_``)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._exchange import Exchange
    from ._queue import Queue
    from ._vhost import VirtualHost

__all__ = ["exchange_html", "queue_html", "vhost_html"]


def _table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    if not rows:
        body = f"<tr><td colspan='{len(header)}'><i>none</i></td></tr>"
    return (
        f"<b>{escape(title)}</b><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _queue_row(queue: Queue) -> list[Any]:
    flags = "".join(
        flag
        for flag, on in (("D", queue.durable), ("AD", queue.auto_delete), ("Excl", queue.exclusive))
        if on
    )
    return [
        queue.name,
        flags,
        queue.messages_ready,
        queue.messages_unacknowledged,
        queue.messages_persistent if queue.durable else "",
        queue.consumer_count,
        ", ".join(f"{k}={v}" for k, v in queue.arguments.items()),
    ]


_QUEUE_HEADER = ["name", "features", "ready", "unacked", "persistent", "consumers", "arguments"]


def queue_html(queue: Queue) -> str:
    table = _table(f"queue {queue.name!r}", _QUEUE_HEADER, [_queue_row(queue)])
    messages = [[m.exchange, m.routing_key, m.body[:60]] for m in queue.peek()[:20]]
    return table + _table(
        "ready messages (first 20)", ["exchange", "routing key", "body"], messages
    )


def exchange_html(exchange: Exchange) -> str:
    rows = [
        [b.destination_type, b.destination, b.routing_key, b.arguments or ""]
        for b in exchange.bindings
    ]
    title = f"exchange {exchange.name!r} ({exchange.type})"
    if exchange.type == "x-delayed-message":  # held messages are counted, and shown (13.7)
        title += f", {exchange.messages_delayed} delayed"
    return _table(
        title,
        ["destination type", "destination", "routing key", "arguments"],
        rows,
    )


def vhost_html(vhost: VirtualHost) -> str:
    exchanges = [
        [x.name or "(default)", x.type, x.durable, x.auto_delete, x.internal, x.messages_delayed]
        for x in vhost.exchanges.values()
    ]
    bindings = [
        [
            b.source or "(default)",
            b.destination_type,
            b.destination,
            b.routing_key,
            b.arguments or "",
        ]
        for b in vhost.bindings
    ]
    return (
        _table(
            f"queues of vhost {vhost.name!r}",
            _QUEUE_HEADER,
            [_queue_row(q) for q in vhost.queues.values()],
        )
        + _table(
            "exchanges",
            ["name", "type", "durable", "auto_delete", "internal", "delayed"],
            exchanges,
        )
        + _table(
            "bindings",
            ["source", "destination type", "destination", "routing key", "arguments"],
            bindings,
        )
    )
