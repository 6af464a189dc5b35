"""The one exception route handlers raise; the server renders it as `{"error": {"code", "message"}}`,
or with no body (`body=False`, and the 2021-01-01 API's statuses in `server.BODILESS_2021`)."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None, body=True):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.body = body  # False: empty body (the token service's 401/403, every session API's 401)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NotFound", message)
