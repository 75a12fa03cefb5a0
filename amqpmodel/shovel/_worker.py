"""One dynamic shovel's thread: connect, move messages, fail, wait, start again.

As RabbitMQ's ``rabbit_shovel_worker`` under its supervisor (spec 20.5,
20.6, 20.8): a run reports "starting", connects the source then the
destination, declares what the definition says and reports "running"; any
failure closes both ends (the source's unacked messages go back to its
queue, redelivered) and reports "terminated" with the reason. A shovel whose
``reconnect-delay`` is a whole number of seconds above 0 then starts again:
at once after its first failure, after the delay after the next, and so on
alternately (``supervisor2``'s delayed restart with at most one restart in
its period). With ``src-delete-after`` met it closes and clears its own
parameter, which removes it.

The thread waits for work in the destination's I/O (pika), woken by the
source connection's wakeup when deliveries arrive, or, with a destination in
this broker, on the source connection itself.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

import attrs

from amqpmodel import Broker, ParameterError

from ._definition import ShovelDefinition
from ._destination import Destination, connect_destination
from ._forward import forwarded_properties, publish_target
from ._source import Delivery, LocalSource, ShovelFailure

__all__ = ["Metrics", "ShovelWorker"]

log = logging.getLogger("amqpmodel.shovel")

_IDLE_WAIT = 1.0  # seconds between checks for a stop when nothing arrives (wakeups end it sooner)
_STOP_JOIN = 10.0  # seconds a stop waits for the thread before giving up on it


@attrs.define
class Metrics:
    """The counters a running shovel reports (spec 20.8; reset by each start, as RabbitMQ's)."""

    remaining: int | str = "unlimited"
    remaining_unacked: int | str = "unlimited"
    pending: int = 0
    forwarded: int = 0


class _AutoDelete(Exception):
    """``src-delete-after`` is met: the shovel closes and removes itself."""


Report = Callable[["ShovelWorker", str, dict[str, Any]], None]


class ShovelWorker:
    """The thread running one shovel definition until it is stopped or deletes itself.

    ``report(worker, state, details)`` publishes its status; ``is_current(worker)`` says
    whether its parameter still asks for it (checked before each start, as RabbitMQ's
    worker checks that its parameter exists).
    """

    def __init__(
        self,
        broker: Broker,
        definition: ShovelDefinition,
        report: Report,
        is_current: Callable[[ShovelWorker], bool],
        predecessor: ShovelWorker | None = None,
    ) -> None:
        self.broker = broker
        self.definition = definition
        self.metrics = Metrics()
        self.report = report
        self.is_current = is_current
        self.predecessor = predecessor
        self.stopping = threading.Event()
        self.source: LocalSource | None = None
        self.destination: Destination | None = None
        self.thread = threading.Thread(
            target=self.run,
            name=f"amqpmodel-shovel {definition.vhost} {definition.name}",
            daemon=True,
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self, wait: bool = True) -> None:
        """Ask the thread to stop (any thread); ``wait``: until it has (never on itself)."""
        self.stopping.set()
        for end in (self.source, self.destination):
            if end is not None:
                end.wake()
        if wait and self.thread.ident is not None and threading.current_thread() is not self.thread:
            self.thread.join(_STOP_JOIN)
            if self.thread.is_alive():
                log.warning(
                    "shovel '%s' in vhost '%s' did not stop within %ss",
                    self.definition.name,
                    self.definition.vhost,
                    _STOP_JOIN,
                )

    # ----------------------------------------------------------------- lifecycle

    def run(self) -> None:
        if self.predecessor is not None:  # a changed definition: the old run stops first
            self.predecessor.stop()
            self.predecessor = None
        delay_next = False
        definition = self.definition
        while not self.stopping.is_set() and self.is_current(self):
            self.report(self, "starting", {})
            try:
                self.session()
            except _AutoDelete:
                self.close_ends()
                log.info(
                    "Shovel '%s' in virtual host '%s' is stopping (it was configured to "
                    "autodelete and transfer is completed)",
                    definition.name,
                    definition.vhost,
                )
                try:
                    self.broker.clear_parameter("shovel", definition.name, definition.vhost)
                except ParameterError:
                    pass  # cleared meanwhile
                return
            except ShovelFailure as failure:
                reason = failure.reason
            except Exception as error:  # a bug or an unexpected client error: still restart
                log.exception("shovel '%s' failed", definition.name)
                reason = f"{type(error).__name__}: {error}"
            else:
                reason = "shutdown"
            self.close_ends()
            if self.stopping.is_set():
                return
            log.error(
                "Shovel '%s' in virtual host '%s' is stopping, reason: %s",
                definition.name,
                definition.vhost,
                reason,
            )
            self.report(self, "terminated", {"reason": reason})
            if not definition.restarts:
                return  # reconnect-delay 0 (or not a whole number): stays terminated
            if delay_next and self.stopping.wait(definition.reconnect_delay):
                return
            delay_next = not delay_next

    def close_ends(self) -> None:
        source, destination = self.source, self.destination
        self.source = self.destination = None
        if source is not None:
            source.close()
        if destination is not None:
            destination.close()

    def session(self) -> None:
        """One run, from connecting until a failure, a stop or delete-after."""
        definition = self.definition
        source = self.connect_source()
        destination = connect_destination(self.broker, definition, definition.dest_uris)
        self.destination = destination
        if self.stopping.is_set():
            return
        no_ack = definition.ack_mode == "no-ack"
        remaining = source.start(no_ack)
        if remaining == 0:
            raise _AutoDelete
        self.metrics = Metrics(remaining=remaining, remaining_unacked=remaining)
        details: dict[str, Any] = {
            "src_uri": source.uri.without_credentials,
            "src_protocol": "amqp091",
            "dest_protocol": "amqp091",
            "dest_uri": destination.uri.without_credentials,
            **definition.source_endpoint,
            **definition.dest_endpoint,
        }
        self.report(self, "running", details)
        while not self.stopping.is_set():
            source.drain()
            deliveries = source.deliveries
            if not deliveries:
                source.check()
                if not destination.wait(_IDLE_WAIT):
                    source.wait(_IDLE_WAIT)
                continue
            while deliveries and not self.stopping.is_set():
                self.forward(deliveries.popleft(), source, destination)

    def connect_source(self) -> LocalSource:
        """A random one of the source URIs, then the others, as RabbitMQ tries them."""
        uris = list(self.definition.src_uris)
        random.shuffle(uris)
        for uri in uris:
            source = LocalSource(self.broker, self.definition, uri)
            self.source = source
            try:
                source.connect(self.wake_destination)
            except ShovelFailure:
                if uri is uris[-1]:
                    raise
                continue
            return source
        raise ShovelFailure("failed to connect to source")

    def wake_destination(self) -> None:
        """The source's wakeup (under the broker lock, any thread): deliveries are pending."""
        destination = self.destination
        if destination is not None:
            destination.wake()

    # ----------------------------------------------------------------- one message

    def forward(self, delivery: Delivery, source: LocalSource, destination: Destination) -> None:
        """``rabbit_amqp091_shovel:forward`` and ``publish`` for one message."""
        method, properties, body = delivery
        metrics = self.metrics
        if metrics.remaining_unacked == 0:
            return  # everything counted is published: the rest stays unacked, to be requeued
        definition = self.definition
        exchange, routing_key = publish_target(definition, method.exchange, method.routing_key)
        properties = forwarded_properties(
            definition,
            properties,
            source.uri.without_credentials,
            destination.uri.without_credentials,
        )
        confirmed = destination.publish(exchange, routing_key, properties, body)
        metrics.forwarded += 1
        if isinstance(metrics.remaining_unacked, int):
            metrics.remaining_unacked -= 1
        mode = definition.ack_mode
        if mode == "on-confirm":
            # after the destination's confirm; a nack sends it back to the source queue
            if confirmed:
                source.ack(method.delivery_tag)
            else:
                source.nack(method.delivery_tag)
        elif mode == "on-publish":
            source.ack(method.delivery_tag)
        self.decrement_remaining()

    def decrement_remaining(self) -> None:
        metrics = self.metrics
        if not isinstance(metrics.remaining, int):
            return
        if metrics.remaining > 1:
            metrics.remaining -= 1
            return
        metrics.remaining = 0
        log.info("shutting down Shovel '%s', no messages left to transfer", self.definition.name)
        raise _AutoDelete
