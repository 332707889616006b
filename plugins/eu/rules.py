"""The import conditions of Reg. (EC) 2368/2002 Art. 3, as rules of the EU plugin."""

from __future__ import annotations

from pathlib import Path

from caratflow.law import Case, DatedParameters, RuleBook, Verdict, hold, passed

HERE = Path(__file__).parent
PARAMETERS = DatedParameters(*sorted((HERE / "parameters").glob("*.toml")))
RULES = RuleBook("eu", HERE / "rules.toml")


@RULES.rule("eu.import.certificate", directions={"import"}, goods={"rough"})
def certificate_from_participant(case: Case) -> Verdict:
    """Rough diamonds are imported only with a certificate of a KP participant's authority."""
    participants = PARAMETERS.value("kp_participants", case.legal_date)
    country = case.shipment.certificate.issuing_country
    if country not in participants:
        return hold(
            f"the certificate was issued in {country}, which is not a Kimberley Process "
            "participant: the consignment is to be detained (Art. 5(1)(b))",
            issuing_country=country,
        )
    return passed(f"certificate issued by a participant ({country})")


@RULES.rule("eu.import.container", directions={"import"}, goods={"rough"})
def containers_sealed(case: Case) -> Verdict:
    """Rough diamonds arrive in tamper-proof containers whose export seals are unbroken."""
    broken = [c.label for c in case.shipment.containers if not c.seals_intact]
    if broken:
        return hold(
            f"seals broken on container(s) {', '.join(broken)}: the consignment is to be "
            "detained (Art. 5(1)(b))",
            containers=broken,
        )
    return passed("every container's seals are intact")
