"""The error hierarchy: every error amqpmodel raises is an ``AMQPError`` (spec 9).

``AMQPError`` is the one base, shaped as pika's is: each error carries a
``reply_code`` and a ``reply_text`` (RabbitMQ's, where RabbitMQ has one) and
says whether it concerns the connection (``is_connection_error``). Below it:

- refusals (``NotFound`` 404, ``PreconditionFailed`` 406, ...): the broker
  refused a method and closed the channel (channel-level, spec 9.1) or the
  connection (connection-level);
- ``ChannelClosed`` / ``ConnectionClosed``: a call on a channel or connection
  that was already closed; the code and text are those of that close;
- ``UnroutableError`` / ``NackError``: a publish on a confirming channel was
  returned (312 NO_ROUTE) or nacked; nothing was closed;
- ``CallbacksDidNotSettle``: ``Broker.run_until_idle`` ran out of rounds
  (also a ``RuntimeError``); nothing was closed.

Code that treats a call on something already closed differently from a fresh
refusal catches ``ChannelClosed``/``ConnectionClosed`` before ``AMQPError``.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AMQPError",
    "AccessRefused",
    "CallbacksDidNotSettle",
    "ChannelClosed",
    "ChannelError",
    "CommandInvalid",
    "ConnectionClosed",
    "ConnectionForced",
    "ContentTooLarge",
    "FrameError",
    "FrameSyntaxError",
    "InternalError",
    "InvalidPath",
    "NackError",
    "NoConsumers",
    "NoRoute",
    "NotAllowed",
    "NotFound",
    "NotImplementedByBroker",
    "PreconditionFailed",
    "ResourceError",
    "ResourceLocked",
    "UnexpectedFrame",
    "UnroutableError",
]

_MAX_REPLY_TEXT = 255  # spec 9.2: reply-text is a shortstr


class AMQPError(Exception):
    """The base of every amqpmodel error; as such, a refusal RabbitMQ would report
    with a channel.close or connection.close.

    ``reply_text`` is built as RabbitMQ builds it, ``"<NAME> - <explanation>"``
    (spec 9.2), so a test can compare it with what a real broker says.
    ``class_id``/``method_id`` name the AMQP method that failed; the channel
    fills them in when the error leaves one of its methods.
    """

    # class attributes for the refusals; instance attributes for the closes
    reply_code: int = 541
    reply_name: ClassVar[str] = "INTERNAL_ERROR"
    is_connection_error: bool = True
    reply_text: str

    def __init__(self, explanation: str = "", class_id: int = 0, method_id: int = 0) -> None:
        self.explanation = explanation
        text = f"{self.reply_name} - {explanation}" if explanation else self.reply_name
        encoded = text.encode("utf-8", "surrogatepass")  # names may hold raw bytes (wire)
        if len(encoded) > _MAX_REPLY_TEXT:
            # as RabbitMQ: the first 252 bytes (whole characters) and "..."
            text = encoded[: _MAX_REPLY_TEXT - 3].decode("utf-8", "ignore") + "..."
        self.reply_text = text
        self.class_id = class_id
        self.method_id = method_id
        super().__init__(self.reply_code, text)

    def __str__(self) -> str:
        return f"({self.reply_code}) {self.reply_text}"


class _ChannelLevel(AMQPError):
    is_connection_error = False


class ContentTooLarge(_ChannelLevel):
    reply_code = 311
    reply_name = "CONTENT_TOO_LARGE"


class NoRoute(_ChannelLevel):
    reply_code = 312
    reply_name = "NO_ROUTE"


class NoConsumers(_ChannelLevel):
    reply_code = 313
    reply_name = "NO_CONSUMERS"


class AccessRefused(_ChannelLevel):
    reply_code = 403
    reply_name = "ACCESS_REFUSED"


class NotFound(_ChannelLevel):
    reply_code = 404
    reply_name = "NOT_FOUND"


class ResourceLocked(_ChannelLevel):
    reply_code = 405
    reply_name = "RESOURCE_LOCKED"


class PreconditionFailed(_ChannelLevel):
    reply_code = 406
    reply_name = "PRECONDITION_FAILED"


class ConnectionForced(AMQPError):
    reply_code = 320
    reply_name = "CONNECTION_FORCED"


class InvalidPath(AMQPError):
    reply_code = 402
    reply_name = "INVALID_PATH"


class FrameError(AMQPError):
    reply_code = 501
    reply_name = "FRAME_ERROR"


class FrameSyntaxError(AMQPError, TypeError):
    """502: a value that cannot be encoded in an AMQP frame.

    In process this is what a wrong argument type, a name over 255 bytes or a
    malformed field table becomes; it is also a ``TypeError`` so that ordinary
    Python code catching type errors still sees it.
    """

    reply_code = 502
    reply_name = "SYNTAX_ERROR"


class CommandInvalid(AMQPError):
    reply_code = 503
    reply_name = "COMMAND_INVALID"


class ChannelError(AMQPError):
    reply_code = 504
    reply_name = "CHANNEL_ERROR"


class UnexpectedFrame(AMQPError):
    reply_code = 505
    reply_name = "UNEXPECTED_FRAME"


class ResourceError(AMQPError):
    reply_code = 506
    reply_name = "RESOURCE_ERROR"


class NotAllowed(AMQPError):
    reply_code = 530
    reply_name = "NOT_ALLOWED"


class NotImplementedByBroker(AMQPError):
    reply_code = 540
    reply_name = "NOT_IMPLEMENTED"


class InternalError(AMQPError):
    reply_code = 541
    reply_name = "INTERNAL_ERROR"


class _Report(AMQPError):
    """Base of the errors that report a state instead of refusing a method: they
    close nothing (the channel's method wrapper lets them through untouched)."""

    is_connection_error = False

    def __init__(self, reply_code: int, reply_text: str) -> None:
        Exception.__init__(self, reply_code, reply_text)
        self.reply_code = reply_code
        self.reply_text = reply_text
        self.explanation = reply_text
        self.class_id = 0
        self.method_id = 0


class _Closed(_Report):
    """Base of the "already closed" errors; carries the reason of the close."""


class ChannelClosed(_Closed):
    """Raised by any call on a channel that is already closed (spec 9.3).

    ``reply_code``/``reply_text`` are those of the close: 200 for a close by the
    client, the refusal's code and text when a channel error closed it.
    """


class ConnectionClosed(_Closed):
    """Raised by any call on a connection (or its channels) that is already closed.

    ``reply_code``/``reply_text`` are those of the close (320 when the broker
    forced it, the refusal's when a connection error closed it).
    """

    is_connection_error = True


class UnroutableError(_Report):
    """A mandatory message published on a confirming channel was returned (as pika).

    ``reply_code``/``reply_text`` are the basic.return's: 312 ``NO_ROUTE`` (spec 8.4);
    ``messages`` holds the returned messages. The channel stays open.
    """

    def __init__(self, messages: list[Any]) -> None:
        super().__init__(312, "NO_ROUTE")
        self.messages = messages
        self.args = (f"{len(messages)} unroutable message(s) returned",)

    def __str__(self) -> str:
        return str(self.args[0])


class NackError(_Report):
    """A message published on a confirming channel was nacked (as pika; spec 8.3).

    basic.nack carries no reply code: ``reply_code`` is 0. ``messages`` holds the
    nacked messages. The channel stays open.
    """

    def __init__(self, messages: list[Any]) -> None:
        super().__init__(0, "message(s) nacked by the broker")
        self.messages = messages
        self.args = (f"{len(messages)} message(s) nacked by the broker",)

    def __str__(self) -> str:
        return str(self.args[0])


class CallbacksDidNotSettle(_Report, RuntimeError):
    """``Broker.run_until_idle`` ran its bound of rounds and callbacks were still pending.

    Usually a callback that republishes what it consumes, forever. Not from
    AMQP: ``reply_code`` is 0; also a ``RuntimeError``, as it was before.
    """

    def __init__(self, message: str) -> None:
        super().__init__(0, message)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])
