"""Consumer dispatch against a reference model of its rules (spec 7.4, 7.5, 7.6, 7.11-7.13, 2.12).

The model is the plain reading of the rules, as the broker implemented them
before dispatch set blocked consumers aside: per queue a list of consumers,
highest ``x-priority`` first; a delivery goes to the first consumer of the list
with room, which then moves behind the others of its priority (7.4); with
single active consumer only the head of the list receives (7.6). Room: an
auto-ack consumer ignores prefetch (7.5) but not a paused connection; a manual
consumer is bounded by its own prefetch and its channel's global prefetch; one
without a prefetch of its own is held back by a paused connection. The model
also fixes which queues get to use freed credit first (the queues of the
settled messages, then the queues of the channel's consumers in the order the
consumers were registered), so delivery tags come out in the same order.

Every step is compared by what clients see: the deliveries each connection's
callbacks receive, in order (consumer tag, delivery tag, redelivered, body),
basic.get results, and each queue's consumer list in dispatch order.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from amqpmodel import AccessRefused, Broker, Channel

QUEUES = ("plain", "other", "sac")


class MConsumer:
    def __init__(
        self, tag: str, channel: MChannel, queue: MQueue, auto_ack: bool, priority: int
    ) -> None:
        self.tag = tag
        self.channel = channel
        self.queue = queue
        self.auto_ack = auto_ack
        self.priority = priority
        self.prefetch = channel.prefetch
        self.unacked = 0

    def has_room(self) -> bool:
        channel = self.channel
        if self.auto_ack:
            return not channel.paused  # 7.5: no_ack ignores prefetch
        if self.prefetch and self.unacked >= self.prefetch:
            return False
        if not self.prefetch and channel.paused:
            return False
        return not channel.global_prefetch or channel.global_unacked < channel.global_prefetch


class MQueue:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sac = name == "sac"
        self.ready: list[tuple[int, str, bool]] = []  # (seq, body, redelivered), by seq (2.12)
        self.consumers: list[MConsumer] = []

    def add(self, consumer: MConsumer) -> None:
        index = len(self.consumers)
        while index > 0 and self.consumers[index - 1].priority < consumer.priority:
            index -= 1
        if self.sac and self.consumers:
            index = max(index, 1)  # 7.6: the active consumer stays active
        self.consumers.insert(index, consumer)

    def next_consumer(self) -> MConsumer | None:
        if not self.consumers:
            return None
        if self.sac:
            active = self.consumers[0]
            return active if active.has_room() else None
        for consumer in self.consumers:
            if consumer.has_room():
                # 7.4: round-robin within the priority
                self.consumers.remove(consumer)
                index = len(self.consumers)
                while index > 0 and self.consumers[index - 1].priority < consumer.priority:
                    index -= 1
                self.consumers.insert(index, consumer)
                return consumer
        return None

    def dispatch(self) -> None:
        while self.ready:
            consumer = self.next_consumer()
            if consumer is None:
                return
            seq, body, redelivered = self.ready.pop(0)
            consumer.channel.deliver(consumer, self, seq, body, redelivered)

    def requeue(self, seq: int, body: str) -> None:
        self.ready.append((seq, body, True))
        self.ready.sort()


class MConnection:
    def __init__(self) -> None:
        self.paused = False
        self.channels: list[MChannel] = []
        self.events: list[tuple[Any, ...]] = []


class MChannel:
    def __init__(self, connection: MConnection, number: int) -> None:
        self.connection = connection
        self.number = number
        self.open = True
        self.paused = connection.paused  # a new channel of a paused connection starts paused
        self.prefetch = 0
        self.global_prefetch = 0
        self.global_unacked = 0
        self.tag = 0
        # tag -> (queue, seq, body, consumer or None for basic.get)
        self.unacked: dict[int, tuple[MQueue, int, str, MConsumer | None]] = {}
        self.consumers: dict[str, MConsumer] = {}

    def deliver(
        self, consumer: MConsumer, queue: MQueue, seq: int, body: str, redelivered: bool
    ) -> None:
        self.tag += 1
        if not consumer.auto_ack:
            self.unacked[self.tag] = (queue, seq, body, consumer)
            consumer.unacked += 1
            self.global_unacked += 1
        if self.open:  # a closing channel's callbacks do not run (its messages go back, 7.13)
            self.connection.events.append((self.number, consumer.tag, self.tag, redelivered, body))

    def consumer_queues(self) -> list[MQueue]:
        return list({consumer.queue: None for consumer in self.consumers.values()})

    def settle(self, tags: list[int], action: str, hot: bool = False) -> None:
        """``hot``: a single basic.ack, which the broker settles on its own path."""
        touched: dict[MQueue, None] = {}
        first = self.unacked[tags[0]] if tags else None
        for tag in tags:
            queue, seq, body, consumer = self.unacked.pop(tag)
            if consumer is not None:
                consumer.unacked -= 1
                self.global_unacked -= 1
            if action == "requeue":
                queue.requeue(seq, body)
            if not hot:
                touched[queue] = None
        if hot:
            # one basic.ack: its queue, or with a global prefetch the channel's queues
            assert first is not None
            if first[3] is None:
                return  # a basic.get's message: no consumer got room
            if not self.global_prefetch:
                first[0].dispatch()
                return
        if self.global_prefetch:
            for queue in self.consumer_queues():
                touched[queue] = None
        for queue in touched:
            queue.dispatch()

    def remove_consumer(self, consumer: MConsumer) -> None:
        del self.consumers[consumer.tag]
        consumer.queue.consumers.remove(consumer)
        consumer.queue.dispatch()  # 7.6: the next active consumer may take messages

    def close(self) -> None:
        self.open = False
        for consumer in list(self.consumers.values()):
            self.remove_consumer(consumer)
        self.settle(list(self.unacked), "requeue")  # 7.13


class DispatchMachine(RuleBasedStateMachine):
    """The broker and the model side by side, compared after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.broker = Broker()
        self.publisher = self.broker.connect().channel()
        self.connections = [self.broker.connect() for _ in range(2)]
        self.model_connections = [MConnection() for _ in range(2)]
        self.queues = {name: MQueue(name) for name in QUEUES}
        for name in QUEUES:
            arguments = {"x-single-active-consumer": True} if name == "sac" else None
            self.publisher.queue_declare(name, arguments=arguments)
        self.channels: list[tuple[Channel, MChannel]] = []
        self.seq = 0
        self.ctag = 0
        self.seen: list[list[tuple[Any, ...]]] = [[], []]
        self.exclusive: dict[str, bool] = {}
        for index in range(2):
            self._open(index)

    def _open(self, index: int) -> None:
        channel = self.connections[index].channel()
        model = MChannel(self.model_connections[index], channel.channel_number)
        self.model_connections[index].channels.append(model)
        self.channels.append((channel, model))

    def _record(self, index: int) -> Any:
        seen = self.seen[index]

        def on_message(channel: Channel, method: Any, properties: Any, body: bytes) -> None:
            seen.append(
                (
                    channel.channel_number,
                    method.consumer_tag,
                    method.delivery_tag,
                    method.redelivered,
                    body.decode(),
                )
            )

        return on_message

    def _open_channels(self) -> list[tuple[Channel, MChannel]]:
        return [(c, m) for c, m in self.channels if m.open]

    def _pick(self, data: Any) -> tuple[Channel, MChannel]:
        return data.draw(st.sampled_from(self._open_channels()))

    # ----------------------------------------------------------------- rules

    @precondition(lambda self: len(self.channels) < 8)
    @rule(index=st.integers(0, 1))
    def open_channel(self, index: int) -> None:
        self._open(index)

    @rule(queue=st.sampled_from(QUEUES), count=st.integers(1, 3))
    def publish(self, queue: str, count: int) -> None:
        for _ in range(count):
            self.seq += 1
            body = f"m{self.seq}"
            self.publisher.basic_publish("", queue, body.encode())
            self.queues[queue].ready.append((self.seq, body, False))
            self.queues[queue].dispatch()

    @precondition(lambda self: any(m.open for _, m in self.channels))
    @rule(
        data=st.data(),
        queue=st.sampled_from(QUEUES),
        auto_ack=st.booleans(),
        priority=st.sampled_from([0, 0, 0, 1, 5, -1]),
        exclusive=st.sampled_from([False, False, False, True]),
    )
    def consume(
        self, data: Any, queue: str, auto_ack: bool, priority: int, exclusive: bool
    ) -> None:
        channel, model = self._pick(data)
        target = self.queues[queue]
        self.ctag += 1
        tag = f"c{self.ctag}"
        connection_index = self.model_connections.index(model.connection)
        refused = (exclusive and (target.consumers or target.sac)) or any(
            self.exclusive.get(c.tag, False) for c in target.consumers
        )
        arguments = {"x-priority": priority} if priority else None
        if refused:
            try:
                channel.basic_consume(
                    queue,
                    self._record(connection_index),
                    auto_ack=auto_ack,
                    exclusive=exclusive,
                    consumer_tag=tag,
                    arguments=arguments,
                )
            except AccessRefused:
                pass
            else:
                raise AssertionError("7.3: the consume should have been refused")
            model.close()
            return
        channel.basic_consume(
            queue,
            self._record(connection_index),
            auto_ack=auto_ack,
            exclusive=exclusive,
            consumer_tag=tag,
            arguments=arguments,
        )
        consumer = MConsumer(tag, model, target, auto_ack, priority)
        self.exclusive[tag] = exclusive
        model.consumers[tag] = consumer
        target.add(consumer)
        target.dispatch()

    @precondition(lambda self: any(m.open and m.consumers for _, m in self.channels))
    @rule(data=st.data())
    def cancel(self, data: Any) -> None:
        channel, model = data.draw(
            st.sampled_from([(c, m) for c, m in self._open_channels() if m.consumers])
        )
        tag = data.draw(st.sampled_from(sorted(model.consumers)))
        channel.basic_cancel(tag)
        model.remove_consumer(model.consumers[tag])

    @precondition(lambda self: any(m.open and m.unacked for _, m in self.channels))
    @rule(data=st.data(), action=st.sampled_from(["ack", "ack", "ack-multiple", "nack", "reject"]))
    def settle(self, data: Any, action: str) -> None:
        channel, model = data.draw(
            st.sampled_from([(c, m) for c, m in self._open_channels() if m.unacked])
        )
        tag = data.draw(st.sampled_from(sorted(model.unacked)))
        if action == "ack":
            channel.basic_ack(tag)
            model.settle([tag], "ack", hot=True)
            return
        if action == "ack-multiple":
            channel.basic_ack(tag, multiple=True)
            model.settle([t for t in model.unacked if t <= tag], "ack")
            return
        requeue = data.draw(st.booleans())
        if action == "nack":
            multiple = data.draw(st.booleans())
            channel.basic_nack(tag, multiple=multiple, requeue=requeue)
            tags = [t for t in model.unacked if t <= tag] if multiple else [tag]
        else:
            channel.basic_reject(tag, requeue=requeue)
            tags = [tag]
        model.settle(tags, "requeue" if requeue else "reject")

    @precondition(lambda self: any(m.open for _, m in self.channels))
    @rule(data=st.data())
    def recover(self, data: Any) -> None:
        channel, model = self._pick(data)
        channel.basic_recover(requeue=True)
        model.settle(list(model.unacked), "requeue")  # 7.12

    @precondition(lambda self: any(m.open for _, m in self.channels))
    @rule(data=st.data(), count=st.integers(0, 3), global_qos=st.booleans())
    def qos(self, data: Any, count: int, global_qos: bool) -> None:
        channel, model = self._pick(data)
        channel.basic_qos(prefetch_count=count, global_qos=global_qos)
        if global_qos:
            model.global_prefetch = count
            for queue in model.consumer_queues():
                queue.dispatch()
        else:
            model.prefetch = count

    @rule(index=st.integers(0, 1), paused=st.booleans())
    def pause(self, index: int, paused: bool) -> None:
        self.connections[index].pause_deliveries(paused)
        connection = self.model_connections[index]
        connection.paused = paused
        # channel by channel: a channel resumed first may take what the others wait for
        for model in connection.channels:
            if model.open and model.paused != paused:
                model.paused = paused
                if not paused:
                    for queue in model.consumer_queues():
                        queue.dispatch()

    @precondition(lambda self: any(m.open for _, m in self.channels))
    @rule(data=st.data(), queue=st.sampled_from(QUEUES), auto_ack=st.booleans())
    def get(self, data: Any, queue: str, auto_ack: bool) -> None:
        channel, model = self._pick(data)
        method, _, body = channel.basic_get(queue, auto_ack=auto_ack)
        target = self.queues[queue]
        if not target.ready:
            assert method is None
            return
        seq, expected, redelivered = target.ready.pop(0)
        model.tag += 1
        if not auto_ack:
            model.unacked[model.tag] = (target, seq, expected, None)
        assert method is not None
        got = (method.delivery_tag, method.redelivered, body.decode(), method.message_count)
        assert got == (model.tag, redelivered, expected, len(target.ready))

    @precondition(lambda self: sum(m.open for _, m in self.channels) > 1)
    @rule(data=st.data())
    def close_channel(self, data: Any) -> None:
        channel, model = self._pick(data)
        channel.close()
        model.close()

    # ----------------------------------------------------------------- comparison

    @invariant()
    def same_deliveries(self) -> None:
        for index, connection in enumerate(self.connections):
            connection.drain()
            expected = self.model_connections[index].events
            assert self.seen[index] == expected, (self.seen[index][-8:], expected[-8:])

    @invariant()
    def same_consumer_order(self) -> None:
        queues = self.broker.queues
        for name, model in self.queues.items():
            assert [c.tag for c in queues[name].consumers] == [c.tag for c in model.consumers]
            assert queues[name].messages_ready == len(model.ready)
            queues[name]._check()

    def teardown(self) -> None:
        self.broker.close()


TestDispatchModel = DispatchMachine.TestCase
TestDispatchModel.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
