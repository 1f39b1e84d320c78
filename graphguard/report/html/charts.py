"""Charts as inline SVG: stacked bars, lines with points, a cluster's timeline, colour legends.

The charts draw numbers they are given; the only data they read is the activity table of
`timeline_html`, which they bin. Labels and titles go through `esc`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from graphguard.report.html.escape import esc, when

#: Colours of successive series (event types, label sources).
SERIES_COLOURS = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#0891b2", "#e11d48", "#94a3b8")


def _svg_text(x: float, y: float, text: Any, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{esc(text)}</text>'


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * magnitude >= value:
            return factor * magnitude
    return 10 * magnitude


def _axis(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def bar_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    titles: Sequence[str] | None = None,
    width: float = 420,
    height: float = 230,
    y_label: str = "",
    x_label: str = "",
    tick_every: int = 1,
    marker: tuple[float, str] | None = None,
) -> str:
    """Stacked bars, one stacked segment per series (name, values, colour).

    With one label per bar, labels sit under the bars; with one more label than bars, they mark
    the bar edges (a histogram of a continuous value). ``marker`` = (position in bars, text)
    draws a dashed vertical line there.
    """
    left, right, top, bottom = 44.0, 10.0, 10.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(series[0][1]) if series else 0
    edges = len(labels) == n + 1
    totals = [sum(values[i] for _, values, _ in series) for i in range(n)]
    y_max = _nice_max(max(totals, default=0))
    bar_w = plot_w / max(n, 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img">']
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(_svg_text(left - 6, y + 4, _axis(y_max * frac), "end"))
    for i in range(n):
        base = 0.0
        x = left + i * bar_w
        group = ["<g>"]
        if titles:
            group.append(f"<title>{esc(titles[i])}</title>")
        for _, values, colour in series:
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / y_max
            y = top + plot_h - base - h
            group.append(
                f'<rect x="{x + bar_w * 0.08:.2f}" y="{y:.2f}" '
                f'width="{max(bar_w * 0.84, 0.8):.2f}" height="{h:.2f}" fill="{colour}"/>'
            )
            base += h
        group.append("</g>")
        parts.append("".join(group))
    for i, label in enumerate(labels):
        if i % tick_every == 0 or (edges and i == n):
            x = left + (i if edges else i + 0.5) * bar_w
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 14:.1f}" '
                f'text-anchor="middle">{esc(label)}</text>'
            )
    if marker is not None:
        x = left + marker[0] * bar_w
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#c62828" '
            f'stroke-dasharray="4 3"/><text x="{x + 4:.1f}" y="{top + 10}" fill="#c62828">'
            f"{esc(marker[1])}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/>'
    )
    if x_label:
        parts.append(_svg_text(left + plot_w / 2, height - 6, x_label, "middle"))
    if y_label:
        parts.append(
            f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{esc(y_label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    curves: Sequence[tuple[str, Sequence[float], Sequence[float], str]],
    points: Sequence[tuple[str, float, float, str]] = (),
    *,
    baseline: float | None = None,
    width: float = 420,
    height: float = 230,
    x_label: str = "recall",
    y_label: str = "precision",
) -> str:
    """Curves (name, xs, ys, colour) and marked points (name, x, y, colour) on [0, 1]^2, with an
    optional dashed horizontal ``baseline`` (a precision-recall chart by default)."""
    left, right, top, bottom = 44.0, 12.0, 10.0, 40.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def at(x: float, y: float) -> tuple[float, float]:
        return left + x * plot_w, top + (1 - y) * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img">']
    for frac in (0, 0.25, 0.5, 0.75, 1):
        gx, gy = at(frac, frac)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{gy:.1f}" y2="{gy:.1f}"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end">{frac:g}</text>')
        parts.append(
            f'<text x="{gx:.1f}" y="{top + plot_h + 14:.1f}" text-anchor="middle">{frac:g}</text>'
        )
    if baseline is not None:
        _, by = at(0, baseline)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{by:.1f}" y2="{by:.1f}" stroke="#94a3b8" '
            f'stroke-dasharray="4 3"/><text x="{left + plot_w - 4}" y="{by - 4:.1f}" '
            f'text-anchor="end">base rate {baseline:.2f}</text>'
        )
    for name, xs, ys, colour in curves:
        path = " ".join(f"{at(x, y)[0]:.1f},{at(x, y)[1]:.1f}" for x, y in zip(xs, ys, strict=True))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}">'
            f"<title>{esc(name)}</title></polyline>"
        )
    for name, x, y, colour in points:
        px, py = at(x, y)
        parts.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="#fff" stroke="{colour}" '
            f'stroke-width="2.5"><title>{esc(name)}</title></circle>'
        )
    parts.append(_svg_text(left + plot_w / 2, height - 6, x_label, "middle"))
    parts.append(
        f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{esc(y_label)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def series_legend(series: Sequence[tuple[str, Any, str]]) -> str:
    """A colour swatch and name per series (name, anything, colour)."""
    return (
        '<div class="legend">'
        + "".join(
            f'<span><svg width="12" height="12"><rect width="12" height="12" fill="{c}"/></svg> '
            f"{esc(name)}</span>"
            for name, _, c in series
        )
        + "</div>"
    )


_BIN_HOURS = (1, 2, 3, 6, 12, 24, 48, 72, 168)
_MAX_BARS = 180
_MAX_EVENT_TYPES = 6


def timeline_html(activity: pl.DataFrame) -> str:
    """The cluster's events over time, stacked by event type, binned to at most 180 bars."""
    if activity.is_empty():
        return '<p class="muted">No activity recorded for this cluster.</p>'
    start, end = activity["hour"].min(), activity["hour"].max()
    hours = int((end - start).total_seconds() // 3600) + 1
    bin_hours = next((b for b in _BIN_HOURS if hours / b <= _MAX_BARS), _BIN_HOURS[-1])
    n_bins = hours // bin_hours + 1
    by_type = (
        activity.group_by("event_type")
        .agg(pl.col("n_events").sum().alias("total"))
        .sort(["total", "event_type"], descending=[True, False])
    )
    kept = by_type["event_type"].head(_MAX_EVENT_TYPES).to_list()
    binned = (
        activity.with_columns(
            ((pl.col("hour") - pl.lit(start)).dt.total_hours() // bin_hours).alias("_bin"),
            pl.when(pl.col("event_type").is_in(kept))
            .then(pl.col("event_type"))
            .otherwise(pl.lit("other"))
            .alias("_type"),
        )
        .group_by("_bin", "_type")
        .agg(pl.col("n_events").sum())
    )
    names = kept + (["other"] if by_type.height > len(kept) else [])
    counts = {name: [0.0] * n_bins for name in names}
    for b, kind, count in binned.iter_rows():
        counts[kind][int(b)] += count
    series = [
        (name, counts[name], SERIES_COLOURS[i % len(SERIES_COLOURS)])
        for i, name in enumerate(names)
    ]
    starts = [start + timedelta(hours=i * bin_hours) for i in range(n_bins)]
    # Over a few days a date alone would repeat under every tick; show the hour too.
    labels = [s.strftime("%d %H:%M" if hours <= 72 else "%b %d") for s in starts]
    titles = [
        f"{s.strftime('%Y-%m-%d %H:%M')} UTC, {bin_hours} h: "
        + ", ".join(f"{int(counts[name][i])} {name}" for name in names if counts[name][i])
        for i, s in enumerate(starts)
    ]
    chart = bar_chart(
        labels,
        series,
        titles=titles,
        width=1000,
        height=200,
        y_label="events",
        tick_every=max(1, n_bins // 10),
    )
    hourly = (
        activity.group_by("hour")
        .agg(pl.col("n_events").sum(), pl.col("n_accounts").max())
        .sort(["n_events", "hour"], descending=[True, False])
    )
    peak = hourly.row(0, named=True)
    note = (
        f"Bars of {bin_hours} h. Busiest hour: {when(peak['hour'])}, {peak['n_events']:,} events "
        f"by at least {peak['n_accounts']:,} accounts. Active in {hourly.height:,} of "
        f"{hours:,} hours."
    )
    return f'{series_legend(series)}{chart}<p class="caption">{esc(note)}</p>'
