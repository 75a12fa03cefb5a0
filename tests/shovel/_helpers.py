"""Helpers for the shovel tests (importable: tests/shovel is on sys.path)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amqpmodel import Broker
from amqpmodel.shovel import shovel_status

__all__ = ["ServeProcess", "free_port", "status_of", "wait_until"]

WAIT = 30.0  # seconds any wait may take before the test fails (a hang, not a slow run)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll ``condition`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def status_of(broker: Broker, name: str = "s", vhost: str = "/") -> dict[str, Any] | None:
    for row in shovel_status(broker):
        if row["name"] == name and row["vhost"] == vhost:
            return row
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """``amqpmodel serve`` in a subprocess on a fixed port, to kill and start again."""

    def __init__(self, *extra: str, data_dir: Path | None = None, port: int | None = None) -> None:
        self.extra = extra
        self.data_dir = data_dir
        self.port = port if port is not None else free_port()
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def start(self) -> ServeProcess:
        args = [sys.executable, "-m", "amqpmodel", "serve", "--port", str(self.port), "--quiet"]
        args.append("--no-management")  # two serves at once must not race for 15672
        if self.data_dir is not None:
            args += ["--data-dir", str(self.data_dir)]
        deadline = time.monotonic() + WAIT
        while True:  # the port of a killed process may take a moment to come free
            self.process = subprocess.Popen(
                [*args, *self.extra],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert self.process.stdout is not None
            line = self.process.stdout.readline()
            if line.startswith("amqpmodel listening on"):
                return self
            error = self.process.communicate(timeout=WAIT)[1]
            if "cannot listen" not in error or time.monotonic() > deadline:
                raise AssertionError(line + error)
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: the destination disappears without closing anything."""
        self.stop(signal.SIGKILL)

    def stop(self, sig: int = signal.SIGINT) -> str:
        process = self.process
        assert process is not None
        process.send_signal(sig)
        out, err = process.communicate(timeout=WAIT)
        self.process = None
        return out + err
