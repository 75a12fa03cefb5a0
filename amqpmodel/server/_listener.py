"""The listening sockets: accepting connections, and backing off when the process runs out of files.

asyncio's own accept loop, on EMFILE (too many open files), logs a traceback
for every pending connection of the backlog and schedules as many retries,
each of which fails and multiplies again: at the usual 1 024 descriptors a
few hundred idle sockets filled the log at megabytes a second. This one
stops reading the listening socket, retries after a delay that doubles up to
a second, and logs once when the burst starts and once when accepting
resumes. The kernel keeps further clients in the listen backlog meanwhile.

``raise_open_file_limit`` lifts the soft limit on open files to the hard
one, as RabbitMQ's start script does, so that limit is met later or never.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import Callable

__all__ = ["Listener", "raise_open_file_limit"]

log = logging.getLogger("amqpmodel.server")

_BACKLOG = 128  # RabbitMQ's tcp_listen_options backlog
_BATCH = 64  # connections accepted per readiness event, so one burst cannot hog the loop
_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class Listener:
    """Listening sockets on one host and port; ``accepted`` gets each new connection's socket."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        host: str,
        port: int,
        accepted: Callable[[socket.socket], None],
    ) -> None:
        self.loop = loop
        self._accepted = accepted
        self.sockets = _listen(host, port)
        self._paused: dict[int, asyncio.TimerHandle] = {}
        self._failures = 0  # failed accepts in the current burst (0: none)
        self._burst_started = 0.0
        for sock in self.sockets:
            loop.add_reader(sock.fileno(), self._accept, sock)

    @property
    def port(self) -> int:
        port: int = self.sockets[0].getsockname()[1]
        return port

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(_BATCH):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the client gave up while queued
            except OSError as error:
                if error.errno in _OUT_OF_RESOURCES:
                    self._back_off(sock, error)
                    return
                log.warning("accepting a connection failed: %s", error)
                return
            if self._failures:
                log.warning(
                    "accepting connections again, after %d failed attempts over %.1f s",
                    self._failures,
                    time.monotonic() - self._burst_started,
                )
                self._failures = 0
            conn.setblocking(False)
            self._accepted(conn)

    def _back_off(self, sock: socket.socket, error: OSError) -> None:
        """Stop reading ``sock`` for a while; log the first failure of a burst only."""
        if not self._failures:
            self._burst_started = time.monotonic()
            log.error(
                "cannot accept connections: %s; retrying with back-off "
                "(raise the open files limit, or set max connections)",
                error.strerror or error,
            )
        self._failures += 1
        self.loop.remove_reader(sock.fileno())
        delay = min(_MAX_DELAY, _FIRST_DELAY * 2 ** min(self._failures - 1, 8))
        self._paused[sock.fileno()] = self.loop.call_later(delay, self._resume, sock)

    def _resume(self, sock: socket.socket) -> None:
        self._paused.pop(sock.fileno(), None)
        if sock.fileno() >= 0:
            self.loop.add_reader(sock.fileno(), self._accept, sock)

    def close(self) -> None:
        """Stop listening (connections already accepted stay)."""
        for timer in self._paused.values():
            timer.cancel()
        self._paused.clear()
        for sock in self.sockets:
            if sock.fileno() >= 0:
                self.loop.remove_reader(sock.fileno())
            sock.close()


def _listen(host: str, port: int) -> list[socket.socket]:
    """A listening socket per address of ``host`` (both IPv4 and IPv6 for a name that has both)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    seen: set[tuple[int, object]] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:  # the same free port on every address
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            sock.bind(address)
            sock.listen(_BACKLOG)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def raise_open_file_limit() -> tuple[int, int] | None:
    """Raise the soft limit on open files to the hard limit; (old, new), or None where
    there is no such limit (Windows) or it cannot be changed."""
    try:
        import resource
    except ImportError:
        return None
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return None
    target = hard
    if target == resource.RLIM_INFINITY:
        target = 1 << 20  # an unlimited hard limit is refused as a soft one on some systems
    if soft != resource.RLIM_INFINITY and soft >= target:
        return soft, soft
    for candidate in (target, 1 << 16, 10240):  # macOS caps the soft limit at OPEN_MAX
        if soft != resource.RLIM_INFINITY and candidate <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (candidate, hard))
        except (OSError, ValueError):
            continue
        return soft, candidate
    return soft, soft
