"""Inline SVG charts rendered on the server: no chart library, no script needed to see them.

Each function returns ``Markup`` (already escaped SVG) for a template to place as is.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from markupsafe import Markup, escape

from recserve.dashboard.queries import HOUR, EventSeries

DAY = 24 * HOUR
WEEK = 7 * DAY
MONDAY = 4 * DAY  # 1970-01-05, the first Monday after the epoch


def _gm(at: float) -> time.struct_time:
    return time.gmtime(at)


def _labelled(at: float, bar_seconds: float) -> bool:
    """Whether the bar starting at ``at`` gets a tick and a label: midnights for hour bars,
    Mondays for 6-hour bars, the 1st of a month for day bars, each quarter for week bars."""
    if bar_seconds <= HOUR:
        return at % DAY == 0
    if bar_seconds < DAY:
        return (at - MONDAY) % WEEK == 0
    if bar_seconds < WEEK:
        return _gm(at).tm_mday == 1
    return _gm(at).tm_mday <= 7 and _gm(at).tm_mon in (1, 4, 7, 10)


def _tick_text(at: float, bar_seconds: float) -> str:
    if bar_seconds <= HOUR:
        return time.strftime("%a %d %b", _gm(at))
    if bar_seconds < DAY:
        return time.strftime("%d %b", _gm(at))
    return time.strftime("%b %Y", _gm(at))


def _bar_title(at: float, bar_seconds: float, count: int) -> str:
    if bar_seconds < DAY:
        span = f"{time.strftime('%Y-%m-%d %H:00', _gm(at))} UTC"
        if bar_seconds > HOUR:
            span += f" (+{bar_seconds / HOUR:.0f} h)"
    elif bar_seconds < WEEK:
        span = time.strftime("%Y-%m-%d", _gm(at))
    else:
        span = f"week of {time.strftime('%Y-%m-%d', _gm(at))}"
    return f"{span}: {count}"


def bar_label(series: EventSeries) -> str:
    """What one bar counts, for the chart's caption: "hour", "6 hours", "day" or "week"."""
    names = {HOUR: "hour", 6 * HOUR: "6 hours", DAY: "day", WEEK: "week"}
    return names.get(series.bar_seconds, f"{series.bar_seconds / HOUR:g} hours")


def event_bars(series: EventSeries, width: int = 960, height: int = 200) -> Markup:
    """A bar per time step of the series, ticks and labels at calendar boundaries, the peak
    labelled."""
    left, bottom, top = 40, 24, 12
    plot_w, plot_h = width - left - 8, height - bottom - top
    counts = series.counts
    peak = max(counts, default=0) or 1
    bar_w = plot_w / max(len(counts), 1)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="events per {bar_label(series)}" preserveAspectRatio="none">',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 6}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for k, count in enumerate(counts):
        h = plot_h * count / peak
        x = left + k * bar_w
        at = series.start + k * series.bar_seconds
        label = escape(_bar_title(at, series.bar_seconds, count))
        parts.append(
            f'<rect class="bar" x="{x:.2f}" y="{top + plot_h - h:.2f}" '
            f'width="{max(bar_w - 0.6, 0.4):.2f}" height="{h:.2f}"><title>{label}</title></rect>'
        )
        if _labelled(at, series.bar_seconds):
            parts.append(
                f'<line class="grid" x1="{x:.2f}" y1="{top}" x2="{x:.2f}" y2="{top + plot_h}"/>'
                f'<text class="tick" x="{x + 3:.2f}" y="{height - 6}">'
                f"{escape(_tick_text(at, series.bar_seconds))}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def metric_bars(
    rows: Sequence[tuple[str, float]], metric: str, width: int = 640, row_h: int = 24
) -> Markup:
    """Horizontal bars, one per (label, value), scaled to the largest value."""
    label_w, pad = 180, 60
    height = row_h * max(len(rows), 1) + 8
    best = max((v for _, v in rows), default=0.0) or 1.0
    parts = [
        f'<svg class="chart metric-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(metric)} by model">'
    ]
    for k, (label, value) in enumerate(rows):
        y = 4 + k * row_h
        w = (width - label_w - pad) * value / best
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + row_h * 0.65:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar{" best" if k == 0 else ""}" x="{label_w}" y="{y + 3}" '
            f'width="{w:.2f}" height="{row_h - 8}"/>'
            f'<text class="value" x="{label_w + w + 6:.2f}" y="{y + row_h * 0.65:.1f}">'
            f"{value:.4f}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def interval_bars(
    rows: Sequence[tuple[str, float, float, float]], metric: str, width: int = 640
) -> Markup:
    """A bar per (label, rate, low, high) with its confidence interval as a whisker, on a
    scale from 0 to the highest upper bound."""
    label_w, pad, row_h = 120, 90, 30
    height = row_h * max(len(rows), 1) + 8
    top = max((high for *_, high in rows), default=0.0) or 1.0
    scale = (width - label_w - pad) / top
    parts = [
        f'<svg class="chart metric-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(metric)} by variant">'
    ]
    for k, (label, rate, low, high) in enumerate(rows):
        y = 4 + k * row_h
        mid = y + row_h / 2
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{mid + 4:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar" x="{label_w}" y="{y + 6}" width="{rate * scale:.2f}" '
            f'height="{row_h - 12}"><title>{escape(metric)} {rate:.4f} '
            f"(95% {low:.4f} to {high:.4f})</title></rect>"
            f'<line class="whisker" x1="{label_w + low * scale:.2f}" y1="{mid:.1f}" '
            f'x2="{label_w + high * scale:.2f}" y2="{mid:.1f}"/>'
            f'<line class="whisker" x1="{label_w + low * scale:.2f}" y1="{mid - 6:.1f}" '
            f'x2="{label_w + low * scale:.2f}" y2="{mid + 6:.1f}"/>'
            f'<line class="whisker" x1="{label_w + high * scale:.2f}" y1="{mid - 6:.1f}" '
            f'x2="{label_w + high * scale:.2f}" y2="{mid + 6:.1f}"/>'
            f'<text class="value" x="{label_w + high * scale + 6:.2f}" y="{mid + 4:.1f}">'
            f"{rate:.2%}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


TRIAL_STATES = ("complete", "pruned", "failed")


def trial_scatter(
    trials: Sequence[dict[str, object]], metric: str, width: int = 760, height: int = 240
) -> Markup:
    """One dot per search trial (x: trial number, y: its validation ``metric``), shaped by
    state, with the best-so-far line; failed trials sit on the axis. Hover: the trial."""
    left, bottom, top, right = 48, 24, 12, 12
    plot_w, plot_h = width - left - right, height - bottom - top
    values = [float(t["value"]) for t in trials if isinstance(t.get("value"), int | float)]  # type: ignore[arg-type]
    peak = max(values, default=0.0) or 1.0
    count = max(len(trials), 1)

    def x(k: int) -> float:
        return left + plot_w * (k + 0.5) / count

    def y(v: float) -> float:
        return top + plot_h * (1 - v / peak)

    parts = [
        f'<svg class="chart trial-chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="validation {escape(metric)} by trial">',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 6}" y="{top + 4}" text-anchor="end">{peak:.4f}</text>',
        f'<text class="tick" x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
        f'<text class="tick" x="{left + plot_w}" y="{height - 6}" text-anchor="end">'
        f"trial {count - 1}</text>",
    ]
    best, line = -1.0, []
    for k, trial in enumerate(trials):
        value = trial.get("value")
        state = str(trial.get("state"))
        if trial.get("state") == "complete" and isinstance(value, int | float) and value > best:
            best = float(value)
        if best >= 0:
            line.append(f"{x(k):.1f},{y(best):.1f}")
        v = float(value) if isinstance(value, int | float) else 0.0
        label = escape(
            f"#{trial.get('number')} {trial.get('family')} ({trial.get('source')}): {state}"
            + (f", {metric} {v:.4f}" if isinstance(value, int | float) else "")
        )
        parts.append(
            f'<circle class="trial {escape(state)}" cx="{x(k):.1f}" cy="{y(v):.1f}" r="4">'
            f"<title>{label}</title></circle>"
        )
    if line:
        parts.insert(5, f'<polyline class="best-line" points="{" ".join(line)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))
