"""``GET /api/v1/deadlines``: the deadlines an authority must watch (DESIGN.md API v1).

Answers with the running deadlines and the missed ones not yet made good, soonest
first, each with the working days left in its authority's calendar and its bucket
(overdue, due soon, later, suspended); ``status`` narrows the list. A user sees only
the authorities they act for, taken from the bearer token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from caratflow import inputs
from caratflow.accounts.credentials import user_for_token
from caratflow.accounts.provisioning import actor_for
from caratflow.case.access import Actor
from caratflow.case.representation import deadline_json
from caratflow.deadlines.board import board
from caratflow.errors import CaratflowError, FieldError, InvalidInput
from caratflow.faces import ErrorOut, Param, operation
from caratflow.inputs import MAX_ID
from caratflow.models import DeadlineStatus
from caratflow.web.apimodels import DeadlineBoardOut
from caratflow.web.context import db

blueprint = Blueprint("deadlines_api", __name__, url_prefix="/api/v1")

MAX_PAGE = 500


class Unauthorized(CaratflowError):
    status = 401


STATUSES = ("due", *(s.value for s in DeadlineStatus))  # what ?status= takes
_WHOLE = {"type": "string", "pattern": "^[0-9]+$"}


@blueprint.get("/deadlines")
@operation(
    summary="The deadlines to watch: overdue, due soon, later and suspended, soonest first",
    description=(
        "Without status: every deadline still running or missed and not made good. "
        "status=due: overdue or due within 'within' working days. Only authorities you "
        "act for."
    ),
    tag="deadlines",
    query=[
        Param(
            "status",
            "due, or a deadline status",
            {"type": "string", "enum": list(STATUSES)},
        ),
        Param("authority", "only this authority's (one of yours)"),
        Param("within", "working days that count as due soon (0..365, default 3)", _WHOLE),
        Param("limit", f"deadlines per page (1..{MAX_PAGE}, default 200)", _WHOLE),
        Param("cursor", "next_cursor of the page before", _WHOLE),
    ],
    responses={
        200: ("one page of the board", DeadlineBoardOut),
        401: ("no valid bearer token", ErrorOut),
        422: ("a status, number or cursor out of range; every bad one is named", ErrorOut),
    },
)
def list_deadlines() -> Response:
    """``due``: overdue or due within ``within`` working days; without ``status``: every
    deadline still to watch."""
    actor = _actor()
    status = request.args.get("status")
    within = _int_arg("within", 3, 0, 365)
    limit = _int_arg("limit", 200, 1, MAX_PAGE)
    cursor = _int_arg("cursor", 0, 0)
    statuses = _statuses(status)
    authorities = None if actor.authorities is None else sorted(actor.authorities)
    if request.args.get("authority"):
        wanted = request.args["authority"]
        authorities = [wanted] if authorities is None or wanted in authorities else []
    views = board(
        db(), authorities, within=within, statuses=statuses, limit=limit + 1, after_id=cursor
    )
    if status == "due":
        views = [v for v in views if v.bucket in ("overdue", "due soon")]
    page, more = views[:limit], len(views) > limit
    return _json(
        {
            "items": [
                deadline_json(v.deadline)
                | {"working_days_left": v.working_days_left, "bucket": v.bucket}
                for v in page
            ],
            "next_cursor": str(max(v.deadline.id for v in page)) if more else None,
        }
    )


@blueprint.errorhandler(CaratflowError)
def caratflow_error(error: CaratflowError) -> Response:
    return _json(error.as_dict(), error.status)


def _statuses(status: str | None) -> list[DeadlineStatus] | None:
    if status in (None, "due"):
        return None
    try:
        return [DeadlineStatus(status)]
    except ValueError:
        raise InvalidInput([FieldError("status", f"one of: {', '.join(STATUSES)}")]) from None


def _actor() -> Actor:
    if "actor" not in g:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        user = user_for_token(db(), token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise Unauthorized("a valid 'Authorization: Bearer <token>' header is required")
        g.actor = actor_for(user)
    return g.actor


def _int_arg(name: str, default: int, low: int, high: int = MAX_ID) -> int:
    found = inputs.optional_whole_number(request.args.get(name), name, default, low, high)
    return default if found is None else found


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
