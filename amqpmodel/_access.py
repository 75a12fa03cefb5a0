"""Users' permissions, topic permissions and vhost limits (spec 15), and the checks a
channel makes with them.

A permission is one (configure, write, read) triple of regular expressions per user
and vhost; each check is an unanchored match against the resource name, "" matches
nothing real, an invalid pattern denies (15.4). The default exchange is checked as
"amq.default" (15.6). A channel keeps its last 12 successful checks and keeps passing
them after the permissions change (15.18): a repeated publish to one exchange costs
one set lookup.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING

import attrs

from ._errors import AccessRefused, NotAllowed, PreconditionFailed

if TYPE_CHECKING:
    from ._broker import Broker
    from ._channel import Channel

__all__ = [
    "AccessControl",
    "ChannelAccess",
    "check_passive",
    "check_queue_limit",
    "Permission",
    "TopicPermission",
    "check_resource",
    "check_topic",
    "check_vhost_access",
    "check_channel_limit",
    "compile_pattern",
]

CACHE_SIZE = 12  # successful checks a channel remembers (spec 15.18)
_DEFAULT_WRITE = ("write", "exchange", "")  # a publish to the default exchange
FULL = ".*"


def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """A permission's regex; "" matches nothing (15.4); None (deny) when invalid."""
    try:
        return re.compile(pattern if pattern != "" else "^$")
    except re.error:
        return None


@attrs.frozen
class Permission:
    """A user's configure/write/read regexes on one vhost (spec 15.4)."""

    user: str
    vhost: str
    configure: str
    write: str
    read: str

    def pattern(self, which: str) -> re.Pattern[str] | None:
        return _compiled(getattr(self, which))

    def as_dict(self) -> dict[str, str]:
        return {
            "user": self.user,
            "vhost": self.vhost,
            "configure": self.configure,
            "write": self.write,
            "read": self.read,
        }


@attrs.frozen
class TopicPermission:
    """A user's write/read regexes for the routing keys of one topic exchange (15.11)."""

    user: str
    vhost: str
    exchange: str
    write: str
    read: str

    def as_dict(self) -> dict[str, str]:
        return {
            "user": self.user,
            "vhost": self.vhost,
            "exchange": self.exchange,
            "write": self.write,
            "read": self.read,
        }


_PATTERNS: dict[str, re.Pattern[str] | None] = {}


def _compiled(pattern: str) -> re.Pattern[str] | None:
    if pattern not in _PATTERNS:
        _PATTERNS[pattern] = compile_pattern(pattern)
    return _PATTERNS[pattern]


class AccessControl:
    """One broker's permissions, topic permissions, vhost limits and user limits."""

    def __init__(self) -> None:
        self.permissions: dict[tuple[str, str], Permission] = {}
        self.topic_permissions: dict[tuple[str, str, str], TopicPermission] = {}
        self.vhost_limits: dict[str, dict[str, int]] = {}
        self.user_limits: dict[str, dict[str, int]] = {}

    def permission(self, user: str, vhost: str) -> Permission | None:
        return self.permissions.get((user, vhost))

    def limit(self, vhost: str, name: str) -> int | None:
        """A vhost limit in force; None (or a negative value) means none (15.14)."""
        value = self.vhost_limits.get(vhost, {}).get(name)
        return None if value is None or value < 0 else value

    def user_limit(self, user: str, name: str) -> int | None:
        """A user limit in force; None (or a negative value) means none (15.15)."""
        value = self.user_limits.get(user, {}).get(name)
        return None if value is None or value < 0 else value


class ChannelAccess:
    """What one channel knows of its user's permissions: the last successful checks."""

    __slots__ = ("cache", "order")

    def __init__(self) -> None:
        self.cache: set[tuple[str, str, str]] = set()
        self.order: deque[tuple[str, str, str]] = deque()

    def remember(self, key: tuple[str, str, str]) -> None:
        self.cache.add(key)
        self.order.append(key)
        if len(self.order) > CACHE_SIZE:
            self.cache.discard(self.order.popleft())


def check_resource(channel: Channel, which: str, kind: str, name: str) -> None:
    """403 unless the channel's user has ``which`` access to the resource (15.4-15.7)."""
    access = channel._access
    key = (which, kind, name)
    if key in access.cache:
        return
    if name == "" and kind == "exchange":
        name = "amq.default"  # spec 15.6
    connection = channel.connection
    permission = channel._broker._access_control.permission(connection.user, connection.vhost.name)
    pattern = permission.pattern(which) if permission is not None else None
    if pattern is None or pattern.search(name) is None:
        raise AccessRefused(
            f"{which} access to {kind} '{name}' in vhost '{connection.vhost.name}' "
            f"refused for user '{connection.user}'"
        )
    access.remember(key)
    if key == _DEFAULT_WRITE:
        channel._refresh_plain_publish()


def check_passive(channel: Channel, kind: str, name: str) -> None:
    """A passive declare (spec 15.5, 0.x.19): from RabbitMQ 4.2.7 any one of read,
    write or configure on the resource; a refusal names configure."""
    if not channel._broker.rabbitmq_version.passive_declare_permission:
        return
    for which in ("read", "write"):
        try:
            check_resource(channel, which, kind, name)
        except AccessRefused:
            continue
        return
    check_resource(channel, "configure", kind, name)


def check_topic(channel: Channel, which: str, exchange: str, routing_key: str) -> None:
    """403 unless a topic permission of the user allows the key (15.11, 15.12); no entry
    for the exchange allows everything."""
    connection = channel.connection
    vhost = connection.vhost.name
    entry = channel._broker._access_control.topic_permissions.get(
        (connection.user, vhost, exchange)
    )
    if entry is None:
        return
    raw = getattr(entry, which)
    expanded = raw.replace("{username}", re.escape(connection.user)).replace(
        "{vhost}", re.escape(vhost)
    )
    pattern = _compiled(expanded)
    if pattern is None or pattern.search(routing_key) is None:
        raise AccessRefused(
            f"{which} access to topic '{routing_key}' in exchange '{exchange}' in vhost "
            f"'{vhost}' refused for user '{connection.user}'"
        )


def check_vhost_access(broker: Broker, user: str, vhost: str) -> None:
    """connection.open's checks after the vhost exists (15.9, 15.14, 15.15): the vhost's
    connection limit, the user's, then the user's permission entry; 530 on failure."""
    control = broker._access_control
    limit = control.limit(vhost, "max-connections")
    if limit is not None:
        count = sum(1 for c in broker._connections if c.vhost.name == vhost and c.is_open)
        if count >= limit:
            raise NotAllowed(
                f"access to vhost '{vhost}' refused for user '{user}': connection limit "
                f"({limit}) is reached"
            )
    limit = control.user_limit(user, "max-connections")
    if limit is not None:
        count = sum(1 for c in broker._connections if c.user == user and c.is_open)
        if count >= limit:
            raise NotAllowed(
                f"connection refused for user '{user}': user connection limit ({limit}) "
                "is reached"
            )
    if control.permission(user, vhost) is None:
        raise NotAllowed(f"access to vhost '{vhost}' refused for user '{user}'")


def check_channel_limit(broker: Broker, user: str) -> None:
    """channel.open: 530 when the user has its max-channels open, over all its
    connections (15.15); the connection is closed."""
    limit = broker._access_control.user_limit(user, "max-channels")
    if limit is None:
        return
    count = sum(len(c._channels) for c in broker._connections if c.user == user and c.is_open)
    if count >= limit:
        raise NotAllowed(
            f"number of channels opened for user '{user}' has reached the maximum allowed "
            f"user limit of {limit}",
            20,
            10,
        )


def check_queue_limit(broker: Broker, vhost: str, queue: str, count: int) -> None:
    """406 when a new queue would exceed the vhost's max-queues (15.14)."""
    limit = broker._access_control.limit(vhost, "max-queues")
    if limit is not None and count + 1 > limit:
        raise PreconditionFailed(
            f"cannot declare queue '{queue}': queue limit in vhost '{vhost}' ({limit}) is reached"
        )
