"""The errors kombu sees: py-amqp's exception classes that are amqpmodel's as well.

Code written for kombu on RabbitMQ catches py-amqp's classes
(``amqp.exceptions.NotFound``) or the transport's ``channel_errors`` and
``connection_errors``, and kombu's retry logic sorts failures by
``recoverable_*_errors``; a test written for amqpmodel catches
``amqpmodel.NotFound``. Each refusal is therefore raised as a class derived
from both, picked by reply code as py-amqp picks it (``amqp.exceptions.ERROR_MAP``),
so both kinds of ``except`` clause work and the reply code and text are
RabbitMQ's.
"""

from __future__ import annotations

from typing import Any

import amqp.exceptions as amqp_errors

import amqpmodel

__all__ = [
    "CHANNEL_ERRORS",
    "CONNECTION_ERRORS",
    "RECOVERABLE_CHANNEL_ERRORS",
    "RECOVERABLE_CONNECTION_ERRORS",
    "closed_channel_error",
    "closed_connection_error",
    "connection_refused",
    "returned",
    "translate",
]

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    amqp_errors.ConnectionError,
    OSError,
)
CHANNEL_ERRORS: tuple[type[BaseException], ...] = (amqp_errors.ChannelError,)
RECOVERABLE_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    amqp_errors.RecoverableConnectionError,
    amqp_errors.MessageNacked,
    OSError,
)
RECOVERABLE_CHANNEL_ERRORS: tuple[type[BaseException], ...] = (amqp_errors.RecoverableChannelError,)

_classes: dict[tuple[type[BaseException], ...], type[BaseException]] = {}


def _both(*bases: type[BaseException]) -> type[BaseException]:
    """The class deriving from ``bases`` (py-amqp's first, so its ``__str__`` wins)."""
    cls = _classes.get(bases)
    if cls is None:
        name = bases[-1].__name__
        cls = type(name, bases, {"__module__": "amqpmodel.kombu", "__doc__": bases[-1].__doc__})
        _classes[bases] = cls
    return cls


def _build(
    bases: tuple[type[BaseException], ...],
    reply_code: int,
    reply_text: str,
    method_sig: tuple[int, int] | None,
    core: BaseException,
) -> BaseException:
    cls = _both(*bases)
    error: Any = cls.__new__(cls)
    # py-amqp's constructor sets what its users read (reply_code, reply_text,
    # method_name); amqpmodel's attributes are copied from the core's error
    amqp_errors.AMQPError.__init__(error, reply_text, method_sig, None, reply_code)
    for name in ("explanation", "class_id", "method_id"):
        if hasattr(core, name):
            setattr(error, name, getattr(core, name))
    error.__cause__ = core
    return error  # type: ignore[no-any-return]


def _amqp_class(reply_code: int, connection_level: bool) -> type[BaseException]:
    default = amqp_errors.ConnectionError if connection_level else amqp_errors.ChannelError
    return amqp_errors.ERROR_MAP.get(reply_code, default)  # type: ignore[no-any-return]


def translate(error: amqpmodel.AMQPError) -> BaseException:
    """The exception py-amqp would raise for the channel.close or connection.close
    that ``error`` stands for, also an instance of ``type(error)``."""
    method_sig = (error.class_id, error.method_id) if error.class_id else None
    bases = (_amqp_class(error.reply_code, error.is_connection_error), type(error))
    return _build(bases, error.reply_code, error.reply_text, method_sig, error)


def connection_refused(error: amqpmodel.AMQPError) -> BaseException:
    """A refused connection (403 unknown user, 530 unknown vhost): py-amqp's class
    for the code, always one of the transport's ``connection_errors`` (py-amqp's
    AccessRefused alone is a channel error class)."""
    bases: tuple[type[BaseException], ...] = (_amqp_class(error.reply_code, True),)
    if not issubclass(bases[0], amqp_errors.ConnectionError):
        bases += (amqp_errors.IrrecoverableConnectionError,)
    if error.reply_code == 403:
        # a refused login says no more than RabbitMQ tells py-amqp (the reason is logged)
        return _build((*bases, type(error)), 403, _LOGIN_REFUSED, (0, 0), error)
    return _build((*bases, type(error)), error.reply_code, error.reply_text, (10, 40), error)


_LOGIN_REFUSED = (
    "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. "
    "For details see the broker logfile."
)


def closed_connection_error(reason: tuple[int, str] | None) -> BaseException:
    """Using a connection the broker closed: py-amqp's class for the close's code
    (320 CONNECTION_FORCED is recoverable, so kombu reconnects), or its
    ``RecoverableConnectionError`` after a normal close; also ``amqpmodel.ConnectionClosed``."""
    reply_code, reply_text = reason if reason is not None else (200, "connection already closed")
    core = amqpmodel.ConnectionClosed(reply_code, reply_text)
    amqp_class = amqp_errors.ERROR_MAP.get(reply_code, amqp_errors.RecoverableConnectionError)
    if not issubclass(amqp_class, amqp_errors.ConnectionError):
        amqp_class = amqp_errors.RecoverableConnectionError
    return _build((amqp_class, amqpmodel.ConnectionClosed), reply_code, reply_text, None, core)


def closed_channel_error(reason: tuple[int, str] | None) -> BaseException:
    """Using a channel after ``close()``: py-amqp says "connection already closed"
    with a ``RecoverableConnectionError``; also ``amqpmodel.ChannelClosed``."""
    reply_code, reply_text = reason if reason is not None else (200, "channel already closed")
    core = amqpmodel.ChannelClosed(reply_code, reply_text)
    return _build(
        (amqp_errors.RecoverableConnectionError, amqpmodel.ChannelClosed),
        reply_code,
        "connection already closed",
        None,
        core,
    )


def returned(reply_code: int, reply_text: str) -> BaseException:
    """What py-amqp hands a basic_return handler (or raises without one): the
    error for the return's code (312 NO_ROUTE), method basic.return."""
    core = amqpmodel.NoRoute() if reply_code == amqpmodel.NoRoute.reply_code else None
    bases: tuple[type[BaseException], ...] = (_amqp_class(reply_code, False),)
    if core is not None:
        bases += (amqpmodel.NoRoute,)
    return _build(bases, reply_code, reply_text, (60, 50), core or Exception(reply_text))
