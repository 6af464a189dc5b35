"""Request/response values and path matching shared by the route modules. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote

JSON_TYPE = "application/json; charset=utf-8"
# In the order of the service's api-supported-versions header (recording A, 2022).
API_VERSIONS = ("2021-01-01-preview", "2021-01-01", "2021-08-01-preview")
SUPPORTED_VERSIONS_HEADER = ", ".join(API_VERSIONS)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    base_url: str  # scheme://host:port the client used
    params: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    @classmethod
    def json(cls, status: int, value, headers: dict[str, str] | None = None) -> Response:
        data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(status, data, headers or {}, JSON_TYPE)


def error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def parse_query(raw: str) -> dict[str, list[str]]:
    return parse_qs(raw, keep_blank_values=True)


def split_path(path: str) -> list[str]:
    return [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []


def match(pattern: list[str], segments: list[str]) -> dict[str, str] | None:
    """Literal segments match case-insensitively (as ASP.NET routing); `{name}` captures."""
    if len(pattern) != len(segments):
        return None
    params: dict[str, str] = {}
    for want, got in zip(pattern, segments, strict=True):
        if want.startswith("{"):
            if not got:
                return None
            params[want[1:-1]] = got
        elif want.lower() != got.lower():
            return None
    return params
