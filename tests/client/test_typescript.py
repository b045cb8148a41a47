"""The TypeScript client (clients/typescript): its committed OpenAPI document and generated
types are current, and it works against a live server, run by Node's own test runner.

The Node tests skip with the reason when node or npm is missing. ``npm ci`` runs only when
clients/typescript/node_modules is missing (it is kept there, git-ignored, for later runs).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client import world
from tests.client.helpers import recserve_server

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "typescript"
EXPORT = ROOT / "scripts" / "export_openapi.py"
NODE, NPM = shutil.which("node"), shutil.which("npm")
needs_node = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are not installed: the TypeScript client's tests need Node 20+",
)


def run(command: list[str], *, timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in the client's package; fail with its output when it fails."""
    result = subprocess.run(
        command,
        cwd=PACKAGE,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, (
        f"{shlex.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def node_modules() -> Iterator[Path]:
    """The package's dependencies, installed from the lockfile when they are missing."""
    modules = PACKAGE / "node_modules"
    if not modules.is_dir():
        run([str(NPM), "ci", "--no-audit", "--no-fund"], timeout=600)
    yield modules


def test_committed_openapi_document_is_current(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    subprocess.run([sys.executable, str(EXPORT), str(out)], check=True, timeout=120)
    fresh = out.read_text(encoding="utf-8")
    assert json.loads(fresh)["paths"]["/v1/popular"]["get"]  # a real document
    committed = (PACKAGE / "openapi.json").read_text(encoding="utf-8")
    assert committed == fresh, (
        "clients/typescript/openapi.json is stale: run `python scripts/export_openapi.py` "
        "and `npm run generate` in clients/typescript"
    )


@needs_node
def test_generated_types_are_current(tmp_path: Path, node_modules: Path) -> None:
    """The package's own ``generate`` script, writing to a temporary file."""
    script = json.loads((PACKAGE / "package.json").read_text())["scripts"]["generate"]
    command = shlex.split(script)
    assert "src/schema.d.ts" in command
    out = tmp_path / "schema.d.ts"
    command = [str(out) if part == "src/schema.d.ts" else part for part in command]
    run([str(node_modules / ".bin" / command[0]), *command[1:]], timeout=120)
    committed = (PACKAGE / "src" / "schema.d.ts").read_text(encoding="utf-8")
    assert out.read_text(encoding="utf-8") == committed, (
        "clients/typescript/src/schema.d.ts is stale: run `npm run generate` there"
    )


@needs_node
@pytest.mark.timeout(900)
def test_typescript_client_against_a_live_server(tmp_path: Path, node_modules: Path) -> None:
    """tsc type-checks the wrapper and the test script (with calls the generated types must
    refuse), then ``node --test`` stores a shop, trains, and reads lists and errors."""
    run([str(NPM), "run", "build"], timeout=300)
    example = docs_example()
    with recserve_server(tmp_path / "data") as base:
        result = run(
            [str(NODE), "--test", "--test-reporter=tap", "dist/test/"],
            timeout=600,
            RECSERVE_URL=base,
            RECSERVE_API_KEY=world.ADMIN_KEY,
        )
        assert "# fail 0" in result.stdout, result.stdout
        assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout, result.stdout

        printed = run([str(NODE), str(example)], timeout=60, RECSERVE_EXAMPLE_URL=base).stdout
    assert printed.splitlines()[0] == "1 0"  # written.accepted, written.duplicates
    assert "422 validation_error" in printed.splitlines()


DOC = ROOT / "docs" / "client.md"


def docs_example() -> Path:
    """docs/client.md's TypeScript block, compiled by tsc against the built package (which it
    imports by its name), reading the server's URL from the environment."""
    blocks = re.findall(r"```ts\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 1
    source = blocks[0].replace('"http://127.0.0.1:8000"', "process.env.RECSERVE_EXAMPLE_URL!")
    source = source.replace("admin-key-0001", world.ADMIN_KEY)
    folder = PACKAGE / "dist" / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "example.ts").write_text(source)
    tsc = [str(PACKAGE / "node_modules" / ".bin" / "tsc"), "dist/docs/example.ts"]
    options = ["--strict", "--module", "nodenext", "--target", "es2022", "--types", "node"]
    run(
        [*tsc, *options, "--skipLibCheck", "--rootDir", "dist/docs", "--outDir", "dist/docs"],
        timeout=120,
    )
    return folder / "example.js"
