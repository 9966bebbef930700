"""Sparklines of a counter's samples: Unicode blocks for the terminal, a small SVG for HTML.

Both scale the samples between their own minimum and maximum (the numbers next to the line
give the scale), leave gaps where a sample is missing, and draw a series that does not move
as a flat line. More samples than the width are merged by taking each bucket's maximum, so a
short spike of swapping is never averaged away.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

BLOCKS = "▁▂▃▄▅▆▇█"
GAP = " "


def downsample(values: Sequence[float | None], width: int) -> list[float | None]:
    """At most ``width`` values: each the maximum of its bucket (None if it has no sample)."""
    if width <= 0:
        return []
    if len(values) <= width:
        return list(values)
    out: list[float | None] = []
    for bucket in range(width):
        lo = bucket * len(values) // width
        hi = (bucket + 1) * len(values) // width
        present = [v for v in values[lo:hi] if v is not None]
        out.append(max(present) if present else None)
    return out


def _range(values: Sequence[float | None]) -> tuple[float, float] | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return min(present), max(present)


def _is_flat(lo: float, hi: float) -> bool:
    return math.isclose(lo, hi, rel_tol=1e-9, abs_tol=1e-12)


def text_sparkline(values: Sequence[float | None], width: int = 30) -> str:
    """``▁▂▅█ ▃``: one block per value (after :func:`downsample`), a space for a gap.

    A flat series is drawn on the bottom row when it is zero and on the middle row otherwise,
    so "nothing" and "steady at some level" look different. Empty input gives ``""``.
    """
    points = downsample(values, width)
    bounds = _range(points)
    if bounds is None:
        return GAP * len(points)
    lo, hi = bounds
    top = len(BLOCKS) - 1
    chars = []
    for value in points:
        if value is None:
            chars.append(GAP)
        elif _is_flat(lo, hi):
            chars.append(BLOCKS[0] if value == 0 else BLOCKS[top // 2])
        else:
            chars.append(BLOCKS[round((value - lo) / (hi - lo) * top)])
    return "".join(chars)


def svg_sparkline(
    values: Sequence[float | None], width: int = 160, height: int = 28, title: str = ""
) -> str:
    """A small inline ``<svg>``: one polyline per run of samples, a dot for a lone sample.

    Lines use ``currentColor``, so the report's CSS colours them (``.spark { color: … }``);
    ``title`` becomes the tooltip and the accessible name. No script, every text escaped.
    """
    pad = 2.0
    points = downsample(values, max(1, int(width - 2 * pad)))
    bounds = _range(points)
    attrs = (
        f'xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)}'
    )
    parts = [f"<svg {attrs}>"]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    if bounds is not None:
        parts.extend(_shapes(points, bounds, width, height, pad))
    parts.append("</svg>")
    return "".join(parts)


def _shapes(
    points: Sequence[float | None],
    bounds: tuple[float, float],
    width: int,
    height: int,
    pad: float,
) -> list[str]:
    lo, hi = bounds
    step = (width - 2 * pad) / max(1, len(points) - 1)

    def y(value: float) -> float:
        if _is_flat(lo, hi):
            return height - pad if value == 0 else height / 2
        return height - pad - (value - lo) / (hi - lo) * (height - 2 * pad)

    runs: list[list[tuple[float, float]]] = [[]]
    for i, value in enumerate(points):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((pad + i * step, y(value)))
    shapes = []
    for run in runs:
        if len(run) == 1:
            ((cx, cy),) = run
            shapes.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="1.5" fill="currentColor"/>')
        elif run:
            coords = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in run)
            shapes.append(
                f'<polyline points="{coords}" fill="none" stroke="currentColor" '
                'stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/>'
            )
    return shapes
