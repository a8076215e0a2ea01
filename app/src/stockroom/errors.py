"""Domain errors raised by the service layer, and their single mapping to HTTP responses."""

from __future__ import annotations

from typing import Any


class StockroomError(Exception):
    """Base class: every subclass carries its HTTP status and a stable error code."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class MalformedRequest(StockroomError):
    status, code = 400, "malformed_request"


class Unauthorized(StockroomError):
    status, code = 401, "unauthorized"


class Forbidden(StockroomError):
    status, code = 403, "forbidden"


class NotFound(StockroomError):
    status, code = 404, "not_found"


class DuplicateSku(StockroomError):
    status, code = 409, "duplicate_sku"


class Conflict(StockroomError):
    status, code = 409, "conflict"


class InsufficientStock(StockroomError):
    status, code = 409, "insufficient_stock"


class PreconditionFailed(StockroomError):
    status, code = 412, "precondition_failed"


class UnsupportedMediaType(StockroomError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(StockroomError):
    status, code = 422, "validation_failed"


class TooManyRequests(StockroomError):
    """Refused for now; ``retry_after`` seconds later the caller may try again."""

    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DatabaseUnavailable(StockroomError):
    status, code = 503, "database_unavailable"
