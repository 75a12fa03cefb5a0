"""Channels: ``Channel``'s state, lifecycle and callbacks, with its AMQP methods bound from their modules.

Method and argument names follow pika's ``BlockingChannel``. Every method
takes the broker lock, settles due timers, does its work, and queues any
callbacks for the connection's next drain; a refusal raises the
``AMQPError`` RabbitMQ would send, after closing this channel (spec 9.3) or
the whole connection (spec 9.1).

The methods live in the ``_channel_*`` modules, one responsibility each, as
functions of ``self: Channel`` bound in the class body (as ``server/_protocol.py``
binds its parts): they hand ``self`` on as a ``Channel`` (to consumers, the
journal, pending callbacks), which mixin methods could not do without casts,
and a call costs what it costs for a method defined here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import (
    _channel_ack_timeout,
    _channel_blocking,
    _channel_confirm_tx,
    _channel_consume,
    _channel_entities,
    _channel_inspect,
    _channel_publish,
    _channel_settle,
)
from ._access import ChannelAccess
from ._channel_base import Unacked, amqp_method
from ._errors import AMQPError, ChannelClosed, ConnectionClosed, NotImplementedByBroker, _Report
from ._validation import boolean

if TYPE_CHECKING:
    from ._channel_blocking import _ConsumeGenerator
    from ._connection import Connection
    from ._dispatch import Waitlist
    from ._properties import Message
    from ._queue import Consumer, Queue
    from ._reply_to import ReplyConsumer

__all__ = ["Channel"]


class Channel:
    """An AMQP channel of a connection (pika ``BlockingChannel`` names and arguments)."""

    def __init__(self, connection: Connection, channel_number: int) -> None:
        self.connection = connection
        self.channel_number = channel_number
        self._broker = connection.broker
        self._lock = connection.broker._lock
        self._timers = connection.broker._timers
        self._now = connection.broker.clock.now
        self._raw_now = connection.broker._raw_now  # for the hot paths' due-timer check
        self._vhost = connection.vhost
        self._queues = connection.vhost.queues  # the same dict, for the publish hot path
        self._closed: tuple[int, str] | None = None
        self._delivery_tag = 0
        self._unacked: dict[int, Unacked] = {}
        self._consumers: dict[str, Consumer] = {}
        # the queues consumed from, each with its consumers from this channel in
        # registration order: which queues get freed credit first (spec 7.5)
        self._consumed: dict[Queue, dict[Consumer, None]] = {}
        self._consumer_seq = 0
        # waitlists of consumers held back by this channel (see _dispatch.py)
        self._held_by_prefetch: dict[Waitlist, None] = {}
        self._held_by_pause: dict[Waitlist, None] = {}
        self._prefetch = 0  # per-consumer limit for consumers created from now on (spec 7.5)
        self._global_prefetch = 0
        self._global_unacked = 0  # consumer deliveries awaiting ack (basic.get excluded)
        self._last_queue: str | None = None
        self._confirming = False
        self._publish_seq = 0
        self._ack_nack_callback: Callable[[Any], Any] | None = None
        self._held_confirms = 0  # confirms waiting for the store's commit (spec 22.28)
        self._transactional = False
        self._tx_publishes: list[tuple[Message, list[Queue], bool, int | None]] = []
        self._tx_settles: list[tuple[str, list[tuple[int, Unacked]], bool]] = []
        self._return_callbacks: list[Callable[..., Any]] = []
        self._cancel_callbacks: list[Callable[..., Any]] = []
        self._close_callbacks: list[Callable[..., Any]] = []
        self._consuming = False
        self._generator: _ConsumeGenerator | None = None
        # consumer ack timeout (spec 0.8): (delivery tag, time) marks taken while
        # unacked deliveries exist; a delivery with a tag up to a mark's tag was
        # made no later than that mark's time. Empty when not watching.
        self._ack_marks: list[tuple[int, float]] = []
        self._ack_hint = 0  # an unacked delivery that can time out, if still unacked
        self._ack_armed = False  # a check of the oldest unacked delivery's age is due
        self._reply_consumer: ReplyConsumer | None = None  # direct reply-to
        self._paused = False  # deliveries held back: the client is not reading (flow control)
        self._access = ChannelAccess()  # its last successful permission checks (spec 15.18)
        # the publish shortcut applies: no transaction, no tracer on the vhost, and a
        # write on the default exchange permitted once (_refresh_plain_publish)
        self._plain_publish = False

    def __repr__(self) -> str:
        state = "open" if self._closed is None else "closed"
        return f"<Channel {self.channel_number} {state} unacked={len(self._unacked)} consumers={len(self._consumers)}>"

    # ----------------------------------------------------------------- state

    @property
    def is_open(self) -> bool:
        return self._closed is None

    @property
    def is_closed(self) -> bool:
        return self._closed is not None

    @property
    def consumer_tags(self) -> list[str]:
        return list(self._consumers)

    @property
    def next_publish_seq_no(self) -> int:
        return self._publish_seq + 1

    @property
    def unacked_delivery_tags(self) -> list[int]:
        return list(self._unacked)

    # read-only inspection for views and drivers: what this channel holds, for whom
    unacked_messages = _channel_inspect.unacked_messages
    consumers = property(_channel_inspect.channel_consumers)

    def _repr_html_(self) -> str:
        from ._inspect import channel_html

        return channel_html(self)

    def _refresh_plain_publish(self) -> None:
        """After a transaction starts, the tracer is turned on or off, or a first write
        on the default exchange is permitted (spec 8.8, 15.4, 17.3)."""
        self._plain_publish = (
            not self._transactional
            and not self._vhost.tracing
            and ("write", "exchange", "") in self._access.cache
        )

    def _enter(self) -> None:
        if self._closed is not None:
            connection_closed = self.connection._closed
            if connection_closed is not None:
                raise ConnectionClosed(*connection_closed)
            raise ChannelClosed(*self._closed)
        self._broker.tick()
        if self._closed is not None:  # the tick closed it (consumer ack timeout, spec 0.8)
            raise ChannelClosed(*self._closed)

    def _fail(self, error: AMQPError, class_id: int, method_id: int) -> None:
        if isinstance(error, _Report):
            return  # a close seen again, a confirm's outcome: nothing to close now
        if not error.class_id:
            error.class_id, error.method_id = class_id, method_id
        if error.is_connection_error:
            self.connection._close_by_broker(error.reply_code, error.reply_text, error)
        else:
            self._shutdown(error.reply_code, error.reply_text, error)

    def _shutdown(self, reply_code: int, reply_text: str, error: AMQPError | None) -> None:
        """Close: requeue unacked (spec 7.13), drop consumers and the transaction (9.3)."""
        if self._closed is not None:
            return
        self._closed = (reply_code, reply_text)
        self._drop_reply_consumer()
        self._tx_publishes.clear()
        for _, settles, _ in self._tx_settles:
            for tag, record in settles:
                self._unacked[tag] = record
        self._tx_settles.clear()
        for consumer in list(self._consumers.values()):
            self._remove_consumer(consumer)
        self._requeue_all("lost")
        self.connection._channels.pop(self.channel_number, None)
        for callback in self._close_callbacks:
            self.connection._push((_call_close_callback, None, callback, self, error))
        self._broker._signal(self.connection)

    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Close the channel; idempotent (spec 7.13)."""
        with self._lock:
            self._shutdown(reply_code, reply_text, None)

    @amqp_method(20, 20)
    def flow(self, active: bool) -> bool:
        """channel.flow: RabbitMQ refuses to stop a channel's deliveries this way (spec 9.4)."""
        if not boolean(active, "active"):
            raise NotImplementedByBroker("active=false")
        return True

    # ----------------------------------------------------------------- callbacks

    def add_on_return_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(channel, BasicReturn, properties, body)`` for returned messages (spec 8.4)."""
        self._return_callbacks.append(callback)

    def add_on_cancel_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(BasicCancel)`` when the broker cancels a consumer of this channel (spec 7.8)."""
        self._cancel_callbacks.append(callback)

    def add_on_close_callback(self, callback: Callable[..., Any]) -> None:
        """``callback(channel, reason)`` when the channel closes; reason is the AMQPError or None."""
        self._close_callbacks.append(callback)

    # ----------------------------------------------------------------- name shortcuts, exchanges, queues (spec 1, 2)

    _queue_name = _channel_entities._queue_name
    _existing_queue = _channel_entities._existing_queue
    _check_exclusive = _channel_entities._check_exclusive
    _existing_exchange = _channel_entities._existing_exchange
    _not_default = staticmethod(_channel_entities._not_default)
    exchange_declare = _channel_entities.exchange_declare
    exchange_delete = _channel_entities.exchange_delete
    _binding_parts = _channel_entities._binding_parts
    exchange_bind = _channel_entities.exchange_bind
    exchange_unbind = _channel_entities.exchange_unbind
    queue_declare = _channel_entities.queue_declare
    _queue_binding_parts = _channel_entities._queue_binding_parts
    queue_bind = _channel_entities.queue_bind
    queue_unbind = _channel_entities.queue_unbind
    queue_purge = _channel_entities.queue_purge
    queue_delete = _channel_entities.queue_delete
    _sync_entities = _channel_entities._sync_entities

    # ----------------------------------------------------------------- publishing (spec 1, 3.2, 8)

    basic_publish = _channel_publish.basic_publish
    _publish = _channel_publish._publish
    _deliver_publish = _channel_publish._deliver_publish
    _enqueue = staticmethod(_channel_publish._enqueue)
    _return = _channel_publish._return
    _record_unroutable = _channel_publish._record_unroutable

    # ----------------------------------------------------------------- confirms and transactions (spec 8, 22)

    confirm_delivery = _channel_confirm_tx.confirm_delivery
    _confirm = _channel_confirm_tx._confirm
    _release_confirm = _channel_confirm_tx._release_confirm
    _wait_for_store = _channel_confirm_tx._wait_for_store
    tx_select = _channel_confirm_tx.tx_select
    _require_tx = _channel_confirm_tx._require_tx
    tx_commit = _channel_confirm_tx.tx_commit
    _after_commit = _channel_confirm_tx._after_commit
    tx_rollback = _channel_confirm_tx.tx_rollback

    # ----------------------------------------------------------------- consuming (spec 7)

    basic_get = _channel_consume.basic_get
    basic_consume = _channel_consume.basic_consume
    _new_consumer_tag = _channel_consume._new_consumer_tag
    _drop_reply_consumer = _channel_consume._drop_reply_consumer
    _deliver_reply = _channel_consume._deliver_reply
    basic_cancel = _channel_consume.basic_cancel
    _take_undelivered = _channel_consume._take_undelivered
    _pause_deliveries = _channel_consume._pause_deliveries
    _remove_consumer = _channel_consume._remove_consumer
    _forget_consumer = _channel_consume._forget_consumer
    _consumer_queues = _channel_consume._consumer_queues
    _broker_cancel = _channel_consume._broker_cancel
    _deliver = _channel_consume._deliver
    basic_qos = _channel_consume.basic_qos

    # ----------------------------------------------------------------- consumer ack timeout (spec 0.8)

    _ACK_CHECK_INTERVAL = 60.0  # seconds between checks, as RabbitMQ's channel tick

    _ack_timeout_ms = _channel_ack_timeout._ack_timeout_ms
    _record_can_time_out = _channel_ack_timeout._record_can_time_out
    _any_can_time_out = _channel_ack_timeout._any_can_time_out
    _held_tags = _channel_ack_timeout._held_tags
    _watch_acks = _channel_ack_timeout._watch_acks
    _arm_ack_check = _channel_ack_timeout._arm_ack_check
    _check_acks = _channel_ack_timeout._check_acks

    # ----------------------------------------------------------------- settling (spec 7.11, 7.12)

    _collect = _channel_settle._collect
    _apply_settles = _channel_settle._apply_settles
    _settle_tags = _channel_settle._settle_tags
    _settle = _channel_settle._settle
    basic_ack = _channel_settle.basic_ack
    basic_nack = _channel_settle.basic_nack
    basic_reject = _channel_settle.basic_reject
    basic_recover = _channel_settle.basic_recover
    _requeue_all = _channel_settle._requeue_all

    # ----------------------------------------------------------------- blocking consumption (pika)

    start_consuming = _channel_blocking.start_consuming
    stop_consuming = _channel_blocking.stop_consuming
    consume = _channel_blocking.consume
    cancel = _channel_blocking.cancel
    get_waiting_message_count = _channel_blocking.get_waiting_message_count


def _call_close_callback(
    _: Any, callback: Callable[..., Any], channel: Channel, reason: Any
) -> None:
    callback(channel, reason)
