"""API errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

Each subclass sets its HTTP ``status`` and OpenAI ``type``; the tree of every tars error
(these included) is drawn in ``tars.runtime.errors``.
"""

from __future__ import annotations

from typing import Any

from tars.errors import TarsError


class ApiError(TarsError):
    status = 500
    type = "server_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.type, param=self.param, code=self.code)


class BadRequest(ApiError):
    status = 400
    type = "invalid_request_error"


class Unauthorized(ApiError):
    status = 401
    type = "authentication_error"


class TooLarge(ApiError):
    status = 413
    type = "invalid_request_error"


class UnsupportedMedia(ApiError):
    status = 415
    type = "invalid_request_error"


class Unavailable(ApiError):
    status = 503
    type = "server_error"


def error_body(message: str, type_: str, *, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
