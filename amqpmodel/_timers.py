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
    """

    __slots__ = ("_entries", "_sequence", "next")

    def __init__(self) -> None:
        self._entries: SortedList = SortedList()
        self._sequence = count()
        # the earliest deadline (inf when none): read on every broker call, so an attribute
        self.next = INFINITY

    def __len__(self) -> int:
        return len(self._entries)

    def schedule(self, deadline: float, callback: TimerCallback) -> None:
        self._entries.add((deadline, next(self._sequence), callback))
        if deadline < self.next:
            self.next = deadline

    def next_deadline(self) -> float | None:
        return self._entries[0][0] if self._entries else None

    def fire_due(self, now: float) -> None:
        entries = self._entries
        while entries and entries[0][0] <= now:
            deadline, _, callback = entries.pop(0)
            self.next = entries[0][0] if entries else INFINITY
            callback(deadline, now)
        self.next = entries[0][0] if entries else INFINITY
