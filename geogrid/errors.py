"""Domain errors, each with an HTTP status, rendered by the API in one JSON shape."""

from __future__ import annotations

from typing import Any


class GeogridError(Exception):
    """Base of every error a user can act on.

    Parameters
    ----------
    message
        A full sentence naming the input, the rule it broke, what was received
        and how to fix it.
    details
        Extra machine-readable facts (parameter name, allowed range, ...).
    """

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON error shape shared by every API endpoint."""
        return {"error": {"code": self.code, "message": self.message, **self.details}}


class InvalidInput(GeogridError):
    """A parameter or input file breaks a rule."""

    status = 400
    code = "invalid_input"


class WrongCRS(InvalidInput):
    """Coordinates look like they are in another coordinate system."""

    code = "wrong_crs"


class NotFound(GeogridError):
    """The object asked for does not exist (or the user may not see it)."""

    status = 404
    code = "not_found"


class PermissionDenied(GeogridError):
    """The user's role does not allow this action."""

    status = 403
    code = "forbidden"


class NotAuthenticated(GeogridError):
    """No user is logged in."""

    status = 401
    code = "not_authenticated"


class Conflict(GeogridError):
    """Someone else changed the same objects since they were read."""

    status = 409
    code = "conflict"


class InvariantViolation(GeogridError):
    """An edit would break a rule of the store (gap, overlap, orphan)."""

    status = 422
    code = "invariant_violation"


class DatabaseUnavailable(GeogridError):
    """The database could not be started or reached."""

    status = 503
    code = "database_unavailable"


class TooManyAttempts(GeogridError):
    """Too many failed log-ins from one user name or address; wait and retry."""

    status = 429
    code = "too_many_attempts"
