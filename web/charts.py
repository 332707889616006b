"""Small server-drawn SVG bar charts (no script, styled by the stylesheet).

Each chart has its axes with their titles, ticks on the value axis at round numbers,
a label under every few bars, a legend when it shows more than one series, and a
tooltip on each bar; the SVG scales to its card (``viewBox``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Generic, TypeVar

from markupsafe import Markup, escape

T = TypeVar("T")
WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 26, 40  # room for the ticks, the legend, the labels
TICKS = 4  # about this many steps up the value axis


@dataclass(frozen=True)
class Series(Generic[T]):
    name: str  # the legend's
    value: Callable[[T], Decimal | int]
    css: str = "bar"


def bars(
    items: Sequence[T],
    series: Sequence[Series[T]],
    label: Callable[[T], str],
    title: str,
    x_title: str,
    y_title: str,
    describe: Callable[[T], str] = str,
    number: Callable[[Decimal], str] = str,
    every: int = 1,
) -> Markup:
    """Bars per item (one per series, side by side) against a value axis from 0; ``number``
    writes the ticks, ``every`` says under how many bars one label goes."""
    top = max((s.value(i) for i in items for s in series), default=0)
    step = _round_step(Decimal(top) / TICKS if top else Decimal(1))
    ceiling = step * max((Decimal(top) / step).to_integral_value(ROUND_CEILING), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h
    slot = plot_w / max(len(items), 1)
    bar_w = max((slot - 2) / len(series), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}"><title>{escape(title)}</title>'
    ]
    tick = Decimal(0)
    while tick <= ceiling:
        y = base - float(tick / ceiling) * plot_h
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 3.5:.1f}" text-anchor="end">'
            f"{escape(number(tick))}</text>"
        )
        tick += step
    for n, item in enumerate(items):
        x = LEFT + n * slot + 1
        for k, s in enumerate(series):
            h = float(Decimal(s.value(item)) / ceiling) * plot_h
            parts.append(
                f'<rect class="{s.css}" x="{x + k * bar_w:.1f}" y="{base - h:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(describe(item))}</title></rect>"
            )
        if n % every == 0:
            parts.append(
                f'<text class="tick" x="{x + slot / 2 - 1:.1f}" y="{base + 14}" '
                f'text-anchor="middle">{escape(label(item))}</text>'
            )
    parts.append(
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>'
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}"/>'
        f'<text class="axis-title x-title" x="{LEFT + plot_w / 2:.0f}" y="{HEIGHT - 6}" '
        f'text-anchor="middle">{escape(x_title)}</text>'
        f'<text class="axis-title y-title" x="{-(TOP + plot_h / 2):.0f}" y="14" '
        f'transform="rotate(-90)" text-anchor="middle">{escape(y_title)}</text>'
    )
    if len(series) > 1:
        x = WIDTH - RIGHT
        for s in reversed(series):
            width = 16 + 7 * len(s.name)
            x -= width
            parts.append(
                f'<g class="legend"><rect class="{s.css}" x="{x}" y="6" width="10" height="10"/>'
                f'<text x="{x + 14}" y="15">{escape(s.name)}</text></g>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _round_step(rough: Decimal) -> Decimal:
    """The smallest of 1, 2, 5 × 10ⁿ (whole numbers at least) not below ``rough``."""
    power = Decimal(1)
    while power * 10 <= rough:
        power *= 10
    return next(power * m for m in (1, 2, 5, 10) if power * m >= rough)
