"""The store: what RabbitMQ keeps across a restart, kept in a data directory (SQLite, WAL).

``Broker(data_dir=PATH)`` opens one: the directory is created and locked,
the broker's state is recovered from it before anything else can use the
broker, and from then on a writer thread writes what the core records in
its journal (``amqpmodel.driver.Journal``), one transaction per batch.
Publisher confirms of persistent messages in durable queues, and
``tx.commit``, wait for their batch's commit (spec 22.28, 22.33).

What survives what (``sync``, SQLite's ``synchronous`` setting):

- "normal" (the default): every commit survives a kill of the process
  (SIGKILL, a crash): the write-ahead log is written at commit, and the
  operating system keeps it. An OS crash or a power loss can lose the last
  commits (never corrupt the file). RabbitMQ since 3.13 promises the same
  (it does not fsync either, spec 22.29).
- "full": each commit is also fsync'ed, so it survives a power loss, at the
  cost of a disk flush per batch.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from amqpmodel import Broker
from amqpmodel.driver import attach_journal, record_delivered

from ._database import DATABASE_NAME, StoreError, damaged, lock_directory, open_database
from ._recovery import recover
from ._writer import Writer

__all__ = ["Store", "StoreError"]

log = logging.getLogger("amqpmodel.store")


class Store:
    """A broker's data directory, open: locked, recovered from, written to."""

    def __init__(
        self,
        broker: Broker,
        data_dir: str | os.PathLike[str],
        *,
        sync: str = "normal",
        on_fresh: Callable[[], None] | None = None,
    ) -> None:
        path = Path(data_dir).expanduser().absolute()
        self.path = str(path)
        self.file = str(path / DATABASE_NAME)
        self._broker = broker
        self._lock_file = lock_directory(path)
        self._closing = threading.Lock()
        self._closed = False
        try:
            self._db, fresh = open_database(path, sync=sync)
            try:
                if fresh:
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('clean', 0)")
                    journal = attach_journal(broker, 1)
                    if on_fresh is not None:
                        on_fresh()  # the default vhost and user, recorded
                else:
                    journal = recover(broker, self._db, self.file)
            except sqlite3.DatabaseError as error:
                self._db.close()
                raise damaged(Path(self.file), error) from None
        except BaseException:
            self._release()
            raise
        self.fresh = fresh
        self._journal = journal
        self._writer = Writer(self._db, journal)
        self._writer.start()

    def __repr__(self) -> str:
        return f"<Store {self.path!r}{' closed' if self._closed else ''}>"

    @property
    def batches_committed(self) -> int:
        return self._writer.batches

    def flush(self) -> None:
        """Block until everything the broker recorded so far is committed; raise
        ``StoreError`` if writing it failed."""
        error = self._journal.flush()
        if error is not None:
            raise StoreError(f"cannot write the store {self.file}: {error}")

    def close(self) -> None:
        """A clean stop (spec 22.17): record which messages were delivered, write
        everything, mark the file as cleanly closed, release the directory."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            record_delivered(self._broker, self._journal)
            self._writer.stop()
            try:
                if self._journal.dirty:
                    log.error("store: closing with changes that could not be written")
                else:
                    self._db.execute("INSERT OR REPLACE INTO meta VALUES ('clean', 1)")
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as error:
                log.error("store: could not mark %s as cleanly closed: %s", self.file, error)
            finally:
                self._db.close()
                self._release()

    def crash(self) -> None:
        """Stop as a killed process would: what is not committed yet is lost, and the
        next start recovers as after a crash (spec 22.15, 22.18, 22.38)."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            self._writer.stop(abandon=True)
            self._db.close()
            self._release()

    def _release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file drops the lock
            self._lock_file = None
