"""The G7 certificate: the condition for exporting polished diamonds to G7 markets.

LAW.md g7.polished.certificate. The control point validates such an export (``verify``)
only when every stone listed names its digital identity and each identity's lineage is
clean: traced to rough parcels of documented non-Russian origin (``identities.
lineage_is_clean``). Validation then issues the G7 certificate, listing the stones'
identities (``documents.G7_CERTIFICATE.issued_by``); the export itself needs it valid.
Exports elsewhere, and rough, are not concerned. G7 markets are dated data
(``parameters/traceability.toml``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from caratflow.jurisdiction.texts import Joined
from caratflow.law.rules import Case, Verdict, hold, passed, refuse
from caratflow.models import DocumentStatus, Shipment
from caratflow.plugins.belgium_g7.fields import Destination, Stones
from caratflow.plugins.belgium_g7.identities import identity_of, session_of
from caratflow.plugins.belgium_g7.lineage import lineage_is_clean
from caratflow.plugins.belgium_g7.rules import PARAMETERS, RULES, T, stones

CERTIFIED_GOODS = {"polished", "synthetic"}
G7_CERTIFICATE_KIND = "belgium_g7.g7_certificate"


def bound_for_a_g7_market(shipment: Shipment, on: date) -> bool:
    """An export of polished (or synthetic) stones to a G7 member or the EU."""
    return (
        shipment.direction == "export"
        and shipment.goods in CERTIFIED_GOODS
        and Destination.of(shipment.details).destination in PARAMETERS.value("g7_markets", on)
    )


def identities_listed(shipment: Shipment) -> list[str]:
    listed = Stones.of(shipment.details).stones or []
    return [n for n in (identity_of(s) for s in listed) if n]


@RULES.rule(
    "g7.polished.certificate", directions={"export"}, goods=CERTIFIED_GOODS, actions={"verify"}
)
def every_stone_traced_clean(case: Case) -> Iterable[Verdict]:
    """A G7 certificate issues only for stones whose every lineage is clean."""
    if not bound_for_a_g7_market(case.shipment, case.legal_date):
        return
    listed = stones(case)
    numbers = identities_listed(case.shipment)
    if not listed or len(numbers) != len(listed):
        yield hold(T("g7.certificate.identities", named=len(numbers), listed=len(listed)))
        return
    check = lineage_is_clean(
        session_of(case), numbers, case.legal_date, authority=case.shipment.authority_code
    )
    if not check:
        tainted = sorted({p.identity for p in check.problems})
        yield refuse(
            T(
                "g7.certificate.lineage",
                count=len(tainted),
                problems=Joined("; ", (p.message for p in check.problems)),
            ),
            problems=[p.as_dict() for p in check.problems],
            russian=check.russian,
        )
        return
    yield passed(T("g7.traced", count=len(numbers)))


@RULES.rule(
    "g7.polished.certificate", directions={"export"}, goods=CERTIFIED_GOODS, actions={"export"}
)
def leaves_with_its_g7_certificate(case: Case) -> Verdict | None:
    """Polished diamonds go to a G7 market only with a valid G7 certificate."""
    if not bound_for_a_g7_market(case.shipment, case.legal_date):
        return None
    document = case.registry.document_of(case.shipment.id, G7_CERTIFICATE_KIND)
    if document is None or document.status != DocumentStatus.VALID:
        state = (
            T("g7.certificate.none")
            if document is None
            else T("g7.certificate.revoked", number=document.number)
        )
        return refuse(
            T(
                "g7.certificate.needed",
                destination=Destination.of(case.shipment.details).destination,
                state=state,
            )
        )
    return passed(T("g7.certificate.leaves", number=document.number))
