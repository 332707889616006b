"""Sessions, roles, CSRF and the headers every answer carries (OWASP ASVS level 2).

Browser sessions: the Flask cookie (``__Host-``, Secure, HttpOnly, SameSite=Lax) holds
only a token; the session itself is a row (``caratflow.accounts``), so a sign-out, an
idle timeout, a password reset or disabling the user ends it at once. Every POST from
a page carries a CSRF token; the JSON API authenticates by bearer token only and
never by cookie, so it needs none. Who may do what is decided by the service layer
(``caratflow.case.access``); the decorators here only turn a refusal into a page early.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_required
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from caratflow.accounts import audit, signin
from caratflow.accounts.provisioning import actor_for
from caratflow.case import access
from caratflow.case.access import Actor
from caratflow.errors import CaratflowError, Forbidden, NotFound
from caratflow.models import User, UserProfile, WebSession
from caratflow.web.context import db

F = TypeVar("F", bound=Callable[..., Any])

DEFAULTS: dict[str, Any] = {
    "SESSION_COOKIE_NAME": "__Host-caratflow",  # Secure, path /, no domain: ASVS 3.4.4
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the (bounded) session
    "WTF_CSRF_CHECK_DEFAULT": False,  # checked below for pages, never for the bearer API
}
"""Fixed by design; what a deployment may tune is ``Settings.web`` (caratflow.config)."""

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",  # no inline script anywhere
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

login_manager = LoginManager()
csrf = CSRFProtect()


class SignedIn(UserMixin):
    """The person behind a browser request, as the session row found them."""

    def __init__(self, user: User, web_session: WebSession, token: str, locale: str | None):
        self.user = user
        self.web_session = web_session
        self.token = token
        self.locale = locale
        self.actor: Actor = actor_for(user)

    def get_id(self) -> str:
        return self.token  # the session's token: ending the row ends the cookie

    @property
    def name(self) -> str:
        return self.user.name

    def may(self, permission: str) -> bool:
        return access.may(self.actor, access.Permission(permission))


def init_app(app: Flask) -> None:
    if not app.config["SESSION_COOKIE_SECURE"]:
        # A plain-HTTP deployment (never in production): the __Host- prefix needs Secure.
        app.config["SESSION_COOKIE_NAME"] = app.config["SESSION_COOKIE_NAME"].removeprefix(
            "__Host-"
        )
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    csrf.init_app(app)
    app.before_request(_refuse_nul)
    app.before_request(_before_page)
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(CaratflowError, _page_error)
    app.register_error_handler(HTTPException, _http_error)
    app.context_processor(lambda: {"may": _may})


class TrustedProxies:
    """WSGI middleware: believe ``X-Forwarded-For`` and ``-Proto`` (one hop, werkzeug's
    ``ProxyFix``) only when the peer is one of the configured reverse proxies
    (``CARATFLOW_TRUSTED_PROXIES``). From anyone else the headers are dropped, so a
    client cannot pick the address the throttle and the security log see."""

    FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST")

    def __init__(self, app: Any, proxies: Iterable[str]):
        try:
            self.networks = [ipaddress.ip_network(p, strict=False) for p in proxies]
        except ValueError as error:
            raise ValueError(f"CARATFLOW_TRUSTED_PROXIES: {error}") from None
        self.app = app
        self.behind_proxy = ProxyFix(app, x_for=1, x_proto=1)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._trusted(environ.get("REMOTE_ADDR")):
            return self.behind_proxy(environ, start_response)
        for name in self.FORWARDED:
            environ.pop(name, None)
        return self.app(environ, start_response)

    def _trusted(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)


# -- settings -------------------------------------------------------------------------


def session_policy() -> signin.SessionPolicy:
    config = current_app.config
    return signin.SessionPolicy(
        idle=timedelta(minutes=config["IDLE_MINUTES"]),
        absolute=timedelta(hours=config["SESSION_HOURS"]),
        fresh=timedelta(minutes=config["REAUTH_MINUTES"]),
    )


def throttle() -> signin.Throttle:
    config = current_app.config
    return signin.Throttle(
        per_name=config["LOGIN_MAX_FAILURES"],
        per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        window=timedelta(minutes=config["LOGIN_WINDOW_MINUTES"]),
    )


# -- who is asking ----------------------------------------------------------------------


def _load_user(token: str) -> SignedIn | None:
    session = db()
    resumed = signin.resume_session(session, token, session_policy())
    if resumed.expired and resumed.user is not None:
        g.session_expired = True
        audit.record(
            session,
            audit.EventKind.SESSION_EXPIRED,
            user=resumed.user,
            remote_addr=request.remote_addr,
            path=request.path,
        )
    if resumed.changed:
        session.commit()  # the last-seen time, or the end of a timed-out session
    if resumed.web_session is None or resumed.user is None:
        return None
    profile = session.get(UserProfile, resumed.user.id)
    return SignedIn(resumed.user, resumed.web_session, token, profile.locale if profile else None)


def signed_in() -> SignedIn:
    return current_user._get_current_object()  # type: ignore[no-any-return]


def current_actor() -> Actor:
    return signed_in().actor


def _may(permission: str) -> bool:
    return bool(current_user.is_authenticated) and signed_in().may(permission)


def _unauthorized() -> Response:
    if request.path.startswith("/api/"):
        return _json_error(401, "Unauthorized", "sign in with a bearer token")
    if g.get("session_expired"):
        minutes = current_app.config["IDLE_MINUTES"]
        flash(
            _("Your session ended after %(minutes)s minutes without activity.", minutes=minutes),
            "info",
        )
    return redirect(url_for("auth.login", next=local_path(request.full_path)))


def requires(permission: access.Permission) -> Callable[[F], F]:
    """Sign-in required, and a role that grants ``permission`` (else 403, recorded)."""

    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def guarded(*args: Any, **kwargs: Any) -> Any:
            access.require(current_actor(), permission)  # Forbidden: a 403 page, recorded
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def fresh_required(view: F) -> F:
    """Sensitive actions need a password (and code) typed within the last few minutes."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not signin.is_fresh(signed_in().web_session, session_policy()):
            if request.method == "POST":
                flash(_("Confirm your password to continue; then repeat the change."), "info")
            return redirect(url_for("auth.reauth", next=local_path(request.full_path)))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def local_path(target: str | None) -> str | None:
    """``target`` if it stays on this site (no open redirect), else ``None``."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target.rstrip("?") or "/"


def record_refusal(kind: str, **detail: Any) -> None:
    """Record a refused access in its own small transaction (the request's is dropped)."""
    session = db()
    session.rollback()
    user = signed_in().user if current_user.is_authenticated else None
    audit.record(
        session,
        kind,
        user=user,
        remote_addr=request.remote_addr,
        path=request.path,
        method=request.method,
        **detail,
    )
    session.commit()


# -- every request and answer -----------------------------------------------------------


def _refuse_nul() -> None:
    """A NUL character is never meant and no database stores it: refuse it up front, in
    the path (which routes hand to views as text) as in every parameter."""
    if "\x00" in request.path:
        abort(400, "the path contains a NUL character")
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400, "a parameter contains a NUL character")


def _before_page() -> None:
    if request.path.startswith("/api/") or request.endpoint in (None, "static"):
        return
    _ = current_user.is_authenticated  # load (and touch) the session before the view works
    csrf.protect()


def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static":
        response.headers.setdefault("Cache-Control", "no-store")  # ASVS 8.2.1
        response.vary.add("Cookie")
    return response


# -- errors -----------------------------------------------------------------------------


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    record_refusal(audit.EventKind.CSRF_REFUSED, reason=error.description)
    message = _(
        "This form was not sent from this page or it expired. Reload the page and try again."
    )
    return render_template("error.html", code=400, message=message), 400


def _page_error(error: CaratflowError) -> Any:
    if isinstance(error, Forbidden):
        record_refusal(audit.EventKind.ACCESS_REFUSED, reason=str(error))
    if request.path.startswith("/api/"):
        return _json_error(error.status, type(error).__name__, str(error), error.as_dict())
    status = 404 if isinstance(error, NotFound) else error.status
    return render_template("error.html", code=status, message=str(error)), status


def _http_error(error: HTTPException) -> Any:
    code = error.code or 500
    if code >= 500:
        # What failed may have been a statement: on PostgreSQL the transaction is then
        # aborted, and the page's own queries (who is signed in) would fail in turn.
        db().rollback()
    if request.path.startswith("/api/"):
        return _json_error(code, error.name, error.description or "")
    if code == 403:
        record_refusal(audit.EventKind.ACCESS_REFUSED, reason=error.description)
    return render_template("error.html", code=code, message=error.description), code


def _json_error(
    status: int, name: str, message: str, body: dict[str, Any] | None = None
) -> Response:
    response = jsonify(body or {"error": name.replace(" ", ""), "message": message})
    response.status_code = status
    return response
