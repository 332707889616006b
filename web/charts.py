"""Small server-drawn SVG charts (no script, styled by the stylesheet)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TypeVar

from markupsafe import Markup, escape

T = TypeVar("T")
WIDTH, HEIGHT, PAD, AXIS = 720, 180, 28, 16


def bars(
    items: Sequence[T],
    value: Callable[[T], Decimal | int],
    label: Callable[[T], str],
    title: str,
    describe: Callable[[T], str] = str,
) -> Markup:
    """Vertical bars, one per item, scaled to the largest; each with a tooltip."""
    top = max((value(i) for i in items), default=0) or 1
    step = (WIDTH - PAD * 2) / max(len(items), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT + AXIS}"><title>{escape(title)}</title>',
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}"/>',
    ]
    for n, item in enumerate(items):
        h = float(value(item)) / float(top) * (HEIGHT - PAD)
        x = PAD + n * step
        parts.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{HEIGHT - h:.1f}" '
            f'width="{max(step - 2, 1):.1f}" height="{h:.1f}">'
            f"<title>{escape(describe(item))}</title></rect>"
        )
        if n % 5 == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{HEIGHT + 12}" text-anchor="middle">'
                f"{escape(label(item))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))
