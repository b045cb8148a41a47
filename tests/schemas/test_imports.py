"""Every module of ``recserve.schemas`` imports only pydantic and the standard library, so
clients can share the models without loading the server."""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys

import recserve.schemas

# pydantic and what it imports itself
PYDANTIC = {
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "typing_extensions",
    "typing_inspection",
}


def modules_loaded_by(statement: str) -> set[str]:
    """Modules newly in ``sys.modules`` after ``statement``, run in a fresh interpreter."""
    code = (
        "import json, sys\nbefore = set(sys.modules)\n"
        f"{statement}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=True,
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_schema_modules_import_only_pydantic_and_the_standard_library() -> None:
    modules = [
        f"recserve.schemas.{info.name}" for info in pkgutil.iter_modules(recserve.schemas.__path__)
    ]
    assert {"recserve.schemas.jobs", "recserve.schemas.scenarios"} <= set(modules)
    loaded = modules_loaded_by("\n".join(f"import {m}" for m in modules))

    own = {m for m in loaded if m.split(".")[0] == "recserve"}
    assert own == {"recserve", "recserve.schemas", *modules}
    packages = {m.split(".")[0] for m in loaded - own}
    third_party = {
        p for p in packages if p not in sys.stdlib_module_names and not p.startswith("_")
    }
    assert third_party <= PYDANTIC, third_party - PYDANTIC
