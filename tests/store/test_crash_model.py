"""Model-based durability test in the manner of RabbitMQ's classic_queue_prop_SUITE (spec
22.39-22.50): random publishes (persistent or not, confirmed or not, with expirations), gets,
acks, rejects, requeues, purges, clean restarts and crashes, against a model of which messages
must come back.

Two forms: in process (``amqpmodel.testing.crash`` drops what was not committed, spec 22.38),
and over the wire against ``amqpmodel serve --data-dir`` killed with SIGKILL at random points.
``AMQPMODEL_LONG_CRASH_TEST=1`` runs many more examples.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path
from typing import Any

import pika
from _serve import ServeProcess  # tests/store is on sys.path
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from amqpmodel import BasicProperties, Broker, NackError, VirtualClock
from amqpmodel.testing import crash

LONG = bool(os.environ.get("AMQPMODEL_LONG_CRASH_TEST"))
QUEUE = "prop_classic_queue"


class _Model:
    """What the queue holds (ids in enqueue order) and what a restart must bring back.

    ``ready`` and ``unacked`` mirror the broker exactly between restarts. ``must`` holds
    the persistent messages confirmed on a confirming channel and not removed since
    (spec 22.43, 22.50); ``removed`` the ids acked, rejected, got or purged: after a
    crash their removal may be lost, so they may come back (22.15, 22.47).
    """

    def __init__(self) -> None:
        self.next_id = 0
        self.persistent: dict[int, bool] = {}
        self.ready: list[int] = []  # in queue order (requeued ones at their place)
        self.redelivered: set[int] = set()
        self.unacked: dict[int, int] = {}  # delivery tag -> id
        self.must: set[int] = set()
        self.removed: set[int] = set()
        self.deadlines: dict[int, float] = {}  # per-message expiration (spec 3.1)

    def new_id(self, persistent: bool) -> int:
        self.next_id += 1
        self.persistent[self.next_id] = persistent
        return self.next_id

    def remove(self, message_id: int) -> None:
        self.must.discard(message_id)
        self.removed.add(message_id)

    def settle(self, channel: Any, how: str, pick: int, now: float = 0.0) -> None:
        """Ack, requeue or discard one of the unacked deliveries, on the broker and here."""
        tag = sorted(self.unacked)[pick % len(self.unacked)]
        message_id = self.unacked.pop(tag)
        if how == "ack":
            channel.basic_ack(tag)
            self.remove(message_id)
        elif how == "discard":
            channel.basic_reject(tag, requeue=False)
            self.remove(message_id)
        else:
            channel.basic_reject(tag, requeue=True)
            self.ready.append(message_id)
            self.ready.sort()  # spec 2.12: back at its original position
            self.redelivered.add(message_id)
            self.expire(now)  # spec 5.5

    def expire(self, now: float) -> None:
        """Expired messages leave from the head only (spec 3.3), whenever the queue is touched."""
        while self.ready and self.deadlines.get(self.ready[0], float("inf")) <= now:
            self.remove(self.ready.pop(0))

    def after_restart(
        self, recovered: list[tuple[int, bool]], crashed: bool, now: float = 0.0
    ) -> None:
        """Check what came back (spec 22.12-22.18) and take it as the new state."""
        if not crashed:  # a clean stop closed the channels: unacked ones were requeued (7.13)
            self.redelivered |= set(self.unacked.values())
            self.ready = sorted({*self.ready, *self.unacked.values()})
            self.unacked = {}
            self.expire(now)
        ids = [message_id for message_id, _ in recovered]
        assert len(ids) == len(set(ids)), f"a message came back twice: {ids}"
        assert ids == sorted(ids), f"recovered out of order: {ids}"  # spec 22.12
        assert all(self.persistent[i] for i in ids), "a transient message came back (22.5)"
        # a message past its expiry may go at recovery, once at the head (spec 22.21)
        expired = {i for i, deadline in self.deadlines.items() if deadline <= now}
        missing = self.must - set(ids) - expired
        assert not missing, f"confirmed persistent messages lost: {sorted(missing)}"
        held = set(self.ready) | set(self.unacked.values())
        if crashed:
            assert all(r for _, r in recovered), "after a crash all are redelivered (22.18)"
            assert set(ids) <= held | self.removed, "a message came back that was never there"
        else:
            expected = sorted(i for i in held if self.persistent[i])
            while expected and expected[0] in expired:
                self.remove(expected.pop(0))
            assert ids == expected, f"clean restart: {ids} != {expected} (22.14, 22.16)"
            flagged = {i for i, r in recovered if r}
            assert flagged == (self.redelivered | set(self.unacked.values())) & set(ids), (
                "redelivered after a clean restart (22.17)"
            )
        self.ready = ids
        self.redelivered = {i for i, r in recovered if r}
        self.unacked = {}


def _body(message_id: int) -> bytes:
    return b"%d" % message_id


def _id(body: bytes) -> int:
    return int(body)


class InProcessDurability(RuleBasedStateMachine):
    """The model against a ``Broker(data_dir=...)``, restarted cleanly and crashed."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="amqpmodel-model-")
        self.data_dir = Path(self.tmp.name)
        self.model = _Model()
        self.clock = VirtualClock(1_700_000_000)
        self._open()
        self.ch.queue_declare(QUEUE, durable=True)

    def _open(self) -> None:
        self.broker = Broker(clock=self.clock, data_dir=self.data_dir)
        connection = self.broker.connect()
        self.ch = connection.channel()
        self.confirming = connection.channel()
        self.confirming.confirm_delivery()

    def teardown(self) -> None:
        self.broker.close()
        self.tmp.cleanup()

    @rule(
        persistent=st.booleans(),
        confirm=st.booleans(),
        count=st.integers(1, 5),
        expiration=st.one_of(st.none(), st.integers(0, 100)),  # ms, as spec 22.40
    )
    def publish(self, persistent: bool, confirm: bool, count: int, expiration: int | None) -> None:
        properties = BasicProperties(
            delivery_mode=2 if persistent else 1,
            expiration=None if expiration is None else str(expiration),
        )
        channel = self.confirming if confirm else self.ch
        for _ in range(count):
            message_id = self.model.new_id(persistent)
            if expiration is not None:
                self.model.deadlines[message_id] = self.clock.now() + expiration / 1000
            try:
                channel.basic_publish("", QUEUE, _body(message_id), properties)
            except NackError:  # pragma: no cover - the store does not fail here
                raise AssertionError("nack without a write failure") from None
            self.model.ready.append(message_id)
            if persistent and confirm:
                self.model.must.add(message_id)  # spec 22.43: confirmed once publish returns
            self.model.expire(self.clock.now())

    @rule(milliseconds=st.integers(0, 150))
    def advance(self, milliseconds: int) -> None:
        self.clock.advance(milliseconds / 1000)
        self.model.expire(self.clock.now())

    @rule(ack=st.sampled_from(["keep", "auto"]))
    def get(self, ack: str) -> None:
        method, _, body = self.ch.basic_get(QUEUE, auto_ack=ack == "auto")
        model = self.model
        if method is None:
            assert not model.ready
            return
        message_id = _id(body)
        assert message_id == model.ready.pop(0), "basic.get takes the head"
        assert method.redelivered == (message_id in model.redelivered)
        model.expire(self.clock.now())
        if ack == "auto":
            model.remove(message_id)
        else:
            model.unacked[method.delivery_tag] = message_id

    @rule(prefetch=st.integers(1, 5))
    def consume(self, prefetch: int) -> None:
        """A push consumer with manual acks takes up to ``prefetch`` from the head, then
        is cancelled; what it received stays unacked (spec 7.7)."""
        received: list[tuple[int, int, bool]] = []
        self.ch.basic_qos(prefetch_count=prefetch)
        tag = self.ch.basic_consume(
            QUEUE,
            lambda ch, method, properties, body: received.append(
                (method.delivery_tag, _id(body), method.redelivered)
            ),
        )
        self.broker.run_until_idle()
        self.ch.basic_cancel(tag)
        model = self.model
        now = self.clock.now()
        for delivery_tag, message_id, redelivered in received:
            model.expire(now)  # expired heads are dropped, not delivered (spec 3.3)
            assert message_id == model.ready.pop(0), "a consumer takes from the head"
            assert redelivered == (message_id in model.redelivered)
            model.unacked[delivery_tag] = message_id
        model.expire(now)
        assert len(received) == prefetch or not model.ready, "prefetch room left unused"

    @precondition(lambda self: self.model.unacked)
    @rule(how=st.sampled_from(["ack", "requeue", "discard"]), pick=st.integers(0, 100))
    def settle(self, how: str, pick: int) -> None:
        self.model.settle(self.ch, how, pick, self.clock.now())

    @rule()
    def purge(self) -> None:
        assert self.ch.queue_purge(QUEUE).method.message_count == len(self.model.ready)
        for message_id in self.model.ready:
            self.model.remove(message_id)
        self.model.ready = []

    @rule()
    def flush(self) -> None:
        assert self.broker._store is not None
        self.broker._store.flush()

    def _recovered(self) -> list[tuple[int, bool]]:
        return [(_id(m.body), m.redelivered) for m in self.broker.queues[QUEUE].peek()]

    @rule()
    def restart_clean(self) -> None:
        self.broker.close()
        self._open()
        self.model.after_restart(self._recovered(), crashed=False, now=self.clock.now())

    @rule()
    def restart_dirty(self) -> None:
        crash(self.broker)
        self._open()
        self.model.after_restart(self._recovered(), crashed=True, now=self.clock.now())

    @invariant()
    def accounted(self) -> None:
        for queue in self.broker.queues.values():
            queue._check()
        assert self.broker.queues[QUEUE].messages_ready == len(self.model.ready)


InProcessDurability.TestCase.settings = settings(
    max_examples=300 if LONG else 40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_in_process_durability = InProcessDurability.TestCase


class WireDurability(RuleBasedStateMachine):
    """The same model against ``amqpmodel serve --data-dir``, stopped with SIGINT or SIGKILL."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="amqpmodel-model-")
        self.server = ServeProcess(Path(self.tmp.name))
        self.model = _Model()
        self._open()
        self.ch.queue_declare(QUEUE, durable=True)

    def _open(self) -> None:
        self.server.start()
        self.connection = pika.BlockingConnection(pika.URLParameters(self.server.url))
        self.ch = self.connection.channel()
        self.confirming = self.connection.channel()
        self.confirming.confirm_delivery()

    def teardown(self) -> None:
        if self.server.process is not None:
            self.server.stop(signal.SIGKILL)
        self.tmp.cleanup()

    @rule(persistent=st.booleans(), confirm=st.booleans(), count=st.integers(1, 20))
    def publish(self, persistent: bool, confirm: bool, count: int) -> None:
        properties = pika.BasicProperties(delivery_mode=2 if persistent else 1)
        channel = self.confirming if confirm else self.ch
        for _ in range(count):
            message_id = self.model.new_id(persistent)
            channel.basic_publish("", QUEUE, _body(message_id), properties)
            self.model.ready.append(message_id)
            if persistent and confirm:
                self.model.must.add(message_id)

    @rule(ack=st.sampled_from(["keep", "auto"]))
    def get(self, ack: str) -> None:
        if not self.model.ready:
            return
        self.ch.queue_declare(QUEUE, passive=True)  # unconfirmed publishes have arrived
        method, _, body = self.ch.basic_get(QUEUE, auto_ack=ack == "auto")
        assert method is not None
        message_id = _id(body)
        assert message_id == self.model.ready.pop(0)
        if ack == "auto":
            self.model.remove(message_id)
        else:
            self.model.unacked[method.delivery_tag] = message_id

    @precondition(lambda self: self.model.unacked)
    @rule(how=st.sampled_from(["ack", "requeue", "discard"]), pick=st.integers(0, 100))
    def settle(self, how: str, pick: int) -> None:
        self.model.settle(self.ch, how, pick, 0.0)

    @rule()
    def purge(self) -> None:
        self.ch.queue_purge(QUEUE)
        for message_id in self.model.ready:
            self.model.remove(message_id)
        self.model.ready = []

    def _recovered(self) -> list[tuple[int, bool]]:
        got = []
        while True:
            method, _, body = self.ch.basic_get(QUEUE)
            if method is None:
                break
            got.append((_id(body), bool(method.redelivered)))
        if got:
            self.ch.basic_nack(0, multiple=True, requeue=True)  # back in place, now redelivered
        return got

    def _restart(self, sig: int) -> None:
        self.ch.queue_declare(QUEUE, passive=True)  # what was sent has arrived
        output = self.server.stop(sig)
        assert "Traceback" not in output, output
        self._open()
        recovered = self._recovered()
        self.model.after_restart(recovered, crashed=sig == signal.SIGKILL)
        self.model.redelivered = set(self.model.ready)  # the check's requeue flagged them

    @rule()
    def restart_clean(self) -> None:
        self._restart(signal.SIGINT)

    @rule()
    def restart_dirty(self) -> None:
        self._restart(signal.SIGKILL)


WireDurability.TestCase.settings = settings(
    max_examples=100 if LONG else 6,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_wire_durability = WireDurability.TestCase
