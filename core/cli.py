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
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from caratflow.config import Settings
from caratflow.db import schema_is_current, unit_of_work, upgrade
from caratflow.errors import CaratflowError
from caratflow.models import Role
from caratflow.pluginhost import UnknownPlugin, installed_plugins
from caratflow.provisioning import add_user, create_token, ensure_authorities, load_demo
from caratflow.representation import shipment_json
from caratflow.runtime import Runtime
from caratflow.service import Actor

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
    return Actor(f"cli:{getpass.getuser()}", Role.ADMIN, None)


@main.command()
def init() -> None:
    """Create or upgrade the database and the authorities of the enabled plugins."""
    runtime = _runtime()
    upgrade(runtime.engine)
    with _unit() as session:
        created = ensure_authorities(session, runtime.plugins)
    click.echo(f"database ready; authorities created: {', '.join(created) or 'none'}", err=True)


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
    waitress_serve(app, host=host, port=port, threads=8)


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
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_add(name: str, role: str, authorities: tuple[str, ...], password_stdin: bool) -> None:
    """Add a user (no password: an API-only user)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    if password_stdin and not password:
        raise click.ClickException("an empty password was given on standard input")
    with _unit() as session:
        user = add_user(session, name, Role(role), authorities, password)
        click.echo(f"user {user.name} ({user.role.value}) added", err=True)


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


if __name__ == "__main__":  # pragma: no cover
    main()
