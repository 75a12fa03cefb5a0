"""What RabbitMQ keeps beside the entities: each vhost's description and tags, and the
global runtime parameters (``cluster_name`` and whatever definitions bring).

Both travel in definitions (spec 16.3, 16.4), show in the management API
(18.8), and are stored with a data directory (22.3), through the journal's
access records ("vhost-metadata", "global-parameter").
"""

from __future__ import annotations

import json
import weakref
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import NotFound
from ._parameters import ParameterError

if TYPE_CHECKING:
    from ._broker import Broker
    from ._vhost import VirtualHost

__all__ = [
    "QUEUE_TYPES",
    "clear_global_parameter",
    "global_parameter",
    "list_global_parameters",
    "restore_metadata",
    "set_global_parameter",
    "set_vhost_metadata",
    "vhost_metadata",
]

QUEUE_TYPES = ("classic", "quorum", "stream")
_DEFAULT_DESCRIPTION = "Default virtual host"  # what RabbitMQ gives "/" at its first boot


@attrs.define
class _Metadata:
    description: str | None = None  # None: never set
    tags: tuple[str, ...] = ()


_VHOSTS: weakref.WeakKeyDictionary[VirtualHost, _Metadata] = weakref.WeakKeyDictionary()
_GLOBALS: weakref.WeakKeyDictionary[Broker, dict[str, Any]] = weakref.WeakKeyDictionary()


def _vhost(broker: Broker, name: str) -> VirtualHost:
    found = broker.vhosts.get(name)
    if found is None:
        raise NotFound(f"no vhost '{name}'")
    return found


def vhost_metadata(broker: Broker, vhost: str) -> dict[str, Any]:
    """``{"description", "tags", "default_queue_type"}`` of a vhost, RabbitMQ's defaults
    filled in ("Default virtual host" for "/", "classic"); ``NotFound`` if unknown."""
    with broker._lock:
        host = _vhost(broker, vhost)
        metadata = _VHOSTS.get(host) or _Metadata()
        description = metadata.description
        if description is None:
            description = _DEFAULT_DESCRIPTION if vhost == "/" else ""
        return {
            "description": description,
            "tags": list(metadata.tags),
            "default_queue_type": host.default_queue_type,
        }


def set_vhost_metadata(
    broker: Broker,
    vhost: str,
    *,
    description: str | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    default_queue_type: str | None = None,
) -> None:
    """Change what is given of a vhost's metadata (None leaves a field as it is). The
    default queue type is the vhost's own (spec 11.3): queues declared without
    ``x-queue-type`` get it; one of "classic", "quorum", "stream"."""
    if default_queue_type is not None and default_queue_type not in QUEUE_TYPES:
        raise ParameterError(
            f"default queue type '{default_queue_type}' is not one of {', '.join(QUEUE_TYPES)}"
        )
    with broker._lock:
        host = _vhost(broker, vhost)
        metadata = _VHOSTS.setdefault(host, _Metadata())
        if description is not None:
            metadata.description = str(description)
        if tags is not None:
            metadata.tags = tuple(str(tag) for tag in tags)
        if default_queue_type is not None and (
            host.default_queue_type_is_set or default_queue_type != host.default_queue_type
        ):
            host.default_queue_type = default_queue_type
        _record_vhost(broker, host)


def _record_vhost(broker: Broker, host: VirtualHost) -> None:
    if broker._journal is None:
        return
    metadata = _VHOSTS.get(host) or _Metadata()
    broker._journal.access_changed(
        "vhost-metadata",
        (host.name,),
        {
            "vhost": host.name,
            "description": metadata.description,
            "tags": list(metadata.tags),
            "default_queue_type": host._default_queue_type,  # None: never set
        },
    )


def restore_metadata(broker: Broker, kind: str, value: dict[str, Any]) -> None:
    """A vhost's metadata or a global parameter read back by a store (22.3)."""
    if kind == "global-parameter":
        _GLOBALS.setdefault(broker, {})[value["name"]] = json.dumps(value["value"])
        return
    host = broker.vhosts.get(value["vhost"])
    if host is None:
        return  # the vhost went in a batch the metadata record outlived
    _VHOSTS[host] = _Metadata(value["description"], tuple(value["tags"]))
    if value["default_queue_type"] is not None:
        host.default_queue_type = value["default_queue_type"]


def list_global_parameters(broker: Broker) -> list[dict[str, Any]]:
    """The global runtime parameters as ``{"name", "value"}`` (copies), by name."""
    with broker._lock:
        table = _GLOBALS.get(broker, {})
        return [{"name": name, "value": json.loads(table[name])} for name in sorted(table)]


def global_parameter(broker: Broker, name: str) -> Any:
    """One global parameter's value (a copy), None when it is not set."""
    with broker._lock:
        text = _GLOBALS.get(broker, {}).get(name)
        return None if text is None else json.loads(text)


def set_global_parameter(broker: Broker, name: str, value: Any) -> None:
    """``rabbitmqctl set_global_parameter name value``: any JSON value."""
    if not isinstance(name, str) or not name:
        raise ParameterError("a global parameter needs a name")
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ParameterError(f"Could not parse JSON document: {error}") from None
    with broker._lock:
        _GLOBALS.setdefault(broker, {})[name] = text
        if broker._journal is not None:
            broker._journal.access_changed(
                "global-parameter", (name,), {"name": name, "value": json.loads(text)}
            )


def clear_global_parameter(broker: Broker, name: str) -> None:
    """``rabbitmqctl clear_global_parameter``; "Parameter does not exist" when unset."""
    with broker._lock:
        if _GLOBALS.get(broker, {}).pop(name, None) is None:
            raise ParameterError("Parameter does not exist")
        if broker._journal is not None:
            broker._journal.access_changed("global-parameter", (name,), None)
