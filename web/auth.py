"""Signing in and out, the administrators' second factor, re-authentication, language.

Sign-in starts a new session (nothing from before survives it: ASVS 3.2.1), failures
are recorded and throttled by name and by address (re-authentication's too), the same
answer is given for an unknown name and a wrong password, and an administrator's
password alone signs nobody in: a TOTP code follows (enrolled at the first sign-in).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import segno
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from caratflow.accounts import audit, people, profiles, signin
from caratflow.models import User, utcnow
from caratflow.web.context import db
from caratflow.web.forms import (
    CodeForm,
    EmptyForm,
    LocaleForm,
    ReauthForm,
    SignInForm,
    options,
)
from caratflow.web.i18n import LOCALES
from caratflow.web.security import (
    SignedIn,
    local_path,
    session_policy,
    signed_in,
    throttle,
)

blueprint = Blueprint("auth", __name__)

PENDING_FOR = timedelta(minutes=5)  # between the password and the code
Kind = audit.EventKind


# -- URL table --------------------------------------------------------------------------


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("pages.dashboard"))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        name, password = form.name.data.strip(), form.password.data
        store = db()
        if signin.throttled(store, name, request.remote_addr, throttle(), utcnow()):
            _record(Kind.SIGN_IN_THROTTLED, user_name=name)
            minutes = current_app.config["LOGIN_WINDOW_MINUTES"]
            flash(
                _(
                    "Too many failed sign-ins. Wait %(minutes)s minutes and try again.",
                    minutes=minutes,
                ),
                "error",
            )
            status = 429
        else:
            user = signin.authenticate(store, name, password)
            if user is None:
                _record(Kind.SIGN_IN_FAILED, user_name=name)
                flash(_("Wrong user name or password."), "error")
                status = 401
            elif signin.needs_second_factor(user):
                return _ask_second_factor(user)
            else:
                return _sign_in(user)
    elif form.is_submitted():
        status = 400
    return render_template("login.html", form=form), status


@blueprint.route("/login/second-factor", methods=["GET", "POST"])
def second_factor() -> Any:
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    store = db()
    if not profiles.has_second_factor(store, user):
        return redirect(url_for("auth.enrol"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        if signin.throttled(store, user.name, request.remote_addr, throttle(), utcnow()):
            _record(Kind.SIGN_IN_THROTTLED, user=user)
            flash(_("Too many failed sign-ins. Try again later."), "error")
            status = 429
        elif profiles.second_factor_matches(store, user, form.code.data):
            return _sign_in(user, factor="totp")
        else:
            _record(Kind.SIGN_IN_FAILED, user=user, factor="totp")
            flash(_("That code is not right, or it was used already."), "error")
            status = 401
    return render_template("second_factor.html", form=form, user=user), status


@blueprint.route("/login/enrol", methods=["GET", "POST"])
def enrol() -> Any:
    """An administrator's first sign-in: scan the secret, prove it with a code."""
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    store = db()
    if profiles.has_second_factor(store, user):
        return redirect(url_for("auth.second_factor"))
    profile = people.profile(store, user)
    secret = profile.totp_secret or profiles.start_totp_enrolment(store, user)
    store.commit()
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        if profiles.second_factor_matches(store, user, form.code.data):
            _record(Kind.SECOND_FACTOR_ENROLLED, user=user, commit=False)
            return _sign_in(user, factor="totp")
        _record(Kind.SIGN_IN_FAILED, user=user, factor="totp enrolment")
        flash(_("That code is not right. Check the clock of your device."), "error")
        status = 401
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    uri = profiles.provisioning_uri(secret, user.name)
    # Issue 26: a QR code to scan, beside the key to type; an image, so the CSP allows it.
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2, dark="#111")
    return render_template("enrol.html", form=form, secret=grouped, uri=uri, qr=qr), status


@blueprint.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        me = signed_in()
        store = db()
        signin.end_session(store, me.token)
        _record(Kind.SIGN_OUT, user=me.user, commit=False)
        store.commit()
        logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@blueprint.route("/reauth", methods=["GET", "POST"])
@login_required
def reauth() -> Any:
    """Type the password (and code) again before a sensitive change (ASVS 4.3.x)."""
    me = signed_in()
    form = ReauthForm()
    store = db()
    needs_code = signin.needs_second_factor(me.user)
    status = 200
    if form.validate_on_submit():
        if signin.throttled(store, me.user.name, request.remote_addr, throttle(), utcnow()):
            # issue 21: a stolen session is no oracle for guessing the password
            _record(Kind.SIGN_IN_THROTTLED, user=me.user, factor="re-authentication")
            flash(_("Too many failed sign-ins. Try again later."), "error")
            return render_template("reauth.html", form=form, needs_code=needs_code), 429
        good = signin.reauthenticate(store, me.web_session, form.password.data)
        if good and needs_code:
            good = profiles.second_factor_matches(store, me.user, form.code.data or "")
        if good:
            _record(Kind.REAUTHENTICATED, user=me.user)
            return redirect(local_path(request.args.get("next")) or url_for("pages.dashboard"))
        store.rollback()
        _record(Kind.SIGN_IN_FAILED, user=me.user, factor="re-authentication")
        flash(_("That did not match. Try again."), "error")
        status = 401
    return render_template("reauth.html", form=form, needs_code=needs_code), status


@blueprint.post("/locale")
def choose_locale() -> Response:
    """Remember the language: in the profile when signed in, else for this browser."""
    form = LocaleForm()
    form.locale.choices = options(LOCALES.items())
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            profiles.set_locale(db(), signed_in().user, form.locale.data)
            db().commit()
    back = local_path(request.form.get("next"))
    return redirect(back or url_for("pages.dashboard"))


# -- helpers ----------------------------------------------------------------------------


def _ask_second_factor(user: User) -> Response:
    next_page = local_path(request.args.get("next"))
    locale = session.get("locale")
    session.clear()
    session.update(
        pending_user=user.id,
        pending_since=utcnow().timestamp(),
        pending_next=next_page,
        locale=locale,
    )
    return redirect(url_for("auth.second_factor"))


def _pending_user() -> User | None:
    user_id, since = session.get("pending_user"), session.get("pending_since")
    if user_id is None or since is None:
        return None
    if utcnow().timestamp() - float(since) > PENDING_FOR.total_seconds():
        session.clear()
        flash(_("That took too long. Sign in again."), "info")
        return None
    user = db().get(User, user_id)
    return user if user is not None and user.active else None


def _sign_in(user: User, factor: str = "password") -> Response:
    """A new session from scratch: nothing of the anonymous one survives but the language."""
    store = db()
    next_page = session.get("pending_next") or local_path(request.args.get("next"))
    chosen_locale = session.get("locale")
    session.clear()
    token = signin.open_session(store, user, request.remote_addr, request.headers.get("User-Agent"))
    profile = people.profile(store, user)
    if profile.locale is None and chosen_locale in LOCALES:
        profile.locale = chosen_locale
    _record(Kind.SIGN_IN, user=user, factor=factor, commit=False)
    store.commit()
    web_session = signin.resume_session(store, token, session_policy()).web_session
    assert web_session is not None
    login_user(SignedIn(user, web_session, token, profile.locale))
    return redirect(next_page or url_for("pages.dashboard"))


def _record(kind: str, *, commit: bool = True, **fields: Any) -> None:
    audit.record(db(), kind, remote_addr=request.remote_addr, path=request.path, **fields)
    if commit:
        db().commit()


def empty_form() -> EmptyForm:
    return EmptyForm()
