"""``Broker``'s access-control verbs, named as rabbitmqctl's (spec 15): set_permissions,
clear_permissions, list_permissions, list_user_permissions, set_topic_permissions,
clear_topic_permissions, list_topic_permissions, set_user_tags, change_password,
set_vhost_limits, clear_vhost_limits, vhost_limits, set_user_limits, clear_user_limits,
user_limits, list_users.

Kept out of ``_broker.py``; the methods are assigned onto ``Broker`` there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._access import Permission, TopicPermission
from ._errors import NotFound
from ._metadata import restore_metadata
from ._parameters import ParameterError, erlang_term
from ._passwords import DEFAULT_HASHING_ALGORITHM, hash_password, hashing_algorithm

if TYPE_CHECKING:
    from ._broker import Broker

__all__ = [
    "change_password",
    "clear_permissions",
    "clear_topic_permissions",
    "clear_vhost_limits",
    "list_permissions",
    "list_topic_permissions",
    "list_user_permissions",
    "list_users",
    "restore_access",
    "set_permissions",
    "set_topic_permissions",
    "set_user_tags",
    "set_vhost_limits",
    "vhost_limits",
    "set_user_limits",
    "clear_user_limits",
    "user_limits",
]

_VHOST_LIMITS = ("max-connections", "max-queues")
_USER_LIMITS = ("max-connections", "max-channels")


def _known(broker: Broker, user: str, vhost: str | None) -> None:
    if user not in broker.users:
        raise NotFound(f"no user '{user}'")
    if vhost is not None and vhost not in broker.vhosts:
        raise NotFound(f"no vhost '{vhost}'")


def _changed(broker: Broker) -> None:
    if broker._journal is not None:
        broker._journal.sync_entities()


def set_permissions(
    self: Broker,
    user: str,
    configure: str = ".*",
    write: str = ".*",
    read: str = ".*",
    vhost: str = "/",
) -> None:
    """Give ``user`` access to ``vhost`` with three regexes (``rabbitmqctl
    set_permissions -p vhost user conf write read``, spec 15.4); replaces what it had.
    An invalid regex is accepted and denies (15.4)."""
    with self._lock:
        _known(self, user, vhost)
        for pattern in (configure, write, read):
            if not isinstance(pattern, str):
                raise TypeError(f"a permission is a regex str, not {type(pattern).__name__}")
        permission = Permission(user, vhost, configure, write, read)
        self._access_control.permissions[(user, vhost)] = permission
        if self._journal is not None:
            self._journal.access_changed("permission", (user, vhost), permission.as_dict())
        _changed(self)


def clear_permissions(self: Broker, user: str, vhost: str = "/") -> None:
    """Take ``user``'s access to ``vhost`` away (``rabbitmqctl clear_permissions``); its
    open connections stay open (15.18)."""
    with self._lock:
        _known(self, user, vhost)
        if self._access_control.permissions.pop((user, vhost), None) is not None:
            if self._journal is not None:
                self._journal.access_changed("permission", (user, vhost), None)
            _changed(self)


def list_permissions(self: Broker, vhost: str | None = None) -> list[dict[str, str]]:
    """Every permission (of one vhost), as ``rabbitmqctl list_permissions`` lists them."""
    with self._lock:
        return [
            p.as_dict()
            for key, p in sorted(self._access_control.permissions.items())
            if vhost is None or key[1] == vhost
        ]


def list_user_permissions(self: Broker, user: str) -> list[dict[str, str]]:
    """One user's permissions on every vhost (``rabbitmqctl list_user_permissions``)."""
    with self._lock:
        _known(self, user, None)
        return [
            p.as_dict()
            for key, p in sorted(self._access_control.permissions.items())
            if key[0] == user
        ]


def set_topic_permissions(
    self: Broker, user: str, exchange: str, write: str, read: str, vhost: str = "/"
) -> None:
    """Limit the routing keys ``user`` may publish with (``write``) and bind with
    (``read``) on a topic exchange (``rabbitmqctl set_topic_permissions``, 15.11)."""
    with self._lock:
        _known(self, user, vhost)
        entry = TopicPermission(user, vhost, exchange, write, read)
        self._access_control.topic_permissions[(user, vhost, exchange)] = entry
        if self._journal is not None:
            self._journal.access_changed("topic", (user, vhost, exchange), entry.as_dict())
        _changed(self)


def clear_topic_permissions(
    self: Broker, user: str, exchange: str | None = None, vhost: str = "/"
) -> None:
    """Remove a user's topic permissions on one exchange, or on all of the vhost."""
    with self._lock:
        _known(self, user, vhost)
        table = self._access_control.topic_permissions
        keys = [k for k in table if k[0] == user and k[1] == vhost and exchange in (None, k[2])]
        for key in keys:
            del table[key]
            if self._journal is not None:
                self._journal.access_changed("topic", key, None)
        if keys:
            _changed(self)


def list_topic_permissions(self: Broker, vhost: str | None = None) -> list[dict[str, str]]:
    with self._lock:
        return [
            t.as_dict()
            for key, t in sorted(self._access_control.topic_permissions.items())
            if vhost is None or key[1] == vhost
        ]


def set_user_tags(self: Broker, user: str, tags: tuple[str, ...] | list[str]) -> None:
    """Replace a user's tags (``rabbitmqctl set_user_tags``; at most 32, spec 15.3)."""
    with self._lock:
        _known(self, user, None)
        tags = tuple(tags)
        if len(tags) > 32:
            raise ParameterError(f"too many tags: {len(tags)}, at most 32 are allowed")
        self._set_user(user, self.users[user][0], tags)


def change_password(self: Broker, user: str, password: str | bytes) -> None:
    """``rabbitmqctl change_password``: the tags stay."""
    with self._lock:
        _known(self, user, None)
        self._set_user(user, hash_password(password), self.users[user][1])


def list_users(self: Broker) -> list[dict[str, Any]]:
    """Users as definitions and the management API show them (spec 16.3)."""
    with self._lock:
        return [
            {
                "name": name,
                "password_hash": password_hash,
                # the scheme that made the hash (spec 15.2); a passwordless user: the default
                "hashing_algorithm": hashing_algorithm(password_hash) or DEFAULT_HASHING_ALGORITHM,
                "tags": list(tags),
                "limits": dict(self._access_control.user_limits.get(name, {})),
            }
            for name, (password_hash, tags) in sorted(self.users.items())
        ]


def set_vhost_limits(self: Broker, vhost: str, limits: dict[str, int]) -> None:
    """``rabbitmqctl set_vhost_limits -p vhost '{"max-connections": N, "max-queues": M}'``:
    integers, negative for none, 0 for none allowed; replaces the vhost's limits (15.14).
    Existing connections and queues are never removed by a lower limit."""
    with self._lock:
        if vhost not in self.vhosts:
            raise NotFound(f"no vhost '{vhost}'")
        errors = []
        for key, value in limits.items():
            if key not in _VHOST_LIMITS:
                errors.append(f"{erlang_term(key)} is not a valid vhost limit")
            elif isinstance(value, bool) or not isinstance(value, int):
                errors.append(f"{erlang_term(value)} is not a valid value for {key}")
        if errors:
            raise ParameterError("Validation failed\n\n" + "".join(e + "\n" for e in errors))
        self._access_control.vhost_limits[vhost] = dict(limits)
        if self._journal is not None:
            self._journal.access_changed(
                "vhost-limits", (vhost,), {"vhost": vhost, "limits": dict(limits)}
            )
        _changed(self)


def clear_vhost_limits(self: Broker, vhost: str) -> None:
    with self._lock:
        if self._access_control.vhost_limits.pop(vhost, None) is not None:
            if self._journal is not None:
                self._journal.access_changed("vhost-limits", (vhost,), None)
            _changed(self)


def vhost_limits(self: Broker, vhost: str) -> dict[str, int]:
    """The limits set on a vhost ({} when none)."""
    with self._lock:
        return dict(self._access_control.vhost_limits.get(vhost, {}))


def set_user_limits(self: Broker, user: str, limits: dict[str, int]) -> None:
    """``rabbitmqctl set_user_limits user '{"max-connections": N, "max-channels": M}'``:
    integers, negative for none, 0 for none allowed (15.15); merged into the user's
    limits, as RabbitMQ merges them. Existing connections and channels are never
    closed by a lower limit."""
    with self._lock:
        _known(self, user, None)
        errors = [
            f"{key} should be a number, actually was {erlang_term(value)}"
            for key, value in limits.items()
            if key in _USER_LIMITS and (isinstance(value, bool) or not isinstance(value, int))
        ]
        unknown = [(key, value) for key, value in limits.items() if key not in _USER_LIMITS]
        if unknown:  # rabbit_parameter_validation:proplist's text
            terms = ",".join(f"{{{erlang_term(k)},{erlang_term(v)}}}" for k, v in unknown)
            errors.insert(0, f"Unrecognised terms [{terms}] in user-limits")
        if errors:
            raise ParameterError("Validation failed\n\n" + "".join(e + "\n" for e in errors))
        _store_user_limits(
            self, user, {**self._access_control.user_limits.get(user, {}), **limits}
        )


def clear_user_limits(self: Broker, user: str, name: str = "all") -> None:
    """``rabbitmqctl clear_user_limits user max-channels`` (or ``all``)."""
    with self._lock:
        _known(self, user, None)
        limits = dict(self._access_control.user_limits.get(user, {}))
        if name == "all":
            limits.clear()
        else:
            limits.pop(name, None)
        _store_user_limits(self, user, limits)


def _store_user_limits(broker: Broker, user: str, limits: dict[str, int]) -> None:
    control = broker._access_control
    if limits:
        control.user_limits[user] = limits
    elif control.user_limits.pop(user, None) is None:
        return
    if broker._journal is not None:
        broker._journal.access_changed(
            "user-limits", (user,), {"user": user, "limits": limits} if limits else None
        )
    _changed(broker)


def user_limits(self: Broker, user: str | None = None) -> dict[str, dict[str, int]]:
    """The users' limits, by user (of one ``user`` when given; users without
    limits are left out)."""
    with self._lock:
        return {
            name: dict(limits)
            for name, limits in sorted(self._access_control.user_limits.items())
            if user is None or name == user
        }


def restore_access(broker: Broker, kind: str, value: dict[str, Any]) -> None:
    """What ``Journal.access_changed`` recorded, read back by a store: a permission,
    topic permission, vhost limit, user limit, vhost metadata or global parameter."""
    control = broker._access_control
    if kind in ("vhost-metadata", "global-parameter"):
        restore_metadata(broker, kind, value)
    elif kind == "permission":
        p = Permission(
            value["user"], value["vhost"], value["configure"], value["write"], value["read"]
        )
        control.permissions[(p.user, p.vhost)] = p
    elif kind == "topic":
        t = TopicPermission(
            value["user"], value["vhost"], value["exchange"], value["write"], value["read"]
        )
        control.topic_permissions[(t.user, t.vhost, t.exchange)] = t
    elif kind == "user-limits":
        control.user_limits[value["user"]] = dict(value["limits"])
    else:
        control.vhost_limits[value["vhost"]] = dict(value["limits"])
