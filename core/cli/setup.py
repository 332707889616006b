"""Setting a deployment up and running it: ``init``, ``serve``, ``worker``, ``plugins``,
``users``, ``tokens``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import timedelta

import click

from caratflow.accounts import audit, authorities, credentials, people
from caratflow.accounts.demo import DemoUser, ensure_demo_users, new_password
from caratflow.accounts.provisioning import add_user, create_token, ensure_authorities, load_demo
from caratflow.cli.context import current_runtime, ensure_ledger_key, local_actor, unit
from caratflow.config import Settings
from caratflow.db import schema_is_current, upgrade
from caratflow.models import Role, utcnow
from caratflow.pluginhost import installed_plugins
from caratflow.runtime import Runtime, freeze_start_up


@click.command()
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    metavar="CODE",
    help="Start authorities.toml from this profile a plugin ships (repeat; default: the "
    "plugins' default ones). See `caratflow authorities list --offered`.",
)
def init(profiles: tuple[str, ...]) -> None:
    """Create or upgrade the database, and set up the authorities of authorities.toml."""
    runtime = current_runtime()
    upgrade(runtime.engine)
    ensure_ledger_key(runtime)  # issue 5; first, as the authorities' rows are sealed (issue 25)
    created = prepare_authorities(runtime, profiles)
    click.echo(f"database ready; authorities created: {', '.join(created) or 'none'}", err=True)


def prepare_authorities(runtime: Runtime, profiles: Sequence[str] = ()) -> list[str]:
    """Apply ``<instance>/authorities.toml``; without one, write it first from the profiles
    named (or the plugins' defaults) and say which others the plugins offer (issue 24)."""
    path = authorities.config_path(runtime.settings.instance_path)
    offered = {p.code: p for p in authorities.offered(runtime.plugins)}
    if path.exists():
        if profiles:
            raise click.ClickException(
                f"{path} exists: add a profile with `caratflow authorities add CODE --profile`"
            )
    else:
        if unknown := sorted(set(profiles) - set(offered)):
            raise click.ClickException(
                f"no profile {', '.join(unknown)}; the plugins ship: {', '.join(offered)}"
            )
        defaults = authorities.defaults(runtime.plugins)
        chosen = [offered[c] for c in profiles] if profiles else defaults
        authorities.write(path, chosen)
        others = ", ".join(sorted(set(offered) - {p.code for p in chosen})) or "none"
        click.echo(
            f"{path} written with {', '.join(p.code for p in chosen) or 'no authority'}; "
            f"also offered: {others} (`caratflow authorities list --offered`)",
            err=True,
        )
    with unit() as session:
        return ensure_authorities(session, runtime.plugins, runtime.settings.instance_path)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Load demo shipments into an empty database first.")
def serve(host: str, port: int, demo: bool) -> None:
    """Serve the UI and the API (waitress)."""
    from waitress import serve as waitress_serve

    from caratflow.web import create_app

    runtime = current_runtime()
    if demo or not schema_is_current(runtime.engine):
        upgrade(runtime.engine)
    ensure_ledger_key(runtime)  # issue 5: serve sets up what init would
    prepare_authorities(runtime)  # issue 24: those of authorities.toml
    with unit() as session:
        if demo:
            loaded = load_demo(session, runtime.plugins, runtime.shipments)
            click.echo(
                f"demo: {loaded} shipments loaded"
                if loaded
                else "demo: database not empty, nothing loaded",
                err=True,
            )
            password = new_password()
            people = ensure_demo_users(session, runtime.plugins, password)
    if demo:  # issue 26: a way in, once the users are committed
        _show_demo_people(people, password, host, port)
    app = create_app(runtime=runtime)
    from caratflow.scheduler import start_scheduler  # issue 4: sweeps deadlines, sends outbox

    scheduler = start_scheduler(runtime)
    frozen = freeze_start_up()
    click.echo(f"caratflow serving on http://{host}:{port}/", err=True)
    click.echo(f"{frozen} start-up objects kept out of the garbage collector", err=True)
    try:
        waitress_serve(app, host=host, port=port, **runtime.settings.serve.waitress_options())
    finally:
        scheduler.shutdown(wait=False)


def _show_demo_people(people: list[DemoUser], password: str, host: str, port: int) -> None:
    """On the console (stderr, beside the other start-up lines), never in a log file."""
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::") else host
    lines = [
        f"demo: sign in at http://{shown}:{port}/login as any of these, password {password}",
        *(f"  {person.describe()}" for person in people),
        "  (the administrator sets up an authenticator app at the first sign-in;"
        " every run gives a new password)",
    ]
    click.echo("\n".join(lines), err=True)


@click.group()
def plugins() -> None:
    """The jurisdiction plugins."""


@plugins.command("list")
def plugins_list() -> None:
    """Installed plugins and whether this deployment enables them."""
    enabled = Settings.from_env().plugins
    for name, target in sorted(installed_plugins().items()):
        state = "enabled" if enabled is None or name in enabled else "disabled"
        click.echo(f"{name:12} {state:9} {target}")


@click.group()
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
    password = _password_from_stdin() if password_stdin else None
    with unit() as session:
        user = add_user(
            session,
            name,
            Role(role),
            authorities,
            password,
            duties=duties,
            host=current_runtime().plugins,
        )
        held = f", {', '.join(user.duties)}" if user.duties else ""
        audit.record_change(session, local_actor().name, f"added user {name}", user=user)
        click.echo(f"user {user.name} ({user.role.value}{held}) added", err=True)


@users.command("list")
def users_list() -> None:
    """Every user: name, role, authorities, duties, whether they may sign in."""
    with unit() as session:
        for user in people.visible_users(session, local_actor()):
            codes = ",".join(sorted(a.code for a in user.authorities)) or "-"
            state = "active" if user.active else "disabled"
            click.echo(
                f"{user.name:24} {user.role.value:10} {codes:10} {state:8} "
                f"{','.join(user.duties) or '-'}"
            )


@users.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Stop user NAME signing in; ends their sessions and revokes their API tokens."""
    actor = local_actor()
    with unit() as session:
        user = people.managed_user_named(session, actor, name)
        people.disable_user(session, actor, user.id)
        audit.record_change(session, actor.name, f"disabled user {name}", user=user)
    click.echo(f"user {name} disabled; sessions ended, API tokens revoked", err=True)


@users.command("reset-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True, help="Read it from standard input.")
def users_reset_password(name: str, password_stdin: bool) -> None:
    """Give user NAME a new password; ends their sessions and revokes their API tokens."""
    actor = local_actor()
    password = _password_from_stdin()
    with unit() as session:
        user = people.managed_user_named(session, actor, name)
        people.reset_password(session, actor, user.id, password)
        audit.record_change(session, actor.name, f"reset the password of {name}", user=user)
    click.echo(f"password of {name} reset; sessions ended, API tokens revoked", err=True)


def _password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise click.ClickException("an empty password was given on standard input")
    return password


@click.group()
def tokens() -> None:
    """API tokens."""


@tokens.command("create")
@click.argument("name")
def tokens_create(name: str) -> None:
    """Create an API token for user NAME and print it (shown once); it works for
    CARATFLOW_TOKEN_DAYS days."""
    lifetime = timedelta(days=current_runtime().settings.token_days)
    with unit() as session:
        token = create_token(session, name, lifetime)
    click.echo(token)


@tokens.command("list")
def tokens_list() -> None:
    """Every token: its id, user, when it was made, until when it works, its state."""
    with unit() as session:
        now = utcnow()
        for token in credentials.tokens(session):
            if token.revoked_at is not None:
                state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}"
            else:
                state = "expired" if token.expires_at <= now else "live"
            click.echo(
                f"{token.id:6} {token.user.name:24} {token.created_at:%Y-%m-%d %H:%M} "
                f"{token.expires_at:%Y-%m-%d %H:%M} {state}"
            )


@tokens.command("revoke")
@click.argument("token_id", type=click.IntRange(min=1))
def tokens_revoke(token_id: int) -> None:
    """Revoke the token TOKEN_ID (from ``tokens list``) at once."""
    actor = local_actor()
    with unit() as session:
        token = credentials.revoke_token(session, token_id)
        what = f"revoked API token {token.id} of {token.user.name}"
        audit.record_change(session, actor.name, what, user=token.user)
    click.echo(f"token {token_id} revoked", err=True)


@click.command()
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

    runtime = current_runtime()
    if once:
        for name, result in run_periodic_tasks(Worker(runtime)).items():
            click.echo(f"{name}: {result if result is not None else 'failed, see the log'}")
        return
    click.echo(f"caratflow worker: one sweep every {interval:g} s; Ctrl-C stops", err=True)
    run_worker(runtime, timedelta(seconds=interval))
