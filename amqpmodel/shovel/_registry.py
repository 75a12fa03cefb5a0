"""The ``shovel`` parameter component: which shovels run for each broker, and their status.

RabbitMQ's ``rabbit_shovel_parameters`` and ``rabbit_shovel_dyn_worker_sup_sup``
(spec 20.1, 20.8): setting the parameter validates it and starts a shovel
(a changed value restarts it: the old run stops, then the new one starts);
clearing it stops the shovel and removes its status. Every change, whatever
thread makes it and in whatever order, ends in ``reconcile``, which makes the
running shovel match the parameter as it is now. The status table holds one
plain dict per shovel, the shape of ``GET /api/shovels`` (management's
``rabbit_shovel_mgmt_util:format``), so it can be sent as JSON as it is.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from typing import Any

from amqpmodel import Broker
from amqpmodel.driver import ParameterComponent

from ._definition import ShovelDefinition, validate
from ._worker import ShovelWorker

__all__ = ["ShovelComponent", "restart_shovel", "shovel_status"]


def _timestamp() -> str:
    """Local time as the management API prints it (``~w-~2.2.0w-~2.2.0w ~w:~2.2.0w:~2.2.0w``)."""
    t = time.localtime()
    return f"{t.tm_year}-{t.tm_mon:02}-{t.tm_mday:02} {t.tm_hour}:{t.tm_min:02}:{t.tm_sec:02}"


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


class BrokerShovels:
    """One broker's shovels: the worker for each (vhost, name) and its last report."""

    def __init__(self, broker: Broker) -> None:
        self.broker_ref = weakref.ref(broker)
        self.guard = threading.Lock()
        self.workers: dict[tuple[str, str], ShovelWorker] = {}
        self.reports: dict[tuple[str, str], dict[str, Any]] = {}
        self.closed = False

    def reconcile(self, vhost: str, name: str) -> None:
        """Start, restart or stop the shovel (vhost, name) to match its parameter now."""
        broker = self.broker_ref()
        if broker is None:
            return
        key = (vhost, name)
        with self.guard:  # read under the guard: concurrent changes reconcile in order
            wanted = [
                p["value"] for p in broker.list_parameters("shovel", vhost) if p["name"] == name
            ]
            old = self.workers.get(key)
            if old is not None and wanted and _same(old.definition.value, wanted[0]):
                return
            self.workers.pop(key, None)
            new = None
            if wanted and not self.closed:
                definition = ShovelDefinition.parse(vhost, name, wanted[0])
                new = self.workers[key] = ShovelWorker(
                    broker, definition, self.report, self.is_current, predecessor=old
                )
            else:
                self.reports.pop(key, None)
        if new is not None:
            new.start()  # its thread stops the old run before it connects
        elif old is not None:
            old.stop()

    def restart(self, vhost: str, name: str) -> bool:
        """Stop the shovel's run and start a new one from its parameter (also a
        terminated one); False when there is no such shovel."""
        broker = self.broker_ref()
        key = (vhost, name)
        with self.guard:
            old = self.workers.get(key)
            if broker is None or old is None or self.closed:
                return False
            new = self.workers[key] = ShovelWorker(
                broker, old.definition, self.report, self.is_current, predecessor=old
            )
        new.start()  # its thread stops the old run before it connects
        return True

    def is_current(self, worker: ShovelWorker) -> bool:
        key = (worker.definition.vhost, worker.definition.name)
        with self.guard:
            return self.workers.get(key) is worker

    def report(self, worker: ShovelWorker, state: str, details: dict[str, Any]) -> None:
        """A worker's new state; ignored once the worker is no longer the shovel's."""
        definition = worker.definition
        key = (definition.vhost, definition.name)
        row: dict[str, Any] = {
            "name": definition.name,
            "vhost": definition.vhost,
            "type": "dynamic",
            "state": state,
            "timestamp": _timestamp(),
            **details,
        }
        with self.guard:
            if self.workers.get(key) is worker:
                self.reports[key] = row

    def status(self) -> list[dict[str, Any]]:
        with self.guard:
            rows = [(key, dict(row), self.workers.get(key)) for key, row in self.reports.items()]
        result = []
        for _, row, worker in sorted(rows, key=lambda item: item[0]):
            if row["state"] == "running" and worker is not None:
                blocked = worker.destination is not None and worker.destination.blocked
                row["blocked_status"] = "blocked" if blocked else "running"
                row["state"] = row["blocked_status"]
                metrics = worker.metrics
                row.update(
                    remaining=metrics.remaining,
                    remaining_unacked=metrics.remaining_unacked,
                    pending=metrics.pending,
                    forwarded=metrics.forwarded,
                )
            result.append(row)
        return result

    def close(self) -> None:
        """The broker is closing: stop every shovel (their parameters stay)."""
        with self.guard:
            self.closed = True
            workers = list(self.workers.values())
            self.workers.clear()
            self.reports.clear()
        for worker in workers:
            worker.stop(wait=False)
        for worker in workers:
            worker.stop()


_BROKERS: weakref.WeakKeyDictionary[Broker, BrokerShovels] = weakref.WeakKeyDictionary()
_BROKERS_GUARD = threading.Lock()


def _shovels(broker: Broker, create: bool = True) -> BrokerShovels | None:
    with _BROKERS_GUARD:
        shovels = _BROKERS.get(broker)
        if shovels is None and create:
            shovels = _BROKERS[broker] = BrokerShovels(broker)
        return shovels


class ShovelComponent(ParameterComponent):
    """The runtime-parameter component ``shovel`` (``rabbit_shovel_parameters``)."""

    name = "shovel"

    def validate(self, broker: Broker, vhost: str, name: str, value: Any) -> list[str]:
        return validate(name, value)

    def notify(self, broker: Broker, vhost: str, name: str, value: Any) -> None:
        shovels = _shovels(broker)
        assert shovels is not None
        shovels.reconcile(vhost, name)

    def notify_clear(self, broker: Broker, vhost: str, name: str) -> None:
        shovels = _shovels(broker, create=False)
        if shovels is not None:
            shovels.reconcile(vhost, name)

    def broker_closing(self, broker: Broker) -> None:
        shovels = _shovels(broker, create=False)
        if shovels is not None:
            shovels.close()


def restart_shovel(broker: Broker, name: str, vhost: str = "/") -> bool:
    """``rabbitmqctl restart_shovel name``: the shovel stops and starts again from its
    parameter, a terminated one included; False when it does not exist."""
    shovels = _shovels(broker, create=False)
    return shovels is not None and shovels.restart(vhost, name)


def shovel_status(broker: Broker) -> list[dict[str, Any]]:
    """Every shovel of ``broker`` as ``rabbitmqctl shovel_status`` and ``GET /api/shovels``
    report it (spec 20.8), a list of plain dicts sorted by vhost and name:

    - ``name``, ``vhost``, ``type`` ("dynamic"), ``timestamp`` (local time of the last
      change, "2024-05-01 9:05:03"), ``state``: "starting", "running" (or "blocked"
      while the destination has sent connection.blocked) or "terminated";
    - running: ``src_uri``, ``dest_uri`` (without credentials), ``src_protocol`` and
      ``dest_protocol`` ("amqp091"), ``src_queue`` or ``src_exchange`` and
      ``src_exchange_key``, whichever of ``dest_queue``, ``dest_exchange``,
      ``dest_exchange_key`` were set, ``blocked_status``, and the counters
      ``remaining`` and ``remaining_unacked`` (a count, or "unlimited" without
      ``src-delete-after``), ``pending`` and ``forwarded``;
    - terminated: ``reason`` (text such as "failed to connect to destination" or
      "socket closed"; RabbitMQ's API quotes it as an Erlang term).

    A shovel whose delete-after is met, or whose parameter is cleared, is not listed.
    """
    shovels = _shovels(broker, create=False)
    return shovels.status() if shovels is not None else []
