"""Channel 0: the handshake (start, login, tune, open) and the connection class after it.

Connection negotiation (spec 10.2, 10.3) with PLAIN and AMQPLAIN logins, then
connection.close, update-secret, blocked/unblocked from the client.
The functions are methods of ``ServerConnection``, bound in its class body.
"""

from __future__ import annotations

import logging
import struct
from typing import TYPE_CHECKING, Any

from pamqp import commands, decode

from amqpmodel import ChannelError, CommandInvalid, NotAllowed, __version__

from . import _logs
from ._codec import Method, make_method, method_ids

if TYPE_CHECKING:
    from ._protocol import ServerConnection

__all__ = [
    "FRAME_MIN",
    "ServerSettings",
    "connection_method",
    "on_open",
    "on_start_ok",
    "on_tune_ok",
    "send_start",
]

log = logging.getLogger("amqpmodel.server")

FRAME_MIN = 8192  # spec 10.3


class ServerSettings:
    """What connection.tune offers (spec 10.3), who may log in, and the connection limits.

    ``handshake_timeout`` (seconds, RabbitMQ's 10 by default; None: none) is how long
    a client may take from connecting to connection.open (spec 21.7);
    ``max_connections`` (RabbitMQ's ``connection_max``, default None: no limit)
    refuses connection.open with 530 while more sockets than that are open
    (spec 21.9).

    ``frames_per_turn`` bounds the frames one connection has handled before the
    others get their turn (fair scheduling: a client that pipelines cannot starve
    the rest; the rest of its input waits, and its socket is not read meanwhile);
    None: no bound.
    """

    def __init__(
        self,
        channel_max: int = 2047,
        frame_max: int = 131072,
        heartbeat: int = 60,
        loopback_users: tuple[str, ...] = ("guest",),
        *,
        handshake_timeout: float | None = 10.0,
        max_connections: int | None = None,
        frames_per_turn: int | None = 96,
    ) -> None:
        self.channel_max = channel_max
        self.frame_max = frame_max
        self.heartbeat = heartbeat
        self.loopback_users = loopback_users
        self.handshake_timeout = handshake_timeout
        self.max_connections = max_connections
        if frames_per_turn is not None and frames_per_turn < 1:
            raise ValueError(f"frames_per_turn must be at least 1, not {frames_per_turn}")
        self.frames_per_turn = frames_per_turn


_CAPABILITIES = {
    "publisher_confirms": True,
    "exchange_exchange_bindings": True,
    "basic.nack": True,
    "consumer_cancel_notify": True,
    "connection.blocked": True,
    "consumer_priorities": True,
    "authentication_failure_close": True,
    "per_consumer_qos": True,
    "direct_reply_to": True,
}


def send_start(self: ServerConnection) -> None:
    self._send_method(
        0,
        make_method(
            commands.Connection.Start,
            version_major=0,
            version_minor=9,
            server_properties={
                "product": "amqpmodel",
                # the RabbitMQ this broker behaves as (spec 0.x), as clients pick
                # features by it; amqpmodel's own version is in "information"
                "version": self.broker.rabbitmq_version.version,
                "platform": "Python",
                "copyright": "amqpmodel contributors",
                "information": f"amqpmodel {__version__}, an in-process broker that behaves "
                f"like RabbitMQ {self.broker.rabbitmq_version.version}",
                "cluster_name": "amqpmodel",
                "capabilities": _CAPABILITIES,
            },
            mechanisms="PLAIN AMQPLAIN",
            locales="en_US",
        ),
    )
    self._state = "start_ok"


def connection_method(self: ServerConnection, method: Method) -> None:
    state = self._state
    if state == "start_ok" and isinstance(method, commands.Connection.StartOk):
        self._start_ok(method)
    elif state == "tune_ok" and isinstance(method, commands.Connection.TuneOk):
        self._tune_ok(method)
    elif state == "open" and isinstance(method, commands.Connection.Open):
        self._open(method)
    elif state == "opened" and isinstance(method, commands.Connection.Close):
        _logs.closing(self)
        self._send_before_close(None)
        self._close_core(200, "closed by client")
        self._send_method(0, commands.Connection.CloseOk())
        self._state = "closed"
        self.linger = True
    elif state == "opened" and isinstance(method, commands.Connection.UpdateSecret):
        self._send_method(0, commands.Connection.UpdateSecretOk())
    elif state == "opened" and isinstance(
        method, (commands.Connection.Blocked, commands.Connection.Unblocked)
    ):
        pass
    elif state == "opened" and isinstance(method, commands.Connection.CloseOk):
        self._state = "closed"
    elif state == "opened":
        raise ChannelError(
            f"unexpected method {method.name} on channel 0", *method_ids(method)
        )  # spec 9.4: channel.open on 0, a second connection.open...
    else:
        raise CommandInvalid(
            f"unexpected method {method.name} in connection state '{state}'", *method_ids(method)
        )


def on_start_ok(self: ServerConnection, method: Any) -> None:
    client_properties = (
        method.client_properties if isinstance(method.client_properties, dict) else {}
    )
    self.client_properties = client_properties
    mechanism = method.mechanism
    self.auth_mechanism = mechanism
    response = method.response
    if isinstance(response, str):
        response = response.encode("utf-8", "surrogateescape")
    user: str | None = None
    password: bytes | None = None  # compared as bytes: no two invalid UTF-8 ones alike
    if mechanism == "PLAIN":
        parts = response.split(b"\x00")
        if len(parts) == 3:
            user, password = parts[1].decode("utf-8", "replace"), parts[2]
    elif mechanism == "AMQPLAIN":
        try:
            _, table = decode.field_table(struct.pack(">I", len(response)) + response)
        except Exception:
            table = {}
        login, secret = table.get("LOGIN"), table.get("PASSWORD")
        if isinstance(login, (str, bytes)) and isinstance(secret, (str, bytes)):
            user = login if isinstance(login, str) else login.decode("utf-8", "replace")
            password = (
                secret.encode("utf-8", "surrogateescape") if isinstance(secret, str) else secret
            )
    else:
        raise CommandInvalid(f"unknown authentication mechanism '{mechanism}'", 10, 11)
    refused = user is None or password is None or not self.broker.authenticate(user, password)
    if refused:
        if user is None or password is None:
            why = "malformed login response"
        elif user not in self.broker.users:
            why = "no such user"
        else:
            why = "wrong password"
        _logs.login_refused(self, mechanism, user, why)
    elif not self.loopback and user in self.settings.loopback_users:
        _logs.login_refused(self, mechanism, user, "loopback")
        refused = True
    if refused:
        capabilities = client_properties.get("capabilities")
        if isinstance(capabilities, dict) and capabilities.get("authentication_failure_close"):
            self._send_connection_close(
                403,
                f"ACCESS_REFUSED - Login was refused using authentication mechanism "
                f"{mechanism}. For details see the broker logfile.",
                0,  # no method named, as RabbitMQ's close after a refused login
                0,
            )
        self._state = "closed"
        self.login_refused = True
        return
    assert user is not None
    self.user = user
    settings = self.settings
    self._send_method(
        0,
        make_method(
            commands.Connection.Tune,
            channel_max=settings.channel_max,
            frame_max=settings.frame_max,
            heartbeat=settings.heartbeat,
        ),
    )
    self._state = "tune_ok"


def on_tune_ok(self: ServerConnection, method: Any) -> None:
    settings = self.settings
    frame_max = method.frame_max or settings.frame_max
    if frame_max > settings.frame_max:
        raise NotAllowed(f"frame_max={frame_max} > {settings.frame_max} max size", 10, 31)
    if frame_max < FRAME_MIN:
        raise NotAllowed(f"frame_max={frame_max} < {FRAME_MIN} min size", 10, 31)
    # spec 21.10: 0 means "no limit", which is more than the server allows
    channel_max = method.channel_max
    if channel_max == 0 or channel_max > settings.channel_max:
        asked = "0 (no limit)" if channel_max == 0 else str(channel_max)
        raise NotAllowed(
            f"negotiated channel_max = {asked} is higher than the maximum allowed value "
            f"({settings.channel_max})",
            10,
            31,
        )
    self.frame_max = frame_max
    self.channel_max = channel_max
    self.heartbeat = method.heartbeat
    self._state = "open"


def on_open(self: ServerConnection, method: Any) -> None:
    limit = self.settings.max_connections
    count = self._connection_count
    if limit is not None and count is not None and count() > limit:  # spec 15.9: checked first
        raise NotAllowed(f"connection refused: node connection limit ({limit}) is reached", 10, 40)
    vhost = method.virtual_host
    if vhost not in self.broker.vhosts:
        raise NotAllowed(f"vhost {vhost} not found", 10, 40)
    self.core = self.broker.connect(vhost, self.user, self.client_properties)
    self.core.set_wakeup(self._wakeup)
    self.core.encodes_deliveries()  # every delivery becomes frames at once: no private copies
    self.core.handles_resource_alarms()  # we block a publisher by not reading it (spec 21.3)
    self._send_method(0, make_method(commands.Connection.OpenOk, known_hosts=""))
    self._state = "opened"
    _logs.opened(self, vhost)
