"""The Community is one territory (Reg. (EC) 2368/2002 Art. 1): what moves between two
Member States is neither an import nor an export under the Regulation.

"Import" and "export" are entering and leaving the territory of a participant (Art. 2(j),
(k)); the EU is one participant (Annex II), the territories of its Member States one
territory (Arts. 1, 2(o)). So no Community certificate issues for rough bound for another
Member State (Art. 12(1)(c): the goods must be going into the territory of a participant,
and Art. 11 governs only exports *from the Community*), and no KP import control applies
to rough coming from one (Art. 3 governs imports *into the Community*). Both are guards:
such a presentation is refused with its article and nothing is recorded; nor can a
record presented before verify its way to a certificate.

The Member States are dated data (``parameters/territory.toml``), apart from the
participants list.
"""

from __future__ import annotations

from caratflow.law.rules import Case, Verdict, refuse
from caratflow.plugins.eu.fields import Export
from caratflow.plugins.eu.rules import COMMUNITY, ROUGH, RULES, T, community, parameter

ASSESSED = {"present", "verify"}


def one_entity(case: Case, country: str) -> bool:
    """Whether ``country`` is no Member State but one entity with the Union for the scheme
    (Greenland, Art. 1 second paragraph): its findings say so, not "a Member State"."""
    return country in parameter(case, "one_entity_with_the_union")


@RULES.rule("eu.export.issue", directions={"export"}, goods=ROUGH, actions=ASSESSED, guard=True)
def bound_for_outside_the_community(case: Case) -> Verdict | None:
    """A Community certificate issues only for rough leaving the Community: a movement to
    another Member State is no export (Arts. 1, 2(k), 12(1)(c))."""
    destination = Export.of(case.details).destination
    if destination not in community(case):
        return None
    message = (
        "eu.territory.no_export_one_entity"
        if one_entity(case, destination)
        else ("eu.territory.no_export")
    )
    return refuse(
        T(message, destination=destination),
        field="destination",
        destination=destination,
    )


@RULES.rule(
    "eu.import.certificate", directions={"import"}, goods=ROUGH, actions=ASSESSED, guard=True
)
def coming_from_outside_the_community(case: Case) -> Verdict | None:
    """Only rough entering the Community from outside it is imported: what comes from another
    Member State, or under a Community certificate, takes no KP import control (Arts. 1,
    2(j), 3)."""
    certificate = case.shipment.certificate
    within = community(case)
    if certificate.issuing_country in within:
        field, country = "certificate.issuing_country", certificate.issuing_country
        if country == COMMUNITY:
            came = T("eu.territory.came.community_certificate")
        elif one_entity(case, country):
            came = T("eu.territory.came.one_entity_certificate", country=country)
        else:
            came = T("eu.territory.came.member_state_certificate", country=country)
    elif certificate.provenance in within:
        field, country = "certificate.provenance", certificate.provenance
        came = T(
            "eu.territory.came.one_entity"
            if one_entity(case, country)
            else "eu.territory.came.member_state",
            country=country,
        )
    else:
        return None
    return refuse(
        T("eu.territory.no_import", came=came),
        field=field,
        country=country,
    )
