"""The x-delayed-message exchange type (plugin rabbitmq_delayed_message_exchange, spec 13.1-13.10).

A message with a positive ``x-delay`` header is held by the exchange and
routed when due, by the rules of the type named in ``x-delayed-type``, with
the bindings existing then (13.7). Time is the broker's clock: a held
message is one entry in a per-exchange bucket keyed by its due millisecond,
and the exchange keeps one timer, for its earliest bucket, in the broker's
deadline index (``_timers.py``). So ``VirtualClock.advance`` releases
messages at once, and with a real clock the drivers that call
``broker.tick()`` at ``broker.next_deadline()`` (the socket server, the pika
drop-in's loop) release them on time.

Holding costs O(1) per message (a list append; a heap push per new due
millisecond) and releasing O(1) per message plus O(log b) per bucket, so a
release of a million messages costs per message what one of ten thousand
does (``benchmarks/delayed.py``).
"""

from __future__ import annotations

import gc
import heapq
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import InternalError, PreconditionFailed
from ._exchange import (
    Destination,
    ExchangeType,
    ExchangeTypeBase,
    exchange_type_factory,
    register_exchange_type,
)
from ._field_values import TAGGED_INTS, TaggedInt
from ._properties import BasicProperties, Message, with_headers
from ._timers import INFINITY
from ._validation import parse_expiration

if TYPE_CHECKING:
    from ._exchange import Exchange
    from ._version import RabbitMQVersion
    from ._vhost import VirtualHost

__all__ = ["MAX_DELAY", "DelayedMessageExchangeType", "HeldMessage", "delay_of"]

TYPE_NAME = "x-delayed-message"
MAX_DELAY = 4294967295  # milliseconds; a larger x-delay is no delay (spec 13.4)
# the integer types used as they are (13.3): long, short, unsigned byte, short and int;
# a plain int is what a signed int ('I') decodes to
_INTEGER_TAGS = frozenset({b"l", b"s", b"B", b"u", b"i"})
_DECIMAL = re.compile(r"[+-]?[0-9]+\Z")  # Erlang's binary_to_integer
_LONG = TAGGED_INTS[b"l"]
_GC_PAUSE_AT = 1000  # a release this large pauses the cyclic collector (see _release)

HeldMessage = tuple[Message, tuple[str, ...], int, int]  # message, routing keys, seq, delay


def delay_of(headers: dict[str, Any] | None) -> int | None:
    """The delay in milliseconds that header ``x-delay`` asks for; None for no delay
    (routed at once, 13.4). A longstr that is not a decimal integer raises 541 (13.4)."""
    if not headers:
        return None
    value = headers.get("x-delay")
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        if isinstance(value, TaggedInt) and value.amqp_tag not in _INTEGER_TAGS:
            return None  # a signed byte ('b') is not a delay (13.3)
        delay = int(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        delay = int(value)  # truncated (13.3)
    elif isinstance(value, (str, bytes)):
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if not _DECIMAL.match(text):
            raise InternalError()  # the plugin's routing crashes (13.4)
        delay = int(text)
    else:
        return None
    return delay if 0 < delay <= MAX_DELAY else None


class DelayedMessageExchangeType(ExchangeTypeBase):
    """Holds delayed messages until due, then routes them by ``x-delayed-type``.

    Accounting (``check``): every message held is, at any moment, still held,
    released (routed when due: delivered, or dropped as ``delayed_unroutable``
    by the vhost) or dropped with its exchange (``delayed_exchange_deleted``).
    """

    __slots__ = (
        "_armed",
        "_buckets",
        "_deleted",
        "_due",
        "_exchange",
        "_inner",
        "_inner_route_message",
        "_vhost",
        "dropped",
        "messages_held",
        "received",
        "released",
    )

    def __init__(self) -> None:
        self._inner: ExchangeType = ExchangeTypeBase()
        self._inner_route_message: Any = None
        # due millisecond -> messages due then, in publish order (13.9)
        self._buckets: dict[int, list[HeldMessage]] = {}
        self._due: list[int] = []  # heap of the buckets' due milliseconds
        self._armed = INFINITY  # the deadline of this exchange's timer
        self._vhost: VirtualHost | None = None
        self._exchange: Exchange | None = None
        self._deleted = False
        self.messages_held = 0
        self.received = 0
        self.released = 0
        self.dropped = 0

    # ----------------------------------------------------------------- declare and bindings

    def declared(self, exchange: Exchange) -> None:
        value = exchange.arguments.get("x-delayed-type")
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            raise PreconditionFailed(
                "Invalid argument, 'x-delayed-type' must be an existing exchange type"
            )  # spec 13.2
        if value == TYPE_NAME:
            raise PreconditionFailed(
                "Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'"
            )
        factory = exchange_type_factory(value)
        if factory is None:
            raise PreconditionFailed(f"unknown exchange type '{value}'")
        inner = factory()
        inner_declared = getattr(inner, "declared", None)
        if inner_declared is not None:
            inner_declared(exchange)  # the routing type's own arguments (hash-header...)
        self._inner = inner
        self._inner_route_message = getattr(inner, "route_message", None)
        self._exchange = exchange

    def validate_binding(self, routing_key: str, arguments: dict[str, Any]) -> None:
        self._inner.validate_binding(routing_key, arguments)  # spec 13.1

    def validate_destination(
        self, destination: Destination, routing_key: str, arguments: dict[str, Any]
    ) -> None:
        validate = getattr(self._inner, "validate_destination", None)
        if validate is not None:
            validate(destination, routing_key, arguments)

    def validate_binding_for_version(
        self, version: RabbitMQVersion, routing_key: str, arguments: dict[str, Any]
    ) -> None:
        validate = getattr(self._inner, "validate_binding_for_version", None)
        if validate is not None:
            validate(version, routing_key, arguments)  # the routing type's (13.1)

    def bind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        self._inner.bind(destination, routing_key, arguments)

    def unbind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        self._inner.unbind(destination, routing_key, arguments)

    def route(
        self, routing_keys: Sequence[str], headers: dict[str, Any] | None
    ) -> Iterable[Destination]:
        return self._inner.route(routing_keys, headers)

    def route_message(self, routing_keys: Sequence[str], message: Message) -> Iterable[Destination]:
        if self._inner_route_message is not None:
            result: Iterable[Destination] = self._inner_route_message(routing_keys, message)
            return result
        return self._inner.route(routing_keys, message.properties.headers)

    # ----------------------------------------------------------------- holding (13.5-13.9)

    def hold(
        self, vhost: VirtualHost, exchange: Exchange, message: Message, routing_keys: Sequence[str]
    ) -> bool:
        delay = delay_of(message.properties.headers)
        if delay is None:
            return False  # routed at once by the x-delayed-type rules (13.4)
        broker = vhost._broker
        due = math.floor(broker.clock.now() * 1000) + delay  # whole milliseconds, as the plugin
        seq = next(broker._sequence)
        keys = tuple(routing_keys)
        self._add(vhost, exchange, (message, keys, seq, delay), due)
        self.received += 1
        journal = broker._journal
        if journal is not None:
            journal.delayed_held(exchange, seq, due, delay, message, keys)  # spec 13.10
        return True

    def _add(self, vhost: VirtualHost, exchange: Exchange, held: HeldMessage, due: int) -> None:
        self._vhost = vhost
        self._exchange = exchange
        bucket = self._buckets.get(due)
        if bucket is None:
            self._buckets[due] = [held]
            heapq.heappush(self._due, due)
            deadline = due / 1000.0
            if deadline < self._armed:
                self._armed = deadline
                vhost._timers.schedule(deadline, self._on_timer)
        else:
            bucket.append(held)
        self.messages_held += 1

    def restore(self, vhost: VirtualHost, exchange: Exchange, held: HeldMessage, due: int) -> None:
        """A held message read back from the store (13.10); one overdue is released at
        the next tick."""
        self._add(vhost, exchange, held, due)
        self.received += 1

    def _on_timer(self, deadline: float, now: float) -> None:
        if deadline != self._armed:
            return  # stale: a later timer replaced it
        self._armed = INFINITY
        vhost, exchange = self._vhost, self._exchange
        if self._deleted or vhost is None or exchange is None:
            return
        if vhost._broker.vhosts.get(vhost.name) is not vhost:
            self.deleted(vhost, exchange)  # its virtual host was deleted, with it
            return
        self._release(vhost, exchange, now)
        if self._due and not self._deleted:
            self._armed = self._due[0] / 1000.0
            vhost._timers.schedule(self._armed, self._on_timer)

    def _release(self, vhost: VirtualHost, exchange: Exchange, now: float) -> None:
        """Route every message due by ``now``, earliest bucket first (13.9)."""
        due_heap, buckets = self._due, self._buckets
        journal = vhost._broker._journal
        # messages published with the same properties share one negated header (13.8)
        negated: dict[tuple[int, int], BasicProperties] = {}
        route_held = vhost.route_held
        paused_gc = False
        released = 0
        try:
            while due_heap and due_heap[0] / 1000.0 <= now and not self._deleted:
                bucket = buckets.pop(heapq.heappop(due_heap))
                if journal is not None:
                    journal.delayed_released([held[2] for held in bucket])
                for message, keys, _, delay in bucket:
                    props = message.properties
                    cache_key = (id(props), delay)
                    delivered = negated.get(cache_key)
                    if delivered is None:
                        headers = dict(props.headers or {})
                        headers["x-delay"] = _LONG(-delay)  # spec 13.8
                        delivered = negated[cache_key] = with_headers(props, headers)
                    ttl_ms = (
                        parse_expiration(delivered.expiration)
                        if delivered.expiration is not None
                        else None
                    )
                    route_held(
                        exchange,
                        Message(
                            message.exchange,
                            message.routing_key,
                            delivered,
                            message.body,
                            message.annotations,
                        ),
                        keys,
                        ttl_ms,
                        now,
                    )
                    released += 1
                    if released == _GC_PAUSE_AT and gc.isenabled():
                        # as a mass expiry: many new objects, no cycles (docs/design.md)
                        gc.disable()
                        paused_gc = True
                self.messages_held -= len(bucket)
                self.released += len(bucket)
        finally:
            if paused_gc:
                gc.enable()

    # ----------------------------------------------------------------- deletion and checks

    def deleted(self, vhost: VirtualHost, exchange: Exchange) -> None:
        """The plugin drops what a deleted exchange held; counted as
        ``delayed_exchange_deleted`` in the vhost's ``dropped``."""
        self._deleted = True
        count = self.messages_held
        self._buckets.clear()
        self._due.clear()
        self.messages_held = 0
        if count:
            self.dropped += count
            vhost.dropped["delayed_exchange_deleted"] += count
        journal = vhost._broker._journal
        if journal is not None:
            journal.delayed_exchange_deleted(exchange)

    def held(self) -> list[tuple[float, Message]]:
        """(due time in clock seconds, message) of every held message, due order."""
        return [
            (due / 1000.0, held[0]) for due in sorted(self._buckets) for held in self._buckets[due]
        ]

    def check(self) -> None:
        """Assert the accounting identity (see the class docstring)."""
        held = sum(len(bucket) for bucket in self._buckets.values())
        assert held == self.messages_held, f"delayed: {held} held != {self.messages_held}"
        assert len(self._due) == len(self._buckets), "delayed: heap and buckets disagree"
        assert self.received == self.released + self.dropped + self.messages_held, (
            f"delayed accounting: received {self.received} != released {self.released} "
            f"+ dropped {self.dropped} + held {self.messages_held}"
        )


register_exchange_type(TYPE_NAME, DelayedMessageExchangeType)
