"""Password hashes as RabbitMQ stores them (rabbit_password_hashing_sha256), so definitions move both ways."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

__all__ = ["check_password", "hash_password"]

_SALT_BYTES = 4  # RabbitMQ's salt: 32 random bits


def _bytes(password: str | bytes) -> bytes:
    return password if isinstance(password, bytes) else password.encode("utf-8", "surrogateescape")


def hash_password(password: str | bytes, salt: bytes | None = None) -> str:
    """base64(salt + sha256(salt + password)), RabbitMQ's default ``password_hash``."""
    if salt is None:
        salt = os.urandom(_SALT_BYTES)
    digest = hashlib.sha256(salt + _bytes(password)).digest()
    return base64.b64encode(salt + digest).decode("ascii")


def check_password(password_hash: str, password: str | bytes) -> bool:
    """Whether ``password`` (compared as bytes) is the one ``password_hash`` was made from."""
    try:
        raw = base64.b64decode(password_hash, validate=True)
    except ValueError:
        return False
    if len(raw) != _SALT_BYTES + hashlib.sha256().digest_size:
        return False
    salt = raw[:_SALT_BYTES]
    return hmac.compare_digest(hash_password(password, salt), password_hash)
