"""``amqpmodel serve``'s HTTP ports: a default port that another process takes between
serve's probe and its bind (two serves started at once) is the same warning as one
taken before, never a failed start; an explicit port that cannot be had still fails."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from amqpmodel import Broker
from amqpmodel.management import ManagementServer, PrometheusServer, _cli_options

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


async def _start_and_stop(server: ManagementServer | PrometheusServer) -> bool:
    await server.start()
    listening = server.listening
    await server.stop()
    return listening


def test_a_default_port_taken_after_the_probe_is_a_warning(
    held_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    _cli_options.OPTIONAL_PORTS.add(("127.0.0.1", held_port))
    try:
        broker = Broker()
        assert not asyncio.run(_start_and_stop(ManagementServer(broker, "127.0.0.1", held_port)))
        assert not asyncio.run(_start_and_stop(PrometheusServer(broker, "127.0.0.1", held_port)))
    finally:
        _cli_options.OPTIONAL_PORTS.discard(("127.0.0.1", held_port))
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"amqpmodel serve: port {held_port} is taken (")
    assert err[0].endswith("): no management API (choose another with --management-port)")
    assert err[1].endswith("): no Prometheus metrics (choose another with --prometheus-port)")

    class Server:  # what announce() reads: a management server that is not listening
        management = ManagementServer(broker, "127.0.0.1", held_port)
        prometheus = None

    _cli_options.announce(Server())
    assert capsys.readouterr().out == ""


def test_an_explicit_port_that_cannot_be_bound_fails_the_start(held_port: int) -> None:
    with pytest.raises(OSError):
        asyncio.run(_start_and_stop(ManagementServer(Broker(), "127.0.0.1", held_port)))


def test_serve_probes_default_ports_and_marks_them_optional() -> None:
    import argparse

    args = argparse.Namespace(
        no_management=False, management_port=None, prometheus_port=0, host="127.0.0.1"
    )
    try:
        management, prometheus = _cli_options.http_ports(args) or (None, None)
        if management is not None:  # 15672 was free (no RabbitMQ here)
            assert ("127.0.0.1", management) in _cli_options.OPTIONAL_PORTS
        assert prometheus == 0 and ("127.0.0.1", 0) not in _cli_options.OPTIONAL_PORTS
    finally:
        _cli_options.OPTIONAL_PORTS.clear()
