"""A virtual host: its exchanges, queues and bindings, routing across them, and dead-letter delivery."""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Hashable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ._deadletter import dead_letter_message, is_cycle
from ._errors import InternalError
from ._exchange import Binding, Exchange, freeze_arguments
from ._exchange_consistent_hash import ConsistentHashExchangeType
from ._exchange_delayed import DelayedMessageExchangeType
from ._exchange_random import LocalRandomExchangeType, RandomExchangeType
from ._policies import Policy
from ._properties import Message
from ._queue import Queue

if TYPE_CHECKING:
    from ._broker import Broker
    from ._channel import Channel
    from ._diagram import Topology
    from ._reply_to import ReplyConsumer

__all__ = ["VirtualHost"]

# the plugin exchange types (spec 13), registered by importing their modules, as
# a user's own type is by calling register_exchange_type
PLUGIN_EXCHANGE_TYPES = (
    DelayedMessageExchangeType,
    ConsistentHashExchangeType,
    RandomExchangeType,
    LocalRandomExchangeType,
)

# spec 1.1: predeclared in every vhost, durable, not auto-delete
_PREDECLARED = (
    ("", "direct", False),
    ("amq.direct", "direct", False),
    ("amq.fanout", "fanout", False),
    ("amq.topic", "topic", False),
    ("amq.headers", "headers", False),
    ("amq.match", "headers", False),
    ("amq.rabbitmq.trace", "topic", True),
)


class VirtualHost:
    """Entities of one vhost; the lock and the clock belong to the broker."""

    def __init__(self, broker: Broker, name: str) -> None:
        self._broker = broker
        self._timers = broker._timers
        self.name = name
        # the type of a queue declared without x-queue-type (spec 11.3); None: not set
        # (RabbitMQ 3.13 then adds no x-queue-type at all, spec 0.x.16)
        self._default_queue_type: str | None = None
        # by name (spec 14.1, 14.9); see _policies.py and Broker.set_policy
        self.policies: dict[str, Policy] = {}
        self.operator_policies: dict[str, Policy] = {}
        # the firehose tracer is on (spec 17.1; Broker.trace_on)
        self.tracing = False
        self.exchanges: dict[str, Exchange] = {}
        self.queues: dict[str, Queue] = {}
        # messages the vhost itself dropped, by reason ("unroutable", "dead_letter_unroutable", ...)
        self.dropped: Counter[str] = Counter()
        # direct reply-to consumers by their key, amq.rabbitmq.reply-to.<id>
        self._reply_consumers: dict[str, ReplyConsumer] = {}
        # published messages an exchange took to route later (x-delayed-message): their
        # publish reaches no queue now but is not a loss (spec 13.5); weak, as a
        # rolled-back transaction forgets its message
        self._held: weakref.WeakSet[Message] = weakref.WeakSet()
        for exchange_name, exchange_type, internal in _PREDECLARED:
            self.exchanges[exchange_name] = Exchange(
                exchange_name, exchange_type, durable=True, internal=internal, vhost_name=name
            )
        self.default_exchange = self.exchanges[""]

    @property
    def default_queue_type(self) -> str:
        """The type of a queue declared without ``x-queue-type`` (spec 11.3): the vhost's
        ``default_queue_type`` if one was set, else "classic"."""
        return self._default_queue_type or "classic"

    @default_queue_type.setter
    def default_queue_type(self, value: str) -> None:
        self._default_queue_type = value

    @property
    def default_queue_type_is_set(self) -> bool:
        """Whether the vhost has its own ``default_queue_type`` (RabbitMQ 3.13 adds
        ``x-queue-type`` to a declare only then, spec 0.x.16)."""
        return self._default_queue_type is not None

    def __repr__(self) -> str:
        return (
            f"<VirtualHost {self.name!r} exchanges={len(self.exchanges)} queues={len(self.queues)}>"
        )

    def topology(self) -> Topology:
        """A picture of the exchanges, queues and bindings (SVG in Jupyter, ``to_dot()``)."""
        from ._diagram import Topology

        with self._broker._lock:
            return Topology(self)

    def _repr_html_(self) -> str:
        from ._inspect import vhost_html

        return vhost_html(self)

    def describe(self, what: str, name: str) -> str:
        return f"{what} '{name}' in vhost '{self.name}'"

    @property
    def bindings(self) -> list[Binding]:
        """All bindings, as ``rabbitmqctl list_bindings`` lists them (default exchange first)."""
        result = [Binding("", name, "queue", name, {}) for name in self.queues]
        for exchange in self.exchanges.values():
            result.extend(exchange._bindings_out.values())
        return result

    def _now(self) -> float:
        return self._broker.clock.now()

    def _channels(self) -> Iterator[Channel]:
        for connection in self._broker._connections:
            if connection.vhost is self:
                yield from connection._channels.values()

    # ----------------------------------------------------------------- bindings

    @staticmethod
    def _identity(
        destination: Queue | Exchange, routing_key: str, arguments: dict[str, Any]
    ) -> Hashable:
        kind = "queue" if isinstance(destination, Queue) else "exchange"
        return (kind, destination.name, routing_key, freeze_arguments(arguments))

    def add_binding(
        self,
        source: Exchange,
        destination: Queue | Exchange,
        routing_key: str,
        arguments: dict[str, Any],
    ) -> None:
        identity = self._identity(destination, routing_key, arguments)
        if identity in source._bindings_out:
            return  # spec 1.22: binding twice creates no duplicate
        source._validate_binding(
            destination, routing_key, arguments, self._broker.rabbitmq_version
        )
        binding = Binding(
            source.name,
            destination.name,
            "queue" if isinstance(destination, Queue) else "exchange",
            routing_key,
            arguments,
        )
        source._router.bind(destination, routing_key, arguments)
        source._bindings_out[identity] = binding
        destination._bindings_in[(source.name, identity)] = binding
        journal = self._broker._journal
        if journal is not None and self._is_stored(source, destination):
            journal.binding_changed(self.name, binding, True)  # spec 22.2

    @staticmethod
    def _is_stored(source: Exchange, destination: Queue | Exchange) -> bool:
        """Whether a binding survives a restart: both ends durable (spec 22.2, 22.7)."""
        if not source.durable:
            return False
        if isinstance(destination, Queue):
            return destination._journal is not None  # durable and not exclusive
        return destination.durable

    def remove_binding(
        self,
        source: Exchange,
        destination: Queue | Exchange,
        routing_key: str,
        arguments: dict[str, Any],
    ) -> None:
        identity = self._identity(destination, routing_key, arguments)
        binding = source._bindings_out.pop(identity, None)
        if binding is None:
            return  # spec 1.22: unbinding what does not exist is fine
        source._router.unbind(destination, routing_key, arguments)
        destination._bindings_in.pop((source.name, identity), None)
        journal = self._broker._journal
        if journal is not None and self._is_stored(source, destination):
            journal.binding_changed(self.name, binding, False)
        self._maybe_auto_delete_exchange(source)

    def _maybe_auto_delete_exchange(self, exchange: Exchange) -> None:
        # spec 1.10: when its last binding as source goes
        if (
            exchange.auto_delete
            and not exchange._bindings_out
            and self.exchanges.get(exchange.name) is exchange
        ):
            self.delete_exchange(exchange)

    def _unbind_destination(self, destination: Queue | Exchange) -> None:
        sources = []
        for (source_name, identity), binding in list(destination._bindings_in.items()):
            source = self.exchanges.get(source_name)
            if source is None or source._bindings_out.pop(identity, None) is None:
                continue
            source._router.unbind(destination, binding.routing_key, binding.arguments)
            sources.append(source)
        # a store deletes the bindings of a deleted queue or exchange with it
        destination._bindings_in.clear()
        for source in sources:
            self._maybe_auto_delete_exchange(source)

    # ----------------------------------------------------------------- entities

    def delete_exchange(self, exchange: Exchange) -> None:
        if self.exchanges.get(exchange.name) is not exchange:
            return
        del self.exchanges[exchange.name]
        journal = self._broker._journal
        if journal is not None and exchange.durable:
            journal.exchange_deleted(exchange)  # its bindings go with it in the store
        for identity, binding in list(exchange._bindings_out.items()):
            destination: Queue | Exchange | None
            if binding.destination_type == "queue":
                destination = self.queues.get(binding.destination)
            else:
                destination = self.exchanges.get(binding.destination)
            if destination is not None:
                destination._bindings_in.pop((exchange.name, identity), None)
        exchange._bindings_out.clear()
        self._unbind_destination(exchange)
        exchange._deleted(self)  # what it holds is dropped, counted (x-delayed-message)

    def _delete_queue(self, queue: Queue, reason: str) -> int:
        """Delete a queue: cancel its consumers (spec 7.8), drop its ready messages."""
        if queue._deleted:
            return 0
        queue._deleted = True
        if self.queues.get(queue.name) is queue:
            del self.queues[queue.name]
        if queue._journal is not None:
            queue._journal.queue_deleted(queue)  # its messages and bindings go with it
        for consumer in list(queue._consumers):
            consumer.channel._broker_cancel(consumer)
        queue._consumers.clear()
        count = queue._ready.count
        queue._ready.clear()
        queue._ready_bytes = 0
        if count:
            queue.stats.dropped[reason] += count
        if queue.owner is not None:
            queue.owner._exclusive_queues.pop(queue.name, None)
        self._unbind_destination(queue)
        return count

    # ----------------------------------------------------------------- routing (spec 1.2, 1.21-1.24)

    def route(
        self,
        exchange: Exchange,
        routing_keys: Sequence[str],
        headers: dict[str, Any] | None,
        message: Message | None = None,
    ) -> list[Queue]:
        """The queues a message reaches, each once, following e2e bindings and alternates.

        With ``message``, an exchange whose type holds messages (x-delayed-message)
        may take it on the way: it then reaches nothing through that exchange now
        (its alternate exchange applies, spec 13.6) and ``was_held`` says so."""
        if exchange is self.default_exchange:
            queues = self.queues
            if len(routing_keys) == 1:
                queue = queues.get(routing_keys[0])
                return [queue] if queue is not None else []
            return [queues[key] for key in routing_keys if key in queues]
        found: dict[Queue, None] = {}
        held = False
        seen = {exchange}
        work = [exchange]
        exchanges = self.exchanges
        while work:
            current = work.pop()
            if current._special and message is not None:
                destinations: Any = current._route_with(self, message, routing_keys)
                if destinations is None:
                    destinations = ()
                    held = True
            else:
                destinations = current.route(routing_keys, headers)
            if not destinations and current.alternate_exchange is not None:
                alternate = exchanges.get(current.alternate_exchange)  # missing: ignored (1.23)
                destinations = (alternate,) if alternate is not None else ()
            for destination in destinations:
                if isinstance(destination, Queue):
                    found[destination] = None
                elif destination not in seen:
                    seen.add(destination)
                    work.append(destination)
        if held and not found:
            self._held.add(message)  # type: ignore[arg-type]
        return list(found)

    def was_held(self, message: Message) -> bool:
        """Whether an exchange took ``message`` to route later (then a publish that
        reached no queue is not a loss, spec 13.5); forgets it."""
        if message in self._held:
            self._held.discard(message)
            return True
        return False

    def route_held(
        self,
        exchange: Exchange,
        message: Message,
        routing_keys: Sequence[str],
        ttl_ms: int | None,
        now: float,
    ) -> bool:
        """Route a message an exchange held (x-delayed-message at due time, spec 13.7):
        with the bindings existing now, alternate exchange included; no confirm,
        return or trace follows. False (and counted as ``delayed_unroutable``) when
        it reaches no queue."""
        queues = self.route(exchange, routing_keys, message.properties.headers, message)
        if not queues:
            if self.was_held(message):
                return True  # another delayed exchange on the path took it
            self.dropped["delayed_unroutable"] += 1
            if self._broker._losses is not None:
                self._broker._losses.record(
                    "delayed_unroutable",
                    self.name,
                    message,
                    f"delayed by exchange {exchange.name!r}; when due it routed to no queue: "
                    "dropped",
                )
            return False
        if len(queues) == 1:
            queues[0]._publish(message, ttl_ms, now, True)
        else:
            for queue in queues:
                queue._publish(message, ttl_ms, now)
        return True

    # ----------------------------------------------------------------- dead-lettering (spec 4)

    def _dead_letter(
        self, queue: Queue, message: Message, reason: str, now: float, confirmed: bool = False
    ) -> bool:
        """Route a dead-lettered copy (spec 4.2-4.7); whether every target queue took it.

        ``confirmed`` (a quorum queue's at-least-once strategy, 11.19): a failure is
        not counted as a drop, as the queue keeps the message and tries again."""
        args = queue._args
        assert args.dead_letter_exchange is not None
        exchange = self.exchanges.get(args.dead_letter_exchange)
        if exchange is None:
            if confirmed:
                return False
            self.dropped["dead_letter_exchange_missing"] += 1  # spec 4.2: dropped silently
            if self._broker._losses is not None:
                self._broker._losses.record(
                    "dead_letter_exchange_missing",
                    self.name,
                    message,
                    f"dead-lettered ({reason}) from queue {queue.name!r} to exchange "
                    f"{args.dead_letter_exchange!r}, which does not exist: dropped",
                )
            return False
        dead, keys = dead_letter_message(
            message,
            queue.name,
            reason,
            now,
            exchange.name,
            args.dead_letter_routing_key,
            self._broker.rabbitmq_version.client_x_death,  # spec 0.x.4
        )
        try:
            targets = self.route(exchange, keys, dead.properties.headers, dead)
        except InternalError:  # an x-delay a delayed exchange cannot read: routed at once
            targets = self.route(exchange, keys, dead.properties.headers)
        if not targets and self.was_held(dead):
            return True  # a delayed exchange took it (spec 13.7)
        if reason != "rejected":
            kept = [target for target in targets if not is_cycle(target.name, dead)]
            self.dropped["dead_letter_cycle"] += len(targets) - len(kept)
            targets = kept
        if not targets:
            if confirmed:
                return False
            self.dropped["dead_letter_unroutable"] += 1
            if self._broker._losses is not None:
                self._broker._losses.record(
                    "dead_letter_unroutable",
                    self.name,
                    message,
                    f"dead-lettered ({reason}) from queue {queue.name!r} to exchange "
                    f"{exchange.name!r}, which routed it to no queue: dropped",
                )
            return False
        only_queue = len(targets) == 1 and not confirmed
        taken = True
        for target in targets:
            taken = target._publish(dead, None, now, only_queue, confirmed) and taken
        return taken
