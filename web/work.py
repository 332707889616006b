"""My work (issue 26): an officer's start page, and the count the navigation shows.

What waits for me: presentations for a decision of my duty, four-eyes requests a
colleague made, deadlines of my authorities due today or overdue, shipments held longer
than their authority's target (a dated parameter of its plugin), and the cases I claimed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from caratflow.accounts import people
from caratflow.case import workbench
from caratflow.case.access import Actor, Permission
from caratflow.deadlines.board import DeadlineView, board
from caratflow.deadlines.keeping import calendar_for
from caratflow.law.calendar import WorkingCalendar
from caratflow.models import utcnow
from caratflow.web.context import db, runtime
from caratflow.web.forms import EmptyForm
from caratflow.web.security import current_actor, requires

blueprint = Blueprint("work", __name__)


@dataclass
class Work:
    awaiting: list[Any] = field(default_factory=list)
    requests: list[workbench.Request] = field(default_factory=list)
    due: list[DeadlineView] = field(default_factory=list)
    held_too_long: list[tuple[workbench.Held, Any]] = field(default_factory=list)
    claimed: list[Any] = field(default_factory=list)
    claims: dict[int, Any] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """What waits for me: the navigation's number (my claims are on the page too)."""
        return len(self.awaiting) + len(self.requests) + len(self.due) + len(self.held_too_long)


def my_work(actor: Actor) -> Work:
    session, host = db(), runtime().plugins
    now = utcnow()
    work = Work(
        awaiting=workbench.awaiting_my_decision(session, host, actor),
        requests=workbench.requests_for_me(session, host, actor),
        due=[
            v
            for v in board(session, actor.authorities, within=0, limit=500)
            if v.bucket in ("overdue", "due soon")  # due soon within 0 days: today
        ][: workbench.MAX_LISTED],
        claimed=workbench.my_claims(session, actor),
    )
    calendars: dict[str, WorkingCalendar] = {}
    profiles = host.authority_profiles()
    for held in workbench.held_cases(session, actor):
        code = held.shipment.authority_code
        target = profiles[code][0].hold_target if code in profiles else None
        if target is None:
            continue
        calendar = calendars.get(code) or calendars.setdefault(code, calendar_for(session, code))
        start = calendar.legal_date(held.since)
        due = target(start).due_after(calendar, start)
        if due < calendar.legal_date(now):
            work.held_too_long.append((held, due))
    shown = [s.id for s in work.awaiting] + [r.shipment.id for r in work.requests]
    shown += [h.shipment.id for h, _due in work.held_too_long]
    work.claims = workbench.claims_on(session, shown)
    return work


def work_count() -> int | None:
    """For the navigation of every page a signed-in officer sees (once per request)."""
    if not current_user.is_authenticated or not current_user.may("decide"):
        return None
    if "work_count" not in g:
        g.work_count = my_work(current_actor()).count
    return g.work_count


@blueprint.app_context_processor
def navigation() -> dict[str, Any]:
    return {"work_count": work_count}


# -- URL table --------------------------------------------------------------------------


@blueprint.get("/work")
@requires(Permission.READ)
def index() -> str:
    work = my_work(current_actor())
    g.work_count = work.count
    return render_template("work.html", work=work, button=EmptyForm(), zones=_zones())


# CSRF: every page's POST is checked before its view (``security._before_page``).
@blueprint.post("/shipments/<int:shipment_id>/claim")
@requires(Permission.DECIDE)
def claim(shipment_id: int) -> Response:
    shipment = runtime().shipments.get(db(), shipment_id, current_actor())
    before = workbench.claims_on(db(), [shipment.id]).get(shipment.id)
    taken_from = before.claimed_by if before and before.claimed_by != current_user.name else None
    workbench.claim(db(), shipment, current_actor())
    db().commit()
    if taken_from:
        flash(_("You took this case over from %(name)s.", name=taken_from), "success")
    else:
        flash(_("You are on this case: your colleagues see it."), "success")
    return _back(shipment_id)


@blueprint.post("/shipments/<int:shipment_id>/release")
@requires(Permission.DECIDE)
def release(shipment_id: int) -> Response:
    shipment = runtime().shipments.get(db(), shipment_id, current_actor())
    workbench.release(db(), shipment, current_actor())
    db().commit()
    flash(_("Nobody is on this case now."), "success")
    return _back(shipment_id)


def _back(shipment_id: int) -> Response:
    wanted = request.form.get("next", "")
    if wanted == url_for(".index"):
        return redirect(wanted, 303)
    return redirect(url_for("shipments.detail", shipment_id=shipment_id), 303)


def _zones() -> dict[str, str]:
    return {a.code: a.zone for a in people.visible_authorities(db(), current_actor())}
