"""Resource alarms (spec 21.1-21.5): the memory high watermark and the disk free limit.

The alarm state of a broker lives here: the limits, which alarms are on,
when they are checked, and who is told. The memory alarm compares the
broker's own accounting of message bytes (``_memory.measure``) with the
watermark; the disk alarm, with a data dir, compares the free space of
its file system with ``disk_free_limit`` (21.2).

Checks are periodic, as RabbitMQ's monitors are: a coarse timer in the
broker's deadline index (so ``VirtualClock.advance`` runs them) every
``MEMORY_CHECK_INTERVAL`` seconds while the memory alarm is on, and every
0.1-10 s for the disk (sooner the closer free space is to the limit, as
RabbitMQ's disk monitor). A broker far below its watermark keeps no timer
at all: publishing spends a *credit* of accounted bytes (one subtraction
per publish, in ``_channel_publish``), and when it runs out the memory is
measured again, so the alarm rises as soon as the published bytes can have
crossed the watermark, never later than ``credit`` bytes after. While an
alarm is on the credit is negative, which sends every publish here.

What an alarm does to a publisher depends on its driver. The socket server
(and the pika drop-in over it) blocks a connection as RabbitMQ does (21.3-21.5):
it declares so with ``Connection.handles_resource_alarms()`` and listens
(``Broker.add_alarm_listener``). An in-process ``basic_publish`` waits on
the broker's condition until every alarm has cleared, re-measuring while
it waits, and raises ``ConnectionBlockedTimeout`` after
``Broker(blocked_publish_timeout=...)`` seconds; the message is then not
published. Consumers and acknowledgements are never held back, so a
backlog drains and the alarm clears.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._errors import _Report
from ._memory import MemoryUse, measure, parse_watermark, total_memory
from ._timers import INFINITY

if TYPE_CHECKING:
    from ._broker import Broker
    from ._channel import Channel

__all__ = [
    "DEFAULT_BLOCKED_PUBLISH_TIMEOUT",
    "DEFAULT_DISK_FREE_LIMIT",
    "DEFAULT_MEMORY_HIGH_WATERMARK",
    "DISK",
    "MEMORY",
    "MEMORY_CHECK_INTERVAL",
    "AlarmListener",
    "ConnectionBlockedTimeout",
    "ResourceAlarms",
    "blocked_reason",
]

MEMORY, DISK = "memory", "disk"
DEFAULT_MEMORY_HIGH_WATERMARK = 0.6  # spec 21.1 (RabbitMQ 4; the version profile says 3.13's)
DEFAULT_DISK_FREE_LIMIT = 50_000_000  # spec 21.2
DEFAULT_BLOCKED_PUBLISH_TIMEOUT = 60.0  # seconds an in-process publish waits
MEMORY_CHECK_INTERVAL = 1.0  # seconds between checks while the memory alarm is on
_DISK_INTERVALS = (0.1, 10.0)  # RabbitMQ's disk monitor: between 100 ms and 10 s
_DISK_FAST_RATE = 250 * 1024 * 1024  # bytes/s a disk may fill at (RabbitMQ's guess)
_WAIT_STEP = 0.1  # an in-process publisher waiting for an alarm re-measures this often
_CREDIT_SHARE = 64  # the credit is at least 1/64 of the limit: bounded work per byte
_BLOCKED = -(1 << 62)  # the credit while an alarm is on: every publish comes here

AlarmListener = Callable[[tuple[str, ...]], None]


def blocked_reason(alarms: tuple[str, ...]) -> str:
    """connection.blocked's reason (spec 21.4): "low on memory", "low on disk" or both."""
    if MEMORY in alarms and DISK in alarms:
        return "low on memory & disk"
    return "low on memory" if MEMORY in alarms else "low on disk"


class ConnectionBlockedTimeout(_Report):
    """An in-process ``basic_publish`` waited ``blocked_publish_timeout`` seconds for a
    resource alarm to clear (spec 21.3) and gave up: the message was **not**
    published; nothing was closed, so the call may be retried.

    ``reply_code`` is 0 (no AMQP method carries it; pika's client-side
    ``ConnectionBlockedTimeout`` has none either); ``reply_text`` names the alarm
    ("low on memory"), ``alarms`` lists them (``("memory",)``).
    """

    def __init__(self, alarms: tuple[str, ...], timeout: float) -> None:
        reason = blocked_reason(alarms)
        super().__init__(0, f"publish blocked for {timeout:g} s: {reason}")
        self.alarms = alarms
        self.timeout = timeout
        self.args = (self.reply_text,)

    def __str__(self) -> str:
        return self.reply_text


class ResourceAlarms:
    """A broker's limits, its alarms, their checks and listeners (see the module docstring)."""

    __slots__ = (
        "_armed",
        "_broker",
        "_listeners",
        "blocked_publish_timeout",
        "disk_free",
        "disk_free_limit",
        "disk_limit",
        "memory_high_watermark",
        "memory_limit",
        "memory_use",
        "raised",
        "total_memory",
        "active",
    )

    def __init__(
        self,
        broker: Broker,
        memory_high_watermark: float | int | str,
        disk_free_limit: float | int | str,
        blocked_publish_timeout: float | None,
    ) -> None:
        self._broker = broker
        self.total_memory = total_memory()
        self.memory_high_watermark = parse_watermark(memory_high_watermark, cap=1.0)
        self.memory_limit = self.memory_high_watermark.bytes(self.total_memory)
        self.disk_free_limit = parse_watermark(disk_free_limit)
        self.disk_limit = self.disk_free_limit.bytes(self.total_memory)
        if blocked_publish_timeout is not None and not blocked_publish_timeout >= 0:
            raise ValueError(f"blocked_publish_timeout must be 0 or more, not {blocked_publish_timeout}")
        self.blocked_publish_timeout = blocked_publish_timeout
        self.active: tuple[str, ...] = ()  # the alarms on now: "memory", "disk"
        self.memory_use = MemoryUse()  # at the last check
        self.disk_free: int | None = None  # at the last check (None: no data dir)
        self.raised = {MEMORY: 0, DISK: 0}  # how often each alarm has been set
        self._armed = INFINITY  # the deadline of the live check timer
        self._listeners: list[AlarmListener] = []

    # ----------------------------------------------------------------- settings

    def set_memory_high_watermark(self, value: float | int | str) -> None:
        self.memory_high_watermark = parse_watermark(value, cap=1.0)
        self.memory_limit = self.memory_high_watermark.bytes(self.total_memory)
        self.check()

    def set_disk_free_limit(self, value: float | int | str) -> None:
        self.disk_free_limit = parse_watermark(value)
        self.disk_limit = self.disk_free_limit.bytes(self.total_memory)
        self.check()

    def add_listener(self, listener: AlarmListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: AlarmListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # ----------------------------------------------------------------- checks

    def check(self) -> None:
        """Measure now and set or clear the alarms (call under the broker lock)."""
        broker = self._broker
        use = self.memory_use = measure(broker)
        used = use.total
        limit = self.memory_limit
        alarms: list[str] = []
        if used >= limit:  # a watermark of 0 is RabbitMQ's way to block every publisher
            alarms.append(MEMORY)
        data_dir = broker.data_dir
        if data_dir is not None:
            try:
                self.disk_free = shutil.disk_usage(data_dir).free
            except OSError:
                self.disk_free = None
            if self.disk_free is not None and self.disk_free < self.disk_limit:
                alarms.append(DISK)
        active = tuple(alarms)
        if active:
            broker._publish_credit = _BLOCKED
        else:
            broker._publish_credit = max((limit - used) // 2, limit // _CREDIT_SHARE, 1)
        changed = active != self.active
        if changed:
            for alarm in active:
                if alarm not in self.active:
                    self.raised[alarm] += 1
            self.active = active
        self._arm()
        if changed:
            broker._condition.notify_all()  # in-process publishers waiting for it to clear
            for listener in list(self._listeners):
                listener(active)

    def _arm(self) -> None:
        """Keep one check timer, as soon as the next check is needed (none if none is)."""
        intervals = []
        if MEMORY in self.active:
            intervals.append(MEMORY_CHECK_INTERVAL)
        if self.disk_free is not None:
            low, high = _DISK_INTERVALS
            ideal = 2 * max(self.disk_free - self.disk_limit, 0) / _DISK_FAST_RATE
            intervals.append(min(max(ideal, low), high))
        if not intervals:
            return
        broker = self._broker
        deadline = broker.clock.now() + min(intervals)
        if deadline < self._armed:
            self._armed = deadline
            broker._timers.schedule(deadline, self._due, coarse=True)

    def _due(self, deadline: float, now: float) -> None:
        if deadline != self._armed:
            return  # replaced by an earlier timer, which has run or will
        self._armed = INFINITY
        self.check()

    # ----------------------------------------------------------------- publishers

    def before_publish(self, channel: Channel) -> None:
        """A publish found the credit spent (under the broker lock): measure again, and
        while an alarm is on keep an in-process publisher waiting (see the module
        docstring). Returns when it may publish; raises ``ConnectionBlockedTimeout``."""
        if not self.active:
            self.check()
            if not self.active:
                return
        if not channel.connection._alarms_wait:
            return  # its driver blocks the connection itself (the socket server, 21.3)
        self.check()  # consumers may have drained the queues since the last check
        timeout = self.blocked_publish_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        condition = self._broker._condition
        while self.active and channel._closed is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                assert timeout is not None
                raise ConnectionBlockedTimeout(self.active, timeout)
            condition.wait(_WAIT_STEP if remaining is None else min(remaining, _WAIT_STEP))
            if self.active:
                self.check()  # consumers on other threads may have drained the queues

