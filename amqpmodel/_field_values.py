"""Field values that keep the AMQP type they arrived with (integer widths, single floats).

A wire codec decodes every integer type to int and both float types to
float. A message whose headers the broker rewrites (dead-lettering adds
x-death) is re-encoded, and RabbitMQ keeps each value's type; so does a
stored message. These subclasses carry the type tag through the core and
the store, while comparing and printing as plain numbers.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["TAGGED_INTS", "Float32", "TaggedInt"]


class TaggedInt(int):
    """An integer header value with its AMQP type tag (``amqp_tag``) and struct format."""

    amqp_tag: ClassVar[bytes]
    amqp_format: ClassVar[str]

    def __repr__(self) -> str:
        return int.__repr__(self)


def _int_type(name: str, tag: bytes, fmt: str) -> type[TaggedInt]:
    return type(name, (TaggedInt,), {"amqp_tag": tag, "amqp_format": fmt, "__slots__": ()})


# AMQP type tag -> the subclass of TaggedInt for it
TAGGED_INTS: dict[bytes, type[TaggedInt]] = {
    tag: _int_type(name, tag, fmt)
    for name, tag, fmt in (
        ("ShortShortInt", b"b", ">b"),
        ("ShortShortUInt", b"B", ">B"),
        ("ShortInt", b"s", ">h"),
        ("ShortUInt", b"u", ">H"),
        ("LongUInt", b"i", ">I"),
        ("LongLongInt", b"l", ">q"),
        ("LongLongUInt", b"L", ">q"),
    )
}


# module attributes, so that pickle (and copy) find them by name
globals().update({cls.__name__: cls for cls in TAGGED_INTS.values()})


class Float32(float):
    """A header value that arrived as a single-precision float ('f')."""

    __slots__ = ()

    def __repr__(self) -> str:
        return float.__repr__(self)
