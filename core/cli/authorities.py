"""``caratflow authorities``: the authorities this deployment runs, declared in
``<instance>/authorities.toml`` (issue 24). ``add`` and ``edit`` rewrite the file and
apply it at once; ``init`` applies it too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from caratflow.accounts import audit
from caratflow.accounts import authorities as declared_authorities
from caratflow.cli.context import current_runtime, local_actor, unit
from caratflow.errors import CaratflowError, FieldError, InvalidInput
from caratflow.jurisdiction.contributions import AuthorityProfile, authority_jurisdiction
from caratflow.models import Authority
from caratflow.runtime import Runtime


@click.group()
def authorities() -> None:
    """The authorities of this deployment (authorities.toml)."""


@authorities.command("list")
@click.option("--offered", is_flag=True, help="The profiles the plugins ship, with sources.")
def authorities_list(offered: bool) -> None:
    """The authorities this deployment runs (or, --offered, the profiles it may start from)."""
    runtime = current_runtime()
    if offered:
        for profile in declared_authorities.offered(runtime.plugins):
            mark = " (default)" if profile.default else ""
            click.echo(f"{profile.code:6} {profile.name}{mark}")
            click.echo(f"       {_where(profile.country, profile.subdivision)} {profile.zone}")
            click.echo(f"       plugins {','.join(profile.plugins)}; source: {profile.source}")
        return
    with unit() as session:
        for authority in session.query(Authority).order_by(Authority.code):
            duties = authority_jurisdiction(runtime.plugins, authority).workflow.duties
            own = " (its own)" if authority.duties else ""
            click.echo(f"{authority.code:6} {authority.name}")
            click.echo(
                f"       {_where(authority.country, authority.subdivision)} {authority.zone}; "
                f"plugins {','.join(authority.plugins) or '-'}"
            )
            click.echo(
                f"       entry points {','.join(authority.entry_points) or '-'}; offices "
                f"{','.join(o['code'] for o in authority.offices) or '-'}; series "
                f"{_series(authority.series) or 'from its plugins'}"
            )
            click.echo(f"       duties {','.join(sorted(duties)) or 'none'}{own}")


def _where(country: str, subdivision: str | None) -> str:
    return f"{country}-{subdivision}" if subdivision else country


def _series(series: dict[str, Any]) -> str:
    return ", ".join(
        f"{kind} {s['prefix']}{s.get('first', 1):0{s['digits']}d}"
        f"-{s['prefix']}{s.get('last', 10 ** s['digits'] - 1):0{s['digits']}d}"
        for kind, s in sorted(series.items())
    )


def _particulars(function: Any) -> Any:
    """The options ``add`` and ``edit`` share: every field of the declaration."""
    options = [
        click.option("--name"),
        click.option("--country", help="ISO 3166-1 code (its public holidays)."),
        click.option("--subdivision", help="Region whose holidays it keeps (DE: RP)."),
        click.option("--zone", help="IANA time zone of its legal dates."),
        click.option("--plugin", "plugins", multiple=True, help="A plugin that applies."),
        click.option("--entry-point", "entry_points", multiple=True),
        click.option("--office", "offices", multiple=True, metavar="CODE=NAME"),
        click.option(
            "--series",
            multiple=True,
            metavar="KIND=PREFIX:DIGITS:FIRST-LAST",
            help="e.g. eu.community_certificate=EC:6:500001-599999",
        ),
        click.option(
            "--duty",
            "duties",
            multiple=True,
            metavar="CODE:NAME:ACTION,ACTION",
            help="A body and the actions reserved to it (replaces the plugins' duties).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@authorities.command("add")
@click.argument("code")
@click.option("--profile", is_flag=True, help="Start from the profile a plugin ships.")
@_particulars
def authorities_add(code: str, profile: bool, **given: Any) -> None:
    """Declare authority CODE and apply it (fields not given come from --profile)."""
    runtime = current_runtime()
    current = _declared(runtime)
    if any(p.code == code for p in current):
        raise click.ClickException(f"{code} is declared already: caratflow authorities edit")
    base = _offered(runtime, code) if profile else None
    fields = {**(base.as_data() if base else {"code": code}), **_fields(given)}
    _save(runtime, [*current, _one(fields, runtime)], f"added authority {code}", code)


@authorities.command("edit")
@click.argument("code")
@_particulars
def authorities_edit(code: str, **given: Any) -> None:
    """Change what authority CODE declares and apply it (a list option replaces the list;
    --series changes the kinds it names)."""
    runtime = current_runtime()
    current = _declared(runtime)
    found = [p for p in current if p.code == code]
    if not found:
        raise click.ClickException(f"{code} is not declared: caratflow authorities add")
    fields = _fields(given)
    if "series" in fields:  # one kind's series changes, the others stay
        fields["series"] = {**found[0].series, **fields["series"]}
    edited = _one({**found[0].as_data(), **fields}, runtime)
    changed = [edited if p.code == code else p for p in current]
    _save(runtime, changed, f"edited authority {code}", code)


def _declared(runtime: Runtime) -> list[AuthorityProfile]:
    """The file's declaration; without a file, the authorities the database runs now."""
    try:
        found = declared_authorities.declared(runtime.settings.instance_path, runtime.plugins)
    except CaratflowError as error:
        raise click.ClickException(str(error)) from None
    if found is not None:
        return found
    with unit() as session:
        return [_as_profile(a) for a in session.query(Authority).order_by(Authority.code)]


def _as_profile(authority: Authority) -> AuthorityProfile:
    return AuthorityProfile.from_data(
        {c.name: getattr(authority, c.name) for c in Authority.__table__.columns}
    )


def _offered(runtime: Runtime, code: str) -> AuthorityProfile:
    for profile in declared_authorities.offered(runtime.plugins):
        if profile.code == code:
            return replace(profile, default=True)
    known = ", ".join(p.code for p in declared_authorities.offered(runtime.plugins))
    raise click.ClickException(f"no profile {code}; the plugins ship: {known}")


def _fields(given: dict[str, Any]) -> dict[str, Any]:
    """The options given, as the declaration's fields (unset ones left out)."""
    fields: dict[str, Any] = {}
    for name in ("name", "country", "subdivision", "zone"):
        if given[name] is not None:
            fields[name] = given[name]
    for name in ("plugins", "entry_points"):
        if given[name]:
            fields[name] = list(given[name])
    if given["offices"]:
        fields["offices"] = [_office(o) for o in given["offices"]]
    if given["series"]:
        fields["series"] = dict(_series_option(s) for s in given["series"])
    if given["duties"]:
        fields["duties"] = [_duty(d) for d in given["duties"]]
    return fields


def _office(text: str) -> dict[str, str]:
    code, _, name = text.partition("=")
    if not name:
        raise click.BadParameter(f"{text!r}: give CODE=NAME", param_hint="--office")
    return {"code": code.strip(), "name": name.strip()}


def _series_option(text: str) -> tuple[str, dict[str, Any]]:
    try:
        kind, spec = text.split("=", 1)
        prefix, digits, span = spec.split(":")
        first, last = span.split("-")
        return kind.strip(), {
            "prefix": prefix,
            "digits": int(digits),
            "first": int(first),
            "last": int(last),
        }
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: give KIND=PREFIX:DIGITS:FIRST-LAST", param_hint="--series"
        ) from None


def _duty(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise click.BadParameter(f"{text!r}: give CODE:NAME:ACTION,ACTION", param_hint="--duty")
    code, name, actions = parts
    return {"code": code.strip(), "name": name.strip(), "actions": actions.split(",")}


def _one(fields: dict[str, Any], runtime: Runtime) -> AuthorityProfile:
    fields.pop("default", None)
    try:
        return declared_authorities.checked([fields], runtime.plugins, where="authority")[0]
    except InvalidInput as error:
        raise click.ClickException("; ".join(_as_option(e) for e in error.errors)) from None


def _as_option(error: FieldError) -> str:
    return f"{error.field.removeprefix('authority[0].')}: {error.message}"


def _save(runtime: Runtime, profiles: list[AuthorityProfile], what: str, code: str) -> None:
    try:
        declared_authorities.checked([p.as_data() for p in profiles], runtime.plugins)
    except InvalidInput as error:
        raise click.ClickException(str(error)) from None
    path = declared_authorities.config_path(runtime.settings.instance_path)
    with unit() as session:
        declared_authorities.apply(session, profiles)
        audit.record_change(session, local_actor().name, what, authorities=[code])
        declared_authorities.write(path, profiles)
    click.echo(f"{what}; {path} written and applied", err=True)
