"""What a presented shipment must look like, checked before anything is written.

Every problem is reported with the field it concerns (``certificate.carats``), all of
them at once, so a broker can fix a file in one go.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib.resources import files
from typing import Annotated, Any

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationError,
    model_validator,
)

from caratflow.errors import FieldError, InvalidInput
from caratflow.inputs import refuse_unstorable, written_as_text
from caratflow.models import Direction, Goods


@cache
def reference() -> dict[str, Any]:
    return tomllib.loads(files("caratflow.case").joinpath("reference.toml").read_text("utf-8"))


def _country_code(value: str) -> str:
    if value in reference()["country_codes"]["exceptionally_reserved"]:
        return value
    if len(value) != 2 or not value.isupper() or pycountry.countries.get(alpha_2=value) is None:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return value


CLOCK_ROOM = timedelta(days=100 * 366)


def _in_every_zone(value: datetime) -> datetime:
    """An instant far enough from the calendar's ends (years 1 and 9999) that every zone
    can show it and every legal clock counted from it (retention runs for years) fits."""
    try:
        (value - CLOCK_ROOM).astimezone(UTC)
        (value + CLOCK_ROOM).astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of dates the engine can count from") from None
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(written_as_text), AfterValidator(_in_every_zone)]
Day = Annotated[date, BeforeValidator(written_as_text)]
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _shown_as_written(value: str) -> str:
    """A name or address must read on screens and documents as it was written: no bidi
    override turning 'Ltd' into 'dtL', and not blank once invisible characters are gone
    (zero-width joiners inside a name stay: Persian and Indic names need them)."""
    if any(ch in _BIDI_CONTROLS for ch in value):
        raise ValueError("bidirectional control characters (U+202A-202E, U+2066-2069) are refused")
    if all(unicodedata.category(ch)[0] in "CZ" for ch in value):
        raise ValueError("must contain visible characters")
    return value


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_shown_as_written),
]
LongText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
    AfterValidator(_shown_as_written),
]
CountryCode = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(_country_code)
]
HsCode = Annotated[str, StringConstraints(pattern=r"^\d{4}\.\d{2}$")]
_EXACT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def exact_amount(value: Any) -> Decimal:
    """An amount as an exact decimal, from a string of ASCII digits with an optional
    decimal point, or from a whole number: never a float (inexact), and not the other
    spellings ``Decimal`` would take ("1_000", "1e3", Arabic-Indic digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and _EXACT.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise ValueError('must be a decimal number written as a string of digits, e.g. "123.45"')


Carats = Annotated[
    Decimal,
    BeforeValidator(exact_amount),
    Field(gt=0, max_digits=16, decimal_places=4, allow_inf_nan=False),
]
Usd = Annotated[
    Decimal,
    BeforeValidator(exact_amount),
    Field(gt=0, max_digits=18, decimal_places=2, allow_inf_nan=False),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PartyIn(Strict):
    name: Text
    address: LongText


class CertificateIn(Strict):
    """The KP minimum content (LAW.md kp.certificate.fields) as the engine stores it.

    Only malformed data is refused here. A certificate that breaks the law (a number
    without its country's code, dates that contradict each other) is a presented
    document: it is recorded and judged by the plugins' rules (Art. 5(1)(b))."""

    # Well-formed only: whether it carries the issuing country's code is Annex I's
    # question, which a plugin's rule answers on a recorded presentation (issue 22).
    number: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9/-]{2,31}$")]
    issuing_country: CountryCode
    issuing_authority: Text
    validating_authority: Text | None = None
    issued_on: Day
    expires_on: Day
    exporter: PartyIn
    importer: PartyIn
    parcels: Annotated[int, Field(ge=1, le=100_000, strict=True)]
    carats: Carats
    value_usd: Usd
    hs_codes: Annotated[list[HsCode], Field(min_length=1, max_length=20)]
    origin: Annotated[list[CountryCode], Field(max_length=50)] = []
    provenance: CountryCode


class ContainerIn(Strict):
    id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    seals: Annotated[list[Text], Field(max_length=50)] = []
    seals_intact: StrictBool  # "yes" or 1 would be a guess


# A presentation as a customs broker's system sends it: the OpenAPI document's example.
PRESENTATION_EXAMPLE: dict[str, Any] = {
    "authority": "BE",
    "direction": "import",
    "goods": "rough",
    "presented_at": "2026-11-20T10:15:00+01:00",
    "entry_point": "BRU",
    "certificate": {
        "number": "BW0093321",
        "issuing_country": "BW",
        "issuing_authority": "Ministry of Minerals and Energy, Botswana",
        "issued_on": "2026-11-12",
        "expires_on": "2027-01-12",
        "exporter": {"name": "Okavango Diamond Company", "address": "Plot 63, Gaborone"},
        "importer": {
            "name": "Hoveniersstraat Trading BV",
            "address": "Hoveniersstraat 30, 2018 Antwerpen",
        },
        "parcels": 2,
        "carats": "842.15",
        "value_usd": "1120000.00",
        "hs_codes": ["7102.21"],
        "origin": ["BW"],
        "provenance": "BW",
    },
    "containers": [
        {"id": "C1", "seals": ["BW-7731"], "seals_intact": True},
        {"id": "C2", "seals": ["BW-7732"], "seals_intact": True},
    ],
}


class ShipmentIn(BaseModel):
    """A presentation: the Kimberley Process certificate as presented at the counter and
    the containers with their seals. Fields beyond these are those the enabled plugins
    declare (``caratflow.jurisdiction.fields``), kept in ``details``; the service refuses
    any other."""

    model_config = ConfigDict(
        extra="allow",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [PRESENTATION_EXAMPLE]},
    )

    authority: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    direction: Direction
    goods: Goods
    presented_at: Instant | None = None
    entry_point: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    certificate: CertificateIn
    containers: Annotated[list[ContainerIn], Field(min_length=1, max_length=500)]

    @model_validator(mode="after")
    def _hs_codes_fit_goods(self) -> ShipmentIn:
        allowed = reference()["hs_codes"][self.goods.value]
        wrong = [code for code in self.certificate.hs_codes if code not in allowed]
        if wrong:
            raise ValueError(
                f"HS code(s) {', '.join(wrong)} do not describe {self.goods.value} diamonds "
                f"(expected {', '.join(allowed)})"
            )
        labels = [c.id for c in self.containers]
        if len(set(labels)) != len(labels):
            raise ValueError("container ids must be unique")
        return self

    @property
    def details(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def presented_instant(self) -> datetime:
        return (self.presented_at or datetime.now(UTC)).astimezone(UTC)


def parse_shipment(payload: Any) -> ShipmentIn:
    """Validate a presentation, or raise ``InvalidInput`` naming every bad field."""
    if not isinstance(payload, Mapping):
        raise InvalidInput([FieldError("$", "a shipment must be a JSON object")])
    refuse_unstorable(payload)  # whichever face it came through
    try:
        return ShipmentIn.model_validate(dict(payload))
    except ValidationError as error:
        raise InvalidInput(field_errors(error)) from None


def field_errors(error: ValidationError) -> list[FieldError]:
    """pydantic's errors as ``FieldError``s named by dotted path (``certificate.carats``)."""
    return [_field_error(e) for e in error.errors()]


def _field_error(error: Mapping[str, Any]) -> FieldError:
    field = ".".join(str(part) for part in error["loc"]) or "$"
    message = str(error["msg"]).removeprefix("Value error, ")
    return FieldError(field, message)
