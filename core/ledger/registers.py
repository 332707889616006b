"""The registers: rows that change in place (parties, users and their roles, an authority's
declaration and duties, closure days, security events) sealed as they change (issue 25).

Each insert, update or delete of such a row writes a leaf of the row as it then stands,
keyed ``<row key>@<instant>``, in the transaction that changes it: the ORM's flush does
it (``listen``), so no writer can forget. ``check_registers`` compares each current row
with its latest leaf and names the table, the row and the column that differ, a row
deleted while its latest leaf says it exists, and a row written with no leaf at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from caratflow.ledger.leaf_keys import has_leaf_keys
from caratflow.ledger.leaves import as_json
from caratflow.ledger.states import Found
from caratflow.models import (
    Authority,
    ClosureDay,
    LedgerEntry,
    Party,
    SecurityEvent,
    User,
    user_authority,
)

DELETED = {"deleted": True}
"""The record of a register row's last leaf when the application deleted the row."""


@dataclass(frozen=True)
class Register:
    """One table whose rows are sealed as they change.

    ``columns`` are sealed as they are; ``since`` names the column that says when a row
    was written, so that rows older than the register's first leaf (written before
    registers were sealed) are not called unsealed.
    """

    kind: str
    model: type
    columns: tuple[str, ...]
    since: str | None = None
    extra: Callable[[Session, Sequence[Any]], dict[Any, dict[str, Any]]] | None = None
    """Sealed values not among the row's own columns, by row key (a user's authorities)."""
    private: tuple[str, ...] = ()
    """Columns sealed by their SHA-256 only (a password hash)."""

    @property
    def table(self) -> Any:
        return self.model.__table__

    def key_of(self, row: Any) -> str:
        """The row's primary key as text (``BE/2026-07-21`` for a composite one)."""
        return "/".join(str(_value(getattr(row, c.name))) for c in self.table.primary_key)

    def record(self, row: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        record = {name: _value(getattr(row, name)) for name in self.columns}
        for name in self.private:
            value = getattr(row, name)
            record[f"{name}_sha256"] = (
                hashlib.sha256(value.encode()).hexdigest() if value is not None else None
            )
        record.update(extra or {})
        return record


def _value(value: Any) -> Any:
    """An enum member as its value, so that a row read back and an object seal alike."""
    return value.value if isinstance(value, Enum) else value


def _user_authorities(session: Session, ids: Sequence[Any]) -> dict[Any, dict[str, Any]]:
    found: dict[Any, list[str]] = {i: [] for i in ids}
    query = select(user_authority.c.user_id, user_authority.c.authority_code).where(
        user_authority.c.user_id.in_(list(ids))
    )
    for user, code in session.execute(query):
        found.setdefault(user, []).append(code)
    return {user: {"authorities": sorted(codes)} for user, codes in found.items()}


REGISTERS: dict[str, Register] = {
    register.kind: register
    for register in (
        Register(
            "party",
            Party,
            (
                "id",
                "authority_code",
                "name",
                "address",
                "phone",
                "organisation_number",
                "national_id",
                "roles",
                "registered_at",
                "registered_by",
            ),
            since="registered_at",
        ),
        Register(
            "user",
            User,
            ("id", "name", "role", "duties", "active", "created_at"),
            since="created_at",
            extra=_user_authorities,
            private=("password_hash",),
        ),
        Register("authority", Authority, tuple(c.name for c in Authority.__table__.columns)),
        Register(
            "closure_day",
            ClosureDay,
            ("authority_code", "day", "reason", "added_by", "added_at"),
            since="added_at",
        ),
        Register(
            "security_event",
            SecurityEvent,
            (
                "id",
                "at",
                "kind",
                "user_name",
                "remote_addr",
                "path",
                "authorities",
                "detail",
                "count",
                "last_at",
            ),
            since="at",
        ),
    )
}
_BY_MODEL = {register.model: register for register in REGISTERS.values()}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def seal_rows(
    session: Session, register: Register, rows: Iterable[tuple[str, Mapping[str, Any]]]
) -> None:
    """Seal each ``(row key, record)`` as the row now stands, at one instant."""
    from caratflow.ledger.sealing import append_entries  # sealing imports the models' wings

    moment = datetime.now(UTC)
    stamp = _stamp(moment)
    append_entries(
        session,
        register.kind,
        [(f"{key}@{stamp}", record) for key, record in rows],
        logged_at=moment,
    )


def seal_changed(session: Session, model: type, rows: Sequence[Any]) -> None:
    """Seal rows changed outside the ORM's unit of work (an UPDATE … RETURNING)."""
    register = _BY_MODEL[model]
    extra = register.extra(session, [r.id for r in rows]) if register.extra else {}
    seal_rows(
        session,
        register,
        [(register.key_of(r), register.record(r, extra.get(r.id))) for r in rows],
    )


def _after_flush(session: Session, _context: Any) -> None:
    """Seal every register row the flush inserted, changed or deleted."""
    if not has_leaf_keys(session):
        return
    changed: dict[Register, list[tuple[str, Mapping[str, Any]]]] = {}
    written = [o for o in session.new if type(o) in _BY_MODEL]
    written += [
        o
        for o in session.dirty
        if type(o) in _BY_MODEL and session.is_modified(o, include_collections=True)
    ]
    by_register: dict[Register, list[Any]] = {}
    for row in written:
        by_register.setdefault(_BY_MODEL[type(row)], []).append(row)
    for register, rows in by_register.items():
        extra = {}
        if register.model is User:  # the ORM holds the authorities it is writing
            extra = {r.id: {"authorities": sorted(a.code for a in r.authorities)} for r in rows}
        changed[register] = [
            (register.key_of(r), register.record(r, extra.get(getattr(r, "id", None))))
            for r in rows
        ]
    for row in session.deleted:
        register = _BY_MODEL.get(type(row))
        if register is not None:
            changed.setdefault(register, []).append((register.key_of(row), DELETED))
    for register, rows in changed.items():
        seal_rows(session, register, rows)


def listen() -> None:
    """Seal the registers in every flush of a session that has leaf keys (``Runtime.assemble``
    calls it; once is enough). On the ``Session`` class, not a sessionmaker: a listener on a
    sessionmaker is lost when a collected one's id is reused by the next."""
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


def _latest(session: Session, kind: str) -> tuple[dict[str, tuple[str, Any]], str | None]:
    """Each row key's latest leaf (its stamp and record), and the register's first stamp."""
    latest: dict[str, tuple[str, Any]] = {}
    first = None
    query = select(LedgerEntry.record_key, LedgerEntry.leaf_data).where(LedgerEntry.kind == kind)
    for record_key, data in session.execute(query):
        key, _, stamp = record_key.rpartition("@")
        first = stamp if first is None or stamp < first else first
        if key not in latest or stamp > latest[key][0]:
            try:
                latest[key] = (stamp, json.loads(data)["record"])
            except (ValueError, KeyError, TypeError):
                continue  # an edited entry: the scan of the tree names it
    return latest, first


def _current(session: Session, register: Register) -> dict[str, tuple[Any, dict[str, Any]]]:
    rows = list(session.execute(select(register.table)))
    extra = register.extra(session, [r.id for r in rows]) if register.extra else {}
    return {
        register.key_of(r): (r, as_json(register.record(r, extra.get(getattr(r, "id", None)))))
        for r in rows
    }


def check_registers(session: Session) -> Iterator[Found]:
    """Every register row that differs from its latest leaf, by table, row and column."""
    for register in REGISTERS.values():
        latest, first = _latest(session, register.kind)
        table = register.table.name
        current = _current(session, register)
        for key, (row, now) in current.items():
            label = f"{table} {key}"
            if key not in latest:
                since = getattr(row, register.since) if register.since else None
                if first is not None and since is not None and _stamp(since) >= first:
                    yield (
                        "unsealed",
                        (label,),
                        f"{label} has no ledger entry: it was written outside the service",
                    )
                continue
            stamp, sealed = latest[key]
            if sealed == DELETED:
                yield (
                    "inserted",
                    (label,),
                    f"{label} exists, but its last ledger entry ({stamp}) says it was deleted",
                )
                continue
            for name in sorted(set(sealed) | set(now)):
                if sealed.get(name) != now.get(name):
                    yield (
                        "modified",
                        (label,),
                        f"{label} {name}: sealed {sealed.get(name)!r} ({stamp}), "
                        f"now {now.get(name)!r}",
                    )
        for key, (stamp, sealed) in latest.items():
            if sealed != DELETED and key not in current:
                yield (
                    "deleted",
                    (f"{table} {key}", f"ledger_entry {register.kind}:{key}@{stamp}"),
                    f"{table} {key}, sealed at {stamp}, no longer exists",
                )
