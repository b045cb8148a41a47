"""A leaderboard as one self-contained HTML page: table, plots, and how to read them.

Everything is inline: the CSS, and the plots as SVG drawn with matplotlib's Agg backend
(text as paths, so the page looks the same on any machine). The page has no scripts and
loads nothing from anywhere, so it can be mailed, archived or opened offline.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from recserve.evaluation.leaderboard import Column, Entry, Leaderboard, format_params

BLUE, ORANGE, RED, GREY = "#4C78A8", "#F58518", "#E45756", "#9AA5B1"
METRIC_COLOURS = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2")
ACCURACY = (
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("ndcg", "NDCG"),
    ("map", "MAP"),
    ("mrr", "MRR"),
    ("hit_rate", "Hit rate"),
)
GLOSSARY = (
    ("NDCG@K", "discounted gain of the hits in the top K over the best possible; 1 is perfect"),
    ("Recall@K", "share of the user's test items found in the top K"),
    ("Prec@K", "share of the top K that are test items"),
    ("MAP@K", "mean average precision of the top K"),
    ("MRR@K", "1 / rank of the first hit (0 when none in the top K)"),
    ("HR@K", "share of users with at least one hit in the top K"),
    ("Cov@K", "share of the catalogue that appears in some user's top K"),
    ("Nov@K", "mean self-information, -log2(share of users who know the item), of the top K"),
    ("Div@K", "mean dissimilarity (1 - cosine over users) of the pairs in each top K"),
    ("RMSE / MAE", "error of predicted ratings on the test part's explicit ratings"),
)
RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.edgecolor": "#C5CCD3",
    "axes.labelcolor": "#334155",
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.titlecolor": "#1E293B",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#E5E9EE",
    "grid.linewidth": 0.8,
    "xtick.color": "#475569",
    "ytick.color": "#475569",
    "svg.fonttype": "path",
    "figure.dpi": 100,
}


# -- plots ----------------------------------------------------------------------------------


def _svg(figure: Any, prefix: str, label: str) -> str:
    """An inline ``<svg>``: ids prefixed (several plots share one page), no fixed size,
    no XML prologue or namespace URLs (the HTML parser knows SVG)."""
    buffer = io.StringIO()
    figure.savefig(
        buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None}
    )
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s(?:xmlns(?::xlink)?)="[^"]*"', "", text)
    text = re.sub(r'(<svg[^>]*?)\s(?:width|height)="[^"]*"', r"\1", text, count=2)
    text = text.replace('id="', f'id="{prefix}-')
    text = text.replace("url(#", f"url(#{prefix}-").replace('href="#', f'href="#{prefix}-')
    return text.replace("<svg", f'<svg role="img" aria-label="{label}"', 1)


@contextmanager
def _style() -> Iterator[None]:
    """matplotlib's settings for the report's plots, restored afterwards."""
    import matplotlib

    with matplotlib.rc_context():
        cast(Any, matplotlib.rcParams).update(RC)  # typed with literal keys only
        yield


def _figure(width: float, height: float) -> tuple[Any, Any]:
    """A figure on its own Agg canvas: no pyplot, so no global figure state or backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _ranking_metric(board: Leaderboard) -> str:
    """The board's metric, or NDCG at its K when the board is ranked by a rating error."""
    return f"ndcg@{board.primary_k}" if board.metric in ("rmse", "mae") else board.metric


def _with(entries: Sequence[Entry], *keys: str) -> list[Entry]:
    return [e for e in entries if e.ok and all(math.isfinite(e.value(k)) for k in keys)]


def primary_chart(board: Leaderboard) -> str | None:
    """Horizontal bars of the board's metric, best on top and highlighted."""
    entries = _with(board.entries, board.metric)
    if not entries:
        return None
    with _style():
        fig, ax = _figure(7.0, 0.9 + 0.36 * len(entries))
        values = [e.value(board.metric) for e in entries]
        names = [e.name for e in entries]
        colours = [ORANGE if i == 0 else BLUE for i in range(len(entries))]
        bars = ax.barh(range(len(entries)), values, color=colours, height=0.68)
        ax.set_yticks(range(len(entries)), names)
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(board.metric)
        ax.set_title(f"{board.metric} per model (test part)", loc="left")
        ax.bar_label(bars, fmt="%.4f", padding=3, fontsize=8.5, color="#334155")
        ax.set_xlim(0, max(values) * 1.16 if max(values) > 0 else 1)
        return _svg(fig, "primary", f"{board.metric} per model")


def accuracy_chart(board: Leaderboard) -> str | None:
    """Grouped bars: each model's accuracy metrics at K side by side."""
    k = board.primary_k
    metrics = [(f"{m}@{k}", label) for m, label in ACCURACY]
    metrics = [(key, label) for key, label in metrics if _with(board.entries, key)]
    entries = _with(board.entries, *(key for key, _ in metrics)) if metrics else []
    if not entries:
        return None
    import numpy as np

    with _style():
        fig, ax = _figure(14.0, 4.6)
        x = np.arange(len(entries))
        width = 0.84 / len(metrics)
        for i, (key, label) in enumerate(metrics):
            offset = (i - (len(metrics) - 1) / 2) * width
            values = [e.value(key) for e in entries]
            ax.bar(x + offset, values, width, label=label, color=METRIC_COLOURS[i % 6])
        ax.set_xticks(x, [e.name for e in entries], rotation=30, ha="right")
        ax.grid(axis="x", visible=False)
        ax.set_ylabel(f"value at K={k}")
        ax.set_title(f"Accuracy metrics at K={k}, models in board order", loc="left")
        ax.legend(ncols=len(metrics), loc="upper right", frameon=False, fontsize=9)
        top = max(e.value(key) for e in entries for key, _ in metrics)
        ax.set_ylim(0, top * 1.18 if top > 0 else 1)
        return _svg(fig, "accuracy", f"accuracy metrics at K={k}")


def _personalised(family: str) -> bool:
    from recserve.algorithms import FAMILIES

    cls = FAMILIES.get(family)
    return True if cls is None else bool(cls.personalised)


def tradeoff_chart(board: Leaderboard) -> str | None:
    """Accuracy against catalogue coverage: what each model buys its accuracy with."""
    metric, coverage = _ranking_metric(board), f"coverage@{board.primary_k}"
    entries = _with(board.entries, metric, coverage)
    if not entries:
        return None
    with _style():
        fig, ax = _figure(7.0, 4.6)
        for personal, colour, marker, label in (
            (True, BLUE, "o", "personalised"),
            (False, RED, "s", "same list for everyone"),
        ):
            group = [e for e in entries if _personalised(e.family) == personal]
            if group:
                ax.scatter(
                    [e.value(coverage) for e in group],
                    [e.value(metric) for e in group],
                    s=54, color=colour, marker=marker, label=label, zorder=3,
                    edgecolors="white", linewidths=0.8,
                )  # fmt: skip
        ax.set_xlabel(f"catalogue coverage ({coverage})")
        ax.set_ylabel(metric)
        ax.set_xlim(0, min(1.05, max(e.value(coverage) for e in entries) * 1.25 + 0.02))
        ax.set_ylim(0, max(e.value(metric) for e in entries) * 1.15 or 1)
        _label_points(ax, fig, entries, coverage, metric)
        ax.set_title(f"Accuracy vs coverage ({metric} against {coverage})", loc="left")
        fig.legend(loc="outside lower center", ncols=2, frameon=False, fontsize=9)
        return _svg(fig, "tradeoff", "accuracy against catalogue coverage")


def _label_points(ax: Any, fig: Any, entries: Sequence[Entry], x_key: str, y_key: str) -> None:
    """Name each point, nudging a label up while it would overlap one already placed."""
    fig.canvas.draw()  # settle the layout, so data -> points is final
    to_points = ax.transData + fig.dpi_scale_trans.inverted()
    placed: list[tuple[float, float, float]] = []  # (x, y, width) of labels, in points
    height = 11.0
    points = [(e, *(72 * to_points.transform((e.value(x_key), e.value(y_key))))) for e in entries]
    for entry, x, y in sorted(points, key=lambda p: (p[2], p[1])):
        width, dy = 5.2 * len(entry.name), 4.0

        def clash(dy: float, x: float = x, y: float = y, width: float = width) -> bool:
            return any(
                abs(y + dy - py) < height and x < px + pw and px < x + width
                for px, py, pw in placed
            )

        while clash(dy):
            dy += height
        placed.append((x + 5, y + dy, width))
        ax.annotate(
            entry.name, (entry.value(x_key), entry.value(y_key)),
            xytext=(5, dy), textcoords="offset points", fontsize=8.5, color="#1E293B",
            arrowprops={"arrowstyle": "-", "color": "#94A3B8", "lw": 0.6} if dy > 4 else None,
        )  # fmt: skip


def fit_time_chart(board: Leaderboard) -> str | None:
    """Fit seconds per model on a log scale (tuning time not included)."""
    entries = _with(board.entries, "fit_seconds")
    if not entries:
        return None
    with _style():
        fig, ax = _figure(7.0, 0.9 + 0.36 * len(entries))
        entries = sorted(entries, key=lambda e: e.fit_seconds, reverse=True)
        values = [max(e.fit_seconds, 1e-3) for e in entries]
        bars = ax.barh(range(len(entries)), values, color=GREY, height=0.68)
        ax.set_yticks(range(len(entries)), [e.name for e in entries])
        ax.set_xscale("log")
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("fit seconds on the train part (log scale)")
        ax.set_title("Fit time per model", loc="left")
        labels = [_seconds(e.fit_seconds) for e in entries]
        ax.bar_label(bars, labels=labels, padding=3, fontsize=8.5, color="#334155")
        ax.set_xlim(min(values) / 2, max(values) * 6)
        return _svg(fig, "fit-time", "fit time per model")


def _seconds(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


FIGURES = {
    "primary": primary_chart,
    "fit_time": fit_time_chart,
    "accuracy": accuracy_chart,
    "tradeoff": tradeoff_chart,
}


def figures(board: Leaderboard) -> dict[str, str]:
    """Every plot the report holds, by name, as inline SVG (plots without data left out)."""
    made = {name: draw(board) for name, draw in FIGURES.items()}
    return {name: svg for name, svg in made.items() if svg}


# -- page -----------------------------------------------------------------------------------


def _cell(entry: Entry, column: Column, best: dict[str, float]) -> dict[str, Any]:
    value = entry.value(column.key)
    finite = math.isfinite(value)
    return {
        "text": f"{value:.{column.digits}f}" if finite else "-",
        "best": finite and column.key in best and value == best[column.key],
    }


def _table(board: Leaderboard, columns: Sequence[Column]) -> list[dict[str, Any]]:
    best = {}
    for column in columns:
        winner = board.best(column.key)
        if winner is not None:
            best[column.key] = winner.value(column.key)
    fastest = min((e.fit_seconds for e in _with(board.entries, "fit_seconds")), default=None)
    rows = []
    for rank, entry in enumerate((e for e in board.entries if e.ok), start=1):
        rows.append({
            "rank": rank,
            "name": entry.name,
            "family": entry.family,
            "personalised": _personalised(entry.family),
            "cells": [_cell(entry, c, best) for c in columns],
            "fit": _seconds(entry.fit_seconds),
            "fit_best": entry.fit_seconds == fastest,
            "eval": _seconds(entry.eval_seconds),
            "params": format_params(entry.params),
            "tuned": format_params(entry.tuned_params),
            "tuning": entry.tuning,
            "tune_seconds": entry.tune_seconds,
        })  # fmt: skip
    return rows


def _sampled_columns(board: Leaderboard, columns: Sequence[Column]) -> list[Column]:
    """The sampled twins of the accuracy columns, where the board has them."""
    present = {k for e in board.entries for k in e.metrics if k.startswith("sampled_")}
    return [
        Column(f"sampled_{c.key}", f"sampled {c.label}", c.higher_is_better, c.digits)
        for c in columns
        if f"sampled_{c.key}" in present
    ]


def _stats(board: Leaderboard) -> list[tuple[str, str]]:
    d = board.dataset
    stats = [
        ("users", f"{d.get('users', 0):,}"),
        ("items", f"{d.get('items', 0):,}"),
        ("events", f"{d.get('events', 0):,}"),
        ("positive pairs", f"{d.get('positive_pairs', 0):,}"),
        ("density", f"{100 * (d.get('density') or 0):.3f} %"),
    ]
    if d.get("ratings"):
        stats.append(("ratings", f"{d['ratings']:,}"))
    if d.get("relations"):
        stats.append(("relations", f"{d['relations']:,}"))
    if d.get("first_event") and d.get("last_event"):
        stats.append(("events from", f"{d['first_event'][:10]} to {d['last_event'][:10]}"))
    return stats


def _split_text(board: Leaderboard) -> str:
    s = board.split
    params = format_params(s.get("params") or {})
    text = f"{s.get('name', '?')}" + (f" ({params})" if params else "")
    return (
        f"{text}: {s.get('train_events', 0):,} train events, {s.get('test_events', 0):,} test "
        f"events, {s.get('test_users', 0):,} test users"
    )


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("recserve.evaluation", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def render_html(board: Leaderboard, title: str | None = None) -> str:
    """The whole report page for ``board`` (see the module docstring)."""
    columns = board.columns()
    sampled = _sampled_columns(board, columns)
    made = figures(board)
    name = board.dataset.get("name") or "data set"
    template = _environment().get_template("report.html.j2")
    return template.render(
        title=title or f"recserve leaderboard: {name}",
        board=board,
        dataset_name=name,
        stats=_stats(board),
        split_text=_split_text(board),
        date=board.created_at.replace("T", " ").replace("+00:00", " UTC"),
        columns=columns,
        rows=_table(board, columns),
        sampled_columns=sampled,
        sampled_rows=_table(board, sampled) if sampled else [],
        failed=[e for e in board.entries if not e.ok],
        figures={name: made.get(name) for name in FIGURES},
        glossary=GLOSSARY,
        best=board.best(),
        ks=", ".join(str(k) for k in board.ks),
    )


def write_html(board: Leaderboard, path: Path, title: str | None = None) -> Path:
    """Render the report into ``path`` (UTF-8) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(board, title), encoding="utf-8")
    return path


__all__ = ["figures", "render_html", "write_html"]
