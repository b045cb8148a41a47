"""Relative links in the user guides point at files (and headings) that exist."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
GUIDES = [
    DOCS / "quickstart.md",
    DOCS / "api-guide.md",
    DOCS / "language.md",
    *sorted((DOCS / "examples").glob("*.md")),
]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return found


def test_relative_links_resolve() -> None:
    broken = []
    for guide in GUIDES:
        for target in LINK.findall(guide.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            file = (guide.parent / path).resolve() if path else guide
            if not file.is_file():
                broken.append(f"{guide.name}: {target}")
            elif anchor and anchor not in anchors(file.read_text()):
                broken.append(f"{guide.name}: {target} (no such heading)")
    assert not broken, broken
