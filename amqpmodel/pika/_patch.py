"""``patch_pika``: make unmodified application code's ``pika.BlockingConnection`` in-process."""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator
from typing import Any

import pika
import pika.adapters
import pika.adapters.blocking_connection

from amqpmodel import Broker

from ._blocking import PATCHES, PATCHES_LOCK, BlockingConnection, PikaBlockingConnection

__all__ = ["PikaPatch", "patch_pika"]

# every place application code finds the class (``pika.BlockingConnection`` is the usual one)
_HOMES: tuple[Any, ...] = (pika, pika.adapters, pika.adapters.blocking_connection)


class PikaPatch:
    """An active ``patch_pika``: its broker, and the connections opened through it."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        # each connection opened while patched, with the thread that opened it
        self._connections: weakref.WeakKeyDictionary[BlockingConnection, threading.Thread] = (
            weakref.WeakKeyDictionary()
        )

    def _opened(self, connection: BlockingConnection) -> None:
        self._connections[connection] = threading.current_thread()

    @property
    def connections(self) -> list[BlockingConnection]:
        """The connections application code opened while patched that are still open."""
        return [c for c in list(self._connections.keys()) if c.is_open]

    def connections_of(self, thread: threading.Thread) -> list[BlockingConnection]:
        """The open connections that ``thread`` opened (a program run in a thread, say)."""
        return [c for c, t in list(self._connections.items()) if t is thread and c.is_open]

    def close_all(self, timeout: float = 2.0) -> None:
        """Close every connection still open, each on its own thread: directly when it
        was opened on this thread or its thread has ended; otherwise through
        ``add_callback_threadsafe`` (pika's connections are not thread-safe), waiting up
        to ``timeout`` seconds for a thread that is polling it."""
        current = threading.current_thread()
        for connection, thread in list(self._connections.items()):
            if not connection.is_open:
                continue
            if thread is current or not thread.is_alive():
                with contextlib.suppress(Exception):  # already closing: nothing to do
                    connection.close()
                continue
            closed = threading.Event()

            def close(
                connection: BlockingConnection = connection, closed: threading.Event = closed
            ) -> None:
                try:
                    connection.close()
                finally:
                    closed.set()

            try:
                connection.add_callback_threadsafe(close)
            except Exception:  # closed meanwhile
                continue
            closed.wait(timeout)


def _recording_class(patch: PikaPatch) -> type[BlockingConnection]:
    class PatchedBlockingConnection(BlockingConnection):
        __qualname__ = "BlockingConnection"
        __name__ = "BlockingConnection"

        def __init__(self, parameters: Any = None, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("broker", patch.broker)
            super().__init__(parameters, *args, **kwargs)
            patch._opened(self)

    return PatchedBlockingConnection


def _point_homes() -> None:
    """pika's names point at the innermost active patch's class, or pika's own once
    none is left (so overlapping patches, in threads or left out of order, never
    leave pika pointing at a patch that has ended). Called under PATCHES_LOCK."""
    cls = PATCHES[-1][1] if PATCHES else PikaBlockingConnection
    for home in _HOMES:
        home.BlockingConnection = cls


@contextlib.contextmanager
def patch_pika(broker: Broker) -> Iterator[PikaPatch]:
    """While active, every ``pika.BlockingConnection(...)`` opens an in-process
    connection to ``broker`` (whatever host the parameters name), in every thread.

    Code that did ``from pika import BlockingConnection`` before the patch keeps
    pika's own class; ``import pika`` and ``pika.BlockingConnection(...)`` at call
    time, as the tutorials do, is patched. Patches nest; when they overlap (in
    threads), the innermost active one decides.
    """
    patch = PikaPatch(broker)
    entry = (broker, _recording_class(patch))
    with PATCHES_LOCK:
        PATCHES.append(entry)
        _point_homes()
    try:
        yield patch
    finally:
        with PATCHES_LOCK:
            PATCHES.remove(entry)
            _point_homes()
