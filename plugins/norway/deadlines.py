"""Norway's legal clock on a shipment: the advance notice of §8 (FOR-2004-02-24-470).

"Forhåndsmeldingen skal være kommet fram til tilsynsmyndigheten senest 1 virkedag før
forsendelsen skal ekspederes": the notice on the set form reaches the authority at the
latest 1 working day before dispatch. Counted in the Norwegian calendar (holidays,
weekends and the authority's closure days) in Europe/Oslo: a notice received on
Ascension Day for a dispatch the next day arrived 0 working days before, too late.

The notice is a declared field (``fields.AdvanceNotice``), given on presentation or
recorded later (``record_advance_notice``)::

    "advance_notice": {"received_at": "2026-05-13T14:05:00+02:00", "dispatch_on": "2026-05-15"}

A shipment without any notice is a finding too, and the document control (§11), whose
reference the notice is, cannot be completed without it.

The period is a dated parameter (``parameters/deadlines.toml``); the legal text is in
``rules.toml``.
"""

from __future__ import annotations

from datetime import timedelta

from caratflow.deadlines.keeping import calendar_of
from caratflow.jurisdiction.clocks import DatedPeriod
from caratflow.law.rules import Case, Verdict, passed, warn
from caratflow.plugins.norway.fields import RECORD_NOTICE, AdvanceNotice
from caratflow.plugins.norway.rules import PARAMETERS, RULES, T

ADVANCE_NOTICE_PERIOD = DatedPeriod(PARAMETERS, "advance_notice_period")


@RULES.rule("no.advance_notice", actions={"present", RECORD_NOTICE}, goods={"rough"})
def advance_notice_in_time(case: Case) -> Verdict | None:
    """The advance notice reaches the authority at least 1 working day before dispatch (§8)."""
    notice = AdvanceNotice.read(case.details.get("advance_notice"))
    if notice is None:
        return warn(T("no.notice.none"))
    if notice.received_at is None or notice.dispatch_on is None:
        return None  # a notice kept from before its fields were declared: nothing to time
    received_at, dispatch_on = notice.received_at, notice.dispatch_on
    calendar = calendar_of(case.shipment.authority)
    period = ADVANCE_NOTICE_PERIOD(case.legal_date)
    latest = period.latest_before(calendar, dispatch_on)
    received_on = calendar.legal_date(received_at)
    facts = {
        "received_on": received_on,
        "dispatch_on": dispatch_on,
        "latest_on": latest,
        # working days from the day of receipt up to the eve of dispatch
        "working_days_before": calendar.working_days_between(
            received_on - timedelta(days=1), dispatch_on - timedelta(days=1)
        ),
    }
    if received_on > latest:
        why = calendar.why_closed(received_on)
        closed = T("no.notice.closed", why=why) if why else ""
        return warn(
            T(
                "no.notice.late",
                received_on=received_on,
                closed=closed,
                dispatch_on=dispatch_on,
                period=T.period(period),
                latest=latest,
            ),
            **facts,
        )
    return passed(
        T(
            "no.notice.in_time",
            received_on=received_on,
            period=T.period(period),
            dispatch_on=dispatch_on,
        ),
        **facts,
    )
