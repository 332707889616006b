"""What the G7/EU measures on Russian diamonds ask to be filled in at the control point,
declared once (``caratflow_fields_register``); the rules in ``rules.py`` read these models.

On presentation: the shares of a parcel by country of mining, the countries the goods
passed through, an exemption claimed from the ban with its evidence (grounds dated in
``parameters/scope.toml``), and for polished and synthetic goods the stones one by one
(serial or lot number, weight, country of mining, digital identity), the importer's
due-diligence statement on their origin and an export's destination. On
``verify_origin``: the origin evidence received, its shares and the SHA-256 of each
document (the transition ``amends`` the shipment with them).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from caratflow.jurisdiction.fields import (
    Amount,
    Choice,
    Country,
    Date,
    Declared,
    Digest,
    FieldsRegistrar,
    Text,
    declared,
    was_list,
    was_yes_no,
)
from caratflow.law.parameters import DatedParameters

PARAMETERS = DatedParameters.in_folder(Path(__file__).parent / "parameters")
BAN = "Reg. (EU) 833/2014 Art. 3p"
CUT = ("polished", "synthetic")
# Every ground the ban has ever allowed: a claim made before a ground existed is a fact
# the rule judges under the law of its day (a refusal, replayable), not a typing error.
EXEMPTIONS = sorted(
    {ground for grounds in PARAMETERS.history("ban_exemptions") for ground in grounds}
)


def _shares_were_a_mapping(stored: dict[str, Any]) -> dict[str, Any]:
    """``origin_shares`` was once ``{"AO": "99", "RU": "1"}``."""
    shares = stored.get("origin_shares")
    if isinstance(shares, Mapping):
        rows = [{"country": c, "percent": str(p)} for c, p in shares.items()]
        return {**stored, "origin_shares": rows}
    return stored


class Share(Declared):
    """One country of mining of a parcel, with its share."""

    country: Country = declared(
        "Country of mining",
        rule="g7.mining_countries",
        article=BAN,
        required_when=True,
        example="AO",
    )
    percent: Amount = declared(
        "Share",
        help="The share of the parcel mined in that country",
        rule="g7.mining_countries",
        article=BAN,
        required_when=True,
        unit="%",
        example="60",
    )


SHARES = declared(
    "Shares by country of mining",
    help="Each country of mining with its share of the parcel, together 100%",
    rule="g7.mining_countries",
    article=f"{BAN}, as amended by Reg. (EU) 2025/395",
    example=[{"country": "AO", "percent": "60"}, {"country": "BW", "percent": "40"}],
)


class Passage(Declared):
    """A country the goods passed through."""

    country: Country = declared(
        "Transit country", rule="g7.russian_ban", article=BAN, required_when=True, example="AE"
    )


class Exemption(Declared):
    """An exemption from the ban claimed by the trader."""

    ground: Choice = declared(
        "Ground claimed",
        help="The ground of the exemption (the rule judges whether it is in force on the "
        "legal date)",
        rule="g7.russian_ban",
        article=f"{BAN} as amended by Reg. (EU) 2024/1745",
        required_when=True,
        choices=EXEMPTIONS,
        example="temporary_import_fair",
    )
    evidence: Text = declared(
        "Evidence",
        help="What shows the ground (the customs temporary-admission reference, a stock record)",
        rule="g7.russian_ban",
        article=f"{BAN} as amended by Reg. (EU) 2024/1745",
        example="ATA carnet 77",
    )


class Stone(Declared):
    """One polished or synthetic stone."""

    id: Text = declared(
        "Serial number", rule="nl.trace.serial_lot", article="G7 traceability", example="GIA-2231"
    )
    lot: Text = declared("Lot number", rule="nl.trace.serial_lot", article="G7 traceability")
    carats: Amount = declared(
        "Weight", rule="g7.russian_ban", article=BAN, unit="ct", example="0.70"
    )
    origin: Country = declared(
        "Country of mining",
        help="Where the rough it was cut from was mined",
        rule="g7.russian_ban",
        article=BAN,
        example="BW",
    )
    identity: Text = declared(
        "Digital identity",
        help="Its digital identity registered at the control point",
        rule="g7.digital_identity",
        article="G7 traceability",
        example="BE-P-1",
    )


class OriginStatement(Declared):
    """The importer's due-diligence statement on the origin of polished stones."""

    made_by: Text = declared("Made by", rule="g7.mining_countries", article=BAN)
    made_on: Date = declared("Made on", rule="g7.mining_countries", article=BAN)
    reference: Text = declared("Reference", rule="g7.mining_countries", article=BAN)


class Origin(Declared):
    """The origin and route of the goods (G7 control point)"""

    @classmethod
    def stored_before(cls, stored: dict[str, Any]) -> dict[str, Any]:
        stored = was_list(_shares_were_a_mapping(stored), "transit_countries", "country")
        return was_yes_no(stored, "mixed")

    origin_shares: list[Share] = SHARES
    mixed: Choice = declared(
        "Mixed origin",
        help="The certificate covers diamonds of mixed origin",
        rule="g7.mining_countries",
        article=f"{BAN}, as amended by Reg. (EU) 2025/395",
        choices=("yes", "no"),
        example="no",
    )
    transit_countries: list[Passage] = declared(
        "Transit countries",
        help="Every country the goods passed through on their way here",
        rule="g7.russian_ban",
        article=BAN,
        example=[{"country": "AE"}],
    )
    sanctions_exemption: Exemption = declared(
        "Exemption claimed from the ban", rule="g7.russian_ban", article=BAN
    )


class Stones(Declared):
    """The stones (G7 control point)"""

    @classmethod
    def stored_before(cls, stored: dict[str, Any]) -> dict[str, Any]:
        """A stone's ``origin`` was once a list: a sanctioned country in it is the one kept
        (so an old Russian stone stays Russian on replay)."""
        listed = stored.get("stones")
        if not isinstance(listed, list):
            return stored
        banned = set(PARAMETERS.value("sanctioned_countries", date.today()))
        rows = []
        for stone in listed:
            origin = stone.get("origin") if isinstance(stone, Mapping) else None
            if isinstance(origin, list):
                tainted = [c for c in origin if c in banned]
                stone = {k: v for k, v in stone.items() if k != "origin"}
                if tainted or origin:
                    stone["origin"] = (tainted or origin)[0]
            rows.append(stone)
        return {**stored, "stones": rows}

    stones: list[Stone] = declared(
        "Stones",
        help="Each stone with its serial or lot number, weight and country of mining",
        rule="nl.trace.serial_lot",
        article="G7 traceability; " + BAN,
        example=[{"id": "GIA-2231", "carats": "0.70", "origin": "BW"}],
    )
    origin_statement: OriginStatement = declared(
        "Due-diligence statement on origin",
        help="The importer's statement on the stones' origin, where the weight requires it",
        rule="g7.mining_countries",
        article=BAN,
    )


class Destination(Declared):
    """The destination of an export of polished diamonds (G7 certificate)"""

    destination: Country = declared(
        "Destination country",
        help="Where the stones are exported to: a G7 market needs the G7 certificate",
        rule="g7.polished.certificate",
        article="G7 certificate for polished diamonds",
        example="US",
    )


class Document(Declared):
    """One evidence document, kept as its SHA-256."""

    sha256: Digest = declared(
        "Document",
        help="The document itself: its SHA-256 is kept, not the file",
        rule="g7.rough.non_russian",
        article=BAN,
        required_when=True,
        example="a" * 64,
    )


class OriginEvidence(Declared):
    """The origin evidence received (G7 verification of origin)"""

    @classmethod
    def stored_before(cls, stored: dict[str, Any]) -> dict[str, Any]:
        return was_list(_shares_were_a_mapping(stored), "origin_documents", "sha256")

    origin_shares: list[Share] = declared(
        "Shares by country of mining",
        help="Each country of mining with its share of the parcel, together 100%",
        rule="g7.rough.non_russian",
        article=BAN,
        required_when=True,
        example=[{"country": "AO", "percent": "100"}],
    )
    origin_documents: list[Document] = declared(
        "Evidence documents",
        help="Each document the control point checked",
        rule="g7.rough.non_russian",
        article=BAN,
        required_when=True,
        example=[{"sha256": "a" * 64}],
    )


def register_fields(register: FieldsRegistrar) -> None:
    register.presentation(Origin)
    register.presentation(Stones, goods=CUT)
    register.presentation(Destination, directions={"export"}, goods=CUT)
    register.action("verify_origin", OriginEvidence)
