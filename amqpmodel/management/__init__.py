"""The management driver: RabbitMQ's management HTTP API (spec 18), its Prometheus
metrics (spec 19), and ``amqpmodel ctl``, rabbitmqctl's commands over that API.

The HTTP servers need the ``management`` extra (aiohttp) and run on the event
loop of the AMQP server (``amqpmodel serve``, ``serve(management_port=0)``)::

    from amqpmodel import Broker
    from amqpmodel.server import serve

    with serve(Broker(), management_port=0) as url:
        url.management_url            # http://127.0.0.1:<port>, user guest/guest

``amqpmodel ctl`` (``amqpmodel.management._ctl``) needs only the standard library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._server import ManagementServer, PrometheusServer

__all__ = ["ManagementServer", "PrometheusServer"]


def __getattr__(name: str) -> Any:
    # imported on first use, so that ``amqpmodel ctl`` works without aiohttp
    if name in __all__:
        from . import _server

        return getattr(_server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
