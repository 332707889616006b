"""What the commands share: the runtime (built on first use), a unit of work that turns a
user's error into a clear message, the acting user. ``CliContext`` is also the command
line's face for plugins (``caratflow.faces.CliFace``)."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.accounts.provisioning import actor_for
from caratflow.case.access import Actor
from caratflow.case.representation import shipment_json
from caratflow.config import Settings
from caratflow.db import unit_of_work
from caratflow.errors import CaratflowError
from caratflow.models import Role, User
from caratflow.pluginhost import UnknownPlugin
from caratflow.runtime import Runtime


class CliContext:
    """The runtime built on first use, so ``--help`` and ``plugins list`` need no database."""

    def __init__(self, runtime: Runtime | None = None) -> None:
        self._runtime = runtime

    def get(self) -> Runtime:
        if self._runtime is None:
            try:
                self._runtime = Runtime.start(Settings.from_env())
            except (UnknownPlugin, ValueError) as error:  # ValueError: a bad CARATFLOW_ value
                raise click.ClickException(str(error)) from None
        return self._runtime

    # -- the face plugins' commands use ----------------------------------------------------

    def unit(self) -> AbstractContextManager[Session]:
        return unit()

    def actor(self) -> Actor:
        return local_actor()


def current_runtime() -> Runtime:
    return click.get_current_context().find_object(CliContext).get()


@contextmanager
def unit() -> Iterator[Session]:
    """One transaction; a user's error becomes a clear message and exit code 1."""
    try:
        with unit_of_work(current_runtime().sessions) as session:
            yield session
    except CaratflowError as error:
        raise click.ClickException(str(error)) from None


def user_actor(session: Session, name: str) -> Actor:
    """The named user as they act over HTTP: their role, authorities and duties (issue 23:
    the CLI no longer decides as a local administrator bypassing the duties)."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None or not user.active:
        raise click.ClickException(
            f"no active user named {name!r}: decide as one (--as NAME, or CARATFLOW_OPERATOR)"
        )
    return actor_for(user)


def local_actor() -> Actor:
    """Whoever runs the CLI on the server acts as a local administrator."""
    return Actor(f"cli:{getpass.getuser()}", Role.ADMIN, None, None)


def print_shipment(runtime: Runtime, shipment: Any) -> None:
    body = shipment_json(shipment, runtime.shipments.available_actions(shipment))
    click.echo(json.dumps(body, indent=2, ensure_ascii=False))


def ensure_ledger_key(runtime: Runtime) -> None:
    """``init``: create the ledger's signing key and leaf keys if there are none; never
    replace them."""
    from caratflow.ledger.leaf_keys import ensure_leaf_keys
    from caratflow.ledger.signing_keys import ensure_signing_key

    path = runtime.settings.signing_key_path
    if path is None:
        raise click.ClickException("no ledger signing key path (CARATFLOW_SIGNING_KEY)")
    made = ensure_signing_key(path)
    click.echo(f"ledger signing key {'created' if made else 'kept'}: {path}", err=True)
    leaf_keys = runtime.settings.leaf_keys_path
    if leaf_keys is None:
        raise click.ClickException("no leaf key path (CARATFLOW_LEAF_KEYS)")
    made = ensure_leaf_keys(leaf_keys)  # issue 25
    click.echo(f"ledger leaf keys {'created' if made else 'kept'}: {leaf_keys}", err=True)
