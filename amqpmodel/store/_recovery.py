"""Recovery: rebuilding a broker's vhosts, users, topology and queue contents from the store (spec 22)."""

from __future__ import annotations

import json
import logging
import marshal
import sqlite3
import time
from typing import Any

from amqpmodel import AMQPError, Broker
from amqpmodel.driver import (
    Journal,
    Message,
    attach_journal,
    restore_access,
    restore_binding,
    restore_delayed,
    restore_exchange,
    restore_messages,
    restore_policy,
    restore_queue,
    restore_stream_offset,
    restore_user,
    restore_vhost,
)

from ._database import (
    ACCESS_INITIALIZED,
    ACCESS_PREFIX,
    POLICY_PREFIX,
    access_key,
    stream_offset_key,
)
from ._values import PropertiesCache, load_annotations, load_arguments

__all__ = ["recover"]

log = logging.getLogger("amqpmodel.store")

_DELAYED = (
    "SELECT seq, vhost, exchange, due, delay, message_exchange, routing_key, routing_keys, "
    "properties, encoded, body, annotations FROM delayed ORDER BY seq"
)
_MESSAGES = (
    "SELECT seq, queue_id, exchange, routing_key, properties, encoded, body, annotations, "
    "deadline, redelivered FROM messages ORDER BY seq"
)


def _meta(db: sqlite3.Connection, key: str) -> Any:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else row[0]


def _recover_access(broker: Broker, db: sqlite3.Connection) -> None:
    """Permissions, topic permissions and vhost limits (spec 15). A data dir written
    before permissions were kept gives every user full access to every vhost, as
    amqpmodel did then, and records it."""
    if _meta(db, ACCESS_INITIALIZED) is None:
        for user in broker.users:
            for vhost in broker.vhosts:
                value = {
                    "user": user,
                    "vhost": vhost,
                    "configure": ".*",
                    "write": ".*",
                    "read": ".*",
                }
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    (access_key("permission", (user, vhost)), json.dumps(value)),
                )
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, 1)", (ACCESS_INITIALIZED,))
    for key, value in db.execute(
        "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?",
        (len(ACCESS_PREFIX), ACCESS_PREFIX),
    ):
        kind = key[len(ACCESS_PREFIX) :].split("\x1f", 1)[0]
        if kind != "parameter":  # parameters come back last, once their queues exist
            restore_access(broker, kind, json.loads(value))


def _recover_parameters(broker: Broker, db: sqlite3.Connection) -> None:
    """Runtime parameters (shovels start again, spec 20), after the queues they read."""
    prefix = ACCESS_PREFIX + "parameter\x1f"
    for _key, value in db.execute(
        "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
    ):
        record = json.loads(value)
        try:
            broker.set_parameter(
                record["component"], record["name"], record["value"], record["vhost"]
            )
        except (ValueError, AMQPError) as error:  # a component this version refuses
            log.warning(
                "parameter %s/%s not recovered: %s", record["component"], record["name"], error
            )


def recover(broker: Broker, db: sqlite3.Connection, path: str) -> Journal:
    """Rebuild ``broker`` from ``db``; messages come back redelivered as spec 22.17/22.18 say."""
    started = time.monotonic()
    clean = _meta(db, "clean") == 1  # written last at a clean stop
    for (name,) in db.execute("SELECT name FROM vhosts"):
        restore_vhost(broker, name)
    for name, password_hash, tags in db.execute("SELECT name, password_hash, tags FROM users"):
        restore_user(broker, name, password_hash, tuple(marshal.loads(tags)))
    _recover_access(broker, db)
    for key, value in db.execute(
        "SELECT key, value FROM meta WHERE substr(key, 1, ?) = ?",
        (len(POLICY_PREFIX), POLICY_PREFIX),
    ):
        operator = key[len(POLICY_PREFIX)] == "1"
        restore_policy(broker, json.loads(value), operator)  # before what they apply to
    for vhost, name, type_name, auto_delete, internal, arguments in db.execute(
        "SELECT vhost, name, type, auto_delete, internal, arguments FROM exchanges"
    ):
        if vhost in broker.vhosts:
            restore_exchange(
                broker,
                vhost,
                name,
                type_name,
                auto_delete=bool(auto_delete),
                internal=bool(internal),
                arguments=load_arguments(arguments),
            )
    queues: dict[int, list[Message]] = {}
    restored = []
    for queue_id, vhost, name, auto_delete, arguments in db.execute(
        "SELECT id, vhost, name, auto_delete, arguments FROM queues"
    ):
        if vhost not in broker.vhosts:
            continue
        try:
            queue = restore_queue(
                broker,
                queue_id,
                vhost,
                name,
                auto_delete=bool(auto_delete),
                arguments=load_arguments(arguments),
            )
        except AMQPError as error:  # arguments this version refuses
            log.warning("queue '%s' in vhost '%s' not recovered: %s", name, vhost, error.reply_text)
            continue
        queues[queue_id] = []
        restored.append((queue, queues[queue_id]))
    for vhost, source, destination_type, destination, routing_key, arguments in db.execute(
        "SELECT vhost, source, destination_type, destination, routing_key, arguments FROM bindings"
    ):
        if vhost in broker.vhosts:
            restore_binding(
                broker,
                vhost,
                source,
                destination_type,
                destination,
                routing_key,
                load_arguments(arguments),
            )
    properties = PropertiesCache()
    names: dict[str, str] = {}
    orphans: list[tuple[int]] = []
    counters: dict[int, int] = {}  # a quorum message's counters (spec 22.19)
    last_seq = 0
    count = 0
    for (
        seq,
        queue_id,
        exchange,
        routing_key,
        blob,
        encoded,
        body,
        annotations_blob,
        deadline,
        redelivered,
    ) in db.execute(_MESSAGES):
        last_seq = seq
        messages = queues.get(queue_id)
        if messages is None:
            orphans.append((seq,))
            continue
        message = Message(
            names.setdefault(exchange, exchange),
            names.setdefault(routing_key, routing_key),
            properties.load(blob, encoded),
            body,
            load_annotations(annotations_blob),
            seq,
            deadline,
            bool(redelivered) or not clean,  # spec 22.17, 22.18
        )
        if redelivered > 1:
            counters[seq] = redelivered
        messages.append(message)
        count += 1
    for queue_id, (queue, messages) in zip(queues, restored, strict=True):
        first = _meta(db, stream_offset_key(queue_id))
        if first is not None:
            restore_stream_offset(queue, int(first))  # before its messages: they follow it
        restore_messages(queue, messages, counters, crashed=not clean)
    last_seq, delayed, dropped = _recover_delayed(broker, db, properties, last_seq)
    if orphans:
        db.executemany("DELETE FROM messages WHERE seq = ?", orphans)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('clean', 0)")
    _recover_parameters(broker, db)
    journal = attach_journal(broker, last_seq + 1)
    broker.tick()  # spec 13.10: overdue delayed messages are delivered at once
    if dropped:
        log.info("%d delayed message(s) of exchanges that did not come back dropped", dropped)
    log.info(
        "recovered %d vhosts, %d queues, %d messages and %d delayed from %s in %.2f s (%s stop)",
        len(broker.vhosts),
        len(restored),
        count,
        delayed,
        path,
        time.monotonic() - started,
        "clean" if clean else "unclean",
    )
    return journal


def _recover_delayed(
    broker: Broker, db: sqlite3.Connection, properties: PropertiesCache, last_seq: int
) -> tuple[int, int, int]:
    """Give stored delayed messages back to their exchanges (spec 13.10); those of an
    exchange that did not come back (not durable) are deleted. Returns the highest
    seq seen, how many were restored and how many dropped."""
    restored = 0
    dropped: list[tuple[int]] = []
    for (
        seq,
        vhost,
        exchange,
        due,
        delay,
        message_exchange,
        routing_key,
        routing_keys,
        blob,
        encoded,
        body,
        annotations_blob,
    ) in db.execute(_DELAYED):
        last_seq = max(last_seq, seq)
        message = Message(
            message_exchange,
            routing_key,
            properties.load(blob, encoded),
            body,
            load_annotations(annotations_blob),
        )
        keys = tuple(marshal.loads(routing_keys))
        if restore_delayed(broker, vhost, exchange, seq, due, delay, message, keys):
            restored += 1
        else:
            dropped.append((seq,))
    if dropped:
        db.executemany("DELETE FROM delayed WHERE seq = ?", dropped)
    return last_seq, restored, len(dropped)
