"""Messages and their 14 basic properties, and the checks on AMQP field tables."""

from __future__ import annotations

import datetime
import decimal
import threading
from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from ._errors import FrameSyntaxError
from ._field_values import TAGGED_INTS

__all__ = [
    "Annotations",
    "BasicProperties",
    "Death",
    "DeliveredProperties",
    "EncodedProperties",
    "Message",
    "check_field_table",
    "copy_table",
    "clone_properties",
    "delivered_properties",
    "offset_properties",
    "to_properties",
    "with_headers",
]

_PROPERTY_NAMES = (
    "content_type",
    "content_encoding",
    "headers",
    "delivery_mode",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "type",
    "user_id",
    "app_id",
    "cluster_id",
)


@attrs.frozen(slots=True)
class BasicProperties:
    """The AMQP 0-9-1 basic content properties, as pika names them.

    ``headers`` is a plain dict of AMQP field values. Every delivery (consumer
    callback, ``consume()``, ``basic_get``, basic.return) gets its own copy of
    the headers, so a handler may change what it received without changing
    the queued message (``delivered_properties``).
    """

    content_type: str | None = None
    content_encoding: str | None = None
    headers: dict[str, Any] | None = None
    delivery_mode: int | None = None
    priority: int | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    expiration: str | None = None
    message_id: str | None = None
    timestamp: int | datetime.datetime | None = None
    type: str | None = None
    user_id: str | None = None
    app_id: str | None = None
    cluster_id: str | None = None


EMPTY_PROPERTIES = BasicProperties()


def delivered_properties(properties: BasicProperties) -> BasicProperties:
    """What one delivery of a message hands out: ``properties`` with private headers.

    A queued message's properties are shared by every queue it reached and by
    each of its redeliveries; over the wire each delivery decodes its own, so
    a handler that changes ``headers`` (``headers["attempt"] += 1``, an
    ``x-death`` entry) and requeues must not change the queued message. The
    frozen object is shared when it holds nothing mutable (no headers: the hot
    path costs one attribute test); otherwise the delivery gets a
    ``DeliveredProperties``, which copies the headers when they are first read,
    or, for an ``EncodedProperties``, a copy of the containers that keeps its
    bytes (a driver may resend them: the copy is equal to them).
    """
    headers = properties.headers
    if headers is None:
        return properties
    if type(properties) is not EncodedProperties:
        return _delivered(properties, None)
    copy = _clone(properties, EncodedProperties, copy_table(headers))
    encoded = getattr(properties, "encoded", None)  # unset after attrs.evolve: stale
    if encoded is not None:
        object.__setattr__(copy, "encoded", encoded)
    return copy


_FIELDS = {name: BasicProperties.__dict__[name] for name in _PROPERTY_NAMES}
_LONG = TAGGED_INTS[b"l"]
_FILLING = threading.RLock()  # held while a DeliveredProperties fills a field


class DeliveredProperties(BasicProperties):
    """One delivery's own copy of a message's properties, made field by field as they
    are first read; with a stream's ``x-stream-offset`` header (spec 12.17) added
    when ``_offset`` is not None.

    Copying fourteen fields and a headers table up front cost more than the
    rest of a delivery, and most handlers read a field or two. This starts
    with only the message's properties (``_source``): a field read for the
    first time is taken from them and kept; ``headers`` is a private copy
    (tables and arrays copied too), so what the handler changes stays its
    own. The source never changes (properties are frozen and the broker
    never changes a queued message's headers), so copying later is the same
    as copying now. It reads, compares, copies and pickles as the plain
    ``BasicProperties`` it stands for (``attrs.evolve`` of it gives another
    ``DeliveredProperties``, with every field set). Made by
    ``delivered_properties`` and ``offset_properties``; not for users.
    """

    __slots__ = ("_offset", "_source")

    def __getattr__(self, name: str) -> Any:
        # reached only for a field not read yet (its slot is empty): fill it and keep it,
        # under a lock, so that threads reading it first at once get one headers dict
        field = _FIELDS.get(name)
        if field is None:
            raise AttributeError(name)
        with _FILLING:
            try:
                return field.__get__(self, DeliveredProperties)  # another thread filled it
            except AttributeError:
                pass
            source = self._source
            if name == "headers":
                headers = source.headers
                value: Any = copy_table(headers) if headers else {}
                if self._offset is not None:
                    value["x-stream-offset"] = _LONG(self._offset)
            else:
                value = getattr(source, name)
            field.__set__(self, value)
            return value

    def __eq__(self, other: object) -> bool:
        # equal to what a plain BasicProperties is equal to (attrs: the same class only)
        if type(other) is not BasicProperties and type(other) is not DeliveredProperties:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in _PROPERTY_NAMES)

    __hash__ = BasicProperties.__hash__

    def plain(self) -> BasicProperties:
        """The plain ``BasicProperties`` this stands for."""
        return _clone(self, BasicProperties, self.headers)

    def __repr__(self) -> str:
        return repr(self.plain())

    def __reduce__(self) -> tuple[Any, ...]:
        return BasicProperties, tuple(getattr(self, name) for name in _PROPERTY_NAMES)


def _delivered_factory() -> Callable[[BasicProperties, int | None], DeliveredProperties]:
    # an __init__ would store through the frozen class's object.__setattr__, twice
    # the cost of the slot descriptors; this is paid once per in-process delivery
    new = object.__new__
    set_source = DeliveredProperties.__dict__["_source"].__set__
    set_offset = DeliveredProperties.__dict__["_offset"].__set__

    def delivered(source: BasicProperties, offset: int | None) -> DeliveredProperties:
        properties: DeliveredProperties = new(DeliveredProperties)
        set_source(properties, source)
        set_offset(properties, offset)
        return properties

    return delivered


_delivered = _delivered_factory()


def offset_properties(source: BasicProperties, offset: int) -> DeliveredProperties:
    """One in-process delivery's properties for a stream message at ``offset``."""
    return _delivered(source, offset)


def _clone_function() -> Callable[[BasicProperties, type[BasicProperties], Any], BasicProperties]:
    # The attrs __init__ of a frozen class goes through object.__setattr__ per
    # field (about 1 µs for 14); storing through the slot descriptors directly
    # costs a third less, which is most of the price of a delivery with headers.
    slots = BasicProperties.__dict__
    (ct, ce, hd, dm, pr, ci, rt, ex, mi, ts, ty, ui, ai, cl) = (
        slots[name].__set__ for name in _PROPERTY_NAMES
    )
    new = object.__new__

    def clone(p: BasicProperties, cls: type[BasicProperties], headers: Any) -> BasicProperties:
        o: BasicProperties = new(cls)
        ct(o, p.content_type)
        ce(o, p.content_encoding)
        hd(o, headers)
        dm(o, p.delivery_mode)
        pr(o, p.priority)
        ci(o, p.correlation_id)
        rt(o, p.reply_to)
        ex(o, p.expiration)
        mi(o, p.message_id)
        ts(o, p.timestamp)
        ty(o, p.type)
        ui(o, p.user_id)
        ai(o, p.app_id)
        cl(o, p.cluster_id)
        return o

    return clone


_clone = _clone_function()


def clone_properties(properties: BasicProperties, headers: dict[str, Any]) -> BasicProperties:
    """``properties`` with other ``headers``, as a plain ``BasicProperties`` (no wire
    bytes kept): the cheapest way to build a delivery's own properties."""
    return _clone(properties, BasicProperties, headers)


def copy_table(table: dict[str, Any]) -> dict[str, Any]:
    """A field table's own copy: nested tables and arrays are copied too (every other
    field value is immutable), so a change to it reaches nothing else."""
    for value in table.values():
        if isinstance(value, (dict, list)):
            return {key: _copy_value(value) for key, value in table.items()}
    return table.copy()


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_value(item) for item in value]
    return value


class EncodedProperties(BasicProperties):
    """Properties a wire driver decoded, still carrying their encoded bytes.

    The socket adapter resends a message's properties byte for byte (as
    RabbitMQ does) instead of re-encoding them, which keeps every header's
    AMQP type and costs nothing per delivery. Any change to the properties
    (``attrs.evolve``, as dead-lettering does) builds an instance without
    ``encoded``, so stale bytes are never sent. Not for users.
    """

    __slots__ = ("encoded",)

    @classmethod
    def decoded(cls, encoded: bytes, **values: Any) -> EncodedProperties:
        properties = cls(**values)
        object.__setattr__(properties, "encoded", encoded)
        return properties


@attrs.frozen(slots=True)
class Death:
    """One entry of a message's death history: a (queue, reason) pair (spec 4.4)."""

    queue: str
    reason: str
    count: int
    time: float
    exchange: str
    routing_keys: tuple[str, ...]
    original_expiration: str | None = None


@attrs.frozen(slots=True)
class Annotations:
    """What the broker knows of a message beyond its properties.

    ``bcc`` keeps the BCC routing keys stripped from the headers at publish
    (needed again to dead-letter, spec 4.3); ``deaths`` is the death history,
    most recent first, kept here rather than read back from headers so that a
    client-set ``x-death`` is ignored (spec 0.3); ``first_death`` is (queue,
    reason, exchange) of the first dead-lettering (spec 4.5).
    """

    bcc: tuple[str, ...] = ()
    deaths: tuple[Death, ...] = ()
    first_death: tuple[str, str, str] | None = None


@attrs.define(slots=True, eq=False)
class Message:
    """A published message as a queue holds it.

    One ``Message`` is shared by every queue a publish reaches: the body is
    never copied (DESIGN.md, performance budget). Treat it as read-only; it is
    not frozen only because frozen attrs classes are slower to create, and one
    is created per publish.

    A message that reaches exactly one queue (almost all of them) is also its
    own entry in that queue: ``seq`` (enqueue order, spec 2.12), ``deadline``
    (TTL, 3.1) and ``redelivered`` live here, which saves an object per
    message. A message routed to several queues gets an ``Entry`` in each.
    Equality is identity.
    """

    exchange: str
    routing_key: str
    properties: BasicProperties
    body: bytes
    annotations: Annotations | None = None
    seq: int = attrs.field(default=0, repr=False)
    deadline: float | None = attrs.field(default=None, repr=False)
    redelivered: bool = attrs.field(default=False, repr=False)

    # a message that is its own entry is in a classic queue: stored only when persistent
    storage: ClassVar[str] = "persistent"
    properties_owned: ClassVar[bool] = False  # see ``Entry``

    @property
    def message(self) -> Message:
        """The message itself (what an ``Entry`` wrapping it would give)."""
        return self

    def __lt__(self, other: Message | Any) -> bool:
        return bool(self.seq < other.seq)


_SHORT_STRING_PROPERTIES = frozenset(
    {
        "content_type",
        "content_encoding",
        "correlation_id",
        "reply_to",
        "expiration",
        "message_id",
        "type",
        "user_id",
        "app_id",
        "cluster_id",
    }
)


def to_properties(properties: Any) -> BasicProperties:
    """Validate ``properties`` (ours, pika's, or any object with those attributes).

    Headers are copied (after validation) so that a publisher mutating its dict
    afterwards cannot change a queued message, as encoding on the wire would
    guarantee.
    """
    if properties is None:
        return EMPTY_PROPERTIES
    if type(properties) is EncodedProperties:
        return properties  # decoded from the wire: already AMQP values
    last = _last_checked[0]
    if last is not None and last is properties:
        return last  # the same immutable object as last time (a publish loop)
    if isinstance(properties, (dict, str, bytes, int, float, list, tuple)):
        raise FrameSyntaxError(
            f"properties must be a BasicProperties (ours or pika's), got {type(properties).__name__}"
        )
    values: dict[str, Any] = {}
    for name in _PROPERTY_NAMES:
        value = getattr(properties, name, None)
        if value is None:
            continue
        if name in _SHORT_STRING_PROPERTIES:
            if not isinstance(value, str):
                raise FrameSyntaxError(
                    f"property {name} must be a string, got {type(value).__name__}"
                )
            if len(value.encode("utf-8", "surrogatepass")) > 255:
                raise FrameSyntaxError(f"property {name} is longer than 255 bytes")
        elif name == "headers":
            value = check_field_table(value, "headers")
        elif name in ("delivery_mode", "priority"):
            value = getattr(value, "value", value)  # pika.DeliveryMode is an Enum
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
                raise FrameSyntaxError(f"property {name} must be an octet (0..255), got {value!r}")
            value = int(value)
        elif name == "timestamp":
            if isinstance(value, bool) or not isinstance(value, (int, datetime.datetime)):
                raise FrameSyntaxError(
                    f"property timestamp must be an int or datetime, got {value!r}"
                )
        values[name] = value
    if not values:
        return EMPTY_PROPERTIES
    if (
        type(properties) is BasicProperties
        and "headers" not in values
        and all(type(v) in _IMMUTABLE_VALUES for v in values.values())
    ):
        # ours, valid, and without a mutable headers dict: immutable, so it can be the
        # message's own (and the next publish with it skips the checks)
        _last_checked[0] = properties
        return properties
    return BasicProperties(**values)


_IMMUTABLE_VALUES = (str, int, datetime.datetime)
# the last BasicProperties without headers that to_properties found valid
_last_checked: list[BasicProperties | None] = [None]


_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


def check_field_value(value: Any, where: str) -> Any:
    """Return ``value`` (tables and arrays copied) if it is an AMQP field value."""
    if value is None or isinstance(value, (str, bool, float, decimal.Decimal, datetime.datetime)):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise FrameSyntaxError(f"integer {value} in {where} does not fit in 64 bits")
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, dict):
        return check_field_table(value, where)
    if isinstance(value, (list, tuple)):
        return [check_field_value(item, where) for item in value]
    raise FrameSyntaxError(f"{type(value).__name__} value in {where} is not an AMQP field value")


def check_field_table(table: Any, where: str) -> dict[str, Any]:
    """Validate a field table (string keys up to 255 bytes, AMQP values)."""
    if not isinstance(table, dict):
        raise FrameSyntaxError(f"{where} must be a field table (dict), got {type(table).__name__}")
    checked: dict[str, Any] = {}
    for key, value in table.items():
        if not isinstance(key, str):
            raise FrameSyntaxError(f"{where} has a non-string key {key!r}")
        if len(key.encode("utf-8", "surrogatepass")) > 255:
            raise FrameSyntaxError(f"{where} has a key longer than 255 bytes")
        checked[key] = check_field_value(value, where)
    return checked


def with_headers(
    p: BasicProperties, headers: dict[str, Any], *, drop_expiration: bool = False
) -> BasicProperties:
    """``p`` with other ``headers`` (and no expiration with ``drop_expiration``):
    positional construction, a fifth of what ``attrs.evolve`` costs, for the paths
    that rebuild properties per message (dead-lettering, delayed release). The wire
    bytes of received properties are not kept: the headers changed."""
    return BasicProperties(
        p.content_type,
        p.content_encoding,
        headers,
        p.delivery_mode,
        p.priority,
        p.correlation_id,
        p.reply_to,
        None if drop_expiration else p.expiration,
        p.message_id,
        p.timestamp,
        p.type,
        p.user_id,
        p.app_id,
        p.cluster_id,
    )
