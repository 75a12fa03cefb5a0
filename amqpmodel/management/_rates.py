"""Message rates as RabbitMQ's ``message_stats`` (spec 18.9, 18.10): counters the broker
keeps anyway, sampled now and then (every 5 s, RabbitMQ's
``collect_statistics_interval``), never counted per message here.

A queue's counts come from ``Queue.stats``: ``publish`` (messages routed into it,
``enqueued``), ``deliver_get`` (deliveries and basic.get-oks, ``delivered``) and
``ack`` (``acked``, which also counts automatic acknowledgements). A channel's
``deliver_get`` is its delivery-tag count, and a confirming channel's ``publish`` its
publish sequence. Rates are the change between the last two samples divided by
the broker-clock time between them, so a ``VirtualClock`` gives exact rates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from amqpmodel import Broker, Channel, Queue
from amqpmodel.driver import channel_state, inspection_lock

if TYPE_CHECKING:
    from amqpmodel.driver import ChannelState

__all__ = ["QUEUE_STATS", "Rates"]

QUEUE_STATS = ("publish", "deliver_get", "ack")


def queue_counts(queue: Queue) -> tuple[int, ...]:
    stats = queue.stats
    return (stats.enqueued, stats.delivered, stats.acked)


def channel_counts(state: ChannelState) -> tuple[int, ...]:
    return (state.publishes_confirmed if state.confirm else 0, state.deliveries)


class _Series:
    """The last sample of one object's counters and the rates it gave."""

    __slots__ = ("counts", "rates", "vhost")

    def __init__(self, counts: tuple[int, ...], rates: tuple[float, ...], vhost: str) -> None:
        self.counts = counts
        self.rates = rates
        self.vhost = vhost


def message_stats(
    names: tuple[str, ...], counts: tuple[int, ...], rates: tuple[float, ...]
) -> dict[str, Any]:
    """RabbitMQ's shape: ``{"publish": N, "publish_details": {"rate": R}, ...}``."""
    stats: dict[str, Any] = {}
    for name, count, rate in zip(names, counts, rates, strict=True):
        stats[name] = count
        stats[f"{name}_details"] = {"rate": round(rate, 1)}
    return stats


class Rates:
    """The sampler: ``sample()`` on a timer; the readers below answer at any time."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._last: float | None = None
        self._queues: dict[Queue, _Series] = {}
        self._channels: dict[Channel, _Series] = {}
        # counts of queues deleted since the start, as of their last sample
        self._retired = [0] * len(QUEUE_STATS)
        self._retired_by_vhost: dict[str, list[int]] = {}

    def sample(self) -> None:
        """Read every queue's and channel's counters once: O(queues + channels)."""
        broker = self._broker
        with inspection_lock(broker):
            now = broker.clock.now()
            last = self._last
            if last is not None and now <= last:
                return  # a clock that has not moved (VirtualClock): nothing to divide by
            elapsed = now - last if last is not None else None
            seen: dict[Queue, _Series] = {}
            for vhost in broker.vhosts.values():
                for queue in vhost.queues.values():
                    counts = queue_counts(queue)
                    seen[queue] = _Series(
                        counts, self._rates(self._queues.get(queue), counts, elapsed), vhost.name
                    )
            for queue, series in self._queues.items():
                if queue not in seen:
                    self._retire(series)
            self._queues = seen
            channels: dict[Channel, _Series] = {}
            for connection in broker.connections:
                for channel in connection.channels.values():
                    if channel.is_open:
                        counts = channel_counts(channel_state(channel))
                        channels[channel] = _Series(
                            counts,
                            self._rates(self._channels.get(channel), counts, elapsed),
                            connection.vhost.name,
                        )
            self._channels = channels
            self._last = now

    @staticmethod
    def _rates(
        previous: _Series | None, counts: tuple[int, ...], elapsed: float | None
    ) -> tuple[float, ...]:
        if elapsed is None:
            return (0.0,) * len(counts)
        before = previous.counts if previous is not None else (0,) * len(counts)
        return tuple(max(0, now - then) / elapsed for now, then in zip(counts, before, strict=True))

    def _retire(self, series: _Series) -> None:
        by_vhost = self._retired_by_vhost.setdefault(series.vhost, [0] * len(QUEUE_STATS))
        for index, count in enumerate(series.counts):
            self._retired[index] += count
            by_vhost[index] += count

    # ----------------------------------------------------------------- readers

    def queue(self, queue: Queue) -> dict[str, Any]:
        """A queue's ``message_stats``; {} before it has seen any message (as RabbitMQ)."""
        counts = queue_counts(queue)
        if not any(counts):
            return {}
        series = self._queues.get(queue)
        rates = series.rates if series is not None else (0.0,) * len(counts)
        return message_stats(QUEUE_STATS, counts, rates)

    def channel(self, channel: Channel, state: ChannelState) -> dict[str, Any]:
        counts = channel_counts(state)
        series = self._channels.get(channel)
        rates = series.rates if series is not None else (0.0,) * len(counts)
        names = ("publish", "deliver_get") if state.confirm else ("deliver_get",)
        if not state.confirm:
            counts, rates = counts[1:], rates[1:]
        if not any(counts):
            return {}
        return message_stats(names, counts, rates)

    def totals(self, vhost: str | None = None) -> dict[str, Any]:
        """The broker's (or one vhost's) ``message_stats``: every queue's, deleted ones
        included as of their last sample."""
        counts = list(self._retired if vhost is None else self._retired_by_vhost.get(vhost, []))
        counts = counts or [0] * len(QUEUE_STATS)
        rates = [0.0] * len(QUEUE_STATS)
        with inspection_lock(self._broker):
            hosts = [
                host for name, host in self._broker.vhosts.items() if vhost is None or name == vhost
            ]
            for host in hosts:
                for queue in host.queues.values():
                    for index, count in enumerate(queue_counts(queue)):
                        counts[index] += count
                    series = self._queues.get(queue)
                    if series is not None:
                        for index, rate in enumerate(series.rates):
                            rates[index] += rate
        return message_stats(QUEUE_STATS, tuple(counts), tuple(rates))
