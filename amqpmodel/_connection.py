"""Connections: their channels, exclusive queues, pending callbacks, and close."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._access import check_channel_limit
from ._errors import AMQPError, ChannelError, ConnectionClosed, NotAllowed

if TYPE_CHECKING:
    from ._broker import Broker
    from ._channel import Channel
    from ._queue import Queue
    from ._vhost import VirtualHost
    from ._views._collections import ChannelTable

__all__ = ["Connection", "PendingEvent"]

CHANNEL_MAX = 2047  # spec 10.3

# (callback, channel or None, a, b, c): callback(channel, a, b, c) runs on drain,
# unless the channel has closed since the event was queued
PendingEvent = tuple[Callable[..., Any], "Channel | None", Any, Any, Any]


def _call_without_channel(
    channel: Any, callback: Callable[..., Any], argument: Any, _: Any
) -> None:
    if argument is _NO_ARGUMENT:
        callback()
    else:
        callback(argument)


_NO_ARGUMENT = object()


class Connection:
    """A client connection to one virtual host, as ``broker.connect()`` returns it."""

    def __init__(
        self, broker: Broker, vhost: VirtualHost, user: str, client_properties: dict[str, Any]
    ) -> None:
        self.broker = broker
        self.vhost = vhost
        self.user = user
        self.client_properties = client_properties
        self._channels: dict[int, Channel] = {}
        self._pending: deque[PendingEvent] = deque()
        self._batch: deque[PendingEvent] | None = None  # the batch a drain is running
        self._drain_lock = threading.RLock()
        self._paused = False  # see pause_deliveries; new channels start paused too
        self._wakeup: Callable[[], None] | None = None
        # deliveries hand out private copies of mutable properties (see delivered_properties)
        self._private_properties = True
        # an in-process basic_publish waits while a resource alarm is on (_alarms.py)
        self._alarms_wait = True
        self._exclusive_queues: dict[str, Queue] = {}
        self._closed: tuple[int, str] | None = None

    def __repr__(self) -> str:
        state = "open" if self._closed is None else "closed"
        return f"<Connection {self.user}@{self.vhost.name} {state} channels={len(self._channels)}>"

    @property
    def is_open(self) -> bool:
        return self._closed is None

    @property
    def is_closed(self) -> bool:
        return self._closed is not None

    @property
    def channels(self) -> ChannelTable:
        """The open channels by number (a snapshot; a table when shown)."""
        from ._views._collections import ChannelTable

        return ChannelTable(dict(self._channels))

    def _repr_html_(self) -> str:
        from ._inspect import connection_html

        return connection_html(self)

    # ----------------------------------------------------------------- the driver interface
    # What a driver (the socket adapter, the store, a management API) uses of a
    # connection, besides the public channel API; see ``amqpmodel.driver``.

    @property
    def close_reason(self) -> tuple[int, str] | None:
        """``(reply_code, reply_text)`` once closed, else None."""
        return self._closed

    @property
    def has_pending(self) -> bool:
        """Whether callbacks (deliveries, returns, confirms, cancels, closes) wait for a drain."""
        return bool(self._pending)

    @property
    def is_draining(self) -> bool:
        """Whether a drain is running this connection's callbacks now (on some thread)."""
        return self._batch is not None

    def drain(self) -> int:
        """Run the callbacks pending now, without waiting or ticking; returns how many ran.

        Events those callbacks cause wait for the next drain. Another thread's
        drain in progress makes this return 0 (see ``_drain_once``).
        """
        return self._drain_once()

    def run_pending_now(self, channel: Channel | None = None) -> None:
        """Run at once the pending returns, confirms and cancels of ``channel``
        (None: of every channel), leaving deliveries and close callbacks queued.

        A wire driver calls this before it writes a channel.close or
        connection.close, so that what earlier methods caused goes out first, as
        RabbitMQ orders it; nothing runs while another drain is in progress.
        """
        if self._batch is not None:
            return
        from ._methods import Deliver

        for event in list(self._pending):
            _, event_channel, argument, _, _ = event
            if event_channel is None or isinstance(argument, Deliver):
                continue
            if channel is not None and event_channel is not channel:
                continue
            try:
                self._pending.remove(event)
            except ValueError:  # another thread's drain has just taken it
                continue
            event[0](*event[1:])

    @property
    def consumer_cancel_notify(self) -> bool:
        """Whether the client asked for basic.cancel from the broker (spec 7.8)."""
        capabilities = self.client_properties.get("capabilities")
        if not isinstance(capabilities, dict):
            return True  # in-process users always get their cancel callback
        return bool(capabilities.get("consumer_cancel_notify", False))

    def _check_open(self) -> None:
        if self._closed is not None:
            raise ConnectionClosed(*self._closed)

    def set_wakeup(self, wakeup: Callable[[], None] | None) -> None:
        """Register a function called (under the broker lock, so it must not block)
        when this connection's pending events go from none to some. Drivers use it
        to schedule a drain, e.g. ``loop.call_soon_threadsafe``."""
        self._wakeup = wakeup

    def encodes_deliveries(self) -> None:
        """Declare that this connection's driver encodes every delivery, return and
        get-ok into bytes before anything can change it (the socket server does):
        deliveries then hand out the queued message's own properties instead of a
        private copy of their headers, which only an in-process handler needs."""
        self._private_properties = False

    def handles_resource_alarms(self) -> None:
        """Declare that this connection's driver blocks its publishers itself while a
        resource alarm is on (the socket server stops reading their sockets, spec
        21.3): ``basic_publish`` on its channels then never waits for an alarm to
        clear, as an in-process publisher does (``Broker(blocked_publish_timeout=)``)."""
        self._alarms_wait = False

    def channel(self, channel_number: int | None = None) -> Channel:
        """Open a channel; the lowest free number when none is given."""
        from ._channel import Channel

        with self.broker._lock:
            self._check_open()
            if channel_number is None:
                channel_number = 1
                while channel_number in self._channels:
                    channel_number += 1
            if channel_number in self._channels:
                self._close_by_broker(
                    504, f"CHANNEL_ERROR - second 'channel.open' seen on channel {channel_number}"
                )
                raise ChannelError(
                    f"second 'channel.open' seen on channel {channel_number}", 20, 10
                )
            # spec 21.10: channel_max limits how many channels are open, not their numbers
            if not 1 <= channel_number <= 65535 or len(self._channels) >= CHANNEL_MAX:
                error = NotAllowed(
                    f"number of channels opened ({len(self._channels)}) has reached the "
                    f"negotiated channel_max ({CHANNEL_MAX})",
                    20,
                    10,
                )
                self._close_by_broker(error.reply_code, error.reply_text, error)
                raise error
            try:
                check_channel_limit(self.broker, self.user)  # spec 15.15
            except NotAllowed as error:
                self._close_by_broker(error.reply_code, error.reply_text, error)
                raise
            channel = Channel(self, channel_number)
            channel._paused = self._paused
            self._channels[channel_number] = channel
            return channel

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close: requeue unacked messages, cancel consumers, delete exclusive queues (spec 7.13). Idempotent."""
        with self.broker._lock:
            self._close_by_broker(reply_code, reply_text)

    def _close_by_broker(
        self, reply_code: int, reply_text: str, error: AMQPError | None = None
    ) -> None:
        """Close; ``error`` (the reason, for the channels' close callbacks) when it is not a normal close."""
        if self._closed is not None:
            return
        self._closed = (reply_code, reply_text)
        for channel in list(self._channels.values()):
            channel._shutdown(reply_code, reply_text, error)
        self._channels.clear()
        for queue in list(self._exclusive_queues.values()):
            self.vhost._delete_queue(queue, reason="deleted")
        self._exclusive_queues.clear()
        broker = self.broker
        try:
            broker._connections.remove(self)
        except ValueError:
            pass
        if self._pending:  # close callbacks still to run: run_until_idle drains them too
            broker._closed_pending.append(self)
        broker._signal(self)

    # ----------------------------------------------------------------- callbacks

    def pause_deliveries(self, paused: bool = True) -> None:
        """Flow control for drivers: while paused, queues deliver nothing to this
        connection's consumers (messages stay ready); ``pause_deliveries(False)``
        resumes and dispatches what waited."""
        with self.broker._lock:
            for channel in list(self._channels.values()):
                channel._pause_deliveries(paused)
            self._paused = paused

    def _push(self, event: PendingEvent) -> None:
        pending = self._pending
        pending.append(event)
        if len(pending) == 1:
            # after the append: a driver thread woken here may drain at once
            self.broker._signal(self)

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` on the next drain of this connection (as pika)."""
        with self.broker._lock:
            self._check_open()
            self._push((_call_without_channel, None, callback, _NO_ARGUMENT, None))

    def _drain_once(self) -> int:
        """Run the events pending now; events they cause wait for the next drain.

        One thread drains a connection at a time, so one consumer's callbacks
        never run concurrently or out of order; another thread finds it busy
        and leaves it (returns 0). The batch being run stays reachable
        (``_batch``) so that a callback cancelling its consumer also takes back
        the deliveries queued behind it (``Channel.basic_cancel``).
        """
        if not self._pending or not self._drain_lock.acquire(blocking=False):
            return 0
        try:
            with self.broker._lock:
                if not self._pending:
                    return 0
                batch = self._pending
                self._pending = deque()
            outer = self._batch
            self._batch = batch
            count = 0
            try:
                while batch:
                    callback, channel, a, b, c = batch.popleft()
                    if channel is not None and channel._closed is not None:
                        continue
                    count += 1
                    callback(channel, a, b, c)
            finally:
                self._batch = outer
                if batch:  # a callback raised: keep what it did not get to, in order
                    with self.broker._lock:
                        batch.extend(self._pending)
                        self._pending = batch
            return count
        finally:
            self._drain_lock.release()

    def _wait(self, timeout: float | None, stop: Callable[[], bool] | None = None) -> None:
        """Block (real time) until events are pending, the connection closes, ``stop()``
        becomes true (checked whenever the broker signals), or ``timeout``."""
        broker = self.broker
        with broker._lock:
            broker.tick()
            if self._pending or self._closed is not None or (stop is not None and stop()):
                return
            broker._waiters += 1
            try:
                broker._condition.wait_for(
                    lambda: (
                        bool(self._pending)
                        or self._closed is not None
                        or (stop is not None and stop())
                    ),
                    timeout,
                )
            finally:
                broker._waiters -= 1

    def process_data_events(self, time_limit: float | None = 0) -> int:
        """Run pending callbacks; with ``time_limit`` > 0 (or None) first wait that long for some.

        Returns the number of callbacks run.
        """
        return self._process(time_limit, None)

    def _process(self, time_limit: float | None, stop: Callable[[], bool] | None) -> int:
        """``process_data_events`` that also returns as soon as ``stop()`` is true."""
        with self.broker._lock:
            self.broker.tick()
        ran = self._drain_once()
        if ran or time_limit == 0:
            return ran
        deadline = None if time_limit is None else time.monotonic() + time_limit
        while True:
            if stop is not None and stop():
                return ran
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return ran
            self._wait(0.05 if remaining is None else min(remaining, 0.05), stop)
            ran += self._drain_once()
            if ran or self._closed is not None:
                return ran

    def sleep(self, duration: float) -> None:
        """Process events for ``duration`` seconds of real time (as pika)."""
        deadline = time.monotonic() + duration
        while (remaining := deadline - time.monotonic()) > 0 and self._closed is None:
            self.process_data_events(time_limit=remaining)
