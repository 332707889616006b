"""G7 digital identities over HTTP: register a parcel or a stone, look it up with its
inclusion proof, follow its lineage (issue 8; LAW.md g7.digital_identity, g7.lineage).

| method and path | what |
|---|---|
| ``POST /api/v1/identities`` | register; a stone cut here names its ``parents`` in the body |
| ``GET /api/v1/identities/<id>`` | the record and its inclusion proof, or "pending" |
| ``GET /api/v1/identities/<id>/lineage`` | ancestors and descendants, as nodes and edges |
| ``GET /identities/<id>/lineage`` | the same as a page, drawn |

Why ``parents`` in the body rather than ``POST …/<id>/cuts``: a stone is born of its
parents, and which they are never changes. Registering both at once seals the stone and
its lineage in one ledger leaf, in one transaction with the weight check, so there is
never a stone without its lineage, nor a lineage added (or changed) after the leaf that
another authority already verified.

The plugin's own face (``caratflow_web_extend``), built from ``caratflow.faces``
alone: the API's conventions, reused rather than copied: bearer tokens, roles (an
auditor reads, an officer registers), authority isolation (another authority's identity
is not found), one JSON error shape, refused access recorded. A deployment without this
plugin serves none of these routes. Only authorities that enable
the belgium_g7 plugin keep identities: anyone else is refused (403) with that reason.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any, Literal

from flask import Blueprint, Response, render_template, url_for
from flask_babel import get_locale
from markupsafe import Markup, escape
from pydantic import Field

from caratflow.case.access import Permission
from caratflow.faces import (
    ErrorOut,
    Exact,
    Out,
    Register,
    TreeHeadOut,
    operation,
    requires,
    web,
)
from caratflow.jurisdiction.hookspecs import hookimpl
from caratflow.jurisdiction.texts import render
from caratflow.models import IdentityKind
from caratflow.plugins.belgium_g7 import identities, lookups
from caratflow.plugins.belgium_g7 import lineage as g7_lineage
from caratflow.plugins.belgium_g7.identities import IdentityIn
from caratflow.plugins.belgium_g7.lineage import LineageGraph
from caratflow.plugins.belgium_g7.rules import TEXTS

blueprint = Blueprint("identities_api", __name__, url_prefix="/api/v1")
pages = Blueprint("identities", __name__, url_prefix="/identities", template_folder="templates")


# -- answers, as the OpenAPI document describes them --------------------------------------


class ProofOut(Out):
    """An RFC 9162 inclusion proof; ``caratflow.ledger.proofs.check_inclusion`` verifies it."""

    seq: int
    leaf_hash: str
    tree_size: int
    proof: list[str]
    tree_head: TreeHeadOut
    leaf_data: str = Field(description="the sealed leaf: its SHA-256 (RFC 9162) is leaf_hash")


class LedgerRefOut(Out):
    status: Literal["pending", "sequenced", "missing"] = Field(
        description="pending: sealed, not yet given its place in the tree (no proof yet)"
    )
    message: str
    matches_record: bool = Field(description="the record still says what its leaf sealed")
    leaf_hash: str | None = None
    seq: int | None = None
    proof: ProofOut | None = None


class ProblemOut(Out):
    identity: str
    rule: str = Field(description="the LAW.md rule id, e.g. 'g7.lineage'")
    message: str


class LineageVerdictOut(Out):
    on: date = Field(description="the legal date the lineage was judged on")
    clean: bool = Field(description="traced to rough of documented non-Russian origin")
    russian: bool
    roots: list[str]
    origin_countries: list[str]
    problems: list[ProblemOut]


class ParentOut(Out):
    id: str
    carats: Exact


class IdentityOut(Out):
    id: str
    authority: str
    kind: IdentityKind
    carats: Exact
    origin: dict[str, str] = Field(description="declared shares in percent, where it starts")
    origin_countries: list[str] = Field(description="declared, or inherited from the parents")
    documents: list[str]
    parents: list[ParentOut]
    registered_on: date
    registered_at: datetime
    identity_required: bool
    threshold_carats: Exact | None
    lineage: LineageVerdictOut
    ledger: LedgerRefOut


class NodeOut(Out):
    id: str
    kind: IdentityKind
    carats: Exact
    origin: dict[str, str]
    origin_countries: list[str]
    relation: Literal["self", "ancestor", "descendant"]
    layer: int = Field(description="cuts from the earliest root shown")


class EdgeOut(Out):
    parent: str
    child: str
    carats: Exact = Field(description="the child's carats cut from this parent")


class LineageOut(Out):
    id: str
    nodes: list[NodeOut]
    edges: list[EdgeOut]
    roots: list[str]
    truncated: bool
    lineage: LineageVerdictOut


_DENIED = {
    401: ("no valid bearer token", ErrorOut),
    403: ("the role may not, or no authority of yours keeps G7 identities", ErrorOut),
}
_UNKNOWN = {404: ("no such identity (or another authority's)", ErrorOut)}


# -- URL table ----------------------------------------------------------------------------


@blueprint.post("/identities")
@operation(
    summary="Register a parcel's or a stone's digital identity",
    description=(
        "Seals the identity as a ledger leaf in the same transaction. A stone cut here "
        "names its parents (with the carats from each, when more than one); it inherits "
        "their origin, and the carats cut from a parent never exceed the parent's "
        "(g7.lineage: 422 with the finding). The proof follows once the ledger sequencer ran."
    ),
    tag="identities",
    body=IdentityIn,
    body_example={
        "id": "BE-ADO-2026-0001",
        "kind": "polished",
        "carats": "1.02",
        "parents": [{"id": "BE-ADO-2026-P001"}],
        "documents": ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"],
    },
    responses={
        201: ("registered; its inclusion proof is pending", IdentityOut),
        **_DENIED,
        409: ("this ID is registered already", ErrorOut),
        422: ("invalid input (every bad field named), or the law forbids it", ErrorOut),
    },
    response_headers={201: {"Location": "the identity's URL"}},
)
def register() -> Response:
    face = web()
    actor, session = face.actor(), face.session()
    number = identities.register_identity(session, face.body(), actor)
    session.commit()
    response = face.json(lookups.lookup(session, number, actor).as_json(), 201)
    response.headers["Location"] = url_for(".identity", identity_id=number)
    return response


@blueprint.get("/identities/<identity_id>")
@operation(
    summary="A digital identity with its inclusion proof",
    description="Before the ledger sequencer ran, ledger.status is 'pending' and proof null.",
    tag="identities",
    responses={200: ("the identity", IdentityOut), **_DENIED, **_UNKNOWN},
)
def identity(identity_id: str) -> Response:
    face = web()
    return face.json(lookups.lookup(face.session(), identity_id, face.actor()).as_json())


@blueprint.get("/identities/<identity_id>/lineage")
@operation(
    summary="The lineage graph of an identity: ancestors to the roots, and descendants",
    tag="identities",
    responses={200: ("nodes and edges", LineageOut), **_DENIED, **_UNKNOWN},
)
def lineage(identity_id: str) -> Response:
    face = web()
    graph = g7_lineage.lineage_graph(face.session(), identity_id, face.actor())
    return face.json(graph.as_dict())


@pages.get("/<identity_id>/lineage")
@requires(Permission.READ)
def lineage_page(identity_id: str) -> str:
    graph = g7_lineage.lineage_graph(web().session(), identity_id, web().actor())
    return render_template("identities/lineage.html", graph=graph, svg=lineage_svg(graph))


@hookimpl
def caratflow_web_extend(register: Register) -> None:
    register(blueprint, api=True)
    register(pages)


# -- the drawing ----------------------------------------------------------------------------


def say(msgid: str, **params: Any) -> str:
    """One of this plugin's texts in the reader's language (the drawing is made here)."""
    return render(TEXTS, msgid, str(get_locale()).split("_")[0], params)


NODE_W, NODE_H, COL_GAP, ROW_GAP, MARGIN = 220, 52, 110, 22, 20
RELATION_CLASS = {"self": "wf-plugin", "ancestor": "wf-core", "descendant": "wf-core"}


def lineage_svg(graph: LineageGraph) -> Markup:
    """The lineage left to right, roots first, one column per cut; styled by the
    workflow diagram's classes (the page's CSP allows no inline style)."""
    columns: dict[int, list[Any]] = defaultdict(list)
    for node in graph.nodes:
        columns[node.layer].append(node)
    position = {}
    for layer, nodes in sorted(columns.items()):
        for row, node in enumerate(nodes):
            position[node.number] = (
                MARGIN + layer * (NODE_W + COL_GAP),
                MARGIN + row * (NODE_H + ROW_GAP),
            )
    width = MARGIN * 2 + (max(columns, default=0) + 1) * (NODE_W + COL_GAP) - COL_GAP
    tallest = max((len(nodes) for nodes in columns.values()), default=1)
    height = MARGIN * 2 + tallest * (NODE_H + ROW_GAP) - ROW_GAP
    parts = []
    for edge in graph.edges:
        (px, py), (cx, cy) = position[edge.parent], position[edge.child]
        x1, y1, x2, y2 = px + NODE_W, py + NODE_H / 2, cx, cy + NODE_H / 2
        bend = (x2 - x1) / 2
        parts.append(
            f'<path class="wf-edge" d="M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} '
            f'{x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}" marker-end="url(#lineage-arrow)"/>'
        )
        label = f"{edge.carats} ct"
        lw = len(label) * 6.4 + 8
        lx, ly = (x1 + x2) / 2, (y1 + y2) / 2
        parts.append(
            f'<g class="wf-label" data-parent="{escape(edge.parent)}" '
            f'data-child="{escape(edge.child)}">'
            f'<rect x="{lx - lw / 2:.0f}" y="{ly - 10:.0f}" width="{lw:.0f}" height="15" rx="3"/>'
            f'<text x="{lx:.0f}" y="{ly + 1:.0f}">{escape(label)}</text></g>'
        )
    for node in graph.nodes:
        x, y = position[node.number]
        origin = ", ".join(node.origin_countries) or say("g7.lineage.no_origin")
        parts.append(
            f'<g class="wf-node {RELATION_CLASS[node.relation]}" data-identity="'
            f'{escape(node.number)}"><title>{escape(node.number)}: {escape(origin)}</title>'
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="7"/>'
            f'<text class="wf-name" x="{x + NODE_W / 2}" y="{y + 21}">{escape(node.number)}</text>'
            f'<text class="wf-stay" x="{x + NODE_W / 2}" y="{y + 40}">'
            f"{escape(say(f'g7.kind.{node.kind.value}'))} · {node.carats} ct · {escape(origin)}"
            "</text></g>"
        )
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="wf" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f"<title>{escape(say('g7.lineage.of', number=graph.number))}</title>"
        '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path class="wf-arrowhead" d="M0,0 L10,5 L0,10 z"/></marker></defs>'
    )
    return Markup(head + "".join(parts) + "</svg>")
