"""Tamper evidence against a database insider (issue 25): someone who can write every table
but cannot read the instance folder's keys.

Only the application writes a leaf the sequencer takes: each is authenticated with a leaf
key when it is written, so a row inserted by SQL alone, even in the product's own leaf
encoding, is refused by the sequencer and named by ``verify``, pending or not.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text, update

from caratflow.ledger import leaf_keys, leaves, sealing, sequencer, signing_keys, verification
from caratflow.ledger.sealing import LedgerError
from caratflow.models import Event, LedgerEntry, PurgeRecord
from caratflow.testing.payloads import shipment_payload

MOMENT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def key(runtime):
    return signing_keys.signing_key(runtime.settings)


def forge_decision(session, shipment, *, encoding: str) -> Event:
    """What an insider does by SQL: a decision row and a pending leaf for it, without the
    leaf key (``encoding``: the product's own leaf bytes, or JSON of his own)."""
    event = Event(
        shipment_id=shipment.id,
        action="release",
        actor="officer.be",
        from_state=shipment.state,
        to_state=shipment.state,  # so that the shipment's state still agrees
        reason="",
        legal_date=MOMENT.date(),
        at=MOMENT,
        data={},
    )
    session.add(event)
    session.flush()
    record = leaves.sealed_decision(leaves.row_of(event, leaves.EVENT_COLUMNS), [])
    if encoding == "product":
        data = leaves.leaf_bytes(leaves.DECISION, str(event.id), MOMENT, record).decode()
    else:
        leaf = {"v": 1, "kind": "decision", "key": str(event.id), "logged_at": MOMENT}
        data = json.dumps({**leaf, "record": leaves.as_json(record)}, default=str, indent=1)
        data = data.replace('"2026-11-20 09:30:00+00:00"', '"2026-11-20T09:30:00Z"')
    session.execute(
        insert(LedgerEntry).values(
            kind=leaves.DECISION, record_key=str(event.id), logged_at=MOMENT, leaf_data=data
        )
    )
    return event


@pytest.mark.parametrize("encoding", ["product", "own"])
def test_a_forged_pending_decision_is_refused_by_the_sequencer_and_named_by_verify(
    runtime, session, officer, key, encoding
):
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    sequencer.sequence_pending(session, key)
    forged = forge_decision(session, shipment, encoding=encoding)
    report = verification.verify_ledger(session, key.public_key())
    assert report.pending == 1 and not report.ok
    (found,) = [d for d in report.discrepancies if d.problem != "modified"]
    assert found.problem == "unauthenticated"
    assert found.rows == (f"ledger_entry decision:{forged.id}", f"event {forged.id}")
    assert "written outside the application" in found.message
    with pytest.raises(LedgerError, match=f"ledger_entry decision:{forged.id} not authenticated"):
        sequencer.sequence_pending(session, key)


def test_a_leaf_authenticated_for_another_record_or_by_another_key_is_named(
    runtime, session, officer, key
):
    """The HMAC covers the leaf's bytes: copying a genuine one, or making one with a key of
    one's own under the node's key id, authenticates nothing."""
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    genuine = session.execute(
        select(LedgerEntry.key_id, LedgerEntry.mac).where(LedgerEntry.kind == leaves.DECISION)
    ).one()
    copied = forge_decision(session, shipment, encoding="product")
    session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.record_key == str(copied.id))
        .values(key_id=genuine.key_id, mac=genuine.mac)
    )
    own_key = leaf_keys.LeafKeys({genuine.key_id: b"\x01" * 32}, genuine.key_id)
    entry = sealing.find_entry(session, leaves.DECISION, str(copied.id))
    _, mac = own_key.authenticate(entry.leaf_data.encode())
    session.execute(
        update(LedgerEntry).where(LedgerEntry.record_key == str(copied.id)).values(mac=mac)
    )
    report = verification.verify_ledger(session, key.public_key())
    assert [d.problem for d in report.discrepancies] == ["unauthenticated"]
    assert f"ledger_entry decision:{copied.id}" in report.rows


def test_a_leaf_whose_authentication_was_edited_under_a_signed_head_is_named(
    runtime, session, officer, key
):
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    sequencer.sequence_pending(session, key)
    session.execute(
        update(LedgerEntry).where(LedgerEntry.kind == leaves.DECISION).values(mac="0" * 64)
    )
    report = verification.verify_ledger(session, key.public_key())
    assert [d.problem for d in report.discrepancies] == ["unauthenticated"]
    assert f"event {shipment.events[0].id}" in report.rows


def test_a_forged_purge_does_not_account_for_the_decisions_of_a_deleted_shipment(
    runtime, session, officer, key
):
    """The insider writes a tombstone and its leaf in the product's encoding, then deletes
    the shipment: its signed decisions are missing, and the purge is named as forged."""
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    runtime.shipments.act(session, shipment.id, "verify", officer)
    sequencer.sequence_pending(session, key)
    decisions = [event.id for event in shipment.events]
    tombstone = PurgeRecord(
        shipment_id=shipment.id,
        authority_code="BE",
        certificate_number=shipment.certificate.number,
        kept_until=MOMENT.date(),
        actor="admin",
        reason="retention period over",
        purged_at=MOMENT,
    )
    session.add(tombstone)
    session.flush()
    record = leaves.sealed_purge(leaves.row_of(tombstone, leaves.PURGE_COLUMNS))
    data = leaves.leaf_bytes(leaves.PURGE, str(tombstone.id), MOMENT, record).decode()
    session.execute(
        insert(LedgerEntry).values(
            kind=leaves.PURGE, record_key=str(tombstone.id), logged_at=MOMENT, leaf_data=data
        )
    )
    session.delete(shipment)
    session.flush()
    report = verification.verify_ledger(session, key.public_key())
    problems = {d.problem for d in report.discrepancies}
    assert problems >= {"unauthenticated", "deleted"}  # and the documents it unlinked
    assert f"ledger_entry purge:{tombstone.id}" in report.rows
    assert {f"event {event}" for event in decisions} <= report.rows


def test_a_lawful_purge_still_accounts_for_the_decisions_it_removed(runtime, session, officer, key):
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    sequencer.sequence_pending(session, key)
    tombstone = PurgeRecord(
        shipment_id=shipment.id,
        authority_code="BE",
        certificate_number=shipment.certificate.number,
        kept_until=MOMENT.date(),
        actor="admin",
        reason="retention period over",
    )
    session.add(tombstone)
    session.flush()
    sealing.seal_purge(session, tombstone)
    session.delete(shipment)
    session.flush()
    assert verification.verify_ledger(session, key.public_key()).ok
    sequencer.sequence_pending(session, key)
    assert verification.verify_ledger(session, key.public_key()).ok


def test_a_rotated_leaf_key_keeps_the_old_leaves_checkable(runtime, session, officer, key):
    first = runtime.shipments.present(session, shipment_payload(), officer).shipment
    old = leaf_keys.session_leaf_keys(session).current
    new = leaf_keys.rotate_leaf_key(runtime.settings.leaf_keys_path)
    assert new != old and leaf_keys.session_leaf_keys(session).current == new
    second = runtime.shipments.present(session, shipment_payload(), officer).shipment
    ids = dict(
        session.execute(
            select(LedgerEntry.record_key, LedgerEntry.key_id).where(
                LedgerEntry.kind == leaves.DECISION
            )
        ).all()
    )
    assert ids == {str(first.events[0].id): old, str(second.events[0].id): new}
    assert verification.verify_ledger(session, key.public_key()).ok
    placed = sequencer.sequence_pending(session, key).tree_size
    assert placed == session.scalar(select(func.count()).select_from(LedgerEntry))
    assert verification.verify_ledger(session, key.public_key()).ok


def test_the_leaf_keys_are_made_once_for_this_os_user_alone(tmp_path):
    path = tmp_path / "instance" / "ledger-leaf.keys"
    assert leaf_keys.ensure_leaf_keys(path)
    before = path.read_bytes()
    assert not leaf_keys.ensure_leaf_keys(path)  # never replaced
    assert path.read_bytes() == before
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_a_session_without_leaf_keys_seals_nothing(connection):
    from sqlalchemy.orm import Session

    with Session(bind=connection) as bare, pytest.raises(leaf_keys.LeafKeyError):
        sealing.record_digital_identity(bare, "ID-1", {"carats": "1.00"})


def test_the_keys_and_database_files_others_may_read_are_listed(tmp_path):
    """What ``caratflow doctor`` warns about: nothing after ``init``, then each file or
    folder whose mode lets group or others in."""
    from caratflow.config import Settings
    from caratflow.db import make_engine
    from caratflow.runtime import exposed_secrets
    from caratflow.testing.servers import with_ledger_key

    instance, url = tmp_path / "instance", f"sqlite:///{tmp_path / 'instance' / 'kp.sqlite3'}"
    settings = with_ledger_key(Settings.from_env({}, instance_path=instance, database_url=url))
    make_engine(settings.database_url).dispose()
    database = instance / "kp.sqlite3"
    assert database.exists() and stat.S_IMODE(os.stat(database).st_mode) == 0o600
    assert exposed_secrets(settings) == []
    settings.leaf_keys_path.chmod(0o640)
    database.chmod(0o644)
    instance.chmod(0o755)
    assert exposed_secrets(settings) == [
        (instance, 0o755),
        (settings.leaf_keys_path, 0o640),
        (database, 0o644),
    ]


# -- everything that decides a case is sealed (point 2) ---------------------------------


@pytest.fixture
def refused(runtime, session, officer, key):
    shipment = runtime.shipments.present(session, shipment_payload(), officer).shipment
    runtime.shipments.act(session, shipment.id, "refuse", officer, reason="forged certificate")
    sequencer.sequence_pending(session, key)
    assert verification.verify_ledger(session, key.public_key()).ok
    return shipment


def test_a_refused_shipment_set_to_released_by_sql_is_named(session, key, refused):
    session.execute(text(f"UPDATE shipment SET state = 'released' WHERE id = {refused.id}"))
    report = verification.verify_ledger(session, key.public_key())
    (found,) = report.discrepancies
    assert found.rows == (f"shipment {refused.id}",)
    assert "says it is released, but its last sealed decision" in found.message
    assert "left it refused" in found.message


@pytest.mark.parametrize(
    ("table", "column", "value", "named"),
    [
        ("shipment", "authority_code", "'NO'", "shipment {shipment} authority_code"),
        ("certificate", "carats", "200", "certificate {certificate} carats"),
        ("certificate", "origin", """'["RU"]'""", "certificate {certificate} origin"),
        ("certificate", "importer_name", "'Someone Else'", "certificate {certificate} importer"),
        ("container", "seals_intact", "false", "container {container} seals_intact"),
    ],
)
def test_a_shipment_edited_by_sql_after_its_presentation_is_named(
    session, key, refused, table, column, value, named
):
    where = "shipment_id" if table != "shipment" else "id"
    session.execute(text(f"UPDATE {table} SET {column} = {value} WHERE {where} = {refused.id}"))
    report = verification.verify_ledger(session, key.public_key())
    ids = {
        "shipment": refused.id,
        "certificate": refused.certificate.id,
        "container": refused.containers[0].id if refused.containers else None,
    }
    label = named.format(**ids)
    assert any(label in d.message for d in report.discrepancies), report.discrepancies
    assert named.format(**ids).rsplit(" ", 1)[0] in report.rows
