"""JSON API v1: the integration contract for customs systems and other authorities.

Every error is JSON with a clear message (and, for rule failures, the findings); bad
input never gives a 500. The caller is the bearer token's user, never a cookie (so
no CSRF), and authority isolation and roles are enforced by the service layer with
that actor. Each view's ``@operation`` feeds ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from pydantic import ValidationError
from sqlalchemy import text
from werkzeug.exceptions import HTTPException

from caratflow import inputs
from caratflow.accounts import audit
from caratflow.accounts.credentials import user_for_token
from caratflow.accounts.provisioning import actor_for
from caratflow.case import queries, search
from caratflow.case.access import Actor, Permission, require
from caratflow.case.representation import deadline_json, event_json, shipment_json
from caratflow.case.schemas import ShipmentIn, field_errors
from caratflow.errors import (
    CaratflowError,
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from caratflow.faces import ErrorOut, Param, operation
from caratflow.models import Direction, Goods, PendingDecision, Shipment
from caratflow.records.reports import run_report, submit_report
from caratflow.web import DATABASE_UNAVAILABLE, database_unavailable, declared_api
from caratflow.web.apimodels import (
    ACTION_EXAMPLE,
    SHIPMENT_EXAMPLE,
    SUBMISSION_EXAMPLE,
    ActionIn,
    CheckOut,
    HealthOut,
    HistoryOut,
    PendingAnswer,
    ReportOut,
    ShipmentList,
    ShipmentOut,
    SubmissionIn,
    SubmissionOut,
)
from caratflow.web.context import db, read_db, runtime
from caratflow.web.i18n import spoken
from caratflow.web.openapi import document

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PAGE = 200
KEY_MAX = 200  # Idempotency-Key, as stored
REPORT_FORMATS = ("json", "csv")


class Unauthorized(CaratflowError):
    status = 401


class PreconditionRequired(CaratflowError):
    """RFC 6585: an action without If-Match would decide on a version nobody saw."""

    status = 428


# Swagger UI as the flask-swagger-ui distribution ships it: served from here, no CDN.
DOCS_ASSETS = Path(flask_swagger_ui.__file__).parent / "dist"
DOCS_FILES = ("swagger-ui.css", "swagger-ui-bundle.js")


def deployment_states() -> list[str]:
    """Every state a shipment can be in under the plugins this deployment enables."""
    host = runtime().plugins
    return list(host.jurisdiction(host.plugin_names).workflow.states)


# What most operations may answer besides success.
_DENIED = {
    401: ("no valid bearer token", ErrorOut),
    403: ("the token's role or authorities do not allow it", ErrorOut),
}
_UNKNOWN = {404: ("no such shipment (or another authority's)", ErrorOut)}
_BAD = {422: ("invalid input: every bad field is named", ErrorOut)}
_ETAG = {"ETag": "the shipment's version, quoted"}
_LOCATION = {"Location": "the shipment's URL"}
_ID = Param("shipment_id", "")
_TEXT = {"type": "string"}
_FILTERS = [
    Param("state", "only shipments in this state", choices=deployment_states),
    Param("authority", "only this authority's (one of yours)"),
    Param("goods", "rough, polished or synthetic", _TEXT | {"enum": [g.value for g in Goods]}),
    Param("direction", "import, export or transit", _TEXT | {"enum": [d.value for d in Direction]}),
    Param("certificate", "the certificate number, exactly"),
    Param(
        "q",
        "search: a fragment (3 characters or more) of the certificate number, the importer's"
        " or exporter's name or organisation number, a container's label or seal, a stone's"
        " or parcel's id; case does not matter",
        _TEXT | {"minLength": search.SHORTEST, "maxLength": search.LONGEST},
    ),
    Param(
        "sort",
        "the column to sort by, '-' before it for descending (default: id)",
        _TEXT | {"enum": queries.sort_keys()},
    ),
    Param("presented_from", "presented on or after this day (UTC)", _TEXT | {"format": "date"}),
    Param("presented_to", "presented on or before this day (UTC)", _TEXT | {"format": "date"}),
    Param("cursor", "next_cursor of the previous page", _TEXT | {"pattern": r"^\d{1,10}$"}),
    Param(
        "limit",
        f"page size, 1 to {MAX_PAGE} (default 50)",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
    ),
]


# -- URL table --------------------------------------------------------------------------


@blueprint.get("/health")
@operation(
    summary="Status, enabled plugins, database reachable",
    tag="service",
    public=True,
    responses={200: ("healthy", HealthOut), 503: ("the database is unreachable", HealthOut)},
)
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


@blueprint.get("/openapi.json")
@operation(
    summary="This document, generated from the code",
    tag="service",
    public=True,
    responses={200: ("the OpenAPI 3.1 document", None)},
)
def openapi() -> Response:
    described = document(current_app, title="caratflow API v1", version="1")
    return _json(declared_api.describe(described, runtime().plugins))


@blueprint.get("/docs")
@operation(
    summary="An interactive viewer of this document (Swagger UI, served from here)",
    tag="service",
    public=True,
    responses={200: ("the viewer, an HTML page", None)},
    other_content={200: {"text/html": {"type": "string"}}},
)
def docs() -> str:
    return render_template("api/docs.html")  # under the app's CSP: no inline script or style


@blueprint.get("/docs/<name>")
@operation(
    summary="The viewer's script and stylesheet",
    tag="service",
    public=True,
    responses={200: ("the file", None), 404: ("not one of the viewer's files", ErrorOut)},
    other_content={200: {"text/css": {"type": "string"}, "text/javascript": {"type": "string"}}},
)
def docs_asset(name: str) -> Response:
    if name not in DOCS_FILES:
        raise NotFound(f"no file {name!r} of the API viewer")
    return send_from_directory(DOCS_ASSETS, name, max_age=86400)


@blueprint.post("/shipments")
@operation(
    summary="Present a shipment",
    description=(
        "Records the shipment with the findings of every rule that applies. With an "
        "Idempotency-Key, sending the same shipment again answers 200 with the first "
        "one (header Idempotent-Replayed); the same key with another shipment is a 409."
    ),
    body=ShipmentIn,
    body_example=SHIPMENT_EXAMPLE,
    headers=[
        Param(
            "Idempotency-Key",
            "present this shipment once",
            _TEXT | {"minLength": 1, "maxLength": KEY_MAX},
        )
    ],
    responses={
        201: ("presented", ShipmentOut),
        200: ("presented before under this Idempotency-Key", ShipmentOut),
        **_DENIED,
        409: ("the Idempotency-Key was used for another shipment", ErrorOut),
        **_BAD,
    },
    response_headers={201: {**_ETAG, **_LOCATION}, 200: {**_ETAG, **_LOCATION}},
)
def present() -> Response:
    actor = _actor()
    key = _idempotency_key()
    presented = runtime().shipments.present(db(), _body(), actor, idempotency_key=key)
    db().commit()
    response = _shipment_response(presented.shipment, 201 if presented.created else 200)
    response.headers["Location"] = url_for(".get_shipment", shipment_id=presented.shipment.id)
    if not presented.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@blueprint.post("/shipments/check")
@operation(
    summary="Completeness pre-check: every finding a presentation would get",
    description="Nothing is recorded. Brokers send a file here before it reaches the counter.",
    body=ShipmentIn,
    body_example=SHIPMENT_EXAMPLE,
    responses={200: ("the findings", CheckOut), **_DENIED, **_BAD},
)
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
@operation(
    summary="List shipments, newest last, one page at a time",
    query=_FILTERS,
    responses={200: ("a page", ShipmentList), **_DENIED, **_BAD},
)
def list_shipments() -> Response:
    actor = _actor()
    args = request.args
    filters = queries.ShipmentFilter(
        state=args.get("state") or None,
        authority=args.get("authority") or None,
        goods=args.get("goods"),  # enumerations: refused outside them before the view
        direction=args.get("direction"),
        certificate=args.get("certificate") or None,
        text=args.get("q"),  # an empty one is too short: a 422, as the document says
        presented_from=_day("presented_from"),
        presented_before=_day("presented_to", next_day=True),
    )
    page = queries.search_shipments(
        read_db(),
        actor,
        filters,
        cursor=_int_arg("cursor", None, 0, inputs.MAX_ID),
        limit=_int_arg("limit", 50, 1, MAX_PAGE) or 50,
        newest_first=False,
        sort=args.get("sort") or None,
        with_history=True,
    )
    service = runtime().shipments
    return _json(
        {
            "items": [shipment_json(s, service.available_actions(s)) for s in page.items],
            "next_cursor": str(page.next_cursor) if page.next_cursor else None,
        }
    )


@blueprint.get("/shipments/<id:shipment_id>")
@operation(
    summary="One shipment, with its version as ETag",
    responses={200: ("the shipment", ShipmentOut), **_DENIED, **_UNKNOWN},
    response_headers={200: _ETAG},
)
def get_shipment(shipment_id: int) -> Response:
    shipment = runtime().shipments.get(db(), shipment_id, _actor())
    return _shipment_response(shipment)


@blueprint.post("/shipments/<id:shipment_id>/actions/<action>")
@operation(
    summary="Take a decision (verify, hold, release, export, remediate, refuse, …)",
    description=(
        "Send If-Match with the version you decided on: without it a 428, a stale one "
        "is a 409. A rule "
        "that holds or refuses makes it a 422 with the findings and their articles. "
        "Where the authority wants four eyes, the first officer's call records a "
        "request (202) and a second officer's same call takes the decision."
    ),
    body=ActionIn,
    body_required=False,
    body_example=ACTION_EXAMPLE,
    headers=[Param("If-Match", "the version (ETag) the decision was taken on", required=True)],
    responses={
        200: ("decided", ShipmentOut),
        202: ("requested; a second officer confirms", PendingAnswer),
        **_DENIED,
        **_UNKNOWN,
        409: ("stale version, or not possible in this state", ErrorOut),
        422: ("a reason or choice is missing, or the law forbids it", ErrorOut),
        428: ("no If-Match: say which version you decided on", ErrorOut),
    },
    response_headers={200: _ETAG, 202: _ETAG},
)
def act(shipment_id: int, action: str) -> Response:
    actor = _actor()
    body = _action_body()
    outcome = runtime().shipments.decide(
        db(),
        shipment_id,
        action,
        actor,
        expected_version=_if_match(),
        reason=body.reason,
        inputs=body.inputs,
    )
    db().commit()
    if isinstance(outcome, PendingDecision):
        shipment = runtime().shipments.get(db(), shipment_id, actor)
        service = runtime().shipments
        response = _json(
            {
                "pending_decision": _pending_json(outcome),
                "shipment": shipment_json(shipment, service.available_actions(shipment)),
            },
            202,
        )
        response.headers["ETag"] = f'"{shipment.version}"'
        return response
    return _shipment_response(outcome)


@blueprint.get("/shipments/<id:shipment_id>/history")
@operation(
    summary="Every decision with its findings",
    responses={200: ("the decisions, oldest first", HistoryOut), **_DENIED, **_UNKNOWN},
)
def history(shipment_id: int) -> Response:
    shipment = runtime().shipments.get(db(), shipment_id, _actor())
    return _json({"shipment": shipment.id, "events": [event_json(e) for e in shipment.events]})


@blueprint.get("/reports/<report>")
@operation(
    summary="A statutory report of one authority for one period, as JSON or CSV",
    description=(
        "The reports the law asks for (e.g. eu.report.import_monthly, kp.statistics), "
        "built from the records of the period in the authority's own calendar. Only "
        "authorities you act for; without ?authority, your only one."
    ),
    tag="reports",
    query=[
        Param(
            "period",
            "a month (2026-11), a quarter (2026-Q3) or a year (2026), as the report asks",
            required=True,
        ),
        Param("authority", "the authority's code (required if you act for more than one)"),
        Param("format", "json (default) or csv", _TEXT | {"enum": list(REPORT_FORMATS)}),
    ],
    responses={
        200: ("the report", ReportOut),
        **_DENIED,
        404: ("no such report for this authority", ErrorOut),
        **_BAD,
    },
    response_headers={200: {"Content-Disposition": "with format=csv: the file's name"}},
    other_content={200: {"text/csv": {"type": "string"}}},
)
def report(report: str) -> Response:
    actor = _actor()
    require(actor, Permission.READ)
    wanted = request.args.get("format", "json")
    if wanted not in REPORT_FORMATS:
        raise InvalidInput([FieldError("format", "json or csv")])
    period = request.args.get("period")
    if not period:
        raise InvalidInput([FieldError("period", "required, e.g. 2026-11, 2026-Q3 or 2026")])
    authority = request.args.get("authority") or _only_authority(actor)
    result = run_report(read_db(), runtime().plugins, report, authority, period, actor)
    if wanted == "json":
        return _json(result.as_json())
    name = f"{result.report.name}-{result.authority}-{result.period.label.strip()}.csv"
    return Response(
        result.as_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blueprint.post("/reports/<report>/submissions")
@operation(
    summary="Send one period of a report to its recipient (e.g. the Commission)",
    description=(
        "Queues the report, as CSV, in the outbox; its submission deadline is met once it "
        "is delivered. Sending the same period again queues nothing more."
    ),
    tag="reports",
    body=SubmissionIn,
    body_example=SUBMISSION_EXAMPLE,
    responses={
        202: ("queued", SubmissionOut),
        **_DENIED,
        404: ("no such report for this authority", ErrorOut),
        **_BAD,
    },
)
def submit(report: str) -> Response:
    actor = _actor()
    try:
        body = SubmissionIn.model_validate(_body())
    except ValidationError as error:
        raise InvalidInput(field_errors(error)) from None
    authority = body.authority or _only_authority(actor)
    sent = submit_report(db(), runtime().plugins, report, authority, body.period, actor)
    db().commit()
    return _json(
        {
            "report": sent.result.report.name,
            "authority": sent.result.authority,
            "period": sent.result.period.label,
            "recipient": sent.result.report.recipient,
            "queued": bool(sent.queued),
            "rows": len(sent.result.rows),
            "deadline": deadline_json(sent.deadline) if sent.deadline is not None else None,
        },
        202,
    )


# -- errors -----------------------------------------------------------------------------


@blueprint.errorhandler(CaratflowError)
def caratflow_error(error: CaratflowError) -> Response:
    if isinstance(error, Unauthorized | Forbidden):
        _record_refusal(error)
    return _json(error.as_dict(), error.status)


@blueprint.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    return _json(
        {"error": error.name.replace(" ", ""), "message": error.description}, error.code or 500
    )


for _unavailable in DATABASE_UNAVAILABLE:  # issue 11: a 503, not the catch-all's 500
    blueprint.register_error_handler(_unavailable, database_unavailable)


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
        g.api_user = user
        g.actor = actor_for(user)
    return g.actor


def _only_authority(actor: Actor) -> str:
    """The authority a request means when it names none: the actor's only one."""
    if actor.authorities is not None and len(actor.authorities) == 1:
        return next(iter(actor.authorities))
    raise InvalidInput([FieldError("authority", "required: you act for more than one")])


def _record_refusal(error: CaratflowError) -> None:
    """Refused access is a security event (written after dropping the request's work);
    those without credentials are counted per address, not written one by one."""
    session = db()
    session.rollback()
    if isinstance(error, Unauthorized):
        audit.record_anonymous_refusal(
            session, remote_addr=request.remote_addr, path=request.path, reason=str(error)
        )
        session.commit()
        return
    audit.record(
        session,
        audit.EventKind.ACCESS_REFUSED,
        user=g.get("api_user"),
        remote_addr=request.remote_addr,
        path=request.path,
        method=request.method,
        reason=str(error),
    )
    session.commit()


def _body(required: bool = True) -> dict[str, Any]:
    """The JSON object sent, read strictly (``caratflow.inputs.loads``: no NaN, no
    infinite number, bounded nesting, no string that no database can store)."""
    raw = request.get_data(cache=True)
    if not raw.strip() and not required:
        return {}
    try:
        payload = inputs.loads(raw)
    except inputs.NotJson:
        payload = None
    if not isinstance(payload, dict):
        raise InvalidInput([FieldError("$", "the body must be a JSON object")])
    return payload


def _action_body() -> ActionIn:
    try:
        return ActionIn.model_validate(_body(required=False))
    except ValidationError as error:
        raise InvalidInput(field_errors(error)) from None


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= KEY_MAX or not key.isprintable():
        raise InvalidInput([FieldError("Idempotency-Key", f"1 to {KEY_MAX} printable characters")])
    return key


def _int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    return inputs.optional_whole_number(request.args.get(name), name, default, low, high)


def _day(name: str, next_day: bool = False) -> datetime | None:
    return inputs.day_start(request.args.get(name), name, days=1 if next_day else 0)


def _if_match() -> int:
    raw = request.headers.get("If-Match")
    if raw is None:
        raise PreconditionRequired(
            "If-Match is required: send the ETag of the version you decided on"
        )
    tag = raw.strip().removeprefix("W/").strip('"')
    try:
        return inputs.whole_number(tag, "If-Match")
    except InvalidInput:
        raise Conflict(f"If-Match {raw!r} is not a version this API issued") from None


def _pending_json(request_: PendingDecision) -> dict[str, Any]:
    return {
        "id": request_.id,
        "action": request_.action,
        "reason": request_.reason,
        "requested_by": request_.requested_by,
        "requested_at": request_.requested_at.isoformat(),
        "status": request_.status,
    }


def _shipment_response(shipment: Shipment, status: int = 200) -> Response:
    service = runtime().shipments
    response = _json(shipment_json(shipment, service.available_actions(shipment)), status)
    response.headers["ETag"] = f'"{shipment.version}"'
    return response


def _json(body: Any, status: int = 200) -> Response:
    response = jsonify(spoken(body))
    response.status_code = status
    return response
