"""What officers see: ``GET /api/v1/deadlines`` and ``caratflow deadlines`` (overdue, due
soon), each limited to the authorities a user acts for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from caratflow.cli import main
from caratflow.db import unit_of_work
from caratflow.deadlines.board import board
from caratflow.models import Deadline, Role
from caratflow.testing.api import act
from caratflow.testing.payloads import shipment_payload


def present(client, auth, presented_at: datetime) -> dict:
    day = presented_at.date()
    payload = shipment_payload(
        presented_at=presented_at.isoformat(),
        **{
            "certificate.issued_on": (day - timedelta(days=7)).isoformat(),
            "certificate.expires_on": (day + timedelta(days=60)).isoformat(),
        },
    )
    response = client.post("/api/v1/shipments", json=payload, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def test_the_board_lists_overdue_then_due_soon_with_working_days_left(client, auth):
    now = datetime.now(UTC)
    overdue = present(client, auth, now - timedelta(days=30))
    soon = present(client, auth, now - timedelta(days=10))
    later = present(client, auth, now)
    response = client.get("/api/v1/deadlines", headers=auth)
    assert response.status_code == 200, response.json
    by_shipment = {item["shipment"]: item for item in response.json["items"]}
    assert by_shipment[overdue["id"]]["bucket"] == "overdue"
    assert by_shipment[overdue["id"]]["working_days_left"] < 0
    assert by_shipment[later["id"]]["bucket"] == "later"
    assert by_shipment[later["id"]]["working_days_left"] in (9, 10)  # today is day 0 or 1
    assert by_shipment[soon["id"]]["working_days_left"] <= 4
    order = [item["shipment"] for item in response.json["items"]]
    assert order.index(overdue["id"]) < order.index(soon["id"]) < order.index(later["id"])

    due = client.get("/api/v1/deadlines?status=due&within=5", headers=auth).json["items"]
    assert {item["shipment"] for item in due} == {overdue["id"], soon["id"]}


def test_the_board_shows_only_the_users_own_authorities(client, auth, make_token):
    present(client, auth, datetime.now(UTC))
    norwegian = {"Authorization": f"Bearer {make_token(Role.OFFICER, 'NO')}"}
    assert client.get("/api/v1/deadlines", headers=norwegian).json["items"] == []
    foreign = client.get("/api/v1/deadlines?authority=BE", headers=norwegian)
    assert foreign.json["items"] == []


def test_the_board_refuses_what_it_cannot_answer(client, auth):
    assert client.get("/api/v1/deadlines").status_code == 401
    bad = client.get("/api/v1/deadlines?status=late", headers=auth)
    assert bad.status_code == 422
    assert bad.json["errors"][0]["field"] == "status"
    assert client.get("/api/v1/deadlines?within=-1", headers=auth).status_code == 422


def test_met_deadlines_are_listed_on_request(client, auth):
    shipment = present(client, auth, datetime.now(UTC) + timedelta(days=1))
    act(client, f"/api/v1/shipments/{shipment['id']}/actions/verify", headers=auth)
    met = client.get("/api/v1/deadlines?status=met", headers=auth).json["items"]
    assert [item["shipment"] for item in met] == [shipment["id"]]
    assert met[0]["bucket"] == "closed" and met[0]["met_at"]


def test_caratflow_deadlines_prints_overdue_and_due_soon(
    committed_runtime, officer, database_url, tmp_path, monkeypatch
):
    now = datetime.now(UTC)
    with unit_of_work(committed_runtime.sessions) as session:
        for days in (30, 0):
            payload = shipment_payload(
                presented_at=(now - timedelta(days=days)).isoformat(),
                **{
                    "certificate.issued_on": (now - timedelta(days=days + 7)).date().isoformat(),
                    "certificate.expires_on": (now + timedelta(days=60)).date().isoformat(),
                },
            )
            committed_runtime.shipments.present(session, payload, officer)
    with committed_runtime.sessions() as session:
        assert len(board(session, ["BE"])) == 2
        rules = session.scalars(select(Deadline.rule)).all()
    monkeypatch.setenv("CARATFLOW_DATABASE_URL", database_url)
    monkeypatch.setenv("CARATFLOW_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["deadlines", "--authority", "BE", "--all"])
    assert result.exit_code == 0, result.output
    overdue, _, rest = result.output.partition("DUE SOON")
    assert overdue.startswith("OVERDUE (1)")
    assert "eu.confirm.10_days" in overdue and "Reg. (EC) 2368/2002 Art. 5(1)(a)" in overdue
    assert "LATER (1)" in rest
    assert "outbox: 0 pending, 0 failed, 0 sent" in result.output
    assert rules == ["eu.confirm.10_days"] * 2


def test_an_administrator_closes_a_day_from_the_command_line(
    committed_runtime, database_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("CARATFLOW_DATABASE_URL", database_url)
    monkeypatch.setenv("CARATFLOW_INSTANCE_PATH", str(tmp_path))
    runner = CliRunner()
    closed = runner.invoke(
        main, ["deadlines", "close-day", "BE", "2026-12-24", "--reason", "office closed"]
    )
    assert closed.exit_code == 0, closed.output
    listed = runner.invoke(main, ["deadlines", "closure-days", "BE"])
    assert "Thu 2026-12-24  office closed" in listed.output
    again = runner.invoke(main, ["deadlines", "close-day", "BE", "2026-12-24", "--reason", "x"])
    assert again.exit_code == 1 and "already a closure day" in again.output
    added = runner.invoke(
        main, ["deadlines", "add-recipient", "BE", "supervisors", "mailto:chef@diamonds.be"]
    )
    assert added.exit_code == 0, added.output
    assert "supervisors" in runner.invoke(main, ["deadlines", "recipients", "BE"]).output
    assert runner.invoke(main, ["deadlines", "open-day", "BE", "2026-12-24"]).exit_code == 0
