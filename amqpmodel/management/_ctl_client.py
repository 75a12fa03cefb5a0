"""The HTTP side of ``amqpmodel ctl``: the management API over the standard library's
urllib (no extra needed), and rabbitmqctl's way of printing lists and errors."""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any, TextIO

__all__ = ["DEFAULT_URL", "Client", "CtlError", "format_value", "print_table"]

DEFAULT_URL = "http://guest:guest@localhost:15672"

# rabbitmqctl's exit codes (sysexits): usage, data error, unavailable, software error
EX_USAGE = 64
EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_SOFTWARE = 70


class CtlError(Exception):
    """What rabbitmqctl prints as "Error:" and the exit code it leaves."""

    def __init__(self, message: str, code: int = EX_SOFTWARE, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status  # the HTTP status that caused it, 0 if none


def quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


class Client:
    """The management API of one server, as the URL's user."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CtlError(
                f"not a management URL: {url!r} (expected http://user:pass@host:port)", EX_USAGE
            )
        self.user = urllib.parse.unquote(parts.username or "guest")
        self.password = urllib.parse.unquote(parts.password or "guest")
        port = f":{parts.port}" if parts.port else ""
        host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        self.base = f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method=method)
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise _http_error(error, path) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise CtlError(
                f"unable to perform an operation on node at {self.base}: {reason}\n\n"
                "Is amqpmodel serve running, with its management API (--management-port)?",
                EX_UNAVAILABLE,
            ) from None
        return json.loads(raw) if raw.strip() else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)


def _http_error(error: urllib.error.HTTPError, path: str) -> CtlError:
    try:
        body = json.loads(error.read() or b"null")
    except ValueError:
        body = None
    reason = body.get("reason") if isinstance(body, dict) else None
    if isinstance(reason, list):
        reason = ", ".join(str(part) for part in reason)
    if error.code == 401:
        return CtlError(f"access refused: {reason or 'Not_Authorized'}", EX_UNAVAILABLE, 401)
    if error.code == 404 and reason in (None, "Not Found"):
        return CtlError(f"not found: {path}", EX_SOFTWARE, 404)
    return CtlError(str(reason or f"HTTP {error.code} for {path}"), EX_SOFTWARE, error.code)


def format_value(value: Any) -> str:
    """A value as rabbitmqctl's table prints it: booleans in lower case, lists in
    brackets, AMQP tables as Erlang pairs."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict):
        return "[" + ",".join(f'{{"{k}",{_term(v)}}}' for k, v in value.items()) + "]"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def _term(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    return format_value(value)


def print_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    formatter: str,
    headers: bool,
    out: TextIO = sys.stdout,
) -> None:
    if formatter == "json":
        out.write(json.dumps([{c: row.get(c) for c in columns} for row in rows]) + "\n")
        return
    if headers:
        out.write("\t".join(columns) + "\n")
    for row in rows:
        out.write("\t".join(format_value(row.get(c)) for c in columns) + "\n")
