"""The x-consistent-hash exchange type (plugin rabbitmq_consistent_hash_exchange, spec 13.11-13.16).

Each destination owns ``weight`` consecutive buckets of a ring of
W = sum of weights buckets (spec 13.15); a message's hashed value picks one
bucket with jump consistent hashing (Lamping and Veach, "A Fast, Minimal
Memory, Consistent Hash Algorithm", 2014), so adding a destination moves only
the keys that land in its new buckets.

Model rule 13.16: RabbitMQ turns the value into an integer with Erlang's
``phash2``, which Python does not have. Here the stable hash is: an integer
header value as it is (modulo 2**64); anything else as the first 8 bytes,
big-endian, of its BLAKE2b digest (text as UTF-8, bytes as they are, other
values by their ``repr``); a message lacking the header or property hashes
as 0, so all of those go to one fixed destination (13.13). The same key
therefore picks the same destination in every run, but not the one RabbitMQ
would pick; tests must assert only one destination per message, stability
and proportional shares.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import PreconditionFailed
from ._exchange import Destination, ExchangeTypeBase, register_exchange_type

if TYPE_CHECKING:
    from ._exchange import Exchange
    from ._properties import Message
    from ._version import RabbitMQVersion

__all__ = ["ConsistentHashExchangeType", "jump_consistent_hash", "stable_hash"]

MAX_WEIGHT = 10000  # spec 13.11 (from 4.2.6: RabbitMQVersion.consistent_hash_max_weight)
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")  # what Erlang's binary_to_integer accepts
_HASH_PROPERTIES = ("message_id", "correlation_id", "timestamp")
_MASK = (1 << 64) - 1


def jump_consistent_hash(key: int, buckets: int) -> int:
    """The bucket in ``range(buckets)`` for a 64-bit ``key`` (Lamping-Veach): when
    ``buckets`` grows by one, only about 1/buckets of the keys move, all to the new one."""
    key &= _MASK
    bucket, jump = -1, 0
    while jump < buckets:
        bucket = jump
        key = (key * 2862933555777941757 + 1) & _MASK
        jump = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def stable_hash(value: Any) -> int:
    """The documented hash of 13.16 (see the module docstring)."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value & _MASK
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogateescape")
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        data = repr(value).encode("utf-8", "backslashreplace")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _erlang_binary(text: str) -> str:
    return "<<>>" if text == "" else f'<<"{text}">>'


def parse_weight(routing_key: str, max_weight: int | None = None) -> int:
    """A binding key as a weight, or the 406 RabbitMQ gives (spec 13.11); above
    ``max_weight`` refused too (4.2.6+, spec 0.x.23)."""
    if not _INTEGER.match(routing_key):
        raise PreconditionFailed(
            f"The binding key must be an integer: {_erlang_binary(routing_key)}"
        )
    weight = int(routing_key)
    if weight < 1:
        raise PreconditionFailed("The binding key must be greater than 0")
    if max_weight is not None and weight > max_weight:
        raise PreconditionFailed(f"The binding key must not exceed {max_weight}")
    return weight


class ConsistentHashExchangeType(ExchangeTypeBase):
    """One destination per message, picked on a weighted ring (spec 13.12-13.15)."""

    __slots__ = ("_bounds", "_destinations", "_hash_header", "_hash_property", "_weights")

    def __init__(self) -> None:
        # destinations in the order they joined the ring, with their weights (13.15)
        self._destinations: list[Destination] = []
        self._weights: dict[Destination, int] = {}
        # _bounds[i]: the first bucket after destination i's buckets
        self._bounds: list[int] = []
        self._hash_header: str | None = None
        self._hash_property: str | None = None

    def declared(self, exchange: Exchange) -> None:
        arguments = exchange.arguments
        header = _text(arguments.get("hash-header"))
        prop = _text(arguments.get("hash-property"))
        if header is not None and prop is not None:
            raise PreconditionFailed("hash-header and hash-property are mutually exclusive")
        if prop is not None and prop not in _HASH_PROPERTIES:
            raise PreconditionFailed(f"Unsupported property: {prop}")  # spec 13.14
        self._hash_header = header
        self._hash_property = prop

    def validate_binding(self, routing_key: str, arguments: dict[str, Any]) -> None:
        parse_weight(routing_key)

    def validate_binding_for_version(
        self, version: RabbitMQVersion, routing_key: str, arguments: dict[str, Any]
    ) -> None:
        parse_weight(routing_key, version.consistent_hash_max_weight)  # spec 0.x.23

    def bind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        if destination in self._weights:
            return  # spec 13.12: only its first binding counts
        self._weights[destination] = parse_weight(routing_key)
        self._destinations.append(destination)
        self._rebuild()

    def unbind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        # spec 13.12: removing any of its bindings takes the destination off the ring,
        # and its buckets go, later ones shifting down (13.15)
        if self._weights.pop(destination, None) is not None:
            self._destinations.remove(destination)
            self._rebuild()

    def _rebuild(self) -> None:
        total = 0
        bounds = []
        for destination in self._destinations:
            total += self._weights[destination]
            bounds.append(total)
        self._bounds = bounds

    def _pick(self, value: Any) -> Iterable[Destination]:
        bounds = self._bounds
        if not bounds:
            return ()  # spec 13.12: no bindings, unroutable
        bucket = jump_consistent_hash(stable_hash(value), bounds[-1])
        return (self._destinations[bisect_right(bounds, bucket)],)

    def route(
        self, routing_keys: Sequence[str], headers: dict[str, Any] | None
    ) -> Iterable[Destination]:
        if self._hash_header is not None:
            return self._pick(headers.get(self._hash_header) if headers else None)
        if self._hash_property is not None:
            return self._pick(None)  # no properties on this path: "missing" (13.13)
        return self._pick(routing_keys[0])  # spec 13.13: the publish key, CC ignored

    def route_message(self, routing_keys: Sequence[str], message: Message) -> Iterable[Destination]:
        prop = self._hash_property
        if prop is None:
            return self.route(routing_keys, message.properties.headers)
        value = getattr(message.properties, prop)
        if prop == "timestamp" and value is not None:
            # seconds as a decimal string (13.13)
            if isinstance(value, int):
                seconds = value
            elif value.tzinfo is None:  # naive: UTC, as AMQP timestamps are
                seconds = calendar.timegm(value.timetuple())
            else:
                seconds = int(value.timestamp())
            value = str(seconds)
        return self._pick(value)

    @property
    def ring(self) -> list[tuple[Destination, int]]:
        """The destinations on the ring with their weights, in bucket order."""
        return [(d, self._weights[d]) for d in self._destinations]


register_exchange_type("x-consistent-hash", ConsistentHashExchangeType)
