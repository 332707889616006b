"""Rules of the G7/EU Russian diamond measures."""

from __future__ import annotations

from pathlib import Path

from caratflow.law import Case, DatedParameters, RuleBook, Verdict, passed, refuse

HERE = Path(__file__).parent
PARAMETERS = DatedParameters(*sorted((HERE / "parameters").glob("*.toml")))
RULES = RuleBook("belgium_g7", HERE / "rules.toml")


@RULES.rule("g7.rough.non_russian", goods={"rough"})
def rough_not_russian(case: Case) -> Verdict:
    """Rough diamonds need documented non-Russian origin, whatever the KP certificate says."""
    sanctioned = set(PARAMETERS.value("sanctioned_countries", case.legal_date))
    certificate = case.shipment.certificate
    tainted = sorted(sanctioned & {*certificate.origin, certificate.provenance})
    if tainted:
        return refuse(
            f"origin or provenance {', '.join(tainted)} is covered by the ban on Russian "
            "diamonds; a valid Kimberley Process certificate does not clear it",
            countries=tainted,
        )
    return passed("no Russian origin or provenance declared")
