"""Metrics in the Prometheus text format with the rabbitmq_prometheus plugin's names
and labels (spec 19): ``/metrics`` aggregated, ``/metrics/per-object`` with object
labels, ``/metrics/detailed?family=…&vhost=…`` prefixed ``rabbitmq_detailed_``.

Everything is read from the broker when scraped (O(queues + channels)); the
counters are those the broker keeps anyway (``Queue.stats``, ``vhost.dropped``)."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

from amqpmodel import Queue

from ._context import Context
from ._handlers import context, level
from ._routes_overview import _fds, _memory_used

__all__ = ["ROUTES", "render"]

_CONTENT_TYPE = "text/plain"
_QUEUE_TYPES = {
    "classic": "rabbit_classic_queue",
    "quorum": "rabbit_quorum_queue",
    "stream": "rabbit_stream_queue",
}

Sample = tuple[dict[str, str], float]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Writer:
    def __init__(self, prefix: str = "rabbitmq_") -> None:
        self.prefix = prefix
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples: Iterable[Sample]) -> None:
        full = self.prefix + name
        self.lines.append(f"# TYPE {full} {kind}")
        self.lines.append(f"# HELP {full} {help_text}")
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            number = (
                repr(float(value))
                if isinstance(value, float) and not value.is_integer()
                else str(int(value))
            )
            self.lines.append(
                f"{full}{{{label_text}}} {number}" if label_text else f"{full} {number}"
            )

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


_QUEUE_GAUGES: tuple[tuple[str, str, Callable[[Queue], int]], ...] = (
    (
        "queue_messages_ready",
        "Messages ready to be delivered to consumers",
        lambda q: q.messages_ready,
    ),
    (
        "queue_messages_unacked",
        "Messages delivered to consumers but not yet acknowledged",
        lambda q: q.messages_unacknowledged,
    ),
    (
        "queue_messages",
        "Sum of ready and unacknowledged messages - total queue depth",
        lambda q: q.messages,
    ),
    ("queue_consumers", "Consumers on a queue", lambda q: q.consumer_count),
    (
        "queue_messages_ready_bytes",
        "Size in bytes of ready messages",
        lambda q: q.message_bytes_ready,
    ),
)


def _queues(ctx: Context, vhost: str | None = None) -> list[tuple[str, Queue]]:
    return [
        (name, queue)
        for name, host in ctx.broker.vhosts.items()
        if vhost is None or name == vhost
        for queue in host.queues.values()
    ]


def _core(ctx: Context, writer: _Writer, per_object: bool) -> None:
    queues = _queues(ctx)
    connections = ctx.connections()
    channels = list(ctx.channels())
    writer.family("connections", "gauge", "Connections currently open", [({}, len(connections))])
    writer.family("channels", "gauge", "Channels currently open", [({}, len(channels))])
    writer.family(
        "consumers",
        "gauge",
        "Consumers currently connected",
        [({}, sum(q.consumer_count for _, q in queues))],
    )
    writer.family("queues", "gauge", "Queues available", [({}, len(queues))])
    for name, help_text, read in _QUEUE_GAUGES:
        if per_object:
            samples = [({"vhost": v, "queue": q.name}, read(q)) for v, q in queues]
        else:
            samples = [({}, sum(read(q) for _, q in queues))]
        writer.family(name, "gauge", help_text, samples)
    if per_object:
        writer.family(
            "queue_info",
            "gauge",
            "Queue information",
            [
                (
                    {
                        "vhost": v,
                        "queue": q.name,
                        "queue_type": _QUEUE_TYPES.get(q.queue_type, q.queue_type),
                        "membership": "leader",
                    },
                    1,
                )
                for v, q in queues
            ],
        )
    channel_gauges = (
        ("channel_consumers", "Consumers on a channel", "consumer_count"),
        (
            "channel_messages_unacked",
            "Delivered but not yet acknowledged messages",
            "messages_unacknowledged",
        ),
        (
            "channel_messages_unconfirmed",
            "Published but not yet confirmed messages",
            "messages_unconfirmed",
        ),
        (
            "channel_messages_uncommitted",
            "Messages received in a transaction but not yet committed",
            "messages_uncommitted",
        ),
        (
            "channel_acks_uncommitted",
            "Message acknowledgements in a transaction not yet committed",
            "acks_uncommitted",
        ),
    )
    from amqpmodel.driver import channel_state

    states = [
        (f"{record.name} ({channel.channel_number})", channel_state(channel))
        for record, channel in channels
    ]
    for name, help_text, attribute in channel_gauges:
        if per_object:
            samples = [({"channel": label}, getattr(state, attribute)) for label, state in states]
        else:
            samples = [({}, sum(getattr(state, attribute) for _, state in states))]
        writer.family(name, "gauge", help_text, samples)
    if per_object:
        samples = [({"channel": r.name}, len(r.core.channels)) for r in connections]
    else:
        samples = [({}, sum(len(r.core.channels) for r in connections))]
    writer.family("connection_channels", "gauge", "Channels on a connection", samples)


def _process(ctx: Context, writer: _Writer) -> None:
    fd_used, fd_total = _fds()
    writer.family("process_open_fds", "gauge", "Open file descriptors", [({}, fd_used)])
    writer.family("process_max_fds", "gauge", "Open file descriptors limit", [({}, fd_total)])
    writer.family(
        "process_resident_memory_bytes", "gauge", "Memory used in bytes", [({}, _memory_used())]
    )
    writer.family(
        "resident_memory_limit_bytes",
        "gauge",
        "Memory high watermark in bytes (compared with the message bytes held)",
        [({}, ctx.broker.memory_limit)],
    )
    alarms = ctx.broker.resource_alarms  # spec 21.1, 21.2
    for name, on in (
        ("alarms_memory_used_watermark", "memory" in alarms),
        ("alarms_free_disk_space_watermark", "disk" in alarms),
        ("alarms_file_descriptor_limit", False),
    ):
        writer.family(name, "untyped", "is 1 when the alarm is in effect", [({}, int(on))])
    writer.family(
        "identity_info",
        "untyped",
        "RabbitMQ node & cluster identity info",
        [
            (
                {
                    "rabbitmq_node": ctx.node,
                    "rabbitmq_cluster": ctx.cluster_name,
                    "rabbitmq_cluster_permanent_id": f"amqpmodel-{ctx.node}",
                    "rabbitmq_endpoint": "default",
                },
                1,
            )
        ],
    )
    writer.family(
        "build_info",
        "untyped",
        "RabbitMQ & Erlang/OTP version info",
        [
            (
                {
                    "rabbitmq_version": ctx.broker.rabbitmq_version.version,
                    "prometheus_plugin_version": ctx.broker.rabbitmq_version.version,
                    "prometheus_client_version": "none",
                    "erlang_version": f"none (Python {platform.python_version()})",
                    "product_name": "amqpmodel",
                    "product_version": ctx.version,
                },
                1,
            )
        ],
    )


def _global(ctx: Context, writer: _Writer) -> None:
    """The global counters (spec 19.4) that the broker's own counters give exactly."""
    queues = _queues(ctx)
    by_type: dict[str, list[Queue]] = {label: [] for label in _QUEUE_TYPES.values()}
    for _, queue in queues:
        by_type.setdefault(_QUEUE_TYPES.get(queue.queue_type, queue.queue_type), []).append(queue)
    consumers = sum(q.consumer_count for _, q in queues)
    writer.family(
        "global_consumers",
        "gauge",
        "Current number of consumers",
        [({"protocol": "amqp091"}, consumers)],
    )
    writer.family(
        "global_messages_delivered_total",
        "counter",
        "Total number of messages delivered to consumers (basic.get included), queues that exist",
        [
            ({"protocol": "amqp091", "queue_type": t}, sum(q.stats.delivered for q in qs))
            for t, qs in by_type.items()
        ],
    )
    drops = (
        (
            "global_messages_dead_lettered_expired_total",
            "expired",
            "Total number of messages expired without a dead letter exchange",
        ),
        (
            "global_messages_dead_lettered_maxlen_total",
            "maxlen",
            "Total number of messages dropped by a length limit without a dead letter exchange",
        ),
        (
            "global_messages_dead_lettered_rejected_total",
            "rejected",
            "Total number of messages rejected without requeue and without a dead letter exchange",
        ),
    )
    for name, reason, help_text in drops:
        writer.family(
            name,
            "counter",
            help_text,
            [
                (
                    {"queue_type": t, "dead_letter_strategy": "disabled"},
                    sum(q.stats.dropped[reason] for q in qs),
                )
                for t, qs in by_type.items()
            ],
        )


def _detailed(ctx: Context, writer: _Writer, families: list[str], vhosts: list[str]) -> None:
    queues = [(v, q) for v, q in _queues(ctx) if not vhosts or v in vhosts]
    if "queue_coarse_metrics" in families:
        for name, help_text, read in _QUEUE_GAUGES[:3]:
            writer.family(
                name,
                "gauge",
                help_text,
                [({"vhost": v, "queue": q.name}, read(q)) for v, q in queues],
            )
    if "queue_consumer_count" in families:
        writer.family(
            "queue_consumers",
            "gauge",
            "Consumers on a queue",
            [({"vhost": v, "queue": q.name}, q.consumer_count) for v, q in queues],
        )


def render(ctx: Context, per_object: bool) -> str:
    writer = _Writer()
    with ctx.lock():
        _core(ctx, writer, per_object)
        _global(ctx, writer)
    _process(ctx, writer)
    return writer.text()


def _text(text: str) -> web.Response:
    return web.Response(
        text=text,
        content_type=_CONTENT_TYPE,
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@level("none")
async def metrics(request: web.Request) -> web.Response:
    return _text(render(context(request), per_object=False))


@level("none")
async def metrics_per_object(request: web.Request) -> web.Response:
    return _text(render(context(request), per_object=True))


@level("none")
async def metrics_detailed(request: web.Request) -> web.Response:
    ctx = context(request)
    writer = _Writer("rabbitmq_detailed_")
    with ctx.lock():
        _detailed(
            ctx, writer, request.query.getall("family", []), request.query.getall("vhost", [])
        )
    return _text(writer.text() if writer.lines else "")


ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/metrics", metrics),
    ("GET", "/metrics/per-object", metrics_per_object),
    ("GET", "/metrics/detailed", metrics_detailed),
]
