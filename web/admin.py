"""Administration: users and roles, the authorities' four-eyes settings, closure days
and directories of addressees (issue 24), the plugins.

Every change needs a fresh password (and code) and is recorded as a security event;
an administrator manages only the users and authorities of their own authorities
(``caratflow.accounts`` decides).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from caratflow.accounts import audit, people, profiles
from caratflow.accounts.provisioning import offered_duties
from caratflow.case import foureyes
from caratflow.case.access import FOUR_EYES_ACTIONS, Permission, require
from caratflow.deadlines import keeping, outbox
from caratflow.deadlines.directory import directory
from caratflow.errors import Conflict, Forbidden, InvalidInput
from caratflow.models import Role, utcnow
from caratflow.pluginhost import installed_plugins
from caratflow.web.context import db, runtime
from caratflow.web.forms import (
    ClosureDayForm,
    DirectoryEntryForm,
    EditUserForm,
    EmptyForm,
    FourEyesForm,
    NewUserForm,
    PasswordResetForm,
    options,
)
from caratflow.web.i18n import label
from caratflow.web.security import current_actor, fresh_required, record_refusal, requires

blueprint = Blueprint("admin", __name__, url_prefix="/admin")
REACH_LABELS = {
    "reachable": _l("reachable"),
    "development only": _l("development only (log)"),
    "missing": _l("no addressee"),
}
Kind = audit.EventKind


# -- URL table --------------------------------------------------------------------------


@blueprint.get("/")
@requires(Permission.ADMINISTER)
def index() -> str:
    return _page()


@blueprint.post("/users")
@requires(Permission.ADMINISTER)
@fresh_required
def add_user() -> Any:
    form = _new_user_form()
    if not form.validate():
        return _page(new_user=form), 422
    try:
        user = people.create_user(
            db(),
            current_actor(),
            form.name.data,
            Role(form.role.data),
            form.authorities.data or [],
            form.password.data or None,
            duties=form.duties.data or [],
            host=runtime().plugins,
        )
        _changed(f"added user {user.name} ({user.role.value})", user=user)
    except (InvalidInput, Conflict) as error:
        db().rollback()
        flash(str(error), "error")
        return _page(new_user=form), error.status
    flash(_("User %(name)s added.", name=user.name), "success")
    return redirect(url_for(".index"), 303)


@blueprint.route("/users/<int:user_id>", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
@fresh_required
def user(user_id: int) -> Any:
    found = people.managed_user(db(), current_actor(), user_id)
    form = EditUserForm(obj=None)
    _choices(form)
    status = 200
    if form.is_submitted():
        if form.validate():
            try:
                people.update_user(
                    db(),
                    current_actor(),
                    user_id,
                    role=Role(form.role.data),
                    authorities=form.authorities.data or [],
                    active=bool(form.active.data),
                    duties=form.duties.data or [],
                    host=runtime().plugins,
                )
                _changed(f"changed user {found.name}", user=found)
                flash(_("Saved. The user's sessions were ended."), "success")
                return redirect(url_for(".index"), 303)
            except InvalidInput as error:
                db().rollback()
                flash(str(error), "error")
        status = 422
    else:
        form.role.data = found.role.value
        form.authorities.data = [a.code for a in found.authorities]
        form.duties.data = list(found.duties)
        form.active.data = found.active
    return render_template(
        "admin/user.html",
        user=found,
        form=form,
        password_form=PasswordResetForm(),
        button=EmptyForm(),
        has_second_factor=profiles.has_second_factor(db(), found),
    ), status


@blueprint.post("/users/<int:user_id>/password")
@requires(Permission.ADMINISTER)
@fresh_required
def reset_password(user_id: int) -> Any:
    form = PasswordResetForm()
    if form.validate():
        try:
            found = people.reset_password(db(), current_actor(), user_id, form.password.data)
            _changed(f"reset the password of {found.name}", user=found)
            flash(_("Password set. The user's sessions were ended."), "success")
        except InvalidInput as error:
            db().rollback()
            flash(str(error), "error")
    return redirect(url_for(".user", user_id=user_id), 303)


@blueprint.post("/users/<int:user_id>/second-factor")
@requires(Permission.ADMINISTER)
@fresh_required
def reset_second_factor(user_id: int) -> Response:
    if EmptyForm().validate():
        found = people.reset_second_factor(db(), current_actor(), user_id)
        _changed(f"reset the second factor of {found.name}", user=found)
        flash(_("The user enrols a new authenticator at the next sign-in."), "success")
    return redirect(url_for(".user", user_id=user_id), 303)


@blueprint.post("/authorities/<code>/four-eyes")
@requires(Permission.ADMINISTER)
@fresh_required
def four_eyes(code: str) -> Any:
    actor = current_actor()
    if not actor.may_act_for(code):
        record_refusal(Kind.ACCESS_REFUSED, reason=f"four eyes of {code}")
        return _page(), 403
    form = FourEyesForm(prefix=code)
    form.four_eyes.choices = options((a, label(a)) for a in FOUR_EYES_ACTIONS)
    if form.validate():
        foureyes.set_four_eyes(db(), code, form.four_eyes.data or [], by=actor.name)
        chosen = ", ".join(form.four_eyes.data or []) or "none"
        _changed(f"four eyes at {code}: {chosen}", authorities=[code])
        flash(_("Saved."), "success")
    return redirect(url_for(".index"), 303)


@blueprint.post("/authorities/<code>/closure-days")
@requires(Permission.ADMINISTER)
@fresh_required
def add_closure_day(code: str) -> Any:
    """Close the office on a day: deadlines counting across it move on a working day."""
    actor = _administering(code)
    form = ClosureDayForm()
    if form.validate():
        try:
            keeping.add_closure_day(db(), code, form.day.data, form.reason.data, actor.name)
            _changed(f"closed {code} on {form.day.data}", authorities=[code])
            flash(_("Closure day added; deadlines counting across it moved on."), "success")
        except InvalidInput as error:
            db().rollback()
            flash(str(error), "error")
    else:
        flash("; ".join(e for errors in form.errors.values() for e in errors), "error")
    return redirect(url_for(".index"), 303)


@blueprint.post("/authorities/<code>/directory")
@requires(Permission.ADMINISTER)
@fresh_required
def add_addressee(code: str) -> Any:
    """Reach an audience of the authority at an address; notices waiting for it go out."""
    _administering(code)
    form = DirectoryEntryForm(prefix=f"dir-{code}")
    if form.validate():
        try:
            outbox.add_recipient(db(), code, form.audience.data, form.address.data, form.name.data)
            reached = f"{form.audience.data} reached at {form.address.data}"
            _changed(f"directory: {reached}", authorities=[code])
            flash(_("Addressee added; notices waiting for it go out now."), "success")
        except InvalidInput as error:
            db().rollback()
            flash(str(error), "error")
    else:
        flash("; ".join(e for errors in form.errors.values() for e in errors), "error")
    return redirect(url_for(".index") + "#directory", 303)


@blueprint.post("/authorities/<code>/directory/<int:entry_id>/remove")
@requires(Permission.ADMINISTER)
@fresh_required
def remove_addressee(code: str, entry_id: int) -> Any:
    _administering(code)
    found = [r for r in outbox.recipients(db(), code) if r.id == entry_id]
    if not found:
        abort(404)
    if EmptyForm().validate():
        outbox.remove_recipient(db(), entry_id)
        gone = f"{found[0].audience} no longer at {found[0].address}"
        _changed(f"directory: {gone}", authorities=[code])
        flash(_("Addressee removed."), "success")
    return redirect(url_for(".index") + "#directory", 303)


@blueprint.post("/authorities/<code>/closure-days/<day>/remove")
@requires(Permission.ADMINISTER)
@fresh_required
def remove_closure_day(code: str, day: str) -> Any:
    _administering(code)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        abort(404)
    if EmptyForm().validate():
        keeping.remove_closure_day(db(), code, when)
        _changed(f"reopened {code} on {when}", authorities=[code])
        flash(_("The office is open again that day."), "success")
    return redirect(url_for(".index"), 303)


# -- helpers ----------------------------------------------------------------------------


def _administering(code: str) -> Any:
    """The administrator, if they administer authority ``code`` (else a recorded 403)."""
    actor = current_actor()
    if not actor.may_act_for(code):
        raise Forbidden(f"{actor.name} does not administer authority {code}")
    return actor


def _page(new_user: NewUserForm | None = None) -> str:
    actor = current_actor()
    require(actor, Permission.ADMINISTER)
    authorities = people.visible_authorities(db(), actor)
    settings = {a.code: foureyes.four_eyes_actions(db(), a.code) for a in authorities}
    forms = {}
    for authority in authorities:
        form = FourEyesForm(prefix=authority.code)
        form.four_eyes.choices = options((a, label(a)) for a in FOUR_EYES_ACTIONS)
        form.four_eyes.data = sorted(settings[authority.code])
        forms[authority.code] = form
    enabled = runtime().plugins.plugin_names
    users = people.visible_users(db(), actor)
    today = utcnow().date()
    closed = {
        a.code: [c for c in keeping.closure_days(db(), a.code) if c.day >= today]
        for a in authorities
    }
    host = runtime().plugins
    return render_template(
        "admin/index.html",
        directories={a.code: directory(db(), host, a) for a in authorities},
        directory_forms={a.code: DirectoryEntryForm(prefix=f"dir-{a.code}") for a in authorities},
        reach_labels=REACH_LABELS,
        closed=closed,
        closure_form=ClosureDayForm(),
        users=users,
        second_factor={u.id: profiles.has_second_factor(db(), u) for u in users},
        authorities=authorities,
        four_eyes_forms=forms,
        new_user=new_user or _new_user_form(),
        plugins=[
            {"name": name, "target": target, "enabled": name in enabled}
            for name, target in sorted(installed_plugins().items())
        ],
    )


def _new_user_form() -> NewUserForm:
    form = NewUserForm()
    _choices(form)
    return form


def _choices(form: Any) -> None:
    authorities = people.visible_authorities(db(), current_actor())
    form.authorities.choices = options((a.code, a.code) for a in authorities)
    offered = offered_duties(runtime().plugins, authorities)
    form.duties.choices = options((code, offered[code].name) for code in sorted(offered))


def _changed(what: str, user: Any = None, authorities: list[str] | None = None) -> None:
    """Record an administrator's change, visible to the authorities it concerns."""
    audit.record_change(db(), current_actor().name, what, user=user, authorities=authorities)
    db().commit()
