"""AMQP URIs as RabbitMQ's shovel reads them: which broker, vhost and user, and their errors.

RabbitMQ parses ``src-uri`` and ``dest-uri`` with ``amqp_uri:parse``: a URI
without a host (``amqp://``, ``amqp:///vhost``) is a direct connection to the
local node, in vhost "/" unless the path names one; with a host it is a
network connection. A URI it cannot read fails the parameter with
``"<uri>" not a valid URI: <reason>``, the reason an Erlang term; the reasons
here are those ``amqp_uri`` and its ``uri_parser`` give for the same input.
Statuses and forwarded headers show a URI without its credentials
(``amqp_uri:remove_credentials``).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import attrs

__all__ = ["AmqpUri", "UriError", "parse_uri"]


class UriError(ValueError):
    """A URI ``amqp_uri`` refuses; ``reason`` is its Erlang term, as RabbitMQ prints it."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"{{{reason},{_erlang_string(uri)}}}")
        self.uri = uri
        self.reason = reason

    @property
    def text(self) -> str:
        """RabbitMQ's validation line for this URI."""
        return f'"{self.uri}" not a valid URI: {self.args[0]}'


@attrs.frozen
class AmqpUri:
    """One parsed AMQP URI."""

    uri: str
    scheme: str  # "amqp" or "amqps", as written
    host: str | None  # None: the local broker (a direct connection)
    port: int | None
    vhost: str
    username: str | None
    password: str | None
    path: str | None  # as written, for remove_credentials

    @property
    def is_local(self) -> bool:
        return self.host is None

    @property
    def without_credentials(self) -> str:
        """``scheme://host:port/path``, as RabbitMQ shows a shovel's URI."""
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{self.host or ''}{port}{self.path or ''}"


def _erlang_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unescape(uri: str, text: str) -> str:
    for match in re.finditer(r"%(.?.?)", text):
        if not re.fullmatch(r"[0-9A-Fa-f]{2}", match.group(1)):
            if len(match.group(1)) < 2:
                raise UriError(uri, f"{{unterminated_entity,{_erlang_string(match.group(0))}}}")
            raise UriError(uri, f"{{invalid_entitiy,{_erlang_string(match.group(0))}}}")
    return unquote(text, errors="surrogateescape")


def parse_uri(uri: str) -> AmqpUri:
    """Parse as ``amqp_uri:parse(uri)`` does; ``UriError`` with its reason otherwise."""
    scheme, colon, rest = uri.partition(":")
    if not colon:
        raise UriError(uri, "{unable_to_parse_uri,no_scheme}")
    host: str | None = None
    port: int | None = None
    userinfo: list[str] = []
    if rest.startswith("//"):
        match = re.search(r"[/?#]", rest[2:])
        authority = rest[2:] if match is None else rest[2 : 2 + match.start()]
        rest = "" if match is None else rest[2 + match.start() :]
        info, _, host_port = authority.partition("@") if "@" in authority else ("", "", authority)
        userinfo = [] if info == "" else info.split(":")
        host, port = _host_port(uri, host_port)
    path_query = rest.partition("#")[0]
    path = path_query.partition("?")[0] or None
    if scheme.lower() not in ("amqp", "amqps"):
        raise UriError(uri, f"{{unexpected_uri_scheme,{_erlang_string(scheme.lower())}}}")
    if port is not None and not 0 < port <= 65535:
        raise UriError(uri, f"{{port_out_of_range,{port}}}")
    vhost = "/"
    if path is not None:
        inner = path[1:] if path.startswith("/") else path
        if "/" in inner:
            raise UriError(uri, f"{{invalid_vhost,{_erlang_string(inner)}}}")
        vhost = _unescape(uri, inner)
    if host is None and port is not None:
        raise UriError(uri, "port_requires_host")
    username = _unescape(uri, userinfo[0]) if userinfo else None
    password = _unescape(uri, userinfo[1]) if len(userinfo) > 1 else None
    return AmqpUri(uri, scheme, host, port, vhost, username, password, path)


def _host_port(uri: str, host_port: str) -> tuple[str | None, int | None]:
    if host_port.startswith("["):  # IPv6
        host, _, after = host_port[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else None
        if after and port_text is None:
            raise UriError(uri, f"{{invalid_port,{_erlang_string(after)}}}")
    else:
        host, colon, port_text_raw = host_port.partition(":")
        port_text = port_text_raw if colon else None
    port = None
    if port_text is not None:
        if not re.fullmatch(r"[+-]?[0-9]+", port_text):
            raise UriError(
                uri, f"{{unable_to_parse_uri,{{malformed_uri,{_erlang_string(uri)},badarg}}}}"
            )
        port = int(port_text)
    return (host or None), port
