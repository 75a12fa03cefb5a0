"""A data directory that cannot be used gets one clear error; a write failure is never confirmed."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from amqpmodel import BasicProperties, Broker, NackError
from amqpmodel.store import StoreError

PERSISTENT = BasicProperties(delivery_mode=2)

DATABASE = "amqpmodel.sqlite3"


def _stored_broker(data_dir: Path, messages: int = 50) -> None:
    with Broker(data_dir=data_dir) as broker:
        ch = broker.connect().channel()
        ch.queue_declare("q", durable=True)
        for i in range(messages):
            ch.basic_publish("", "q", b"x" * 1000 + b"%d" % i, PERSISTENT)


def test_a_data_dir_is_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    with Broker(data_dir=target) as broker:
        assert broker.data_dir == str(target)
    assert (target / DATABASE).exists()


def test_a_locked_data_dir_is_refused_with_the_holder_named(data_dir: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys, time
        from amqpmodel import Broker
        broker = Broker(data_dir={str(data_dir)!r})
        print("open", flush=True)
        sys.stdin.readline()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match=rf"in use by process {holder.pid}"):
            Broker(data_dir=data_dir)
    finally:
        holder.kill()
        holder.wait()
    Broker(data_dir=data_dir).close()  # a killed holder's lock is gone with it


def test_the_same_process_cannot_open_a_data_dir_twice(data_dir: Path) -> None:
    with Broker(data_dir=data_dir):
        with pytest.raises(StoreError, match="in use"):
            Broker(data_dir=data_dir)


def test_a_file_that_is_not_a_database_is_refused_clearly(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / DATABASE).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError) as raised:
        Broker(data_dir=data_dir)
    text = str(raised.value)
    assert str(data_dir / DATABASE) in text and "move it" in text
    (data_dir / DATABASE).unlink()  # and the directory was not left locked:
    Broker(data_dir=data_dir).close()


def test_a_truncated_database_is_refused_clearly(data_dir: Path) -> None:
    _stored_broker(data_dir, messages=400)
    file = data_dir / DATABASE
    size = file.stat().st_size
    with open(file, "r+b") as handle:
        handle.truncate(size // 3)
    with pytest.raises(StoreError, match="damaged"):
        Broker(data_dir=data_dir)


def test_a_corrupted_database_is_refused_clearly(data_dir: Path) -> None:
    _stored_broker(data_dir, messages=400)
    file = data_dir / DATABASE
    data = bytearray(file.read_bytes())
    for offset in range(4096, len(data), 997):  # scribble over every page after the first
        data[offset : offset + 16] = b"\xa5" * 16
    file.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged"):
        Broker(data_dir=data_dir)


def test_a_store_from_a_newer_version_is_refused_clearly(data_dir: Path) -> None:
    _stored_broker(data_dir)
    db = sqlite3.connect(data_dir / DATABASE)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer amqpmodel .*version 99.*upgrade"):
        Broker(data_dir=data_dir)


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(StoreError, match="not a directory|cannot create"):
        Broker(data_dir=path)


def test_a_read_only_data_dir_is_refused_clearly(data_dir: Path) -> None:
    _stored_broker(data_dir)
    code = textwrap.dedent(
        f"""
        import os
        from amqpmodel import Broker
        from amqpmodel.store import StoreError
        import amqpmodel.store._database, fcntl, sqlite3
        if os.geteuid() == 0:
            os.setgid(65534); os.setuid(65534)  # root writes anywhere: drop to nobody
        try:
            Broker(data_dir={str(data_dir)!r})
        except StoreError as error:
            print("StoreError:", error)
        """
    )
    os.chmod(data_dir, 0o555)
    for child in data_dir.iterdir():
        os.chmod(child, 0o444)
    try:
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
    finally:
        os.chmod(data_dir, 0o755)
        for child in data_dir.iterdir():
            os.chmod(child, 0o644)
    assert result.stdout.startswith("StoreError:"), result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert str(data_dir) in result.stdout


def _fill_up(broker: Broker) -> None:
    """Make the store's file unable to grow, as on a full disk (SQLITE_FULL)."""
    store = broker._store
    assert store is not None
    store.flush()
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")


def test_a_full_disk_nacks_persistent_publishes_and_logs_it(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # spec 22.28: nothing is confirmed that is not stored; spec 8.3: basic.nack
    broker = Broker(data_dir=data_dir)
    ch = broker.connect().channel()
    ch.queue_declare("q", durable=True)
    _fill_up(broker)
    confirms: list[object] = []
    ch.confirm_delivery(confirms.append)
    with caplog.at_level(logging.ERROR, logger="amqpmodel.store"):
        ch.basic_publish("", "q", b"y" * 100_000, PERSISTENT)
        deadline = time.monotonic() + 10
        while not confirms and time.monotonic() < deadline:
            ch.connection.process_data_events(time_limit=0.05)
    assert [type(c).__name__ for c in confirms] == ["BasicNack"]
    assert "store write failed" in caplog.text
    # the message itself is still queued (in memory): nothing is lost silently
    assert broker.queues["q"].messages_ready == 1
    sync = broker.connect().channel()
    sync.confirm_delivery()
    with pytest.raises(NackError):
        sync.basic_publish("", "q", b"z" * 100_000, PERSISTENT)
    broker._store._db.execute("PRAGMA max_page_count = 1073741823")  # space again
    broker._store.flush()  # the kept changes are written after all
    broker.close()
    with Broker(data_dir=data_dir) as again:
        assert again.queues["q"].messages_ready == 2


def test_a_transient_publish_is_confirmed_while_the_disk_is_full(data_dir: Path) -> None:
    broker = Broker(data_dir=data_dir)
    ch = broker.connect().channel()
    ch.queue_declare("q", durable=True)
    _fill_up(broker)
    ch.confirm_delivery()
    ch.basic_publish("", "q", b"t", BasicProperties(delivery_mode=1))  # spec 22.27: no wait
    broker.close()
