"""pika's own connection, with the socket replaced by amqpmodel's sans-I/O server.

``pika.connection.Connection`` is pika's protocol engine: it turns calls into
frames and frames into callbacks, and leaves the transport to an adapter
(five ``_adapter_*`` methods). This adapter hands the client's bytes straight
to a ``ServerConnection`` (the same protocol state machine ``amqpmodel serve``
runs for a socket) and queues the server's bytes for the client on the
connection's loop. So every frame, error and decoded value is the one pika
gets over a socket from ``amqpmodel serve`` (and, where amqpmodel matches it,
from RabbitMQ): exceptions, property types and copies come from pika's own
code, not from an imitation of it.

Bytes for the client are delivered on the next loop turn, never inside the
call that produced them, so pika is never re-entered while it is sending.

Resource alarms (spec 21.3-21.5) act as over a socket: the server blocks a
publishing connection, pika gets connection.blocked (its
``add_on_connection_blocked_callback`` callbacks run) and what it sends
meanwhile waits in the server's buffer until the alarms clear and
connection.unblocked comes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import pika.connection
import pika.exceptions

from amqpmodel import Broker
from amqpmodel.server import ServerConnection, ServerSettings

from ._loop import InProcessLoop, Timer

__all__ = ["InProcessConnection", "InProcessFactory"]

log = logging.getLogger("amqpmodel.pika")

_PEER = "in-process"


def _weak(method: Callable[..., None]) -> Callable[..., None]:
    """``method`` held weakly: what the broker keeps of a pika connection must not keep
    it alive, so that one dropped without close() is collected and then closed, as a
    socket is closed when its object goes."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> None:
        bound = ref()
        if bound is not None:
            bound(*args)

    return call


# servers whose pika side was collected without a close: their core connections are
# closed on a thread of their own, never inside the garbage collector (which may run
# in the middle of a broker operation on any thread)
_orphans: queue.SimpleQueue[ServerConnection] = queue.SimpleQueue()
_reaper_lock = threading.Lock()
_reaper: list[threading.Thread] = []


def _reap() -> None:
    while True:
        server = _orphans.get()
        try:
            if not server.closed:
                server.connection_lost()
        except Exception:  # never let one bad close stop the reaping
            log.exception("closing a collected in-process pika connection")


def _orphaned(server: ServerConnection) -> None:
    _orphans.put(server)
    with _reaper_lock:
        if not _reaper:
            thread = threading.Thread(target=_reap, name="amqpmodel-pika-reaper", daemon=True)
            _reaper.append(thread)
            thread.start()


class InProcessConnection(pika.connection.Connection):  # type: ignore[misc]
    """A pika connection whose peer is a ``ServerConnection`` in this process."""

    def __init__(
        self,
        parameters: pika.connection.Parameters,
        broker: Broker,
        settings: ServerSettings,
        on_open_callback: Callable[..., Any],
        on_open_error_callback: Callable[..., Any],
    ) -> None:
        self._amqpmodel_loop = InProcessLoop(broker)
        self._amqpmodel_broker = broker
        self._amqpmodel_settings = settings
        self._server: ServerConnection | None = None
        self._to_client: list[bytes] = []
        self._delivery_scheduled = False
        self._drain_scheduled = False
        self._heartbeat_timer: Timer | None = None
        self._last_from_client = time.monotonic()
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._transport: ServerConnection | None = None
        self._turn_scheduled = False
        self._alarm_listener: Callable[[tuple[str, ...]], None] | None = None
        super().__init__(
            parameters,
            on_open_callback,
            on_open_error_callback,
            internal_connection_workflow=True,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._STATE_NAMES[self.connection_state]} in-process>"

    # ----------------------------------------------------------------- what pika asks of an adapter

    @property
    def ioloop(self) -> InProcessLoop:
        return self._amqpmodel_loop

    def _init_connection_state(self) -> None:
        super()._init_connection_state()
        self._transport = None

    def _get_write_buffer_size(self) -> int:
        """Nothing is ever buffered: the server takes every write at once."""
        return 0

    def _adapter_call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self._amqpmodel_loop.call_later(delay, callback)

    def _adapter_remove_timeout(self, timeout_id: object) -> None:
        assert isinstance(timeout_id, Timer)
        self._amqpmodel_loop.remove_timeout(timeout_id)

    def _adapter_add_callback_threadsafe(self, callback: Callable[[], None]) -> None:
        if not callable(callback):
            raise TypeError(f"callback must be a callable, but got {callback!r}")
        self._amqpmodel_loop.add_callback_threadsafe(callback)

    def _adapter_connect_stream(self) -> None:
        """The "socket" connects on the next loop turn, as a real one completes later."""
        self._amqpmodel_loop.add_callback(self._stream_connected)

    def _stream_connected(self) -> None:
        server = ServerConnection(
            self._amqpmodel_broker,
            _weak(self._from_server),
            _weak(self._server_hung_up),
            peer=_PEER,
            loopback=True,
            settings=self._amqpmodel_settings,
            wakeup=_weak(self._core_wakeup),
        )
        self._server = self._transport = server
        self._finalizer = weakref.finalize(self, _orphaned, server)
        broker = self._amqpmodel_broker
        listener = self._alarm_listener = _weak(self._alarms_moved)
        broker.add_alarm_listener(listener)
        weakref.finalize(self, broker.remove_alarm_listener, listener)
        self._on_stream_connected()

    def _adapter_disconnect_stream(self) -> None:
        """pika is done with the stream (close-ok, or an error): the server sees the socket go."""
        server, self._transport = self._server, None
        if self._alarm_listener is not None:
            self._amqpmodel_broker.remove_alarm_listener(self._alarm_listener)
            self._alarm_listener = None
        if self._heartbeat_timer is not None:
            self._amqpmodel_loop.remove_timeout(self._heartbeat_timer)
            self._heartbeat_timer = None
        if server is not None and not server.closed:
            server.connection_lost()
        if self._finalizer is not None:
            self._finalizer.detach()
        self._amqpmodel_loop.add_callback(self._stream_terminated)

    def _stream_terminated(self) -> None:
        self._on_stream_terminated(None)

    def _adapter_emit_data(self, data: bytes) -> None:
        server = self._transport
        if server is None:
            return  # written after the stream went: a socket would drop it too
        heartbeat = server.heartbeat
        if heartbeat:  # negotiated: from here on the server watches for silence
            now = time.monotonic()
            if now - self._last_from_client > 2 * heartbeat:
                self._missed_ticks(server)
                if server.closed:
                    return
            self._last_from_client = now
            if self._heartbeat_timer is None:
                self._schedule_server_heartbeat()
        server.data_received(data)
        self._steer(server)

    def _steer(self, server: ServerConnection) -> None:
        """Frames left for the server's next turn are handled on the next loop turn."""
        if server.input_waiting and not self._turn_scheduled:
            self._turn_scheduled = True
            self._amqpmodel_loop.add_callback(self._next_turn)

    def _next_turn(self) -> None:
        self._turn_scheduled = False
        server = self._transport
        if server is not None and not server.closed:
            server.resume_input()
            self._steer(server)

    def _alarms_moved(self, alarms: tuple[str, ...]) -> None:
        """The broker's alarm listener (under its lock, any thread): act on our loop."""
        self._amqpmodel_loop.add_callback_threadsafe(self._alarms_changed)

    def _alarms_changed(self) -> None:
        server = self._transport
        if server is not None and not server.closed:
            server.alarms_changed()
            self._steer(server)

    def _missed_ticks(self, server: ServerConnection) -> None:
        """The server's heartbeat ticks run only when this loop turns; a handler that
        blocked for longer than two heartbeat intervals would have been hung up on by
        a server with a clock of its own (RabbitMQ, ``amqpmodel serve``): run the
        ticks it missed, before anything the client sends now."""
        for _ in range(5):  # enough silent ticks for the server to hang up
            if server.closed:
                break
            server.heartbeat_tick()

    # ----------------------------------------------------------------- the server's side

    def _from_server(self, data: bytes | memoryview) -> None:
        # a view of a large body (see server._flow): pika wants bytes
        self._to_client.append(data if type(data) is bytes else bytes(data))
        if not self._delivery_scheduled:
            self._delivery_scheduled = True
            self._amqpmodel_loop.add_callback(self._deliver_to_client)

    def _deliver_to_client(self) -> None:
        self._delivery_scheduled = False
        chunks, self._to_client = self._to_client, []
        # chunk by chunk (each holds whole frames): pika trims its read buffer by
        # copying what is left after every frame, so one large buffer costs its square
        receive = self._on_data_available
        for chunk in chunks:
            if self._transport is None:
                return
            receive(chunk)

    def _server_hung_up(self) -> None:
        """The server closed its end: after what it sent, pika reads end of file."""
        self._amqpmodel_loop.add_callback(self._end_of_file)

    def _end_of_file(self) -> None:
        if self._transport is None:
            return  # pika had already let go of the stream
        self._deliver_to_client()
        if self._transport is None:
            return
        self._transport = None
        self._on_stream_terminated(pika.exceptions.StreamLostError("Transport indicated EOF"))

    def _core_wakeup(self) -> None:
        """The core has events for this connection (under its lock, maybe from another thread)."""
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self._amqpmodel_loop.add_callback_threadsafe(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        server = self._server
        if server is not None and not server.closed:
            server.drain()
            core = server.core
            if core is not None and core.has_pending:
                self._core_wakeup()

    def _schedule_server_heartbeat(self) -> None:
        server = self._server
        assert server is not None
        self._heartbeat_timer = self._amqpmodel_loop.call_later(
            server.heartbeat / 2, self._server_heartbeat
        )

    def _server_heartbeat(self) -> None:
        self._heartbeat_timer = None
        server = self._server
        if server is not None and not server.closed:
            if time.monotonic() - self._last_from_client > 2 * server.heartbeat:
                self._missed_ticks(server)
            if not server.closed:
                server.heartbeat_tick()
            if not server.closed:
                self._schedule_server_heartbeat()


class InProcessFactory:
    """Stands where pika's ``BlockingConnection`` expects its connection class
    (``_impl_class``): ``create_connection`` opens in process, synchronously."""

    def __init__(self, broker: Broker, settings: ServerSettings) -> None:
        self.broker = broker
        self.settings = settings

    def create_connection(
        self,
        connection_configs: Sequence[pika.connection.Parameters],
        on_done: Callable[[object], None],
        custom_ioloop: Any = None,
        workflow: Any = None,
    ) -> None:
        """Open a connection with each configuration in turn until one opens, as pika's
        connection workflow does; report the connection, or the last error, to ``on_done``."""
        if custom_ioloop is not None:
            custom_ioloop.close()  # made for sockets by BlockingConnection: never polled
        error: BaseException | None = None
        # as pika's workflow: the last configuration's attempts and delay, each attempt
        # trying every configuration in turn
        attempts = max(1, connection_configs[-1].connection_attempts)
        for attempt in range(attempts):
            if attempt:
                time.sleep(connection_configs[-1].retry_delay)
            for params in connection_configs:
                connection, error = self._open(params)
                if connection is not None:
                    on_done(connection)
                    return
        on_done(error if error is not None else pika.exceptions.AMQPConnectionError())

    def _open(
        self, params: pika.connection.Parameters
    ) -> tuple[InProcessConnection | None, BaseException | None]:
        """One attempt with one configuration: the open connection, or the error."""
        outcome: list[object] = []

        def failed(
            _connection: object, exc: BaseException, outcome: list[object] = outcome
        ) -> None:
            outcome.append(exc)

        connection = InProcessConnection(
            params,
            self.broker,
            self.settings,
            on_open_callback=outcome.append,
            on_open_error_callback=failed,
        )
        loop = connection.ioloop
        while not outcome:
            loop.poll()
            loop.process_timeouts()
        if isinstance(outcome[0], BaseException):
            return None, outcome[0]
        return connection, None
