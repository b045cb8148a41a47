"""``import recserve.client`` loads the client and the shared schemas, none of the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SERVER_MODULES = (
    "fastapi",
    "sqlalchemy",
    "torch",
    "starlette",
    "uvicorn",
    "recserve.serving",
    "recserve.api",
    "recserve.store",
)


def modules_after(statement: str) -> set[str]:
    """The names in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=True,
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_importing_the_client_loads_no_server_module() -> None:
    loaded = modules_after("import recserve.client\nfrom recserve.client import Client")
    assert "recserve.client.sync" in loaded  # the import really ran
    server = sorted(
        name
        for name in loaded
        for prefix in SERVER_MODULES
        if name == prefix or name.startswith(prefix + ".")
    )
    assert server == []


def test_the_check_sees_a_server_import() -> None:
    """The same check run on the app does find the server modules (it can fail)."""
    loaded = modules_after("import recserve.api.app")
    assert {"fastapi", "sqlalchemy", "starlette", "recserve.api", "recserve.serving"} <= loaded
