"""pika 0.x call forms, accepted beside 1.x's so that code printed for 0.x runs.

The RabbitMQ tutorials (and much code still in use) were written for pika
0.x: ``basic_consume(callback, queue='hello', no_ack=True)``,
``exchange_declare(exchange='logs', type='fanout')``,
``queue_declare(exclusive=True)``. pika 0.x does not run on Python 3.10+, and
pika 1.x refuses these forms. Each function here recognises the 0.x form by
its arguments, warns (``DeprecationWarning`` naming the 1.x call) and makes
the 1.x call; a 1.x call goes straight through, unchanged.

A consumer callback registered with the 0.x form receives its body as
``Py2Bytes``: ``bytes`` (equal, hashed and printed as bytes) whose search
methods also take ``str``, as Python 2's ``str`` was bytes. So a 0.x
callback's ``body.count('.')`` works as it did; a 1.x callback gets ``bytes``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pika.adapters.blocking_connection as _pika_blocking

__all__ = [
    "Py2Bytes",
    "add_timeout",
    "basic_consume",
    "basic_get",
    "basic_qos",
    "exchange_declare",
    "queue_declare",
    "queue_delete",
    "queue_purge",
    "queue_unbind",
]

_Channel = _pika_blocking.BlockingChannel
_Connection = _pika_blocking.BlockingConnection


def _warn(old: str, new: str, stacklevel: int = 3) -> None:
    warnings.warn(
        f"{old} is the pika 0.x form; in pika 1.x it is {new}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def _bytes_arg(value: Any) -> Any:
    return value.encode() if isinstance(value, str) else value


class Py2Bytes(bytes):
    """A body for a pika 0.x callback: bytes whose search methods take str too."""

    __slots__ = ()

    def count(self, sub: Any, *args: Any) -> int:
        return bytes.count(self, _bytes_arg(sub), *args)

    def find(self, sub: Any, *args: Any) -> int:
        return bytes.find(self, _bytes_arg(sub), *args)

    def rfind(self, sub: Any, *args: Any) -> int:
        return bytes.rfind(self, _bytes_arg(sub), *args)

    def index(self, sub: Any, *args: Any) -> int:
        return bytes.index(self, _bytes_arg(sub), *args)

    def startswith(self, prefix: Any, *args: Any) -> bool:
        if isinstance(prefix, tuple):
            prefix = tuple(_bytes_arg(p) for p in prefix)
        return bytes.startswith(self, _bytes_arg(prefix), *args)

    def endswith(self, suffix: Any, *args: Any) -> bool:
        if isinstance(suffix, tuple):
            suffix = tuple(_bytes_arg(s) for s in suffix)
        return bytes.endswith(self, _bytes_arg(suffix), *args)

    def split(self, sep: Any = None, maxsplit: int = -1) -> list[bytes]:  # type: ignore[override]
        return bytes.split(self, _bytes_arg(sep), maxsplit)

    def replace(self, old: Any, new: Any, count: int = -1) -> bytes:  # type: ignore[override]
        return bytes.replace(self, _bytes_arg(old), _bytes_arg(new), count)

    def strip(self, chars: Any = None) -> bytes:
        return bytes.strip(self, _bytes_arg(chars))

    def __contains__(self, item: Any) -> bool:
        return bytes.__contains__(self, _bytes_arg(item))


def _py2_callback(callback: Callable[..., Any]) -> Callable[..., Any]:
    def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> Any:
        return callback(channel, method, properties, Py2Bytes(body))

    return on_message


def basic_consume(self: Any, *args: Any, **kwargs: Any) -> str:
    """1.x: ``basic_consume(queue, on_message_callback, auto_ack=False, exclusive=False,
    consumer_tag=None, arguments=None)``; 0.x: ``basic_consume(consumer_callback,
    queue='', no_ack=False, exclusive=False, consumer_tag=None, arguments=None)``."""
    legacy = (args and callable(args[0])) or "consumer_callback" in kwargs or "no_ack" in kwargs
    if not legacy:
        return _Channel.basic_consume(self, *args, **kwargs)  # type: ignore[no-any-return]
    names = ("consumer_callback", "queue", "no_ack", "exclusive", "consumer_tag", "arguments")
    if len(args) > len(names):
        raise TypeError(f"basic_consume() takes at most {len(names)} arguments")
    given = dict(zip(names, args, strict=False))
    for name, value in kwargs.items():
        if name in given:
            raise TypeError(f"basic_consume() got multiple values for argument '{name}'")
        given[name] = value
    unknown = set(given) - set(names) - {"on_message_callback", "auto_ack"}
    if unknown:
        raise TypeError(
            f"basic_consume() got an unexpected keyword argument '{sorted(unknown)[0]}'"
        )
    callback = given.pop("consumer_callback", None) or given.pop("on_message_callback", None)
    auto_ack = given.pop("no_ack", given.pop("auto_ack", False))
    _warn(
        "basic_consume(consumer_callback, queue=..., no_ack=...)",
        "basic_consume(queue, on_message_callback, auto_ack=...)",
    )
    return _Channel.basic_consume(  # type: ignore[no-any-return]
        self,
        queue=given.pop("queue", ""),
        on_message_callback=_py2_callback(callback) if callback is not None else None,
        auto_ack=auto_ack,
        **given,
    )


def exchange_declare(self: Any, *args: Any, **kwargs: Any) -> Any:
    """0.x (before 0.10): ``exchange_declare(exchange=..., type='fanout')``."""
    if "type" in kwargs:
        if "exchange_type" in kwargs:
            raise TypeError("exchange_declare() got both 'type' and 'exchange_type'")
        _warn("exchange_declare(type=...)", "exchange_declare(exchange_type=...)")
        kwargs["exchange_type"] = kwargs.pop("type")
    return _Channel.exchange_declare(self, *args, **kwargs)


def _default_queue(method: str, self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """0.x's ``queue`` argument defaulted to '' (a server-named queue, or the last declared)."""
    if not args and "queue" not in kwargs:
        _warn(f"{method}() without a queue", f"{method}(queue='', ...)", stacklevel=4)
        kwargs["queue"] = ""
    return getattr(_Channel, method)(self, *args, **kwargs)


def queue_declare(self: Any, *args: Any, **kwargs: Any) -> Any:
    return _default_queue("queue_declare", self, args, kwargs)


def queue_delete(self: Any, *args: Any, **kwargs: Any) -> Any:
    return _default_queue("queue_delete", self, args, kwargs)


def queue_purge(self: Any, *args: Any, **kwargs: Any) -> Any:
    return _default_queue("queue_purge", self, args, kwargs)


def queue_unbind(self: Any, *args: Any, **kwargs: Any) -> Any:
    return _default_queue("queue_unbind", self, args, kwargs)


def basic_get(self: Any, *args: Any, **kwargs: Any) -> Any:
    """0.x: ``basic_get(queue=None, no_ack=False)``."""
    if "no_ack" in kwargs:
        _warn("basic_get(no_ack=...)", "basic_get(queue, auto_ack=...)")
        kwargs["auto_ack"] = kwargs.pop("no_ack")
    if not args and "queue" not in kwargs:
        _warn("basic_get() without a queue", "basic_get(queue, ...)")
        kwargs["queue"] = ""
    return _Channel.basic_get(self, *args, **kwargs)


def basic_qos(self: Any, *args: Any, **kwargs: Any) -> Any:
    """0.x: ``basic_qos(prefetch_size=0, prefetch_count=0, all_channels=False)``."""
    if "all_channels" in kwargs:
        _warn("basic_qos(all_channels=...)", "basic_qos(global_qos=...)")
        kwargs["global_qos"] = kwargs.pop("all_channels")
    return _Channel.basic_qos(self, *args, **kwargs)


def add_timeout(self: Any, deadline: float, callback: Callable[[], None]) -> Any:
    """0.x: ``connection.add_timeout(deadline, callback)``."""
    _warn("add_timeout(deadline, callback)", "call_later(delay, callback)")
    return _Connection.call_later(self, deadline, callback)
