"""What a shovel publishes for each message it moves: exchange, routing key and properties.

RabbitMQ's ``rabbit_amqp091_shovel`` (spec 20.4, 20.7): with ``dest-queue``
the message goes through the default exchange with the queue's name as key;
``dest-exchange`` replaces the exchange and ``dest-exchange-key`` the key,
each only when set, so a shovel with neither keeps each message's own
exchange and routing key. Properties: ``dest-publish-properties`` first,
then the ``x-shovelled`` header (prepended to those of earlier shovels),
then ``x-shovelled-timestamp``.
"""

from __future__ import annotations

import time
from typing import Any

from amqpmodel import BasicProperties
from amqpmodel.driver import PROPERTY_NAMES, TAGGED_INTS

from ._definition import ShovelDefinition

__all__ = ["CLUSTER_NAME", "forwarded_properties", "publish_target"]

CLUSTER_NAME = "amqpmodel"  # what the server's connection.start reports as cluster_name
_LONG = TAGGED_INTS[b"l"]  # RabbitMQ sets the timestamp header as a long (64-bit signed)


def publish_target(
    definition: ShovelDefinition, exchange: str, routing_key: str
) -> tuple[str, str]:
    """The exchange and routing key to publish a message that arrived with these."""
    if definition.dest_queue is not None:
        return "", definition.dest_queue
    if definition.dest_exchange is not None:
        exchange = definition.dest_exchange
    if definition.dest_exchange_key is not None:
        routing_key = definition.dest_exchange_key
    return exchange, routing_key


def shovelled_table(definition: ShovelDefinition, src_uri: str, dest_uri: str) -> dict[str, Any]:
    """The table ``dest-add-forward-headers`` prepends to ``x-shovelled`` (spec 20.7)."""
    table: dict[str, Any] = {
        "shovelled-by": CLUSTER_NAME,
        "shovel-type": "dynamic",
        "shovel-name": definition.name,
        "shovel-vhost": definition.vhost,
        "src-uri": src_uri,
        "dest-uri": dest_uri,
    }
    if definition.src_queue is not None:
        table["src-queue"] = definition.src_queue
    else:
        table["src-exchange"] = definition.src_exchange or ""
        table["src-exchange-key"] = definition.src_exchange_key
    for key, text in (
        ("dest-exchange", definition.dest_exchange),
        ("dest-exchange-key", definition.dest_exchange_key),
        ("dest-queue", definition.dest_queue),
    ):
        if text is not None:
            table[key] = text
    return table


def forwarded_properties(
    definition: ShovelDefinition, properties: BasicProperties, src_uri: str, dest_uri: str
) -> BasicProperties:
    """The properties to publish: a plain ``BasicProperties`` (never the wire bytes the
    message arrived with, which would hide the changes)."""
    fields = {name: getattr(properties, name, None) for name in PROPERTY_NAMES}
    fields.update(definition.publish_properties)
    if definition.add_forward_headers or definition.add_timestamp_header:
        headers = dict(fields.get("headers") or {})
        if definition.add_forward_headers:
            _prepend_shovelled(headers, shovelled_table(definition, src_uri, dest_uri))
        if definition.add_timestamp_header:
            headers["x-shovelled-timestamp"] = _LONG(int(time.time()))
        fields["headers"] = headers
    return BasicProperties(**fields)


def _prepend_shovelled(headers: dict[str, Any], table: dict[str, Any]) -> None:
    """``rabbit_basic:prepend_table_header``: an array gets the new table in front; any
    other value is replaced and kept under ``x-invalid-headers``."""
    existing = headers.get("x-shovelled")
    if isinstance(existing, list):
        headers["x-shovelled"] = [table, *existing]
        return
    headers["x-shovelled"] = [table]
    if existing is not None:
        invalid = headers.get("x-invalid-headers")
        invalid = dict(invalid) if isinstance(invalid, dict) else {}
        previous = invalid.get("x-shovelled")
        invalid["x-shovelled"] = [existing, *previous] if isinstance(previous, list) else [existing]
        headers["x-invalid-headers"] = invalid
