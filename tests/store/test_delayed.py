"""Delayed messages across a restart (spec 13.10): stored whatever their delivery mode or
the exchange's durability; overdue ones delivered at boot; a non-durable exchange's dropped."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from amqpmodel import BasicProperties, Broker, Channel
from amqpmodel.store._database import DATABASE_NAME

Restart = Callable[..., Broker]  # the ``restart`` fixture of this directory's conftest


def setup(broker: Broker, durable: bool = True, queue_durable: bool = True) -> Channel:
    ch = broker.connect().channel()
    ch.exchange_declare(
        "d", "x-delayed-message", durable=durable, arguments={"x-delayed-type": "direct"}
    )
    ch.queue_declare("q", durable=queue_durable)
    ch.queue_bind("q", "d", "k")
    return ch


def publish(ch: Channel, body: bytes, delay: int, **more: object) -> None:
    ch.basic_publish("d", "k", body, BasicProperties(headers={"x-delay": delay}, **more))  # type: ignore[arg-type]


def bodies(broker: Broker, queue: str = "q") -> list[bytes]:
    ch = broker.connect().channel()
    out = []
    while True:
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append(body)


def stored_delayed(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / DATABASE_NAME) as db:
        return int(db.execute("SELECT count(*) FROM delayed").fetchone()[0])


@pytest.mark.parametrize("crash_it", [False, True], ids=["clean", "crash"])
def test_transient_delayed_messages_survive_a_restart_spec_13_10(
    restart: Restart, crash_it: bool
) -> None:
    broker = restart()
    ch = setup(broker)
    publish(ch, b"transient", 5000)  # delivery_mode 1: stored all the same
    publish(ch, b"persistent", 6000, delivery_mode=2)
    assert broker._journal is not None and broker._journal.flush() is None  # type: ignore[union-attr]
    broker = restart(broker, crash_it=crash_it)
    assert broker.exchanges["d"].messages_delayed == 2
    assert broker.next_deadline() is not None
    broker.clock.advance(6)  # type: ignore[attr-defined]
    assert bodies(broker) == [b"transient", b"persistent"]


def test_overdue_delayed_messages_are_delivered_at_boot_spec_13_10(restart: Restart) -> None:
    broker = restart()
    ch = setup(broker)
    publish(ch, b"late", 2000)
    publish(ch, b"early", 1000)
    publish(ch, b"future", 60_000)
    broker = restart(broker, after=10)  # down for 10 s: two are overdue
    assert broker.queues["q"].messages_ready == 2  # no tick needed: delivered at boot
    assert bodies(broker) == [b"early", b"late"]
    assert broker.exchanges["d"].messages_delayed == 1


def test_headers_and_properties_come_back_as_published_spec_13_8_13_10(restart: Restart) -> None:
    broker = restart()
    ch = setup(broker)
    ch.basic_publish(
        "d",
        "k",
        b"m",
        BasicProperties(headers={"x-delay": "3000", "CC": ["k"], "n": 1}, message_id="id"),
    )
    broker = restart(broker)
    broker.clock.advance(3)  # type: ignore[attr-defined]
    method, got, body = broker.connect().channel().basic_get("q", auto_ack=True)
    assert (method.exchange, method.routing_key, body) == ("d", "k", b"m")
    assert got.message_id == "id"
    assert got.headers == {"x-delay": -3000, "CC": ["k"], "n": 1}


def test_released_messages_are_not_stored_again(restart: Restart, data_dir: Path) -> None:
    broker = restart()
    ch = setup(broker, queue_durable=False)
    publish(ch, b"m", 1000)
    broker.clock.advance(1)  # type: ignore[attr-defined]
    assert bodies(broker) == [b"m"]
    broker = restart(broker)
    assert broker.exchanges["d"].messages_delayed == 0
    assert stored_delayed(data_dir) == 0


def test_a_non_durable_exchanges_messages_are_dropped_after_a_restart_spec_13_10(
    restart: Restart, data_dir: Path
) -> None:
    broker = restart()
    setup(broker, durable=False)
    publish(broker.connect().channel(), b"m", 1000)
    assert broker._journal is not None and broker._journal.flush() is None  # type: ignore[union-attr]
    assert stored_delayed(data_dir) == 1  # stored whatever the exchange's durability
    broker = restart(broker)
    assert "d" not in broker.exchanges
    assert stored_delayed(data_dir) == 0


def test_deleting_the_exchange_deletes_its_stored_messages(restart: Restart, data_dir: Path) -> None:
    broker = restart()
    ch = setup(broker)
    for delay in (1000, 2000):
        publish(ch, b"m", delay)
    ch.exchange_delete("d")
    assert broker.vhost().dropped["delayed_exchange_deleted"] == 2
    broker = restart(broker)
    assert stored_delayed(data_dir) == 0


def test_a_version_1_data_dir_is_read_and_upgraded(restart: Restart, data_dir: Path) -> None:
    broker = restart()
    ch = broker.connect().channel()
    ch.queue_declare("kept", durable=True)
    broker.close()
    with sqlite3.connect(data_dir / DATABASE_NAME) as db:  # as the previous release wrote it
        db.execute("DROP TABLE delayed")
        db.execute("PRAGMA user_version = 1")
    broker = restart()
    assert "kept" in broker.queues
    ch = setup(broker)
    publish(ch, b"m", 1000)
    broker = restart(broker)
    assert broker.exchanges["d"].messages_delayed == 1
    broker.clock.advance(1)  # type: ignore[attr-defined]
    assert bodies(broker) == [b"m"]
