"""The store's writer thread: takes the journal's batches, writes each in one SQLite transaction, reports back."""

from __future__ import annotations

import json
import logging
import marshal
import sqlite3
import threading
import time
from typing import Any

from amqpmodel.driver import Batch, Journal

from ._database import (
    ACCESS_INITIALIZED,
    access_key,
    policy_key,
    policy_vhost_prefix,
    stream_offset_key,
)
from ._values import argument_key, dump_annotations, dump_arguments, dump_properties

__all__ = ["Writer"]

log = logging.getLogger("amqpmodel.store")

_INSERT = (
    "INSERT OR REPLACE INTO messages (seq, queue_id, exchange, routing_key, properties, "
    "encoded, body, annotations, deadline) VALUES "
)
_ROW = "(?,?,?,?,?,?,?,?,?)"
_COLUMNS = 9
_DELETE = "DELETE FROM messages WHERE seq IN "
_INSERT_DELAYED = (
    "INSERT OR REPLACE INTO delayed (seq, vhost, exchange, due, delay, message_exchange, "
    "routing_key, routing_keys, properties, encoded, body, annotations) VALUES "
)
_DELAYED_ROW = "(?,?,?,?,?,?,?,?,?,?,?,?)"
_DELAYED_COLUMNS = 12
_RECLAIM_EVERY = 1.0  # seconds between checks for free pages to give back to the file system
_RECLAIM_PAGES = 1024  # give space back once this many pages (4 MiB) are free


def _variable_limit(db: sqlite3.Connection) -> int:
    getlimit = getattr(db, "getlimit", None)
    if getlimit is None:  # Python 3.10: assume SQLite's smallest default
        return 999
    return min(int(getlimit(getattr(sqlite3, "SQLITE_LIMIT_VARIABLE_NUMBER", 9))), 32766)


def _chunked(
    db: sqlite3.Connection,
    head: str,
    row: str,
    tail: str,
    width: int,
    values: list[Any],
    limit: int,
) -> None:
    """Many rows per statement, not one: each statement releases and takes back the GIL
    once, so a busy publisher thread delays the writer per statement, not per row (with
    ``executemany``, a GIL hand-over per row made writes several times slower under load)."""
    per = max(1, limit // width)
    step = per * width
    full = head + ",".join([row] * per) + tail
    for start in range(0, len(values), step):
        part = values[start : start + step]
        sql = full if len(part) == step else head + ",".join([row] * (len(part) // width)) + tail
        db.execute(sql, part)


def _binding_row(op: tuple[Any, ...]) -> tuple[Any, ...]:
    _, vhost, source, destination_type, destination, routing_key, arguments = op
    return (vhost, source, destination_type, destination, routing_key, argument_key(arguments))


def _delayed_row(op: tuple[Any, ...]) -> tuple[Any, ...]:
    _, seq, vhost, exchange, due, delay, message, routing_keys = op
    properties, encoded = dump_properties(message.properties)
    return (
        seq,
        vhost,
        exchange,
        due,
        delay,
        message.exchange,
        message.routing_key,
        marshal.dumps(tuple(routing_keys), 4),
        properties,
        encoded,
        message.body,
        dump_annotations(message.annotations),
    )


class Writer:
    """Writes batches until stopped; one thread, one connection, one transaction per batch.

    A batch that fails (disk full, read-only file) is rolled back and logged; its
    confirms are nacked and its changes go back to the journal, so they are written
    with a later batch once the store can write again (spec 22.28: nothing is
    confirmed that is not stored).
    """

    def __init__(self, db: sqlite3.Connection, journal: Journal) -> None:
        self._db = db
        self._journal = journal
        self._limit = _variable_limit(db)
        self._event = threading.Event()
        self._stopping = False
        self._abandon = False
        self._failures = 0
        self._last_reclaim = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="amqpmodel-store", daemon=True)
        journal.set_wakeup(self._event.set)
        self.batches = 0  # committed, for tests and benchmarks

    def start(self) -> None:
        self._event.set()  # whatever was recorded before the thread existed
        self._thread.start()

    def stop(self, abandon: bool = False) -> None:
        """Write everything recorded (or, ``abandon``: nothing more, as a crash) and end."""
        self._stopping = True
        self._abandon = abandon
        self._event.set()
        self._thread.join()
        self._journal.set_wakeup(None)

    def _run(self) -> None:
        journal = self._journal
        while True:
            self._event.wait()
            self._event.clear()
            if self._abandon:
                return
            while not self._abandon and (batch := journal.take()) is not None:
                if not self._write(batch):
                    if self._stopping:
                        return  # cannot write: what is left is lost, as logged
                    time.sleep(min(1.0, 0.05 * 2 ** min(self._failures, 5)))
            if self._stopping:
                if self._abandon or not journal.dirty:
                    return
                continue
            if time.monotonic() - self._last_reclaim > _RECLAIM_EVERY:
                self._reclaim()

    def _write(self, batch: Batch) -> bool:
        db = self._db
        try:
            db.execute("BEGIN")
            cascade: list[tuple[int]] = []
            redelivered: list[tuple[int, int]] = []
            delayed: list[Any] = []  # rows of consecutive "delayed" ops, written together
            for op in batch.ops:
                kind = op[0]
                if kind == "delayed":
                    delayed.extend(_delayed_row(op))
                    continue
                if delayed:
                    self._write_delayed(delayed)
                    delayed = []
                if kind == "redelivered":
                    redelivered.extend(op[1])
                elif kind == "delayed-":
                    _chunked(
                        db, "DELETE FROM delayed WHERE seq IN (", "?", ")", 1, op[1], self._limit
                    )
                else:
                    self._apply(op, cascade)
            if delayed:
                self._write_delayed(delayed)
            if batch.inserts:
                values: list[Any] = []
                add = values.extend
                for seq, (queue_id, entry) in batch.inserts.items():
                    properties, encoded = dump_properties(entry.message.properties)
                    add(
                        (
                            seq,
                            queue_id,
                            entry.exchange,
                            entry.routing_key,
                            properties,
                            encoded,
                            entry.body,
                            dump_annotations(entry.annotations),
                            entry.deadline,
                        )
                    )
                _chunked(db, _INSERT, _ROW, "", _COLUMNS, values, self._limit)
            if batch.deletes:
                _chunked(db, _DELETE + "(", "?", ")", 1, batch.deletes, self._limit)
            if cascade:  # after the inserts: a queue deleted in this batch takes them too
                db.executemany("DELETE FROM messages WHERE queue_id = ?", cascade)
            if redelivered:  # after the inserts: a message may be returned in its own batch
                db.executemany(
                    "UPDATE messages SET redelivered = ? WHERE seq = ?",
                    [(value, seq) for seq, value in redelivered],
                )
            db.execute("COMMIT")
        except Exception as error:  # the thread must live on: waiters depend on it
            if not isinstance(error, sqlite3.Error):
                log.exception("store: unexpected error writing a batch")
            if db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            self._failures += 1
            log.error(
                "store write failed (%s): %d persistent publishes nacked, %d changes kept to retry",
                error,
                len(batch.confirms),
                len(batch.ops) + len(batch.inserts) + len(batch.deletes),
            )
            self._journal.failed(batch, error)
            return False
        if self._failures:
            log.warning("store writes succeed again after %d failures", self._failures)
            self._failures = 0
        self.batches += 1
        self._journal.committed(batch)
        return True

    def _write_delayed(self, values: list[Any]) -> None:
        _chunked(self._db, _INSERT_DELAYED, _DELAYED_ROW, "", _DELAYED_COLUMNS, values, self._limit)

    def _apply(self, op: tuple[Any, ...], cascade: list[tuple[int]]) -> None:
        db = self._db
        kind = op[0]
        if kind == "vhost":
            db.execute("INSERT OR IGNORE INTO vhosts VALUES (?)", (op[1],))
        elif kind == "vhost-":
            vhost = op[1]
            gone = list(db.execute("SELECT id FROM queues WHERE vhost = ?", (vhost,)))
            cascade.extend(gone)
            db.executemany(
                "DELETE FROM meta WHERE key = ?", [(stream_offset_key(q),) for (q,) in gone]
            )
            for operator in (False, True):
                prefix = policy_vhost_prefix(operator, vhost)
                db.execute("DELETE FROM meta WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
            for table in ("vhosts", "exchanges", "queues", "bindings", "delayed"):
                column = "name" if table == "vhosts" else "vhost"
                db.execute(f"DELETE FROM {table} WHERE {column} = ?", (vhost,))
        elif kind == "user":
            _, name, password_hash, tags = op
            db.execute(
                "INSERT OR REPLACE INTO users VALUES (?, ?, ?)",
                (name, password_hash, marshal.dumps(tuple(tags), 4)),
            )
        elif kind == "user-":
            db.execute("DELETE FROM users WHERE name = ?", (op[1],))
        elif kind == "exchange":
            _, vhost, name, type_name, auto_delete, internal, arguments = op
            db.execute(
                "INSERT OR REPLACE INTO exchanges VALUES (?, ?, ?, ?, ?, ?)",
                (vhost, name, type_name, auto_delete, internal, dump_arguments(arguments)),
            )
        elif kind == "exchange-":
            _, vhost, name = op
            db.execute("DELETE FROM exchanges WHERE vhost = ? AND name = ?", (vhost, name))
            db.execute(
                "DELETE FROM bindings WHERE vhost = ? AND (source = ? OR "
                "(destination_type = 'exchange' AND destination = ?))",
                (vhost, name, name),
            )
        elif kind == "queue":
            _, queue_id, vhost, name, auto_delete, arguments = op
            db.execute(
                "INSERT OR REPLACE INTO queues VALUES (?, ?, ?, ?, ?)",
                (queue_id, vhost, name, auto_delete, dump_arguments(arguments)),
            )
        elif kind == "queue-":
            _, queue_id, vhost, name = op
            db.execute("DELETE FROM queues WHERE id = ?", (queue_id,))
            db.execute("DELETE FROM meta WHERE key = ?", (stream_offset_key(queue_id),))
            db.execute(
                "DELETE FROM bindings WHERE vhost = ? AND destination_type = 'queue' "
                "AND destination = ?",
                (vhost, name),
            )
            cascade.append((queue_id,))
        elif kind == "access":
            _, what, key, value = op
            if value is None:
                db.execute("DELETE FROM meta WHERE key = ?", (access_key(what, key),))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                    (access_key(what, key), json.dumps(value)),
                )
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, 1)", (ACCESS_INITIALIZED,))
        elif kind == "policy":
            _, operator, vhost, name, value = op
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                (policy_key(operator, vhost, name), json.dumps(value)),
            )
        elif kind == "policy-":
            _, operator, vhost, name = op
            db.execute("DELETE FROM meta WHERE key = ?", (policy_key(operator, vhost, name),))
        elif kind == "stream-first":
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (stream_offset_key(op[1]), op[2])
            )
        elif kind == "delayed-exchange-":
            db.execute("DELETE FROM delayed WHERE vhost = ? AND exchange = ?", (op[1], op[2]))
        elif kind == "binding":
            db.execute(
                "INSERT OR IGNORE INTO bindings VALUES (?, ?, ?, ?, ?, ?, ?)",
                (*_binding_row(op), dump_arguments(op[6])),
            )
        elif kind == "binding-":
            db.execute(
                "DELETE FROM bindings WHERE vhost = ? AND source = ? AND destination_type = ? "
                "AND destination = ? AND routing_key = ? AND key = ?",
                _binding_row(op),
            )
        else:
            raise ValueError(f"unknown journal change {kind!r}")

    def _reclaim(self) -> None:
        """Give the space of deleted rows back to the file system (the file does not
        keep the size of its largest backlog)."""
        self._last_reclaim = time.monotonic()
        try:
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            if free >= _RECLAIM_PAGES:
                # executescript steps it to the end: execute() would free one page
                self._db.executescript("PRAGMA incremental_vacuum;")
        except sqlite3.Error as error:
            log.warning("store: could not reclaim free space: %s", error)
