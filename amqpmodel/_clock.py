"""Clocks: where the broker's time comes from (real, or virtual for tests)."""

from __future__ import annotations

import time
import weakref
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ._broker import Broker

__all__ = ["Clock", "MonotonicClock", "VirtualClock"]


@runtime_checkable
class Clock(Protocol):
    """Seconds since the Unix epoch; never goes backwards."""

    def now(self) -> float: ...


class MonotonicClock:
    """Wall-clock time that cannot step backwards (monotonic, anchored at creation)."""

    __slots__ = ("raw_offset",)

    # ``now() == raw() + raw_offset``: the broker's hot paths compare deadlines
    # with ``raw()``, a C function, instead of calling ``now()`` (a Python frame)
    raw = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self.raw_offset = time.time() - time.monotonic()

    def now(self) -> float:
        return time.monotonic() + self.raw_offset

    def __repr__(self) -> str:
        return f"MonotonicClock(now={self.now():.3f})"


class VirtualClock:
    """Time that moves only when a test says so.

    ``advance(seconds)`` steps time forward through every deadline that falls
    in the interval, in deadline order, settling each (TTL expiry, dead-letters,
    queue expiry) at the instant it is due, so a 30-minute TTL is tested in
    microseconds and the timestamps in ``x-death`` are the instants of death.
    """

    __slots__ = ("_brokers", "_now", "__weakref__")

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._brokers: weakref.WeakSet[Broker] = weakref.WeakSet()

    def now(self) -> float:
        return self._now

    def _attach(self, broker: Broker) -> None:
        self._brokers.add(broker)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, settling everything due on the way."""
        if seconds < 0:
            raise ValueError("a VirtualClock cannot go backwards")
        target = self._now + seconds
        while True:
            due = [
                (deadline, broker)
                for broker in list(self._brokers)
                if (deadline := broker._next_deadline()) is not None and deadline <= target
            ]
            if not due:
                break
            deadline = min(d for d, _ in due)
            if deadline > self._now:
                self._now = deadline
            for _, broker in due:
                broker.tick()
        self._now = target
        for broker in list(self._brokers):
            broker.tick()

    def set(self, when: float) -> None:
        """Move time forward to the absolute instant ``when``."""
        self.advance(when - self._now)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now})"
