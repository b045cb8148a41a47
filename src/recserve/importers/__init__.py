"""Bulk import: generic CSV/JSONL files and the MovieLens and Last.fm data-set layouts.

One entry point, :func:`import_source`; :func:`import_rows` does the same for rows already
in memory (the demo data). Every row is validated with the API's schema models before
anything is written.
"""

from recserve.importers.core import FORMATS, detect_format, import_rows, import_source
from recserve.importers.lastfm import LASTFM_TIMESTAMP
from recserve.importers.parts import KINDS
from recserve.importers.report import (
    ImportFailed,
    ImportReport,
    ImportValidationError,
    UnknownFormatError,
)

__all__ = [
    "FORMATS",
    "KINDS",
    "LASTFM_TIMESTAMP",
    "ImportFailed",
    "ImportReport",
    "ImportValidationError",
    "UnknownFormatError",
    "detect_format",
    "import_rows",
    "import_source",
]
