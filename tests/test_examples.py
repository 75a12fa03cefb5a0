"""The in-process tutorial scripts in examples/inprocess/ run and print what the tutorials promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "inprocess"


def run_example(name: str) -> list[str]:
    path = EXAMPLES / name
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_tutorial1_hello_world() -> None:
    # spec 1.2: the default exchange routes to the queue named by the routing key
    assert run_example("tutorial1_hello_world.py") == [
        " [*] Waiting for messages",
        " [x] Sent 'Hello World!'",
        " [x] Received 'Hello World!'",
    ]


def test_tutorial2_work_queues_fair_dispatch() -> None:
    # spec 7.4 round-robin between workers, 7.5 prefetch_count=1 holds a worker to
    # one unacked message, 7.11 manual acks leave nothing unacknowledged
    sent = [
        "First message.",
        "Second message..",
        "Third message...",
        "Fourth message....",
        "Fifth message.....",
    ]
    expected = [" [*] 2 workers waiting for messages (prefetch_count=1)"]
    expected += [f" [x] Sent {task!r}" for task in sent]
    for task in sent:
        expected += [f" [x] Received {task!r}", " [x] Done"]
    expected += [
        " [*] 5 of 5 tasks done, each by exactly one worker: True",
        " [*] every worker took part: True",
        " [*] most messages any worker held at once: 1",
        " [*] task_queue: 0 ready, 0 unacknowledged",
    ]
    assert run_example("tutorial2_work_queues.py") == expected


def test_tutorial3_publish_subscribe() -> None:
    # spec 1.12 fanout ignores the key and reaches every bound queue; 2.2 server-named
    # queues; 2.5 exclusive queues go with their connection; unbound logs are lost
    logs = [" [x] 'info: Hello World!'", " [x] 'warning: disk almost full'"]
    assert run_example("tutorial3_publish_subscribe.py") == [
        " [x] Sent 'info: nobody hears this one'",
        " [*] Waiting for logs",
        " [x] Sent 'info: Hello World!'",
        " [x] Sent 'warning: disk almost full'",
        " [*] receiver to disk:",
        *logs,
        " [*] receiver to screen:",
        *logs,
        " [*] logs is bound to 2 queues, all server-named: True",
        " [*] after the receivers disconnect, exclusive queues left: 0",
    ]


def test_tutorial4_routing() -> None:
    # spec 1.12: direct exchange, exact match; the same key bound by two queues
    # reaches both; a key nobody bound ('debug') is dropped
    assert run_example("tutorial4_routing.py") == [
        " [x] Sent 'info':'Hello World!'",
        " [x] Sent 'warning':'Disk almost full'",
        " [x] Sent 'error':'Run. Run. Or it will explode.'",
        " [x] Sent 'debug':'Nobody subscribed to this'",
        " [*] receive_logs_direct.py warning error",
        " [x] 'warning':'Disk almost full'",
        " [x] 'error':'Run. Run. Or it will explode.'",
        " [*] receive_logs_direct.py info warning error",
        " [x] 'info':'Hello World!'",
        " [x] 'warning':'Disk almost full'",
        " [x] 'error':'Run. Run. Or it will explode.'",
    ]


def test_tutorial5_topics() -> None:
    # spec 1.13-1.14 '*' is one word, '#' zero or more; 1.16 a queue matched by two
    # bindings ('lazy.pink.rabbit', 'kern.critical') gets one copy
    kern_critical = " [x] 'kern.critical':'A critical kernel error'"
    kern_info = " [x] 'kern.info':'Kernel booted'"
    cron_critical = " [x] 'cron.critical':'Cron table is corrupt'"
    assert run_example("tutorial5_topics.py") == [
        " [*] Q1 binds '*.orange.*'; Q2 binds '*.*.rabbit' and 'lazy.#'",
        " [x] 'quick.orange.rabbit' -> Q1, Q2",
        " [x] 'lazy.orange.elephant' -> Q1, Q2",
        " [x] 'quick.orange.fox' -> Q1",
        " [x] 'lazy.brown.fox' -> Q2",
        " [x] 'lazy.pink.rabbit' -> Q2",
        " [x] 'quick.brown.fox' -> dropped",
        " [x] 'orange' -> dropped",
        " [x] 'quick.orange.male.rabbit' -> dropped",
        " [x] 'lazy.orange.male.rabbit' -> Q2",
        " [x] Sent 'kern.critical':'A critical kernel error'",
        " [x] Sent 'kern.info':'Kernel booted'",
        " [x] Sent 'cron.critical':'Cron table is corrupt'",
        " [x] Sent 'auth.warning':'Three failed logins'",
        " [x] Sent 'anonymous.info':'Hello World!'",
        " [*] receive_logs_topic.py '#'",
        kern_critical,
        kern_info,
        cron_critical,
        " [x] 'auth.warning':'Three failed logins'",
        " [x] 'anonymous.info':'Hello World!'",
        " [*] receive_logs_topic.py 'kern.*'",
        kern_critical,
        kern_info,
        " [*] receive_logs_topic.py '*.critical'",
        kern_critical,
        cron_critical,
        " [*] receive_logs_topic.py 'kern.*' '*.critical'",
        kern_critical,
        kern_info,
        cron_critical,
    ]


def test_tutorial6_rpc() -> None:
    # spec 1.2 replies go through the default exchange to the reply_to queue;
    # 7.5 prefetch_count=1 on the server; 7.11 every request acked
    expected = [" [x] Awaiting RPC requests"]
    for n, answer in [(0, 0), (1, 1), (4, 3), (10, 55), (30, 832040)]:
        expected += [f" [x] Requesting fib({n})", f" [.] fib({n})", f" [.] Got {answer}"]
    expected += [
        " [*] replies ignored for an unknown correlation_id: 1",
        " [*] rpc_queue: 0 ready, 0 unacknowledged",
        " [*] server thread finished: True",
    ]
    assert run_example("tutorial6_rpc.py") == expected


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("tutorial*.py")), ids=lambda p: p.name)
def test_every_example_says_what_it_is(path: Path) -> None:
    # each script's docstring names its tutorial and that it runs in process
    text = path.read_text(encoding="utf-8")
    docstring = text.split('"""')[1]
    assert docstring.startswith("RabbitMQ tutorial ")
    assert "in process" in docstring
    assert "amqpmodel._" not in text and "from amqpmodel._" not in text  # public API only
