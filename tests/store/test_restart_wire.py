"""Restarts over the wire: ``amqpmodel serve --data-dir`` stopped with SIGINT (clean) or killed
with SIGKILL, and a pika client before and after (spec 22)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pika
import pytest

PERSISTENT = pika.BasicProperties(delivery_mode=2)


def _channel(url: str) -> Any:
    return pika.BlockingConnection(pika.URLParameters(url)).channel()


def _drain(channel: Any, queue: str) -> list[tuple[bytes, bool]]:
    result = []
    while True:
        method, _, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            return result
        result.append((body, method.redelivered))


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_confirmed_persistent_messages_survive_a_stop_and_a_kill(
    how: int, data_dir: Path, serve_process: Callable[..., Any]
) -> None:
    # spec 22.1, 22.2, 22.4, 22.5, 22.14, 22.17, 22.18, 22.28
    server = serve_process(data_dir).start()
    assert f"data in {data_dir}" in server.banner
    ch = _channel(server.url)
    ch.exchange_declare("logs", "direct", durable=True)
    ch.queue_declare("jobs", durable=True)
    ch.queue_declare("temp")
    ch.queue_bind("jobs", "logs", "job")
    ch.confirm_delivery()
    for i in range(50):
        ch.basic_publish("logs", "job", b"job %d" % i, PERSISTENT)  # confirmed: stored
    ch.basic_publish("", "jobs", b"transient")
    held, _, body = ch.basic_get("jobs")  # unacked at the stop
    assert held is not None and body == b"job 0"
    method, _, _ = ch.basic_get("jobs")
    ch.basic_ack(method.delivery_tag)
    ch.queue_declare("jobs", passive=True)  # a round trip: the ack has arrived
    output = server.stop(how)
    assert "Traceback" not in output
    server = serve_process(data_dir).start()
    ch = _channel(server.url)
    assert ch.queue_declare("jobs", passive=True).method.message_count >= 49
    ch.basic_publish("logs", "job", b"after", PERSISTENT)  # the binding is back
    got = _drain(ch, "jobs")
    bodies = [body for body, _ in got]
    expected = [b"job 0"] + [b"job %d" % i for i in range(2, 50)] + [b"after"]
    if how == signal.SIGINT:
        assert bodies == expected
        assert [r for _, r in got] == [True] + [False] * 49  # spec 22.17
    else:
        # spec 22.15: the ack of "job 1" may not have been committed before the kill
        assert bodies in (expected, [b"job 0", b"job 1", *expected[1:]])
        assert all(r for _, r in got[:-1])  # spec 22.18
    with pytest.raises(pika.exceptions.ChannelClosedByBroker):
        ch.queue_declare("temp", passive=True)  # spec 22.7
    server.stop()


def test_serve_without_a_data_dir_says_what_it_discards(serve_process: Callable[..., Any]) -> None:
    server = serve_process(None).start()
    assert "in memory" in server.banner
    ch = _channel(server.url)
    ch.queue_declare("jobs", durable=True)
    ch.queue_declare("temp")
    for i in range(3):
        ch.basic_publish("", "jobs", b"%d" % i, PERSISTENT)
    ch.basic_publish("", "temp", b"t", PERSISTENT)
    ch.basic_publish("", "jobs", b"transient")
    ch.queue_declare("jobs", passive=True)
    output = server.stop(signal.SIGINT)
    assert "discarding 3 persistent messages in durable queues" in output


def test_a_data_dir_in_use_is_refused_by_a_second_server(
    data_dir: Path, serve_process: Callable[..., Any]
) -> None:
    first = serve_process(data_dir).start()
    second = serve_process(data_dir)
    with pytest.raises(AssertionError, match="is in use by process"):
        second.start()
    first.stop()


def test_a_tx_commit_answers_after_the_store_has_the_messages(
    data_dir: Path, serve_process: Callable[..., Any]
) -> None:
    # spec 22.33
    server = serve_process(data_dir).start()
    ch = _channel(server.url)
    ch.queue_declare("q", durable=True)
    ch.tx_select()
    for i in range(20):
        ch.basic_publish("", "q", b"%d" % i, PERSISTENT)
    ch.tx_commit()
    server.stop(signal.SIGKILL)  # right after commit-ok
    server = serve_process(data_dir).start()
    assert [body for body, _ in _drain(_channel(server.url), "q")] == [b"%d" % i for i in range(20)]
    server.stop()
