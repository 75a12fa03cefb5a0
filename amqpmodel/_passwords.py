"""Password hashes as RabbitMQ stores them, so definitions move both ways (spec 15.2).

Every scheme is base64(salt ‖ H(salt ‖ password)) with a 4-byte random salt;
``rabbit_password_hashing_sha256`` (RabbitMQ's default), ``..._sha512`` and
``..._md5`` (definitions of RabbitMQ 3.0-3.5) differ only in H. The digest
lengths differ too (16, 32, 64 bytes), so a stored hash names its own scheme:
a user keeps one string, and ``check_password`` needs nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable

__all__ = [
    "DEFAULT_HASHING_ALGORITHM",
    "HASHING_ALGORITHMS",
    "check_password",
    "hash_password",
    "hashing_algorithm",
]

_SALT_BYTES = 4  # RabbitMQ's salt: 32 random bits

DEFAULT_HASHING_ALGORITHM = "rabbit_password_hashing_sha256"


def _md5(data: bytes) -> bytes:
    # RabbitMQ 3.0-3.5's scheme, kept for their definitions; not a security choice of ours
    return hashlib.md5(data, usedforsecurity=False).digest()


HASHING_ALGORITHMS: dict[str, Callable[[bytes], bytes]] = {
    "rabbit_password_hashing_sha256": lambda data: hashlib.sha256(data).digest(),
    "rabbit_password_hashing_sha512": lambda data: hashlib.sha512(data).digest(),
    "rabbit_password_hashing_md5": _md5,
}
# the decoded length of a hash (salt + digest) -> its scheme
_BY_LENGTH = {_SALT_BYTES + len(h(b"")): name for name, h in HASHING_ALGORITHMS.items()}


def _bytes(password: str | bytes) -> bytes:
    return password if isinstance(password, bytes) else password.encode("utf-8", "surrogateescape")


def hash_password(
    password: str | bytes,
    salt: bytes | None = None,
    algorithm: str = DEFAULT_HASHING_ALGORITHM,
) -> str:
    """base64(salt + H(salt + password)), RabbitMQ's ``password_hash`` for ``algorithm``
    (a ``rabbit_password_hashing_*`` name; ``KeyError`` for another)."""
    digest = HASHING_ALGORITHMS[algorithm]
    if salt is None:
        salt = os.urandom(_SALT_BYTES)
    return base64.b64encode(salt + digest(salt + _bytes(password))).decode("ascii")


def _decoded(password_hash: str) -> bytes | None:
    try:
        return base64.b64decode(password_hash, validate=True)
    except (ValueError, binascii.Error):
        return None


def hashing_algorithm(password_hash: str) -> str | None:
    """The ``rabbit_password_hashing_*`` scheme that made ``password_hash``, told by
    its length; None when it is not such a hash ("" is a user without a password)."""
    raw = _decoded(password_hash)
    return _BY_LENGTH.get(len(raw)) if raw is not None else None


def check_password(password_hash: str, password: str | bytes) -> bool:
    """Whether ``password`` (compared as bytes) is the one ``password_hash`` was made from."""
    raw = _decoded(password_hash)
    algorithm = _BY_LENGTH.get(len(raw)) if raw is not None else None
    if raw is None or algorithm is None:
        return False
    salt = raw[:_SALT_BYTES]
    return hmac.compare_digest(hash_password(password, salt, algorithm), password_hash)
