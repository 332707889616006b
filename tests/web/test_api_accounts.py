"""Who an API request speaks for, and what the security log keeps of it (issue 21):
idempotency keys are an account's own, tokens expire and end with a password reset,
and a flood of anonymous requests is one counted row, not thousands.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from caratflow.models import ApiToken, Role, SecurityEvent, Shipment, utcnow
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import post_form, sign_in


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def shipments(session) -> int:
    return session.scalar(select(func.count()).select_from(Shipment))


# -- idempotency keys -------------------------------------------------------------------


def test_an_auditor_replaying_an_officers_idempotency_key_is_refused(client, make_token, session):
    key = {"Idempotency-Key": "broker-7"}
    officer = bearer(make_token(Role.OFFICER, "BE")) | key
    auditor = bearer(make_token(Role.AUDITOR, "BE")) | key
    assert (
        client.post("/api/v1/shipments", json=shipment_payload(), headers=officer).status_code
        == 201
    )
    replayed = client.post("/api/v1/shipments", json=shipment_payload(), headers=auditor)
    assert replayed.status_code == 403, replayed.json
    assert "Idempotent-Replayed" not in replayed.headers
    assert shipments(session) == 1


def test_an_idempotency_key_is_the_accounts_own(client, make_token, session):
    """Two brokers' systems may pick the same key: each presents its own shipment."""
    key = {"Idempotency-Key": "order-1"}
    first = bearer(make_token(Role.OFFICER, "BE")) | key
    second = bearer(make_token(Role.OFFICER, "BE")) | key
    one = client.post("/api/v1/shipments", json=shipment_payload(), headers=first)
    other = client.post("/api/v1/shipments", json=shipment_payload(), headers=second)
    assert (one.status_code, other.status_code) == (201, 201)
    assert one.json["id"] != other.json["id"]
    again = client.post("/api/v1/shipments", json=shipment_payload(), headers=second)
    assert (again.status_code, again.json["id"]) == (200, other.json["id"])


# -- tokens -----------------------------------------------------------------------------


def test_a_token_stops_working_when_it_expires(client, make_token, session):
    headers = bearer(make_token(Role.OFFICER, "BE"))
    assert client.get("/api/v1/shipments", headers=headers).status_code == 200
    [token] = session.scalars(select(ApiToken))
    assert timedelta(days=89) < token.expires_at - utcnow() <= timedelta(days=90)
    token.expires_at = utcnow() - timedelta(seconds=1)
    session.commit()
    assert client.get("/api/v1/shipments", headers=headers).status_code == 401


def test_a_password_reset_revokes_the_users_api_tokens(browser, make_person, session):
    from caratflow.accounts.provisioning import create_token

    officer = make_person(Role.OFFICER, "BE")
    headers = bearer(create_token(session, officer.name))
    session.commit()
    api = browser()
    assert api.get("/api/v1/shipments", headers=headers).status_code == 200
    admin = browser(make_person(Role.ADMIN, "BE"))
    page = f"/admin/users/{officer.user.id}"
    done = post_form(admin, page, url=f"{page}/password", password="a brand new passphrase")
    assert done.status_code == 303
    assert api.get("/api/v1/shipments", headers=headers).status_code == 401


# -- the security log -------------------------------------------------------------------


def test_anonymous_refusals_are_one_counted_row_per_address_and_real_events_stay_visible(
    app, browser, make_person, session
):
    """Issue 21: 11,200 anonymous 401s wrote 11,405 rows and pushed every real event out
    of the auditor's view."""
    client = app.test_client()
    for n in range(150):
        assert client.get(f"/api/v1/shipments/{n + 1}").status_code == 401
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.9"
    for _ in range(3):
        bad = elsewhere.get("/api/v1/shipments", headers=bearer("cf_nonsense"))
        assert bad.status_code == 401
    refused = session.scalars(
        select(SecurityEvent)
        .where(SecurityEvent.kind == "access_refused")
        .order_by(SecurityEvent.id)
    ).all()
    assert [(e.remote_addr, e.count) for e in refused] == [("127.0.0.1", 150), ("192.0.2.9", 3)]
    assert refused[0].at <= refused[0].last_at
    officer = make_person(Role.OFFICER, "BE")
    assert sign_in(browser(), officer).status_code == 302  # a real event, after the flood
    auditor = browser(make_person(Role.AUDITOR, "BE"))
    assert officer.name in auditor.get("/security-log").text
    assert session.scalar(select(func.count()).select_from(SecurityEvent)) < 10


def test_an_anonymous_refusal_after_the_window_opens_a_new_row(client, session):
    assert client.get("/api/v1/shipments").status_code == 401
    [first] = session.scalars(select(SecurityEvent))
    first.at -= timedelta(minutes=11)
    session.commit()
    assert client.get("/api/v1/shipments").status_code == 401
    counts = session.scalars(select(SecurityEvent.count).order_by(SecurityEvent.id)).all()
    assert counts == [1, 1]


def test_a_signed_in_refusal_is_still_written_one_by_one(client, make_token, session):
    auditor = bearer(make_token(Role.AUDITOR, "BE"))
    for _ in range(2):
        sent = client.post("/api/v1/shipments", json=shipment_payload(), headers=auditor)
        assert sent.status_code == 403
    refused = session.scalars(select(SecurityEvent).where(SecurityEvent.kind == "access_refused"))
    assert [e.count for e in refused] == [1, 1]
