"""Errors the engine raises; the web and CLI layers turn each into a clear answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class CaratflowError(Exception):
    """Base of every error a user can cause; never a bug."""

    status = 400

    def as_dict(self) -> dict[str, object]:
        return {"error": type(self).__name__, "message": str(self)}


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class InvalidInput(CaratflowError):
    """The input does not describe a valid shipment; nothing was written."""

    status = 422

    def __init__(self, errors: Sequence[FieldError]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    def as_dict(self) -> dict[str, object]:
        return super().as_dict() | {
            "errors": [{"field": e.field, "message": e.message} for e in self.errors]
        }


class NotFound(CaratflowError):
    status = 404


class Forbidden(CaratflowError):
    """The actor may not do this (role), or acts outside its own authorities."""

    status = 403


class Conflict(CaratflowError):
    """Someone else changed the record first, or an idempotency key was reused."""

    status = 409


class ActionNotAvailable(CaratflowError):
    """The state machine has no such action from the shipment's current state."""

    status = 409

    def __init__(self, action: str, state: str, available: Sequence[str]):
        self.action, self.state, self.available = action, state, list(available)
        allowed = ", ".join(self.available) or "none"
        super().__init__(f"'{action}' is not possible from state '{state}' (possible: {allowed})")

    def as_dict(self) -> dict[str, object]:
        return super().as_dict() | {"state": self.state, "available_actions": self.available}


class ReasonRequired(CaratflowError):
    status = 422
