"""Small inline SVG charts (bars, lines) for the codebook site: no script, no font files, no network.

Written by hand rather than with a charting library so that a page is one file that renders the
same in any browser, offline, and its bytes depend only on the data.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

# Tableau 10: distinguishable categorical colours, one per country.
PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
FONT = 'font-family="system-ui,sans-serif" font-size="12"'


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _number(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value / 1e6:,.1f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:,.0f}k"
    return f"{value:,.10g}" if value == int(value) else f"{value:,.3g}"


def bar_chart(
    bars: Sequence[tuple[str, float, float | None, float | None]],
    title: str,
    axis_label: str = "",
    percent: bool = False,
) -> str:
    """Horizontal bars (label, value, low, high); the interval, when given, as a whisker."""
    height_bar, left, right, top = 22, 190, 30, 34
    width = 720
    plot = width - left - right
    values = [n for bar in bars for n in bar[1:] if n is not None and math.isfinite(n)]
    ticks = nice_ticks(min(0.0, *values) if values else 0.0, max(values) if values else 1.0)
    low, high = ticks[0], ticks[-1]

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * plot

    height = top + height_bar * len(bars) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {FONT}>',
        f"<title>{html.escape(title)}</title>",
        f'<text x="8" y="18" font-weight="600">{html.escape(title)}</text>',
    ]
    for tick in ticks:
        tx = x(tick)
        label = f"{tick * 100:.0f}%" if percent else _number(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{height - 36}" stroke="#e4e7eb"/>'
            f'<text x="{tx:.1f}" y="{height - 22}" text-anchor="middle" fill="#555">{label}</text>'
        )
    for i, (label, value, lo, hi) in enumerate(bars):
        y = top + i * height_bar
        shown = f"{value * 100:.1f}%" if percent else _number(value)
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect x="{x(min(0.0, value)):.1f}" y="{y + 4}" width="{abs(x(value) - x(0.0)):.1f}" '
            f'height="{height_bar - 8}" fill="{PALETTE[0]}">'
            f"<title>{html.escape(label)}: {shown}</title></rect>"
        )
        if lo is not None and hi is not None:
            parts.append(
                f'<line x1="{x(lo):.1f}" y1="{y + 11}" x2="{x(hi):.1f}" y2="{y + 11}" stroke="#1b1f24"/>'
                f'<line x1="{x(lo):.1f}" y1="{y + 7}" x2="{x(lo):.1f}" y2="{y + 15}" stroke="#1b1f24"/>'
                f'<line x1="{x(hi):.1f}" y1="{y + 7}" x2="{x(hi):.1f}" y2="{y + 15}" stroke="#1b1f24"/>'
            )
    if axis_label:
        parts.append(
            f'<text x="{left + plot / 2:.1f}" y="{height - 6}" text-anchor="middle" fill="#555">'
            f"{html.escape(axis_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    title: str,
    axis_label: str = "",
) -> str:
    """One line per series of (x, y) points, x in years (a quarter is a fraction of its year)."""
    width, height, left, right, top, bottom = 720, 340, 70, 160, 34, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [px for points in series.values() for px, _ in points]
    ys = [py for points in series.values() for _, py in points]
    if not xs:
        return ""
    x_ticks = nice_ticks(min(xs), max(xs), 6)
    y_ticks = nice_ticks(min(0.0, min(ys)), max(ys), 5)
    x0, x1, y0, y1 = x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1]

    def sx(value: float) -> float:
        return left + (value - x0) / ((x1 - x0) or 1) * plot_w

    def sy(value: float) -> float:
        return top + plot_h - (value - y0) / ((y1 - y0) or 1) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" {FONT}>',
        f"<title>{html.escape(title)}</title>",
        f'<text x="8" y="18" font-weight="600">{html.escape(title)}</text>',
    ]
    for tick in y_ticks:
        parts.append(
            f'<line x1="{left}" y1="{sy(tick):.1f}" x2="{left + plot_w}" y2="{sy(tick):.1f}" '
            'stroke="#e4e7eb"/>'
            f'<text x="{left - 6}" y="{sy(tick) + 4:.1f}" text-anchor="end" fill="#555">'
            f"{_number(tick)}</text>"
        )
    for tick in x_ticks:
        parts.append(
            f'<text x="{sx(tick):.1f}" y="{top + plot_h + 18}" text-anchor="middle" fill="#555">'
            f"{tick:g}</text>"
        )
    for i, (name, points) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        ordered = sorted(points)
        path = " ".join(
            f"{'M' if j == 0 else 'L'}{sx(px):.1f},{sy(py):.1f}" for j, (px, py) in enumerate(ordered)
        )
        parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for px, py in ordered:
            parts.append(
                f'<circle cx="{sx(px):.1f}" cy="{sy(py):.1f}" r="2.5" fill="{colour}">'
                f"<title>{html.escape(name)} {px:g}: {_number(py)}</title></circle>"
            )
        ly = top + 14 * i
        parts.append(
            f'<rect x="{left + plot_w + 14}" y="{ly}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + plot_w + 28}" y="{ly + 9}">{html.escape(name)}</text>'
        )
    if axis_label:
        parts.append(
            f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle" fill="#555">'
            f"{html.escape(axis_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
