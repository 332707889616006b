"""The state machine of one plugin set, drawn as SVG (no Graphviz, no script).

States are laid out left to right by their distance from where a shipment starts;
each arrow carries the actions that take it; an arrow going back (an appeal
overturned, evidence received) curves underneath; actions that record a decision
without moving the shipment are listed inside the state they happen in. Styling
comes from the stylesheet (classes ``wf-*``), so the page's CSP allows no inline style.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from markupsafe import Markup, escape

from caratflow.jurisdiction.workflow import STAY, Workflow
from caratflow.web import i18n

NODE_W, NODE_H, LINE_H = 196, 40, 15
GAP = 120  # between columns: room for the labels of the arrows leaving a state
COL_W, ROW_GAP, MARGIN = NODE_W + GAP, 34, 24
CHAR_W = 6.4  # of the 11px label font, to size the label backgrounds


def workflow_svg(
    workflow: Workflow, title: str = "", counts: Mapping[str, int] | None = None
) -> Markup:
    """The diagram, each state with how many shipments stand in it now (``counts``); it
    scales down to the width of its card."""
    counts = counts or {}
    states = list(workflow.states)
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    stays: dict[str, list[str]] = defaultdict(list)
    for t in workflow.transitions:
        for source in t.sources:
            if t.dest in (STAY, source):
                stays[source].append(t.action)
            elif t.action not in edges[(source, t.dest)]:
                edges[(source, t.dest)].append(t.action)

    layer = _layers(states, list(edges))
    columns: dict[int, list[str]] = defaultdict(list)
    for name in states:
        columns[layer[name]].append(name)
    height_of = {s: NODE_H + LINE_H * len(dict.fromkeys(stays[s])) for s in states}
    pos: dict[str, tuple[float, float]] = {}
    for col in sorted(columns):
        names = columns[col]
        if col > 0:  # near the states that lead here
            names.sort(key=lambda s: _barycentre(s, edges, pos))
        y = float(MARGIN)
        for name in names:
            pos[name] = (MARGIN + col * COL_W, y)
            y += height_of[name] + ROW_GAP
    body_h = max(y + height_of[s] for s, (_, y) in pos.items())
    width = MARGIN * 2 + max(columns) * COL_W + NODE_W

    parts: list[str] = []
    labels: list[tuple[float, float, float]] = []  # placed label boxes: x, y, width
    tags: list[str] = []  # drawn last, over the lines
    back_depth = 0
    for (source, dest), actions in edges.items():
        label = " / ".join(actions)
        (sx, sy), (dx, dy) = pos[source], pos[dest]
        if layer[dest] > layer[source]:
            x1, y1 = sx + NODE_W, sy + NODE_H / 2
            x2, y2 = dx, dy + NODE_H / 2
            bend = (x2 - x1) / 2
            path = (
                f"M{x1:.0f},{y1:.0f} C{x1 + bend:.0f},{y1:.0f} "
                f"{x2 - bend:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
            )
            # In the gap right after the source, where the arrow is still its own.
            t = min(GAP / 2 / (x2 - x1), 0.5)
            lx = x1 + GAP / 2
            ly = y1 + (y2 - y1) * (3 * t**2 - 2 * t**3) + 4
            css = "wf-edge"
        else:  # backwards or within a column: under everything
            back_depth += 1
            low = body_h + 18 * back_depth
            x1, y1 = sx + NODE_W / 2 + 12, sy + height_of[source]
            x2, y2 = dx + NODE_W / 2 - 12, dy + height_of[dest]
            path = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{low:.0f} {x2:.0f},{low:.0f} {x2:.0f},{y2:.0f}"
            lx, ly = (x1 + x2) / 2, low - 0.25 * (low - max(y1, y2)) + 4
            css = "wf-edge wf-back"
        parts.append(f'<path class="{css}" d="{path}" marker-end="url(#wf-arrow)"/>')
        tags.append(_label(*_free_spot(lx, ly, label, labels), label))
    for name in states:
        x, y = pos[name]
        state = workflow.states[name]
        kind = "wf-terminal" if state.terminal else "wf-plugin" if state.plugin else "wf-core"
        h = height_of[name]
        parts.append(f'<g class="wf-node {kind}" data-state="{escape(name)}">')
        parts.append(f"<title>{escape(i18n.label(state.description or name))}</title>")
        parts.append(f'<rect x="{x}" y="{y:.0f}" width="{NODE_W}" height="{h}" rx="7"/>')
        if state.terminal:
            parts.append(
                f'<rect class="wf-inner" x="{x + 3}" y="{y + 3:.0f}" width="{NODE_W - 6}" '
                f'height="{h - 6}" rx="5"/>'
            )
        n = counts.get(name, 0)
        parts.append(
            f'<text class="wf-name" x="{x + NODE_W / 2}" y="{y + 25:.0f}">{escape(name)}</text>'
            f'<g class="wf-count{" wf-none" if not n else ""}" data-count="{n}">'
            f'<rect x="{x + NODE_W - 30}" y="{y - 9:.0f}" width="36" height="18" rx="9"/>'
            f'<text x="{x + NODE_W - 12}" y="{y + 4:.0f}">{n}</text></g>'
        )
        for i, action in enumerate(dict.fromkeys(stays[name])):
            parts.append(
                f'<text class="wf-stay" x="{x + NODE_W / 2}" y="{y + NODE_H + LINE_H * i + 2:.0f}">'
                f"↻ {escape(action)}</text>"
            )
        parts.append("</g>")
    parts.extend(tags)
    lowest = max((y for _, y, _ in labels), default=0)
    total_h = max(body_h + 18 * back_depth, lowest) + MARGIN + 10
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="wf" role="img" '
        f'viewBox="0 0 {width:.0f} {total_h:.0f}" width="{width:.0f}">'
        f"<title>{escape(title or 'workflow')}</title>"
        '<defs><marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path class="wf-arrowhead" d="M0,0 L10,5 L0,10 z"/></marker></defs>'
    )
    return Markup(head + "".join(parts) + "</svg>")


def _layers(states: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest distance from where shipments start, over the edges that go forward.

    Edges that close a cycle (found by a depth-first walk from the start) are the ones
    drawn backwards; every other arrow points right.
    """
    outgoing: dict[str, list[str]] = defaultdict(list)
    for source, dest in edges:
        outgoing[source].append(dest)
    incoming = {dest for _, dest in edges}
    roots = [s for s in states if s not in incoming] or states[:1]
    forward: set[tuple[str, str]] = set()
    seen: set[str] = set()
    on_path: set[str] = set()

    def walk(here: str) -> None:
        seen.add(here)
        on_path.add(here)
        for there in outgoing[here]:
            if there not in on_path:
                forward.add((here, there))
                if there not in seen:
                    walk(there)
        on_path.discard(here)

    for root in roots + states:
        if root not in seen:
            walk(root)
    layer = dict.fromkeys(states, 0)
    for _ in states:  # relax: at most one pass per state on an acyclic graph
        changed = False
        for source, dest in forward:
            if layer[dest] < layer[source] + 1:
                layer[dest] = layer[source] + 1
                changed = True
        if not changed:
            break
    return layer


def _barycentre(name: str, edges: dict[tuple[str, str], list[str]], pos: dict) -> float:  # type: ignore[type-arg]
    ys = [pos[s][1] for (s, d) in edges if d == name and s in pos]
    return sum(ys) / len(ys) if ys else 0.0


def _free_spot(
    x: float, y: float, text: str, placed: list[tuple[float, float, float]]
) -> tuple[float, float]:
    """Move a label down until it overlaps none placed before (and remember it)."""
    width = len(text) * CHAR_W + 8
    while any(abs(x - px) * 2 < width + pw and abs(y - py) < 16 for px, py, pw in placed):
        y += 16
    placed.append((x, y, width))
    return x, y


def _label(x: float, y: float, text: str) -> str:
    w = len(text) * CHAR_W + 8
    return (
        f'<g class="wf-label"><rect x="{x - w / 2:.0f}" y="{y - 10:.0f}" width="{w:.0f}" '
        f'height="15" rx="3"/><text x="{x:.0f}" y="{y + 1:.0f}">{escape(text)}</text></g>'
    )
