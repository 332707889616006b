"""The traders' tallies the risk analysis reads (``Registry.party_history``), kept with
the decisions that change them, so that reading one costs one row however many
shipments a trader has (issue 28)."""

from __future__ import annotations

from sqlalchemy import case, delete, exists, func, insert, select, union, update
from sqlalchemy.orm import Session

from caratflow.db import insert_or_update
from caratflow.law.registry import DETAINING
from caratflow.models import Certificate, Event, Shipment, TraderTally


def traders(shipment: Shipment) -> set[str]:
    """The names a shipment counts for: its importer and exporter (once if the same)."""
    certificate = shipment.certificate
    return {certificate.importer_name, certificate.exporter_name}


def count_presentation(session: Session, shipment: Shipment) -> None:
    """One more shipment for each of its traders."""
    _add(session, shipment, shipments=1, held=0)


def count_decision(session: Session, shipment: Shipment, event: Event) -> None:
    """A shipment's first detention counts once for each trader; later ones do not."""
    if event.action != DETAINING:
        return
    earlier = exists().where(
        Event.shipment_id == shipment.id, Event.action == DETAINING, Event.id != event.id
    )
    if not session.scalar(select(earlier)):
        _add(session, shipment, shipments=0, held=1)


def uncount(session: Session, shipment: Shipment) -> None:
    """A purged shipment leaves its traders' history (before it is deleted)."""
    held = exists().where(Event.shipment_id == shipment.id, Event.action == DETAINING)
    was_held = bool(session.scalar(select(held)))
    session.execute(
        update(TraderTally)
        .where(
            TraderTally.authority_code == shipment.authority_code,
            TraderTally.name.in_(traders(shipment)),
        )
        .values(
            shipments=TraderTally.shipments - 1,
            held=TraderTally.held - (1 if was_held else 0),
        )
    )


def _add(session: Session, shipment: Shipment, *, shipments: int, held: int) -> None:
    rows = [
        {"authority_code": shipment.authority_code, "name": name}
        | {"shipments": shipments, "held": held}
        for name in sorted(traders(shipment))
    ]
    statement = insert_or_update(session, TraderTally)
    statement = statement.on_conflict_do_update(
        index_elements=[TraderTally.authority_code, TraderTally.name],
        set_={
            "shipments": TraderTally.shipments + statement.excluded.shipments,
            "held": TraderTally.held + statement.excluded.held,
        },
    )
    session.execute(statement.values(rows))  # one statement for both traders


def recount(session: Session) -> None:
    """Count every tally afresh from the records: for rows written in bulk, not through
    decisions (a benchmark's register, a test's)."""
    session.execute(delete(TraderTally))
    names = union(
        select(Certificate.shipment_id, Certificate.importer_name.label("name")),
        select(Certificate.shipment_id, Certificate.exporter_name.label("name")),
    ).subquery()
    held = exists().where(Event.shipment_id == Shipment.id, Event.action == DETAINING)
    counted = (
        select(
            Shipment.authority_code,
            names.c.name,
            func.count(),
            func.sum(case((held, 1), else_=0)),
        )
        .join(names, names.c.shipment_id == Shipment.id)
        .group_by(Shipment.authority_code, names.c.name)
    )
    session.execute(
        insert(TraderTally).from_select(["authority_code", "name", "shipments", "held"], counted)
    )
