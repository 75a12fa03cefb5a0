"""Making ``amqpmodel://`` known to kombu, and choosing the broker it reaches.

kombu finds a transport by URL scheme in ``kombu.transport.TRANSPORT_ALIASES``
(or by a full ``"module:Class"`` path); there is no discovery of transports
installed by other packages, so the alias is added at import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import kombu.transport

import amqpmodel

__all__ = ["ALIAS", "TRANSPORT_PATH", "register", "use_broker"]

ALIAS = "amqpmodel"
TRANSPORT_PATH = "amqpmodel.kombu:Transport"


def register() -> None:
    """Let kombu (and Celery's ``broker_url``) resolve ``amqpmodel://``. Idempotent."""
    kombu.transport.TRANSPORT_ALIASES[ALIAS] = TRANSPORT_PATH


@contextmanager
def use_broker(broker: amqpmodel.Broker) -> Iterator[amqpmodel.Broker]:
    """Make ``broker`` the one ``amqpmodel://`` reaches for the ``with`` block, then
    put the previous default back."""
    previous = amqpmodel.set_default_broker(broker)
    try:
        yield broker
    finally:
        amqpmodel.set_default_broker(previous)
