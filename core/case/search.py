"""The search box (issue 26): a fragment of what an officer remembers finds the shipment.

Each shipment has one search text (``ShipmentSearch``): its certificate number, importer
and exporter, container labels and seals, and the identifiers declared with it (a
stone's or a parcel's id, wherever a plugin keeps it in ``details``), written here
whenever a flush adds or changes one of them. The database indexes it for fragments:
PostgreSQL by trigrams (``pg_trgm``, a GIN index), SQLite by an FTS5 trigram table. A
registered trader's organisation number finds the shipments naming that trader.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Select, and_, bindparam, column, event, inspect, or_, select, table
from sqlalchemy.orm import Session

from caratflow.db import insert_or_update
from caratflow.errors import FieldError, InvalidInput
from caratflow.models import Certificate, Container, Party, Shipment, ShipmentSearch

SHORTEST = 3
"""A trigram index finds fragments of three characters or more; a shorter one would
read every shipment."""
LONGEST = 200  # longer than any name or number a shipment is found by
LONGEST_IDENTIFIER = 100  # a declared text longer than this is prose, not an identifier

_FTS = table("shipment_search_fts", column("rowid"), column("document"))
"""SQLite's FTS5 trigram table over ``shipment_search`` (migration 0053)."""


def document(shipment: Shipment) -> str:
    """The text a shipment is found by."""
    cert = shipment.certificate
    return text_of(
        [cert.number, cert.importer_name, cert.exporter_name],
        [(c.label, c.seals) for c in shipment.containers],
        shipment.details or {},
    )


def text_of(
    certificate: Iterable[str], containers: Iterable[tuple[str, Iterable[Any]]], details: Any
) -> str:
    """The search text, lower case (the search folds case): the certificate's number and
    traders, each container's label and seals, the short texts among the declared fields."""
    parts = list(certificate)
    for label, seals in containers:
        parts += [label, *map(str, seals)]
    parts += _identifiers(details)
    return "\n".join(p for p in parts if p).lower()


def matching(session: Session, text: str) -> Select[Any]:
    """The ids of the shipments whose search text contains ``text``, or whose importer or
    exporter is a registered party with ``text`` in its organisation number."""
    fragment = " ".join(text.split()).lower()
    if not SHORTEST <= len(fragment) <= LONGEST:
        raise InvalidInput(
            [FieldError("q", f"type at least {SHORTEST} characters, at most {LONGEST}")]
        )
    if session.get_bind().dialect.name == "sqlite":
        phrase = '"' + fragment.replace('"', '""') + '"'
        found = select(_FTS.c.rowid).where(_FTS.c.document.match(phrase))
    else:
        # The pattern is written into the statement: a plan for a parameter PostgreSQL
        # cannot see (its generic plan, taken after five runs) reads the whole table to
        # find a rare fragment, ten times slower at 100k shipments than the plan for it.
        escaped = fragment.replace("/", "//").replace("%", "/%").replace("_", "/_")
        pattern = bindparam("fragment", f"%{escaped}%", literal_execute=True)
        found = select(ShipmentSearch.shipment_id).where(
            ShipmentSearch.document.like(pattern, escape="/")
        )
    digits = fragment.replace(" ", "")
    if not digits.isdigit():
        return found
    traders = session.execute(  # a handful: the look-ups by name start from them
        select(Party.authority_code, Party.name).where(
            Party.organisation_number.contains(digits, autoescape=True)
        )
    ).all()
    if not traders:
        return found
    named = (
        select(Certificate.shipment_id)
        .join(Shipment, Shipment.id == Certificate.shipment_id)
        .where(
            or_(
                *(
                    and_(Shipment.authority_code == code, Certificate.importer_name == name)
                    for code, name in traders
                ),
                *(
                    and_(Shipment.authority_code == code, Certificate.exporter_name == name)
                    for code, name in traders
                ),
            )
        )
    )
    return found.union(named)


def _identifiers(value: Any) -> Iterator[str]:
    """Every short text among the declared fields, however a plugin nests them."""
    if isinstance(value, str):
        if len(value) <= LONGEST_IDENTIFIER:
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _identifiers(item)
    elif isinstance(value, list):
        for item in value:
            yield from _identifiers(item)


_SEARCHED = {
    Shipment: ("details",),
    Certificate: ("number", "importer_name", "exporter_name"),
    Container: ("label", "seals"),
}


@event.listens_for(Session, "after_flush")
def _keep_current(session: Session, _context: Any) -> None:
    """Write the search text of each shipment whose searched fields this flush changed."""
    changed: dict[int, Shipment] = {}
    for row in (*session.new, *session.dirty):
        fields = _SEARCHED.get(type(row))
        if fields is None:
            continue
        state = inspect(row)
        if row not in session.new and not any(
            state.attrs[name].history.has_changes() for name in fields
        ):
            continue
        shipment = row if isinstance(row, Shipment) else row.shipment
        if shipment is not None and shipment.id is not None and shipment.certificate:
            changed[shipment.id] = shipment
    if not changed:
        return
    rows = [{"shipment_id": i, "document": document(s)} for i, s in sorted(changed.items())]
    insert = insert_or_update(session, ShipmentSearch)
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["shipment_id"], set_={"document": insert.excluded.document}
        ),
        rows,
    )


def in_models(name: str | None, kind: str, _parents: Any) -> bool:
    """Alembic's ``include_name``: the text indexes (the FTS5 table with its shadow
    tables, the trigram index) are migration 0053's, outside the models."""
    return not (name or "").startswith(("shipment_search_fts", "ix_shipment_search_trigrams"))
