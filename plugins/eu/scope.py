"""How long the EU plugin's records are kept, and which of the regulation's rules it does
not encode, with the reason."""

from __future__ import annotations

from datetime import date

from caratflow.jurisdiction.retention import RetentionFacts, years_after
from caratflow.law.rules import Case, Verdict, info
from caratflow.plugins.eu.rules import PARAMETERS, RULES, T

# LAW.md ids the plugin deliberately does not turn into checks, each with its reason.
OUT_OF_SCOPE = {
    "kp.dealers.records_5y": (
        "an obligation of each dealer toward its own books (KP Annex II); the authority's "
        "records are kept under Arts. 10(2) and 15(2) (eu.retain.import_3y, eu.export.copy_3y)"
    ),
}


@RULES.rule("eu.retain.import_3y", directions={"import"}, goods={"rough"}, actions={"release"})
def original_kept(case: Case) -> Verdict:
    """The original import certificate is kept at least three years."""
    years = PARAMETERS.value("retention_years", case.legal_date)
    until = years_after(case.legal_date, years)
    return info(T("eu.retain.original", until=until), keep_until=until)


@RULES.rule("eu.export.copy_3y", directions={"export"}, goods={"rough"}, actions={"export"})
def copy_kept(case: Case) -> Verdict:
    """The certified copy and the evidence of an export are kept at least three years."""
    years = PARAMETERS.value("retention_years", case.legal_date)
    until = years_after(case.decision_date, years)
    return info(T("eu.retain.copy", until=until), keep_until=until)


def keep_until(record: RetentionFacts) -> date | None:
    """Three years: from presentation for an import's original certificate (Art. 10(2)),
    from validation for an export's copy and evidence (Arts. 12(4), 15(2))."""
    if record.goods != "rough":
        return None
    years = PARAMETERS.value("retention_years", record.presented_on)
    if record.direction == "export":
        issued = record.last("verify", "export") or record.presented_on
        return years_after(issued, years)
    return years_after(record.presented_on, years)
