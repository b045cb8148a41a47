"""serving/ has no import cycle: each module imports only modules below it in the flow.

Typing-only imports count too: a cycle hidden behind ``TYPE_CHECKING`` still means two
modules that cannot be read (or changed) apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

import recserve

PACKAGE = Path(recserve.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The recserve modules ``path`` imports anywhere in its body (``from a import b`` counts
    ``a.b`` when that is a module, else ``a``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in modules else node.module)
    return {m for m in found if m in modules}


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, modules) - {name} for name, path in paths.items()}


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A shortest import path from ``start`` back to itself, if any (breadth first)."""
    paths = {start: [start]}
    queue = [start]
    while queue:
        current = queue.pop(0)
        for nxt in sorted(graph.get(current, ())):
            if nxt == start:
                return [*paths[current], start]
            if nxt not in paths:
                paths[nxt] = [*paths[current], nxt]
                queue.append(nxt)
    return None


def test_no_serving_module_is_part_of_an_import_cycle() -> None:
    graph = _graph()
    serving = sorted(
        m for m in graph if m.startswith("recserve.serving.") and m != "recserve.serving"
    )
    assert "recserve.serving.engine" in serving and "recserve.serving.scenarios" in serving
    # the package __init__ re-exports the engine: a module importing "recserve.serving" for a
    # type would close a loop through it, so the check follows it too
    cycles = {m: c for m in serving if (c := _cycle_through(graph, m)) is not None}
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles.values())


def test_the_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle_through(graph, "a") == ["a", "b", "c", "a"]
    assert _cycle_through(graph, "d") is None
