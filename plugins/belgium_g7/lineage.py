"""LAW.md g7.lineage: a stone's lineage traced to its rough (``lineage_is_clean``), and drawn
as a graph of ancestors and descendants (``lineage_graph``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caratflow.case import access
from caratflow.case.access import Actor
from caratflow.models import Authority, DigitalIdentity, IdentityCut, IdentityKind
from caratflow.plugins.belgium_g7.identities import (
    MAX_GRAPH_NODES,
    TRACE_CHUNK,
    WHOLE,
    exact_carats,
    require_g7,
    sanctioned_on,
    share_text,
    visible_row,
)
from caratflow.plugins.belgium_g7.rules import T


@dataclass(frozen=True)
class Problem:
    """Why a stone's lineage is not clean: the identity concerned and the rule it fails."""

    identity: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"identity": self.identity, "rule": self.rule, "message": self.message}


@dataclass(frozen=True)
class StoneLineage:
    """One stone traced to where its lineage starts (its roots)."""

    number: str
    found: bool
    roots: tuple[str, ...] = ()
    origin_countries: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    russian: bool = False

    @property
    def clean(self) -> bool:
        return self.found and not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "russian": self.russian,
            "roots": list(self.roots),
            "origin_countries": list(self.origin_countries),
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True)
class LineageCheck:
    """The lineage of several stones on one legal date; true when every one is clean."""

    on: date
    stones: Mapping[str, StoneLineage] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return all(stone.clean for stone in self.stones.values())

    @property
    def problems(self) -> list[Problem]:
        return [p for stone in self.stones.values() for p in stone.problems]

    @property
    def russian(self) -> list[str]:
        return [number for number, stone in self.stones.items() if stone.russian]


def lineage_is_clean(
    session: Session,
    identity_ids: Iterable[str],
    on: date,
    *,
    authority: str | None = None,
    as_of: datetime | None = None,
) -> LineageCheck:
    """Is every stone traced to rough parcels of documented non-Russian origin on ``on``?

    The answer is true or false (``bool(check)``) and says why per stone. A stone is clean
    when it is registered (at ``authority``, if named) and every root of its lineage is a
    rough parcel (a synthetic: its production record) whose mining countries are stated in
    full, backed by at least one document, and none of them sanctioned on ``on``. Any
    Russian share anywhere up the lineage makes the stone Russian (LAW.md g7.lineage,
    g7.mixed_parcels). ``as_of`` ignores stones registered after that instant (a replayed
    decision sees the register as it stood; parents are always registered before).
    """
    wanted = list(dict.fromkeys(identity_ids))
    sanctioned = sanctioned_on(on)
    table = DigitalIdentity.__table__
    starts: dict[str, Any] = {}
    for first in range(0, len(wanted), TRACE_CHUNK):
        chosen = [table.c.number.in_(wanted[first : first + TRACE_CHUNK])]
        if authority is not None:
            chosen.append(table.c.authority_code == authority)
        if as_of is not None:
            chosen.append(table.c.registered_at <= as_of)
        for row in session.execute(select(table.c.id, table.c.number, table.c.kind).where(*chosen)):
            starts[row.number] = row
    above = _walk_up(session, [row.id for row in starts.values()])
    root_ids = sorted({node for nodes in above.values() for node in nodes})
    found: dict[int, Any] = {}
    for first in range(0, len(root_ids), TRACE_CHUNK):
        for row in session.execute(
            select(
                table.c.id, table.c.number, table.c.kind, table.c.origin, table.c.documents
            ).where(table.c.id.in_(root_ids[first : first + TRACE_CHUNK]))
        ):
            found[row.id] = row
    roots = {
        start: sorted((found[node] for node in nodes), key=lambda r: r.number)
        for start, nodes in above.items()
    }
    traced = {}
    for number in wanted:
        start = starts.get(number)
        if start is None:
            problem = Problem(number, "g7.digital_identity", T("g7.lineage.unknown", number=number))
            traced[number] = StoneLineage(number, found=False, problems=(problem,))
        else:
            traced[number] = _judge(start, roots[start.id], sanctioned)
    return LineageCheck(on, traced)


def _walk_up(session: Session, stones: Sequence[int]) -> dict[int, set[int]]:
    """The roots above each stone (a stone without parents is its own root).

    Walked one cut at a time, each step one indexed look-up of the parents of the whole
    frontier, so the cost follows the lineages traced, not the register's size. (A single
    recursive CTE over many stones was measured on PostgreSQL at 1,000 stones among
    300,000 identities: the planner, misjudging the work table's size, merged against the
    whole child index at every step and hashed every identity to find the roots, 0.4 s
    and growing with the register; one stone's graph, in ``lineage_graph``, stays a CTE.)
    """
    cut = IdentityCut.__table__
    reaches: dict[int, set[int]] = {stone: {stone} for stone in stones}  # node -> its stones
    roots: dict[int, set[int]] = {stone: set() for stone in stones}
    frontier = set(stones)
    while frontier:
        ordered = sorted(frontier)
        parents: dict[int, list[int]] = defaultdict(list)
        for first in range(0, len(ordered), TRACE_CHUNK):
            for parent_id, child_id in session.execute(
                select(cut.c.parent_id, cut.c.child_id).where(
                    cut.c.child_id.in_(ordered[first : first + TRACE_CHUNK])
                )
            ):
                parents[child_id].append(parent_id)
        following: set[int] = set()
        for node in ordered:
            if not parents[node]:
                for stone in reaches[node]:
                    roots[stone].add(node)
            for parent in parents[node]:
                known = reaches.setdefault(parent, set())
                if not reaches[node] <= known:  # new stones below it (or a first visit)
                    known.update(reaches[node])
                    following.add(parent)
        frontier = following
    return roots


def _judge(stone: Any, roots: Sequence[Any], sanctioned: frozenset[str]) -> StoneLineage:
    """A stone's lineage against the law: what its roots document, and where from."""
    synthetic = IdentityKind(stone.kind) == IdentityKind.SYNTHETIC
    problems: list[Problem] = []
    countries: set[str] = set()
    russian = False
    for root in roots:
        kind = IdentityKind(root.kind)
        shares = {c: Decimal(s) for c, s in root.origin.items()}
        countries |= set(shares)
        if not synthetic and kind != IdentityKind.ROUGH_PARCEL:
            problems.append(
                Problem(
                    root.number,
                    "g7.lineage",
                    T("g7.lineage.no_rough", number=root.number, kind=T(f"g7.kind.a.{kind.value}")),
                )
            )
        total = sum(shares.values(), Decimal(0))
        if total != WHOLE:
            problems.append(
                Problem(
                    root.number,
                    "g7.scope" if synthetic else "g7.mining_countries",
                    T(
                        "g7.lineage.production_partial"
                        if synthetic
                        else "g7.lineage.mining_partial",
                        number=root.number,
                        percent=share_text(total),
                    ),
                )
            )
        if not root.documents:
            problems.append(
                Problem(
                    root.number,
                    "g7.scope" if synthetic else "g7.rough.non_russian",
                    T("g7.lineage.undocumented", number=root.number),
                )
            )
        tainted = sorted(sanctioned & set(shares))
        if tainted:
            russian = True
            portion = ", ".join(f"{c} {share_text(shares[c])}%" for c in tainted)
            problems.append(
                Problem(
                    root.number,
                    "g7.russian_ban" if synthetic else "g7.lineage",
                    T("g7.lineage.tainted", number=root.number, portion=portion),
                )
            )
    return StoneLineage(
        stone.number,
        found=True,
        roots=tuple(r.number for r in roots),
        origin_countries=tuple(sorted(countries)),
        problems=tuple(problems),
        russian=russian,
    )


@dataclass(frozen=True)
class GraphNode:
    number: str
    kind: IdentityKind
    carats: Decimal
    origin: Mapping[str, str]
    origin_countries: tuple[str, ...]
    relation: str  # self, ancestor or descendant
    layer: int  # cuts from the earliest root shown: 0 for a rough parcel

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.number,
            "kind": self.kind.value,
            "carats": str(self.carats),
            "origin": dict(self.origin),
            "origin_countries": list(self.origin_countries),
            "relation": self.relation,
            "layer": self.layer,
        }


@dataclass(frozen=True)
class GraphEdge:
    parent: str
    child: str
    carats: Decimal

    def as_dict(self) -> dict[str, str]:
        return {"parent": self.parent, "child": self.child, "carats": str(self.carats)}


@dataclass(frozen=True)
class LineageGraph:
    """A stone's lineage: every ancestor up to the roots, every descendant, and the cuts."""

    number: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool
    lineage: StoneLineage
    on: date

    def path_to_roots(self) -> list[list[str]]:
        """Every path from the stone up to a root, stone first (what "two cuts away" means)."""
        parents: dict[str, list[str]] = defaultdict(list)
        for edge in self.edges:
            parents[edge.child].append(edge.parent)

        def paths(number: str) -> list[list[str]]:
            above = sorted(parents.get(number, []))
            if not above:
                return [[number]]
            return [[number, *rest] for parent in above for rest in paths(parent)]

        return paths(self.number)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.number,
            "nodes": [n.as_dict() for n in self.nodes],
            "edges": [e.as_dict() for e in self.edges],
            "roots": list(self.lineage.roots),
            "truncated": self.truncated,
            "lineage": {"on": self.on.isoformat(), **self.lineage.as_dict()},
        }


def lineage_graph(
    session: Session, number: str, actor: Actor, *, on: date | None = None
) -> LineageGraph:
    """Ancestors to the roots and descendants of one identity, by two recursive CTEs.

    Each side stops at ``MAX_GRAPH_NODES`` (``truncated`` says so): a parcel cut into
    thousands of stones still answers at once.
    """
    access.require(actor, access.Permission.READ)
    row = visible_row(session, number, require_g7(session, actor))
    table, cut = DigitalIdentity.__table__, IdentityCut.__table__

    up = select(table.c.id.label("node")).where(table.c.id == row["id"]).cte("up", recursive=True)
    up = up.union(select(cut.c.parent_id).join(up, cut.c.child_id == up.c.node))
    down = (
        select(table.c.id.label("node")).where(table.c.id == row["id"]).cte("down", recursive=True)
    )
    down = down.union(select(cut.c.child_id).join(down, cut.c.parent_id == down.c.node))
    limit = MAX_GRAPH_NODES + 1
    ancestors = list(session.scalars(select(up.c.node).order_by(up.c.node).limit(limit)))
    descendants = list(session.scalars(select(down.c.node).order_by(down.c.node).limit(limit)))
    truncated = len(ancestors) > MAX_GRAPH_NODES or len(descendants) > MAX_GRAPH_NODES
    ancestors, descendants = ancestors[:MAX_GRAPH_NODES], descendants[:MAX_GRAPH_NODES]
    shown = set(ancestors) | set(descendants) | {row["id"]}

    rows = {}
    for first in range(0, len(shown), TRACE_CHUNK):
        chunk = sorted(shown)[first : first + TRACE_CHUNK]
        for found in session.execute(select(table).where(table.c.id.in_(chunk))).mappings():
            rows[found["id"]] = found
    edges = []
    ordered, above_or_self, below_or_self = sorted(shown), set(ancestors), set(descendants)
    for first in range(0, len(ordered), TRACE_CHUNK):
        chunk = ordered[first : first + TRACE_CHUNK]
        for parent_id, child_id, carats in session.execute(
            select(cut.c.parent_id, cut.c.child_id, cut.c.carats).where(cut.c.child_id.in_(chunk))
        ):
            if parent_id in shown and (child_id in above_or_self or parent_id in below_or_self):
                edges.append(
                    GraphEdge(
                        rows[parent_id]["number"], rows[child_id]["number"], exact_carats(carats)
                    )
                )
    edges.sort(key=lambda e: (e.parent, e.child))
    layers = _layers([r["number"] for r in rows.values()], edges)
    above = set(ancestors) - {row["id"]}
    nodes = [
        GraphNode(
            found["number"],
            IdentityKind(found["kind"]),
            exact_carats(found["carats"]),
            dict(found["origin"]),
            tuple(found["origin_countries"]),
            "self" if node == row["id"] else "ancestor" if node in above else "descendant",
            layers[found["number"]],
        )
        for node, found in sorted(rows.items(), key=lambda kv: kv[1]["number"])
    ]
    nodes.sort(key=lambda n: (n.layer, n.number))
    authority = session.get(Authority, row["authority_code"])
    assert authority is not None
    day = on or authority.local_date(datetime.now(UTC))
    check = lineage_is_clean(session, [row["number"]], day, authority=row["authority_code"])
    return LineageGraph(row["number"], nodes, edges, truncated, check.stones[row["number"]], day)


def _layers(numbers: Sequence[str], edges: Sequence[GraphEdge]) -> dict[str, int]:
    """Each node's longest distance (in cuts) from a root of the graph shown."""
    layer = dict.fromkeys(numbers, 0)
    for _ in numbers:  # relax; a lineage is acyclic, so this ends within len(numbers) passes
        changed = False
        for edge in edges:
            if layer[edge.child] < layer[edge.parent] + 1:
                layer[edge.child] = layer[edge.parent] + 1
                changed = True
        if not changed:
            break
    return layer
