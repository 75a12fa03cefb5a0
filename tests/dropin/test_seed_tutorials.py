"""The six tutorials exactly as the seed document prints them, run on the pika drop-in.

Each program is cut out of the seed (``_seed_programs``: numbers removed, print
statements converted, whitespace repaired, nothing else), run in a thread
under ``patch_pika`` as a reader runs it in a shell, and its output checked.
A consumer is stopped as the tutorials say ("To exit press CTRL+C"): a
KeyboardInterrupt raised in its thread at its next I/O.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator

import pytest
from _seed_programs import SEED, SHARED_SEED, Program, tutorial_programs

from amqpmodel import Broker
from amqpmodel.pika import PikaPatch

PROGRAMS = tutorial_programs()


@pytest.fixture(autouse=True)
def _quiet_legacy_forms() -> Iterator[None]:
    # the seed's 0.x calls warn (DeprecationWarning); tested in test_pika_legacy.py
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.005)


def consumers(broker: Broker) -> int:
    return sum(q.consumer_count for q in broker.vhosts["/"].queues.values())


def run(name: str, *argv: str) -> Program:
    return Program(name, PROGRAMS[name], list(argv)).start().join()


def start_consumer(patched: PikaPatch, name: str, *argv: str) -> Program:
    """Start a program that ends in start_consuming; return once it consumes."""
    before = consumers(patched.broker)
    program = Program(name, PROGRAMS[name], list(argv)).start()
    wait_for(lambda: consumers(patched.broker) > before or not program.thread.is_alive())
    if program.error is not None:
        raise program.error
    return program


def press_ctrl_c(patched: PikaPatch, program: Program) -> None:
    connections = patched.connections_of(program.thread)
    patched_interrupt = [c for c in connections]
    for connection in patched_interrupt:
        connection.add_callback_threadsafe(_interrupt)
    program.join()
    assert isinstance(program.error, KeyboardInterrupt), program.error
    for connection in patched_interrupt:  # the process exits: its sockets close
        connection.close()


def _interrupt() -> None:
    raise KeyboardInterrupt


def test_the_vendored_seed_is_the_shared_one() -> None:
    if not SHARED_SEED.exists():
        pytest.skip("../shared/seed is not beside this checkout")
    assert SEED.read_bytes() == SHARED_SEED.read_bytes()


def test_tutorial_1_hello_world(patched: PikaPatch, broker: Broker) -> None:
    # spec 1.2: the default exchange routes to the queue named by the routing key
    receiver = start_consumer(patched, "receive.py")
    sender = run("send.py")
    assert sender.lines == [" [x] Sent 'Hello World!'"]
    wait_for(lambda: len(receiver.lines) == 2)
    press_ctrl_c(patched, receiver)
    assert receiver.lines == [
        " [*] Waiting for messages. To exit press CTRL+C",
        " [x] Received b'Hello World!'",
    ]
    assert broker.queues["hello"].messages_ready == 0


def test_tutorial_2_work_queues(patched: PikaPatch, broker: Broker) -> None:
    # spec 7.4 round-robin, 7.5 prefetch_count=1: a busy worker gets no second task;
    # 7.11 manual acks; durable queue and persistent messages as printed
    workers = [start_consumer(patched, "worker.py") for _ in range(2)]
    tasks = ["First message.", "Second message..", "Third"]
    for task in tasks:
        assert run("new_task.py", *task.split()).lines == [f" [x] Sent {task!r}"]
    wait_for(lambda: sum(w.lines.count(" [x] Done") for w in workers) == 3)
    for worker in workers:
        press_ctrl_c(patched, worker)
    first, second = (w.lines for w in workers)
    assert first == [
        " [*] Waiting for messages. To exit press CTRL+C",
        " [x] Received b'First message.'",
        " [x] Done",
        " [x] Received b'Third'",  # the first worker is free first (1 s against 2 s)
        " [x] Done",
    ]
    assert second == [
        " [*] Waiting for messages. To exit press CTRL+C",
        " [x] Received b'Second message..'",
        " [x] Done",
    ]
    queue = broker.queues["task_queue"]
    assert queue.durable and (queue.messages_ready, queue.messages_unacknowledged) == (0, 0)
    assert queue.stats.acked == 3


def test_tutorial_3_publish_subscribe(patched: PikaPatch, broker: Broker) -> None:
    # spec 1.12 fanout reaches every bound queue; 2.2 server-named exclusive queues
    # go with their connection (2.5)
    receivers = [start_consumer(patched, "receive_logs.py") for _ in range(2)]
    assert run("emit_log.py").lines == [" [x] Sent 'info: Hello World!'"]
    for receiver in receivers:
        wait_for(lambda r=receiver: len(r.lines) == 2)
        press_ctrl_c(patched, receiver)
        assert receiver.lines == [
            " [*] Waiting for logs. To exit press CTRL+C",
            " [x] b'info: Hello World!'",
        ]
    assert broker.exchanges["logs"].type == "fanout"
    assert [name for name in broker.queues if name.startswith("amq.gen-")] == []


def test_tutorial_4_routing(patched: PikaPatch) -> None:
    # spec 1.12 direct: exact match of the binding key
    usage = run("receive_logs_direct.py")
    assert usage.exit_code == 1
    assert usage.stderr.getvalue() == "Usage: receive_logs_direct.py [info] [warning] [error]\n"
    receiver = start_consumer(patched, "receive_logs_direct.py", "warning", "error")
    assert run("emit_log_direct.py", "info", "nobody", "listens").lines == [
        " [x] Sent 'info':'nobody listens'"
    ]
    assert run(
        "emit_log_direct.py", "error", "Run.", "Run.", "Or", "it", "will", "explode."
    ).lines == [" [x] Sent 'error':'Run. Run. Or it will explode.'"]
    wait_for(lambda: len(receiver.lines) == 2)
    press_ctrl_c(patched, receiver)
    assert receiver.lines == [
        " [*] Waiting for logs. To exit press CTRL+C",
        " [x] 'error':b'Run. Run. Or it will explode.'",
    ]


def test_tutorial_5_topics(patched: PikaPatch) -> None:
    # spec 1.14 "*" is one word; 1.16 a queue matched by two bindings gets one copy
    receiver = start_consumer(patched, "receive_logs_topic.py", "kern.*", "*.critical")
    run("emit_log_topic.py")  # anonymous.info: matches neither
    assert run("emit_log_topic.py", "kern.critical", "A", "critical", "kernel", "error").lines == [
        " [x] Sent 'kern.critical':'A critical kernel error'"
    ]
    run("emit_log_topic.py", "cron.critical", "disk")
    wait_for(lambda: len(receiver.lines) == 3)
    press_ctrl_c(patched, receiver)
    assert receiver.lines == [
        " [*] Waiting for logs. To exit press CTRL+C",
        " [x] 'kern.critical':b'A critical kernel error'",
        " [x] 'cron.critical':b'disk'",
    ]


def test_tutorial_6_rpc(patched: PikaPatch, broker: Broker) -> None:
    # reply_to and correlation_id carried through (spec 8), prefetch 1 on the server
    server = start_consumer(patched, "rpc_server.py")
    client = run("rpc_client.py")
    assert client.error is None, client.error
    assert client.lines == [" [x] Requesting fib(30)", " [.] Got 832040"]
    press_ctrl_c(patched, server)
    assert server.lines == [" [x] Awaiting RPC requests", " [.] fib(30)"]
    assert broker.queues["rpc_queue"].stats.acked == 1
