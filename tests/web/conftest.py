"""Fixtures for the pages: people with passwords, and browsers (test clients) signed in.

A signed-in client went through the real sign-in form, CSRF token and all; an
administrator's also typed a TOTP code. ``form_token(html)`` reads the CSRF token a
page carries, as a browser would submit it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from flask.testing import FlaskClient

from caratflow.accounts import people, profiles
from caratflow.models import Role, User
from caratflow.testing import add_person

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


@pytest.fixture
def make_person(session, plugin_host) -> Callable[..., Person]:
    """``make_person(Role.OFFICER, "BE")``: a user with ``PASSWORD``; admins get TOTP.
    Like ``make_token``'s, they hold every duty of their authorities unless ``duties``."""

    def make(role: Role = Role.OFFICER, *authorities: str, **how: Any) -> Person:
        user = add_person(session, plugin_host, role, *authorities, password=PASSWORD, **how)
        secret = None
        if role == Role.ADMIN:
            secret = profiles.start_totp_enrolment(session, user)
            people.profile(session, user).totp_confirmed_at = user.created_at
        session.commit()
        return Person(user, secret)

    return make


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


@pytest.fixture
def browser(app) -> Callable[..., Any]:
    """``browser(person)``: a fresh test client signed in as ``person`` (HTTPS, as deployed)."""

    def open_for(person: Person | None = None) -> Any:
        app.test_client_class = HttpsClient
        client = app.test_client()
        client.environ_base["HTTP_REFERER"] = "https://localhost/"
        if person is not None:
            response = sign_in(client, person)
            assert response.status_code == 302, response.text
        return client

    return open_for


def post_form(client: Any, page_url: str, url: str | None = None, **data: Any) -> Any:
    """Open ``page_url``, take its CSRF token, and post ``data`` to ``url`` (or the page)."""
    page = client.get(page_url)
    assert page.status_code == 200, (page_url, page.status_code)
    return client.post(url or page_url, data={"csrf_token": form_token(page.text), **data})
