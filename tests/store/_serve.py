"""``amqpmodel serve`` in a subprocess for the store's tests (importable: test modules cannot import conftest)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["ServeProcess"]


class ServeProcess:
    """``amqpmodel serve --data-dir`` in a subprocess, to stop with SIGINT or kill with SIGKILL."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = extra
        self.process: subprocess.Popen[str] | None = None
        self.port = 0
        self.output = ""

    def start(self) -> ServeProcess:
        args = [sys.executable, "-m", "amqpmodel", "serve", "--port", "0", "--quiet", "--no-management"]
        if self.data_dir is not None:
            args += ["--data-dir", str(self.data_dir)]
        self.process = subprocess.Popen(
            [*args, *self.extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("amqpmodel listening on amqp://127.0.0.1:"), (
            line + self.process.stderr.read()  # type: ignore[union-attr]
        )
        self.banner = line
        self.port = int(line.split()[3].rsplit(":", 1)[1])
        return self

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def stop(self, sig: int = signal.SIGINT) -> str:
        """Stop (SIGINT: clean; SIGKILL: a crash); returns what it printed after its banner."""
        process = self.process
        assert process is not None
        process.send_signal(sig)
        out, err = process.communicate(timeout=30)
        self.process = None
        self.output = out + err
        return self.output
