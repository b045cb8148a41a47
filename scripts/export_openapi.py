"""Write the API's OpenAPI document (the one ``GET /openapi.json`` serves) to a file.

    python scripts/export_openapi.py clients/typescript/openapi.json

The TypeScript client's types are generated from it (clients/typescript, ``npm run
generate``); tests/client/test_typescript.py checks that the committed copy is current.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from recserve.api.app import create_app
from recserve.config import Settings

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "clients" / "typescript" / "openapi.json"


def openapi_document() -> dict[str, Any]:
    """The document of an app built with the default settings (no store is opened)."""
    return create_app(Settings()).openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help="JSON file")
    out: Path = parser.parse_args().out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(openapi_document()), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
