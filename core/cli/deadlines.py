"""``caratflow deadlines``: the board, closure days, and the recipients of reminders and notices."""

from __future__ import annotations

from typing import Any

import click

from caratflow.cli.context import local_actor, unit


@click.group(invoke_without_command=True)
@click.option("--authority", "authorities", multiple=True, help="Only these (repeat).")
@click.option(
    "--within",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="'Due soon' means due within this many working days.",
)
@click.option("--all", "show_all", is_flag=True, help="List the deadlines due later too.")
@click.pass_context
def deadlines(
    ctx: click.Context, authorities: tuple[str, ...], within: int, show_all: bool
) -> None:
    """The deadlines overdue and due soon; sub-commands keep calendars and recipients."""
    if ctx.invoked_subcommand is not None:
        return
    from caratflow.deadlines.board import board
    from caratflow.deadlines.outbox import outbox_counts

    shown = ("overdue", "due soon", "suspended", "later") if show_all else ("overdue", "due soon")
    with unit() as session:
        views = board(session, authorities or None, within=within)
        for bucket in shown:
            rows = [v for v in views if v.bucket == bucket]
            click.echo(f"{bucket.upper()} ({len(rows)})")
            for view in rows:
                d = view.deadline
                click.echo(
                    f"  {d.due_on:%a %Y-%m-%d}  {view.working_days_left:>4} wd  "
                    f"{d.status.value:<9} {d.authority_code:<4} "
                    f"{'shipment ' + str(d.shipment_id) if d.shipment_id else '-':<16} "
                    f"{d.rule:<22} {d.basis}"
                )
        counts = outbox_counts(session, authorities or None)
        click.echo(
            f"outbox: {counts['pending']} pending, {counts['failed']} failed, {counts['sent']} sent"
        )
        if counts["undeliverable"]:  # issue 24: legal notices nobody can be reached for
            click.echo(
                f"UNDELIVERABLE: {counts['undeliverable']} legal notice(s) have no addressee "
                "and are not sent (caratflow doctor; caratflow directory add)"
            )


@deadlines.command("close-day")
@click.argument("authority")
@click.argument("day", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--reason", required=True, help="Why the office is closed (shown to officers).")
def deadlines_close_day(authority: str, day: Any, reason: str) -> None:
    """Close AUTHORITY's office on DAY: no working day; open deadlines move on."""
    from caratflow.deadlines.keeping import add_closure_day

    with unit() as session:
        moved = add_closure_day(session, authority, day.date(), reason, local_actor().name)
    click.echo(f"{authority} closed on {day:%Y-%m-%d}; {len(moved)} open deadline(s) moved")


@deadlines.command("open-day")
@click.argument("authority")
@click.argument("day", type=click.DateTime(["%Y-%m-%d"]))
def deadlines_open_day(authority: str, day: Any) -> None:
    """Remove a closure day of AUTHORITY; open deadlines move back."""
    from caratflow.deadlines.keeping import remove_closure_day

    with unit() as session:
        moved = remove_closure_day(session, authority, day.date())
    click.echo(f"{authority} open on {day:%Y-%m-%d}; {len(moved)} open deadline(s) moved")


@deadlines.command("closure-days")
@click.argument("authority")
def deadlines_closure_days(authority: str) -> None:
    """AUTHORITY's closure days, with who added them and why."""
    from caratflow.deadlines.keeping import closure_days

    with unit() as session:
        for closure in closure_days(session, authority):
            click.echo(f"{closure.day:%a %Y-%m-%d}  {closure.reason}  ({closure.added_by})")


@deadlines.command("add-recipient")
@click.argument("authority")
@click.argument("audience")
@click.argument("address")
def deadlines_add_recipient(authority: str, audience: str, address: str) -> None:
    """Send AUTHORITY's messages for AUDIENCE (officers, supervisors, commission, ...) to
    ADDRESS (mailto:..., https://..., peer:...; log:... is for development only). The
    same as ``caratflow directory add``."""
    from caratflow.deadlines.outbox import add_recipient

    with unit() as session:
        add_recipient(session, authority, audience, address)
    click.echo(f"{authority} {audience} -> {address}")


@deadlines.command("recipients")
@click.argument("authority", required=False)
def deadlines_recipients(authority: str | None) -> None:
    """Where each audience's messages go (a reminder without one goes to the log; a legal
    notice is kept undeliverable: ``caratflow directory list``)."""
    from caratflow.deadlines.outbox import recipients

    with unit() as session:
        for recipient in recipients(session, authority):
            click.echo(
                f"{recipient.authority_code:<4} {recipient.audience:<20} {recipient.address}"
            )
