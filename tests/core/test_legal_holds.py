"""Purge only by the law's date (issue 25): the legal clock decides, and a legal hold (an
investigation, an appeal, a court order) keeps a shipment's records whatever the
retention period says; each hold placed or lifted is a sealed record."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from caratflow.case.access import Actor
from caratflow.errors import Conflict, Forbidden, InvalidInput
from caratflow.ledger import sequencer, signing_keys, verification
from caratflow.models import LegalHold, Role
from caratflow.records.retention import lift_hold, place_hold, purge, retention_of
from caratflow.testing.payloads import shipment_payload

ADMIN = Actor("admin.be", Role.ADMIN, frozenset({"BE"}))
LATER = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)  # past the three years of Art. 20


@pytest.fixture
def released(runtime, session, officer):
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    runtime.shipments.act(session, shipment.id, "verify", officer)
    runtime.shipments.act(session, shipment.id, "release", officer)
    return shipment


def test_a_purge_is_refused_while_a_legal_hold_stands_and_goes_once_it_is_lifted(
    runtime, session, released, plugin_host
):
    key = signing_keys.signing_key(runtime.settings)
    hold = place_hold(session, released.id, "investigation", "PV 2026/17", "fraud suspected", ADMIN)
    assert retention_of(plugin_host, released).holds == (hold,)
    assert not retention_of(plugin_host, released).purgeable_on(LATER.date())
    with pytest.raises(Conflict, match="under a legal hold: investigation PV 2026/17"):
        purge(session, plugin_host, released.id, ADMIN, "routine", LATER)
    lifted = lift_hold(session, hold.id, "the case was closed", ADMIN)
    assert lifted.lifts == hold.id and retention_of(plugin_host, released).holds == ()
    with pytest.raises(Conflict, match="lifted before"):
        lift_hold(session, hold.id, "again", ADMIN)
    sequencer.sequence_pending(session, key)
    purge(session, plugin_host, released.id, ADMIN, "three years passed", LATER)
    sequencer.sequence_pending(session, key)
    assert verification.verify_ledger(session, key.public_key()).ok


def test_a_purge_before_the_laws_date_is_refused_by_the_legal_clock(session, released, plugin_host):
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    with pytest.raises(Conflict, match="must be kept until 2029-11-20"):
        purge(session, plugin_host, released.id, ADMIN, "routine", now)
    with pytest.raises(Conflict, match="must be kept until 2029-11-20"):
        purge(session, plugin_host, released.id, ADMIN, "routine")  # the real clock


def test_a_legal_hold_names_each_field_it_cannot_take_and_writes_nothing(
    session, released, officer
):
    with pytest.raises(InvalidInput) as refused:
        place_hold(session, released.id, "rumour", " ", "", ADMIN)
    assert [e.field for e in refused.value.errors] == ["kind", "reference", "reason"]
    assert session.query(LegalHold).count() == 0
    with pytest.raises(Forbidden):
        place_hold(session, released.id, "appeal", "A-1", "appealed", officer)


def test_a_legal_hold_edited_or_deleted_by_sql_is_named_by_verify(runtime, session, released):
    key = signing_keys.signing_key(runtime.settings)
    hold = place_hold(session, released.id, "court_order", "HvB 2026/9", "seized", ADMIN)
    sequencer.sequence_pending(session, key)
    assert verification.verify_ledger(session, key.public_key()).ok
    session.execute(update(LegalHold).where(LegalHold.id == hold.id).values(reference="none"))
    report = verification.verify_ledger(session, key.public_key())
    assert f"legal_hold {hold.id}" in report.rows
    assert "reference" in report.discrepancies[0].message
