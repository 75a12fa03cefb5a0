"""The method handler table (``HANDLERS``): each channel method, as a core call and a reply.

A handler makes the call of the core ``Channel`` method an in-process user
makes, and sends the reply (unless the method has ``nowait``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pamqp import commands

from amqpmodel import ChannelError

from ._codec import BIG_PART, Method, content_frames, get_ok_frame, make_method, method_ids
from ._content import Content

if TYPE_CHECKING:
    from ._protocol import ServerChannel, ServerConnection

__all__ = ["HANDLERS", "NO_REPLY"]


def _reply(
    connection: ServerConnection, server_channel: ServerChannel, method: Method, reply: Method
) -> None:
    if not getattr(method, "nowait", False):
        connection._send_method(server_channel.number, reply)


def _exchange_declare(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.exchange_declare(
        m.exchange,
        m.exchange_type,
        m.passive,
        m.durable,
        m.auto_delete,
        m.internal,
        m.arguments or {},
    )
    _reply(c, s, m, commands.Exchange.DeclareOk())


def _exchange_delete(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.exchange_delete(m.exchange, m.if_unused)
    _reply(c, s, m, commands.Exchange.DeleteOk())


def _exchange_bind(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.exchange_bind(m.destination, m.source, m.routing_key, m.arguments or {})
    _reply(c, s, m, commands.Exchange.BindOk())


def _exchange_unbind(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.exchange_unbind(m.destination, m.source, m.routing_key, m.arguments or {})
    _reply(c, s, m, commands.Exchange.UnbindOk())


def _queue_declare(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    ok = s.core.queue_declare(
        m.queue, m.passive, m.durable, m.exclusive, m.auto_delete, m.arguments or {}
    )
    _reply(
        c,
        s,
        m,
        make_method(
            commands.Queue.DeclareOk,
            queue=ok.queue,
            message_count=ok.message_count,
            consumer_count=ok.consumer_count,
        ),
    )


def _queue_bind(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.queue_bind(m.queue, m.exchange, m.routing_key, m.arguments or {})
    _reply(c, s, m, commands.Queue.BindOk())


def _queue_unbind(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.queue_unbind(m.queue, m.exchange, m.routing_key, m.arguments or {})
    _reply(c, s, m, commands.Queue.UnbindOk())


def _queue_purge(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    ok = s.core.queue_purge(m.queue)
    _reply(c, s, m, make_method(commands.Queue.PurgeOk, message_count=ok.message_count))


def _queue_delete(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    ok = s.core.queue_delete(m.queue, m.if_unused, m.if_empty)
    _reply(c, s, m, make_method(commands.Queue.DeleteOk, message_count=ok.message_count))


def _basic_qos(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.basic_qos(m.prefetch_size, m.prefetch_count, m.global_)
    c._send_method(s.number, commands.Basic.QosOk())


def _basic_consume(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    tag = s.core.basic_consume(
        m.queue, c._on_deliver, m.no_ack, m.exclusive, m.consumer_tag, m.arguments or {}
    )
    _reply(
        c, s, m, make_method(commands.Basic.ConsumeOk, consumer_tag=tag)
    )  # spec 7.2: before the first deliver


def _basic_cancel(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    # deliveries already assigned went out before this method (``_channel_method``)
    for method, properties, body in s.core.basic_cancel(m.consumer_tag):
        c._on_deliver(s.core, method, properties, body)
    _reply(c, s, m, make_method(commands.Basic.CancelOk, consumer_tag=m.consumer_tag))


def _basic_publish(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.content = Content(m)


def _basic_get(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    ok, properties, body = s.core.basic_get(m.queue, m.no_ack)
    if ok is None:
        c._send_method(s.number, make_method(commands.Basic.GetEmpty, cluster_id=""))
        return
    assert properties is not None and body is not None
    c._out.append(
        get_ok_frame(
            s.number,
            ok.delivery_tag,
            ok.redelivered,
            ok.exchange,
            ok.routing_key,
            ok.message_count,
        )
    )
    c._out += content_frames(s.number, properties, body, c.frame_max)
    if len(body) >= BIG_PART:
        c._big_parts = True


def _basic_ack(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.basic_ack(m.delivery_tag, m.multiple)


def _basic_nack(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.basic_nack(m.delivery_tag, m.multiple, m.requeue)


def _basic_reject(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.basic_reject(m.delivery_tag, m.requeue)


def _basic_recover(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.basic_recover(m.requeue)
    if isinstance(m, commands.Basic.Recover):
        c._send_method(s.number, commands.Basic.RecoverOk())


def _confirm_select(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.confirm_delivery(c._make_confirm_callback(s))
    _reply(c, s, m, commands.Confirm.SelectOk())


def _tx_select(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.tx_select()
    c._send_method(s.number, commands.Tx.SelectOk())


def _tx_commit(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    # commit-ok goes out from a callback the core runs after the store has committed
    # the transaction's persistent messages (spec 22.33), behind the returns the
    # commit caused (spec 8.8); the event loop never waits for the store
    s.core.tx_commit(on_committed=lambda: c._send_method(s.number, commands.Tx.CommitOk()))


def _tx_rollback(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.tx_rollback()
    c._send_method(s.number, commands.Tx.RollbackOk())


def _channel_flow(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    active = s.core.flow(m.active)
    c._send_method(s.number, make_method(commands.Channel.FlowOk, active=active))


def _channel_flow_ok(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    pass


def _channel_close(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    s.core.close()
    c._server_channels.pop(s.number, None)
    c._unconfirmed.discard(s)
    c._send_method(s.number, commands.Channel.CloseOk())


def _channel_close_ok(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    pass


def _channel_open_again(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    raise ChannelError(
        f"second 'channel.open' seen on channel {s.number}", *method_ids(m)
    )  # spec 9.4


def _access_request(c: ServerConnection, s: ServerChannel, m: Any) -> None:
    c._send_method(s.number, make_method(_ACCESS.RequestOk, ticket=1))


NO_REPLY = frozenset({_basic_publish, _basic_ack, _basic_nack, _basic_reject})

HANDLERS: dict[type[Method], Callable[[ServerConnection, ServerChannel, Any], None]] = {
    commands.Exchange.Declare: _exchange_declare,
    commands.Exchange.Delete: _exchange_delete,
    commands.Exchange.Bind: _exchange_bind,
    commands.Exchange.Unbind: _exchange_unbind,
    commands.Queue.Declare: _queue_declare,
    commands.Queue.Bind: _queue_bind,
    commands.Queue.Unbind: _queue_unbind,
    commands.Queue.Purge: _queue_purge,
    commands.Queue.Delete: _queue_delete,
    commands.Basic.Qos: _basic_qos,
    commands.Basic.Consume: _basic_consume,
    commands.Basic.Cancel: _basic_cancel,
    commands.Basic.Publish: _basic_publish,
    commands.Basic.Get: _basic_get,
    commands.Basic.Ack: _basic_ack,
    commands.Basic.Nack: _basic_nack,
    commands.Basic.Reject: _basic_reject,
    commands.Basic.Recover: _basic_recover,
    commands.Basic.RecoverAsync: _basic_recover,
    commands.Confirm.Select: _confirm_select,
    commands.Tx.Select: _tx_select,
    commands.Tx.Commit: _tx_commit,
    commands.Tx.Rollback: _tx_rollback,
    commands.Channel.Flow: _channel_flow,
    commands.Channel.FlowOk: _channel_flow_ok,
    commands.Channel.Close: _channel_close,
    commands.Channel.CloseOk: _channel_close_ok,
    commands.Channel.Open: _channel_open_again,
}
_ACCESS: Any = getattr(commands, "Access", None)
if _ACCESS is not None:  # pamqp drops the deprecated access class in some versions
    HANDLERS[_ACCESS.Request] = _access_request
