"""HTTP errors and JSON as the management API has them: error bodies (spec 18.4, 18.5),
AMQP refusals mapped to statuses, request bodies, booleans, field values as JSON."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
from typing import Any, NoReturn

from aiohttp import web

from amqpmodel import AMQPError

__all__ = [
    "ApiError",
    "amqp_error",
    "bad_request",
    "json_response",
    "not_found",
    "parse_bool",
    "read_json",
    "to_json",
]


class ApiError(Exception):
    """An answer other than success: a status and RabbitMQ's {"error", "reason"} body."""

    def __init__(self, status: int, error: str, reason: Any, headers: dict[str, str] | None = None):
        super().__init__(status, error, reason)
        self.status = status
        self.error = error
        self.reason = reason
        self.headers = headers or {}

    def response(self) -> web.Response:
        return json_response(
            {"error": self.error, "reason": self.reason}, status=self.status, headers=self.headers
        )


def not_found() -> ApiError:
    """A missing object on GET or DELETE (spec 18.5)."""
    return ApiError(404, "Object Not Found", "Not Found")


def bad_request(reason: Any) -> ApiError:
    return ApiError(400, "bad_request", reason)


def explanation(error: AMQPError) -> str:
    """The reply text without its "NAME - " prefix (spec 18.4: the explanation only)."""
    if getattr(error, "explanation", ""):
        return str(error.explanation)
    text = error.reply_text
    name, separator, rest = text.partition(" - ")
    return rest if separator and name.replace("_", "").isupper() else text


def amqp_error(error: AMQPError) -> ApiError:
    """An AMQP refusal as the management API reports it (spec 18.4)."""
    if error.reply_code in (403, 530):
        return ApiError(401, "not_authorised", "Access refused.")
    if error.reply_code == 404:
        return ApiError(404, "not_found", explanation(error))
    return bad_request(explanation(error))


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(data).decode("ascii")
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp())
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False)


def json_response(
    value: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=to_json(value),
        status=status,
        content_type="application/json",
        headers={"cache-control": "no-cache", **(headers or {})},
    )


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; empty or "null" is {} (as RabbitMQ's decode)."""
    raw = await request.read()
    text = raw.strip()
    if text in (b"", b"null", b"undefined"):
        return {}
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f"failed to decode JSON: {error}") from None
    if not isinstance(value, dict):
        raise bad_request("not_json_object")
    return value


def parse_bool(value: Any, name: str) -> bool:
    """JSON booleans and RabbitMQ's "true"/"false" strings (rabbitmqadmin sends those)."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    if value is None:
        return False
    raise bad_request(f"{name} must be a boolean, got {value!r}")


def require_keys(body: dict[str, Any], *keys: str) -> None:
    """Spec 18.4: a missing mandatory key → 400 "[{key_missing,<key>}]"."""
    missing = [key for key in keys if key not in body]
    if missing:
        raise bad_request("[" + ",".join(f"{{key_missing,{key}}}" for key in missing) + "]")


def fail(error: ApiError) -> NoReturn:
    raise error
