"""What the broker holds in messages: the accounting the memory alarm decides by (spec 21.1).

RabbitMQ compares the Erlang VM's memory with its high watermark. amqpmodel
compares its own count of message bytes instead, so that the alarm rises at
the same point on every platform and in every test: the bodies held by
queues (ready and unacknowledged), by streams' logs and by delayed
exchanges, plus ``MESSAGE_OVERHEAD`` bytes per message for the broker's own
bookkeeping of it (its message object and queue slot: about 140-200 bytes
measured with ``tracemalloc`` on CPython 3.11, more with properties).

``measure`` costs O(queues + channels + exchanges), never O(messages): the
queues keep their ready bytes as counters, and where only a count is kept
(a channel's unacknowledged deliveries, a delayed exchange's held
messages) up to ``_EXACT`` bodies are summed and a larger collection is
estimated from its first ``_SAMPLE``. A body that several queues hold
(a fanout) is counted once per queue: knowing it is the same object would
take work per message.

This module also reads the limits as RabbitMQ's settings write them:
``vm_memory_high_watermark`` relative (a fraction of the machine's memory)
or absolute (bytes, with an information unit: ``200MB``, ``1GiB``), and
``disk_free_limit`` likewise.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._broker import Broker

__all__ = [
    "MESSAGE_OVERHEAD",
    "MemoryUse",
    "Watermark",
    "measure",
    "parse_information_unit",
    "parse_watermark",
    "total_memory",
]

MESSAGE_OVERHEAD = 200  # bytes of bookkeeping counted per message besides its body
_EXACT = 4096  # collections up to this size are summed body by body
_SAMPLE = 1024  # larger ones: the mean of this many first bodies, times their count
_UNKNOWN_TOTAL_MEMORY = 1 << 30  # RabbitMQ assumes 1 GiB when it cannot tell


@attrs.frozen
class MemoryUse:
    """The broker's message bytes at one moment (``Broker.memory_use()``).

    ``ready``, ``unacknowledged``, ``streams`` and ``delayed`` are body bytes;
    ``messages`` is how many messages they are; ``total`` adds
    ``MESSAGE_OVERHEAD`` per message and is what the high watermark is
    compared with (``mem_used`` in the management API).
    """

    ready: int = 0
    unacknowledged: int = 0
    streams: int = 0
    delayed: int = 0
    messages: int = 0

    @property
    def body_bytes(self) -> int:
        return self.ready + self.unacknowledged + self.streams + self.delayed

    @property
    def total(self) -> int:
        return self.body_bytes + self.messages * MESSAGE_OVERHEAD


def _bodies(items: Iterable[Any], count: int, body_of: Callable[[Any], bytes]) -> int:
    """Body bytes of ``count`` items: exact up to ``_EXACT``, else estimated from a sample."""
    if count <= _EXACT:
        return sum(len(body_of(item)) for item in items)
    sample = [len(body_of(item)) for item in itertools.islice(items, _SAMPLE)]
    return sum(sample) * count // len(sample) if sample else 0


def _held_body(held: Any) -> bytes:
    body: bytes = held[0].body
    return body


def _unacked(records: dict[int, Any]) -> tuple[int, int]:
    """(body bytes, messages) of a channel's unacknowledged deliveries; a stream's
    stay in its log and are counted there."""
    count = len(records)
    if count <= _EXACT:
        own = [entry.body for entry, queue, _ in records.values() if queue.queue_type != "stream"]
        return sum(map(len, own)), len(own)
    sample = [
        entry.body
        for entry, queue, _ in itertools.islice(records.values(), _SAMPLE)
        if queue.queue_type != "stream"
    ]
    share = len(sample) / _SAMPLE
    return sum(map(len, sample)) * count // _SAMPLE, int(count * share)


def measure(broker: Broker) -> MemoryUse:
    """The message bytes ``broker`` holds now (call under the broker lock)."""
    ready = streams = delayed = unacked = messages = 0
    for vhost in broker.vhosts.values():
        for queue in vhost.queues.values():
            if queue.queue_type == "stream":
                log: Any = queue._ready
                streams += log.total_bytes
                messages += log.count
                continue
            ready += queue._ready_bytes
            messages += queue._ready.count
            held = queue._messages_held()  # a quorum queue's pending dead-letters
            if held:
                pending: Any = getattr(queue, "_dead_letter_held", ())
                ready += _bodies(pending, held, _held_body)
                messages += held
        for exchange in vhost.exchanges.values():
            router: Any = exchange._router
            buckets: Any = getattr(router, "_buckets", None)  # x-delayed-message holds them
            count = getattr(router, "messages_held", 0) if buckets is not None else 0
            if count:
                held_messages = itertools.chain.from_iterable(buckets.values())
                delayed += _bodies(held_messages, count, _held_body)
                messages += count
    for connection in broker._connections:
        for channel in connection._channels.values():
            if channel._unacked:
                size, count = _unacked(channel._unacked)
                unacked += size
                messages += count
    return MemoryUse(ready, unacked, streams, delayed, messages)


# ----------------------------------------------------------------- limits as RabbitMQ writes them


def total_memory() -> int:
    """The machine's memory in bytes (RabbitMQ's ``total_memory``); 1 GiB when unknown."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        if pages > 0 and size > 0:
            return int(pages * size)
    except (ValueError, OSError, AttributeError):
        pass
    if sys.platform == "win32":  # pragma: no cover - not run on the Linux CI
        import ctypes

        class _Status(ctypes.Structure):
            _fields_ = [
                ("length", ctypes.c_ulong),
                ("load", ctypes.c_ulong),
                ("total", ctypes.c_ulonglong),
                ("available", ctypes.c_ulonglong),
                ("page_total", ctypes.c_ulonglong),
                ("page_available", ctypes.c_ulonglong),
                ("virtual_total", ctypes.c_ulonglong),
                ("virtual_available", ctypes.c_ulonglong),
                ("extended", ctypes.c_ulonglong),
            ]

        status = _Status()
        status.length = ctypes.sizeof(_Status)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return int(status.total)
    return _UNKNOWN_TOTAL_MEMORY


# RabbitMQ's information units (3.13+: single letters and xB are powers of 10)
_UNITS = {
    "": 1,
    "B": 1,
    "k": 1000,
    "K": 1000,
    "kB": 1000,
    "KB": 1000,
    "kiB": 1024,
    "KiB": 1024,
    "M": 1000**2,
    "MB": 1000**2,
    "MiB": 1024**2,
    "G": 1000**3,
    "GB": 1000**3,
    "GiB": 1024**3,
    "T": 1000**4,
    "TB": 1000**4,
    "TiB": 1024**4,
}
_SIZE = re.compile(r"\s*([0-9]+)\s*([A-Za-z]*)\s*\Z")


def parse_information_unit(text: str) -> int:
    """``"200MB"`` -> 200000000, ``"1GiB"`` -> 1073741824, ``"5000"`` -> 5000 bytes.

    A unit RabbitMQ does not know, or no number, raises ``ValueError``.
    """
    match = _SIZE.match(text)
    if match is None or match.group(2) not in _UNITS:
        raise ValueError(
            f"{text!r} is not a size: a whole number of bytes, or one with a unit "
            f"({', '.join(u for u in _UNITS if u)})"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


@attrs.frozen
class Watermark:
    """A limit as RabbitMQ configures it: ``relative`` to the machine's memory (a
    fraction, or a multiple for the disk limit) or ``absolute`` bytes."""

    relative: float | None = None
    absolute: int | None = None

    def bytes(self, memory: int) -> int:
        """The limit in bytes on a machine with ``memory`` bytes of memory."""
        if self.absolute is not None:
            return self.absolute
        assert self.relative is not None
        return int(memory * self.relative)

    def __str__(self) -> str:
        return str(self.relative) if self.absolute is None else f"{self.absolute} bytes"


def parse_watermark(value: float | int | str, *, cap: float | None = None) -> Watermark:
    """A float is relative (``0.4``), an int absolute bytes, a string either: a
    decimal fraction (``"0.4"``, also ``"0"`` and ``"1"``) or a size (``"200MB"``,
    ``"1073741824"``). ``cap`` bounds a relative value (RabbitMQ takes a memory
    watermark above 1.0 as 1.0). Negative values raise ``ValueError``."""
    if isinstance(value, bool):
        raise TypeError("a watermark is a number or a size, not a bool")
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"[0-9]*\.[0-9]+|[0-9]+\.|[01]", text):
            value = float(text)
        else:
            value = parse_information_unit(text)
    if isinstance(value, float):
        if not value >= 0.0:  # also NaN
            raise ValueError(f"a relative watermark must be 0 or more, not {value}")
        return Watermark(relative=min(value, cap) if cap is not None else value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"an absolute watermark must be 0 or more bytes, not {value}")
        return Watermark(absolute=value)
    raise TypeError(f"a watermark is a float, an int or a string, not {type(value).__name__}")
