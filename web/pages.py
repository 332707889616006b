"""The office's overview pages: dashboard, deadlines, reports, parties, workflow, security log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from caratflow import inputs
from caratflow.accounts import audit, people
from caratflow.case import queries
from caratflow.case.access import Permission, require
from caratflow.case.parties import party_json, register_party
from caratflow.deadlines import outbox
from caratflow.deadlines.board import board
from caratflow.errors import Conflict, InvalidInput
from caratflow.models import utcnow
from caratflow.records.reports import ReportResult, reports_of, run_report
from caratflow.web import i18n
from caratflow.web.charts import Series, bars
from caratflow.web.context import db, read_db, runtime
from caratflow.web.diagram import workflow_svg
from caratflow.web.forms import PartyForm, options
from caratflow.web.security import current_actor, requires

blueprint = Blueprint("pages", __name__)

DUE_SOON_WORKING_DAYS = 3


# -- URL table --------------------------------------------------------------------------


@blueprint.get("/")
@requires(Permission.READ)
def dashboard() -> str:
    actor = current_actor()
    counts = queries.state_counts(db(), actor)
    watched = board(db(), actor.authorities, within=DUE_SOON_WORKING_DAYS, limit=200)
    volume = queries.month_volume(db(), actor)
    return render_template(
        "dashboard.html",
        undeliverable=_undeliverable(actor),
        counts=counts,
        total=sum(counts.values()),
        overdue=[v for v in watched if v.bucket == "overdue"][:10],
        due_soon=[v for v in watched if v.bucket == "due soon"][:10],
        volume=volume,
        chart=_carats_chart(volume),
        decisions_chart=_decisions_chart(queries.weekly_decisions(db(), actor)),
        zones=_zones(),
    )


@blueprint.get("/deadlines")
@requires(Permission.READ)
def deadlines() -> str:
    actor = current_actor()
    watched = board(db(), actor.authorities, within=DUE_SOON_WORKING_DAYS, limit=500)
    buckets: dict[str, list[Any]] = {"overdue": [], "due soon": [], "suspended": [], "later": []}
    for view in watched:
        buckets.setdefault(view.bucket, []).append(view)
    return render_template(
        "deadlines.html",
        buckets=buckets,
        undeliverable=_undeliverable(actor),
        zones=_zones(),
        now=utcnow(),
    )


def _undeliverable(actor: Any) -> list[Any]:
    """The legal notices nobody can be reached for (issue 24): red on the board."""
    codes = None if actor.authorities is None else sorted(actor.authorities)
    return outbox.undeliverable(db(), codes, limit=50)


@blueprint.get("/reports")
@requires(Permission.READ)
def reports() -> Any:
    """This month's volume, and a statutory report of one own authority for one period."""
    actor = current_actor()
    authorities = people.visible_authorities(db(), actor)
    host = runtime().plugins
    offered = {n: r for a in authorities for n, r in reports_of(host, a.plugins).items()}
    asked = {
        "authority": request.args.get("authority") or (authorities[0].code if authorities else ""),
        "report": request.args.get("report", ""),
        "period": request.args.get("period", ""),
    }
    result, problems, status = None, [], 200
    if asked["report"]:
        try:
            result = run_report(
                read_db(), host, asked["report"], asked["authority"], asked["period"], actor
            )
        except InvalidInput as error:
            problems, status = [p.message for p in error.errors], 422
    return render_template(
        "reports.html",
        volume=queries.month_volume(db(), actor),
        authorities=authorities,
        offered=sorted(offered.values(), key=lambda r: r.name),
        asked=asked,
        result=result,
        rows=_report_rows(result) if result else [],
        problems=problems,
    ), status


@blueprint.get("/reports/<report>.csv")
@requires(Permission.READ)
def report_csv(report: str) -> Response:
    """The same report as a file, for the authority's own records or to send on."""
    args = request.args
    result = run_report(
        read_db(),
        runtime().plugins,
        report,
        args.get("authority", ""),
        args.get("period", ""),
        current_actor(),
    )
    name = f"{result.report.name}-{result.authority}-{result.period.label.strip()}.csv"
    return Response(
        result.as_csv(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blueprint.route("/parties", methods=["GET", "POST"])
@requires(Permission.READ)
def parties() -> Any:
    """The register of importers and exporters (e.g. Norway §7), and registering one."""
    actor = current_actor()
    form = PartyForm()
    form.authority.choices = options(
        (a.code, f"{a.code} — {a.name}") for a in people.visible_authorities(db(), actor)
    )
    status = 200
    if form.is_submitted():
        require(actor, Permission.REGISTER_PARTIES)
        if form.validate():
            fields = {
                name: getattr(form, name).data or None
                for name in ("authority", "name", "address", "phone")
            }
            fields["roles"] = form.roles.data or []
            for name in ("organisation_number", "national_id"):
                if getattr(form, name).data:
                    fields[name] = getattr(form, name).data
            try:
                register_party(db(), runtime().plugins, fields, actor)
                db().commit()
                flash(_("Registered."), "success")
                return redirect(url_for(".parties"), 303)
            except InvalidInput as error:
                db().rollback()
                for problem in error.errors:
                    field = getattr(form, problem.field.split(".")[0], None)
                    if field is not None and problem.field != "csrf_token":
                        field.errors = [*field.errors, problem.message]
                    else:
                        flash(f"{problem.field}: {problem.message}", "error")
                status = 422
            except Conflict as error:
                db().rollback()
                flash(str(error), "error")
                status = 409
        else:
            status = 422
    registered = [party_json(p, actor) for p in queries.parties(db(), actor)]
    return render_template("parties.html", form=form, parties=registered), status


@blueprint.get("/workflow")
@requires(Permission.READ)
def workflow() -> str:
    """The state machine of each set of enabled plugins, drawn."""
    actor = current_actor()
    host = runtime().plugins
    drawings = [
        {
            "plugins": sorted(plugins),
            "authorities": sorted(codes),
            "svg": workflow_svg(
                host.jurisdiction(plugins).workflow,
                counts=queries.state_counts(db(), actor, authorities=codes),
            ),
            "workflow": host.jurisdiction(plugins).workflow,
        }
        for plugins, codes in sorted(
            queries.plugin_sets(db(), actor).items(), key=lambda item: sorted(item[1])
        )
    ]
    return render_template("workflow.html", drawings=drawings)


@blueprint.get("/security-log")
@requires(Permission.AUDIT)
def security_log() -> str:
    before = inputs.optional_whole_number(request.args.get("before") or None, "before", None)
    events = audit.security_log(db(), current_actor(), before=before)
    return render_template("security_log.html", events=events)


def _carats_chart(volume: queries.MonthVolume) -> Markup:
    return bars(
        volume.days,
        [Series(_("Carats"), lambda d: d.carats)],
        label=lambda d: str(d.day.day),
        title=_("Carats presented per day"),
        x_title=_("Day of %(month)s", month=i18n.month(volume.month)),
        y_title=_("Carats"),
        describe=lambda d: _(
            "%(day)s: %(shipments)s shipments, %(carats)s ct",
            day=i18n.day(d.day),
            shipments=d.shipments,
            carats=i18n.decimal(d.carats),
        ),
        number=lambda n: i18n.count(int(n)),
        every=5,
    )


def _decisions_chart(weeks: list[queries.WeekDecisions]) -> Markup:
    return bars(
        weeks,
        [
            Series(_("Decisions"), lambda w: w.decisions),
            Series(_("Holds"), lambda w: w.holds, "bar hold"),
        ],
        label=lambda w: i18n.short_day(w.week),
        title=_("Decisions and holds per week"),
        x_title=_("Week beginning"),
        y_title=_("Decisions"),
        describe=lambda w: _(
            "week of %(day)s: %(decisions)s decisions, %(holds)s holds",
            day=i18n.day(w.week),
            decisions=i18n.count(w.decisions),
            holds=i18n.count(w.holds),
        ),
        number=lambda n: i18n.count(int(n)),
        every=2,
    )


def _report_rows(result: ReportResult) -> list[list[tuple[str, bool]]]:
    """Each cell as the reader's language writes it, and whether it is a number: every
    date in one format (the reader's), every instant in the authority's zone."""
    zone = _zones().get(result.authority, "UTC")
    return [
        [_report_cell(column, row.get(column), zone) for column in result.report.columns]
        for row in result.rows
    ]


def _report_cell(column: str, value: Any, zone: str) -> tuple[str, bool]:
    if isinstance(value, Decimal):
        return (i18n.usd(value) if column.endswith("_usd") else i18n.decimal(value)), True
    if isinstance(value, int) and not isinstance(value, bool):
        return i18n.count(value), True
    if isinstance(value, datetime):
        return i18n.instant(value, zone), False
    if isinstance(value, date):
        return i18n.day(value), False
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)), False
    if isinstance(value, str) and value:
        return i18n.plugin_text(value, value), False  # a plugin's wording, in its catalogue
    return ("" if value is None else str(value)), False


def _zones() -> dict[str, str]:
    return {a.code: a.zone for a in people.visible_authorities(db(), current_actor())}
