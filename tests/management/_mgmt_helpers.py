"""The management tests' HTTP client (the standard library's urllib)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any

__all__ = ["Api"]


class Api:
    """``api.get("/api/queues")`` → (status, decoded JSON or text, headers)."""

    def __init__(self, base: str, user: str = "guest", password: str = "guest") -> None:
        self.base = base
        self.user = user
        self.password = password

    def as_user(self, user: str, password: str) -> Api:
        return Api(self.base, user, password)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> tuple[int, Any, dict[str, str]]:
        data = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if auth:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, got = error.code, error.read(), dict(error.headers)
        text = raw.decode("utf-8")
        try:
            value = json.loads(text) if text else None
        except ValueError:
            value = text
        return status, value, got

    def get(self, path: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("PUT", path, {} if body is None else body, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("POST", path, {} if body is None else body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        return self.request("DELETE", path, **kwargs)
