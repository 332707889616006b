"""G7/EU measures on Russian diamonds at the Antwerp control point.

Implements the Belgian Council of Ministers' communiqué of 29 March 2024 and the EU
law it rests on (Reg. (EU) 833/2014 Art. 3p as amended): documented non-Russian
origin for rough, polished and synthetic diamonds. Usable by any G7/EU control point
by configuration. Rules in ``rules.py``, legal text in ``rules.toml``, dated values
(sanctioned origins, thresholds) in ``parameters/``; digital identities and lineage in
``identities.py``, what another control point may ask about them in ``lookups.py``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from caratflow.jurisdiction.contributions import AuthorityProfile
from caratflow.jurisdiction.fields import FieldsRegistrar
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.jurisdiction.lookups import LookupType
from caratflow.jurisdiction.workflow import PRESENTED, WorkflowRegistrar
from caratflow.law.rules import Rule
from caratflow.plugins.belgium_g7 import certificate, identity_rules  # noqa: F401 - their rules
from caratflow.plugins.belgium_g7.commands import caratflow_cli_extend  # noqa: F401 - its CLI
from caratflow.plugins.belgium_g7.documents import caratflow_documents_register  # noqa: F401
from caratflow.plugins.belgium_g7.fields import register_fields
from caratflow.plugins.belgium_g7.lookups import IDENTITY_LOOKUP
from caratflow.plugins.belgium_g7.rules import RULES, TEXTS
from caratflow.plugins.belgium_g7.web import caratflow_web_extend  # noqa: F401 - its pages

HERE = Path(__file__).parent
EVIDENCE_REQUESTED = "origin_evidence_requested"
ORIGIN_VERIFIED = "origin_verified"
EVIDENCE = ("origin_shares", "origin_documents")
"""What the trader's origin evidence completes: the shares by mining country and the
SHA-256 of each document FPS Economy checked (see ``rules.origin_documents_attached``)."""


@hookimpl
def caratflow_workflow_extend(register: WorkflowRegistrar) -> None:
    register.state(
        EVIDENCE_REQUESTED,
        description="the control point asked the trader for evidence of the mining countries",
    )
    register.state(
        ORIGIN_VERIFIED,
        description="FPS Economy found the evidence shows a non-Russian origin; "
        "the content check follows",
    )
    register.transition(
        "request_origin_evidence",
        PRESENTED,
        EVIDENCE_REQUESTED,
        requires_reason=True,
        description="ask for documents proving non-Russian origin before verifying",
    )
    register.transition(
        "verify_origin",
        EVIDENCE_REQUESTED,
        ORIGIN_VERIFIED,
        requires_clean=True,
        amends=EVIDENCE,
        description="the evidence received documents a non-Russian origin",
    )
    register.transition(
        "verify",
        ORIGIN_VERIFIED,
        "verified",
        requires_clean=True,
        description="content checked against the certificate; origin documented",
    )
    for action in ("hold", "refuse"):
        register.transition(
            action,
            (EVIDENCE_REQUESTED, ORIGIN_VERIFIED),
            "held" if action == "hold" else "refused",
            requires_reason=True,
            description="detain the consignment" if action == "hold" else "refuse for good",
        )
    for duty in tomllib.loads((HERE / "control_point.toml").read_text("utf-8"))["duty"]:
        register.duty(duty["code"], name=duty["name"], actions=duty["actions"], basis=duty["basis"])


@hookimpl
def caratflow_fields_register(register: FieldsRegistrar) -> None:
    """The origin, route and stones the G7 rules read, and the origin evidence."""
    register_fields(register)


@hookimpl
def caratflow_rules_register(register: Callable[[Rule], None]) -> None:
    for rule in RULES:
        register(rule)


@hookimpl
def caratflow_authorities_register(register: Callable[[AuthorityProfile], None]) -> None:
    """The Antwerp Diamond Office is the control point: BE enables this plugin too (its
    particulars come from the eu plugin's Annex III profile where both are enabled)."""
    register(
        AuthorityProfile(
            code="BE",
            name="FPS Economy, Diamond Office Antwerp",
            country="BE",
            zone="Europe/Brussels",
            plugins=("belgium_g7",),
        )
    )


@hookimpl
def caratflow_demo_register(register: Callable[[Mapping[str, Any]], None]) -> None:
    for payload in json.loads((HERE / "demo.json").read_text("utf-8")):
        register(payload)


@hookimpl
def caratflow_lookups_register(register: Callable[[LookupType], None]) -> None:
    """g7.digital_identity, nl.trace.serial_lot: other control points ask about an identity."""
    register(IDENTITY_LOOKUP)


# -- what a person reads of it, in five languages (issue 23) ---------------------------------


@hookimpl
def caratflow_texts_register(register: Callable[[Mapping[str, Mapping[str, str]]], None]) -> None:
    register(TEXTS)
