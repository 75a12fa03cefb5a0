"""Helpers for test authors: pytest fixtures and checks that no message was lost.

Installed as a pytest plugin (entry point ``amqpmodel``), so these fixtures are
available in any project that has amqpmodel installed:

- ``amqp_broker``: a fresh ``Broker`` on a ``VirtualClock``, behaving as RabbitMQ
  4.2 unless the test is marked ``@pytest.mark.rabbitmq_version("3.13")`` (or
  "4.0", "4.3", a patch release such as "4.2.5"; spec 0.x);
- ``amqp_clock``: that clock (``amqp_clock.advance(seconds)``);
- ``amqp_connection`` and ``amqp_channel``: an open connection and channel;
- ``amqp_url``: the URL of an AMQP server (``amqpmodel.server.serve``) for the
  test's ``amqp_broker``, for aio-pika, pika, kombu and other socket clients;
- ``amqp_pika``: ``patch_pika(amqp_broker)`` for the test, so unmodified code's
  ``pika.BlockingConnection(...)`` reaches the test's broker in process (needs
  pika and the server extra);
- ``amqp_kombu``: a kombu ``Connection("amqpmodel://")`` on the test's
  ``amqp_broker``, which is the process's default broker while the test runs,
  so Celery's ``broker_url = "amqpmodel://"`` reaches it too (needs kombu).

Loading the plugin imports amqpmodel, which makes ``amqpmodel://`` known to
kombu (kombu has no discovery of other packages' transports), so a test suite
needs no ``import amqpmodel.kombu`` first.

``amqp_url`` starts one server per test, on the test's own ``amqp_broker``:
what a socket client does is then visible in ``amqp_broker.queues``, and
``amqp_clock.advance`` drives its TTLs. A server costs about a millisecond
(measured: 0.6 ms to start, 0.4 ms to stop, median of 30), so a suite of
thousands of such tests spends seconds on it. A session-scoped server with a
fresh virtual host per test would save that, but its broker would be shared
by every test, so ``amqp_broker`` could not be the test's own broker (its
clock, users and accounting would mix with the other tests'). Without the
``server`` extra (pamqp) a test that asks for ``amqp_url`` is skipped, saying
so.

After each test that used ``amqp_broker``, every queue's message accounting
is checked (``assert_accounted``), so a test cannot silently lose a message.

The strict check (opt-in: ``@pytest.mark.amqp_strict``, or ``amqp_strict =
true`` in the ini file for every test, which ``@pytest.mark.amqp_strict(False)``
turns off for one) also fails a test, when its body returns, on what RabbitMQ
would let pass in silence (``assert_strict``):

- deliveries left unacknowledged on a connection still open (a handler that
  forgot its ack; closing the channel would have requeued them);
- publishes that reached no queue and whose publisher was not told: not
  mandatory, or mandatory on a channel with neither a return callback nor
  confirms; a mandatory message returned to a listening publisher is fine,
  since the publisher handled it. Dead letters that reached no queue (or
  whose dead-letter exchange is missing) count too;
- messages dropped by a length limit (drop-head) or refused by one
  (reject-publish without a dead-letter exchange).

Each offender is named (exchange, routing key, a body preview, message id)
with where it went. What the check cannot see: whether a client over a
socket (or the pika drop-in, which is pika over the server) listens for the
returns the server forwards, since the server always takes them; a pika
application without a return callback or confirms drops them unseen. The broker records these only in strict tests (the last
100 in full, all of them counted); other tests pay nothing for it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._broker import Broker
from ._channel import Channel
from ._clock import VirtualClock
from ._connection import Connection
from ._losses import LossLog, describe_message
from ._methods import Deliver
from ._version import DEFAULT_RABBITMQ_VERSION

if TYPE_CHECKING:
    from .pika import PikaPatch

__all__ = [
    "assert_accounted",
    "assert_strict",
    "crash",
    "patch_pika",
    "record_losses",
    "strict_findings",
]

_MARKER = "amqp_strict"
_VERSION_MARKER = "rabbitmq_version"  # @pytest.mark.rabbitmq_version("3.13")
_SHOWN = 20  # offenders listed in a failure message


def crash(broker: Broker) -> None:
    """Stop ``broker`` as a killed process would (spec 22.38): with a data dir, whatever
    was not committed yet is lost, and a ``Broker`` opened on the same directory
    recovers as after a crash (every message redelivered, spec 22.18). Its
    connections are gone; the broker cannot be used any more."""
    if broker._store is not None:
        broker._store.crash()
    with broker._lock:
        broker._closed = True
        for connection in list(broker._connections):
            connection._close_by_broker(320, "CONNECTION_FORCED - broker crashed")


def assert_accounted(broker: Broker) -> None:
    """Assert, for every queue of every vhost, that every message routed to it is
    acked, ready, unacked, dead-lettered or dropped for a named reason; and, for every
    exchange that holds messages (x-delayed-message), that every message it took is
    still held, released when due, or dropped with the exchange."""
    for vhost in broker.vhosts.values():
        for queue in vhost.queues.values():
            queue._check()
        for exchange in vhost.exchanges.values():
            exchange._check()


def record_losses(broker: Broker, limit: int = 100) -> None:
    """Make ``broker`` remember the messages it drops in silence (unroutable,
    length limits), the last ``limit`` in full, for ``assert_strict``."""
    with broker._lock:
        if broker._losses is None:
            broker._losses = LossLog(limit)


def strict_findings(broker: Broker) -> list[str]:
    """One line per message the strict check objects to (see the module docstring)."""
    findings: list[str] = []
    with broker._lock:
        for connection in broker._connections:
            if connection._closed is not None:
                continue
            vhost = connection.vhost.name
            waiting = {
                (id(event[1]), event[2].delivery_tag)
                for events in (connection._batch, connection._pending)
                for event in events or ()
                if isinstance(event[2], Deliver)
            }
            for number, channel in connection._channels.items():
                if channel._closed is not None:
                    continue
                for tag, (entry, queue, consumer) in channel._unacked.items():
                    to = f"consumer {consumer.tag!r}" if consumer is not None else "basic.get"
                    fate = (
                        "its callback has not run (drain: broker.run_until_idle())"
                        if (id(channel), tag) in waiting
                        else "never acked, nacked or rejected"
                    )
                    findings.append(
                        "unacknowledged: "
                        + describe_message(
                            vhost,
                            entry.exchange,
                            entry.routing_key,
                            entry.body,
                            entry.properties.message_id,
                            f"delivered from queue {queue.name!r} to {to} (delivery tag {tag} "
                            f"on channel {number}), {fate}",
                        )
                    )
        losses = broker._losses
        if losses is not None:
            findings += [f"{loss.reason}: {loss.describe()}" for loss in losses.recent]
            unnamed = losses.total - len(losses.recent)
            if unnamed:
                findings.append(f"... and {unnamed} earlier loss(es) not kept in full")
        else:
            findings += _counted_losses(broker)
    return findings


def _counted_losses(broker: Broker) -> list[str]:
    # no log (record_losses was not called): the counters say how many, not which;
    # mandatory returns are among "unroutable" here
    found = []
    for vhost in broker.vhosts.values():
        for reason in (
            "unroutable",
            "dead_letter_unroutable",
            "dead_letter_exchange_missing",
            "delayed_unroutable",
        ):
            if vhost.dropped[reason]:
                found.append(
                    f"{reason}: {vhost.dropped[reason]} message(s) in vhost {vhost.name!r}"
                )
        for queue in vhost.queues.values():
            for reason in ("maxlen", "overflow"):
                if queue.stats.dropped[reason]:
                    found.append(
                        f"{reason}: {queue.stats.dropped[reason]} message(s) "
                        f"dropped by queue {queue.name!r} in vhost {vhost.name!r}"
                    )
    if found:
        found.append("(call amqpmodel.testing.record_losses(broker) first to name them)")
    return found


def assert_strict(broker: Broker) -> None:
    """Fail (``AssertionError``) naming every message left unacknowledged, published
    unroutably or dropped by a length limit (see the module docstring)."""
    findings = strict_findings(broker)
    if findings:
        raise AssertionError(_report(findings))


def _report(findings: list[str]) -> str:
    shown = findings[:_SHOWN]
    more = len(findings) - len(shown)
    lines = [f"amqp_strict: {len(findings)} message problem(s) at the end of the test:"]
    lines += [f"  - {line}" for line in shown]
    if more:
        lines.append(f"  ... and {more} more")
    return "\n".join(lines)


# ----------------------------------------------------------------- the pytest plugin


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        _MARKER,
        "fail every test that uses amqp_broker on unacked deliveries, unroutable "
        "publishes and length-limit drops (amqpmodel.testing)",
        type="bool",
        default=False,
    )


def patch_pika(broker: Broker) -> contextlib.AbstractContextManager[PikaPatch]:
    """While active, every ``pika.BlockingConnection(...)`` in unmodified code opens
    an in-process connection to ``broker`` (see ``amqpmodel.pika.patch_pika``)."""
    from .pika import patch_pika as patch

    return patch(broker)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(enabled=True): fail the test on unacked deliveries, unroutable "
        "publishes and length-limit drops of its amqp_broker (amqpmodel.testing)",
    )
    config.addinivalue_line(
        "markers",
        f'{_VERSION_MARKER}(version): the test\'s amqp_broker behaves as that RabbitMQ, '
        f'"3.13", "4.0", "4.2" (the default) or "4.3", or a patch release such as '
        '"4.2.5" (amqpmodel.testing)',
    )


_WIRE_SETTLE_SECONDS = 1.0


def _is_strict(node: pytest.Item) -> bool:
    marker = node.get_closest_marker(_MARKER)
    if marker is not None:
        return bool(marker.args[0] if marker.args else marker.kwargs.get("enabled", True))
    return bool(node.config.getini(_MARKER))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    # after the test body, before any fixture closes a connection (which would
    # requeue its unacked deliveries); a test that failed already is left alone
    result = yield
    funcargs = getattr(item, "funcargs", {})
    broker = funcargs.get("amqp_broker")
    if isinstance(broker, Broker) and _is_strict(item):
        findings = strict_findings(broker)
        if findings and "amqp_url" in funcargs:
            # a socket client's last ack may still be on its way to the server thread
            deadline = time.monotonic() + _WIRE_SETTLE_SECONDS
            while findings and time.monotonic() < deadline:
                time.sleep(0.005)
                findings = strict_findings(broker)
        if findings:
            pytest.fail(_report(findings), pytrace=False)
    return result


def _rabbitmq_version(node: Any) -> str:
    marker = node.get_closest_marker(_VERSION_MARKER) if isinstance(node, pytest.Item) else None
    if marker is None:
        return DEFAULT_RABBITMQ_VERSION
    version = marker.args[0] if marker.args else marker.kwargs.get("version")
    if not isinstance(version, str):
        raise TypeError(
            f'@pytest.mark.{_VERSION_MARKER}("4.2"): a version string, not {version!r}'
        )
    return version


@pytest.fixture
def amqp_broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    broker = Broker(clock=VirtualClock(), rabbitmq_version=_rabbitmq_version(request.node))
    if isinstance(request.node, pytest.Item) and _is_strict(request.node):
        record_losses(broker)
    yield broker
    assert_accounted(broker)


@pytest.fixture
def amqp_clock(amqp_broker: Broker) -> VirtualClock:
    clock = amqp_broker.clock
    assert isinstance(clock, VirtualClock)
    return clock


@pytest.fixture
def amqp_connection(amqp_broker: Broker) -> Iterator[Connection]:
    connection = amqp_broker.connect()
    yield connection
    connection.close()


@pytest.fixture
def amqp_channel(amqp_connection: Connection) -> Channel:
    return amqp_connection.channel()


@pytest.fixture
def amqp_url(amqp_broker: Broker) -> Iterator[str]:
    try:
        from .server import serve
    except ImportError as error:
        pytest.skip(
            f"amqp_url needs amqpmodel's server extra (pip install 'amqpmodel[server]'): {error}"
        )
    # a client the test left connected is not waited for at the end (it would cost
    # half a second a test): its socket is closed right after connection.close
    with serve(amqp_broker, shutdown_grace=0.05) as url:
        yield url


@pytest.fixture
def amqp_pika(amqp_broker: Broker) -> Iterator[PikaPatch]:
    try:
        from .pika import patch_pika as patch
    except ImportError as error:
        pytest.skip(
            f"amqp_pika needs pika and the server extra (pip install 'amqpmodel[pika]'): {error}"
        )
    with patch(amqp_broker) as patched:
        yield patched
        patched.close_all()  # as the process's exit would close them, each on its thread


@pytest.fixture
def amqp_kombu(amqp_broker: Broker) -> Iterator[Any]:
    try:
        import kombu

        from .kombu import use_broker
    except ImportError as error:
        pytest.skip(f"amqp_kombu needs kombu (pip install kombu): {error}")
    with use_broker(amqp_broker):
        connection: Any = kombu.Connection("amqpmodel://")  # type: ignore[attr-defined,no-untyped-call]
        try:
            yield connection
        finally:
            connection.release()
