"""JSON API v1: the integration contract for customs systems and other authorities.

Every error is JSON with a clear message (and, for rule failures, the findings); bad
input never gives a 500. Authority isolation is enforced by the service layer with
the actor taken from the bearer token, never from the request.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy import select, text
from werkzeug.exceptions import HTTPException

from caratflow.errors import CaratflowError, Conflict, FieldError, InvalidInput
from caratflow.models import Shipment
from caratflow.provisioning import actor_for
from caratflow.representation import event_json, shipment_json
from caratflow.security import user_for_token
from caratflow.service import Actor
from caratflow.web.context import close_db, db, runtime

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
blueprint.teardown_app_request(close_db)

MAX_PAGE = 200


class Unauthorized(CaratflowError):
    status = 401


# -- URL table --------------------------------------------------------------------------


@blueprint.get("/health")
def health() -> Response:
    try:
        db().execute(text("SELECT 1"))
        reachable = True
    except Exception:  # the point is to report it, not to fail
        reachable = False
    body = {
        "status": "ok" if reachable else "degraded",
        "plugins": runtime().plugins.plugin_names,
        "database": "reachable" if reachable else "unreachable",
    }
    return _json(body, 200 if reachable else 503)


@blueprint.post("/shipments")
def present() -> Response:
    actor = _actor()
    key = request.headers.get("Idempotency-Key")
    presented = runtime().shipments.present(db(), _body(), actor, idempotency_key=key)
    db().commit()
    response = _shipment_response(presented.shipment, 201 if presented.created else 200)
    if not presented.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blueprint.post("/shipments/check")
def check() -> Response:
    actor = _actor()
    findings = runtime().shipments.check(db(), _body(), actor)  # writes nothing
    return _json(
        {
            "findings": [f.as_dict() for f in findings],
            "blocking": any(f.outcome.blocks for f in findings),
        }
    )


@blueprint.get("/shipments")
def list_shipments() -> Response:
    actor = _actor()
    limit = _int_arg("limit", 50, 1, MAX_PAGE)
    after = _int_arg("cursor", 0, 0, None)
    query = select(Shipment).where(Shipment.id > after).order_by(Shipment.id).limit(limit + 1)
    if actor.authorities is not None:
        query = query.where(Shipment.authority_code.in_(actor.authorities))
    for name in ("state", "goods", "direction"):
        if request.args.get(name):
            query = query.where(getattr(Shipment, name) == request.args[name])
    if request.args.get("authority"):
        query = query.where(Shipment.authority_code == request.args["authority"])
    rows = list(db().scalars(query))
    page, more = rows[:limit], len(rows) > limit
    service = runtime().shipments
    return _json(
        {
            "items": [shipment_json(s, service.available_actions(s)) for s in page],
            "next_cursor": str(page[-1].id) if more else None,
        }
    )


@blueprint.get("/shipments/<int:shipment_id>")
def get_shipment(shipment_id: int) -> Response:
    shipment = runtime().shipments.get(db(), shipment_id, _actor())
    return _shipment_response(shipment)


@blueprint.post("/shipments/<int:shipment_id>/actions/<action>")
def act(shipment_id: int, action: str) -> Response:
    actor = _actor()
    body = _body(required=False)
    reason = body.get("reason")
    inputs = body.get("inputs", {})
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput([FieldError("reason", "must be a string")])
    if not isinstance(inputs, dict):
        raise InvalidInput([FieldError("inputs", "must be a JSON object")])
    shipment = runtime().shipments.act(
        db(),
        shipment_id,
        action,
        actor,
        expected_version=_if_match(),
        reason=reason,
        inputs=inputs,
    )
    db().commit()
    return _shipment_response(shipment)


@blueprint.get("/shipments/<int:shipment_id>/history")
def history(shipment_id: int) -> Response:
    shipment = runtime().shipments.get(db(), shipment_id, _actor())
    return _json({"shipment": shipment.id, "events": [event_json(e) for e in shipment.events]})


# -- errors -----------------------------------------------------------------------------


@blueprint.errorhandler(CaratflowError)
def caratflow_error(error: CaratflowError) -> Response:
    return _json(error.as_dict(), error.status)


@blueprint.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    return _json({"error": error.name, "message": error.description}, error.code or 500)


@blueprint.errorhandler(Exception)
def unexpected_error(error: Exception) -> Response:
    current_app.logger.exception("unexpected error", exc_info=error)
    return _json({"error": "InternalError", "message": "an unexpected error was logged"}, 500)


# -- helpers ----------------------------------------------------------------------------


def _actor() -> Actor:
    if "actor" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = user_for_token(db(), token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise Unauthorized("a valid 'Authorization: Bearer <token>' header is required")
        g.actor = actor_for(user)
    return g.actor


def _body(required: bool = True) -> dict[str, Any]:
    if not request.data and not required:
        return {}
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        raise InvalidInput([FieldError("$", "the body must be a JSON object")])
    return payload


def _int_arg(name: str, default: int, low: int, high: int | None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise InvalidInput([FieldError(name, f"must be a whole number {bounds}")])
    return int(raw)


def _if_match() -> int | None:
    raw = request.headers.get("If-Match")
    if raw is None:
        return None
    tag = raw.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise Conflict(f"If-Match {raw!r} is not a version this API issued")
    return int(tag)


def _shipment_response(shipment: Shipment, status: int = 200) -> Response:
    service = runtime().shipments
    response = _json(shipment_json(shipment, service.available_actions(shipment)), status)
    response.headers["ETag"] = f'"{shipment.version}"'
    return response


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
