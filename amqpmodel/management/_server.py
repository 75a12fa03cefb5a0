"""The HTTP servers: the management API (with ``/metrics``) on RabbitMQ's port 15672 and
the Prometheus endpoint alone on 15692, both aiohttp applications on the event
loop of the AMQP server they sit beside (or any running loop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from amqpmodel import Broker

from . import (
    _prometheus,
    _routes_access,
    _routes_bindings,
    _routes_clients,
    _routes_definitions,
    _routes_exchanges,
    _routes_overview,
    _routes_policies,
    _routes_queues,
    _routes_web,
)
from ._auth import authenticate, check_vhost, require
from ._cli_options import OPTIONAL_PORTS, port_taken
from ._context import Context
from ._handlers import CONTEXT, USER_KEY, Handler, level_of
from ._http import ApiError, json_response, not_found

if TYPE_CHECKING:
    from amqpmodel.server import Server

__all__ = ["DEFAULT_SAMPLE_INTERVAL", "ManagementServer", "PrometheusServer"]

log = logging.getLogger("amqpmodel.management")

DEFAULT_SAMPLE_INTERVAL = 5.0  # seconds, RabbitMQ's collect_statistics_interval

_API_ROUTES = (
    _routes_overview.ROUTES
    + _routes_clients.ROUTES
    + _routes_exchanges.ROUTES
    + _routes_queues.ROUTES
    + _routes_bindings.ROUTES
    + _routes_access.ROUTES
    + _routes_policies.ROUTES
    + _routes_definitions.ROUTES
)


@web.middleware
async def _errors_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authentication and access level (spec 18.1-18.3), then RabbitMQ's error bodies
    (18.4, 18.5) for whatever the handler refused."""
    try:
        route_handler = request.match_info.handler
        needed = level_of(route_handler)
        if needed != "none" and request.path.startswith(("/api/", "/amqpmodel/")):
            ctx = request.app[CONTEXT]
            caller = authenticate(request, ctx.broker, ctx.loopback_users)
            request[USER_KEY] = caller
            require(caller, needed)
            vhost = request.match_info.get("vhost")
            if vhost is not None:
                check_vhost(ctx.broker, caller, vhost, needed)  # spec 18.2, 18.3
        return await handler(request)
    except ApiError as error:
        response = error.response()
        if request.headers.get("X-Requested-With"):
            # a page's script: no browser login dialog, the page asks itself
            response.headers.pop("WWW-Authenticate", None)
        return response
    except web.HTTPNotFound:
        return not_found().response()
    except web.HTTPMethodNotAllowed as error:  # no body, as RabbitMQ's
        return web.Response(status=405, headers={"Allow": ",".join(sorted(error.allowed_methods))})
    except web.HTTPException:
        raise
    except Exception:  # a bug of ours: a 500, never a crash of the server
        log.exception("management API: internal error on %s %s", request.method, request.path)
        return json_response(
            {"error": "internal_server_error", "reason": "internal error, see the log"}, status=500
        )


class _Site:
    """One aiohttp application on a TCP port of the running loop."""

    def __init__(self, app: web.Application, host: str, port: int, *, management: bool) -> None:
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        self.host = host
        self.port = port
        self.listening = False
        self._management = management  # which of serve's two it is, for the warning

    async def start(self) -> None:
        """Listen; a default port of ``amqpmodel serve`` that another process took since
        serve probed it is a warning and no listener (``listening`` stays False)."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            if (self.host, self.port) not in OPTIONAL_PORTS:
                raise
            port_taken(self.port, error, management=self._management)
            return
        except BaseException:
            await self._runner.cleanup()
            raise
        self.listening = True
        for address in self._runner.addresses:
            if isinstance(address, tuple):
                self.port = int(address[1])
                break

    async def stop(self) -> None:
        if self.listening:  # a site that did not start has been cleaned up already
            self.listening = False
            await self._runner.cleanup()


def _add_routes(app: web.Application, routes: list[tuple[str, str, Any]]) -> None:
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)


class ManagementServer:
    """RabbitMQ's management HTTP API for a ``Broker`` (spec 18), plus ``/metrics``.

    ``amqp`` is the AMQP server beside it, for what only the wire knows of a
    connection (peer, frame_max, heartbeat); without one the API lists
    in-process connections only. Message rates are sampled every
    ``sample_interval`` seconds of real time (read against the broker's clock).
    """

    def __init__(
        self,
        broker: Broker,
        host: str = "127.0.0.1",
        port: int = 15672,
        *,
        amqp: Server | None = None,
        loopback_users: tuple[str, ...] | None = None,
        sample_interval: float = DEFAULT_SAMPLE_INTERVAL,
    ) -> None:
        if loopback_users is None:
            loopback_users = amqp.settings.loopback_users if amqp is not None else ("guest",)
        self.context = Context(broker, amqp=amqp, loopback_users=loopback_users, host=host)
        self.sample_interval = sample_interval
        app = web.Application(middlewares=[_errors_and_auth], client_max_size=64 * 1024 * 1024)
        app[CONTEXT] = self.context
        _add_routes(app, _API_ROUTES)
        _add_routes(app, _prometheus.ROUTES)
        _add_routes(app, _routes_web.ROUTES)
        self._site = _Site(app, host, port, management=True)
        self._sampler: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self._site.port

    @property
    def url(self) -> str:
        host = self._site.host if ":" not in self._site.host else f"[{self._site.host}]"
        return f"http://{host}:{self.port}"

    @property
    def listening(self) -> bool:
        """False when a default port was taken at the start (serve went on without it)."""
        return self._site.listening

    async def start(self) -> None:
        await self._site.start()
        if not self._site.listening:
            return
        ctx = self.context
        if ctx.amqp is not None:
            ctx.listeners.append(
                {
                    "protocol": "amqp",
                    "ip_address": ctx.amqp.host,
                    "port": ctx.amqp.port,
                    "socket_opts": {},
                }
            )
        ctx.listeners.append(
            {
                "protocol": "http",
                "ip_address": self._site.host,
                "port": self.port,
                "socket_opts": {},
            }
        )
        ctx.rates.sample()
        self._sampler = asyncio.get_running_loop().create_task(self._sample_forever())
        log.info("Management plugin: HTTP (non-TLS) listener started on port %s", self.port)

    def add_listener(self, protocol: str, host: str, port: int) -> None:
        """Name another listener in the overview and the health checks (Prometheus's)."""
        self.context.listeners.append(
            {"protocol": protocol, "ip_address": host, "port": port, "socket_opts": {}}
        )

    async def _sample_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sample_interval)
            try:
                self.context.rates.sample()
            except Exception:  # never let the sampler die with the rates
                log.exception("management API: sampling message rates failed")

    async def stop(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        await self._site.stop()


class PrometheusServer:
    """The rabbitmq_prometheus endpoints alone, without authentication (spec 19.1)."""

    def __init__(
        self,
        broker: Broker,
        host: str = "127.0.0.1",
        port: int = 15692,
        *,
        amqp: Server | None = None,
        context: Context | None = None,
    ) -> None:
        self.context = context if context is not None else Context(broker, amqp=amqp, host=host)
        app = web.Application(middlewares=[_errors_and_auth])
        app[CONTEXT] = self.context
        _add_routes(app, _prometheus.ROUTES)
        self._site = _Site(app, host, port, management=False)

    @property
    def port(self) -> int:
        return self._site.port

    @property
    def url(self) -> str:
        host = self._site.host if ":" not in self._site.host else f"[{self._site.host}]"
        return f"http://{host}:{self.port}"

    @property
    def listening(self) -> bool:
        return self._site.listening

    async def start(self) -> None:
        await self._site.start()
        if self._site.listening:
            log.info("Prometheus metrics: HTTP (non-TLS) listener started on port %s", self.port)

    async def stop(self) -> None:
        await self._site.stop()
