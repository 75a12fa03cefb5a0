"""The broker: virtual hosts, users, the clock and its timers, the lock, and draining callbacks."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _broker_access, _broker_policies, _definitions, _trace
from ._access import AccessControl, check_vhost_access
from ._alarms import (
    DEFAULT_BLOCKED_PUBLISH_TIMEOUT,
    DEFAULT_DISK_FREE_LIMIT,
    AlarmListener,
    ResourceAlarms,
)
from ._clock import Clock, MonotonicClock, VirtualClock
from ._errors import AccessRefused, CallbacksDidNotSettle, ConnectionForced, NotAllowed
from ._parameters import ParameterListener, Parameters
from ._passwords import check_password, hash_password
from ._timers import INFINITY, Timers
from ._version import DEFAULT_RABBITMQ_VERSION, RabbitMQVersion
from ._version import rabbitmq_version as rabbitmq_version_of
from ._vhost import VirtualHost

if TYPE_CHECKING:
    from ._connection import Connection
    from ._diagram import Topology
    from ._journal import Journal
    from ._losses import LossLog
    from ._memory import MemoryUse
    from ._views._collections import (
        BindingList,
        ChannelList,
        ConnectionList,
        ConsumerList,
        ExchangeTable,
        QueueTable,
    )
    from .store import Store

__all__ = ["DEFAULT_CONSUMER_TIMEOUT", "DEFAULT_MAX_MESSAGE_SIZE", "Broker"]

DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024  # spec 0.4
DEFAULT_CONSUMER_TIMEOUT = 1800.0  # seconds, spec 0.8 (RabbitMQ's consumer_timeout, 30 min)


class Broker:
    """An AMQP 0-9-1 broker in this process.

    Thread-safe: one re-entrant lock guards every entity; user callbacks run
    outside it, when a connection is drained (DESIGN.md, "Threads").

    >>> broker = Broker()
    >>> channel = broker.connect().channel()
    >>> channel.queue_declare("hello").method.queue
    'hello'
    """

    # messages per chunk of a stream, for its filters (spec 12.22): 1 filters exactly;
    # more reproduces the false positives of RabbitMQ's per-chunk Bloom filter
    stream_chunk_size = 1
    # RabbitMQ's quorum_relaxed_checks_on_redeclaration (spec 11.28): a redeclare as
    # "classic" of a quorum queue compares only a few arguments instead of failing
    quorum_relaxed_checks_on_redeclaration = False

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        max_message_size: int | None = None,
        default_user: tuple[str, str] | None = ("guest", "guest"),
        consumer_timeout: float | None = DEFAULT_CONSUMER_TIMEOUT,
        data_dir: str | os.PathLike[str] | None = None,
        sync: str = "normal",
        rabbitmq_version: str | RabbitMQVersion = DEFAULT_RABBITMQ_VERSION,
        memory_high_watermark: float | int | str | None = None,
        disk_free_limit: float | int | str = DEFAULT_DISK_FREE_LIMIT,
        blocked_publish_timeout: float | None = DEFAULT_BLOCKED_PUBLISH_TIMEOUT,
    ) -> None:
        """``data_dir``: keep what RabbitMQ keeps across a restart there (spec 22); the
        directory is created, locked against other processes, and recovered from when
        it holds a previous run's state. ``sync`` is SQLite's synchronous setting for
        that store: "normal" (survives a process kill) or "full" (also a power loss).

        ``rabbitmq_version``: the RabbitMQ this broker behaves as, "3.13", "4.0", "4.2"
        (the default) or "4.3", or a patch release such as "4.2.5" (spec 0.x); an
        unknown one raises ``ValueError``. ``max_message_size`` defaults to that
        version's (128 MiB in 3.13, 16 MiB from 4.0, spec 0.4).

        Resource alarms (spec 21.1-21.5): ``memory_high_watermark`` is RabbitMQ's
        ``vm_memory_high_watermark``, a fraction of the machine's memory (a float,
        or a string such as "0.4"; default the version's: 0.6, 3.13's 0.4) or an
        absolute size (an int of bytes, or "200MB"), compared with the message bytes
        the broker holds (``memory_use()``); ``disk_free_limit`` (with a data dir;
        default 50000000 bytes, "50MB", or a float: a multiple of the memory). Above
        the watermark or below the free limit publishers are blocked until it
        clears: the socket server blocks their connections, and an in-process
        ``basic_publish`` waits, raising ``ConnectionBlockedTimeout`` (not
        published) after ``blocked_publish_timeout`` seconds (None: no limit)."""
        # what differs between RabbitMQ versions, read where it acts (_version.py)
        self.rabbitmq_version: RabbitMQVersion = rabbitmq_version_of(rabbitmq_version)
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self.max_message_size = (
            max_message_size
            if max_message_size is not None
            else self.rabbitmq_version.default_max_message_size
        )
        # seconds a delivery may stay unacknowledged before its channel is closed with
        # 406 (spec 0.8); None disables the check
        self.consumer_timeout = consumer_timeout
        self._lock = threading.RLock()
        self._condition = threading.Condition(self._lock)
        self._waiters = 0
        # bytes publishes may still add before the memory is measured again (_alarms.py)
        self._publish_credit = 0
        # the clock in its raw units (``now() == raw() + raw_offset``): the hot paths
        # compare due timers with it; MonotonicClock.raw is a C function
        raw = getattr(self.clock, "raw", None)
        raw_offset = getattr(self.clock, "raw_offset", None)
        if raw is None or raw_offset is None:
            raw, raw_offset = self.clock.now, 0.0
        self._raw_now: Callable[[], float] = raw
        self._timers = Timers(raw_offset)
        self._sequence = itertools.count(1)  # enqueue order of every message (spec 2.12)
        self._connections: list[Connection] = []
        self._closed_pending: list[Connection] = []  # closed, with close callbacks not yet run
        self._closed = False
        # name -> (password hash, tags); hashes as RabbitMQ's (see _passwords)
        self.users: dict[str, tuple[str, tuple[str, ...]]] = {}
        self.vhosts: dict[str, VirtualHost] = {}
        # what changed in the durable state, for the store (None without a data dir)
        self._journal: Journal | None = None
        # silent losses recorded for the strict test check (amqpmodel.testing); None: not asked
        self._losses: LossLog | None = None
        self._store: Store | None = None
        # runtime parameters (shovels, ...), not stored in a data dir yet
        self._parameters = Parameters(self)
        # permissions, topic permissions and vhost limits (spec 15)
        self._access_control = AccessControl()
        self._default_user = default_user[0] if default_user is not None else None
        if isinstance(self.clock, VirtualClock):
            self.clock._attach(self)
        self._alarms = ResourceAlarms(
            self,
            memory_high_watermark
            if memory_high_watermark is not None
            else self.rabbitmq_version.memory_high_watermark,
            disk_free_limit,
            blocked_publish_timeout,
        )

        def create_defaults() -> None:
            # a fresh broker (RabbitMQ: the first boot of a node): "/" and the default user
            if default_user is not None:
                self.add_user(default_user[0], default_user[1], tags=("administrator",))
            self.add_vhost("/")  # spec 15.1: the default user gets full access to "/"

        if data_dir is None:
            create_defaults()
        else:
            from .store import Store  # the one driver the core composes: Broker(data_dir=...)

            self._store = Store(self, data_dir, sync=sync, on_fresh=create_defaults)
        with self._lock:
            self._alarms.check()  # with a data dir, the disk monitor starts here

    def __repr__(self) -> str:
        alarms = self._alarms.active
        alarm = f" alarms={'+'.join(alarms)}" if alarms else ""  # spec 21.1, 21.2
        return f"<Broker vhosts={list(self.vhosts)} connections={len(self._connections)}{alarm}>"

    def _repr_html_(self) -> str:
        from ._inspect import broker_html

        return broker_html(self)

    def topology(self, vhost: str = "/") -> Topology:
        """A picture of a vhost's exchanges, queues and bindings (SVG in Jupyter, ``to_dot()``)."""
        return self.vhost(vhost).topology()

    # ----------------------------------------------------------------- vhosts and users

    def add_vhost(self, name: str, *, grant_default_user: bool = True) -> VirtualHost:
        """Create a virtual host with its predeclared exchanges (spec 1.1); idempotent.

        A new vhost gives the broker's default user (guest) full permissions on it, as
        the management API gives them to the user who creates one; rabbitmqctl's
        add_vhost gives none: pass ``grant_default_user=False`` for that (spec 15.4)."""
        with self._lock:
            vhost = self.vhosts.get(name)
            if vhost is None:
                vhost = self.vhosts[name] = VirtualHost(self, name)
                if self._journal is not None:
                    self._journal.vhost_added(name)
                    self._journal.sync_entities()
                user = self._default_user
                if grant_default_user and user is not None and user in self.users:
                    self.set_permissions(user, ".*", ".*", ".*", vhost=name)
            return vhost

    def delete_vhost(self, name: str) -> None:
        with self._lock:
            vhost = self.vhosts.pop(name, None)
            if vhost is None:
                return
            self._forget_access(lambda key: key[1] == name)  # spec 15.17
            if self._access_control.vhost_limits.pop(name, None) is not None and self._journal:
                self._journal.access_changed("vhost-limits", (name,), None)
            if self._journal is not None:
                self._journal.access_changed("vhost-metadata", (name,), None)
                self._journal.vhost_deleted(name)
                self._journal.sync_entities()
            for connection in list(self._connections):
                if connection.vhost is vhost:
                    error = ConnectionForced(f"vhost '{name}' is deleted")
                    connection._close_by_broker(error.reply_code, error.reply_text, error)
        self._parameters.vhost_deleted(name)  # its parameters go too (their shovels stop)

    def vhost(self, name: str = "/") -> VirtualHost:
        try:
            return self.vhosts[name]
        except KeyError:
            raise KeyError(f"no vhost {name!r}") from None

    def add_user(
        self, name: str, password: str | bytes, tags: tuple[str, ...] | list[str] = ()
    ) -> None:
        """Add a user or change its password and tags; the password is kept hashed."""
        self._set_user(name, hash_password(password), tuple(tags))

    def _set_user(self, name: str, password_hash: str, tags: tuple[str, ...]) -> None:
        with self._lock:
            self.users[name] = (password_hash, tags)
            if self._journal is not None:
                self._journal.user_set(name, password_hash, tags)
                self._journal.sync_entities()

    def delete_user(self, name: str) -> None:
        """Delete a user, its permissions, and close its connections (spec 15.17)."""
        with self._lock:
            if self.users.pop(name, None) is None:
                return
            self._forget_access(lambda key: key[0] == name)
            if self._access_control.user_limits.pop(name, None) is not None and self._journal:
                self._journal.access_changed("user-limits", (name,), None)
            if self._journal is not None:
                self._journal.user_deleted(name)
                self._journal.sync_entities()
            for connection in list(self._connections):
                if connection.user == name and connection.is_open:
                    error = ConnectionForced(f"user '{name}' is deleted")
                    connection._close_by_broker(error.reply_code, error.reply_text, error)

    def _forget_access(self, matches: Callable[[tuple[str, ...]], bool]) -> None:
        """Remove the permissions and topic permissions whose key ``matches``."""
        control = self._access_control
        for kind, table in (
            ("permission", control.permissions),
            ("topic", control.topic_permissions),
        ):
            for key in [k for k in table if matches(k)]:
                del table[key]  # type: ignore[arg-type]
                if self._journal is not None:
                    self._journal.access_changed(kind, key, None)

    def authenticate(self, name: str, password: str | bytes) -> bool:
        user = self.users.get(name)
        return user is not None and check_password(user[0], password)

    # ----------------------------------------------------------------- access (spec 15)

    set_permissions = _broker_access.set_permissions
    clear_permissions = _broker_access.clear_permissions
    list_permissions = _broker_access.list_permissions
    list_user_permissions = _broker_access.list_user_permissions
    set_topic_permissions = _broker_access.set_topic_permissions
    clear_topic_permissions = _broker_access.clear_topic_permissions
    list_topic_permissions = _broker_access.list_topic_permissions
    set_user_tags = _broker_access.set_user_tags
    change_password = _broker_access.change_password
    list_users = _broker_access.list_users
    set_vhost_limits = _broker_access.set_vhost_limits
    clear_vhost_limits = _broker_access.clear_vhost_limits
    vhost_limits = _broker_access.vhost_limits
    set_user_limits = _broker_access.set_user_limits
    clear_user_limits = _broker_access.clear_user_limits
    user_limits = _broker_access.user_limits

    # ----------------------------------------------------------------- tracing (spec 17)

    trace_on = _trace.trace_on
    trace_off = _trace.trace_off

    # ----------------------------------------------------------------- policies (spec 14)

    set_policy = _broker_policies.set_policy
    clear_policy = _broker_policies.clear_policy
    set_operator_policy = _broker_policies.set_operator_policy
    clear_operator_policy = _broker_policies.clear_operator_policy
    list_policies = _broker_policies.list_policies
    list_operator_policies = _broker_policies.list_operator_policies

    # ----------------------------------------------------------------- definitions (spec 16)

    export_definitions = _definitions.export_definitions
    import_definitions = _definitions.import_definitions

    # ----------------------------------------------------------------- runtime parameters

    def set_parameter(self, component: str, name: str, value: Any, vhost: str = "/") -> None:
        """Set a runtime parameter, as ``rabbitmqctl set_parameter -p vhost component name
        value``: ``value`` (JSON: dicts, lists, str, numbers, bool, None) is validated by
        the component's plugin, which then acts on it; ``set_parameter("shovel", name,
        {...})`` starts a dynamic shovel (``amqpmodel.shovel``, spec 20). A refused value
        raises ``ParameterError`` with RabbitMQ's text; an unknown vhost ``NotFound``."""
        self._parameters.set(component, name, value, vhost)

    def clear_parameter(self, component: str, name: str, vhost: str = "/") -> None:
        """Clear a runtime parameter (``rabbitmqctl clear_parameter``); a shovel's stops.
        ``ParameterError`` "Parameter does not exist" when it is not set."""
        self._parameters.clear(component, name, vhost)

    def list_parameters(
        self, component: str | None = None, vhost: str | None = None
    ) -> list[dict[str, Any]]:
        """The runtime parameters, as ``{"vhost", "component", "name", "value"}`` dicts
        (the management API's shape; copies), of one component and one vhost or all."""
        return self._parameters.list(component, vhost)

    def add_parameter_listener(self, listener: ParameterListener) -> None:
        """For drivers (a store, a management API): ``listener(action, vhost, component,
        name, value)`` after each parameter change, ``action`` "set" (value: a copy) or
        "clear" (value None); outside the broker lock, on the changing thread."""
        self._parameters.add_listener(listener)

    def remove_parameter_listener(self, listener: ParameterListener) -> None:
        self._parameters.remove_listener(listener)

    # ----------------------------------------------------------------- lifetime

    def close(self) -> None:
        """Stop: close every connection (320, as a node shutdown does) and, with a data
        dir, write what is still pending and release the directory (a clean stop,
        spec 22.17). Idempotent; ``with Broker(...) as broker:`` calls it on exit.

        Shovels and other plugins acting on runtime parameters stop first."""
        if not self._closed:
            self._parameters.broker_closing()  # outside the lock: they join their threads
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for connection in list(self._connections):
                connection._close_by_broker(
                    320,
                    "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'",
                )
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def data_dir(self) -> str | None:
        """Where this broker stores its durable state; None when it is in memory only."""
        return self._store.path if self._store is not None else None

    def persistent_message_count(self) -> int:
        """Persistent messages in durable queues: what a restart keeps with a data dir
        (and what stopping a broker without one discards)."""
        with self._lock:
            return sum(
                queue.messages_persistent
                for vhost in self.vhosts.values()
                for queue in vhost.queues.values()
                if queue.durable and queue.owner is None
            )

    # ----------------------------------------------------------------- inspection of "/"

    # Snapshots: dict and list subclasses that behave as the plain ones and show
    # as tables (repr in a REPL, _repr_html_ in Jupyter); the vhost's own dicts are live.

    @property
    def queues(self) -> QueueTable:
        """The default vhost's queues by name, as they are now."""
        from ._views._collections import QueueTable

        with self._lock:
            return QueueTable(self.vhost("/").queues)

    @property
    def exchanges(self) -> ExchangeTable:
        """The default vhost's exchanges by name (the default exchange under "")."""
        from ._views._collections import ExchangeTable

        with self._lock:
            return ExchangeTable(self.vhost("/").exchanges)

    @property
    def bindings(self) -> BindingList:
        """The default vhost's bindings, as ``rabbitmqctl list_bindings`` lists them."""
        from ._views._collections import BindingList

        with self._lock:
            return BindingList(self.vhost("/").bindings)

    @property
    def connections(self) -> ConnectionList:
        """The open connections, to every vhost."""
        from ._views._collections import ConnectionList

        return ConnectionList(list(self._connections))

    @property
    def channels(self) -> ChannelList:
        """The open channels of every connection."""
        from ._views._collections import ChannelList

        with self._lock:
            return ChannelList(
                [ch for connection in self._connections for ch in connection.channels.values()]
            )

    @property
    def consumers(self) -> ConsumerList:
        """Every consumer, by channel, in the order each channel registered them."""
        from ._views._collections import ConsumerList

        with self._lock:
            return ConsumerList(
                [
                    consumer
                    for connection in self._connections
                    for ch in connection.channels.values()
                    for consumer in ch.consumers
                ]
            )

    # ----------------------------------------------------------------- connections

    def connect(
        self,
        vhost: str = "/",
        user: str = "guest",
        client_properties: dict[str, Any] | None = None,
    ) -> Connection:
        """Open an in-process connection (no password: the caller is in this process)."""
        from ._connection import Connection

        with self._lock:
            if self._closed:
                raise ConnectionForced("broker forced connection closure with reason 'shutdown'")
            self.tick()
            if user not in self.users:
                raise AccessRefused(f"user '{user}' does not exist")
            host = self.vhosts.get(vhost)
            if host is None:
                raise NotAllowed(f"vhost {vhost} not found")
            check_vhost_access(self, user, vhost)  # spec 15.9, 15.14
            connection = Connection(self, host, user, client_properties or {})
            self._connections.append(connection)
            return connection

    # ----------------------------------------------------------------- time

    def _next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    # ----------------------------------------------------------------- the driver interface

    def next_deadline(self) -> float | None:
        """When the earliest timer (TTL, queue expiry, ack check) is due, in clock time;
        None when none is set. A driver with an event loop calls ``tick()`` then."""
        return self._timers.next_deadline()

    def add_deadline_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` whenever the earliest deadline moves earlier (under the
        broker lock, possibly from another thread: it must not block), so that a
        driver with its own timer re-arms it."""
        with self._lock:
            self._timers.on_earlier.append(listener)

    def remove_deadline_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._timers.on_earlier:
                self._timers.on_earlier.remove(listener)

    def tick(self) -> None:
        """Settle every timer that is due: message TTLs and queue expiry (spec 2.9, 3)."""
        timers = self._timers
        # nothing due (the common case for a driver ticking every loop turn): no lock
        next_any = timers.next_any
        if next_any != INFINITY and next_any <= self.clock.now():
            with self._lock:
                now = self.clock.now()
                if timers.next_any <= now:
                    timers.fire_due(now)

    # ----------------------------------------------------------------- resource alarms (spec 21)

    @property
    def resource_alarms(self) -> tuple[str, ...]:
        """The resource alarms on now: ``()``, ``("memory",)``, ``("disk",)`` or both
        (spec 21.1, 21.2). While any is on, publishers are blocked (21.3)."""
        return self._alarms.active

    def memory_use(self) -> MemoryUse:
        """The message bytes held now, as the memory alarm counts them (its ``total``
        is compared with ``memory_limit``; see ``amqpmodel._memory``)."""
        from ._memory import measure

        with self._lock:
            return measure(self)

    @property
    def memory_limit(self) -> int:
        """The memory high watermark in bytes (a relative one times the machine's memory)."""
        return self._alarms.memory_limit

    def set_memory_high_watermark(self, value: float | int | str) -> None:
        """Change the watermark, as ``rabbitmqctl set_vm_memory_high_watermark``: a
        fraction (0.4, "0.4"; 0 blocks every publisher) or a size (200000000,
        "200MB"); the alarm is re-evaluated at once."""
        with self._lock:
            self._alarms.set_memory_high_watermark(value)

    @property
    def disk_free_limit(self) -> int:
        """The disk free limit in bytes (spec 21.2; checked only with a data dir)."""
        return self._alarms.disk_limit

    def set_disk_free_limit(self, value: float | int | str) -> None:
        """Change the disk free limit, as ``rabbitmqctl set_disk_free_limit``."""
        with self._lock:
            self._alarms.set_disk_free_limit(value)

    def add_alarm_listener(self, listener: AlarmListener) -> None:
        """For drivers: ``listener(alarms)`` whenever the set of alarms changes (the
        tuple ``resource_alarms`` returns), under the broker lock, on whichever thread
        checked (a timer, a publisher): it must not block."""
        with self._lock:
            self._alarms.add_listener(listener)

    def remove_alarm_listener(self, listener: AlarmListener) -> None:
        with self._lock:
            self._alarms.remove_listener(listener)

    # ----------------------------------------------------------------- callbacks

    def _signal(self, connection: Connection) -> None:
        """A connection has pending events: wake whoever waits for it."""
        if self._waiters:
            self._condition.notify_all()
        wakeup = connection._wakeup
        if wakeup is not None:
            wakeup()

    def run_until_idle(self, max_rounds: int | None = 100_000) -> int:
        """Run pending callbacks of every connection until none is pending; returns how many ran.

        One round drains what each connection had pending when the round began;
        what those callbacks cause runs in the next round. A callback loop that
        never settles raises ``CallbacksDidNotSettle`` after ``max_rounds``.
        """
        total = 0
        rounds = 0
        while True:
            with self._lock:
                self.tick()
                busy = [c for c in self._connections if c._pending]
                if self._closed_pending:
                    busy += [c for c in self._closed_pending if c._pending]
                    self._closed_pending = [c for c in self._closed_pending if c._pending]
            if not busy:
                return total
            if max_rounds is not None and rounds >= max_rounds:
                raise CallbacksDidNotSettle(
                    f"callbacks were still pending after {max_rounds} rounds "
                    "(a callback that republishes what it consumes?)"
                )
            rounds += 1
            ran = 0
            for connection in busy:
                ran += connection._drain_once()
            if not ran:
                return total  # what is left is being run by another thread's drain
            total += ran
