"""The x-random (plugin rabbitmq_random_exchange, spec 13.17) and x-local-random (core 4.0+, 13.18-13.19) exchange types.

Both send each message to one destination picked at random; they differ in
what they pick among (x-random: every binding, so a destination bound twice
is twice as likely; x-local-random: every bound queue once) and in what
they accept as a binding. The picks come from ``RANDOM``, a
``random.Random`` a test may seed (``amqpmodel._exchange_random.RANDOM.seed(1)``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

from ._errors import PreconditionFailed
from ._exchange import Destination, Exchange, ExchangeTypeBase, register_exchange_type

__all__ = ["RANDOM", "LocalRandomExchangeType", "RandomExchangeType"]

RANDOM = random.Random()


class _OneOf(ExchangeTypeBase):
    """A list of candidates with repeats, one picked uniformly per message."""

    __slots__ = ("_candidates",)

    def __init__(self) -> None:
        self._candidates: list[Destination] = []

    def route(
        self, routing_keys: Sequence[str], headers: dict[str, Any] | None
    ) -> Iterable[Destination]:
        candidates = self._candidates
        if not candidates:
            return ()  # no bindings: unroutable (13.17, 13.19)
        return (candidates[int(RANDOM.random() * len(candidates))],)


class RandomExchangeType(_OneOf):
    """One binding picked uniformly per message; keys ignored, nothing refused (13.17)."""

    __slots__ = ()

    def bind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        self._candidates.append(destination)

    def unbind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        if destination in self._candidates:
            self._candidates.remove(destination)  # bindings to one destination are alike


class LocalRandomExchangeType(_OneOf):
    """One bound classic queue picked uniformly per message (13.18, 13.19).

    A single node has only local queues, so every bound queue is a candidate.
    ``local_random_exchange_enabled = false`` (13.19) has no counterpart: the
    type is always enabled."""

    __slots__ = ("_bindings",)

    def __init__(self) -> None:
        super().__init__()
        self._bindings: dict[Destination, int] = {}

    def validate_binding(self, routing_key: str, arguments: dict[str, Any]) -> None:
        if routing_key != "":
            raise PreconditionFailed(f"Non empty binding '{routing_key}' key not permitted")

    def validate_destination(
        self, destination: Destination, routing_key: str, arguments: dict[str, Any]
    ) -> None:
        if isinstance(destination, Exchange):
            raise PreconditionFailed("Destination not found")  # spec 13.18
        queue_type = destination.arguments.get("x-queue-type", "classic")
        if isinstance(queue_type, bytes):
            queue_type = queue_type.decode("utf-8", "replace")
        if queue_type != "classic":
            raise PreconditionFailed(
                f"Queue type rabbit_{queue_type}_queue not valid for this exchange type"
            )

    def bind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        count = self._bindings.get(destination, 0)
        self._bindings[destination] = count + 1
        if not count:
            self._candidates.append(destination)

    def unbind(self, destination: Destination, routing_key: str, arguments: dict[str, Any]) -> None:
        count = self._bindings.get(destination, 0)
        if count > 1:
            self._bindings[destination] = count - 1
        elif count == 1:
            del self._bindings[destination]
            self._candidates.remove(destination)


register_exchange_type("x-random", RandomExchangeType)
register_exchange_type("x-local-random", LocalRandomExchangeType)
