"""basic.publish on a channel: its hot path, routing, returns (spec 1, 3.2, 8.4), the CC and BCC headers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from ._access import check_resource, check_topic
from ._errors import (
    AccessRefused,
    AMQPError,
    NackError,
    NotFound,
    NotImplementedByBroker,
    PreconditionFailed,
    UnroutableError,
)
from ._memory import MESSAGE_OVERHEAD
from ._methods import BasicReturn
from ._properties import (
    EMPTY_PROPERTIES,
    Annotations,
    BasicProperties,
    Message,
    delivered_properties,
    to_properties,
)
from ._queue import Queue
from ._reply_to import REPLY_TO, REPLY_TO_PREFIX, reply_key
from ._timers import INFINITY
from ._trace import trace_publish
from ._validation import entity_name, parse_expiration, short_string

if TYPE_CHECKING:
    from ._channel import Channel

__all__ = [
    "basic_publish",
    "_publish",
    "_deliver_publish",
    "_enqueue",
    "_record_unroutable",
    "_return",
]


def basic_publish(
    self: Channel,
    exchange: str,
    routing_key: str,
    body: bytes | str,
    properties: BasicProperties | Any = None,
    mandatory: bool = False,
    immediate: bool = False,
) -> None:
    """Publish a message. On a confirming channel, raise ``UnroutableError`` for a
    returned mandatory message and ``NackError`` for a nacked one (as pika)."""
    # acquire/release: a with-statement costs twice as much on this hot path
    self._lock.acquire()
    try:
        if self._closed is not None:
            self._enter()
        elif (due := self._timers.next_raw) != INFINITY and due <= self._raw_now():
            self._broker.tick()  # a timer is due: settle it first
        broker = self._broker
        if broker._publish_credit <= 0:  # measure the memory again; an alarm blocks (21.3)
            broker._alarms.before_publish(self)
            if self._closed is not None:  # closed while it waited
                self._enter()
        if (
            exchange == ""
            and (properties is None or properties is EMPTY_PROPERTIES)
            and type(body) is bytes
            and not immediate
            and self._plain_publish  # no transaction, no tracer, permitted (see Channel)
        ):
            # the hot path: the default exchange to an existing plain queue that
            # nobody consumes from; anything else (errors included) takes the
            # general path below
            queue = self._queues.get(routing_key)
            if (
                queue is not None
                and queue._plain
                and not queue._consumers
                and len(body) <= broker.max_message_size
            ):
                queue.stats.enqueued += 1
                # the message is its own queue entry (see Message)
                message = Message(
                    "", routing_key, EMPTY_PROPERTIES, body, None, next(queue._sequence)
                )
                queue._ready.push(message)
                queue._ready_bytes += len(body)
                broker._publish_credit -= len(body) + MESSAGE_OVERHEAD
                if self._confirming:  # a plain queue never refuses: ack (spec 8.2)
                    self._publish_seq += 1
                    if self._ack_nack_callback is not None:
                        self._confirm(True)
                return
        try:
            outcome = self._publish(exchange, routing_key, body, properties, mandatory, immediate)
        except AMQPError as error:
            self._fail(error, 60, 40)
            raise
    finally:
        self._lock.release()
    if outcome is not None:
        raise outcome


def _publish(
    self: Channel,
    exchange: Any,
    routing_key: Any,
    body: Any,
    properties: Any,
    mandatory: bool,
    immediate: bool,
) -> Exception | None:
    if immediate:
        raise NotImplementedByBroker("immediate=true")  # spec 8.5
    if type(body) is not bytes:
        body = _to_body(body)
    if type(exchange) is not str or len(exchange) > 127:
        exchange = entity_name(exchange, "exchange name")
    if type(routing_key) is not str or len(routing_key) > 63:
        routing_key = short_string(routing_key, "routing key")
    vhost = self._vhost
    if ("write", "exchange", exchange) not in self._access.cache:
        check_resource(self, "write", "exchange", exchange)  # spec 15.4, before existence
    target = vhost.exchanges.get(exchange)
    if target is None:
        if not exchange.isascii():
            entity_name(exchange, "exchange name")  # 501 for a name that is not UTF-8
        raise NotFound(f"no exchange '{exchange}' in vhost '{vhost.name}'")  # spec 1.8
    if target.internal:
        raise AccessRefused(
            f"cannot publish to internal exchange '{exchange}' in vhost '{vhost.name}'"
        )
    if len(body) > self._broker.max_message_size:
        raise PreconditionFailed(
            f"message size {len(body)} is larger than configured max size {self._broker.max_message_size}"
        )
    if properties is None or properties is EMPTY_PROPERTIES:
        props = EMPTY_PROPERTIES
        keys: tuple[str, ...] = (routing_key,)
        annotations = None
        ttl_ms = None
    else:
        props = to_properties(properties)
        if (
            props.user_id is not None
            and props.user_id != self.connection.user
            and "impersonator" not in self._broker.users.get(self.connection.user, ("", ()))[1]
        ):  # spec 15.13
            raise PreconditionFailed(
                f"user_id property set to '{props.user_id}' but authenticated user was '{self.connection.user}'"
            )  # spec 8.6
        ttl_ms = parse_expiration(props.expiration) if props.expiration is not None else None
        keys, props, annotations = _cc_bcc(routing_key, props)
        if props.reply_to == REPLY_TO:
            props = attrs.evolve(props, reply_to=reply_key(self))
    if target.type == "topic" and self._broker._access_control.topic_permissions:
        for key in keys:
            check_topic(self, "write", exchange, key)  # spec 15.11
    message = Message(exchange, routing_key, props, body, annotations)
    queues = vhost.route(target, keys, props.headers, message)
    if vhost.tracing:
        trace_publish(self, message, keys, queues)  # spec 17.3: after routing, unroutable too
    self._broker._publish_credit -= (len(body) + MESSAGE_OVERHEAD) * len(queues)
    if self._confirming:
        self._publish_seq += 1
    if not queues and target is vhost.default_exchange and routing_key.startswith(REPLY_TO_PREFIX):
        reply_consumer = vhost._reply_consumers.get(routing_key)
        if reply_consumer is not None:  # direct reply-to: no queue in between
            reply_consumer.channel._deliver_reply(reply_consumer, message)
            if self._confirming:
                self._confirm(True)
            return None
    if self._transactional:
        self._tx_publishes.append((message, queues, mandatory, ttl_ms))  # spec 8.8
        return None
    if len(queues) == 1 and not self._confirming:
        queues[0]._publish(message, ttl_ms, None, True)
        return None
    return self._deliver_publish(message, queues, mandatory, ttl_ms)


def _deliver_publish(
    self: Channel, message: Message, queues: list[Queue], mandatory: bool, ttl_ms: int | None
) -> Exception | None:
    """Enqueue a routed message; return what a confirming basic_publish must raise."""
    if not queues:
        if not self._vhost.was_held(message):  # held to route later: not lost (13.5)
            self._vhost.dropped["unroutable"] += 1
            if self._broker._losses is not None:
                self._record_unroutable(message, mandatory)
        if mandatory:
            self._return(message)  # spec 8.4
            if self._confirming:
                self._confirm(True)  # spec 8.2: return before ack
                return UnroutableError([_ReturnedMessage(message)])
        if self._confirming:
            self._confirm(True)
        return None
    rejected = self._enqueue(message, queues, ttl_ms, self._confirming)
    if self._confirming:
        self._confirm(not rejected)
        if rejected or (self._ack_nack_callback is None and not self._wait_for_store()):
            return NackError([_ReturnedMessage(message)])
    return None


def _enqueue(
    message: Message, queues: list[Queue], ttl_ms: int | None, told: bool = False
) -> bool:
    """Hand a routed message to its queues; True when at least one refused it.
    ``told``: the publisher hears of a refusal (a confirming channel's nack)."""
    if len(queues) == 1:
        return not queues[0]._publish(message, ttl_ms, None, True, told)
    rejected = False
    for queue in queues:
        if not queue._publish(message, ttl_ms, None, False, told):
            rejected = True  # spec 5.4: still lands in the others
    return rejected


def _record_unroutable(self: Channel, message: Message, mandatory: bool) -> None:
    """Note an unroutable publish for the strict check, unless its publisher was told
    (mandatory, with a return callback or a confirming channel to hear it)."""
    losses = self._broker._losses
    if losses is None:
        return
    if not mandatory:
        where = f"exchange {message.exchange!r} routed it to no queue (not mandatory: dropped)"
    elif self._return_callbacks or self._confirming:
        return  # basic.return reached the publisher (spec 8.4)
    else:
        where = (
            f"exchange {message.exchange!r} routed it to no queue; it was returned (mandatory) "
            f"to channel {self.channel_number}, which has no return callback"
        )
    losses.record("unroutable", self._vhost.name, message, where)


def _return(self: Channel, message: Message) -> None:
    method = BasicReturn(312, "NO_ROUTE", message.exchange, message.routing_key)
    for callback in self._return_callbacks:
        # each callback its own headers, as each would decode them from the wire
        properties = delivered_properties(message.properties)
        self.connection._push((callback, self, method, properties, message.body))


class _ReturnedMessage:
    """What UnroutableError / NackError list, shaped like pika's ReturnedMessage."""

    __slots__ = ("body", "method", "properties")

    def __init__(self, message: Message) -> None:
        self.method = BasicReturn(312, "NO_ROUTE", message.exchange, message.routing_key)
        self.properties = delivered_properties(message.properties)
        self.body = message.body


def _to_body(body: Any) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    if isinstance(body, bytes):
        return bytes(body)
    from ._errors import FrameSyntaxError

    raise FrameSyntaxError(f"body must be bytes or str, got {type(body).__name__}")


def _cc_bcc(
    routing_key: str, properties: BasicProperties
) -> tuple[tuple[str, ...], BasicProperties, Annotations | None]:
    """Routing keys from CC and BCC headers; BCC removed from the message (spec 1.2, 4.6, 8.6)."""
    headers = properties.headers
    if not headers or ("CC" not in headers and "BCC" not in headers):
        return (routing_key,), properties, None
    keys = [routing_key]
    bcc: list[str] = []
    for name, into in (("CC", keys), ("BCC", bcc)):
        if name not in headers:
            continue
        value = headers[name]
        if not isinstance(value, list) or not all(isinstance(v, (str, bytes)) for v in value):
            raise PreconditionFailed(f"invalid header '{name}': expected an array of longstr")
        into.extend(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value)
    annotations = None
    if "BCC" in headers:
        stripped = {k: v for k, v in headers.items() if k != "BCC"}
        from attrs import evolve

        properties = evolve(properties, headers=stripped)
        annotations = Annotations(bcc=tuple(bcc))
    all_keys = tuple(dict.fromkeys([*keys, *bcc]))
    return all_keys, properties, annotations
