"""The six tutorials' programs, extracted from the seed document as printed, and a runner.

The programs are not retyped: they are cut out of ``seed/rabbitmq-guide-zh.md``
(a byte-identical copy of ``../shared/seed/``), and only these mechanical
repairs are made, for the artifacts of how the document was printed:

- each line's "N. " number is removed, and a program printed over two code
  blocks (the second block's numbers continuing the first's) is joined;
- a statement broken after ``=`` or a backslash is joined into one line;
- indentation is rounded up to a multiple of four spaces (the RPC client's
  two-digit line numbers ate a space);
- Python 2 print statements become print() calls (``print >> f, x`` becomes
  ``print(x, file=f)``).

Nothing else changes: every pika call runs as printed (the pika 0.x forms are
the drop-in's to accept). Tutorial 1's programs need only the first two repairs.

``run_program`` executes one in a thread, in a namespace of its own: its
``sys.argv``, stdout and stderr are its own (``print`` and ``import sys`` are
redirected for it alone), so several programs run side by side as in separate
shells.
"""

from __future__ import annotations

import builtins
import io
import math
import re
import threading
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SEED = Path(__file__).resolve().parent / "seed" / "rabbitmq-guide-zh.md"
SHARED_SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "rabbitmq-guide-zh.md"

PROGRAM_NAMES = (
    "send.py",
    "receive.py",
    "new_task.py",
    "worker.py",
    "emit_log.py",
    "receive_logs.py",
    "emit_log_direct.py",
    "receive_logs_direct.py",
    "emit_log_topic.py",
    "receive_logs_topic.py",
    "rpc_server.py",
    "rpc_client.py",
)

_NUMBERED = re.compile(r"^\s*(\d+)\.(?: (.*))?$")
_PRINT_TO = re.compile(r"^(\s*)print\s*>>\s*([\w.]+)\s*,\s*(.+)$")
_PRINT = re.compile(r"^(\s*)print(?:\s+(.+))?$")


def code_blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _numbered(block: Iterable[str]) -> list[tuple[int, str]]:
    return [
        (int(m.group(1)), m.group(2) or "")
        for line in block
        if (m := _NUMBERED.match(line)) is not None
    ]


def printed_programs(text: str) -> list[list[str]]:
    """Every program as printed (numbers removed, split programs joined), in order."""
    programs: list[list[tuple[int, str]]] = []
    for block in code_blocks(text):
        lines = _numbered(block)
        if not lines:
            continue
        if lines[0] == (1, "#!/usr/bin/env python"):
            programs.append(lines)
        elif programs and lines[0][0] == programs[-1][-1][0] + 1:
            programs[-1].extend(lines)
    return [[code for _, code in program] for program in programs]


def _join_broken(lines: list[str]) -> list[str]:
    joined: list[str] = []
    carry = ""
    for line in lines:
        line = carry + (line.lstrip() if carry else line)
        carry = ""
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            carry = stripped[:-1].rstrip() + " "
        elif stripped.endswith("="):
            carry = stripped + " "
        else:
            joined.append(line)
    if carry:
        joined.append(carry)
    return joined


def _reindent(line: str) -> str:
    body = line.lstrip(" ")
    width = len(line) - len(body)
    return " " * (4 * math.ceil(width / 4)) + body if body else ""


def _print_function(line: str) -> str:
    if (m := _PRINT_TO.match(line)) is not None:
        return f"{m.group(1)}print({m.group(3)}, file={m.group(2)})"
    if (m := _PRINT.match(line)) is not None and not (m.group(2) or "").startswith("("):
        return f"{m.group(1)}print({m.group(2) or ''})"
    return line


def _bracket_depth(line: str) -> int:
    """How many brackets ``line`` leaves open (strings and comments skipped; enough here)."""
    depth = 0
    quote = ""
    for char in line:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#":
            break
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
    return depth


def repaired(program: list[str]) -> str:
    lines: list[str] = []
    depth = 0
    for line in _join_broken(program):
        # a continuation line inside brackets keeps its printed indentation
        lines.append(_print_function(_reindent(line) if depth == 0 else line))
        depth += _bracket_depth(line)
    return "\n".join(lines) + "\n"


def tutorial_programs(path: Path = SEED) -> dict[str, str]:
    """The twelve programs of the six tutorials, by file name, ready to run.

    The one code block that starts like a program but is a fragment (tutorial
    1's first four lines) is left out: a program has more than five lines."""
    programs = [p for p in printed_programs(path.read_text(encoding="utf-8")) if len(p) > 5]
    if len(programs) != len(PROGRAM_NAMES):
        raise AssertionError(f"expected {len(PROGRAM_NAMES)} programs, found {len(programs)}")
    return {name: repaired(program) for name, program in zip(PROGRAM_NAMES, programs, strict=True)}


class Program:
    """One program running in its own thread, with its own argv, stdout and stderr."""

    def __init__(self, name: str, source: str, argv: list[str]) -> None:
        self.name = name
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.error: BaseException | None = None
        self.exit_code: object = 0
        sys_module = types.ModuleType("sys")
        sys_module.argv = [name, *argv]  # type: ignore[attr-defined]
        sys_module.stderr = self.stderr  # type: ignore[attr-defined]
        sys_module.stdout = self.stdout  # type: ignore[attr-defined]
        sys_module.exit = _exit  # type: ignore[attr-defined]
        self._sys = sys_module
        self._code = compile(source, f"<seed {name}>", "exec")
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": self._builtins()}
        try:
            exec(self._code, namespace)
        except SystemExit as stop:
            self.exit_code = stop.code
        except BaseException as error:  # KeyboardInterrupt is how a test presses Ctrl-C
            self.error = error

    def _builtins(self) -> dict[str, Any]:
        own = dict(vars(builtins))
        stdout = self.stdout
        sys_module = self._sys

        def program_print(*args: Any, file: Any = None, **kwargs: Any) -> None:
            builtins.print(*args, file=stdout if file is None else file, **kwargs)

        def program_import(name: str, *args: Any, **kwargs: Any) -> Any:
            if name == "sys":
                return sys_module
            return builtins.__import__(name, *args, **kwargs)

        own["print"] = program_print
        own["__import__"] = program_import
        return own

    def start(self) -> Program:
        self.thread.start()
        return self

    def join(self, timeout: float = 30.0) -> Program:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError(f"{self.name} did not finish within {timeout} s")
        return self

    @property
    def lines(self) -> list[str]:
        return self.stdout.getvalue().splitlines()


def _exit(code: object = 0) -> None:
    raise SystemExit(code)
