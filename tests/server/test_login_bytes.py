"""Passwords are compared as the bytes the client sent (spec 15.2): two passwords that
are both invalid UTF-8 are not alike."""

from __future__ import annotations

from pamqp import commands, frame

from amqpmodel import Broker
from amqpmodel.server import ServerConnection


def _login(broker: Broker, password: bytes) -> bytes:
    """start-ok with PLAIN user "bytes" and a two-byte password, sent as raw bytes
    (pamqp encodes a str response as UTF-8, so the bytes are put in afterwards)."""
    written: list[bytes] = []
    connection = ServerConnection(broker, written.append, lambda: None)
    start_ok = frame.marshal(
        commands.Connection.StartOk(
            client_properties={}, mechanism="PLAIN", response="\x00bytes\x00XY"
        ),
        0,
    )
    connection.data_received(b"AMQP\x00\x00\x09\x01" + start_ok.replace(b"XY", password))
    return b"".join(written)


def test_invalid_utf8_passwords_are_compared_as_bytes_spec_15_2() -> None:
    broker = Broker()
    broker.add_user("bytes", b"\xff\xfe")
    tune = b"\x00\x0a\x00\x1e"  # connection.tune: the login passed
    assert tune in _login(broker, b"\xff\xfe")
    assert tune not in _login(broker, b"\xfe\xff")  # refused (the socket is closed, 15.10)
