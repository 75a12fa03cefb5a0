"""The process-wide default broker: what a drop-in reaches when no broker is named.

``amqpmodel.pika.BlockingConnection()`` without ``broker=``, and kombu's
``amqpmodel://`` URL, both stand for "the broker of this process", as
``amqp://localhost`` stands for the RabbitMQ on this machine. A test swaps in
its own with ``set_default_broker`` (the pytest fixtures do it for you) and
puts the previous one back afterwards.
"""

from __future__ import annotations

import threading

from ._broker import Broker

__all__ = ["default_broker", "set_default_broker"]

_lock = threading.Lock()
_default: Broker | None = None


def default_broker() -> Broker:
    """The process-wide default ``Broker``, created (in memory, real clock) on first use."""
    global _default
    with _lock:
        if _default is None:
            _default = Broker()
        return _default


def set_default_broker(broker: Broker | None) -> Broker | None:
    """Make ``broker`` the process-wide default (None: a fresh one on next use);
    return the previous default, so a caller can restore it."""
    global _default
    with _lock:
        previous, _default = _default, broker
        return previous
