"""``caratflow doctor``: check a deployment and say what it still has to configure.

Each check is a function in ``CHECKS`` that takes the runtime and a session and yields
``Finding``s; add one with ``@check``. ``doctor`` prints them all and exits 1 while any
finding ``blocks``: above all, a legal notice with no addressee (issue 24).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.accounts import authorities
from caratflow.cli.context import current_runtime, unit
from caratflow.config import Settings
from caratflow.db import replication_state, schema_is_current
from caratflow.deadlines.directory import directory
from caratflow.deadlines.outbox import recipients, undeliverable
from caratflow.errors import CaratflowError
from caratflow.models import Authority
from caratflow.records.documents import numbering_at
from caratflow.runtime import Runtime, exposed_secrets


@dataclass(frozen=True)
class Finding:
    """What a check found: ``ok``, or what is ``missing`` and how to fix it."""

    status: str  # "ok", "missing", "warning"
    what: str
    fix: str = ""
    blocks: bool = False


Check = Callable[[Runtime, Session], Iterable[Finding]]
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    """Add a check to ``caratflow doctor``."""
    CHECKS.append(function)
    return function


@click.command()
def doctor() -> None:
    """Check this deployment: list what is missing; exit 1 while a legal notice has no
    addressee."""
    runtime = current_runtime()
    click.echo("configuration (CARATFLOW_*, read once; secrets hidden):")
    for name, value in runtime.settings.shown().items():
        click.echo(f"  {name:28} {value}")
    click.echo("")
    if not schema_is_current(runtime.engine):
        click.echo(f"MISSING the database at {runtime.settings.database_url} is not current")
        click.echo("        -> caratflow init")
        raise click.ClickException("set the database up first")
    blocking = 0
    with unit() as session:
        for run in CHECKS:
            for finding in run(runtime, session):
                blocking += finding.blocks
                mark = {"ok": "ok     ", "missing": "MISSING", "warning": "warning"}
                click.echo(f"{mark.get(finding.status, finding.status)} {finding.what}")
                if finding.fix:
                    click.echo(f"        -> {finding.fix}")
    if blocking:
        raise click.ClickException(f"{blocking} finding(s) block: a legal notice cannot go")


def _authorities(session: Session) -> list[Authority]:
    return list(session.scalars(select(Authority).order_by(Authority.code)))


@check
def authorities_declared(runtime: Runtime, session: Session) -> Iterator[Finding]:
    path = authorities.config_path(runtime.settings.instance_path)
    try:
        declared = authorities.declared(runtime.settings.instance_path, runtime.plugins)
    except CaratflowError as error:
        yield Finding("missing", f"{path} is not valid: {error}", "fix the file", blocks=True)
        return
    if declared is None:
        yield Finding(
            "missing",
            f"no {path}: the plugins' default authorities are used",
            "caratflow init (writes it), then caratflow authorities add/edit",
        )
        return
    codes = {a.code for a in _authorities(session)}
    if unapplied := sorted({p.code for p in declared} - codes):
        yield Finding("missing", f"declared, not set up: {', '.join(unapplied)}", "caratflow init")
    yield Finding("ok", f"authorities: {', '.join(sorted(p.code for p in declared))}")


@check
def number_series(runtime: Runtime, session: Session) -> Iterator[Finding]:
    today = datetime.now(UTC).date()
    for authority in _authorities(session):
        for kind, document_type in runtime.plugins.document_types(authority.plugins).items():
            try:
                numbering_at(authority, document_type, today)
            except LookupError:
                yield Finding(
                    "missing",
                    f"{authority.code}: no number series for {kind}",
                    f"caratflow authorities edit {authority.code} --series {kind}=PREFIX:DIGITS:"
                    "FIRST-LAST (the range allocated to it)",
                )


@check
def legal_addressees(runtime: Runtime, session: Session) -> Iterator[Finding]:
    """Every legal addressee needs a reachable channel; a participant's KP authority
    only when a notice is waiting for it (``undeliverable_notices``), so its many
    missing ones are counted, not each listed as blocking."""
    for authority in _authorities(session):
        unknown_kp: list[str] = []
        for entry in directory(session, runtime.plugins, authority):
            if not entry.legal or entry.reach == "reachable":
                continue
            if entry.audience.startswith("kp-authority:"):
                unknown_kp.append(entry.audience.partition(":")[2])
                continue
            dev = " (only log:, development only)" if entry.reach == "development only" else ""
            yield Finding(
                "missing",
                f"{authority.code}: no addressee for {entry.audience}{dev}: {entry.name} "
                f"({entry.basis})",
                f"caratflow directory add {authority.code} {entry.audience} peer:CODE|mailto:…"
                "|https://…",
                blocks=True,
            )
        if unknown_kp:
            yield Finding(
                "warning",
                f"{authority.code}: {len(unknown_kp)} participants' KP authorities have no "
                f"addressee ({', '.join(unknown_kp[:8])}{', …' if len(unknown_kp) > 8 else ''})",
                f"caratflow directory add {authority.code} kp-authority:CC ADDRESS, before "
                "a notice to them is due",
            )


@check
def undeliverable_notices(runtime: Runtime, session: Session) -> Iterator[Finding]:
    waiting = undeliverable(session)
    for message in waiting:
        yield Finding(
            "missing",
            f"{message.authority_code}: undeliverable since {message.created_at:%Y-%m-%d %H:%M}"
            f" UTC: {message.subject} (to {message.audience}; {message.data.get('basis', '')})",
            f"caratflow directory add {message.authority_code} {message.audience} ADDRESS",
            blocks=True,
        )
    if not waiting:
        yield Finding("ok", "no undeliverable notice")


@check
def configuration(runtime: Runtime, session: Session) -> Iterator[Finding]:
    """What a production deployment sets rather than leaves to its defaults."""
    settings, defaults = runtime.settings, Settings(Path(), "")
    if not settings.secret_key:
        yield Finding(
            "missing",
            "no CARATFLOW_SECRET_KEY: sessions end whenever the process restarts",
            "set CARATFLOW_SECRET_KEY to a long random value",
        )
    if settings.public_url == defaults.public_url:
        yield Finding(
            "missing",
            f"CARATFLOW_PUBLIC_URL is {settings.public_url}: documents' QR codes point there",
            "set CARATFLOW_PUBLIC_URL to the address the public reaches /verify at",
        )
    uses_mail = any(r.address.startswith("mailto:") for r in recipients(session))
    if uses_mail and settings.delivery.smtp_host == defaults.delivery.smtp_host:
        yield Finding(
            "warning",
            "e-mail addressees, and CARATFLOW_SMTP_HOST is localhost",
            "set CARATFLOW_SMTP_HOST (and _PORT, _FROM, _USER, _PASSWORD, _STARTTLS)",
        )
    if settings.database_url.startswith("sqlite"):
        yield Finding("warning", "the embedded SQLite database", "PostgreSQL in production")


@check
def signing_key(runtime: Runtime, session: Session) -> Iterator[Finding]:
    path = runtime.settings.signing_key_path
    if path is None or not path.exists():
        yield Finding("missing", f"no ledger signing key at {path}", "caratflow init")
    else:
        yield Finding("ok", f"ledger signing key {path}")


@check
def replication(runtime: Runtime, session: Session) -> Iterator[Finding]:
    """Issue 27: who follows the primary, and whether an acknowledged commit waits for it."""
    state = replication_state(runtime.engine)
    if state is None:
        yield Finding("ok", "replication: none (the embedded SQLite database)")
        return
    if state.role == "standby":
        yield Finding("warning", "this database is a standby: it takes no writes", "")
        return
    streaming = [s for s in state.standbys if s.state == "streaming"]
    synchronous = [s for s in streaming if s.sync_state in ("sync", "quorum")]
    for standby in state.standbys:
        lag = f"{standby.replay_lag_bytes} bytes behind"
        yield Finding("ok", f"standby {standby.name}: {standby.state}, {standby.sync_state}, {lag}")
    if not streaming:
        yield Finding(
            "warning",
            "primary with no standby: losing this server loses the database",
            "a synchronous standby (README, Past one machine)",
        )
    elif not synchronous or state.synchronous_commit in ("off", "local"):
        yield Finding(
            "warning",
            "no synchronous standby: a failover may lose decisions already acknowledged",
            "synchronous_standby_names and synchronous_commit = on",
        )


@check
def private_files(runtime: Runtime, session: Session) -> Iterator[Finding]:
    """Issue 25: a key or a database anyone on the machine can read is no secret."""
    exposed = exposed_secrets(runtime.settings)
    for path, mode in exposed:
        yield Finding("warning", f"{path} is {mode:o}: others may read it", f"chmod go-rwx {path}")
    if not exposed:
        yield Finding("ok", "instance folder, keys and database files are this user's alone")
