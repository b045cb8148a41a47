"""docs/configuration.md documents every setting, with its real default."""

from __future__ import annotations

import re
from pathlib import Path

from recserve.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def documented_rows() -> dict[str, str]:
    """Setting name -> its row of the reference table."""
    rows: dict[str, str] = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"\| `([a-z_]+)`", line)
        if match:
            rows[match.group(1)] = line
    return rows


def test_every_setting_is_in_the_reference_table() -> None:
    rows = documented_rows()
    missing = sorted(set(Settings.model_fields) - set(rows))
    assert not missing, f"settings missing from docs/configuration.md: {missing}"
    unknown = sorted(set(rows) - set(Settings.model_fields))
    assert not unknown, f"docs/configuration.md documents unknown settings: {unknown}"


def test_numeric_defaults_match() -> None:
    rows = documented_rows()
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, bool) or not isinstance(default, int | float):
            continue
        shown = {f"{default:,}", str(default)}
        if default % (1024 * 1024) == 0 and default >= 1024 * 1024:
            shown.add(f"{default // (1024 * 1024)} MiB")
        assert any(s in rows[name] for s in shown), (name, default, rows[name])
