"""A deployment's authorities as data: ``<instance>/authorities.toml`` (issue 24).

The file is the one declaration; ``caratflow init`` (and ``serve``) bring the database in
line with it, and ``caratflow authorities add/edit`` change it and do the same. A
deployment that declares nothing starts from its plugins' default profiles (Belgium's
demo, Norway's authority); the other profiles they ship (Annex III) are offered::

    [[authority]]
    code = "DE"
    name = "Hauptzollamt Koblenz, Zollamt Idar-Oberstein"
    country = "DE"
    subdivision = "RP"            # the Land's holidays
    zone = "Europe/Berlin"
    plugins = ["eu"]
    entry_points = ["FRA"]
    offices = [{ code = "IDAR", name = "Zollamt Idar-Oberstein" }]
    duties = [{ code = "zoll", name = "Zoll", actions = ["verify"], basis = "…" }]
    [authority.series."eu.community_certificate"]   # the EC serials allocated to it
    prefix = "EC"
    digits = 6
    first = 500001
    last = 599999
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pycountry
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy.orm import Session

from caratflow.case.schemas import field_errors
from caratflow.errors import FieldError, InvalidInput
from caratflow.jurisdiction.contributions import AuthorityProfile, Plugins
from caratflow.jurisdiction.documents import Numbering
from caratflow.law.calendar import WorkingCalendar
from caratflow.models import Authority

FILE_NAME = "authorities.toml"
Code = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z0-9-]{0,14}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=40, strip_whitespace=True)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OfficeIn(_Strict):
    code: Short
    name: Name
    address: str = ""


class SeriesIn(_Strict):
    prefix: Annotated[str, StringConstraints(max_length=20)]
    digits: Annotated[int, Field(gt=0, le=12)]
    first: Annotated[int, Field(ge=0)] = 1
    last: Annotated[int, Field(ge=0)] | None = None


class DutyIn(_Strict):
    code: Short
    name: Name
    actions: Annotated[list[Short], Field(min_length=1)]
    basis: str = ""


class AuthorityIn(_Strict):
    code: Code
    name: Name
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    subdivision: Short | None = None
    zone: Short
    plugins: Annotated[list[Short], Field(min_length=1)]
    entry_points: list[Short] = []
    offices: list[OfficeIn] = []
    series: dict[str, SeriesIn] = {}
    duties: list[DutyIn] = []
    source: str = ""


def config_path(instance_path: Path) -> Path:
    return instance_path / FILE_NAME


def read(path: Path, host: Plugins) -> list[AuthorityProfile]:
    """The authorities ``path`` declares, checked; ``InvalidInput`` names every bad field
    (``authority[2].zone``), and nothing is applied."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise InvalidInput([FieldError(path.name, f"not valid TOML: {error}")]) from None
    tables = data.get("authority", [])
    if set(data) - {"authority"} or not isinstance(tables, list):
        raise InvalidInput([FieldError(path.name, "holds [[authority]] tables only")])
    return checked(tables, host, where="authority")


def checked(
    tables: Sequence[Mapping[str, Any]], host: Plugins, where: str = "authority"
) -> list[AuthorityProfile]:
    """Each table as a profile, once every field makes sense for the enabled plugins."""
    errors: list[FieldError] = []
    profiles: list[tuple[int, AuthorityProfile]] = []
    for index, table in enumerate(tables):
        at = f"{where}[{index}]"
        try:
            parsed = AuthorityIn.model_validate(dict(table))
        except ValidationError as error:
            errors += [FieldError(f"{at}.{e.field}", e.message) for e in field_errors(error)]
            continue
        problems = _problems(parsed, host)
        errors += [FieldError(f"{at}.{field}", message) for field, message in problems]
        if not problems:
            profiles.append((index, _profile(parsed)))
    errors += _clashes(profiles, host, where)
    if errors:
        raise InvalidInput(errors)
    return [profile for _, profile in profiles]


def _problems(authority: AuthorityIn, host: Plugins) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if pycountry.countries.get(alpha_2=authority.country) is None:
        found.append(("country", f"{authority.country!r} is not an ISO 3166-1 country code"))
    else:
        try:
            WorkingCalendar(
                country=authority.country, zone=authority.zone, subdivision=authority.subdivision
            )
        except ValueError as error:
            field = "subdivision" if "subdivision" in str(error) else "zone"
            found.append((field, str(error)))
    if unknown := sorted(set(authority.plugins) - set(host.plugin_names)):
        found.append(("plugins", f"not enabled here: {', '.join(unknown)}"))
        return found
    kinds = host.document_types(authority.plugins)
    for kind, series in authority.series.items():
        if kind not in kinds:
            known = ", ".join(sorted(kinds)) or "none"
            found.append((f"series.{kind}", f"no such document here; known: {known}"))
            continue
        try:
            Numbering(series.prefix, series.digits, series.first, series.last)
        except ValueError:
            found.append((f"series.{kind}", "first and last must fit in the digits, in order"))
    actions = set(host.jurisdiction(authority.plugins).workflow.actions)
    for index, duty in enumerate(authority.duties):
        if unknown := sorted(set(duty.actions) - actions):
            found.append((f"duties[{index}].actions", f"no such action: {', '.join(unknown)}"))
    return found


def _clashes(
    profiles: Sequence[tuple[int, AuthorityProfile]], host: Plugins, where: str
) -> list[FieldError]:
    """Two authorities of one deployment cannot share a code, nor number one document
    kind from overlapping ranges with one prefix (their numbers would collide): the
    ranges compared are those in force, declared or from the plugins' data."""
    errors: list[FieldError] = []
    seen: set[str] = set()
    ranges: dict[tuple[str, str], list[tuple[int, int, str]]] = {}
    for index, profile in profiles:
        if profile.code in seen:
            errors.append(FieldError(f"{where}[{index}].code", f"{profile.code} twice"))
        seen.add(profile.code)
        for kind, numbering in series_in_force(profile, host).items():
            low, high = numbering.first, numbering.end
            for other_low, other_high, other in ranges.get((kind, numbering.prefix), []):
                if low <= other_high and other_low <= high:
                    errors.append(
                        FieldError(
                            f"{where}[{index}].series.{kind}",
                            f"overlaps the range of {other} ({numbering.format(other_low)}-"
                            f"{numbering.format(other_high)})",
                        )
                    )
            ranges.setdefault((kind, numbering.prefix), []).append((low, high, profile.code))
    return errors


def series_in_force(profile: AuthorityProfile, host: Plugins) -> dict[str, Numbering]:
    """Each document kind's range at this authority today: its own, else its plugins'."""
    today = datetime.now(UTC).date()
    row = Authority(code=profile.code, country=profile.country, zone=profile.zone)
    found = {}
    for kind, document_type in host.document_types(profile.plugins).items():
        if kind in profile.series:
            found[kind] = Numbering.from_data(profile.series[kind])
            continue
        try:
            found[kind] = document_type.numbering(row, today)
        except LookupError:
            continue  # no range at all: `caratflow doctor` says so
    return found


def _profile(parsed: AuthorityIn) -> AuthorityProfile:
    data = parsed.model_dump(exclude_defaults=True)
    data["plugins"] = sorted(set(data["plugins"]))
    return AuthorityProfile.from_data(data)


def write(path: Path, profiles: Iterable[AuthorityProfile]) -> None:
    """Write the declaration (the whole file: one place to read, comments not kept)."""
    header = (
        "# The authorities of this deployment (issue 24): edit here or with\n"
        "# `caratflow authorities add/edit`, then `caratflow init` applies it.\n\n"
    )
    tables = {"authority": [p.as_data() for p in profiles]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + tomli_w.dumps(tables), "utf-8")


def declared(instance_path: Path, host: Plugins) -> list[AuthorityProfile] | None:
    """What the deployment declares, or ``None`` when it has no ``authorities.toml``."""
    path = config_path(instance_path)
    return read(path, host) if path.exists() else None


def defaults(host: Plugins) -> list[AuthorityProfile]:
    """The profiles the plugins set up when a deployment declares none (Belgium's demo)."""
    return [p for _, (p, _) in sorted(host.authority_profiles().items()) if p.default]


def offered(host: Plugins) -> list[AuthorityProfile]:
    """Every profile the enabled plugins ship, default or not, by code."""
    return [p for _, (p, _) in sorted(host.authority_profiles().items())]


def apply(session: Session, profiles: Iterable[AuthorityProfile]) -> list[str]:
    """Make the database say what ``profiles`` say; returns the codes created. An
    authority no longer declared keeps its row (its records refer to it)."""
    created = []
    for profile in profiles:
        authority = session.get(Authority, profile.code)
        if authority is None:
            authority = Authority(code=profile.code)
            session.add(authority)
            created.append(profile.code)
        authority.name = profile.name
        authority.country = profile.country
        authority.zone = profile.zone
        authority.subdivision = profile.subdivision
        authority.plugins = sorted(profile.plugins)
        authority.entry_points = list(profile.entry_points)
        authority.offices = [dict(o) for o in profile.offices]
        authority.series = {k: dict(v) for k, v in profile.series.items()}
        authority.duties = [dict(d) for d in profile.duties]
    session.flush()
    return created
