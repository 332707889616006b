"""Rules of FOR-2004-02-24-470 (Norway)."""

from __future__ import annotations

from pathlib import Path

from caratflow.law import Case, DatedParameters, RuleBook, Verdict, passed, refuse

HERE = Path(__file__).parent
PARAMETERS = DatedParameters(*sorted((HERE / "parameters").glob("*.toml")))
RULES = RuleBook("norway", HERE / "rules.toml")


@RULES.rule("no.import.gardermoen", directions={"import"}, goods={"rough"})
def imported_through_gardermoen(case: Case) -> Verdict:
    """Rough diamonds may be imported only through Oslo Lufthavn Gardermoen."""
    allowed = PARAMETERS.value("import_entry_points", case.legal_date)
    entry = case.shipment.entry_point
    if entry not in allowed:
        return refuse(
            f"imports of rough diamonds must enter through {' or '.join(allowed)} "
            f"(Oslo Lufthavn Gardermoen), not {entry or 'an unnamed entry point'}",
            entry_point=entry,
            allowed=allowed,
        )
    return passed(f"entered through {entry}")
