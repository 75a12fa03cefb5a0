"""Make kombu know ``amqpmodel://`` in any process that imports amqpmodel.

kombu finds a transport by URL scheme in ``kombu.transport.TRANSPORT_ALIASES``
and has no discovery of other packages' transports. Importing kombu here would
cost every user of amqpmodel kombu's import time, so the alias is added when
kombu's transport module is imported (at once if it already is): a finder on
``sys.meta_path`` waits for that one module, lets its own loader run it, adds
the alias, and leaves.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["install"]

_MODULE = "kombu.transport"
ALIAS = "amqpmodel"
TRANSPORT_PATH = "amqpmodel.kombu:Transport"


def _register(module: Any) -> None:
    aliases = getattr(module, "TRANSPORT_ALIASES", None)
    if isinstance(aliases, dict):
        aliases.setdefault(ALIAS, TRANSPORT_PATH)


class _AliasingLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _register(module)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != _MODULE:
            return None
        _uninstall()
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _AliasingLoader(spec.loader)
        return spec


_finder = _Finder()


def _uninstall() -> None:
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)


def install() -> None:
    """Add the alias now if kombu's transports are loaded, else when they are."""
    module = sys.modules.get(_MODULE)
    if module is not None:
        _register(module)
    elif _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
