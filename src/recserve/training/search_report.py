"""The model search of a job as text: one line per trial, the best marked (``recserve train``)."""

from __future__ import annotations

import json
from typing import Any

SHOWN_PARAMS = 4  # per trial; the job API has them all


def _params(params: dict[str, Any]) -> str:
    if "members" in params:  # an ensemble: its members' families
        return " + ".join(str(m.get("family")) for m in params["members"])
    shown = [f"{k}={_short(v)}" for k, v in list(params.items())[:SHOWN_PARAMS]]
    return ", ".join(shown) + (", ..." if len(params) > SHOWN_PARAMS else "")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if not isinstance(value, str) else value


def format_search(search: dict[str, Any]) -> str:
    """A table of the search's trials with a summary line above it."""
    trials = search.get("trials") or []
    best = search.get("best_trial")
    lines = [
        f"model search: {len(trials)} trials in {search.get('seconds', 0.0):.1f}s "
        f"(budget {search.get('budget_seconds', 0.0):.0f}s), validation "
        f"{search.get('validation', {}).get('name')} on "
        f"{search.get('validation', {}).get('test', {}).get('users', 0)} users",
    ]
    for family, reason in (search.get("skipped") or {}).items():
        lines.append(f"  skipped {family}: {reason}")
    lines.append(
        f"  {'#':>3}  {'family':<10} {'source':<10} {'state':<9} {'ndcg@10':>8} {'s':>6}  params"
    )
    for t in trials:
        value = "-" if t.get("value") is None else f"{t['value']:.4f}"
        mark = "*" if t.get("number") == best else " "
        text = t.get("error") or _params(t.get("params") or {})
        lines.append(
            f"{mark} {t['number']:>3}  {t['family']:<10} {t['source']:<10} {t['state']:<9} "
            f"{value:>8} {t['seconds']:>6.1f}  {text}"
        )
    return "\n".join(lines)
