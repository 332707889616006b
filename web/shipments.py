"""Shipment pages: the list, one shipment, presenting, the pre-check and each decision.

Thin by design: every rule (who may, what the law says, which version is current)
is the service's; a page collects what was typed, calls it, and shows what it said.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from caratflow.accounts import people
from caratflow.case import access, foureyes, queries, search, workbench
from caratflow.case.access import Permission
from caratflow.case.representation import event_json, shipment_json
from caratflow.case.schemas import parse_shipment
from caratflow.case.service import facts_of, latest_findings, legal_date
from caratflow.errors import (
    ActionNotAvailable,
    CaratflowError,
    Conflict,
    FieldError,
    InvalidInput,
    ReasonRequired,
)
from caratflow.inputs import NotJson, day_start, loads, optional_whole_number, whole_number
from caratflow.jurisdiction.workflow import STAY
from caratflow.law.rules import LawForbids, Outcome
from caratflow.ledger import sealing
from caratflow.models import Authority, IssuedDocument, PendingDecision, Shipment, utcnow
from caratflow.records.reports import csv_cell
from caratflow.web import declared_forms
from caratflow.web.context import db, read_db, runtime
from caratflow.web.forms import CheckFileForm, DecisionForm, EmptyForm, ShipmentForm, options
from caratflow.web.security import current_actor, requires

blueprint = Blueprint("shipments", __name__, url_prefix="/shipments")
blueprint.add_app_template_global(declared_forms.rows, "declared_rows")
blueprint.add_app_template_global(declared_forms.countries, "declared_countries")
blueprint.add_app_template_global((search.SHORTEST, search.LONGEST), "search_bounds")

PAGE_SIZE = 50


# -- URL table --------------------------------------------------------------------------


@blueprint.get("/")
@requires(Permission.READ)
def index() -> str:
    actor = current_actor()
    args = request.args
    authorities = people.visible_authorities(db(), actor)
    filters = _filters(args, authorities)
    cursor = args.get("cursor")
    after = optional_whole_number(cursor or None, "cursor", None)  # a bad one is a 422
    problem = None
    try:
        page = queries.search_shipments(
            read_db(),
            actor,
            filters,
            cursor=after,
            limit=PAGE_SIZE,
            sort=args.get("sort") or None,
            as_rows=True,  # issue 28: a list reads rows
        )
    except InvalidInput as error:  # a fragment too short, a sort not offered: said on the page
        page, problem = queries.Page([], None), "; ".join(e.message for e in error.errors)
    kept = {k: v for k, v in args.items() if v and k != "cursor"}
    return render_template(
        "shipments/index.html",
        page=page,
        problem=problem,
        filters=kept,
        authorities=authorities,
        states=_states_for(actor),
        next_url=url_for(".index", **kept, cursor=page.next_cursor) if page.next_cursor else None,
        first_url=url_for(".index", **kept) if cursor else None,
    )


CSV_COLUMNS = (
    "id",
    "authority",
    "presented_at",
    "certificate",
    "issuing_country",
    "importer",
    "exporter",
    "direction",
    "goods",
    "carats",
    "value_usd",
    "state",
)


@blueprint.get("/shipments.csv")
@requires(Permission.READ)
def export_csv() -> Response:
    """The list as CSV, with the filters and order of the page it was asked from, written
    a page at a time as it is read: a year of shipments never sits in memory."""
    actor = current_actor()
    args = request.args
    filters = _filters(args, people.visible_authorities(db(), actor))
    sort = args.get("sort") or None
    first = queries.search_shipments(read_db(), actor, filters, limit=CSV_PAGE, sort=sort)

    def rows() -> Any:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        page = first
        while True:
            for s in page.items:
                writer.writerow([csv_cell(value) for value in _csv_row(s)])
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            if page.next_cursor is None:
                return
            page = queries.search_shipments(
                read_db(), actor, filters, cursor=page.next_cursor, limit=CSV_PAGE, sort=sort
            )

    return Response(
        stream_with_context(rows()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="shipments.csv"'},
    )


CSV_PAGE = 500


def _csv_row(s: Shipment) -> list[Any]:
    cert = s.certificate
    presented = s.presented_at.astimezone(ZoneInfo(s.authority.zone)).isoformat()
    return [
        s.id,
        s.authority_code,
        presented,
        cert.number,
        cert.issuing_country,
        cert.importer_name,
        cert.exporter_name,
        s.direction.value,
        s.goods.value,
        cert.carats,
        cert.value_usd,
        s.state,
    ]


def _filters(args: Any, authorities: list[Authority]) -> queries.ShipmentFilter:
    """What a list's URL asks for; the list and its CSV read the same."""
    zone = _zone_of(authorities, args.get("authority"))
    return queries.ShipmentFilter(
        state=args.get("state") or None,
        authority=args.get("authority") or None,
        goods=args.get("goods") or None,
        direction=args.get("direction") or None,
        certificate=args.get("certificate") or None,
        text=args.get("q") or None,
        presented_from=day_start(args.get("from") or None, "from", zone),  # empty: any day
        presented_before=day_start(args.get("to") or None, "to", zone, days=1),
    )


@blueprint.route("/new", methods=["GET", "POST"])
@requires(Permission.CHECK)
def present() -> Any:
    """Present at the counter; 'Check' shows the findings first and records nothing."""
    actor = current_actor()
    form = _shipment_form(actor)
    declared = _presentation_sections(actor)
    findings, unplaced, status = None, [], 200
    if form.is_submitted():
        checking = "check" in request.form
        if not checking:
            access.require(actor, Permission.PRESENT)
        if not form.validate():
            status = 422
        else:
            zone = _zone_of_code(form.authority.data)
            payload, problems = form.payload(zone)
            try:
                payload |= declared_forms.read(
                    request.form, request.files, _specs(declared), ZoneInfo(zone)
                )
                if problems:
                    raise InvalidInput(problems + _other_problems(payload, problems))
                if checking:
                    findings = runtime().shipments.check(db(), payload, actor)
                else:
                    presented = runtime().shipments.present(db(), payload, actor)
                    db().commit()
                    flash(_("Shipment presented."), "success")
                    return redirect(url_for(".detail", shipment_id=presented.shipment.id), 303)
            except InvalidInput as error:
                db().rollback()
                unplaced = form.show_errors(error.errors)
                status = 422
            except LawForbids as error:  # a presentation the law refuses: its findings say why
                db().rollback()
                findings, status = error.findings, error.status
    posted = declared_forms.read(request.form, {}, _specs(declared), ZoneInfo("UTC"), "f.")
    return render_template(
        "shipments/present.html",
        form=form,
        findings=findings,
        unplaced=unplaced,
        declared=declared,
        posted=posted if form.is_submitted() else {},
    ), status


@blueprint.route("/check", methods=["GET", "POST"])
@requires(Permission.CHECK)
def check() -> Any:
    """The broker's completeness pre-check of a presentation file: nothing is recorded."""
    form = CheckFileForm()
    findings, errors, status = None, [], 200
    if form.validate_on_submit():
        upload = request.files.get("file")
        text = upload.read().decode("utf-8", "replace") if upload else form.document.data or ""
        try:
            payload = loads(text)
            findings = runtime().shipments.check(db(), payload, current_actor())
        except NotJson as error:
            errors = [("$", _("Not valid JSON: %(error)s", error=str(error)))]
            status = 422
        except InvalidInput as error:
            errors = [(e.field, e.message) for e in error.errors]
            status = 422
    return render_template(
        "shipments/check.html", form=form, findings=findings, errors=errors
    ), status


@blueprint.get("/<int:shipment_id>")
@requires(Permission.READ)
def detail(shipment_id: int) -> str:
    return render_template("shipments/detail.html", **_detail(shipment_id))


@blueprint.route("/<int:shipment_id>/actions/<action>", methods=["GET", "POST"])
@requires(Permission.READ)
def decide(shipment_id: int, action: str) -> Any:
    """One decision: reason and choices as the transition asks; four eyes where set."""
    actor = current_actor()
    service = runtime().shipments
    shipment = service.get(db(), shipment_id, actor)
    access.require(actor, Permission.DECIDE)
    transition = _transition(shipment, action)
    declared = _declared_sections(shipment, action)
    form = DecisionForm(version=str(shipment.version))
    problem, blocking, status, posted = None, [], 200, {}
    if form.is_submitted():
        try:
            if not form.validate():
                raise InvalidInput([FieldError("version", "missing")])
            version = whole_number(form.version.data, "version")
        except InvalidInput:  # a field the page filled in, not the officer
            abort(400, _("The form is incomplete; reload the page."))
        inputs, problems = form.inputs()
        inputs |= {name: request.form.get(f"input_{name}") for name in _inputs(transition)}
        try:
            posted = _declared_values(shipment, declared)
            inputs |= posted
            if problems:
                raise InvalidInput(problems)
            outcome = service.decide(
                db(),
                shipment_id,
                action,
                actor,
                expected_version=version,
                reason=form.reason.data,
                inputs=inputs,
            )
            db().commit()
        except (Conflict, ActionNotAvailable) as error:
            db().rollback()
            problem, status = str(error), 409
        except LawForbids as error:
            db().rollback()
            problem, blocking, status = str(error), error.findings, error.status
        except (ReasonRequired, InvalidInput) as error:
            db().rollback()
            problem, status = str(error), 422
        else:
            if isinstance(outcome, PendingDecision):
                flash(_("Requested. A second officer must confirm this decision."), "success")
            else:
                flash(_("Decision recorded."), "success")
            return redirect(url_for(".detail", shipment_id=shipment_id), 303)
        shipment = service.get(db(), shipment_id, actor)  # as it stands now
        form.version.data = str(shipment.version)
    return render_template(
        "shipments/decide.html",
        shipment=shipment,
        transition=transition,
        inputs=_inputs(transition),
        declared=declared,
        posted=posted,
        final=_final(service.jurisdiction_of(shipment).workflow, transition),
        form=form,
        problem=problem,
        blocking=blocking,
        findings=latest_findings(shipment),
        four_eyes=action in foureyes.four_eyes_actions(db(), shipment.authority_code),
    ), status


@blueprint.post("/<int:shipment_id>/requests/<int:request_id>/confirm")
@requires(Permission.DECIDE)
def confirm(shipment_id: int, request_id: int) -> Response:
    try:
        runtime().shipments.confirm_request(db(), request_id, current_actor())
        db().commit()
        flash(_("Confirmed: the decision is recorded."), "success")
    except (Conflict, ActionNotAvailable, LawForbids, ReasonRequired) as error:
        db().rollback()
        flash(str(error), "error")
    return redirect(url_for(".detail", shipment_id=shipment_id), 303)


@blueprint.post("/<int:shipment_id>/requests/<int:request_id>/withdraw")
@requires(Permission.DECIDE)
def withdraw(shipment_id: int, request_id: int) -> Response:
    try:
        runtime().shipments.withdraw_request(db(), request_id, current_actor())
        db().commit()
        flash(_("The request is withdrawn."), "success")
    except Conflict as error:
        db().rollback()
        flash(str(error), "error")
    return redirect(url_for(".detail", shipment_id=shipment_id), 303)


@blueprint.get("/<int:shipment_id>/documents/<int:document_id>.pdf")
@requires(Permission.READ)
def document(shipment_id: int, document_id: int) -> Response:
    """An issued certificate or certified copy, as signed (another authority's: not found);
    rendered here if the worker has not yet done it (issue 28), and kept."""
    shipment = runtime().shipments.get(db(), shipment_id, current_actor())
    found = db().get(IssuedDocument, document_id)
    if found is None or found.shipment_id != shipment.id:
        abort(404)
    pdf = runtime().documents.pdf_of(db(), found)
    db().commit()
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{found.number}.pdf"'
    return response


@blueprint.get("/<int:shipment_id>/record.json")
@requires(Permission.READ)
def record(shipment_id: int) -> Response:
    """The whole record as a file: the shipment, its decisions and findings."""
    service = runtime().shipments
    shipment = service.get(db(), shipment_id, current_actor())
    body = shipment_json(shipment, service.available_actions(shipment))
    body["history"] = [event_json(e) for e in shipment.events]
    response = Response(json.dumps(body, indent=2, ensure_ascii=False), mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="shipment-{shipment.id}-{shipment.certificate.number}.json"'
    )
    return response


# -- helpers ----------------------------------------------------------------------------


def _detail(shipment_id: int) -> dict[str, Any]:
    actor = current_actor()
    service = runtime().shipments
    shipment = service.get(db(), shipment_id, actor)
    workflow = service.jurisdiction_of(shipment).workflow
    actions = access.actions_for(workflow, shipment, actor)
    blocked = _blocked(workflow, shipment, actor, actions)
    return {
        "shipment": shipment,
        "zone": shipment.authority.zone,
        "state": workflow.states.get(shipment.state),
        "actions": actions,
        "findings": latest_findings(shipment),
        "events": shipment.events,
        "deadlines": sorted(getattr(shipment, "deadlines", []), key=lambda d: d.due_at),
        "requests": foureyes.open_requests(db(), shipment),
        "ledger": {e.id: sealing.reference(e) for e in shipment.events},
        "documents": db()
        .scalars(select(IssuedDocument).where(IssuedDocument.shipment_id == shipment.id))
        .all(),
        "four_eyes": foureyes.four_eyes_actions(db(), shipment.authority_code),
        "button": EmptyForm(),
        "inputs_of": lambda t: _inputs(t) or _declared_sections(shipment, t.action),
        "blocked": blocked,
        "final": lambda t: _final(workflow, t),
        "records": [
            (r, _declared_sections(shipment, r.action))
            for r in actions
            if r.action in {f.action for f in _fields(shipment).records(facts_of(shipment))}
        ],
        "claim": workbench.claims_on(db(), [shipment.id]).get(shipment.id),  # issue 26
    }


# -- what the decision page offers (issue 23) -------------------------------------------------


@dataclass(frozen=True)
class Blocked:
    """An action the state allows but this officer cannot take now: reserved to another
    duty or role (``why``), or stopped by the findings standing on the record."""

    transition: Any
    why: str | None
    findings: list[Any]


def _blocked(
    workflow: Any, shipment: Shipment, actor: Any, allowed: list[Any]
) -> dict[str, Blocked]:
    standing = [f for f in latest_findings(shipment) if Outcome(f.outcome).blocks]
    found: dict[str, Blocked] = {}
    open_to_actor = {t.action for t in allowed}
    for t in workflow.available(shipment):
        if t.action in found:
            continue
        if t.action not in open_to_actor:
            found[t.action] = Blocked(t, access.why_not(actor, workflow, t), [])
        elif t.requires_clean and standing:
            found[t.action] = Blocked(t, None, standing)
    return found


def _final(workflow: Any, transition: Any) -> bool:
    """A decision that cannot be undone (a clean record's verify, release or export, and a
    terminal one such as refuse) asks for confirmation first."""
    if transition.requires_clean:
        return True
    return transition.dest != STAY and workflow.states[transition.dest].terminal


# -- declared fields (issue 23): the forms generated from the plugins' declarations ----------


def _fields(shipment: Shipment) -> Any:
    return runtime().shipments.jurisdiction_of(shipment).fields


def _declared_sections(shipment: Shipment, action: str) -> list[declared_forms.Section]:
    facts = facts_of(shipment)
    sets = _fields(shipment).action(action, facts)
    return declared_forms.distinct(declared_forms.sections(sets, facts, legal_date(shipment)))


def _presentation_sections(actor: Any) -> list[declared_forms.Section]:
    """The presentation fields of every plugin of the actor's authorities, each titled
    with where it applies (the form does not know the direction and goods yet)."""
    plugins = {p for a in people.visible_authorities(db(), actor) for p in a.plugins}
    fields = runtime().plugins.jurisdiction(plugins).fields
    sets = [s for s in fields.sets if s.where == "presentation"]
    return declared_forms.distinct(declared_forms.sections(sets, {}, utcnow().date()))


def _specs(sections: list[declared_forms.Section]) -> list[Any]:
    return [spec for section in sections for spec in section.fields]


def _declared_values(shipment: Shipment, sections: list[declared_forms.Section]) -> dict[str, Any]:
    zone = ZoneInfo(shipment.authority.zone)
    return declared_forms.read(request.form, request.files, _specs(sections), zone)


def _other_problems(payload: dict[str, Any], known: list[FieldError]) -> list[FieldError]:
    """What the schema says besides the fields the form could not even read."""
    try:
        parse_shipment(payload)
    except InvalidInput as error:
        seen = {p.field for p in known}
        return [e for e in error.errors if e.field not in seen]
    return []


def _transition(shipment: Shipment, action: str) -> Any:
    workflow = runtime().shipments.jurisdiction_of(shipment).workflow
    try:
        return workflow.transition_for(shipment, action)
    except ActionNotAvailable as error:
        raise _NotNow(str(error)) from None


class _NotNow(CaratflowError):
    status = 409


def _inputs(transition: Any) -> dict[str, tuple[str, ...]]:
    return dict(getattr(transition, "inputs", {}) or {})


def _shipment_form(actor: Any) -> ShipmentForm:
    form = ShipmentForm()
    form.authority.choices = options(
        (a.code, f"{a.code} — {a.name}") for a in people.visible_authorities(db(), actor)
    )
    return form


def _zone_of_code(code: str | None) -> str:
    authority = db().get(Authority, code) if code else None
    return authority.zone if authority is not None else "UTC"


def _zone_of(authorities: list[Authority], code: str | None) -> str:
    for authority in authorities:
        if authority.code == code or code is None:
            return authority.zone
    return "UTC"


def _states_for(actor: Any) -> list[str]:
    names: dict[str, None] = {}
    host = runtime().plugins
    for plugins in queries.plugin_sets(db(), actor):
        names.update(dict.fromkeys(host.jurisdiction(plugins).workflow.states))
    return list(names)
