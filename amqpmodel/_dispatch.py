"""Which consumer of a queue gets the next message (spec 7.4, 7.5, 7.6), in O(log n) per delivery.

The rule is the plain one: consumers in a list, highest ``x-priority`` first;
the first with room takes the message and moves behind the others of its
priority (7.4); with single active consumer only the head receives (7.6).
Scanning that list costs one look per consumer blocked by its prefetch, on
every publish: with 30 000 full consumers, 1.5 ms per message. So here:

- A consumer's place in the list is a key ``(-priority, position)``; moving it
  behind its priority means a new, larger position. The consumers with
  (possibly) room sit in a heap by key, so the head of the list with room is
  the top of the heap.
- A consumer found without room leaves the heap, keeping its key, until
  something gives it credit; it then goes back to the very place it had:
  its own prefetch full (``FULL``) waits for an ack of its own; held by its
  channel (the global prefetch, or a paused connection) it waits in that
  channel's ``Waitlist`` for this queue. A waitlist whose channel gives credit
  goes back into the heap as one entry keyed by its first consumer (a merge of
  two sorted sequences), so freeing one global credit costs O(log n), not a
  push per consumer of the channel.
- Entries are checked when they reach the top of the heap and dropped if out
  of date (cancelled consumers, a waitlist set aside again): removal is O(1),
  and the heap is compacted when most of it is out of date.

Every consumer is examined once per delivery to it, per credit it gets and
per registration, so a delivery costs O(log n) amortized whatever the number
of blocked consumers. The observable order is exactly the list rule's
(``tests/core/test_dispatch_model.py`` checks it against a model).

A queue with one consumer keeps no heap: the consumer is ``single`` and is
asked directly, as the ordinary publish-deliver-ack path wants.
"""

from __future__ import annotations

from collections.abc import Iterator
from heapq import heapify, heappop, heappush, heapreplace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._channel import Channel
    from ._consumer import Consumer

__all__ = [
    "FULL",
    "LISTED",
    "REMOVED",
    "SINGLE",
    "WAITING",
    "RoundRobinConsumers",
    "SingleActiveConsumers",
    "Waitlist",
    "release",
]

# Consumer._state: where a consumer of a round-robin queue is
SINGLE = 0  # the queue's only consumer (or any consumer of a single-active-consumer queue)
LISTED = 1  # in the queue's heap
FULL = 2  # its own prefetch is full: out until an ack of its own (spec 7.5)
WAITING = 3  # in a waitlist: held by its channel (global prefetch, pause)
REMOVED = 4  # cancelled: any entry left for it is out of date

# Waitlist.reason
PREFETCH = 0  # the channel's global prefetch is used up (spec 7.5)
PAUSE = 1  # the connection's deliveries are paused (flow control)

_COMPACT_AT = 64  # out-of-date entries tolerated before compacting (if also half the heap)

Entry = tuple[int, int, Any]  # (-priority, position, Consumer | Waitlist)


class Waitlist:
    """A channel's consumers on one queue held back by the channel for one reason.

    ``entry`` is the heap entry standing for them while the channel has
    credit (None while it has none: the list is then ``held`` by the channel).
    """

    __slots__ = ("channel", "entry", "heap", "owner", "reason", "size")

    def __init__(self, owner: RoundRobinConsumers, channel: Channel, reason: int) -> None:
        self.owner = owner
        self.channel = channel
        self.reason = reason
        self.heap: list[Entry] = []
        self.size = 0  # members not cancelled
        self.entry: Entry | None = None

    def __lt__(self, other: object) -> bool:
        return False  # equal keys: either entry may come first, both are checked

    def holds(self) -> bool:
        """Whether the channel still holds these consumers back."""
        channel = self.channel
        if self.reason == PAUSE:
            return channel._paused
        limit = channel._global_prefetch
        return bool(limit) and channel._global_unacked >= limit

    def held(self) -> dict[Waitlist, None]:
        channel = self.channel
        return channel._held_by_pause if self.reason == PAUSE else channel._held_by_prefetch

    def head(self) -> Consumer | None:
        """The first member (cancelled ones dropped on the way)."""
        heap = self.heap
        while heap:
            consumer = heap[0][2]
            if consumer._state == WAITING:
                return consumer  # type: ignore[no-any-return]
            heappop(heap)
        return None

    def relist(self) -> None:
        """The channel gives credit: the members go back to their places in the queue's heap."""
        head = self.head()
        if head is None:
            self.owner._drop(self)
            return
        entry = self.entry = (head._rank, head._position, self)
        heappush(self.owner._heap, entry)


def _current(entry: Entry) -> bool:
    """Whether a heap entry still stands for something."""
    item = entry[2]
    if type(item) is Waitlist:
        return item.entry is entry
    return item._state == LISTED  # type: ignore[no-any-return]


def release(held: dict[Waitlist, None]) -> None:
    """Credit for a channel: every waitlist it held goes back to its queue."""
    waitlists = list(held)
    held.clear()
    for waitlist in waitlists:
        waitlist.relist()


class RoundRobinConsumers(dict["Consumer", None]):
    """The consumers of a queue without single active consumer (spec 7.4).

    A dict of the consumers (so ``len``, truth and membership cost what a
    dict's do); iterating yields them in delivery order, as a list of
    consumers would read.
    """

    __slots__ = ("_heap", "_position", "_stale", "_waitlists", "exclusive", "single")

    def __init__(self) -> None:
        super().__init__()
        self._heap: list[Entry] = []
        self._waitlists: dict[tuple[Channel, int], Waitlist] = {}
        self._position = 0
        self._stale = 0  # out-of-date entries in the heap
        self.single: Consumer | None = None
        self.exclusive = 0  # exclusive consumers (at most one, and then alone: spec 7.3)

    def __iter__(self) -> Iterator[Consumer]:
        return iter(sorted(self.keys(), key=lambda c: (c._rank, c._position)))

    def first(self) -> Consumer:
        return min(self.keys(), key=lambda c: (c._rank, c._position))

    def add(self, consumer: Consumer) -> None:
        """Register behind the consumers of its priority (spec 7.4): O(log n)."""
        self._position += 1
        consumer._position = self._position
        consumer._rank = -consumer.priority
        self[consumer] = None
        if consumer.exclusive:
            self.exclusive += 1
        if len(self) == 1:
            self.single = consumer
            consumer._state = SINGLE
            return
        only = self.single
        if only is not None:
            # a second consumer: the first one's place (its position) still holds
            self.single = None
            only._state = LISTED
            self._heap.append((only._rank, only._position, only))
        consumer._state = LISTED
        heappush(self._heap, (consumer._rank, consumer._position, consumer))

    def remove(self, consumer: Consumer) -> bool:
        """Unregister (cancel, channel close); False if it was not registered here."""
        if consumer not in self:
            return False
        del self[consumer]
        if consumer.exclusive:
            self.exclusive -= 1
        state = consumer._state
        consumer._state = REMOVED
        if state == LISTED:
            self._stale += 1
        elif state == WAITING:
            waitlist = consumer._waitlist
            assert waitlist is not None
            consumer._waitlist = None
            waitlist.size -= 1
            if not waitlist.size:
                self._drop(waitlist)
        if len(self) == 1:
            self._to_single(next(iter(self.keys())))
        elif not self:
            self.single = None
        else:
            self._maybe_compact()
        return True

    def clear(self) -> None:
        for consumer in self.keys():
            consumer._state = REMOVED
            consumer._waitlist = None
        super().clear()
        self._to_single(None)
        self.exclusive = 0

    def _to_single(self, only: Consumer | None) -> None:
        for waitlist in list(self._waitlists.values()):
            self._drop(waitlist)
        self._heap.clear()
        self._stale = 0
        self.single = only
        if only is not None:
            only._state = SINGLE
            only._waitlist = None

    def _drop(self, waitlist: Waitlist) -> None:
        """Forget an emptied (or abandoned) waitlist."""
        if waitlist.entry is not None:
            waitlist.entry = None
            self._stale += 1
        waitlist.held().pop(waitlist, None)
        if self._waitlists.get((waitlist.channel, waitlist.reason)) is waitlist:
            del self._waitlists[(waitlist.channel, waitlist.reason)]
        for entry in waitlist.heap:
            consumer = entry[2]
            if consumer._state == WAITING and consumer._waitlist is waitlist:
                # still registered (a switch to a single consumer): it stands alone
                consumer._waitlist = None
                consumer._state = LISTED
                heappush(self._heap, (consumer._rank, consumer._position, consumer))
        waitlist.heap.clear()
        waitlist.size = 0

    def _maybe_compact(self) -> None:
        heap = self._heap
        if self._stale > _COMPACT_AT and self._stale * 2 > len(heap):
            heap[:] = [entry for entry in heap if _current(entry)]
            heapify(heap)
            self._stale = 0

    def reinstate(self, consumer: Consumer) -> bool:
        """An ack gave a ``FULL`` consumer room: back to its place (spec 7.4). False:
        the queue's dispatch delivers to it (a stream's consumer may read at once)."""
        consumer._state = LISTED
        heappush(self._heap, (consumer._rank, consumer._position, consumer))
        return False

    def next(self) -> Consumer | None:
        """The consumer for the next message, moved behind its priority; None if none has room."""
        only = self.single
        if only is not None:
            return only if only.has_room() else None
        heap = self._heap
        while heap:
            entry = heap[0]
            item = entry[2]
            if type(item) is Waitlist:
                chosen = self._from_waitlist(entry, item)
                if chosen is not None:
                    return chosen
                continue
            if item._state != LISTED:
                heappop(heap)
                self._stale -= 1
                continue
            if item.has_room():
                self._position += 1
                item._position = self._position
                heapreplace(heap, (entry[0], self._position, item))
                return item  # type: ignore[no-any-return]
            heappop(heap)
            self._set_aside(item)
        return None

    def _from_waitlist(self, entry: Entry, waitlist: Waitlist) -> Consumer | None:
        heap = self._heap
        if waitlist.entry is not entry:
            heappop(heap)
            self._stale -= 1
            return None
        head = waitlist.head()
        if head is None:
            heappop(heap)
            waitlist.entry = None
            self._drop(waitlist)
            return None
        if head._position != entry[1] or head._rank != entry[0]:
            # its first member was cancelled: the list stands at its new first
            waitlist.entry = (head._rank, head._position, waitlist)
            heapreplace(heap, waitlist.entry)
            return None
        if waitlist.holds():
            heappop(heap)
            waitlist.entry = None
            waitlist.held()[waitlist] = None
            return None
        heappop(waitlist.heap)
        waitlist.size -= 1
        head._waitlist = None
        after = waitlist.head()
        if after is None:
            heappop(heap)
            waitlist.entry = None
            self._drop(waitlist)
        else:
            waitlist.entry = (after._rank, after._position, waitlist)
            heapreplace(heap, waitlist.entry)
        if head.has_room():
            self._position += 1
            head._position = self._position
            head._state = LISTED
            heappush(heap, (head._rank, self._position, head))
            return head
        self._set_aside(head)
        return None

    def _set_aside(self, consumer: Consumer) -> None:
        """Keep a consumer without room out of the heap until credit comes (spec 7.5)."""
        channel = consumer.channel
        if consumer.auto_ack:
            reason = PAUSE
        elif consumer.prefetch:
            if consumer.unacked >= consumer.prefetch:
                consumer._state = FULL
                return
            reason = PREFETCH
        else:
            reason = PAUSE if channel._paused else PREFETCH
        waitlist = self._waitlists.get((channel, reason))
        if waitlist is None:
            waitlist = self._waitlists[(channel, reason)] = Waitlist(self, channel, reason)
        heappush(waitlist.heap, (consumer._rank, consumer._position, consumer))
        waitlist.size += 1
        consumer._state = WAITING
        consumer._waitlist = waitlist
        if waitlist.entry is not None:
            # its channel holds it back now, so the whole list waits for credit
            waitlist.entry = None
            self._stale += 1
            self._maybe_compact()
        waitlist.held()[waitlist] = None

    def _check(self) -> None:
        """Assert that every consumer is in exactly one place (used by property-based tests)."""
        if len(self) == 1:
            assert self.single is not None and self.single._state == SINGLE
            assert not self._heap and not self._waitlists
            return
        assert self.single is None
        listed = [e[2] for e in self._heap if type(e[2]) is not Waitlist and e[2]._state == LISTED]
        assert len(listed) == len(set(listed)), "a consumer listed twice"
        live = [e[2] for e in self._heap if type(e[2]) is Waitlist and e[2].entry is e]
        assert len(live) == len(set(live)), "a waitlist listed twice"
        for consumer in self.keys():
            state = consumer._state
            if state == LISTED:
                assert consumer in listed
            elif state == FULL:
                assert consumer.unacked >= consumer.prefetch, "set aside with room"
            else:
                assert state == WAITING, f"state {state}"
                waitlist = consumer._waitlist
                assert waitlist is not None
                assert self._waitlists[(waitlist.channel, waitlist.reason)] is waitlist
        for waitlist in self._waitlists.values():
            members = [e[2] for e in waitlist.heap if e[2]._state == WAITING]
            assert waitlist.size == len(members) > 0
            held = waitlist in waitlist.held()
            assert held != (waitlist in live), "a waitlist both held and listed (or neither)"
            if waitlist in live:
                assert waitlist.entry is not None
                head = waitlist.head()
                assert head is not None and waitlist.entry[:2] <= (head._rank, head._position)


class SingleActiveConsumers(dict["Consumer", None]):
    """The consumers of a single-active-consumer queue (spec 7.6): only ``active`` receives.

    On failover the next is the highest priority, earliest registered: the top
    of a heap by ``(-priority, registered)``. Iterating yields the active one,
    then the others in failover order.
    """

    __slots__ = ("_stale", "_standby", "active", "exclusive", "single")

    def __init__(self) -> None:
        super().__init__()
        self._standby: list[tuple[int, int, Consumer]] = []
        self._stale = 0
        self.active: Consumer | None = None
        self.single: Consumer | None = None
        self.exclusive = 0

    def __iter__(self) -> Iterator[Consumer]:
        if self.active is None:
            return iter(())
        rest = sorted(e for e in self._standby if e[2]._state != REMOVED)
        return iter([self.active, *(e[2] for e in rest)])

    def first(self) -> Consumer:
        assert self.active is not None
        return self.active

    def add(self, consumer: Consumer) -> None:
        self[consumer] = None
        consumer._state = SINGLE
        if consumer.exclusive:
            self.exclusive += 1
        if self.active is None:
            self.active = consumer
        else:
            heappush(self._standby, (-consumer.priority, consumer.registered, consumer))
        self.single = self.active if len(self) == 1 else None

    def remove(self, consumer: Consumer) -> bool:
        if consumer not in self:
            return False
        del self[consumer]
        if consumer.exclusive:
            self.exclusive -= 1
        consumer._state = REMOVED
        if consumer is self.active:
            self.active = None
            standby = self._standby
            while standby:
                candidate = heappop(standby)[2]
                if candidate._state != REMOVED:
                    self.active = candidate
                    break
                self._stale -= 1
        else:
            self._stale += 1
            if self._stale > _COMPACT_AT and self._stale * 2 > len(self._standby):
                self._standby = [e for e in self._standby if e[2]._state != REMOVED]
                heapify(self._standby)
                self._stale = 0
        self.single = self.active if len(self) == 1 else None
        return True

    def clear(self) -> None:
        for consumer in self.keys():
            consumer._state = REMOVED
        super().clear()
        self._standby.clear()
        self._stale = 0
        self.active = self.single = None
        self.exclusive = 0

    def reinstate(self, consumer: Consumer) -> bool:  # pragma: no cover - never FULL
        raise AssertionError("a single-active-consumer queue sets no consumer aside")

    def next(self) -> Consumer | None:
        active = self.active
        return active if active is not None and active.has_room() else None

    def _check(self) -> None:
        assert (self.active is None) == (not self)
        live = [e[2] for e in self._standby if e[2]._state != REMOVED]
        assert len(live) + (self.active is not None) == len(self)


ConsumerSet = RoundRobinConsumers | SingleActiveConsumers
