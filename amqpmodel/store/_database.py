"""The store's files: the data directory and its lock, the SQLite database, its settings and schema version."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import IO

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: no lock there
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DATABASE_NAME",
    "SCHEMA_VERSION",
    "ACCESS_INITIALIZED",
    "ACCESS_PREFIX",
    "POLICY_PREFIX",
    "access_key",
    "policy_key",
    "policy_vhost_prefix",
    "stream_offset_key",
    "StoreError",
    "damaged",
    "lock_directory",
    "open_database",
]

DATABASE_NAME = "amqpmodel.sqlite3"
LOCK_NAME = "lock"
SCHEMA_VERSION = 2


# unit separators: vhost and policy names may hold any other character, and SQLite
# text functions stop at a NUL
POLICY_PREFIX = "policy\x1f"


def policy_key(operator: bool, vhost: str, name: str) -> str:
    """The ``meta`` key of a stored policy (value: its JSON, as ``list_policies`` shows)."""
    return f"{POLICY_PREFIX}{int(operator)}\x1f{vhost}\x1f{name}"


def policy_vhost_prefix(operator: bool, vhost: str) -> str:
    return f"{POLICY_PREFIX}{int(operator)}\x1f{vhost}\x1f"


ACCESS_PREFIX = "access\x1f"
ACCESS_INITIALIZED = "access-initialized"  # set once permissions are kept (older dirs lack it)


def access_key(kind: str, key: tuple[str, ...]) -> str:
    """The ``meta`` key of a stored permission, topic permission or vhost limit."""
    return ACCESS_PREFIX + kind + "\x1f" + "\x1f".join(key)


def stream_offset_key(queue_id: int) -> str:
    """The ``meta`` key holding a stream's first retained offset (a stream whose
    retention never ran has none: its offsets start at 0)."""
    return f"stream-first-offset:{queue_id}"


# version 1 (before x-delayed-message) lacks only the delayed table: opened, it gains it
_DELAYED = """
CREATE TABLE delayed (
    seq INTEGER PRIMARY KEY, vhost TEXT NOT NULL, exchange TEXT NOT NULL,
    due INTEGER NOT NULL, delay INTEGER NOT NULL, message_exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL, routing_keys BLOB NOT NULL, properties BLOB NOT NULL,
    encoded BLOB, body BLOB NOT NULL, annotations BLOB);
"""

_SCHEMA = (
    """
CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE vhosts (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE users (name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, tags BLOB NOT NULL)
    WITHOUT ROWID;
CREATE TABLE exchanges (
    vhost TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
    auto_delete INTEGER NOT NULL, internal INTEGER NOT NULL, arguments BLOB NOT NULL,
    PRIMARY KEY (vhost, name)) WITHOUT ROWID;
CREATE TABLE queues (
    id INTEGER PRIMARY KEY, vhost TEXT NOT NULL, name TEXT NOT NULL,
    auto_delete INTEGER NOT NULL, arguments BLOB NOT NULL);
CREATE TABLE bindings (
    vhost TEXT NOT NULL, source TEXT NOT NULL, destination_type TEXT NOT NULL,
    destination TEXT NOT NULL, routing_key TEXT NOT NULL, key TEXT NOT NULL,
    arguments BLOB NOT NULL,
    PRIMARY KEY (vhost, source, destination_type, destination, routing_key, key)) WITHOUT ROWID;
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY, queue_id INTEGER NOT NULL, exchange TEXT NOT NULL,
    routing_key TEXT NOT NULL, properties BLOB NOT NULL, encoded BLOB, body BLOB NOT NULL,
    annotations BLOB, deadline REAL, redelivered INTEGER NOT NULL DEFAULT 0);
"""
    + _DELAYED
)


class StoreError(Exception):
    """The data directory cannot be used; the message names the file and what to do."""


def _directory(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreError(f"cannot create the data directory {path}: {error.strerror}") from None
    if not path.is_dir():
        raise StoreError(f"the data directory {path} is not a directory")


def lock_directory(path: Path) -> IO[str] | None:
    """Create ``path`` if needed and lock it for this process; refused while another
    live process holds it (the lock goes with the process, so a crash frees it)."""
    _directory(path)
    lock_path = path / LOCK_NAME
    try:
        handle = open(lock_path, "a+", encoding="ascii")  # noqa: SIM115 - held until close
    except OSError as error:
        raise StoreError(f"cannot open {lock_path}: {error.strerror}") from None
    if fcntl is None:
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StoreError(
            f"the data directory {path} is in use by {holder}; stop that broker first, "
            "or give this one another --data-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()}\n")
    handle.flush()
    return handle


def damaged(path: Path, error: BaseException) -> StoreError:
    return StoreError(
        f"cannot read the store {path}: {error}. The file is damaged or is not an amqpmodel "
        f"store: move it (and any {path.name}-wal beside it) out of the data directory to "
        "start with an empty broker, or put back a backup"
    )


def open_database(path: Path, *, sync: str) -> tuple[sqlite3.Connection, bool]:
    """Open (or create) the database in data directory ``path``; returns it and whether
    it is new. Settings: WAL; ``synchronous`` NORMAL (a commit survives a process kill)
    or FULL (also an OS crash or power loss); space of deleted rows reclaimable."""
    if sync not in ("normal", "full"):
        raise ValueError(f"sync must be 'normal' or 'full', not {sync!r}")
    file = path / DATABASE_NAME
    fresh = not file.exists() or file.stat().st_size == 0
    try:
        db = sqlite3.connect(file, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open the store {file}: {error}") from None
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if fresh:
            db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # before the first table
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"the store {file} cannot use write-ahead logging here ({mode})")
        db.execute(f"PRAGMA synchronous = {sync.upper()}")
        db.execute("PRAGMA journal_size_limit = 67108864")  # WAL truncated after checkpoints
        db.execute("PRAGMA cache_size = -65536")
        db.execute("PRAGMA wal_autocheckpoint = 10000")  # 40 MB: churn is checkpointed once
        if fresh:
            db.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        elif version > SCHEMA_VERSION:
            raise StoreError(
                f"the store {file} was written by a newer amqpmodel (store schema version "
                f"{version}; this one reads version {SCHEMA_VERSION}): upgrade amqpmodel, or "
                "move the file out of the data directory to start with an empty broker"
            )
        elif version == 1:  # written before delayed messages were stored: add their table
            db.executescript(f"BEGIN; {_DELAYED} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        elif version != SCHEMA_VERSION:
            raise damaged(file, ValueError(f"unknown store schema version {version}"))
        db.execute("SELECT count(*) FROM meta").fetchone()
    except StoreError:
        db.close()
        raise
    except sqlite3.OperationalError as error:
        db.close()
        if "readonly" in str(error) or "unable to open" in str(error):
            raise StoreError(
                f"cannot write the store {file}: {error}; check the data directory's "
                "permissions and free space"
            ) from None
        raise damaged(file, error) from None
    except sqlite3.DatabaseError as error:
        db.close()
        raise damaged(file, error) from None
    return db, fresh
