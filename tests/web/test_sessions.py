"""Signing in, staying signed in and being thrown out, as OWASP ASVS level 2 asks.

Every test goes through the real forms with their CSRF tokens over the test client;
the clock is moved by editing the session row, the way time passes for a real one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from caratflow.accounts import people, provisioning
from caratflow.models import Role, SecurityEvent, WebSession
from caratflow.testing.people import PASSWORD, HttpsClient, form_token, post_form, sign_in


def events(session, kind: str) -> list[SecurityEvent]:
    return list(session.scalars(select(SecurityEvent).where(SecurityEvent.kind == kind)))


def live_sessions(session, person) -> list[WebSession]:
    query = select(WebSession).where(
        WebSession.user_id == person.user.id, WebSession.ended_at.is_(None)
    )
    return list(session.scalars(query))


def test_signing_in_opens_a_server_side_session_behind_a_hardened_cookie(
    browser, make_person, session
):
    officer = make_person(Role.OFFICER, "BE")
    client = browser()
    client.get("/login")
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"name": officer.name, "password": PASSWORD, "csrf_token": form_token(page.text)},
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-caratflow=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie
    assert "Domain" not in cookie and "Expires" not in cookie  # a browser-session cookie
    assert len(live_sessions(session, officer)) == 1
    [signed] = events(session, "sign_in")
    assert (signed.user_name, signed.authorities) == (officer.name, ["BE"])
    assert client.get("/").status_code == 200


def test_the_session_before_sign_in_does_not_survive_it(browser, make_person, app):
    """No session fixation: whatever the anonymous cookie carried is gone."""
    officer = make_person(Role.OFFICER, "BE")
    client = browser()
    page = client.get("/login")
    with client.session_transaction() as before:
        before["planted"] = "by an attacker"
        anonymous_token = before["csrf_token"]
    client.post(
        "/login",
        data={"name": officer.name, "password": PASSWORD, "csrf_token": form_token(page.text)},
    )
    with client.session_transaction() as after:
        assert "planted" not in after
        assert after.get("csrf_token") != anonymous_token


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer_and_are_recorded(
    browser, make_person, session
):
    officer = make_person(Role.OFFICER, "BE")
    client = browser()
    wrong = post_form(client, "/login", name=officer.name, password="not it at all")
    unknown = post_form(client, "/login", name="nobody", password="not it at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong user name or password." in wrong.text
    assert "Wrong user name or password." in unknown.text
    assert sorted(e.user_name for e in events(session, "sign_in_failed")) == sorted(
        [officer.name, "nobody"]
    )
    assert client.get("/").status_code == 302


def test_sign_in_is_throttled_after_five_failures_even_with_the_right_password(
    browser, make_person, session
):
    officer = make_person(Role.OFFICER, "BE")
    client = browser()
    for _ in range(5):
        assert post_form(client, "/login", name=officer.name, password="guess").status_code == 401
    blocked = post_form(client, "/login", name=officer.name, password=PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed sign-ins" in blocked.text
    assert events(session, "sign_in_throttled")
    other = make_person(Role.OFFICER, "BE")  # another name from elsewhere is not blocked
    assert sign_in(browser(), other).status_code == 302


def test_an_address_spraying_many_names_is_shut_out_at_its_own_higher_limit(
    app, browser, make_person, session
):
    """Spraying one password over many names is throttled by address (issue 11), at a
    limit of its own, higher than an account's (issue 21)."""
    assert app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] > 4 * app.config["LOGIN_MAX_FAILURES"]
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 12  # fewer guesses to type in a test
    officer = make_person(Role.OFFICER, "BE")
    client = browser()
    for n in range(12):  # four names, three tries each: none of them reaches its own limit
        name = f"guessed-{n % 4}"
        assert post_form(client, "/login", name=name, password="Summer2026!!").status_code == 401
    blocked = post_form(client, "/login", name=officer.name, password=PASSWORD)
    assert blocked.status_code == 429
    elsewhere = browser()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.7"  # another address is let in
    assert sign_in(elsewhere, officer).status_code == 302


def test_colleagues_failures_behind_one_address_do_not_shut_out_a_correct_password(
    browser, make_person, session
):
    """Issue 21: 20 failures with random names from one office's proxy locked out every
    officer behind it. Each account has its own limit; the address's is much higher."""
    officer = make_person(Role.OFFICER, "BE")
    office = browser()
    for n in range(25):
        assert post_form(office, "/login", name=f"typo-{n}", password="nope").status_code == 401
    assert sign_in(browser(), officer).status_code == 302
    for _ in range(5):  # the officer's own failures still shut the officer's account
        post_form(browser(), "/login", name=officer.name, password="a guess")
    assert sign_in(browser(), officer).status_code == 429


def test_only_a_trusted_proxy_says_which_address_a_request_comes_from(
    runtime, make_person, session
):
    """Behind the configured reverse proxy each client is throttled and logged by its own
    address (X-Forwarded-For); from anyone else that header is not believed."""
    from caratflow.web import create_app

    settings = replace(runtime.settings, trusted_proxies=("10.0.0.0/8",))
    app = create_app({"TESTING": True}, runtime=replace(runtime, settings=settings))
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    app.test_client_class = HttpsClient

    def client(peer: str, forwarded_for: str) -> Any:
        found = app.test_client()
        found.environ_base.update(
            REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded_for, HTTP_REFERER="https://localhost/"
        )
        return found

    officer = make_person(Role.OFFICER, "BE")
    guesser = client("10.0.0.5", "198.51.100.1")
    for n in range(3):
        assert post_form(guesser, "/login", name=f"x{n}", password="nope").status_code == 401
    assert sign_in(guesser, officer).status_code == 429
    assert sign_in(client("10.0.0.5", "198.51.100.2"), officer).status_code == 302
    liar = client("192.0.2.50", "198.51.100.3")  # not a proxy: its header is ignored
    assert post_form(liar, "/login", name="y", password="nope").status_code == 401
    failed = {e.user_name: e.remote_addr for e in events(session, "sign_in_failed")}
    assert failed == {"x0": "198.51.100.1", "x1": "198.51.100.1", "x2": "198.51.100.1"} | {
        "y": "192.0.2.50"
    }
    [signed] = events(session, "sign_in")
    assert signed.remote_addr == "198.51.100.2"


def test_re_authentication_is_throttled_like_sign_in(browser, make_person, session):
    """Issue 21: 25 wrong passwords at /reauth, then the right one, signed in."""
    officer = make_person(Role.OFFICER, "BE")
    client = browser(officer)
    [row] = live_sessions(session, officer)
    before = row.reauthenticated_at
    answers = [post_form(client, "/reauth", password="wrong").status_code for _ in range(25)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    assert post_form(client, "/reauth", password=PASSWORD).status_code == 429
    session.refresh(row)
    assert row.reauthenticated_at == before
    assert events(session, "sign_in_throttled")


def test_an_administrators_password_reset_ends_the_users_sessions_and_the_old_password(
    browser, make_person, session
):
    officer = make_person(Role.OFFICER, "BE")
    officers_browser = browser(officer)
    admin = browser(make_person(Role.ADMIN, "BE"))
    assert live_sessions(session, officer)
    page = f"/admin/users/{officer.user.id}"
    new_password = "a brand new passphrase"
    done = post_form(admin, page, url=f"{page}/password", password=new_password)
    assert done.status_code == 303
    assert live_sessions(session, officer) == []
    assert officers_browser.get("/").status_code == 302  # thrown out at the next request
    assert sign_in(browser(), officer).status_code == 401  # the old password is gone
    assert sign_in(browser(), officer, password=new_password).status_code == 302
    [changed] = events(session, "user_changed")
    assert changed.detail["what"] == f"reset the password of {officer.name}"


def test_a_password_reset_is_refused_when_too_short_and_changes_nothing(
    browser, make_person, session
):
    officer = make_person(Role.OFFICER, "BE")
    officers_browser = browser(officer)
    admin = browser(make_person(Role.ADMIN, "BE"))
    page = f"/admin/users/{officer.user.id}"
    post_form(admin, page, url=f"{page}/password", password="short")
    assert "12 to 128 characters" in admin.get(page).text
    assert officers_browser.get("/").status_code == 200  # still signed in
    assert events(session, "user_changed") == []


def test_a_password_reset_does_not_lift_the_throttle(browser, make_person, session):
    """Whoever guessed five times stays shut out for the window, new password or not:
    the reset is no way round the throttle."""
    officer = make_person(Role.OFFICER, "BE")
    guesser = browser()
    for _ in range(5):
        post_form(guesser, "/login", name=officer.name, password="a guess")
    admin = browser(make_person(Role.ADMIN, "BE"))
    page = f"/admin/users/{officer.user.id}"
    new_password = "a brand new passphrase"
    assert post_form(admin, page, url=f"{page}/password", password=new_password).status_code == 303
    elsewhere = browser()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.8"
    assert sign_in(elsewhere, officer, password=new_password).status_code == 429
    for failure in events(session, "sign_in_failed"):  # the window moves on
        failure.at -= timedelta(minutes=16)
    session.commit()
    assert sign_in(elsewhere, officer, password=new_password).status_code == 302


def test_signing_out_ends_the_session_on_the_server_too(browser, make_person, session, app):
    officer = make_person(Role.OFFICER, "BE")
    client = browser(officer)
    with client.session_transaction() as stolen:
        cookie = dict(stolen)  # what a thief copied from the browser
    home = client.get("/")
    response = client.post("/logout", data={"csrf_token": form_token(home.text)})
    assert response.status_code == 302
    assert live_sessions(session, officer) == []
    replay = browser()
    with replay.session_transaction() as planted:
        planted.update(cookie)
    assert replay.get("/").status_code == 302  # the copied cookie opens nothing
    assert events(session, "sign_out")


def test_fifteen_idle_minutes_end_the_session(browser, make_person, session):
    officer = make_person(Role.OFFICER, "BE")
    client = browser(officer)
    [row] = live_sessions(session, officer)
    row.last_seen_at -= timedelta(minutes=16)
    session.commit()
    response = client.get("/shipments/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/shipments/")
    assert "without activity" in client.get(response.headers["Location"]).text
    assert live_sessions(session, officer) == []
    assert events(session, "session_expired")


def test_a_busy_session_still_ends_after_twelve_hours(browser, make_person, session):
    officer = make_person(Role.OFFICER, "BE")
    client = browser(officer)
    [row] = live_sessions(session, officer)
    row.created_at -= timedelta(hours=12, minutes=1)
    session.commit()
    assert client.get("/").status_code == 302


def test_disabling_a_user_ends_their_sessions_at_once(browser, make_person, session):
    officer = make_person(Role.OFFICER, "BE")
    client = browser(officer)
    officer.user.active = False
    session.commit()
    assert client.get("/").status_code == 302


# -- administrators: TOTP and re-authentication ----------------------------------------


def test_an_administrator_needs_a_code_after_the_password(browser, make_person, session):
    admin = make_person(Role.ADMIN, "BE")
    client = browser()
    after_password = post_form(client, "/login", name=admin.name, password=PASSWORD)
    assert after_password.headers["Location"] == "/login/second-factor"
    assert client.get("/admin/").status_code == 302  # the password alone opens nothing
    wrong = post_form(client, "/login/second-factor", code="000000")
    assert wrong.status_code == 401
    right = post_form(client, "/login/second-factor", code=admin.code())
    assert right.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert [e.detail["factor"] for e in events(session, "sign_in")] == ["totp"]


def test_a_totp_code_is_good_only_once(browser, make_person):
    admin = make_person(Role.ADMIN, "BE")
    code = admin.code()
    first = browser()
    post_form(first, "/login", name=admin.name, password=PASSWORD)
    assert post_form(first, "/login/second-factor", code=code).status_code == 302
    second = browser()
    post_form(second, "/login", name=admin.name, password=PASSWORD)
    assert post_form(second, "/login/second-factor", code=code).status_code == 401


def test_an_administrator_without_a_second_factor_enrols_at_first_sign_in(
    browser, make_person, session
):
    import pyotp

    pass

    admin = make_person(Role.ADMIN, "BE")
    people.reset_second_factor(session, provisioning.actor_for(admin.user), admin.user.id)
    session.commit()
    client = browser()
    response = post_form(client, "/login", name=admin.name, password=PASSWORD)
    assert client.get(response.headers["Location"]).status_code == 302  # → enrol
    page = client.get("/login/enrol")
    secret = page.text.split('id="secret">')[1].split("<")[0].replace(" ", "")
    enrolled = client.post(
        "/login/enrol",
        data={"code": pyotp.TOTP(secret).now(), "csrf_token": form_token(page.text)},
    )
    assert enrolled.status_code == 302
    assert client.get("/admin/").status_code == 200
    assert events(session, "second_factor_enrolled")


def test_administrative_changes_need_the_password_again_after_five_minutes(
    browser, make_person, session
):
    admin = make_person(Role.ADMIN, "BE")
    client = browser(admin)
    [row] = live_sessions(session, admin)
    row.reauthenticated_at -= timedelta(minutes=6)
    row.last_seen_at = row.reauthenticated_at + timedelta(minutes=5, seconds=50)
    session.commit()
    stale = post_form(client, "/admin/", url="/admin/users", name="newbie", role="officer")
    assert stale.status_code == 302
    assert stale.headers["Location"].startswith("/reauth")
    assert (
        session.scalar(
            select(func.count())
            .select_from(SecurityEvent)
            .where(SecurityEvent.kind == "user_changed")
        )
        == 0
    )
    confirmed = post_form(
        client, "/reauth?next=/admin/", password=PASSWORD, code=admin.code(steps_ahead=1)
    )
    assert confirmed.headers["Location"] == "/admin/"
    added = post_form(
        client,
        "/admin/",
        url="/admin/users",
        name="newbie",
        role="officer",
        authorities="BE",
        password="a long enough password",
    )
    assert added.status_code == 303
    assert events(session, "user_changed")[0].detail["what"] == "added user newbie (officer)"


# -- every answer -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", "/", "/api/v1/health"])
def test_every_answer_carries_the_security_headers(browser, make_person, path):
    client = browser(make_person(Role.OFFICER, "BE"))
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_page_carries_an_inline_script_or_style(browser, make_person, client, auth):
    from caratflow.testing.payloads import shipment_payload

    shipment = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth).json
    signed = browser(make_person(Role.SUPERVISOR, "BE"))
    for path in [
        "/",
        "/shipments/",
        f"/shipments/{shipment['id']}",
        "/shipments/new",
        "/workflow",
        "/parties",
        "/deadlines",
        "/security-log",
    ]:
        html = signed.get(path).text
        assert "<script>" not in html and "<style" not in html and " style=" not in html, path
        assert " onclick=" not in html and "javascript:" not in html, path


def test_a_form_without_its_csrf_token_is_refused_and_recorded(browser, make_person, session):
    officer = make_person(Role.OFFICER, "BE")
    client = browser(officer)
    refused = client.post("/logout")
    assert refused.status_code == 400
    forged = client.post("/logout", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert len(live_sessions(session, officer)) == 1  # still signed in: nothing happened
    assert [e.detail["method"] for e in events(session, "csrf_refused")] == ["POST", "POST"]


def test_the_sign_in_form_needs_its_token_too(browser, make_person):
    officer = make_person(Role.OFFICER, "BE")
    client = browser()
    response = client.post("/login", data={"name": officer.name, "password": PASSWORD})
    assert response.status_code == 400


def test_no_redirect_leaves_the_site(browser, make_person):
    officer = make_person(Role.OFFICER, "BE")
    client = browser()
    page = client.get("/login")
    response = client.post(
        "/login?next=//evil.example/steal",
        data={"name": officer.name, "password": PASSWORD, "csrf_token": form_token(page.text)},
    )
    assert response.headers["Location"] == "/"
