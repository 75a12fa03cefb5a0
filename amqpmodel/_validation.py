"""Checks on what callers pass in: names, routing keys, expiration, generated names (spec 3.2, 10)."""

from __future__ import annotations

import secrets
from typing import Any

from ._arguments import MAX_TTL_MS
from ._errors import FrameError, FrameSyntaxError, PreconditionFailed

__all__ = ["entity_name", "generate_name", "is_utf8", "parse_expiration", "short_string"]

_NAME_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def short_string(value: Any, what: str) -> str:
    """A shortstr: text of at most 255 UTF-8 bytes (spec 10.1); bytes are decoded."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bytes, bytearray)):
        try:
            text = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise FrameSyntaxError(f"{what} is not valid UTF-8") from None
    else:
        raise FrameSyntaxError(f"{what} must be a string, got {type(value).__name__}")
    if len(text) > 63 and len(text.encode("utf-8", "surrogatepass")) > 255:
        raise FrameSyntaxError(f"{what} is longer than 255 bytes")
    return text


def is_utf8(text: str) -> bool:
    """Whether ``text`` is valid UTF-8: bytes that were not reach us from the wire as surrogates."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def entity_name(value: Any, what: str) -> str:
    """A queue or exchange name: a shortstr with CR and LF removed (spec 10.2).

    Unlike routing keys, names must be valid UTF-8: RabbitMQ refuses others with
    501 "Malformed UTF-8 in shortstr" (bytes that are not UTF-8 reach us from
    the wire as surrogates).
    """
    text = short_string(value, what)
    if not is_utf8(text):
        raise FrameError("Malformed UTF-8 in shortstr")
    if "\r" in text or "\n" in text:
        text = text.replace("\r", "").replace("\n", "")
    return text


def generate_name(prefix: str) -> str:
    """``prefix`` + 22 characters of [A-Za-z0-9_-] (spec 2.2, 7.1)."""
    return prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(22))


def parse_expiration(expiration: str) -> int:
    """The ``expiration`` property in milliseconds; 406 unless a decimal 0..315360000000 (spec 3.2)."""
    try:
        value = (
            int(expiration)
            if expiration.strip() == expiration and expiration.lstrip("-").isdigit()
            else None
        )
    except ValueError:
        value = None
    if value is None or not expiration.isascii():
        raise PreconditionFailed(f"invalid expiration '{expiration}': no_integer")
    if value < 0:
        raise PreconditionFailed(f"invalid expiration '{expiration}': {{value_negative,{value}}}")
    if value > MAX_TTL_MS:
        raise PreconditionFailed(f"invalid expiration '{expiration}': {{value_too_large,{value}}}")
    return value


def boolean(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise FrameSyntaxError(f"{what} must be a bool, got {type(value).__name__}")
    return value


def integer(value: Any, what: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**bits:
        raise FrameSyntaxError(f"{what} must be an unsigned {bits}-bit integer, got {value!r}")
    return value
