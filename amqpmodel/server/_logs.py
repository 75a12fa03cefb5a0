"""The server's log lines, with the facts RabbitMQ's carry, one line each: connections
on ``amqpmodel.connection``, channel errors on ``amqpmodel.channel``.

A connection is named as RabbitMQ names it, "peer -> local"; RabbitMQ's
two-line messages ("Error on AMQP connection …:" then the reason) are joined
with ": ". Levels are RabbitMQ's: accept, open and close info; a client
vanishing warning; refusals and channel errors error.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pamqp import commands

from amqpmodel import AMQPError

if TYPE_CHECKING:
    from ._protocol import ServerConnection

__all__ = [
    "accepted",
    "alarms_changed",
    "channel_error",
    "closing",
    "connection_error",
    "handshake_timeout",
    "heartbeats_missed",
    "login_refused",
    "lost",
    "opened",
]

connection_log = logging.getLogger("amqpmodel.connection")
alarm_log = logging.getLogger("amqpmodel.alarm")
channel_log = logging.getLogger("amqpmodel.channel")


def _operation(class_id: int, method_id: int) -> str:
    mapping: dict[int, Any] = commands.INDEX_MAPPING
    method = mapping.get((class_id << 16) | method_id)
    return str(method.name).lower() if method is not None else "none"


def _kind_and_text(error: AMQPError) -> tuple[str, str]:
    """("not_found", "no queue 'q' in vhost '/'") from "NOT_FOUND - no queue …"."""
    name, separator, text = error.reply_text.partition(" - ")
    if not separator:
        return name.lower(), ""
    return name.lower(), text


def _who(connection: ServerConnection) -> str:
    vhost = connection.core.vhost.name if connection.core is not None else "none"
    return f"vhost: '{vhost}', user: '{connection.user}'"


def accepted(connection: ServerConnection) -> None:
    connection_log.info("accepting AMQP connection %s", connection.name)


def opened(connection: ServerConnection, vhost: str) -> None:
    connection_log.info(
        "connection %s: user '%s' authenticated and granted access to vhost '%s'",
        connection.name,
        connection.user,
        vhost,
    )


def closing(connection: ServerConnection) -> None:
    """The client asked to close (connection.close)."""
    connection_log.info("closing AMQP connection %s (%s)", connection.name, _who(connection))


def lost(connection: ServerConnection) -> None:
    """The socket went away without connection.close."""
    if connection.core is not None:
        connection_log.warning(
            "closing AMQP connection %s (%s): client unexpectedly closed TCP connection",
            connection.name,
            _who(connection),
        )
    else:
        connection_log.info("closing AMQP connection %s", connection.name)


def login_refused(connection: ServerConnection, mechanism: str, user: str | None, why: str) -> None:
    """Spec 15.10: the log names the reason the client is not told."""
    if why == "loopback":
        reason = f"user '{user}' can only connect via localhost"
    else:
        reason = f"{mechanism} login refused: user '{user or ''}' - invalid credentials ({why})"
    connection_log.error(
        "Error on AMQP connection %s (state: starting): %s", connection.name, reason
    )


def connection_error(
    connection: ServerConnection, error: AMQPError, class_id: int, method_id: int
) -> None:
    state = connection.state
    if state in ("start_ok", "header"):
        connection_log.error(
            "Error on AMQP connection %s (state: starting): %s", connection.name, error.reply_text
        )
        return
    if state == "tune_ok":
        _, text = _kind_and_text(error)
        connection_log.error(
            "Error on AMQP connection %s (state: tuning): failed to negotiate connection "
            "parameters: %s",
            connection.name,
            text,
        )
        return
    if state == "open":  # connection.open refused: vhost missing, a connection limit
        _, text = _kind_and_text(error)
        connection_log.error(
            "Error on AMQP connection %s (user: '%s', state: opening): %s",
            connection.name,
            connection.user,
            text,
        )
        return
    kind, text = _kind_and_text(error)
    connection_log.error(
        "Error on AMQP connection %s (%s, state: running): operation %s caused a connection "
        "exception %s: %s",
        connection.name,
        _who(connection),
        _operation(class_id, method_id),
        kind,
        text,
    )


def channel_error(
    connection: ServerConnection, number: int, error: AMQPError, class_id: int, method_id: int
) -> None:
    """A channel closed by the broker with its reply text: a refused method, or the
    broker's own reason (a consumer's delivery acknowledgement timeout, spec 0.8)."""
    kind, text = _kind_and_text(error)
    channel_log.error(
        "Channel error on connection %s (%s), channel %d: operation %s caused a channel "
        "exception %s: %s",
        connection.name,
        _who(connection),
        number,
        _operation(class_id, method_id),
        kind,
        text,
    )


def heartbeats_missed(connection: ServerConnection) -> None:
    connection_log.error(
        "closing AMQP connection %s (%s): missed heartbeats from client, timeout: %ds",
        connection.name,
        _who(connection),
        connection.heartbeat,
    )


def handshake_timeout(connection: ServerConnection, timeout: float | None) -> None:
    connection_log.error(
        "closing AMQP connection %s: handshake_timeout (%ss, in state %s)",
        connection.name,
        timeout,
        connection.state,
    )


def alarms_changed(before: tuple[str, ...], after: tuple[str, ...], node: str) -> None:
    """RabbitMQ's alarm lines (spec 21.1, 21.2): a warning when one is set, info when cleared."""
    for alarm in after:
        if alarm not in before:
            alarm_log.warning(
                "%s resource limit alarm set on node %s: publishers will be blocked until "
                "this alarm clears",
                alarm,
                node,
            )
    for alarm in before:
        if alarm not in after:
            alarm_log.info("%s resource limit alarm cleared on node %s", alarm, node)
