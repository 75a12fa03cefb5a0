"""The store's file under steady load: space of acked messages is reused and given back."""

from __future__ import annotations

import os
from pathlib import Path

from amqpmodel import BasicProperties, Broker

PERSISTENT = BasicProperties(delivery_mode=2)
BODY = b"x" * 2000


def _size(data_dir: Path) -> int:
    return sum(os.path.getsize(data_dir / name) for name in os.listdir(data_dir))


def _cycle(broker: Broker, messages: int) -> None:
    ch = broker.connect().channel()
    for _ in range(messages):
        ch.basic_publish("", "q", BODY, PERSISTENT)
    assert broker._store is not None
    broker._store.flush()  # written, not cancelled by the acks below
    while True:
        method, _, _ = ch.basic_get("q")
        if method is None:
            break
        ch.basic_ack(method.delivery_tag)
    ch.close()
    broker._store.flush()


def test_steady_publish_and_ack_does_not_grow_the_file(data_dir: Path) -> None:
    # the write-ahead log is reused after each checkpoint (every 40 MB) and the main
    # file reuses the pages acks free: 120 MB of traffic stays within about 50 MB
    with Broker(data_dir=data_dir) as broker:
        broker.connect().channel().queue_declare("q", durable=True)
        sizes = []
        for _ in range(30):
            _cycle(broker, 2000)
            sizes.append(_size(data_dir))
        assert max(sizes) < 60_000_000
        assert max(sizes[15:]) <= max(sizes[:15]) * 1.1 + 1_000_000


def test_space_of_a_drained_backlog_is_given_back(data_dir: Path) -> None:
    with Broker(data_dir=data_dir) as broker:
        broker.connect().channel().queue_declare("q", durable=True)
        _cycle(broker, 10)
    empty = (data_dir / "amqpmodel.sqlite3").stat().st_size
    with Broker(data_dir=data_dir) as broker:
        ch = broker.connect().channel()
        ch.confirm_delivery()
        for _ in range(10_000):  # a 20 MB backlog
            ch.basic_publish("", "q", BODY, PERSISTENT)
    full = (data_dir / "amqpmodel.sqlite3").stat().st_size
    assert full > 15_000_000
    with Broker(data_dir=data_dir) as broker:
        _cycle(broker, 0)
        store = broker._store
        assert store is not None
        store._writer._reclaim()  # what the writer does about once a second
    assert (data_dir / "amqpmodel.sqlite3").stat().st_size < empty + 2_000_000
