"""The ``caratflow`` command: set up, serve, present and decide from a terminal.

Scriptable forms that deployment tools rely on: ``init`` (safe to repeat),
``users add NAME --role R --authority CC`` (password from ``--password-stdin``),
``tokens create NAME`` (prints the token alone on stdout).
"""

from __future__ import annotations

import getpass
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from caratflow.accounts.provisioning import add_user, create_token, ensure_authorities, load_demo
from caratflow.case.access import Actor
from caratflow.case.representation import shipment_json
from caratflow.config import Settings
from caratflow.db import schema_is_current, unit_of_work, upgrade
from caratflow.errors import CaratflowError
from caratflow.exchange import lookups
from caratflow.exchange import peers as exchange_peers
from caratflow.ledger import signing_keys, verification
from caratflow.models import Role
from caratflow.pluginhost import UnknownPlugin, installed_plugins
from caratflow.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what happens.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """caratflow: border control of the diamond trade."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = _LazyRuntime()


class _LazyRuntime:
    """Built on first use, so ``--help`` and ``plugins list`` need no database."""

    def __init__(self) -> None:
        self._runtime: Runtime | None = None

    def get(self) -> Runtime:
        if self._runtime is None:
            try:
                self._runtime = Runtime.start(Settings.from_env())
            except UnknownPlugin as error:
                raise click.ClickException(str(error)) from None
        return self._runtime


def _runtime() -> Runtime:
    return click.get_current_context().find_object(_LazyRuntime).get()


@contextmanager
def _unit() -> Iterator[Session]:
    """One transaction; a user's error becomes a clear message and exit code 1."""
    try:
        with unit_of_work(_runtime().sessions) as session:
            yield session
    except CaratflowError as error:
        raise click.ClickException(str(error)) from None


def _local_actor() -> Actor:
    """Whoever runs the CLI on the server acts as a local administrator."""
    return Actor(f"cli:{getpass.getuser()}", Role.ADMIN, None, None)


@main.command()
def init() -> None:
    """Create or upgrade the database and the authorities of the enabled plugins."""
    runtime = _runtime()
    upgrade(runtime.engine)
    with _unit() as session:
        created = ensure_authorities(session, runtime.plugins)
    click.echo(f"database ready; authorities created: {', '.join(created) or 'none'}", err=True)
    _ensure_ledger_key(runtime)  # issue 5


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Load demo shipments into an empty database first.")
def serve(host: str, port: int, demo: bool) -> None:
    """Serve the UI and the API (waitress)."""
    from waitress import serve as waitress_serve

    from caratflow.web import create_app

    runtime = _runtime()
    if demo or not schema_is_current(runtime.engine):
        upgrade(runtime.engine)
    _ensure_ledger_key(runtime)  # issue 5: serve sets up what init would
    with _unit() as session:
        ensure_authorities(session, runtime.plugins)
        if demo:
            loaded = load_demo(session, runtime.plugins, runtime.shipments)
            click.echo(
                f"demo: {loaded} shipments loaded"
                if loaded
                else "demo: database not empty, nothing loaded",
                err=True,
            )
    app = create_app(runtime=runtime)
    click.echo(f"caratflow serving on http://{host}:{port}/", err=True)
    from caratflow.scheduler import start_scheduler  # issue 4: sweeps deadlines, sends outbox

    scheduler = start_scheduler(runtime)
    try:
        waitress_serve(app, host=host, port=port, threads=8)
    finally:
        scheduler.shutdown(wait=False)


@main.group()
def plugins() -> None:
    """The jurisdiction plugins."""


@plugins.command("list")
def plugins_list() -> None:
    """Installed plugins and whether this deployment enables them."""
    enabled = Settings.from_env().plugins
    for name, target in sorted(installed_plugins().items()):
        state = "enabled" if enabled is None or name in enabled else "disabled"
        click.echo(f"{name:12} {state:9} {target}")


@main.command()
@click.argument("file", type=click.File("r"))
@click.option("--idempotency-key", help="Present this file once, however often it is sent.")
def present(file: Any, idempotency_key: str | None) -> None:
    """Present a shipment from a JSON FILE ('-' for standard input)."""
    try:
        payload = json.load(file)
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{file.name}: not valid JSON ({error})") from None
    runtime = _runtime()
    with _unit() as session:
        presented = runtime.shipments.present(session, payload, _local_actor(), idempotency_key)
        _print_shipment(runtime, presented.shipment)


@main.command()
@click.argument("shipment_id", type=int)
@click.argument("action")
@click.option("--reason", help="The written ground, where the law needs one.")
@click.option("--version", "expected_version", type=int, help="Fail if the shipment changed.")
def act(shipment_id: int, action: str, reason: str | None, expected_version: int | None) -> None:
    """Take ACTION (verify, hold, release, ...) on a shipment."""
    runtime = _runtime()
    with _unit() as session:
        shipment = runtime.shipments.act(
            session,
            shipment_id,
            action,
            _local_actor(),
            reason=reason,
            expected_version=expected_version,
        )
        _print_shipment(runtime, shipment)


@main.command()
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
    runtime = _runtime()
    with _unit() as session:
        lines = runtime.shipments.replay(session, shipment_id, day, _local_actor())
        differing = 0
        for line in lines:
            differences = line.differences
            differing += bool(differences)
            mark = "differs" if differences else "same"
            click.echo(f"{line.event.at:%Y-%m-%d %H:%M} {line.event.action:<12} {mark}")
            for difference in differences:
                click.echo(f"    {difference}")
        click.echo(f"{differing} of {len(lines)} decisions would differ under the law of {day}")


@main.group()
def users() -> None:
    """People and integrations that act for authorities."""


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--authority", "authorities", multiple=True, help="Repeat for several.")
@click.option(
    "--duty",
    "duties",
    multiple=True,
    help="A duty an authority's plugin declares (e.g. customs); repeat for several.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_add(
    name: str,
    role: str,
    authorities: tuple[str, ...],
    duties: tuple[str, ...],
    password_stdin: bool,
) -> None:
    """Add a user (no password: an API-only user)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and not password:
        raise click.ClickException("an empty password was given on standard input")
    with _unit() as session:
        user = add_user(
            session, name, Role(role), authorities, password, duties=duties, host=_runtime().plugins
        )
        held = f", {', '.join(user.duties)}" if user.duties else ""
        click.echo(f"user {user.name} ({user.role.value}{held}) added", err=True)


@main.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.argument("name")
def tokens_create(name: str) -> None:
    """Create an API token for user NAME and print it (shown once)."""
    with _unit() as session:
        token = create_token(session, name)
    click.echo(token)


def _print_shipment(runtime: Runtime, shipment: Any) -> None:
    body = shipment_json(shipment, runtime.shipments.available_actions(shipment))
    click.echo(json.dumps(body, indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------------------
# Deadlines, reminders and the worker (issue 4)
# --------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--interval",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="Seconds between two sweeps.",
)
@click.option("--once", is_flag=True, help="Sweep and deliver once, then exit (for cron).")
def worker(interval: float, once: bool) -> None:
    """Sweep due deadlines and deliver the outbox; any number of workers may run at once."""
    from datetime import timedelta

    from caratflow.scheduler import Worker, run_periodic_tasks, run_worker

    runtime = _runtime()
    if once:
        for name, result in run_periodic_tasks(Worker(runtime)).items():
            click.echo(f"{name}: {result if result is not None else 'failed, see the log'}")
        return
    click.echo(f"caratflow worker: one sweep every {interval:g} s; Ctrl-C stops", err=True)
    run_worker(runtime, timedelta(seconds=interval))


@main.group(invoke_without_command=True)
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
    with _unit() as session:
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


@deadlines.command("close-day")
@click.argument("authority")
@click.argument("day", type=click.DateTime(["%Y-%m-%d"]))
@click.option("--reason", required=True, help="Why the office is closed (shown to officers).")
def deadlines_close_day(authority: str, day: Any, reason: str) -> None:
    """Close AUTHORITY's office on DAY: no working day; open deadlines move on."""
    from caratflow.deadlines.keeping import add_closure_day

    with _unit() as session:
        moved = add_closure_day(session, authority, day.date(), reason, _local_actor().name)
    click.echo(f"{authority} closed on {day:%Y-%m-%d}; {len(moved)} open deadline(s) moved")


@deadlines.command("open-day")
@click.argument("authority")
@click.argument("day", type=click.DateTime(["%Y-%m-%d"]))
def deadlines_open_day(authority: str, day: Any) -> None:
    """Remove a closure day of AUTHORITY; open deadlines move back."""
    from caratflow.deadlines.keeping import remove_closure_day

    with _unit() as session:
        moved = remove_closure_day(session, authority, day.date())
    click.echo(f"{authority} open on {day:%Y-%m-%d}; {len(moved)} open deadline(s) moved")


@deadlines.command("closure-days")
@click.argument("authority")
def deadlines_closure_days(authority: str) -> None:
    """AUTHORITY's closure days, with who added them and why."""
    from caratflow.deadlines.keeping import closure_days

    with _unit() as session:
        for closure in closure_days(session, authority):
            click.echo(f"{closure.day:%a %Y-%m-%d}  {closure.reason}  ({closure.added_by})")


@deadlines.command("add-recipient")
@click.argument("authority")
@click.argument("audience")
@click.argument("address")
def deadlines_add_recipient(authority: str, audience: str, address: str) -> None:
    """Send AUTHORITY's messages for AUDIENCE (officers, supervisors, commission, ...) to
    ADDRESS (mailto:..., https://..., log:...)."""
    from caratflow.deadlines.outbox import add_recipient

    with _unit() as session:
        add_recipient(session, authority, audience, address)
    click.echo(f"{authority} {audience} -> {address}")


@deadlines.command("recipients")
@click.argument("authority", required=False)
def deadlines_recipients(authority: str | None) -> None:
    """Where each audience's messages go (an audience without one goes to the log)."""
    from caratflow.deadlines.outbox import recipients

    with _unit() as session:
        for recipient in recipients(session, authority):
            click.echo(
                f"{recipient.authority_code:<4} {recipient.audience:<20} {recipient.address}"
            )


# --------------------------------------------------------------------------------------
# The ledger (issue 5)
# --------------------------------------------------------------------------------------


def _ensure_ledger_key(runtime: Runtime) -> None:
    """``init``: create the ledger's signing key if there is none; never replace one."""
    from caratflow.ledger.signing_keys import ensure_signing_key

    path = runtime.settings.signing_key_path
    if path is None:
        raise click.ClickException("no ledger signing key path (CARATFLOW_SIGNING_KEY)")
    made = ensure_signing_key(path)
    click.echo(f"ledger signing key {'created' if made else 'kept'}: {path}", err=True)


@main.group()
def ledger() -> None:
    """The tamper-evident ledger of decisions, documents and identities."""


@ledger.command("sequence")
def ledger_sequence() -> None:
    """Place pending entries in the tree and sign a tree head (the scheduler does it too)."""
    from caratflow.ledger.sequencer import sequence_once

    runtime = _runtime()
    try:
        size = sequence_once(runtime.sessions, runtime.settings)
    except CaratflowError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"tree size {size}" if size is not None else "nothing pending")


@ledger.command("head")
def ledger_head() -> None:
    """Print the latest signed tree head and the public key that verifies it."""
    from caratflow.ledger.sequencer import latest_head
    from caratflow.ledger.signing import public_key_pem
    from caratflow.ledger.signing_keys import signing_key

    runtime = _runtime()
    with _unit() as session:
        head = latest_head(session)
    body = {
        "tree_head": head.to_dict() if head else None,
        "public_key": public_key_pem(signing_key(runtime.settings)),
    }
    click.echo(json.dumps(body, indent=2))


@ledger.command("verify")
@click.option(
    "--public-key",
    type=click.File("r"),
    help="The PEM public key to check the heads with (default: this node's own key).",
)
def ledger_verify(public_key: Any) -> None:
    """Rebuild the tree from the records and name every record edited, deleted, inserted
    or reordered; exit code 1 on any discrepancy."""
    pass
    from caratflow.ledger.signing import load_public_key

    runtime = _runtime()
    try:
        key = (
            load_public_key(public_key.read())
            if public_key
            else signing_keys.public_key(runtime.settings)
        )
    except (CaratflowError, ValueError, TypeError) as error:
        raise click.ClickException(f"no public key to verify with: {error}") from None
    with verification.snapshot(runtime.sessions) as session:
        total = verification.count_entries(session)
        with click.progressbar(length=total, label="verifying the ledger", file=sys.stderr) as bar:
            report = verification.verify_ledger(session, key, progress=bar.update)
    for discrepancy in report.discrepancies:
        click.echo(str(discrepancy))
    for consequence in report.consequences:
        click.echo(f"  consequence: {consequence}")
    summary = (
        f"{report.entries} entries under {report.heads} signed tree heads (size "
        f"{report.tree_size}), {report.pending} pending: "
    )
    if report.ok:
        click.echo(summary + "every record matches its leaf; the tree and heads verify")
        return
    click.echo(summary + f"{len(report.discrepancies)} discrepancies", err=True)
    sys.exit(1)


# -- hand-over --------------------------------------------------------------------------------


@main.command()
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

    runtime = _runtime()
    with _unit() as session:
        bundle = handover_bundle(session, runtime.shipments, shipment_id, _local_actor())
    Path(out).write_bytes(bundle)
    click.echo(f"{out}: {len(bundle)} bytes", err=True)


@main.command()
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), help="Judge as of this date.")
@click.option("--shipment", "shipment_id", type=int, help="Purge this shipment's records.")
@click.option("--reason", help="Why it is purged (required with --shipment).")
def purge(on: Any, shipment_id: int | None, reason: str | None) -> None:
    """List which finished shipments the law lets go of, or purge one (never early)."""
    from caratflow.records.retention import purge as purge_shipment
    from caratflow.records.retention import retentions

    today = on.date() if on else date.today()
    runtime = _runtime()
    with _unit() as session:
        if shipment_id is None:
            for kept in retentions(session, runtime.plugins, _local_actor()):
                until = kept.keep_until.isoformat() if kept.keep_until else "not yet known"
                state = "purgeable" if kept.purgeable_on(today) else "kept"
                click.echo(
                    f"{kept.shipment.id:>8} {kept.shipment.authority_code:4} "
                    f"{state:9} until {until}"
                )
            return
        if not reason:
            raise click.ClickException("--reason is required to purge")
        record = purge_shipment(
            session, runtime.plugins, shipment_id, today, _local_actor(), reason
        )
        click.echo(f"shipment {shipment_id} purged; tombstone {record.id}", err=True)


# -- reports ------------------------------------------------------------------------------


@main.command()
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

    runtime = _runtime()
    with _unit() as session:
        if submit:
            sent = submit_report(session, runtime.plugins, name, authority, period, _local_actor())
            result = sent.result
            click.echo(
                f"{name} {period}: queued for {result.report.recipient}"
                if sent.queued
                else f"{name} {period}: submitted before; nothing more queued",
                err=True,
            )
        else:
            result = run_report(session, runtime.plugins, name, authority, period, _local_actor())
    if form == "csv":
        click.echo(result.as_csv(), nl=False)
    else:
        click.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------------------
# Exchange between authorities (issue 10)
# --------------------------------------------------------------------------------------


@main.group()
def peers() -> None:
    """Other authorities' caratflow nodes this one exchanges signed messages with."""


@peers.command("add")
@click.option("--authority", required=True, help="Your authority, which talks to the peer.")
@click.option("--code", required=True, help="The peer authority's code, e.g. NL.")
@click.option("--url", required=True, help="The peer node's base URL, e.g. https://kp.example.nl")
@click.option(
    "--public-key",
    "public_key",
    required=True,
    type=click.File("r"),
    help="The peer's public key, PEM (what 'caratflow peers key' prints there).",
)
@click.option(
    "--accepts",
    default="",
    help="Message and look-up types taken from it, comma-separated, e.g. "
    "eu.import_confirmation (none: a system that only receives, such as a customs endpoint).",
)
@click.option("--name", help="What to call it (default: its code).")
@click.option("--replace", is_flag=True, help="Change a peer registered before (a new key).")
def peers_add(
    authority: str,
    code: str,
    url: str,
    public_key: Any,
    accepts: str,
    name: str | None,
    replace: bool,
) -> None:
    """Register a peer; then map an audience to it: deadlines add-recipient BE
    kp-authority:NL peer:NL, or ask it: peers lookup NL <identity>."""
    with _unit() as session:
        peer = exchange_peers.add_peer(
            session,
            authority,
            code,
            base_url=url,
            public_key=public_key.read(),
            accepts=accepts.split(","),
            name=name,
            actor=_local_actor().name,
            replace=replace,
        )
        key = exchange_peers.peer_key_id(peer)
        click.echo(
            f"{peer.authority_code} <- {peer.code} {peer.base_url} key {key}"
            f" accepts {', '.join(peer.accepts) or 'nothing'}"
        )


@peers.command("list")
@click.option("--authority", help="Only this authority's peers.")
def peers_list(authority: str | None) -> None:
    """Every peer: code, base URL, key id and the message types taken from it."""
    with _unit() as session:
        for peer in exchange_peers.peers(session, authority):
            key = exchange_peers.peer_key_id(peer)
            click.echo(
                f"{peer.authority_code:<4} {peer.code:<6} {peer.base_url}  key "
                f"{key}  accepts {', '.join(peer.accepts) or 'nothing'}"
            )


@peers.command("key")
def peers_key() -> None:
    """Print this node's public key (PEM) for peers to register; its key id on stderr."""
    from caratflow.ledger.signing_keys import signing_key

    try:
        pem, kid = exchange_peers.own_public_key(signing_key(_runtime().settings))
    except CaratflowError as error:
        raise click.ClickException(str(error)) from None
    click.echo(pem, nl=False)
    click.echo(f"key id {kid}", err=True)


@peers.command("lookup")
@click.argument("peer")
@click.argument("value")
@click.option("--authority", help="Your authority that asks (default: the one with that peer).")
@click.option("--type", "kind", help="The look-up (default: the only one your plugins declare).")
def peers_lookup(peer: str, value: str, authority: str | None, kind: str | None) -> None:
    """Ask PEER's node about VALUE (e.g. a digital identity it registered) and print its
    answer as JSON once verified with PEER's key alone; exit 1 with the reason if not."""
    pass
    from caratflow.ledger.signing_keys import signing_key

    runtime = _runtime()
    with _unit() as session:
        if authority is None:
            having = sorted(
                {p.authority_code for p in exchange_peers.peers(session) if p.code == peer}
            )
            if len(having) != 1:
                raise click.ClickException(
                    f"name the asking authority (--authority): {', '.join(having)} have a "
                    f"peer {peer}"
                    if having
                    else f"no authority here has a peer {peer}: register it (peers add)"
                )
            [authority] = having
        prepared = lookups.prepare(
            session,
            runtime.plugins,
            authority,
            peer,
            value,
            signing_key(runtime.settings),
            type_=kind,
        )
    try:
        verified = lookups.ask(prepared)
    except lookups.LookupFailed as failed:
        if failed.reason == "unverified":
            with _unit() as session:
                lookups.record_unverified(session, failed, prepared, user_name=_local_actor().name)
        raise click.ClickException(f"{failed.reason}: {failed}") from None
    click.echo(json.dumps(verified.as_json(), indent=2, ensure_ascii=False))


if __name__ == "__main__":  # pragma: no cover
    main()
