"""Documents as a plugin declares them: wording, numbering, validity and fields, with helpers
to print a certificate's fields. ``caratflow.records.documents`` numbers, renders, signs
and seals them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pycountry

from caratflow.models import (
    Authority,
    Shipment,
)

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Field:
    """One line of a document: a stable key, its printed label and its value as printed.

    ``public`` fields are shown on the public check page; importer and exporter details
    never are.
    """

    key: str
    label: str
    value: str
    public: bool = False


@dataclass(frozen=True)
class Numbering:
    """A range of serial numbers and how they are written: ``EC`` + six digits."""

    prefix: str
    digits: int
    first: int = 1
    last: int | None = None

    def __post_init__(self) -> None:
        last = self.last if self.last is not None else 10**self.digits - 1
        if not (0 < self.digits <= 12 and 0 <= self.first <= last < 10**self.digits):
            raise ValueError(f"invalid numbering {self!r}")

    @property
    def end(self) -> int:
        return self.last if self.last is not None else 10**self.digits - 1

    def format(self, serial: int) -> str:
        return f"{self.prefix}{serial:0{self.digits}d}"

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Numbering:
        """From a plugin's data table: ``{prefix = "EC", digits = 6, first = 1, last = ...}``."""
        return cls(data["prefix"], data["digits"], data.get("first", 1), data.get("last"))


@dataclass(frozen=True)
class DocumentContext:
    """What a plugin's content function sees when a document is issued."""

    shipment: Shipment
    authority: Authority
    issued_on: date
    valid_until: date | None


@dataclass(frozen=True)
class Wording:
    """What a document says above its fields, in force on a date (the plugin's data)."""

    title: str
    statement: str = ""
    subtitle: str = ""

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Wording:
        return cls(data["title"], data.get("statement", ""), data.get("subtitle", ""))


@dataclass(frozen=True)
class DocumentType:
    """A kind of document a plugin's law lets the authority issue.

    ``kind`` starts with the plugin's name (``eu.community_certificate``); ``rule`` and
    ``basis`` cite the law. Each callable answers for the issue date, from the plugin's
    dated data: ``wording`` (title, statement), ``numbering`` (the authority's serial
    range), ``validity`` (the last valid day, ``None`` for no expiry) and ``required``
    (the field keys the law says it must show, e.g. the KP Annex I minimum content,
    checked at every issue). ``refuses`` gives a reason not to issue it for a shipment,
    or ``None``; ``content`` the fields. ``languages`` are the languages it is printed
    in at an authority (issue 23: the Community certificate in English and the Member
    State's language, Annex IV); its title, wording and labels come from the plugin's
    catalogue in each, English first.

    ``issued_by`` names the decisions that issue it, in their own transaction, for every
    shipment it does not refuse (an export's validation issues its certificate);
    ``returned_by`` and ``revoked_by`` the decisions after which a still-valid one is
    returned (e.g. unused, Art. 12(5)) or revoked (the consignment was detained).
    """

    kind: str
    rule: str
    basis: str
    wording: Callable[[date], Wording]
    numbering: Callable[[Authority, date], Numbering]
    content: Callable[[DocumentContext], Sequence[Field]]
    validity: Callable[[date], date | None] = lambda issued_on: None
    refuses: Callable[[Shipment], str | None] = lambda shipment: None
    required: Callable[[date], Sequence[str]] = lambda issued_on: ()
    languages: Callable[[Authority, date], Sequence[str]] = lambda authority, issued_on: ("en",)
    issued_by: frozenset[str] = frozenset()
    returned_by: frozenset[str] = frozenset()
    revoked_by: frozenset[str] = frozenset()

    @property
    def plugin(self) -> str:
        return self.kind.partition(".")[0]

    def title(self, on: date | None = None) -> str:
        return self.wording(on or date.today()).title


CERTIFICATE_LABELS = {
    "origin": "Country of origin",
    "provenance": "Country of provenance",
    "destination": "Country of destination",
    "exporter": "Exporter",
    "importer": "Importer",
    "carats": "Carat weight",
    "value_usd": "Value",
    "parcels": "Number of parcels",
    "hs_codes": "HS code(s)",
    "containers": "Containers and seals",
}
"""The printed labels of ``certificate_fields``; a plugin may pass its own (bilingual)."""


def certificate_fields(
    context: DocumentContext, labels: Mapping[str, str] | None = None
) -> list[Field]:
    """The goods and parties of the shipment's certificate as fields, keyed as the model is.

    Origin, provenance, destination (where the shipment names one), weight, parcels,
    HS codes and seals are public (the check page shows them); the parties and the
    value are not.
    """
    label = {**CERTIFICATE_LABELS, **(labels or {})}
    shipment = context.shipment
    cert = shipment.certificate
    origins = [format_country(code) for code in cert.origin]
    if len(origins) == 1:
        origin = origins[0]
    else:
        origin = f"Mixed: {', '.join(origins)}" if origins else "Mixed (not stated)"
    fields = [
        Field("origin", label["origin"], origin, public=True),
        Field("provenance", label["provenance"], format_country(cert.provenance), public=True),
    ]
    if destination := shipment.details.get("destination"):
        fields.append(Field("destination", label["destination"], format_country(destination), True))
    fields += [
        Field("exporter", label["exporter"], f"{cert.exporter_name}\n{cert.exporter_address}"),
        Field("importer", label["importer"], f"{cert.importer_name}\n{cert.importer_address}"),
        Field("carats", label["carats"], format_carats(cert.carats), public=True),
        Field("value_usd", label["value_usd"], format_usd(cert.value_usd)),
        Field("parcels", label["parcels"], str(cert.parcels), public=True),
        Field("hs_codes", label["hs_codes"], ", ".join(cert.hs_codes), public=True),
    ]
    seals = "; ".join(f"{c.label}: {', '.join(c.seals) or 'no seal'}" for c in shipment.containers)
    if seals:
        fields.append(Field("containers", label["containers"], seals, public=True))
    return fields


def format_carats(value: Decimal) -> str:
    return f"{value:,} ct"


def format_usd(value: Decimal) -> str:
    return f"USD {value:,.2f}"


def format_country(code: str | None) -> str:
    """'Canada (CA)': the name a reader knows, and the ISO code Annex I asks for."""
    if not code:
        return ""
    found = pycountry.countries.get(alpha_2=code)
    return f"{found.name} ({code})" if found is not None else code


def printed_in(
    catalogue: Mapping[str, Mapping[str, str]], languages: Sequence[str]
) -> Callable[[str], str]:
    """How a document prints a text of its plugin's catalogue in ``languages``: as written
    (the plugin writes it in English, or already in both, as Norway's), then each other
    language's version once, joined by " / " (one the catalogue lacks is left out)."""

    def printed(text: str) -> str:
        translations = catalogue.get(text, {})
        versions = [text, *(translations.get(lang, text) for lang in languages if lang != "en")]
        return " / ".join(dict.fromkeys(versions)) if text else text

    return printed
