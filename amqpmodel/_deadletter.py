"""Building the dead-lettered copy of a message: x-death and friends (spec 4.3-4.7)."""

from __future__ import annotations

import calendar
import datetime
from typing import Any

import attrs

from ._properties import Annotations, Death, Message, with_headers

__all__ = ["dead_letter_message", "is_cycle", "routing_keys_of"]

_UTC = datetime.timezone.utc


def _cc(headers: dict[str, Any] | None) -> list[str]:
    if not headers:
        return []
    cc = headers.get("CC")
    return [_text(key) for key in cc] if isinstance(cc, list) else []


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


def routing_keys_of(message: Message) -> list[str]:
    """The routing key plus CC plus BCC, deduplicated in order (spec 1.2)."""
    keys = [message.routing_key, *_cc(message.properties.headers)]
    if message.annotations is not None:
        keys.extend(message.annotations.bcc)
    return list(dict.fromkeys(keys))


_last_timestamp: tuple[int, datetime.datetime] = (-1, datetime.datetime(1970, 1, 1))


def _timestamp(when: float) -> datetime.datetime:
    # AMQP timestamps are whole seconds; pika decodes them to naive UTC datetimes.
    # A mass expiry dead-letters many messages in the same second: reuse the last one.
    global _last_timestamp
    second = int(when)
    if _last_timestamp[0] != second:
        value = datetime.datetime.fromtimestamp(second, _UTC).replace(tzinfo=None)
        _last_timestamp = (second, value)
    return _last_timestamp[1]


def _death_table(death: Death) -> dict[str, Any]:
    table: dict[str, Any] = {
        "count": death.count,
        "reason": death.reason,
        "queue": death.queue,
        "time": _timestamp(death.time),
        "exchange": death.exchange,
        "routing-keys": list(death.routing_keys),
    }
    if death.original_expiration is not None:
        table["original-expiration"] = death.original_expiration
    return table


def dead_letter_message(
    message: Message,
    queue_name: str,
    reason: str,
    now: float,
    dead_letter_exchange: str,
    dead_letter_routing_key: str | None,
    client_deaths: bool = False,
) -> tuple[Message, list[str]]:
    """The copy to publish to the dead-letter exchange and the routing keys to use.

    ``client_deaths`` (RabbitMQ 3.13.3+, spec 0.3, 0.x.4): a message the broker
    never dead-lettered takes the ``x-death`` header its publisher set as its death
    history, so the counts continue; otherwise that header is ignored and
    overwritten.

    Messages dead-lettered together (a mass expiry) usually share everything the
    copy's properties are made of: the same properties object, no earlier
    deaths, the same keys, queue, reason and second. The last result is reused
    for them, so they share one (read-only) set of headers, as they would share
    the original properties.
    """
    global _last
    properties = message.properties
    annotations_in = message.annotations
    second = int(now)
    last = _last
    if (
        last is not None
        and last[0] is properties
        and last[1] is annotations_in
        and last[2] == (message.exchange, message.routing_key, queue_name, reason, second)
        and last[3] == (dead_letter_exchange, dead_letter_routing_key, client_deaths)
    ):
        new_properties, new_annotations, routing_key, keys = last[4]
        return (
            Message(
                dead_letter_exchange, routing_key, new_properties, message.body, new_annotations
            ),
            list(keys),
        )
    dead, keys = _dead_letter_copy(
        message,
        queue_name,
        reason,
        now,
        dead_letter_exchange,
        dead_letter_routing_key,
        client_deaths,
    )
    _last = (
        properties,
        annotations_in,
        (message.exchange, message.routing_key, queue_name, reason, second),
        (dead_letter_exchange, dead_letter_routing_key, client_deaths),
        (dead.properties, dead.annotations, dead.routing_key, tuple(keys)),
    )
    return dead, keys


# the last dead-letter copy made: (properties, annotations, where, to, result)
_last: tuple[Any, Any, tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]] | None = None


def _dead_letter_copy(
    message: Message,
    queue_name: str,
    reason: str,
    now: float,
    dead_letter_exchange: str,
    dead_letter_routing_key: str | None,
    client_deaths: bool,
) -> tuple[Message, list[str]]:
    properties = message.properties
    headers = dict(properties.headers) if properties.headers else {}
    annotations = message.annotations or Annotations()
    death_keys = tuple([message.routing_key, *_cc(properties.headers)])  # spec 4.4: BCC excluded
    if dead_letter_routing_key is None:
        keys = routing_keys_of(message)
    else:
        keys = [dead_letter_routing_key]
        headers.pop("CC", None)
    deaths = list(annotations.deaths)
    recovered = False
    if not deaths and client_deaths:
        deaths = _client_deaths(properties.headers)  # spec 0.x.4
        recovered = bool(deaths)
    for index, death in enumerate(deaths):
        if death.queue == queue_name and death.reason == reason:
            del deaths[index]
            deaths.insert(0, attrs.evolve(death, count=death.count + 1))
            break
    else:
        deaths.insert(
            0,
            Death(
                queue=queue_name,
                reason=reason,
                count=1,
                time=now,
                exchange=message.exchange,
                routing_keys=death_keys,
                original_expiration=properties.expiration,
            ),
        )
    # the first dead-lettering names itself first (spec 4.5); a history taken from the
    # publisher's x-death leaves its x-first-death-* headers as they were, as 3.13 does
    first = annotations.first_death
    if first is None and not recovered and not annotations.deaths:
        first = (queue_name, reason, message.exchange)
    headers["x-death"] = [_death_table(death) for death in deaths]
    if first is not None:
        (
            headers["x-first-death-queue"],
            headers["x-first-death-reason"],
            headers["x-first-death-exchange"],
        ) = first
    headers["x-last-death-queue"] = queue_name
    headers["x-last-death-reason"] = reason
    headers["x-last-death-exchange"] = message.exchange
    new_properties = with_headers(properties, headers, drop_expiration=True)  # spec 4.6: expiration removed
    new_annotations = Annotations(bcc=annotations.bcc, deaths=tuple(deaths), first_death=first)
    routing_key = (
        dead_letter_routing_key if dead_letter_routing_key is not None else message.routing_key
    )
    return (
        Message(dead_letter_exchange, routing_key, new_properties, message.body, new_annotations),
        keys,
    )


def _seconds(value: Any) -> float | None:
    """An x-death ``time`` as POSIX seconds: a timestamp (naive means UTC) or an integer."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return float(calendar.timegm(value.timetuple()))
        return float(int(value.timestamp()))
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return None


def _client_deaths(headers: dict[str, Any] | None) -> list[Death]:
    """The death history in a publisher's ``x-death`` header, most recent first; a
    table lacking queue, reason, exchange, routing-keys, count or time is skipped, as
    RabbitMQ 3.13.3+ skips it (spec 0.x.4)."""
    tables = headers.get("x-death") if headers else None
    if not isinstance(tables, list):
        return []
    deaths = []
    for table in tables:
        if not isinstance(table, dict):
            continue
        count, keys = table.get("count"), table.get("routing-keys")
        when = _seconds(table.get("time"))
        names = [table.get(key) for key in ("queue", "reason", "exchange")]
        if (
            when is None
            or not isinstance(count, int)
            or isinstance(count, bool)
            or not isinstance(keys, list)
            or not all(isinstance(name, (str, bytes)) for name in names)
        ):
            continue
        expiration = table.get("original-expiration")
        deaths.append(
            Death(
                queue=_text(names[0]),
                reason=_text(names[1]),
                count=int(count),
                time=when,
                exchange=_text(names[2]),
                routing_keys=tuple(_text(key) for key in keys),
                original_expiration=_text(expiration) if expiration is not None else None,
            )
        )
    return deaths


def is_cycle(target_queue: str, message: Message) -> bool:
    """Whether dead-lettering into ``target_queue`` closes a cycle with no rejection in it (spec 4.7)."""
    annotations = message.annotations
    if annotations is None:
        return False
    for death in annotations.deaths:
        if death.reason == "rejected":
            return False
        if death.queue == target_queue:
            return True
    return False
