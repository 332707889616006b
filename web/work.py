"""My work (issue 26): an officer's start page, the count the navigation shows, and
the officer's choice of an e-mail digest of it (``caratflow.accounts.work``, ``.digest``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from caratflow.accounts import digest, people, work
from caratflow.case import workbench
from caratflow.case.access import Actor, Permission
from caratflow.errors import InvalidInput
from caratflow.web.context import db, runtime
from caratflow.web.forms import DigestForm, EmptyForm
from caratflow.web.security import current_actor, requires, signed_in

blueprint = Blueprint("work", __name__)


def my_work(actor: Actor) -> work.Work:
    return work.my_work(db(), runtime().plugins, actor)


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
    mine = my_work(current_actor())
    g.work_count = mine.count
    return render_template(
        "work.html", work=mine, button=EmptyForm(), zones=_zones(), **_digest_form()
    )


@blueprint.post("/work/digest")
@requires(Permission.READ)
def digest_choice() -> Any:
    """Opt in to the daily e-mail of this page (or change it), or opt out."""
    user = signed_in().user
    if request.form.get("stop"):
        digest.unsubscribe(db(), user)
        db().commit()
        flash(_("You will get no more e-mail of your work."), "success")
        return redirect(url_for(".index"), 303)
    form = DigestForm()
    if form.validate():
        try:
            digest.subscribe(db(), user, form.address.data, form.send_at.data)
        except InvalidInput as error:
            form.address.errors = [p.message for p in error.errors]
        else:
            db().commit()
            flash(
                _(
                    "Your work comes by e-mail every day at %(at)s.",
                    at=form.send_at.data.strftime("%H:%M"),
                ),
                "success",
            )
            return redirect(url_for(".index"), 303)
    mine = my_work(current_actor())
    return render_template(
        "work.html", work=mine, button=EmptyForm(), zones=_zones(), **_digest_form(form)
    ), 422


def _digest_form(form: DigestForm | None = None) -> dict[str, Any]:
    """The digest's form, filled in with the officer's choice (or the deployment's time)."""
    chosen = digest.digest_of(db(), signed_in().user)
    if form is None:
        form = DigestForm(
            address=chosen.address if chosen else "",
            send_at=chosen.send_at if chosen else runtime().settings.digest_at,
        )
    zone = _zones().get(digest.authority_of(signed_in().user) or "", "UTC")
    return {"digest_form": form, "digest": chosen, "digest_zone": zone}


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
