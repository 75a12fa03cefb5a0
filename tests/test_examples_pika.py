"""The pika tutorial scripts in examples/pika/ run unmodified against ``amqpmodel serve``.

A module-scoped fixture starts ``python -m amqpmodel serve --port 0`` as a
subprocess; every script runs as its own process with ``AMQP_URL`` pointing at
it, exactly as a user would run it against RabbitMQ. Receivers are started
first and awaited (their " [*] Waiting" line is printed only after
basic.consume-ok, and the test also checks the consumer count through a
passive queue.declare), then the senders run, then the receivers get SIGINT
and must exit cleanly with exactly the expected output.

Set ``AMQPMODEL_EXAMPLES_URL`` (e.g. ``amqp://guest:guest@127.0.0.1:5673/%2F``)
to run the same tests against another broker, such as a real RabbitMQ,
instead of a fresh ``amqpmodel serve``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pika
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "pika"
REPO = EXAMPLES.parent.parent

# Generous next to the few seconds the scripts need, far below pytest-timeout's 120 s.
DEADLINE = 20.0
WAITING = " [*] Waiting for messages. To exit press CTRL+C"
WAITING_LOGS = " [*] Waiting for logs. To exit press CTRL+C"
INTERRUPTED = " [*] Interrupted, exiting"


def _default_sigint() -> None:
    # A child started from a background shell job inherits SIGINT ignored, and Python
    # then never installs its KeyboardInterrupt handler; Ctrl-C must reach the script.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Process:
    """A child process whose stdout lines are collected by a thread as they arrive."""

    def __init__(self, argv: list[str], env: dict[str, str], stderr: object) -> None:
        self.argv = argv
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,  # type: ignore[arg-type]
            text=True,
            env=env,
            cwd=REPO,
            preexec_fn=_default_sigint,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[str]], bool], what: str) -> list[str]:
        """Block until ``predicate(lines)`` holds; fail after DEADLINE or if the process ends."""
        deadline = time.monotonic() + DEADLINE
        with self._changed:
            while not predicate(self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (not self._reader.is_alive() and not predicate(self.lines)):
                    pytest.fail(
                        f"{self.argv[-1]!r}: no {what} within {DEADLINE} s "
                        f"(exit code {self.popen.poll()}); stdout so far: {self.lines}"
                    )
                self._changed.wait(min(remaining, 0.1))
            return list(self.lines)

    def wait_for_line(self, line: str, count: int = 1) -> list[str]:
        return self.wait_for(lambda lines: lines.count(line) >= count, repr(line))

    def interrupt(self, timeout: float = 5.0) -> int:
        """Send SIGINT (Ctrl-C) and return the exit code; fail if it does not exit in time."""
        self.popen.send_signal(signal.SIGINT)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.close()
            pytest.fail(f"{self.argv} ignored SIGINT for {timeout} s; stdout: {self.lines}")
        self._reader.join(timeout)
        return code

    def close(self) -> None:
        """Kill the process if it still runs and release its pipe."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()
        self._reader.join(5.0)
        assert self.popen.stdout is not None
        self.popen.stdout.close()


class Script(Process):
    """One example script run as ``python -u examples/pika/NAME ARGS...`` with AMQP_URL set."""

    def __init__(self, url: str, name: str, *args: str) -> None:
        self._stderr = tempfile.TemporaryFile(mode="w+")
        env = dict(os.environ, AMQP_URL=url, PYTHONUNBUFFERED="1")
        super().__init__([sys.executable, "-u", str(EXAMPLES / name), *args], env, self._stderr)

    @property
    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self) -> list[str]:
        """Ctrl-C a long-running script: it must exit 0, silently on stderr; return its stdout."""
        code = self.interrupt()
        assert (code, self.stderr) == (0, ""), self.lines
        return list(self.lines)

    def close(self) -> None:
        super().close()
        self._stderr.close()


def run(url: str, name: str, *args: str) -> list[str]:
    """Run a script that exits by itself (a sender); it must succeed; return its stdout lines."""
    result = subprocess.run(
        [sys.executable, "-u", str(EXAMPLES / name), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(os.environ, AMQP_URL=url),
        cwd=REPO,
        timeout=DEADLINE,
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stdout
    return result.stdout.splitlines()


def queue_counts(url: str, queue: str) -> tuple[int, int]:
    """(message_count, consumer_count) as declare-ok reports them to a passive declare (spec 2.6)."""
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        ok = connection.channel().queue_declare(queue=queue, passive=True)
        return int(ok.method.message_count), int(ok.method.consumer_count)


def consumer_count(url: str, queue: str) -> int:
    return queue_counts(url, queue)[1]


def wait_consumer_count(url: str, queue: str, expected: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while (count := consumer_count(url, queue)) != expected:
        if time.monotonic() > deadline:
            pytest.fail(f"queue {queue!r} has {count} consumers, expected {expected}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def amqp_url() -> Iterator[str]:
    """``amqpmodel serve --port 0`` in a subprocess for the whole module; stopped with Ctrl-C."""
    external = os.environ.get("AMQPMODEL_EXAMPLES_URL")
    if external:
        yield external
        return
    with tempfile.TemporaryFile(mode="w+") as log:
        server = Process(
            [sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--no-management"],
            dict(os.environ),
            log,
        )
        try:
            first = server.wait_for(bool, "listening line")[0]
            match = re.match(r"amqpmodel listening on amqp://127\.0\.0\.1:(\d+) ", first)
            assert match, first
            yield f"amqp://guest:guest@127.0.0.1:{match[1]}/%2F"
            code = server.interrupt(timeout=5.0)
            log.seek(0)
            assert code == 0, log.read()
        finally:
            server.close()


@pytest.fixture
def spawn(amqp_url: str) -> Iterator[Callable[..., Script]]:
    """Start example scripts; any still running when the test ends is killed."""
    started: list[Script] = []

    def start(name: str, *args: str) -> Script:
        script = Script(amqp_url, name, *args)
        started.append(script)
        return script

    yield start
    for script in started:
        script.close()


def test_tutorial1_hello_world(amqp_url: str, spawn: Callable[..., Script]) -> None:
    # spec 1.2: the default exchange routes "hello" to the queue named hello
    receiver = spawn("receive.py")
    receiver.wait_for_line(WAITING)
    wait_consumer_count(amqp_url, "hello", 1)

    assert run(amqp_url, "send.py") == [" [x] Sent 'Hello World!'"]
    receiver.wait_for_line(" [x] Received 'Hello World!'")

    assert run(amqp_url, "send.py") == [" [x] Sent 'Hello World!'"]
    receiver.wait_for_line(" [x] Received 'Hello World!'", count=2)

    assert receiver.stop() == [
        WAITING,
        " [x] Received 'Hello World!'",
        " [x] Received 'Hello World!'",
        INTERRUPTED,
    ]
    # spec 7.13: the interrupted script closed its connection, taking its consumer along
    wait_consumer_count(amqp_url, "hello", 0)


def test_tutorial2_work_queues_fair_dispatch(amqp_url: str, spawn: Callable[..., Script]) -> None:
    # spec 7.4 round-robin between the two workers; 7.5 prefetch_count=1 keeps a
    # busy worker (one unacked task, a second of "work" per dot) from getting more,
    # so tasks sent while both are busy stay ready in the queue; 7.11 the worker acks
    # each task before printing " [x] Done", so nothing is left unacked at Ctrl-C
    workers = [spawn("worker.py"), spawn("worker.py")]
    for worker in workers:
        worker.wait_for_line(WAITING)
    wait_consumer_count(amqp_url, "task_queue", 2)

    def send(*words: str) -> str:
        message = " ".join(words) or "Hello World!"
        assert run(amqp_url, "new_task.py", *words) == [f" [x] Sent {message!r}"]
        return message

    sent = [send("First", "message.."), send("Second", "message..")]
    for worker in workers:
        worker.wait_for(lambda lines: len(lines) == 2, "a first task")
    # Both workers hold one unacked two-second task: the next two must wait as ready.
    sent += [send("Third", "message."), send()]
    assert queue_counts(amqp_url, "task_queue") == (2, 2)

    def all_done(_: list[str]) -> bool:
        return sum(w.lines.count(" [x] Done") for w in workers) == len(sent)

    workers[0].wait_for(all_done, "four tasks done between the workers")
    outputs = [worker.stop() for worker in workers]

    received: list[str] = []
    for lines in outputs:
        assert lines[0] == WAITING and lines[-1] == INTERRUPTED, lines
        body = lines[1:-1]
        # Each worker got two tasks and finished each before taking the next.
        assert len(body) == 4 and body[1::2] == [" [x] Done"] * 2, outputs
        received += [line.removeprefix(" [x] Received ") for line in body[0::2]]
    assert sorted(received) == sorted(repr(message) for message in sent)
    assert queue_counts(amqp_url, "task_queue") == (0, 0)


def test_tutorial3_publish_subscribe(amqp_url: str, spawn: Callable[..., Script]) -> None:
    # spec 1.12 fanout ignores the routing key and copies to every bound queue;
    # 2.2 server-named exclusive queues, one per subscriber
    subscribers = [spawn("receive_logs.py"), spawn("receive_logs.py")]
    for subscriber in subscribers:
        subscriber.wait_for_line(WAITING_LOGS)

    assert run(amqp_url, "emit_log.py") == [" [x] Sent 'info: Hello World!'"]
    assert run(amqp_url, "emit_log.py", "warning:", "disk", "almost", "full") == [
        " [x] Sent 'warning: disk almost full'"
    ]
    expected = [
        WAITING_LOGS,
        " [x] 'info: Hello World!'",
        " [x] 'warning: disk almost full'",
    ]
    for subscriber in subscribers:
        subscriber.wait_for(lambda lines: lines == expected, "both log lines")
    for subscriber in subscribers:
        assert subscriber.stop() == [*expected, INTERRUPTED]


def test_tutorial4_routing(amqp_url: str, spawn: Callable[..., Script]) -> None:
    # spec 1.12 direct: a queue gets exactly the severities it is bound with; a
    # queue bound with several keys gets each matching message once
    to_disk = spawn("receive_logs_direct.py", "warning", "error")
    to_screen = spawn("receive_logs_direct.py", "info", "warning", "error")
    for receiver in (to_disk, to_screen):
        receiver.wait_for_line(WAITING_LOGS)

    assert run(amqp_url, "emit_log_direct.py") == [" [x] Sent 'info':'Hello World!'"]
    assert run(amqp_url, "emit_log_direct.py", "debug", "nobody", "listens") == [
        " [x] Sent 'debug':'nobody listens'"
    ]
    assert run(amqp_url, "emit_log_direct.py", "error", "Run. Run. Or it will explode.") == [
        " [x] Sent 'error':'Run. Run. Or it will explode.'"
    ]
    error = " [x] 'error':'Run. Run. Or it will explode.'"
    # Sent last, so once it is here every earlier message has been routed too.
    to_disk.wait_for_line(error)
    to_screen.wait_for_line(error)

    assert to_disk.stop() == [WAITING_LOGS, error, INTERRUPTED]
    assert to_screen.stop() == [WAITING_LOGS, " [x] 'info':'Hello World!'", error, INTERRUPTED]


def test_tutorial5_topics(amqp_url: str, spawn: Callable[..., Script]) -> None:
    # spec 1.14 "*" is one word, "#" zero or more; 1.16 a key matching two of a
    # queue's bindings ("kern.critical" vs "kern.*" and "*.critical") is delivered once
    kern_or_critical = spawn("receive_logs_topic.py", "kern.*", "*.critical")
    everything = spawn("receive_logs_topic.py", "#")
    for receiver in (kern_or_critical, everything):
        receiver.wait_for_line(WAITING_LOGS)

    sends = [
        ("cron.info", "nightly job started"),
        ("kern.info", "module loaded"),
        ("kern.critical", "A critical kernel error"),
        ("kern.critical.extra", "three words match neither kern.* nor *.critical"),
        ("cron.critical", "disk full"),
    ]
    assert run(amqp_url, "emit_log_topic.py") == [" [x] Sent 'anonymous.info':'Hello World!'"]
    for key, message in sends:
        assert run(amqp_url, "emit_log_topic.py", key, message) == [
            f" [x] Sent {key!r}:{message!r}"
        ]
    last = " [x] 'cron.critical':'disk full'"
    kern_or_critical.wait_for_line(last)
    everything.wait_for_line(last)

    assert kern_or_critical.stop() == [
        WAITING_LOGS,
        " [x] 'kern.info':'module loaded'",
        " [x] 'kern.critical':'A critical kernel error'",
        last,
        INTERRUPTED,
    ]
    assert everything.stop() == [
        WAITING_LOGS,
        " [x] 'anonymous.info':'Hello World!'",
        *(f" [x] {key!r}:{message!r}" for key, message in sends),
        INTERRUPTED,
    ]


@pytest.mark.parametrize("script", ["receive_logs_direct.py", "receive_logs_topic.py"])
def test_receivers_without_bindings_print_usage(amqp_url: str, script: str) -> None:
    # Like the tutorials: no severities / binding keys is a usage error, exit code 1.
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        capture_output=True,
        text=True,
        env=dict(os.environ, AMQP_URL=amqp_url),
        timeout=DEADLINE,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"Usage: {EXAMPLES / script} ["), result.stderr


def test_tutorial6_rpc(amqp_url: str, spawn: Callable[..., Script]) -> None:
    # spec 1.2 requests and replies both go through the default exchange (the reply
    # to the client's server-named exclusive queue, spec 2.2); 7.5 prefetch_count=1
    server = spawn("rpc_server.py")
    server.wait_for_line(" [x] Awaiting RPC requests")
    wait_consumer_count(amqp_url, "rpc_queue", 1)

    assert run(amqp_url, "rpc_client.py") == [" [x] Requesting fib(30)", " [.] Got 832040"]
    assert run(amqp_url, "rpc_client.py") == [" [x] Requesting fib(30)", " [.] Got 832040"]

    assert server.stop() == [
        " [x] Awaiting RPC requests",
        " [.] fib(30)",
        " [.] fib(30)",
        INTERRUPTED,
    ]
    wait_consumer_count(amqp_url, "rpc_queue", 0)


def test_tutorial2_ctrl_c_mid_task_gives_the_task_back(
    amqp_url: str, spawn: Callable[..., Script]
) -> None:
    # spec 7.13: the interrupted worker closes its connection before acking, so the
    # broker requeues the task (2.12) for the next worker instead of losing it
    worker = spawn("worker.py")
    worker.wait_for_line(WAITING)
    wait_consumer_count(amqp_url, "task_queue", 1)
    run(amqp_url, "new_task.py", "A", "long", "task.........")
    worker.wait_for_line(" [x] Received 'A long task.........'")
    assert queue_counts(amqp_url, "task_queue") == (0, 1)

    assert worker.stop() == [WAITING, " [x] Received 'A long task.........'", INTERRUPTED]
    assert queue_counts(amqp_url, "task_queue") == (1, 0)

    with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
        channel = connection.channel()
        method, properties, body = channel.basic_get("task_queue", auto_ack=True)
        assert method is not None and method.redelivered
        assert (body, properties.delivery_mode) == (b"A long task.........", 2)
