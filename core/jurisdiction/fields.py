"""Declared fields: the data a jurisdiction's law needs, declared once by its plugin, typed.

A plugin declares pydantic models (subclasses of ``Declared``) whose fields each say what
they are (``declared(label=…, rule=…, article=…)``) and registers them with
``caratflow_fields_register``: on the presentation (kept in the shipment's ``details``
under each field's name), as the inputs of an action, and as records added to a shipment
after presentation (an action that completes ``details``, ``Transition.amends``). The
engine validates against them (a 422 naming the field, nothing written) and stores the
values as their JSON form; a rule reads them back typed with ``Model.read(value)``. The
faces (forms, API schema, CLI) are generated from the same declaration.

The types a field may have: ``Text``, ``date``, ``Instant``, ``Amount`` (a decimal, with
its ``unit``; ``Count`` a whole one), ``Country``, ``Choice`` (closed: ``choices`` fixed
or by legal date), ``Digest`` (a file's SHA-256), a nested ``Declared`` model (a group)
and a list of one (a repeating group).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic.fields import FieldInfo

from caratflow.errors import FieldError, InvalidInput
from caratflow.inputs import written_as_text

Where = Literal["presentation", "action", "record"]
Facts = Mapping[str, str]  # what a required-when condition is tested against (direction, goods)


class Kind(StrEnum):
    TEXT = "text"
    DATE = "date"
    INSTANT = "instant"
    DECIMAL = "decimal"
    COUNTRY = "country"
    CHOICE = "choice"
    DIGEST = "digest"
    GROUP = "group"
    REPEATING = "repeating"


def _country(value: str) -> str:
    if len(value) != 2 or not value.isupper() or pycountry.countries.get(alpha_2=value) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value


_EXACT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _exact(value: Any) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and _EXACT.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise ValueError('must be a decimal number written as a string of digits, e.g. "12.5"')


_STRIPPED = StringConstraints(strip_whitespace=True)
Text = Annotated[str, Kind.TEXT, _STRIPPED, StringConstraints(min_length=1, max_length=500)]
Instant = Annotated[AwareDatetime, Kind.INSTANT, BeforeValidator(written_as_text)]
Date = Annotated[date, Kind.DATE, BeforeValidator(written_as_text)]
Amount = Annotated[
    Decimal, Kind.DECIMAL, BeforeValidator(_exact), Field(max_digits=18, allow_inf_nan=False)
]
Count = Annotated[int, Kind.DECIMAL, Field(ge=0, le=1_000_000_000)]  # parcels, stones
Country = Annotated[str, Kind.COUNTRY, _STRIPPED, AfterValidator(_country)]
Choice = Annotated[str, Kind.CHOICE, _STRIPPED, StringConstraints(min_length=1, max_length=80)]
Digest = Annotated[str, Kind.DIGEST, StringConstraints(pattern=r"^[0-9a-f]{64}$")]

Choices = Sequence[str] | Callable[[date], Sequence[str]]
RequiredWhen = bool | Mapping[str, Collection[str]]


@dataclass(frozen=True)
class About:
    """What a field is, for the people who fill it in and for the law that asks for it.

    It rides on the pydantic field as its ``json_schema_extra`` (pydantic calls it while
    writing the JSON schema, so the API documents the rule and article beside the type)."""

    label: str
    help: str = ""
    rule: str = ""
    article: str = ""
    required_when: RequiredWhen = False
    unit: str | None = None
    choices: Choices | None = None
    example: Any = None

    def __call__(self, schema: dict[str, Any]) -> None:
        if self.rule:
            schema["x-rule"] = self.rule
        if self.article:
            schema["x-article"] = self.article
        if self.unit:
            schema["x-unit"] = self.unit
        if self.required_when:
            schema["x-required-when"] = (
                "always"
                if self.required_when is True
                else {k: sorted(v) for k, v in dict(self.required_when).items()}
            )
        if self.choices is not None and not callable(self.choices):
            schema["enum"] = list(self.choices)

    def required(self, facts: Facts) -> bool:
        if isinstance(self.required_when, bool):
            return self.required_when
        return all(facts.get(k) in allowed for k, allowed in self.required_when.items())

    def allowed(self, day: date) -> list[str] | None:
        if self.choices is None:
            return None
        return list(self.choices(day) if callable(self.choices) else self.choices)


def declared(
    label: str,
    *,
    help: str = "",
    rule: str = "",
    article: str = "",
    required_when: RequiredWhen = False,
    unit: str | None = None,
    choices: Choices | None = None,
    example: Any = None,
) -> Any:
    """A declared field (the default ``None``: absent; whether that is allowed is the
    engine's ``required_when`` check, so a later record can complete it)."""
    about = About(label, help, rule, article, required_when, unit, choices, example)
    return Field(
        default=None,
        title=label,
        description=help or label,
        json_schema_extra=about,  # type: ignore[arg-type]
        examples=None if example is None else [example],
    )


class Declared(BaseModel):
    """The base of every declared model: no field beyond those declared."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def read(cls, stored: Any) -> Self | None:
        """The stored JSON form back as the typed model (``None`` where nothing valid is
        stored: a record from before the declaration, or none yet)."""
        if isinstance(stored, cls):
            return stored
        if not isinstance(stored, Mapping):
            return None
        try:
            return cls.model_validate(cls.stored_before(dict(stored)))
        except ValidationError:
            return None

    @classmethod
    def stored_before(cls, stored: dict[str, Any]) -> dict[str, Any]:
        """A record kept before the field was declared, in the shape the model reads now
        (a plugin overrides it for the shapes it once stored), so that a replay reads an
        old case as it was decided; never applied to what is presented or decided now."""
        return stored

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Self:
        """This model's own fields of ``values`` (a shipment's ``details``, which holds every
        plugin's), typed; the empty model where nothing valid is stored."""
        own = {k: v for k, v in values.items() if k in cls.model_fields}
        return cls.read(own) or cls()


def was_yes_no(stored: dict[str, Any], *names: str) -> dict[str, Any]:
    """``stored`` with each of ``names`` once kept as a JSON boolean, as ``yes``/``no``."""
    return {
        k: ("yes" if v else "no") if k in names and isinstance(v, bool) else v
        for k, v in stored.items()
    }


def was_list(stored: dict[str, Any], name: str, field: str) -> dict[str, Any]:
    """``stored`` with ``name`` once kept as a list of plain values, as rows of ``field``."""
    value = stored.get(name)
    if isinstance(value, list) and all(not isinstance(v, Mapping) for v in value):
        return {**stored, name: [{field: v} for v in value]}
    return stored


# -- what a plugin registers ----------------------------------------------------------------


@dataclass(frozen=True)
class FieldSet:
    """One declared model, and where it applies: on a presentation (its fields sit beside
    the core ones and are kept in ``details``), as an action's inputs, or as a record added
    later (an action whose transition ``amends`` the presentation)."""

    where: Where
    model: type[Declared]
    plugin: str
    action: str | None = None
    directions: frozenset[str] | None = None
    goods: frozenset[str] | None = None
    title: str = ""

    def applies(self, facts: Facts, action: str | None = None) -> bool:
        return (
            (self.action is None or self.action == action)
            and (self.directions is None or facts.get("direction") in self.directions)
            and (self.goods is None or facts.get("goods") in self.goods)
        )


@dataclass
class FieldsRegistrar:
    """Handed to ``caratflow_fields_register``, bound to the registering plugin."""

    plugin: str
    sets: list[FieldSet] = field(default_factory=list)

    def presentation(
        self,
        model: type[Declared],
        *,
        directions: Iterable[str] | None = None,
        goods: Iterable[str] | None = None,
    ) -> None:
        scope = _scope(directions, goods)
        self.sets.append(FieldSet("presentation", model, self.plugin, None, *scope))

    def action(
        self,
        action: str,
        model: type[Declared],
        *,
        directions: Iterable[str] | None = None,
        goods: Iterable[str] | None = None,
    ) -> None:
        self.sets.append(FieldSet("action", model, self.plugin, action, *_scope(directions, goods)))

    def record(
        self,
        action: str,
        model: type[Declared],
        *,
        title: str,
        directions: Iterable[str] | None = None,
        goods: Iterable[str] | None = None,
    ) -> None:
        """A record added after presentation through ``action`` (a transition that stays
        and ``amends`` the fields of ``model``)."""
        scope = _scope(directions, goods)
        self.sets.append(FieldSet("record", model, self.plugin, action, *scope, title=title))


def _scope(directions: Iterable[str] | None, goods: Iterable[str] | None) -> tuple[Any, Any]:
    return (
        None if directions is None else frozenset(directions),
        None if goods is None else frozenset(goods),
    )


# -- what the engine and the faces read -----------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One field as a face shows it: kind, label, help, whether it is required here, the
    choices in force, and for a group its own fields."""

    name: str
    kind: Kind
    about: About
    required: bool
    choices: list[str] | None = None
    children: tuple[Spec, ...] = ()


def about(info: FieldInfo) -> About:
    extra = info.json_schema_extra
    return extra if isinstance(extra, About) else About(info.title or "")


def kind_of(info: FieldInfo) -> tuple[Kind, type[Declared] | None]:
    """A field's kind, and the model of a group's members."""
    annotation = info.annotation
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        (member,) = typing.get_args(annotation)[:1]
        if isinstance(member, type) and issubclass(member, Declared):
            return Kind.REPEATING, member
    if origin in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, Declared):
        return Kind.GROUP, annotation
    for marker in info.metadata:
        if isinstance(marker, Kind):
            return marker, None
    if about(info).choices is not None:
        return Kind.CHOICE, None
    return Kind.TEXT, None


def specs(model: type[Declared], facts: Facts, day: date) -> list[Spec]:
    found = []
    for name, info in model.model_fields.items():
        kind, member = kind_of(info)
        meta = about(info)
        children = tuple(specs(member, facts, day)) if member else ()
        found.append(Spec(name, kind, meta, meta.required(facts), meta.allowed(day), children))
    return found


@dataclass(frozen=True)
class Declarations:
    """Every field set of one set of enabled plugins."""

    sets: tuple[FieldSet, ...] = ()

    def presentation(self, facts: Facts) -> list[FieldSet]:
        return [s for s in self.sets if s.where == "presentation" and s.applies(facts)]

    def presentation_sets(self) -> list[FieldSet]:
        """Every presentation set, wherever it applies."""
        return [s for s in self.sets if s.where == "presentation"]

    def given(self, values: Mapping[str, Any]) -> list[FieldSet]:
        """The presentation sets some of whose fields ``values`` holds."""
        return [
            s
            for s in self.sets
            if s.where == "presentation" and any(n in values for n in s.model.model_fields)
        ]

    def action(self, action: str, facts: Facts) -> list[FieldSet]:
        return [s for s in self.sets if s.where != "presentation" and s.applies(facts, action)]

    def records(self, facts: Facts) -> list[FieldSet]:
        return [s for s in self.sets if s.where == "record" and s.applies(facts, s.action)]

    def names(self, sets: Iterable[FieldSet]) -> set[str]:
        return {name for s in sets for name in s.model.model_fields}

    def validate(
        self,
        sets: Sequence[FieldSet],
        values: Mapping[str, Any],
        facts: Facts,
        day: date,
        prefix: str,
        *,
        applying: bool = True,
    ) -> dict[str, Any]:
        """``values`` with every declared field checked and in its stored JSON form; other
        keys pass untouched. Raises ``InvalidInput`` naming each bad field (``prefix`` +
        its dotted path), all of them at once. ``applying=False``, for sets that do not
        apply here: what was sent is judged, nothing is required."""
        checked, problems = dict(values), []
        for fieldset in sets:
            mine = {k: v for k, v in values.items() if k in fieldset.model.model_fields}
            try:
                model = fieldset.model.model_validate(mine)
            except ValidationError as error:
                found = [_problem(prefix, e) for e in error.errors()]
                named = {p.field for p in found}
                judged = _judge(fieldset.model, mine, facts, day, prefix, applying)
                problems += found + [j for j in judged if j.field not in named]
                continue
            problems += _judge(fieldset.model, mine, facts, day, prefix, applying)
            dumped = model.model_dump(mode="json", exclude_unset=True)
            checked.update({k: v for k, v in dumped.items() if k in mine})
        if problems:  # a field two plugins declare alike is told once
            raise InvalidInput(list(dict.fromkeys(problems)))
        return checked


def _judge(
    model: type[Declared],
    given: Mapping[str, Any],
    facts: Facts,
    day: date,
    prefix: str,
    applying: bool = True,
) -> list[FieldError]:
    """What pydantic cannot know, judged on what was sent (so that it is told with the
    type errors, all at once): required-when on this shipment, and the choices in force on
    the legal date. A group's own fields are judged only where the group is given."""
    problems = []
    for name, info in model.model_fields.items():
        meta, value, path = about(info), given.get(name), f"{prefix}{name}"
        kind, member = kind_of(info)
        if value in (None, [], {}, ""):
            if applying and meta.required({**_siblings(given), **facts}):
                cited = f" ({meta.article})" if meta.article else ""
                problems.append(FieldError(path, f"{meta.label} is required here{cited}"))
            continue
        allowed = meta.allowed(day)
        if allowed is not None and str(value).strip() not in allowed:
            problems.append(FieldError(path, f"choose one of: {', '.join(allowed)}"))
        if member is not None and kind is Kind.GROUP and isinstance(value, Mapping):
            problems += _judge(member, value, facts, day, f"{path}.", applying)
        elif member is not None and isinstance(value, list):
            for number, row in enumerate(value):
                if isinstance(row, Mapping):
                    problems += _judge(member, row, facts, day, f"{path}.{number}.", applying)
    return problems


def _siblings(given: Mapping[str, Any]) -> dict[str, str]:
    """The other fields' plain values, for a required-when that names one (``opened`` is
    required where ``method`` is ``risk_selection``)."""
    return {k: v.strip() for k, v in given.items() if isinstance(v, str)}


def _problem(prefix: str, error: Mapping[str, Any]) -> FieldError:
    path = ".".join(str(part) for part in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "is not a field of this record"
    return FieldError(f"{prefix}{path}", message)


def from_dotted(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Flat ``name=value`` pairs (a form's fields, the CLI's ``--input``) as the nested
    values a declaration takes: ``advance_notice.received_at`` into a group,
    ``stones.0.carats`` into the first row of a repeating one. Blank values are left out."""
    tree: dict[str, Any] = {}
    for name, value in pairs:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        *path, last = name.split(".")
        node = tree
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InvalidInput([FieldError(name, "names a part of a single value")])
        node[last] = value
    return _rows(tree)


def _rows(node: Any) -> Any:
    """A dict keyed 0, 1, … (rows of a repeating group) as a list, in order."""
    if not isinstance(node, dict):
        return node
    node = {k: _rows(v) for k, v in node.items()}
    if node and all(k.isdigit() for k in node):
        return [node[k] for k in sorted(node, key=int)]
    return node
