"""Applying a definitions document (spec 16.7-16.10): each kind of item in RabbitMQ's
order, with its merge rules, defaults and error texts.

The import acts as RabbitMQ's internal user: queues, exchanges and bindings are
declared through an in-process channel whose permission checks all pass (the
vhost's queue limit still applies), so arguments are validated and policies
applied exactly as for a client's declare. An error stops the import as a
``ParameterError`` whose reason is RabbitMQ's text for it.
"""

from __future__ import annotations

import contextlib
import html
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._errors import AMQPError
from ._metadata import set_global_parameter, set_vhost_metadata
from ._parameters import ParameterError, erlang_term
from ._passwords import DEFAULT_HASHING_ALGORITHM, HASHING_ALGORITHMS, hashing_algorithm

if TYPE_CHECKING:
    from ._broker import Broker
    from ._channel import Channel
    from ._connection import Connection

__all__ = ["INTERNAL_USER", "import_document"]

log = logging.getLogger("amqpmodel.definitions")

INTERNAL_USER = "rmq-internal"  # RabbitMQ's ?INTERNAL_USER, who imports definitions
_MD5 = "rabbit_password_hashing_md5"
_MAX_TAGS = 32  # spec 15.3


def _error(reason: str, cause: BaseException | None = None) -> ParameterError:
    error = ParameterError(reason)
    error.__cause__ = cause
    return error


def _term(atom: str, value: Any) -> str:
    """An error tuple as RabbitMQ's format/1 prints it: ``{no_such_user,<<"u">>}``."""
    return "{" + atom + "," + erlang_term(value) + "}"


def _escaped(text: str) -> str:
    # rabbit_definitions escapes the HTML tags of validation texts it reports
    return html.escape(text, quote=False)


def _items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """One category; any may be missing (16.1); non-objects are skipped, as RabbitMQ does."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _error(f"{key} must be an array, not {type(value).__name__}")
    return [item for item in value if isinstance(item, dict)]


def _text(item: dict[str, Any], key: str, what: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise _error(f"{what} without a '{key}' string: {erlang_term(item)}")
    return value


def _flag(item: dict[str, Any], key: str, default: bool, what: str) -> bool:
    value = item.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _error(f"{what}: '{key}' must be true or false, not {erlang_term(value)}")
    return value


def _table(item: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    value = item.get(key)
    if value is None or value == []:  # an empty proplist prints as []
        return {}
    if not isinstance(value, dict):
        raise _error(f"{what}: '{key}' must be an object, not {erlang_term(value)}")
    return value


def _tags(value: Any) -> tuple[str, ...]:
    """An array, or a comma-separated string (spec 16.3)."""
    if isinstance(value, str):
        return tuple(tag.strip() for tag in value.split(",") if tag.strip())
    if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        return tuple(tag for tag in value if tag)
    raise _error(f"tags must be an array or a comma-separated string, not {erlang_term(value)}")


def _version(data: dict[str, Any]) -> tuple[int, int] | None:
    text = data.get("rabbitmq_version", data.get("rabbit_version"))
    if not isinstance(text, str):
        return None
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return None


# ----------------------------------------------------------------- users, vhosts, access


def _user(broker: Broker, item: dict[str, Any], version: tuple[int, int] | None) -> None:
    """Spec 16.3, 16.10, 15.2."""
    name = _text(item, "name", "user")
    if "tags" not in item:
        raise _error("tags_not_present")
    tags = _tags(item["tags"])
    if len(tags) > _MAX_TAGS:
        raise _error(f"too many tags: {len(tags)}, at most {_MAX_TAGS} are allowed")
    password = item.get("password")
    password_hash = item.get("password_hash")
    if password is not None and password_hash is not None:
        raise _error("both_password_and_password_hash_are_provided")
    limits = _table(item, "limits", f"user '{name}'")
    if password is not None:
        if not isinstance(password, str):
            raise _error(f"the password of user '{name}' must be a string")
        broker.add_user(name, password, tags)
    elif password_hash is not None:
        broker._set_user(name, _checked_hash(name, password_hash, item, version), tags)
    elif name in broker.users:  # neither: only the tags change
        broker._set_user(name, broker.users[name][0], tags)
    else:  # neither: a user without a password (it cannot log in with one)
        broker._set_user(name, "", tags)
    if limits:
        broker.set_user_limits(name, limits)  # spec 15.15, 16.3


def _checked_hash(
    name: str, password_hash: Any, item: dict[str, Any], version: tuple[int, int] | None
) -> str:
    """The hash, if it is one of the schemes RabbitMQ has (15.2): a definition without
    ``hashing_algorithm`` means md5 for RabbitMQ 3.0-3.5, else the default."""
    algorithm = item.get("hashing_algorithm")
    if algorithm is None:
        old = version is not None and (3, 0) <= version <= (3, 5)
        algorithm = _MD5 if old else DEFAULT_HASHING_ALGORITHM
    if algorithm not in HASHING_ALGORITHMS:
        raise _error(
            f"unsupported hashing_algorithm {erlang_term(algorithm)} for user '{name}': "
            f"amqpmodel has {', '.join(HASHING_ALGORITHMS)}"
        )
    if not isinstance(password_hash, str):
        raise _error(f"the password_hash of user '{name}' must be a string")
    if password_hash != "" and hashing_algorithm(password_hash) != algorithm:
        raise _error(
            f"the password_hash of user '{name}' is not a {algorithm} hash "
            "(base64 of a 4-byte salt and the digest)"
        )
    return password_hash


def _vhost(broker: Broker, item: dict[str, Any]) -> None:
    """Spec 16.3: created or overwritten; description and tags default to empty, as
    RabbitMQ's put_vhost sets them; ``tracing`` turns the firehose on or off."""
    name = _text(item, "name", "vhost")
    metadata = _table(item, "metadata", f"vhost '{name}'")
    description = item.get("description", metadata.get("description", ""))
    tags = item.get("tags", metadata.get("tags", []))
    queue_type = item.get("default_queue_type", metadata.get("default_queue_type"))
    broker.add_vhost(name, grant_default_user=False)  # its permissions are in the document
    set_vhost_metadata(
        broker,
        name,
        description="" if description is None else str(description),
        tags=_tags(tags if tags is not None else []),
        default_queue_type=queue_type if isinstance(queue_type, str) and queue_type else None,
    )
    tracing = item.get("tracing")
    if tracing is True:
        broker.trace_on(name)
    elif tracing is False:
        broker.trace_off(name)


def _vhost_missing(vhost: str) -> ParameterError:
    return _error(f'Please create virtual host "{vhost}" prior to importing definitions.')


def _permission(broker: Broker, item: dict[str, Any]) -> None:
    user = _text(item, "user", "permission")
    vhost = _text(item, "vhost", "permission")
    configure, write, read = (_text(item, key, "permission") for key in ("configure", "write", "read"))
    _known(broker, user, vhost)
    broker.set_permissions(user, configure, write, read, vhost=vhost)


def _topic_permission(broker: Broker, item: dict[str, Any]) -> None:
    user = _text(item, "user", "topic permission")
    vhost = _text(item, "vhost", "topic permission")
    exchange = _text(item, "exchange", "topic permission")
    write, read = (_text(item, key, "topic permission") for key in ("write", "read"))
    _known(broker, user, vhost)
    broker.set_topic_permissions(user, exchange, write, read, vhost=vhost)


def _known(broker: Broker, user: str, vhost: str) -> None:
    if user not in broker.users:
        raise _error(_term("no_such_user", user))
    if vhost not in broker.vhosts:
        raise _error(_term("no_such_vhost", vhost))


def _global_parameter(broker: Broker, item: dict[str, Any]) -> None:
    set_global_parameter(broker, _text(item, "name", "global parameter"), item.get("value"))


def _validate_limits(broker: Broker, data: dict[str, Any], target: str | None) -> None:
    """Before any queue: the new queues of each vhost must fit its max-queues (16.7)."""
    new: dict[str, int] = {}
    for item in _items(data, "queues"):
        vhost = target if target is not None else item.get("vhost")
        host = broker.vhosts.get(vhost) if isinstance(vhost, str) else None
        if host is not None and item.get("name") not in host.queues:
            new[host.name] = new.get(host.name, 0) + 1
    for vhost, count in new.items():
        limit = broker.vhost_limits(vhost).get("max-queues")
        existing = len(broker.vhosts[vhost].queues)
        if limit is not None and limit >= 0 and existing + count > limit:
            raise _error(
                f'Adding {count} queue(s) to virtual host "{vhost}" would exceed the limit of '
                f"{limit} queue(s).\n\nThis virtual host currently has {existing} queue(s) "
                "defined.\n\nImport aborted!"
            )


# ----------------------------------------------------------------- policies, parameters


def _policy(broker: Broker, item: dict[str, Any], vhost: str) -> None:
    name = item.get("name")
    if not isinstance(name, str):
        raise _error(f"policy in virtual host '{vhost}' has undefined name")
    if vhost not in broker.vhosts:
        raise _vhost_missing(vhost)
    definition = item.get("definition")
    priority = item.get("priority", 0)
    try:
        broker.set_policy(
            name,
            item.get("pattern"),  # type: ignore[arg-type]  # validated by set_policy
            definition,  # type: ignore[arg-type]
            priority if priority is not None else 0,
            item.get("apply-to", "all"),
            vhost=vhost,
        )
    except ParameterError as error:
        raise _error(_escaped(f"{error.reason} ({vhost}/{name})"), error) from None


def _parameter(broker: Broker, item: dict[str, Any], vhost: str) -> None:
    component = _text(item, "component", "parameter")
    name = _text(item, "name", "parameter")
    value = item.get("value")
    if vhost not in broker.vhosts:
        raise _vhost_missing(vhost)
    try:
        if component == "operator_policy":  # spec 16.4
            policy = value if isinstance(value, dict) else {}
            broker.set_operator_policy(
                name,
                policy.get("pattern"),  # type: ignore[arg-type]  # validated there
                policy.get("definition"),  # type: ignore[arg-type]
                policy.get("priority", 0),
                policy.get("apply-to", "all"),
                vhost=vhost,
            )
        elif component == "vhost-limits":
            if not isinstance(value, dict):
                raise ParameterError(
                    f"Validation failed\n\n{erlang_term(value)} is not a valid vhost limits value\n"
                )
            broker.set_vhost_limits(vhost, value)
        else:
            broker.set_parameter(component, name, value, vhost=vhost)
    except ParameterError as error:
        raise _error(_escaped(f"{error.reason} ({vhost}/{component}/{name})"), error) from None


# ----------------------------------------------------------------- queues, exchanges, bindings


class _Granted:
    """A permission cache that holds every check: the import is the internal user."""

    def __contains__(self, key: object) -> bool:
        return True

    def add(self, key: object) -> None:
        pass

    def discard(self, key: object) -> None:
        pass


class _Declarer:
    """Internal channels, one open per vhost at a time, for declares and binds."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._connections: dict[str, Connection] = {}

    def channel(self, vhost: str) -> Channel:
        from ._connection import Connection as _Connection

        connection = self._connections.get(vhost)
        if connection is None or not connection.is_open:
            with self._broker._lock:
                host = self._broker.vhosts[vhost]
                connection = _Connection(self._broker, host, INTERNAL_USER, {"product": "definitions"})
            self._connections[vhost] = connection
        for channel in connection.channels.values():
            if channel.is_open:
                return channel
        channel = connection.channel()
        channel._access.cache = _Granted()  # type: ignore[assignment]
        return channel

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()


def _amqp(action: Callable[[], Any]) -> None:
    try:
        action()
    except AMQPError as error:  # format/1 of an amqp_error: "name: explanation"
        text = f"{error.reply_name.lower()}: {getattr(error, 'explanation', '') or error.reply_text}"
        raise _error(text, error) from None


def _skipped(kind: str, name: str, vhost: str) -> bool:
    """Spec 16.9: ``amq.*`` queues and exchanges and the default exchange are not imported."""
    if name.startswith("amq.") or (kind == "exchange" and name == ""):
        log.warning(
            "definitions import: skipping %s '%s' in vhost '%s' (a name RabbitMQ reserves)",
            kind,
            name,
            vhost,
        )
        return True
    return False


def _exchange(declarer: _Declarer, item: dict[str, Any], vhost: str) -> None:
    name = _text(item, "name", "exchange")
    host = declarer._broker.vhosts.get(vhost)
    if host is None:
        raise _vhost_missing(vhost)
    if _skipped("exchange", name, vhost) or name in host.exchanges:
        return  # spec 16.8: an existing exchange is left as it is
    what = f"exchange '{name}' in vhost '{vhost}'"
    exchange_type = _text(item, "type", what)
    durable = _flag(item, "durable", True, what)  # spec 16.9
    auto_delete = _flag(item, "auto_delete", False, what)
    internal = _flag(item, "internal", False, what)
    arguments = _table(item, "arguments", what)
    channel = declarer.channel(vhost)
    _amqp(
        lambda: channel.exchange_declare(
            name, exchange_type, durable=durable, auto_delete=auto_delete, internal=internal,
            arguments=arguments,
        )
    )


def _queue(declarer: _Declarer, item: dict[str, Any], vhost: str) -> None:
    name = _text(item, "name", "queue")
    host = declarer._broker.vhosts.get(vhost)
    if host is None:
        raise _vhost_missing(vhost)
    if _skipped("queue", name, vhost) or name in host.queues:
        return  # spec 16.8
    what = f"queue '{name}' in vhost '{vhost}'"
    durable = _flag(item, "durable", True, what)  # spec 16.9
    auto_delete = _flag(item, "auto_delete", False, what)
    arguments = _table(item, "arguments", what)  # the type field is not read (16.9)
    channel = declarer.channel(vhost)
    _amqp(
        lambda: channel.queue_declare(
            name, durable=durable, auto_delete=auto_delete, arguments=arguments
        )
    )


def _binding(declarer: _Declarer, item: dict[str, Any], vhost: str) -> None:
    """Added once (16.8); one whose source or destination is missing is skipped, as
    RabbitMQ ignores its error."""
    host = declarer._broker.vhosts.get(vhost)
    if host is None:
        raise _vhost_missing(vhost)
    source = _text(item, "source", "binding")
    destination = _text(item, "destination", "binding")
    kind = item.get("destination_type", "queue")
    routing_key = item.get("routing_key", "")
    if not isinstance(routing_key, str) or kind not in ("queue", "exchange"):
        raise _error(f"binding with a bad destination_type or routing_key: {erlang_term(item)}")
    arguments = _table(item, "arguments", "binding")
    target = host.queues.get(destination) if kind == "queue" else host.exchanges.get(destination)
    if source == "" or source not in host.exchanges or target is None:
        log.warning(
            "definitions import: skipping binding of %s '%s' to exchange '%s' in vhost '%s': "
            "an end is missing",
            kind,
            destination,
            source,
            vhost,
        )
        return
    if kind == "queue" and getattr(target, "exclusive", False):
        log.warning("definitions import: skipping binding of exclusive queue '%s'", destination)
        return
    channel = declarer.channel(vhost)
    if kind == "queue":
        _amqp(lambda: channel.queue_bind(destination, source, routing_key, arguments))
    else:
        _amqp(lambda: channel.exchange_bind(destination, source, routing_key, arguments))


# ----------------------------------------------------------------- the whole document


def _item_vhost(item: dict[str, Any], target: str | None) -> str:
    if target is not None:
        return target  # a single-vhost import: items name no vhost (16.6)
    vhost = item.get("vhost")
    if not isinstance(vhost, str):
        raise _error("Virtual host does not exist and is not specified in definitions file.")
    return vhost


@contextlib.contextmanager
def _declaring(broker: Broker) -> Iterator[_Declarer]:
    declarer = _Declarer(broker)
    try:
        yield declarer
    finally:
        declarer.close()


def import_document(broker: Broker, data: dict[str, Any], target: str | None) -> None:
    """Spec 16.7's order: users, vhosts, (limits checked), permissions, exchanges, topic
    permissions, global parameters, policies, parameters, queues, bindings; a
    single-vhost import: (limits), exchanges, parameters, policies, queues, bindings."""
    version = _version(data)
    with _declaring(broker) as declarer:
        if target is None:
            for item in _items(data, "users"):
                _user(broker, item, version)
            for item in _items(data, "vhosts"):
                _vhost(broker, item)
        _validate_limits(broker, data, target)
        if target is None:
            for item in _items(data, "permissions"):
                _permission(broker, item)
        for item in _items(data, "exchanges"):
            _exchange(declarer, item, _item_vhost(item, target))
        if target is None:
            for item in _items(data, "topic_permissions"):
                _topic_permission(broker, item)
            for item in _items(data, "global_parameters"):
                _global_parameter(broker, item)
            for item in _items(data, "policies"):
                _policy(broker, item, _item_vhost(item, target))
            for item in _items(data, "parameters"):
                _parameter(broker, item, _item_vhost(item, target))
        else:
            for item in _items(data, "parameters"):
                _parameter(broker, item, target)
            for item in _items(data, "policies"):
                _policy(broker, item, target)
        for item in _items(data, "queues"):
            _queue(declarer, item, _item_vhost(item, target))
        for item in _items(data, "bindings"):
            _binding(declarer, item, _item_vhost(item, target))
