"""The broker-wide deadline index: every timer (message TTL heads, queue expiry) in one sorted list."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

from sortedcontainers import SortedList

__all__ = ["INFINITY", "TimerCallback", "Timers"]

INFINITY = float("inf")

TimerCallback = Callable[[float, float], None]  # (deadline, now)


class Timers:
    """Deadlines keyed by (deadline, sequence), so equal deadlines fire in scheduling order.

    A timer is a wake-up call, not a promise: the owner re-checks its own state
    when called, which makes re-arming cheap (a stale timer just does nothing).
    schedule O(log n); next deadline O(1); firing O(log n) each.

    *Coarse* timers (the once-a-minute consumer ack check, spec 0.8) fire in
    deadline order like the others, from ``tick()``, ``VirtualClock.advance``
    and the server's loop, but do not make every publish, get and ack check the
    clock: ``next``/``next_raw``, which those hot paths read, cover precise
    timers only; ``next_any`` covers both.
    """

    __slots__ = (
        "_coarse",
        "_entries",
        "_sequence",
        "next",
        "next_any",
        "next_raw",
        "on_earlier",
        "raw_offset",
    )

    def __init__(self, raw_offset: float = 0.0) -> None:
        self._entries: SortedList = SortedList()
        self._coarse: SortedList = SortedList()
        self._sequence = count()
        # the earliest precise deadline (inf when none): read on every broker call
        self.next = INFINITY
        # the same in the clock's raw units (``now() - raw_offset``), see MonotonicClock.raw
        self.raw_offset = raw_offset
        self.next_raw = INFINITY
        self.next_any = INFINITY
        # called (under the broker lock, from any thread) when the earliest deadline
        # moves earlier, so that a driver with its own timer (the server) re-arms it
        self.on_earlier: list[Callable[[], None]] = []

    def __len__(self) -> int:
        return len(self._entries) + len(self._coarse)

    def _update(self) -> None:
        entries, coarse = self._entries, self._coarse
        self.next = entries[0][0] if entries else INFINITY
        self.next_raw = self.next - self.raw_offset
        self.next_any = min(self.next, coarse[0][0]) if coarse else self.next

    def schedule(self, deadline: float, callback: TimerCallback, coarse: bool = False) -> None:
        (self._coarse if coarse else self._entries).add((deadline, next(self._sequence), callback))
        if deadline < self.next_any or (not coarse and deadline < self.next):
            earlier = deadline < self.next_any
            self._update()
            if earlier:
                for listener in self.on_earlier:
                    listener()

    def next_deadline(self) -> float | None:
        return self.next_any if self.next_any != INFINITY else None

    def fire_due(self, now: float) -> None:
        entries, coarse = self._entries, self._coarse
        while True:
            if entries and entries[0][0] <= now and (not coarse or entries[0] <= coarse[0]):
                deadline, _, callback = entries.pop(0)
            elif coarse and coarse[0][0] <= now:
                deadline, _, callback = coarse.pop(0)
            else:
                break
            self._update()
            callback(deadline, now)
        self._update()
