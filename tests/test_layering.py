"""Layering: the drivers of the core (``amqpmodel/server/``, ``amqpmodel/store/`` and the drop-ins ``pika/``, ``kombu/``) use
only its public interface (``amqpmodel``, ``amqpmodel.driver`` and public members;
see the docstring of ``amqpmodel/driver.py``), never an underscored name of it.

Two checks, by walking the drivers' sources with ``ast``:

- no import of a private core module (``amqpmodel._<anything>``, however spelled:
  absolute, relative, or ``from amqpmodel import _x``);
- no attribute access ``X._name`` where ``X`` is not ``self``/``cls`` and ``_name``
  is an underscored attribute or method of a core class (assigned as ``self._x``,
  defined as ``def _x`` in a class, or listed in a class's ``__slots__``).

A driver's own attributes that happen to share such a name, accessed from another
object, count as offences too: the check cannot tell them apart, so drivers avoid
those names across objects.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "amqpmodel"
DRIVERS = ("server", "store", "pika", "kombu", "shovel", "management")


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def core_private_names(package: Path = PACKAGE) -> frozenset[str]:
    """The underscored attribute and method names of the core's classes (amqpmodel/*.py)."""
    names: set[str] = set()
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for cls in ast.walk(tree):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in cls.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(node.name)
                elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    # class attributes, and methods bound from module functions
                    # (``_deliver = _channel_consume.deliver``)
                    names.update(t.id for t in targets if isinstance(t, ast.Name))
                    if node.value is not None and any(
                        isinstance(t, ast.Name) and t.id == "__slots__" for t in targets
                    ):
                        names.update(
                            e.value
                            for e in ast.walk(node.value)
                            if isinstance(e, ast.Constant) and isinstance(e.value, str)
                        )
        for node in ast.walk(tree):  # ``self._x = ...`` in methods and bound functions alike
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return frozenset(n for n in names if n.startswith("_") and not _is_dunder(n))


def _is_private_core_module(module: str) -> bool:
    parts = module.split(".")
    return len(parts) >= 2 and parts[0] == "amqpmodel" and parts[1].startswith("_")


def _resolve(module: str | None, level: int, package: str) -> str:
    """The absolute name of ``from <level dots><module> import ...`` in ``package``."""
    if level == 0:
        return module or ""
    parts = package.split(".")
    base = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, module] if module else base)


def offences(
    source: str, filename: str, private_names: frozenset[str], package: str = "amqpmodel.server"
) -> Iterator[str]:
    """Each use of the core's private names in ``source``, as ``file:line name``.

    ``package`` is the package the source belongs to (to resolve relative imports).
    """
    tree = ast.parse(source, filename)
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, node.col_offset, alias.name)
                for alias in node.names
                if _is_private_core_module(alias.name)
            ]
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node.module, node.level, package)
            if _is_private_core_module(module):
                found.append((node.lineno, node.col_offset, module))
            elif module == "amqpmodel":
                found += [
                    (node.lineno, node.col_offset, f"amqpmodel.{alias.name}")
                    for alias in node.names
                    if alias.name.startswith("_") and not _is_dunder(alias.name)
                ]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in private_names
            and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            found.append((node.lineno, node.col_offset, node.attr))
    for line, _, name in sorted(found):
        yield f"{filename}:{line} {name}"


def package_offences(driver: str) -> list[str]:
    root = PACKAGE / driver
    names = core_private_names()
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent)
        package = ".".join(relative.with_suffix("").parts[:-1])
        if path.name == "__init__.py":
            package = ".".join(relative.parent.parts)
        found += offences(path.read_text(encoding="utf-8"), relative.as_posix(), names, package)
    return found


@pytest.mark.parametrize("driver", DRIVERS)
def test_driver_uses_only_the_public_core(driver: str) -> None:
    assert (PACKAGE / driver).is_dir(), driver
    found = package_offences(driver)
    assert not found, f"amqpmodel/{driver} uses private names of the core:\n" + "\n".join(found)


def test_private_names_are_collected_from_the_core() -> None:
    names = core_private_names()
    # a few that the drivers used before the driver interface existed
    assert {"_timers", "_pending", "_batch", "_drain_once", "_closed", "_lock"} <= names
    assert not any(_is_dunder(name) for name in names)


def test_checker_catches_planted_offences() -> None:
    names = core_private_names()
    source = (
        "from amqpmodel._queue import Queue\n"
        "import amqpmodel._broker\n"
        "from .._channel import Channel\n"
        "from amqpmodel import _connection\n"
        "from amqpmodel import Broker\n"
        "from amqpmodel.driver import is_utf8\n"
        "from ._codec import Method\n"
        "\n"
        "class Driver:\n"
        "    def __init__(self, broker):\n"
        "        self._timers = broker._timers\n"
        "        self.broker = broker\n"
        "\n"
        "    def run(self):\n"
        "        self._timers.clear()\n"
        "        self.broker._lock.acquire()\n"
        "        self._own_name_not_in_the_core = 1\n"
        "        return self.broker.__class__, self.broker.tick()\n"
    )
    found = list(offences(source, "planted.py", names, "amqpmodel.server"))
    assert found == [
        "planted.py:1 amqpmodel._queue",
        "planted.py:2 amqpmodel._broker",
        "planted.py:3 amqpmodel._channel",
        "planted.py:4 amqpmodel._connection",
        "planted.py:11 _timers",
        "planted.py:16 _lock",
    ], found


def test_relative_imports_resolve_in_their_package() -> None:
    assert _resolve("_queue", 2, "amqpmodel.server") == "amqpmodel._queue"
    assert _resolve("_codec", 1, "amqpmodel.server") == "amqpmodel.server._codec"
    assert _resolve(None, 2, "amqpmodel.store") == "amqpmodel"
    assert _resolve("driver", 2, "amqpmodel.store") == "amqpmodel.driver"
