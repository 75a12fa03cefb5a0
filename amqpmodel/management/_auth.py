"""Who may call what: HTTP Basic authentication against the broker's users and the
management tags (spec 18.1-18.3, 15.3, 15.16)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging

import attrs
from aiohttp import web

from amqpmodel import AMQPError, Broker

from ._http import ApiError

__all__ = ["LEVELS", "User", "authenticate", "check_vhost", "login_vhosts", "require"]

log = logging.getLogger("amqpmodel.management")

# what each level needs, in tags (spec 18.3); "administrator" may do everything
LEVELS: dict[str, frozenset[str]] = {
    "management": frozenset({"management", "policymaker", "monitoring", "administrator"}),
    "policymaker": frozenset({"policymaker", "administrator"}),
    "monitoring": frozenset({"monitoring", "administrator"}),
    "administrator": frozenset({"administrator"}),
}

_REFUSALS = {  # spec 18.2
    "management": "Not management user",
    "policymaker": "User not authorised to access object",
    "monitoring": "Not monitor user",
    "administrator": "Not administrator user",
}

_REALM = {"WWW-Authenticate": 'Basic realm="RabbitMQ Management"'}


@attrs.frozen
class User:
    """The authenticated caller."""

    name: str
    tags: tuple[str, ...]

    def has(self, level: str) -> bool:
        return bool(LEVELS[level].intersection(self.tags))


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return True  # a Unix socket
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authenticate(request: web.Request, broker: Broker, loopback_users: tuple[str, ...]) -> User:
    """The request's user, or 401 as spec 18.2 words it."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    name = password = None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        name, separator, password = decoded.partition(":")
        if not separator:
            name = password = None
    if name is None or password is None or not broker.authenticate(name, password):
        if name is None:
            why = "no credentials"
        elif name not in broker.users:
            why = "no such user"
        else:
            why = "wrong password"
        log.warning("HTTP access denied: user '%s' - invalid credentials (%s)", name or "", why)
        raise ApiError(401, "not_authorized", "Not_Authorized", _REALM)
    if name in loopback_users and not _is_loopback(request.remote):
        log.warning("HTTP access denied: user '%s' can only log in via localhost", name)
        raise ApiError(401, "not_authorised", "User can only log in via localhost", _REALM)
    user = User(name, tuple(broker.users[name][1]))
    if not user.has("management"):
        log.warning("HTTP access denied: user '%s' is not a management user", name)
        raise ApiError(401, "not_authorised", "Not management user", _REALM)
    return user


def require(user: User, level: str) -> None:
    """401 unless ``user`` has a tag that grants ``level`` (spec 18.3)."""
    if not user.has(level):
        raise ApiError(401, "not_authorised", _REFUSALS[level], _REALM)


def login_vhosts(broker: Broker, name: str) -> set[str]:
    """The vhosts ``name`` may open: those it has a permission entry on (spec 15.4, 15.9)."""
    try:
        return {p["vhost"] for p in broker.list_user_permissions(name)}
    except AMQPError:  # the user is gone
        return set()


def check_vhost(broker: Broker, user: User, vhost: str, level: str) -> None:
    """A vhost named in the path that the caller may not use: 404 {"error": "not_found",
    "reason": "Not Found"}, as spec 18.2 says (RabbitMQ 3.10 and the web dispatch code
    answer 401 "User not authorised to access virtual host"; the spec wins); for
    policies and parameters 401 "User not authorised to access object"; administrators
    may read every vhost. A missing vhost passes: the handler answers 404."""
    if user.has("administrator") or vhost not in broker.vhosts:
        return
    if vhost not in login_vhosts(broker, user.name):
        if level == "policymaker":
            raise ApiError(401, "not_authorised", "User not authorised to access object")
        raise ApiError(404, "not_found", "Not Found")  # spec 18.2
