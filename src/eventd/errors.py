"""Errors that reach clients, each with its HTTP status and a stable code."""

from __future__ import annotations


class ApiError(Exception):
    """An error answered to the client as `{"error": {...}}`."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, index: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.index = index

    def at_index(self, index: int) -> ApiError:
        """Return this error tagged with the position of the batch item it concerns."""
        self.index = index
        return self


class MalformedBody(ApiError):
    """The body is not parseable (broken JSON, empty body)."""

    status = 400
    code = "malformed_body"


class BadParameter(ApiError):
    """A query-string parameter is missing, unknown or invalid."""

    status = 400
    code = "bad_parameter"


class InvalidField(ApiError):
    """The body is well-formed but a field is invalid."""

    status = 422
    code = "invalid_field"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    """A client-supplied id exists with different content."""

    status = 409
    code = "id_conflict"


class TooLarge(ApiError):
    status = 413
    code = "too_large"


class Unavailable(Exception):
    """The store cannot take the request now; the client should retry later."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class NotSupported(ApiError):
    """The store's engine cannot do what the request asks (an optional capability)."""

    status = 501
    code = "not_supported"
