"""Legal deadlines as rows, with real dates: Belgian and Norwegian holidays, a Friday
evening, a year end and the autumn clock change. Expected dates were counted by hand.

The EU clocks (plugins/eu/deadlines.py) open through the real service, as a decision
does; the sweep is called with an explicit ``now`` instead of waiting for the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

import caratflow.plugins.eu
from caratflow.case.access import Actor
from caratflow.deadlines.keeping import (
    add_closure_day,
    calendar_for,
    deadline_of,
    keep_deadlines,
    open_deadline,
    reminder_at,
    remove_closure_day,
)
from caratflow.deadlines.sweep import sweep
from caratflow.errors import InvalidInput
from caratflow.jurisdiction.clocks import Anchor, Period, Reminder, declare
from caratflow.jurisdiction.contributions import Jurisdiction
from caratflow.law.rules import RuleBook
from caratflow.models import (
    Authority,
    Deadline,
    DeadlineStatus,
    Event,
    LedgerEntry,
    OutboxMessage,
    OutboxStatus,
    Role,
)
from caratflow.testing.payloads import shipment_payload

BRUSSELS = ZoneInfo("Europe/Brussels")
NORWAY = Actor("officer.no", Role.OFFICER, frozenset({"NO"}))
CONFIRM = "eu.confirm.10_days"
NOTIFY = "eu.notify.1_month"


def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def present(session, service, officer, presented_at: str, **changes):
    """A compliant Belgian rough import presented at ``presented_at``, its certificate
    issued a week before and valid two months."""
    day = datetime.fromisoformat(presented_at).date()
    payload = shipment_payload(
        presented_at=presented_at,
        **{
            "certificate.issued_on": (day - timedelta(days=7)).isoformat(),
            "certificate.expires_on": (day + timedelta(days=60)).isoformat(),
        },
        **changes,
    )
    shipment = service.present(session, payload, officer).shipment
    session.flush()
    return shipment


def confirmation(shipment) -> Deadline:
    deadline = deadline_of(shipment, CONFIRM)
    assert deadline is not None, "presenting rough for import opens the Art. 5(1)(a) clock"
    return deadline


# ---- EU Art. 5(1)(a): confirmation within 10 working days of presentation -------------


@pytest.mark.parametrize(
    ("presented_at", "due_on"),
    [
        # Friday 17 July 2026; Tuesday 21 July is Belgium's National Day.
        ("2026-07-17T10:00:00+02:00", date(2026, 8, 3)),
        # Monday 30 March 2026; Easter Monday 6 April falls between.
        ("2026-03-30T09:00:00+02:00", date(2026, 4, 14)),
        # Friday evening in Brussels is still Friday: counted from Friday.
        ("2026-07-17T18:00:00+02:00", date(2026, 8, 3)),
        # 01:30 on Friday in Brussels is Thursday in UTC: counted from Friday too.
        ("2026-07-16T23:30:00+00:00", date(2026, 8, 3)),
        # Across the year end: 25 December and 1 January are closed, 24 and 31 are not.
        ("2026-12-23T15:00:00+01:00", date(2027, 1, 8)),
        ("2026-12-31T11:00:00+01:00", date(2027, 1, 15)),
    ],
)
def test_compliant_rough_must_be_confirmed_within_ten_belgian_working_days(
    session, service, officer, presented_at, due_on
):
    deadline = confirmation(present(session, service, officer, presented_at))
    assert (deadline.due_on, deadline.status) == (due_on, DeadlineStatus.OPEN)
    assert (deadline.rule, deadline.basis) == (CONFIRM, "Reg. (EC) 2368/2002 Art. 5(1)(a)")
    assert deadline.period == "10 working days"
    # Due until the end of that day in Brussels (CEST in summer, CET in winter).
    end = datetime.combine(due_on + timedelta(days=1), time(), BRUSSELS) - timedelta(microseconds=1)
    assert deadline.due_at == end.astimezone(UTC)


def test_a_deadline_counted_across_the_autumn_clock_change_ends_at_midnight_winter_time(
    session, service, officer
):
    # Presented Friday 23 October 2026, 23:30 summer time (21:30 UTC); clocks go back on
    # Sunday 25 October. Due Friday 6 November, ending 23:59:59.999999 CET = 22:59 UTC.
    deadline = confirmation(present(session, service, officer, "2026-10-23T23:30:00+02:00"))
    assert deadline.starts_on == date(2026, 10, 23)
    assert deadline.due_on == date(2026, 11, 6)
    assert deadline.due_at == datetime(2026, 11, 6, 22, 59, 59, 999999, tzinfo=UTC)
    # The 3-working-days reminder goes at 08:00 Brussels time, which is now 07:00 UTC.
    calendar = calendar_for(session, "BE")
    assert [reminder_at(deadline, calendar, r) for r in deadline.reminders] == [
        utc(2026, 11, 3, 7, 0),
        utc(2026, 11, 6, 7, 0),
    ]


def test_the_shipment_json_shows_its_deadlines(client, auth):
    body = client.post(
        "/api/v1/shipments",
        json=shipment_payload(presented_at="2026-07-17T10:00:00+02:00"),
        headers=auth,
    ).json
    [deadline] = body["deadlines"]
    assert deadline["rule"] == CONFIRM
    assert (deadline["due_on"], deadline["status"]) == ("2026-08-03", "open")
    assert deadline["due_at"] == "2026-08-03T21:59:59.999999+00:00"


def test_only_rough_imports_start_the_confirmation_clock(session, service, officer):
    export = present(session, service, officer, "2026-07-17T10:00:00+02:00", direction="export")
    assert deadline_of(export, CONFIRM) is None


def test_verification_meets_the_confirmation_deadline_and_cites_it(session, service, officer):
    shipment = present(session, service, officer, "2099-07-17T10:00:00+02:00")
    verified = service.act(session, shipment.id, "verify", officer)
    deadline = confirmation(verified)
    assert deadline.status == DeadlineStatus.MET
    assert deadline.met_at == verified.events[-1].at
    finding = {f.rule: f for f in verified.events[-1].findings}[CONFIRM]
    assert finding.outcome == "pass"
    assert "within 10 working days" in finding.message


def test_a_late_verification_is_recorded_as_missed_and_warned(session, service, officer):
    shipment = present(session, service, officer, "2026-07-17T10:00:00+02:00")
    verified = service.act(session, shipment.id, "verify", officer)  # today, long after 3 August
    deadline = confirmation(verified)
    assert deadline.status == DeadlineStatus.MISSED
    assert deadline.met_at is not None
    finding = {f.rule: f for f in verified.events[-1].findings}[CONFIRM]
    assert finding.outcome == "warn"
    assert "ran out at the end of Monday 03 August 2026" in finding.message


def test_detention_cancels_the_confirmation_and_opens_the_one_month_notice(
    session, service, officer
):
    shipment = present(session, service, officer, "2099-07-17T10:00:00+02:00")
    held = service.act(session, shipment.id, "hold", officer, reason="seal S-991 broken")
    assert confirmation(held).status == DeadlineStatus.CANCELLED
    notice = deadline_of(held, NOTIFY)
    assert notice is not None and notice.status == DeadlineStatus.OPEN
    assert notice.basis == "Reg. (EC) 2368/2002 Art. 5(3)"
    hold_day = held.events[-1].legal_date
    assert notice.starts_on == calendar_for(session, "BE").legal_date(held.events[-1].at)
    assert notice.due_on >= notice.starts_on + timedelta(days=28)
    assert hold_day == date(2099, 7, 17)  # the law of the presentation date applies
    # Both notices are queued in the same transaction as the detention.
    audiences = session.scalars(
        select(OutboxMessage.audience).where(
            OutboxMessage.deadline_id == notice.id, OutboxMessage.kind == "notice"
        )
    ).all()
    assert sorted(audiences) == ["commission", "kp-authority:CA"]
    finding = {f.rule: f for f in held.events[-1].findings}[NOTIFY]
    assert finding.outcome == "info" and "Natural Resources Canada (CA)" in finding.message


def test_a_month_ending_on_belgian_national_day_runs_to_the_next_working_day(session):
    # Detained Sunday 21 June 2026 → one month is Tuesday 21 July, National Day → 22 July.
    calendar = calendar_for(session, "BE")
    assert Period.parse("1 month").due_after(calendar, date(2026, 6, 21)) == date(2026, 7, 22)
    # 31 January + 1 month is 28 February 2026, a Saturday → Monday 2 March.
    assert Period.parse("1 month").due_after(calendar, date(2026, 1, 31)) == date(2026, 3, 2)


@pytest.mark.parametrize(
    "text", ["10 working days", "1 working day", "1 month", "2 months", "30 calendar days"]
)
def test_a_period_reads_back_as_it_was_written(text):
    assert str(Period.parse(text)) == text


@pytest.mark.parametrize("text", ["ten working days", "10 fortnights", "", "-1 month"])
def test_an_unreadable_period_is_refused_clearly(text):
    with pytest.raises(ValueError, match="unreadable period"):
        Period.parse(text)


# ---- closure days an administrator adds --------------------------------------------------


def test_a_closure_day_moves_the_open_deadlines_that_count_across_it(session, service, officer):
    deadline = confirmation(present(session, service, officer, "2099-07-17T10:00:00+02:00"))
    before = deadline.due_on
    calendar = calendar_for(session, "BE")
    closed = calendar.add_working_days(date(2099, 7, 17), 2)
    moved = add_closure_day(session, "BE", closed, "move of the Diamond Office", "admin")
    assert deadline in moved
    assert deadline.due_on == calendar_for(session, "BE").add_working_days(before, 1)
    assert deadline.schedule == 2
    assert calendar_for(session, "BE").why_closed(closed) == "closure day"
    with pytest.raises(InvalidInput, match="already a closure day"):
        add_closure_day(session, "BE", closed, "again", "admin")
    remove_closure_day(session, "BE", closed)
    assert deadline.due_on == before


# ---- suspension: the law stops the clock (EU Art. 4(3), customs transit) -----------------


def transit_rule() -> Jurisdiction:
    book = RuleBook("eu", _eu_rules_toml())
    rule = declare(
        book,
        CONFIRM,
        opened_by={"present"},
        anchor=Anchor.PRESENTATION,
        period=Period.parse("10 working days"),
        met_by={"verify"},
        suspended_by={"suspend_transit"},
        resumed_by={"arrive"},
        reminders=(Reminder(3),),
    )
    return Jurisdiction(frozenset({"eu"}), None, (), (rule,))  # type: ignore[arg-type]


def _eu_rules_toml() -> Path:
    return Path(caratflow.plugins.eu.__file__).parent / "rules.toml"


def decide(session, shipment, action: str, at: datetime, jurisdiction) -> Event:
    event = Event(
        shipment=shipment,
        action=action,
        actor="officer.be",
        from_state=shipment.state,
        to_state=shipment.state,
        legal_date=date(2026, 7, 17),
        at=at,
    )
    session.add(event)
    session.flush()
    keep_deadlines(session, shipment, event, jurisdiction)
    return event


def test_a_suspended_deadline_moves_by_the_working_days_it_stood_still(session, service, officer):
    shipment = present(session, service, officer, "2026-07-17T10:00:00+02:00")
    deadline = confirmation(shipment)
    assert deadline.due_on == date(2026, 8, 3)
    transit = transit_rule()
    # Suspended Monday 20 July; the goods reach the authority Thursday 23 July. Lost:
    # 22 and 23 July (21 July, National Day, was not a working day anyway).
    decide(session, shipment, "suspend_transit", utc(2026, 7, 20, 9), transit)
    assert (deadline.status, deadline.next_at) == (DeadlineStatus.SUSPENDED, None)
    assert deadline.suspended_on == date(2026, 7, 20)
    decide(session, shipment, "arrive", utc(2026, 7, 23, 9), transit)
    assert deadline.status == DeadlineStatus.OPEN
    assert deadline.suspended_days == 2
    assert deadline.due_on == date(2026, 8, 5)
    assert deadline.due_at == utc(2026, 8, 5, 21, 59, 59, 999999)


# ---- the sweep: reminders, missed, escalation -----------------------------------------


def test_the_sweep_reminds_then_marks_missed_and_escalates_once(session, service, officer):
    # Presented Friday 17 July 2099 in Brussels (a year whose calendar nobody has touched).
    deadline = confirmation(present(session, service, officer, "2099-07-17T10:00:00+02:00"))
    calendar = calendar_for(session, "BE")
    due = deadline.due_on
    three_before = calendar.subtract_working_days(due, 3)
    at_eight = datetime.combine(three_before, time(8), BRUSSELS).astimezone(UTC)
    assert deadline.next_at == at_eight

    assert sweep(session, at_eight - timedelta(seconds=1)).deadlines == 0
    first = sweep(session, at_eight + timedelta(minutes=1))
    assert (first.deadlines, first.reminders, first.missed) == (1, 1, 0)
    [reminder] = messages(session, deadline)
    assert reminder.kind == "reminder" and not reminder.late
    assert reminder.subject.startswith("Due in 3 working days: eu.confirm.10_days")
    assert reminder.address == "log:officers"  # nobody configured an address yet
    assert sweep(session, at_eight + timedelta(minutes=2)).deadlines == 0  # nothing twice

    on_the_day = datetime.combine(due, time(8), BRUSSELS).astimezone(UTC)
    assert sweep(session, on_the_day).reminders == 1
    assert messages(session, deadline)[-1].subject.startswith("Due today")

    after = deadline.due_at + timedelta(minutes=1)
    result = sweep(session, after)
    assert (result.missed, deadline.status, deadline.next_at) == (1, DeadlineStatus.MISSED, None)
    escalation = messages(session, deadline)[-1]
    assert (escalation.kind, escalation.audience) == ("escalation", "supervisors")
    assert sweep(session, after + timedelta(days=3)).deadlines == 0


def test_reminders_missed_during_downtime_go_out_once_marked_late(session, service, officer):
    deadline = confirmation(present(session, service, officer, "2099-07-17T10:00:00+02:00"))
    # The worker was down for the whole fortnight: one sweep after the due day.
    result = sweep(session, deadline.due_at + timedelta(hours=9))
    assert (result.reminders, result.missed) == (2, 1)
    sent = messages(session, deadline)
    assert [(m.kind, m.late) for m in sent] == [
        ("reminder", True),
        ("reminder", True),
        ("escalation", True),
    ]
    assert sweep(session, deadline.due_at + timedelta(days=1)).reminders == 0


def test_meeting_a_deadline_cancels_its_reminders_still_in_the_outbox(session, service, officer):
    shipment = present(session, service, officer, "2099-07-17T10:00:00+02:00")
    deadline = confirmation(shipment)
    sweep(session, deadline.next_at)
    service.act(session, shipment.id, "verify", officer)
    assert [m.status for m in messages(session, deadline)] == [OutboxStatus.CANCELLED]


def test_reminders_already_past_when_a_deadline_opens_are_skipped_not_sent(session):
    authority = session.get(Authority, "BE")
    rule = transit_rule().deadlines[0]  # 10 working days, a reminder 3 before
    # Friday 17 July 2026 → due Monday 3 August; the reminder was due Wednesday 29 July.
    now = utc(2026, 7, 30, 12)
    deadline = open_deadline(session, rule, authority, utc(2026, 7, 17, 8), recorded_at=now)
    assert deadline.due_on == date(2026, 8, 3)
    assert deadline.reminders_sent == 1
    assert deadline.next_at == deadline.due_at
    assert sweep(session, now).deadlines == 0


def messages(session, deadline: Deadline) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.deadline_id == deadline.id)
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def test_a_decision_rolled_back_leaves_no_deadline(sessions, service, officer):
    before = count_deadlines(sessions)
    with sessions() as session, pytest.raises(RuntimeError), session.begin():
        service.present(session, shipment_payload(), officer)
        raise RuntimeError("the unit of work fails after the decision")
    assert count_deadlines(sessions) == before


def count_deadlines(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Deadline))


# ---- Norway §8: the advance notice at least 1 working day before dispatch ---------------


def norwegian(session, service, received_at: str, dispatch_on: str):
    payload = shipment_payload(
        authority="NO",
        entry_point="OSL",
        presented_at="2026-05-18T10:00:00+02:00",
        advance_notice={"received_at": received_at, "dispatch_on": dispatch_on},
    )
    findings = service.check(session, payload, NORWAY)
    return {f.rule: f for f in findings}.get("no.advance_notice")


@pytest.mark.parametrize(
    ("received_at", "dispatch_on", "outcome"),
    [
        # Ascension Day, Thursday 14 May 2026, for dispatch on Friday 15 May: late.
        ("2026-05-14T10:00:00+02:00", "2026-05-15", "warn"),
        # Wednesday 13 May is the last working day before that Friday: in time.
        ("2026-05-13T23:30:00+02:00", "2026-05-15", "pass"),
        # 23:30 UTC on Wednesday is already Thursday in Oslo: late.
        ("2026-05-13T22:30:00+00:00", "2026-05-15", "warn"),
        # 17 May 2028 (Constitution Day, a Wednesday) for a Thursday dispatch: late.
        ("2028-05-17T09:00:00+02:00", "2028-05-18", "warn"),
        ("2028-05-16T16:00:00+02:00", "2028-05-18", "pass"),
        # Monday 17 May 2027 is Constitution Day and Whit Monday: a notice on Friday
        # 14 May is in time for Tuesday 18 May; one on Saturday is not.
        ("2027-05-14T15:00:00+02:00", "2027-05-18", "pass"),
        ("2027-05-15T09:00:00+02:00", "2027-05-18", "warn"),
        # Across the year end: 1 January 2027 is a Friday holiday; dispatch Monday 4
        # January needs the notice by Thursday 31 December.
        ("2026-12-31T12:00:00+01:00", "2027-01-04", "pass"),
        ("2027-01-01T12:00:00+01:00", "2027-01-04", "warn"),
    ],
)
def test_the_advance_notice_reaches_the_authority_one_norwegian_working_day_before_dispatch(
    session, service, received_at, dispatch_on, outcome
):
    finding = norwegian(session, service, received_at, dispatch_on)
    assert finding is not None
    assert (finding.outcome.value, finding.basis) == (outcome, "FOR-2004-02-24-470 §8")


def test_a_late_notice_says_why_the_day_did_not_count(session, service):
    finding = norwegian(session, service, "2026-05-14T10:00:00+02:00", "2026-05-15")
    assert "Thursday 14 May 2026 (Ascension Day, not a working day)" in finding.message
    assert "by Wednesday 13 May 2026" in finding.message
    assert finding.data["working_days_before"] == 0


def test_an_unreadable_advance_notice_is_a_clear_error(session, service):
    with pytest.raises(InvalidInput) as refused:
        norwegian(session, service, "yesterday", "15/05/2026")
    fields = {e.field for e in refused.value.errors}
    assert fields == {"advance_notice.received_at", "advance_notice.dispatch_on"}


# -- every status a deadline takes is sealed (issue 25) --------------------------------


def test_a_missed_deadline_set_to_met_by_sql_is_named_by_verify(runtime, session, service, officer):
    from sqlalchemy import update

    from caratflow.ledger import sequencer, signing_keys, verification

    key = signing_keys.signing_key(runtime.settings)
    shipment = present(session, service, officer, "2026-07-17T10:00:00+02:00")
    deadline = confirmation(service.act(session, shipment.id, "verify", officer))
    assert deadline.status == DeadlineStatus.MISSED
    sequencer.sequence_pending(session, key)
    assert verification.verify_ledger(session, key.public_key()).ok
    session.execute(
        update(Deadline).where(Deadline.id == deadline.id).values(status=DeadlineStatus.MET)
    )
    report = verification.verify_ledger(session, key.public_key())
    (found,) = report.discrepancies
    assert found.rows == (f"deadline {deadline.id}",)
    assert "status: sealed 'missed' (change 2), now 'met'" in found.message


def test_each_status_a_deadline_takes_is_sealed_and_verifies(runtime, session, service, officer):
    """Opened, reminded, missed by the sweep, moved by a closure day: each change is a leaf,
    and the latest stands for the row."""
    from caratflow.ledger import leaves, sequencer, signing_keys, verification

    key = signing_keys.signing_key(runtime.settings)
    deadline = confirmation(present(session, service, officer, "2099-07-17T10:00:00+02:00"))
    first_due = deadline.due_on
    add_closure_day(session, "BE", first_due, "strike", "admin")
    assert deadline.due_on > first_due
    sweep(session, datetime.combine(deadline.due_on + timedelta(days=3), time(8), UTC))
    assert deadline.status == DeadlineStatus.MISSED
    changes = session.scalars(
        select(LedgerEntry.record_key).where(LedgerEntry.kind == leaves.DEADLINE)
    ).all()
    assert sorted(changes) == [f"{deadline.id}:1", f"{deadline.id}:2", f"{deadline.id}:3"]
    assert verification.verify_ledger(session, key.public_key()).ok
    sequencer.sequence_pending(session, key)
    assert verification.verify_ledger(session, key.public_key()).ok
