"""Cases at a terminal: ``present``, ``act``, ``replay``, ``handover``, ``purge``,
``legal-hold``, ``report``."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import click

from caratflow.cli.context import current_runtime, local_actor, print_shipment, unit, user_actor
from caratflow.errors import InvalidInput
from caratflow.jurisdiction.fields import from_dotted
from caratflow.models import PendingDecision

AS_USER = click.option(
    "--as",
    "as_user",
    envvar="CARATFLOW_OPERATOR",
    required=True,
    metavar="USER",
    help="The user deciding (their role, authorities and duties apply; the ledger names them). "
    "Default: CARATFLOW_OPERATOR.",
)
INPUTS = click.option(
    "--input",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A field the jurisdiction declares (advance_notice.dispatch_on=2026-11-16); repeat.",
)


def _pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``--input`` values as the nested fields they name, checked by the engine like HTTP."""
    split = []
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise click.BadParameter(f"{pair!r}: write NAME=VALUE", param_hint="--input")
        split.append((name.strip(), value))
    try:
        return from_dotted(split)
    except InvalidInput as error:
        raise click.BadParameter(str(error), param_hint="--input") from None


@click.command()
@click.argument("file", type=click.File("r"))
@AS_USER
@INPUTS
@click.option("--idempotency-key", help="Present this file once, however often it is sent.")
def present(file: Any, as_user: str, pairs: tuple[str, ...], idempotency_key: str | None) -> None:
    """Present a shipment from a JSON FILE ('-' for standard input), with --input for the
    fields its jurisdiction declares."""
    try:
        payload = json.load(file)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{file.name}: not valid JSON ({error})") from None
    if isinstance(payload, dict):
        payload = {**payload, **_pairs(pairs)}
    runtime = current_runtime()
    with unit() as session:
        actor = user_actor(session, as_user)
        presented = runtime.shipments.present(session, payload, actor, idempotency_key)
        print_shipment(runtime, presented.shipment)


@click.command()
@click.argument("shipment_id", type=int)
@click.argument("action")
@AS_USER
@INPUTS
@click.option("--reason", help="The written ground, where the law needs one.")
@click.option("--version", "expected_version", type=int, help="Fail if the shipment changed.")
def act(
    shipment_id: int,
    action: str,
    as_user: str,
    pairs: tuple[str, ...],
    reason: str | None,
    expected_version: int | None,
) -> None:
    """Take ACTION (verify, hold, release, ...) on a shipment as --as USER, with the
    --input fields the action declares; four eyes apply as over HTTP."""
    inputs = _pairs(pairs)
    runtime = current_runtime()
    with unit() as session:
        outcome = runtime.shipments.decide(
            session,
            shipment_id,
            action,
            user_actor(session, as_user),
            reason=reason,
            expected_version=expected_version,
            inputs=inputs,
        )
        if isinstance(outcome, PendingDecision):
            click.echo(f"requested: a second officer must confirm (request {outcome.id})", err=True)
            outcome = runtime.shipments.get(session, shipment_id, user_actor(session, as_user))
        print_shipment(runtime, outcome)


@click.command()
@click.argument("shipment_id", type=int)
@click.option(
    "--as-of",
    "as_of",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="The date whose law to apply (YYYY-MM-DD).",
)
def replay(shipment_id: int, as_of: Any) -> None:
    """Re-assess a recorded case under the law as it stood on another date."""
    day: date = as_of.date()
    runtime = current_runtime()
    with unit() as session:
        lines = runtime.shipments.replay(session, shipment_id, day, local_actor())
        differing = 0
        for line in lines:
            differences = line.differences
            differing += bool(differences)
            mark = "differs" if differences else "same"
            click.echo(f"{line.event.at:%Y-%m-%d %H:%M} {line.event.action:<12} {mark}")
            for difference in differences:
                click.echo(f"    {difference}")
        click.echo(f"{differing} of {len(lines)} decisions would differ under the law of {day}")


@click.command()
@click.argument("shipment_id", type=int)
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write the ZIP bundle.",
)
def handover(shipment_id: int, out: str) -> None:
    """Write every record of a shipment (data, decisions, signed documents) as one ZIP."""
    from caratflow.records.handover import handover_bundle

    runtime = current_runtime()
    with unit() as session:
        bundle = handover_bundle(
            session, runtime.shipments, runtime.documents, shipment_id, local_actor()
        )
    Path(out).write_bytes(bundle)
    click.echo(f"{out}: {len(bundle)} bytes", err=True)


@click.command()
@click.option(
    "--on",
    "on",
    type=click.DateTime(["%Y-%m-%d"]),
    help="List as of this past date (never a future one: a purge goes by the legal clock).",
)
@click.option("--shipment", "shipment_id", type=int, help="Purge this shipment's records.")
@click.option("--reason", help="Why it is purged (required with --shipment).")
@click.option("--dry-run", is_flag=True, help="Show what the purge would delete; delete nothing.")
def purge(on: Any, shipment_id: int | None, reason: str | None, dry_run: bool) -> None:
    """List which finished shipments the law lets go of and when, or purge one by the
    legal clock (never early, never under a legal hold)."""
    from caratflow.records.retention import legal_today, retentions
    from caratflow.records.retention import purge as purge_shipment

    runtime = current_runtime()
    with unit() as session:
        if shipment_id is None:
            for kept in retentions(session, runtime.plugins, local_actor()):
                today = legal_today(kept.shipment)
                if on is not None and on.date() > today:
                    raise click.BadParameter(
                        f"{on.date()} is after today ({today}): a purge goes by the law's "
                        "date, so list the dates each shipment goes on instead",
                        param_hint="--on",
                    )
                click.echo(_retention_line(kept, on.date() if on else today))
            return
        if on is not None:
            raise click.BadParameter(
                "a purge goes by the legal clock (today in the authority's zone); --on only lists",
                param_hint="--on",
            )
        if not reason:
            raise click.ClickException("--reason is required to purge")
        with session.begin_nested() as trial:
            record = purge_shipment(session, runtime.plugins, shipment_id, local_actor(), reason)
            if dry_run:
                click.echo(
                    f"would purge shipment {shipment_id} (certificate "
                    f"{record.certificate_number}, kept until {record.kept_until}) today"
                )
                trial.rollback()
                return
        click.echo(f"shipment {shipment_id} purged; tombstone {record.id}", err=True)


def _retention_line(kept: Any, day: Any) -> str:
    """One shipment of the purge list: whether it goes, from when, or what holds it."""
    head = f"{kept.shipment.id:>8} {kept.shipment.authority_code:4}"
    if kept.holds:
        held = ", ".join(f"{h.kind} {h.reference} (hold {h.id})" for h in kept.holds)
        return f"{head} held      by {held}"
    until = kept.keep_until.isoformat() if kept.keep_until else "not yet known"
    state = "purgeable" if kept.purgeable_on(day) else "kept"
    return f"{head} {state:9} until {until}"


@click.group("legal-hold")
def legal_hold() -> None:
    """Legal holds: an investigation, an appeal or a court order keeps a shipment's
    records past their retention period (each placed and lifted as a sealed record)."""


@legal_hold.command("place")
@click.argument("shipment_id", type=int)
@click.option(
    "--kind", required=True, type=click.Choice(["investigation", "appeal", "court_order"])
)
@click.option("--reference", required=True, help="The procedure's reference (file, case number).")
@click.option("--reason", required=True, help="Why the records are held.")
def legal_hold_place(shipment_id: int, kind: str, reference: str, reason: str) -> None:
    """Hold SHIPMENT_ID's records: no purge takes them until the hold is lifted."""
    from caratflow.records.retention import place_hold

    with unit() as session:
        hold = place_hold(session, shipment_id, kind, reference, reason, local_actor())
        click.echo(f"legal hold {hold.id} on shipment {shipment_id}: {kind} {reference}")


@legal_hold.command("lift")
@click.argument("hold_id", type=int)
@click.option("--reason", required=True, help="Why the hold ends (the procedure closed).")
def legal_hold_lift(hold_id: int, reason: str) -> None:
    """Lift legal hold HOLD_ID."""
    from caratflow.records.retention import lift_hold

    with unit() as session:
        lifted = lift_hold(session, hold_id, reason, local_actor())
        click.echo(f"legal hold {hold_id} lifted (record {lifted.id})")


@click.command()
@click.argument("name")
@click.option("--authority", required=True, help="The authority whose report it is.")
@click.option("--period", required=True, help="2026-11, 2026-Q3 or 2026, as the report needs.")
@click.option(
    "--format", "form", type=click.Choice(["json", "csv"]), default="json", show_default=True
)
@click.option("--submit", is_flag=True, help="Also send it to its recipient (meets its deadline).")
def report(name: str, authority: str, period: str, form: str, submit: bool) -> None:
    """Build report NAME (e.g. eu.report.import_monthly) for one period."""
    from caratflow.records.reports import run_report, submit_report

    runtime = current_runtime()
    with unit() as session:
        if submit:
            sent = submit_report(session, runtime.plugins, name, authority, period, local_actor())
            result = sent.result
            click.echo(
                f"{name} {period}: queued for {result.report.recipient}"
                if sent.queued
                else f"{name} {period}: submitted before; nothing more queued",
                err=True,
            )
        else:
            result = run_report(session, runtime.plugins, name, authority, period, local_actor())
    if form == "csv":
        click.echo(result.as_csv(), nl=False)
    else:
        click.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
