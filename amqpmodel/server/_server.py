"""The asyncio driver: sockets, timers and the background thread around ``ServerConnection``.

One event loop serves every client. Frames are handled on the loop thread;
the core is shared with any in-process user of the same ``Broker`` (the
broker's lock makes that safe) and wakes a connection when the core has
something for it (``Connection.set_wakeup``). The loop also settles the
broker's timers (TTL, queue expiry) when they come due, and enforces the
connection limits of ``ServerSettings``: the handshake timeout here, the
connection count at connection.open (``_negotiation``), accept errors in
``_listener``. Flow control (``_flow``): it stops reading a socket while its
connection is blocked by a resource alarm (spec 21.3), while the client does
not drain what is written to it, and while frames wait for the connection's
next turn, which it schedules after every other connection's.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from amqpmodel import Broker
from amqpmodel.driver import rabbitmq_version as version_profile

from . import _logs
from ._listener import Listener
from ._protocol import ServerConnection, ServerSettings

if TYPE_CHECKING:
    from amqpmodel.management import ManagementServer, PrometheusServer

__all__ = ["Server", "ServeURL", "run_server", "serve"]

log = logging.getLogger("amqpmodel.server")

_LINGER_SECONDS = 30.0  # RabbitMQ's limit on waiting for a client to close its socket
_SILENT_CLOSE_DELAY = 3.0  # RabbitMQ's wait before closing after a refused handshake
_SHUTDOWN_TEXT = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
_NODE = f"amqpmodel@{socket.gethostname().split('.')[0] or 'localhost'}"


def _is_loopback(address: Any) -> bool:
    try:
        return ipaddress.ip_address(
            address[0] if isinstance(address, tuple) else address
        ).is_loopback
    except (ValueError, TypeError, IndexError):
        return isinstance(address, str)  # a Unix socket is local


class _Protocol(asyncio.Protocol):
    """Glue between an asyncio transport and one ``ServerConnection``."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.loop = server.loop
        self.transport: asyncio.Transport | None = None
        self.connection: ServerConnection | None = None
        self._heartbeat: asyncio.TimerHandle | None = None
        self._drain_scheduled = False
        self._closing_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._handshake_timer: asyncio.TimerHandle | None = None
        self._close_on_data = False
        self._reading = True  # the transport is reading (see _steer)
        self._turn_scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peername = transport.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        sockname = transport.get_extra_info("sockname")
        local = f"{sockname[0]}:{sockname[1]}" if isinstance(sockname, tuple) else str(sockname)
        server = self.server
        self.connection = ServerConnection(
            server.broker,
            transport.write,
            self._hang_up,
            peer=peer,
            local=local,
            loopback=_is_loopback(peername),
            settings=server.settings,
            wakeup=self._wakeup,
            connection_count=server.connection_count,
        )
        server._protocols.add(self)
        timeout = server.settings.handshake_timeout
        if timeout:
            self._handshake_timer = self.loop.call_later(timeout, self._handshake_expired)
        _logs.accepted(self.connection)

    def _handshake_expired(self) -> None:
        """Spec 21.7: a client that has not opened the connection in time is hung up on
        (no connection.close: it may not even speak AMQP)."""
        self._handshake_timer = None
        connection = self.connection
        if connection is not None and connection.state in ("header", "start_ok", "tune_ok", "open"):
            _logs.handshake_timeout(connection, self.server.settings.handshake_timeout)
            self._close()

    def _wakeup(self) -> None:
        """Called by the core (under its lock, maybe from another thread) when events are pending."""
        if self._drain_scheduled:
            return
        self._drain_scheduled = True
        if threading.get_ident() == self.server._thread_id:
            self.loop.call_soon(self._drain)
        else:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                self.loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        connection = self.connection
        if connection is not None:
            connection.drain()
            self._after_io()

    def data_received(self, data: bytes) -> None:
        if self._close_on_data:  # a refused client answered (close-ok): let it go
            self._close()
            return
        connection = self.connection
        assert connection is not None
        connection.data_received(data)
        self._after_io()

    def _after_io(self) -> None:
        connection = self.connection
        assert connection is not None
        if connection.heartbeat and self._heartbeat is None and not connection.closed:
            self._schedule_heartbeat()
        if connection.state == "closing" and self._closing_timer is None:
            # a client that never answers connection.close is hung up on
            self._closing_timer = self.loop.call_later(3.0, self._close)
        self._steer(connection)
        self.server._arm_timer()

    def _steer(self, connection: ServerConnection) -> None:
        """Read the socket only while the connection wants input (``_flow``); give it
        another turn, after the other connections', while frames wait."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        wants = connection.wants_input
        if wants != self._reading:
            self._reading = wants
            if wants:
                transport.resume_reading()
            else:
                transport.pause_reading()
        if not self._turn_scheduled and connection.input_waiting:
            self._turn_scheduled = True
            # a timer, not call_soon: asyncio runs due timers after the I/O callbacks of
            # the same loop turn, so a connection whose data has just arrived is served
            # before this one's next share
            self.loop.call_at(self.loop.time(), self._next_turn)

    def _next_turn(self) -> None:
        self._turn_scheduled = False
        connection = self.connection
        if connection is not None and not connection.closed:
            connection.resume_input()
            self._after_io()

    def _alarms_changed(self) -> None:
        connection = self.connection
        if connection is not None and not connection.closed:
            connection.alarms_changed()
            self._after_io()

    def _schedule_heartbeat(self) -> None:
        connection = self.connection
        assert connection is not None
        self._heartbeat = self.loop.call_later(connection.heartbeat / 2, self._heartbeat_tick)

    def _heartbeat_tick(self) -> None:
        connection = self.connection
        if connection is None or connection.closed:
            return
        connection.heartbeat_tick()
        if not connection.closed:
            self._schedule_heartbeat()

    # flow control: while the socket's write buffer is over its high-water mark, the
    # connection keeps its output, its deliveries and its input (``_flow``)

    def pause_writing(self) -> None:
        connection = self.connection
        if connection is not None:
            connection.pause_output(True)
            self._steer(connection)

    def resume_writing(self) -> None:
        connection = self.connection
        if connection is not None and not connection.closed:
            connection.pause_output(False)
            self._after_io()

    def _close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _hang_up(self) -> None:
        """The protocol is done with the socket. After answering the client's
        connection.close, leave the socket to the client, as RabbitMQ does (a
        client may still be writing); close it only if the client has not within
        the heartbeat timeout, at most 30 seconds. After a refused login, keep it
        3 seconds (RabbitMQ's delay against quick retries) or until the client
        answers or hangs up."""
        connection = self.connection
        if connection is not None and connection.login_refused:
            if self._linger_timer is None:
                self._close_on_data = True
                self._linger_timer = self.loop.call_later(_SILENT_CLOSE_DELAY, self._close)
        elif connection is None or not connection.linger:
            self._close()
        elif self._linger_timer is None:
            heartbeat = connection.heartbeat
            wait = min(heartbeat, _LINGER_SECONDS) if heartbeat else _LINGER_SECONDS
            self._linger_timer = self.loop.call_later(wait, self._close)

    def connection_lost(self, exc: Exception | None) -> None:
        connection = self.connection
        if connection is not None:
            if connection.state in ("header", "start_ok", "tune_ok", "open", "opened"):
                _logs.lost(connection)  # the client went without connection.close
            connection.connection_lost()
        timers = (self._heartbeat, self._closing_timer, self._linger_timer, self._handshake_timer)
        for timer in timers:
            if timer is not None:
                timer.cancel()
        self.server._protocols.discard(self)
        self.server._arm_timer()


class Server:
    """An AMQP 0-9-1 server for a ``Broker`` on an asyncio event loop."""

    def __init__(
        self,
        broker: Broker,
        host: str = "127.0.0.1",
        port: int = 5672,
        *,
        settings: ServerSettings | None = None,
        management_port: int | None = None,
        prometheus_port: int | None = None,
    ) -> None:
        """``management_port``/``prometheus_port``: also serve RabbitMQ's management API
        (spec 18) and Prometheus metrics (spec 19) on this loop (0 picks a free port;
        None: not served); they need the ``management`` extra."""
        self.broker = broker
        self.host = host
        self.port = port
        self.settings = settings or ServerSettings()
        self.management_port = management_port
        self.prometheus_port = prometheus_port
        self.management: ManagementServer | None = None
        self.prometheus: PrometheusServer | None = None
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._listener: Listener | None = None
        self._protocols: set[_Protocol] = set()
        self._accepting: set[asyncio.Task[Any]] = set()
        self._thread_id = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline = float("inf")
        self._alarms: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"amqp://guest:guest@{host}:{self.port}/%2F"

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        self._listener = Listener(self.loop, self.host, self.port, self._accepted)
        self.port = self._listener.port
        # a deadline set from another thread (an in-process publish with a TTL) re-arms our timer
        self.broker.add_deadline_listener(self._deadline_moved)
        self.broker.add_alarm_listener(self._alarms_moved)
        self._alarms = self.broker.resource_alarms
        if self._alarms:
            _logs.alarms_changed((), self._alarms, _NODE)
        log.info("amqpmodel listening on %s:%s", self.host, self.port)
        if self.management_port is not None or self.prometheus_port is not None:
            try:
                await self._start_http()
            except BaseException:
                await self.stop(grace=0)
                raise

    async def _start_http(self) -> None:
        from amqpmodel.management import ManagementServer, PrometheusServer

        if self.management_port is not None:
            self.management = ManagementServer(
                self.broker, self.host, self.management_port, amqp=self
            )
            await self.management.start()
        if self.prometheus_port is not None:
            self.prometheus = PrometheusServer(
                self.broker,
                self.host,
                self.prometheus_port,
                amqp=self,
                context=self.management.context if self.management is not None else None,
            )
            await self.prometheus.start()
            if self.management is not None:
                self.management.add_listener("http/prometheus", self.host, self.prometheus.port)

    def client_connections(self) -> list[ServerConnection]:
        """The protocol state of every open socket, for a management API to list."""
        return [p.connection for p in self._protocols if p.connection is not None]

    def connection_count(self) -> int:
        """Sockets accepted and not yet closed, handshake or not (RabbitMQ's count for
        ``connection_max``)."""
        return len(self._protocols)

    def _accepted(self, sock: socket.socket) -> None:
        task = self.loop.create_task(self._connect(sock))
        self._accepting.add(task)
        task.add_done_callback(self._accepting.discard)

    async def _connect(self, sock: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(lambda: _Protocol(self), sock)
        except OSError as error:  # the client left already, or we are out of resources
            log.info("could not set up an accepted connection: %s", error)
            sock.close()

    # broker timers (TTL, x-expires) settle on the loop when they come due

    def _arm_timer(self) -> None:
        deadline = self.broker.next_deadline()
        if deadline is None:
            return
        if self._timer is not None and self._timer_deadline <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, deadline - self.broker.clock.now())
        self._timer_deadline = deadline
        self._timer = self.loop.call_later(delay + 0.0005, self._on_timer)

    # resource alarms (spec 21.1-21.5): blocked connections are read again once they clear

    def _alarms_moved(self, alarms: tuple[str, ...]) -> None:
        """The broker's alarm listener: under its lock, maybe inside one of our own
        publishes or on another thread; acts on the loop's next turn."""
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            self.loop.call_soon_threadsafe(self._alarms_changed)

    def _alarms_changed(self) -> None:
        alarms = self.broker.resource_alarms
        if alarms != self._alarms:
            _logs.alarms_changed(self._alarms, alarms, _NODE)
            self._alarms = alarms
        if not alarms:
            for protocol in list(self._protocols):
                protocol._alarms_changed()

    def _deadline_moved(self) -> None:
        if threading.get_ident() != self._thread_id:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                self.loop.call_soon_threadsafe(self._arm_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_deadline = float("inf")
        self.broker.tick()
        for protocol in list(self._protocols):
            connection = protocol.connection
            if (
                connection is not None
                and connection.core is not None
                and connection.core.has_pending
            ):
                protocol._drain()
        self._arm_timer()

    async def stop(self, reply_text: str = _SHUTDOWN_TEXT, grace: float = 0.5) -> None:
        """Stop listening and close every connection with 320 (connection.close, then the
        socket, after at most ``grace`` seconds for the client's close-ok)."""
        for http in (self.management, self.prometheus):
            if http is not None:
                await http.stop()
        self.management = self.prometheus = None
        if self._listener is not None:
            self._listener.close()
        for protocol in list(self._protocols):
            if protocol.connection is not None:
                protocol.connection.close(320, reply_text)
                protocol._after_io()  # a blocked socket is read again, for the close-ok
        deadline = self.loop.time() + grace
        while self._protocols and self.loop.time() < deadline:
            await asyncio.sleep(0.005)
        for protocol in list(self._protocols):
            protocol._close()
        if self._timer is not None:
            self._timer.cancel()
        self.broker.remove_deadline_listener(self._deadline_moved)
        self.broker.remove_alarm_listener(self._alarms_moved)
        for task in list(self._accepting):
            task.cancel()


def run_server(
    broker: Broker,
    host: str = "127.0.0.1",
    port: int = 5672,
    *,
    settings: ServerSettings | None = None,
    ready: Any = None,
    management_port: int | None = None,
    prometheus_port: int | None = None,
) -> None:
    """Serve until interrupted (Ctrl-C closes every connection with 320 first).

    ``ready(server)`` is called once the socket listens (``server.port`` is the
    real port when ``port`` was 0; ``server.management.port`` likewise).
    """
    server = Server(
        broker,
        host,
        port,
        settings=settings,
        management_port=management_port,
        prometheus_port=prometheus_port,
    )

    async def main() -> None:
        await server.start()
        stopping = asyncio.Event()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    server.loop.add_signal_handler(signum, stopping.set)
        if ready is not None:
            ready(server)
        try:
            await stopping.wait()
        finally:
            await server.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        log.info("amqpmodel stopped")


class ServeURL(str):
    """The AMQP URL ``serve()`` yields, with the HTTP servers' URLs beside it:
    ``management_url`` (``http://host:port``, None unless ``management_port`` was
    given) and ``prometheus_url``."""

    management_url: str | None = None
    prometheus_url: str | None = None


@contextlib.contextmanager
def serve(
    broker: Broker | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    settings: ServerSettings | None = None,
    shutdown_grace: float = 0.5,
    management_port: int | None = None,
    prometheus_port: int | None = None,
    rabbitmq_version: str | None = None,
) -> Iterator[ServeURL]:
    """Run a server in a background thread for the duration of a ``with`` block; yield its URL.

    At the end every connection gets connection.close (320) and ``shutdown_grace``
    seconds at most to answer before its socket is closed. ``management_port=0``
    also serves the management API (and ``/metrics``) on a free port of the same
    loop, ``prometheus_port=0`` the Prometheus endpoint: the yielded URL's
    ``management_url`` and ``prometheus_url`` (needs the ``management`` extra).

    Without a ``broker``, one is created that behaves as ``rabbitmq_version``
    ("3.13", "4.0", "4.2" by default, "4.3", or a patch release); with one, that
    broker's version applies and a different ``rabbitmq_version`` is a ``ValueError``.

    >>> from amqpmodel import Broker
    >>> with serve(Broker()) as url:  # doctest: +SKIP
    ...     pika.BlockingConnection(pika.URLParameters(url))
    """
    if broker is None:
        broker = Broker() if rabbitmq_version is None else Broker(rabbitmq_version=rabbitmq_version)
    elif (
        rabbitmq_version is not None
        and version_profile(rabbitmq_version) != broker.rabbitmq_version
    ):
        raise ValueError(
            f"serve(rabbitmq_version={rabbitmq_version!r}) with a broker that behaves as "
            f"RabbitMQ {broker.rabbitmq_version.version}: give the version to Broker()"
        )
    server = Server(
        broker,
        host,
        port,
        settings=settings,
        management_port=management_port,
        prometheus_port=prometheus_port,
    )
    started = threading.Event()
    failure: list[BaseException] = []
    stop: list[asyncio.Event] = []

    async def main() -> None:
        try:
            await server.start()
        except BaseException as error:
            failure.append(error)
            started.set()
            return
        stop.append(asyncio.Event())
        started.set()
        await stop[0].wait()
        await server.stop(grace=shutdown_grace)

    thread = threading.Thread(
        target=asyncio.run, args=(main(),), name="amqpmodel-server", daemon=True
    )
    thread.start()
    started.wait()
    if failure:
        thread.join()
        raise failure[0]
    url = ServeURL(server.url)
    if server.management is not None:
        url.management_url = server.management.url
    if server.prometheus is not None:
        url.prometheus_url = server.prometheus.url
    try:
        yield url
    finally:
        server.loop.call_soon_threadsafe(stop[0].set)
        thread.join(timeout=10)
