"""The I/O loop of an in-process pika connection: callbacks, pika's timers, the broker's.

pika's ``BlockingConnection`` drives its connection by calling ``poll()`` and
``process_timeouts()`` on the connection's ``ioloop`` until what it waits for
has happened. A socket connection's loop waits in ``select``; this one waits
on a condition variable, woken by what the in-process server produced (frames
for the client), by the core when another thread's publish reached this
connection, by ``add_callback_threadsafe``, or when a timer is due: pika's
own (heartbeats, ``call_later``, ``process_data_events(time_limit)``) and the
broker's (TTL, queue expiry), which nothing else settles when no socket
server runs beside it.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable

from amqpmodel import Broker, VirtualClock

__all__ = ["InProcessLoop", "Timer"]

# a backstop, as pika's select loop has one: a wakeup can never be lost for longer
_MAX_WAIT = 1.0


class Timer:
    """A pending ``call_later``: cancelled by dropping its callback (pika's own scheme)."""

    __slots__ = ("deadline", "callback")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback: Callable[[], None] | None = callback


class InProcessLoop:
    """What ``pika.BlockingConnection`` needs of its ioloop, with no file descriptor."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        # the broker's deadlines are in virtual time on a VirtualClock, settled by advance()
        self._broker_timers = not isinstance(broker.clock, VirtualClock)
        self._ready: deque[Callable[[], None]] = deque()
        self._timers: list[tuple[float, int, Timer]] = []
        self._sequence = itertools.count()
        self._condition = threading.Condition(threading.Lock())
        self.closed = False
        self._listener: Callable[[], None] | None = None
        if self._broker_timers:
            # a deadline set from another thread (a publish with a TTL) wakes a waiting
            # poll at once; held weakly, so a dropped connection's loop can be collected
            ref = weakref.WeakMethod(self._deadline_moved)

            def listener() -> None:
                moved = ref()
                if moved is not None:
                    moved()

            self._listener = listener
            broker.add_deadline_listener(listener)
            weakref.finalize(self, broker.remove_deadline_listener, listener)

    def _deadline_moved(self) -> None:
        with self._condition:
            self._condition.notify()

    # ----------------------------------------------------------------- scheduling

    def add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop's thread at its next poll (any thread may call this)."""
        with self._condition:
            self._ready.append(callback)
            self._condition.notify()

    add_callback = add_callback_threadsafe

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        if delay < 0:
            raise ValueError(f"call_later: delay must be non-negative, but got {delay!r}")
        timer = Timer(time.monotonic() + delay, callback)
        heapq.heappush(self._timers, (timer.deadline, next(self._sequence), timer))
        return timer

    def remove_timeout(self, timer: Timer) -> None:
        timer.callback = None

    # ----------------------------------------------------------------- running

    def _wait_seconds(self) -> float:
        """How long ``poll`` may sleep: until the next timer, pika's or the broker's."""
        wait = _MAX_WAIT
        timers = self._timers
        while timers and timers[0][2].callback is None:
            heapq.heappop(timers)
        if timers:
            wait = min(wait, timers[0][0] - time.monotonic())
        if self._broker_timers:
            deadline = self._broker.next_deadline()
            if deadline is not None:
                wait = min(wait, deadline - self._broker.clock.now())
        return wait

    def poll(self) -> None:
        """Wait until there is something to run or a timer is due, then run the callbacks."""
        ready = self._ready
        if not ready:
            wait = self._wait_seconds()
            if wait > 0:
                with self._condition:
                    if not ready:
                        self._condition.wait(wait)
        self._run_ready()

    def _run_ready(self) -> None:
        ready = self._ready
        # only what is queued now: a callback that schedules another waits for the next turn
        for _ in range(len(ready)):
            ready.popleft()()

    def process_timeouts(self) -> None:
        """Run every timer that is due (pika's, then the broker's), then what they queued."""
        timers = self._timers
        if timers:
            now = time.monotonic()
            due: list[Timer] = []
            while timers and (timers[0][2].callback is None or timers[0][0] <= now):
                timer = heapq.heappop(timers)[2]
                if timer.callback is not None:
                    due.append(timer)
            for timer in due:
                callback, timer.callback = timer.callback, None
                if callback is not None:
                    callback()
        if self._broker_timers:
            self._broker.tick()
        self._run_ready()

    # ----------------------------------------------------------------- the rest of pika's loop API

    def activate_poller(self) -> None:
        """Nothing to activate: there is no poller."""

    def stop(self) -> None:
        """Nothing to stop: ``BlockingConnection`` never starts this loop, it polls it."""

    def close(self) -> None:
        if self._listener is not None:
            self._broker.remove_deadline_listener(self._listener)
            self._listener = None
        self.closed = True
        self._ready.clear()
        for _, _, timer in self._timers:
            timer.callback = None
        self._timers.clear()
