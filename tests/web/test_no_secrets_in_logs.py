"""No secret and no personal number in any log record, nor in the security log (issue 11).

The real app is driven as its users drive it: sign-in forms with passwords (right and
wrong), an administrator's TOTP, a password reset, a new authenticator enrolled, API
calls with bearer tokens (and a forged one), Norwegian parties registered with their
birth numbers (LAW.md ``no.registration``, FOR-2004-02-24-470 §7), decisions whose
documents and tree heads the ledger key signs, and a worker's tick. Meanwhile every
record of every logger is kept, with the root logger at DEBUG, as an operator who "logs
everything" would set it; then neither the records (message, arguments, traceback,
extras) nor any column of the security log may hold any of those secrets.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from caratflow.ledger import signing_keys
from caratflow.models import Role, SecurityEvent
from caratflow.scheduler import Worker, run_periodic_tasks
from caratflow.testing.api import act
from caratflow.testing.payloads import shipment_payload
from caratflow.testing.people import PASSWORD, form_token, post_form, sign_in

BIRTH_NUMBER = "01019012480"  # valid MOD11 digits, as in tests/plugins/norway
WRONG_BIRTH_NUMBER = "01019012481"  # a typing error is personal data all the same


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def every_log_record() -> Iterator[list[logging.LogRecord]]:
    """Every record any logger emits, the root at DEBUG. Requested before the database
    fixtures: SQLAlchemy decides whether a connection logs its SQL when it is opened."""
    recorder, root = Recorder(), logging.getLogger()
    level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        yield recorder.records
    finally:
        root.removeHandler(recorder)
        root.setLevel(level)


def rendered(record: logging.LogRecord) -> str:
    """All a handler could write of a record: message, traceback, stack and extras."""
    formatter = logging.Formatter()
    parts = [record.getMessage(), repr(vars(record))]
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


def key_forms(runtime) -> list[str]:
    """The ledger's private key as it could be written: PEM body, raw hex, base64."""
    key = signing_keys.signing_key(runtime.settings)
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return [body, raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]


def test_no_password_token_totp_secret_birth_number_or_key_reaches_a_log(
    every_log_record, browser, make_person, make_token, client, session, runtime, app
):
    secrets_used: dict[str, str] = {"password": PASSWORD}

    # -- sign-in: a wrong password, then the right one; an administrator with TOTP -------
    officer = make_person(Role.OFFICER, "BE")
    secrets_used["wrong password"] = "not the password, close though"
    assert sign_in(browser(), officer, secrets_used["wrong password"]).status_code == 401
    officers_browser = browser(officer)
    admin = make_person(Role.ADMIN, "BE")
    secrets_used["TOTP secret"] = admin.secret
    admins_browser = browser(admin)

    # -- administration: a password reset, a new user, a new authenticator ---------------
    page = f"/admin/users/{officer.user.id}"
    secrets_used["reset password"] = "the passphrase the admin set"
    reset = post_form(
        admins_browser, page, url=f"{page}/password", password=secrets_used["reset password"]
    )
    assert reset.status_code == 303
    assert officers_browser.get("/").status_code == 302  # the reset ended the session
    secrets_used["new user's password"] = "a newcomer's own passphrase"
    added = post_form(
        admins_browser,
        "/admin/",
        url="/admin/users",
        name="newcomer",
        role="officer",
        authorities="BE",
        password=secrets_used["new user's password"],
    )
    assert added.status_code == 303
    second = make_person(Role.ADMIN, "BE")
    page = f"/admin/users/{second.user.id}"
    assert post_form(admins_browser, page, url=f"{page}/second-factor").status_code == 303
    enrolling = browser()
    after_password = post_form(enrolling, "/login", name=second.name, password=PASSWORD)
    enrolling.get(after_password.headers["Location"])  # → the enrolment page
    enrol = enrolling.get("/login/enrol")
    secrets_used["enrolled TOTP secret"] = (
        enrol.text.split('id="secret">')[1].split("<")[0].replace(" ", "")
    )
    wrong_code = enrolling.post(
        "/login/enrol", data={"code": "000000", "csrf_token": form_token(enrol.text)}
    )
    assert wrong_code.status_code == 401

    # -- the API: bearer tokens, a forged one, decisions the ledger key signs ------------
    token = make_token(Role.OFFICER, "BE")
    secrets_used["bearer token"] = token
    auth = {"Authorization": f"Bearer {token}"}
    presented = client.post("/api/v1/shipments", json=shipment_payload(), headers=auth)
    assert presented.status_code == 201
    shipment = presented.json
    verified = act(
        client,
        f"/api/v1/shipments/{shipment['id']}/actions/verify",
        json={},
        headers={**auth, "If-Match": f'"{shipment["version"]}"'},
    )
    assert verified.status_code == 200, verified.json
    history = client.get(f"/api/v1/shipments/{shipment['id']}/history", headers=auth)
    assert history.status_code == 200
    secrets_used["forged token"] = "cf_" + secrets.token_urlsafe(32)
    forged = {"Authorization": f"Bearer {secrets_used['forged token']}"}
    assert client.get("/api/v1/shipments", headers=forged).status_code == 401

    # -- Norway §7: a person registered with a birth number, once right, once mistyped ---
    supervisor = browser(make_person(Role.SUPERVISOR, "NO"))
    secrets_used["birth number"] = BIRTH_NUMBER
    secrets_used["mistyped birth number"] = WRONG_BIRTH_NUMBER
    person = {
        "authority": "NO",
        "name": "Kari Nordmann",
        "address": "Karl Johans gate 31, 0159 Oslo",
        "phone": "+47 22 42 50 10",
        "roles": "importer",
    }
    assert post_form(supervisor, "/parties", **person, national_id=BIRTH_NUMBER).status_code == 303
    again = post_form(supervisor, "/parties", **person, national_id=BIRTH_NUMBER)
    assert again.status_code == 409
    mistyped = post_form(supervisor, "/parties", **person, national_id=WRONG_BIRTH_NUMBER)
    assert mistyped.status_code == 422
    assert BIRTH_NUMBER not in browser(make_person(Role.OFFICER, "NO")).get("/parties").text

    # -- the worker's tick: sequencing signs a tree head; the outbox sends what is due ---
    run_periodic_tasks(Worker(runtime))
    assert client.get("/api/v1/ledger/head").status_code == 200
    for n, form in enumerate(key_forms(runtime)):
        secrets_used[f"ledger key ({n})"] = form
    secrets_used["web session key"] = app.config["SECRET_KEY"]

    # -- what was written: the log records, and the security log -------------------------
    assert any(r.name.startswith("caratflow") for r in every_log_record), "nothing captured"
    assert any(r.levelno == logging.INFO for r in every_log_record), "INFO was not captured"
    leaks = [
        f"{what} in a {record.levelname} record of {record.name}: {record.getMessage()[:200]}"
        for record in every_log_record
        for what, secret in secrets_used.items()
        if secret in rendered(record)
    ]
    assert leaks == []
    session.expire_all()
    security_log = list(session.scalars(select(SecurityEvent)))
    assert {"sign_in", "sign_in_failed", "user_changed"} <= {e.kind for e in security_log}
    for event in security_log:
        row = repr({c.key: getattr(event, c.key) for c in SecurityEvent.__mapper__.column_attrs})
        assert [what for what, secret in secrets_used.items() if secret in row] == [], row


def test_a_database_error_carrying_a_birth_number_is_logged_without_it(
    every_log_record, app, session, backend
):
    """The error the issue found: a DataError whose message held the statement's
    parameters, a birth number among them, written with its traceback to the log."""
    failing = {  # a statement each database refuses, the birth number its parameter
        "postgresql": "SELECT CAST(:number AS smallint)",
        "sqlite": "SELECT number FROM no_such_table WHERE number = :number",
    }[backend]
    log = logging.getLogger("caratflow.web")
    try:
        with session.begin_nested():
            session.execute(text(failing), {"number": BIRTH_NUMBER})
    except DBAPIError:
        log.exception("the request failed")
    log.warning("a party with birth number %s was refused", WRONG_BIRTH_NUMBER)
    log.warning("Belgian register number 90.01.01-124.80, or 010190 12480 spaced")
    written = "\n".join(rendered(r) for r in every_log_record if r.name == "caratflow.web")
    assert "the request failed" in written and "Traceback" in written
    for number in (BIRTH_NUMBER, WRONG_BIRTH_NUMBER, "90.01.01-124.80", "010190 12480"):
        assert number not in written
