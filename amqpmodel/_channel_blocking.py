"""pika's blocking consumption on a channel: start_consuming, stop_consuming and the consume() generator."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from ._methods import BasicCancel, Deliver
from ._properties import BasicProperties

if TYPE_CHECKING:
    from ._channel import Channel

__all__ = ["start_consuming", "stop_consuming", "consume", "cancel", "get_waiting_message_count"]


def start_consuming(self: Channel) -> None:
    """Run callbacks until every consumer of this channel is cancelled or stop_consuming (pika)."""
    self._consuming = True

    def done() -> bool:
        return not (self._consuming and self._consumers and self._closed is None)

    while not done():
        self.connection._process(None, done)  # returns when another thread stops us too
    self._consuming = False


def stop_consuming(self: Channel, consumer_tag: str | None = None) -> None:
    """Cancel this channel's consumers (or one) and end start_consuming.

    As pika 1.x does, this also ends a ``consume()`` generator (all consumers,
    or the generator's own tag): it is cancelled as ``cancel()`` cancels it, so
    its loop ends at the next iteration, from this thread or another one.
    """
    with self._lock:
        if self._closed is not None:
            self._consuming = False
            return
        generator = self._generator
        if generator is not None and consumer_tag in (None, generator.tag):
            self.cancel()
        tags = [consumer_tag] if consumer_tag is not None else list(self._consumers)
        for tag in tags:
            self.basic_cancel(tag)
        self._consuming = False
        self._broker._signal(self.connection)


def consume(
    self: Channel,
    queue: str,
    auto_ack: bool = False,
    exclusive: bool = False,
    arguments: dict[str, Any] | None = None,
    inactivity_timeout: float | None = None,
) -> Iterator[tuple[Any, Any, Any]]:
    """A generator of ``(method, properties, body)``, blocking until messages arrive (pika).

    Yields ``(None, None, None)`` after ``inactivity_timeout`` seconds with
    nothing; ends when the consumer is cancelled (``cancel()``,
    ``stop_consuming()``, the broker) or the channel closes.
    """
    if self._generator is not None:
        if self._generator.queue != queue:
            raise ValueError("consume() is already active on this channel for another queue")
        return self._generator.iterate(inactivity_timeout)
    generator = _ConsumeGenerator(self, queue)
    generator.tag = self.basic_consume(
        queue,
        generator.on_message,
        auto_ack=auto_ack,
        exclusive=exclusive,
        arguments=arguments,
        on_cancel_callback=generator.on_cancel,
    )
    self._generator = generator
    return generator.iterate(inactivity_timeout)


def cancel(self: Channel) -> int:
    """End ``consume()``; requeue what it had received but not yielded. Returns that count."""
    generator = self._generator
    if generator is None:
        return 0
    self._generator = None
    with self._lock:
        if self._closed is not None:
            return 0
        self.basic_cancel(generator.tag)
        tags = [method.delivery_tag for method, _, _ in generator.buffer if generator.manual]
        count = len(generator.buffer)
        generator.buffer.clear()
        generator.cancelled = True
        if tags:
            self._settle_tags(tags, "cancel")
        self._broker._signal(self.connection)  # wake a consume() blocked in another thread
        return count


def get_waiting_message_count(self: Channel) -> int:
    """Deliveries received by consume() but not yet yielded."""
    return len(self._generator.buffer) if self._generator is not None else 0


class _ConsumeGenerator:
    """The consumer behind ``Channel.consume``: buffers deliveries until the generator yields them."""

    def __init__(self, channel: Channel, queue: str) -> None:
        self.channel = channel
        self.queue = queue
        self.tag = ""
        self.buffer: deque[tuple[Any, Any, Any]] = deque()
        self.cancelled = False
        self.manual = True

    def on_message(
        self, channel: Channel, method: Deliver, properties: BasicProperties, body: bytes
    ) -> None:
        self.buffer.append((method, properties, body))

    def on_cancel(self, method: BasicCancel) -> None:
        self.cancelled = True

    def iterate(
        self, inactivity_timeout: float | None
    ) -> Generator[tuple[Any, Any, Any], None, None]:
        channel = self.channel
        connection = channel.connection
        consumer = channel._consumers.get(self.tag)
        self.manual = consumer is not None and not consumer.auto_ack
        while True:
            if self.buffer:
                yield self.buffer.popleft()
                continue
            if self.cancelled or channel._closed is not None or channel._generator is not self:
                return
            deadline = None if inactivity_timeout is None else time.monotonic() + inactivity_timeout

            def done() -> bool:
                return (
                    bool(self.buffer)
                    or self.cancelled
                    or channel._closed is not None
                    or channel._generator is not self
                )

            while not done():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                connection._process(remaining, done)
            if not self.buffer:
                if self.cancelled or channel._closed is not None or channel._generator is not self:
                    return
                yield None, None, None  # inactivity_timeout passed
