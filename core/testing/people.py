"""People for the tests: users holding their authorities' duties, signing in through the real
form (CSRF token, TOTP) over HTTPS, as a browser would.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from typing import Any

import pyotp
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.accounts.provisioning import (
    add_user,
    offered_duties,
)
from caratflow.models import Authority, Role, User
from caratflow.pluginhost import PluginHost


def duties_at(session: Session, host: PluginHost, codes: Iterable[str]) -> list[str]:
    """Every duty the plugins of these authorities declare."""
    found = session.scalars(select(Authority).where(Authority.code.in_(list(codes))))
    return sorted(offered_duties(host, found))


def add_person(
    session: Session,
    host: PluginHost,
    role: Role = Role.OFFICER,
    *authorities: str,
    name: str | None = None,
    password: str | None = None,
    duties: Iterable[str] | None = None,
) -> User:
    """A user of ``authorities`` (BE when none) with every duty there unless ``duties``."""
    codes = authorities or ("BE",)
    return add_user(
        session,
        name or f"{role.value}-{uuid.uuid4().hex[:6]}",
        role,
        codes,
        password,
        duties=duties_at(session, host, codes) if duties is None else duties,
        host=host,
    )


PASSWORD = "correct horse battery"


TOKEN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def form_token(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1) or found.group(2)


class Person:
    """A user who signs in with a password (and, for administrators, a TOTP code)."""

    def __init__(self, user: User, secret: str | None):
        self.user, self.name, self.secret = user, user.name, secret

    def code(self, steps_ahead: int = 0) -> str:
        assert self.secret is not None
        totp = pyotp.TOTP(self.secret)
        return totp.at(int(__import__("time").time()) + steps_ahead * totp.interval)


def sign_in(client: Any, person: Person, password: str = PASSWORD) -> Any:
    """Sign ``client`` in through the form; returns the last response."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"name": person.name, "password": password, "csrf_token": form_token(page.text)},
    )
    if person.secret is not None and response.status_code == 302:
        page = client.get(response.headers["Location"])
        response = client.post(
            "/login/second-factor",
            data={"code": person.code(), "csrf_token": form_token(page.text)},
        )
    return response


class HttpsClient(FlaskClient):
    """A test client that talks HTTPS, as every deployment must."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("base_url", "https://localhost")
        return super().open(*args, **kwargs)


def post_form(client: Any, page_url: str, url: str | None = None, **data: Any) -> Any:
    """Open ``page_url``, take its CSRF token, and post ``data`` to ``url`` (or the page)."""
    page = client.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code)
    return client.post(url or page_url, data={"csrf_token": form_token(page.text), **data})
