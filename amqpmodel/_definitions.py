"""Definitions (spec 16): the broker's users, vhosts, permissions, parameters, policies,
queues, exchanges and bindings as RabbitMQ's JSON document, to move a topology to a
RabbitMQ cluster and back.

``broker.export_definitions()`` gives what ``rabbitmqctl export_definitions``
writes (16.1-16.5); with ``vhost=`` the single-vhost document of
``GET /api/definitions/{vhost}`` (16.6). ``broker.import_definitions(data)``
applies one, in RabbitMQ's order and with its merge rules and defaults
(16.7-16.10); ``load_definitions`` reads files as ``load_definitions`` does at
a RabbitMQ node's boot (16.11). The management API adds its HTTP fields
(``product_name``, ``explanation``...) on top.
"""

from __future__ import annotations

import datetime
import decimal
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._definitions_import import import_document
from ._errors import NotFound
from ._metadata import list_global_parameters, vhost_metadata
from ._parameters import ParameterError

if TYPE_CHECKING:
    from ._broker import Broker
    from ._vhost import VirtualHost

__all__ = ["export_definitions", "import_definitions", "json_value", "load_definitions"]


def json_value(value: Any) -> Any:
    """An AMQP field value as JSON has it (RabbitMQ's amqp_table in definitions): typed
    integers and floats as numbers, byte strings as text, timestamps as seconds."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp())
    return str(value)


# ----------------------------------------------------------------- export (16.1-16.6)


def _limits(broker: Broker, vhost: str) -> dict[str, int] | list[Any]:
    # RabbitMQ prints no limits as an empty proplist: []
    limits = broker.vhost_limits(vhost)
    return dict(limits) if limits else []


def _queues(vhost: VirtualHost) -> list[dict[str, Any]]:
    return [
        {
            "name": queue.name,
            "vhost": vhost.name,
            "type": queue.queue_type,
            "durable": queue.durable,
            "auto_delete": queue.auto_delete,
            "arguments": json_value(queue.arguments),
        }
        for name, queue in sorted(vhost.queues.items())
        if not queue.exclusive  # spec 16.5: they cannot be restored
    ]


def _exchanges(vhost: VirtualHost) -> list[dict[str, Any]]:
    return [
        {
            "name": exchange.name,
            "vhost": vhost.name,
            "type": exchange.type,
            "durable": exchange.durable,
            "auto_delete": exchange.auto_delete,
            "arguments": json_value(exchange.arguments),
        }
        for name, exchange in sorted(vhost.exchanges.items())
        # spec 16.5: not the default exchange, not amq.*, not internal ones
        if name and not name.startswith("amq.") and not exchange.internal
    ]


def _bindings(vhost: VirtualHost) -> list[dict[str, Any]]:
    items = [
        {
            "source": binding.source,
            "vhost": vhost.name,
            "destination": binding.destination,
            "destination_type": binding.destination_type,
            "routing_key": binding.routing_key,
            "arguments": json_value(binding.arguments),
        }
        for binding in vhost.bindings
        if binding.source != ""  # spec 16.5: the default exchange's are implicit
    ]
    return sorted(
        items,
        key=lambda b: (
            b["source"],
            b["destination_type"],
            b["destination"],
            b["routing_key"],
            json.dumps(b["arguments"], sort_keys=True),
        ),
    )


def _parameters(broker: Broker, vhost: str | None) -> list[dict[str, Any]]:
    """Runtime parameters as definitions list them (16.4): those of components, the
    operator policies (component "operator_policy") and the vhost limits ("vhost-limits")."""
    items = broker.list_parameters(vhost=vhost)
    names = [vhost] if vhost is not None else sorted(broker.vhosts)
    for name in names:
        limits = broker.vhost_limits(name)
        if limits:
            items.append(
                {"vhost": name, "component": "vhost-limits", "name": "limits", "value": limits}
            )
    for policy in broker.list_operator_policies(vhost):
        value = {key: policy[key] for key in ("pattern", "definition", "priority", "apply-to")}
        items.append(
            {
                "vhost": policy["vhost"],
                "component": "operator_policy",
                "name": policy["name"],
                "value": value,
            }
        )
    return sorted(items, key=lambda p: (p["vhost"], p["component"], p["name"]))


def _entities(broker: Broker, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    queues: list[dict[str, Any]] = []
    exchanges: list[dict[str, Any]] = []
    bindings: list[dict[str, Any]] = []
    for name in names:
        vhost = broker.vhosts[name]
        queues += _queues(vhost)
        exchanges += _exchanges(vhost)
        bindings += _bindings(vhost)
    return {"queues": queues, "exchanges": exchanges, "bindings": bindings}


def _without_vhost(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in item.items() if key != "vhost"} for item in items]


def export_definitions(self: Broker, vhost: str | None = None) -> dict[str, Any]:
    """The broker's definitions as ``rabbitmqctl export_definitions`` writes them (spec
    16.1-16.5): a JSON-ready dict with ``rabbit_version``, ``rabbitmq_version``,
    ``users``, ``vhosts``, ``permissions``, ``topic_permissions``, ``parameters``
    (shovels, operator policies, vhost limits), ``global_parameters``,
    ``policies``, ``queues``, ``exchanges`` and ``bindings``; exclusive queues, the
    default, ``amq.*`` and internal exchanges and the default exchange's bindings
    are left out.

    With ``vhost``: that vhost alone, as ``GET /api/definitions/{vhost}`` (16.6):
    no users, vhosts, permissions or global parameters, no ``vhost`` field in the
    items, and ``rabbitmq_definition_format`` "single_virtual_host",
    ``original_vhost_name``, ``metadata``, ``description`` and ``limits``.
    ``NotFound`` when there is no such vhost."""
    with self._lock:
        version = self.rabbitmq_version.version
        head: dict[str, Any] = {"rabbit_version": version, "rabbitmq_version": version}
        if vhost is not None:
            if vhost not in self.vhosts:
                raise NotFound(f"no vhost '{vhost}'")
            metadata = vhost_metadata(self, vhost)
            entities = _entities(self, [vhost])
            return {
                **head,
                "rabbitmq_definition_format": "single_virtual_host",
                "original_vhost_name": vhost,
                "metadata": metadata,
                "description": metadata["description"],
                "limits": _limits(self, vhost),
                "parameters": _without_vhost(_parameters(self, vhost)),
                "policies": _without_vhost(self.list_policies(vhost)),
                "queues": _without_vhost(entities["queues"]),
                "exchanges": _without_vhost(entities["exchanges"]),
                "bindings": _without_vhost(entities["bindings"]),
            }
        names = sorted(self.vhosts)
        return {
            **head,
            "users": self.list_users(),
            "vhosts": [
                {"name": name, "limits": _limits(self, name), "metadata": vhost_metadata(self, name)}
                for name in names
            ],
            "permissions": self.list_permissions(),
            "topic_permissions": self.list_topic_permissions(),
            "parameters": _parameters(self, None),
            "global_parameters": [
                p for p in list_global_parameters(self) if not p["name"].startswith("internal")
            ],
            "policies": self.list_policies(),
            **_entities(self, names),
        }


# ----------------------------------------------------------------- import (16.7-16.10)


def import_definitions(self: Broker, data: dict[str, Any], vhost: str | None = None) -> None:
    """Apply a definitions document, as ``rabbitmqctl import_definitions`` and
    ``POST /api/definitions`` do (spec 16.7-16.10): users (``password_hash`` with its
    ``hashing_algorithm``: sha256, sha512, or md5 for a document of RabbitMQ 3.0-3.5;
    or a clear-text ``password``), vhosts, permissions, exchanges, topic permissions,
    global parameters, policies, parameters, queues, bindings, in that order.

    What exists is merged as RabbitMQ merges it: queues and exchanges that exist
    are left as they are, bindings are added once, users, vhosts, permissions,
    policies and parameters are created or overwritten, nothing is deleted.
    Queues and exchanges without ``durable`` are durable; a queue's type comes
    from its ``x-queue-type`` argument (else the vhost's default), never from its
    ``type`` field; ``amq.*`` names and the default exchange are skipped with a
    warning (logger ``amqpmodel.definitions``).

    The first item that fails stops the import with ``ParameterError`` (its
    ``reason`` RabbitMQ's text, e.g. "tags_not_present" for a user without
    ``tags``); what came before stays applied. With ``vhost``: a single-vhost
    document (16.6) into that existing vhost (``NotFound`` otherwise), whatever
    vhost its items name."""
    if not isinstance(data, dict):
        raise ParameterError(
            f"definitions are a JSON object, not {type(data).__name__}", ["not_json_object"]
        )
    if vhost is not None and vhost not in self.vhosts:
        raise NotFound(f"no vhost '{vhost}'")
    import_document(self, data, vhost)


# ----------------------------------------------------------------- boot import (16.11)


def load_definitions(broker: Broker, path: str | os.PathLike[str]) -> list[Path]:
    """Import a definitions file, or every ``*.json`` file of a directory in name order,
    as a RabbitMQ node's ``load_definitions`` (``definitions.local.path``) does at
    boot (spec 16.11); returns the files imported. A file that cannot be read or
    parsed raises ``ParameterError`` naming it, before anything of it is applied."""
    where = Path(path)
    if where.is_dir():
        files = sorted(p for p in where.iterdir() if p.suffix == ".json" and p.is_file())
    else:
        files = [where]
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except OSError as error:
            raise ParameterError(f"could not read definitions file {file}: {error.strerror}") from None
        except ValueError as error:
            raise ParameterError(f"could not parse definitions file {file}: {error}") from None
        broker.import_definitions(data)
    return files
