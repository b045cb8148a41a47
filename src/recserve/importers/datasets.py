"""Load a data set by name or path straight into a :class:`~recserve.data.Dataset`.

For offline evaluation (``recserve evaluate``, benchmarks) no database is needed: the
source is read with the importers' own readers and every row is validated with the same
schema models as ``recserve import``, then indexed in memory. The result is the same
snapshot ``Dataset.from_store`` would give after importing the source into an empty store
(``via_store=True`` takes that road, through a temporary SQLite file).

Known names are the public research sets kept beside the project (``movielens-100k``,
``movielens-latest-small``, ``lastfm-2k``), looked up in ``$RECSERVE_DATASETS_DIR`` or the
nearest ``shared/datasets`` folder above the working directory or this package, and
``demo``, the generated demo shop (seed 0).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recserve.config import FeedbackType, default_feedback_types
from recserve.data import Dataset, Vocabulary
from recserve.importers.core import DATASET_FORMATS, FORMATS, detect_format, source_parts
from recserve.importers.parts import KINDS, Part, rows_part
from recserve.importers.report import (
    MAX_PROBLEMS,
    ImportFailed,
    ImportValidationError,
    UnknownFormatError,
)
from recserve.importers.validation import RowValidator

DATASETS_ENV = "RECSERVE_DATASETS_DIR"
DEMO = "demo"
KNOWN_DATASETS: tuple[str, ...] = (*DATASET_FORMATS, DEMO)


class DatasetNotFound(ImportFailed):
    """The name is not a known data set, or the data set's folder cannot be found."""


def datasets_dir() -> Path | None:
    """Where the shared research data sets live, or None when no such folder is found.

    ``$RECSERVE_DATASETS_DIR`` when set; else the first ``shared/datasets`` folder found
    walking up from the working directory, then from this package (a checkout's sibling
    ``shared/`` folder).
    """
    configured = os.environ.get(DATASETS_ENV)
    if configured:
        return Path(configured).expanduser()
    for start in (Path.cwd().resolve(), Path(__file__).resolve().parent):
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "datasets"
            if candidate.is_dir():
                return candidate
    return None


def resolve_dataset(name: str) -> Path:
    """The folder of the known data set ``name`` (see :func:`datasets_dir`)."""
    if name not in DATASET_FORMATS:
        raise DatasetNotFound(_unknown(name))
    root = datasets_dir()
    if root is None:
        raise DatasetNotFound(
            f"data set {name!r}: no shared/datasets folder found above {Path.cwd()}; "
            f"set {DATASETS_ENV} to the folder that holds {name}/"
        )
    path = root / name
    if not path.is_dir():
        raise DatasetNotFound(f"data set {name!r} not found at {path} (set {DATASETS_ENV})")
    return path


def _unknown(source: str) -> str:
    return (
        f"{source!r} is neither a known data set nor an existing file or folder; "
        f"known data sets: {', '.join(KNOWN_DATASETS)}"
    )


def load_dataset(
    source: str | Path,
    feedback_types: Mapping[str, FeedbackType] | None = None,
    *,
    format: str | None = None,
    demo_users: int | None = None,
    demo_items: int | None = None,
    via_store: bool = False,
) -> Dataset:
    """The snapshot of a known data set name, ``"demo"``, or a file or folder to import.

    A path may be in any importer format (``format`` None: detected). ``feedback_types``
    default to the service's default types. ``demo_users`` / ``demo_items`` shrink or grow
    the generated demo. Raises ``DatasetNotFound`` for an unknown name or missing path, and
    the importers' ``ImportFailed`` errors for unreadable or invalid sources.
    """
    types = default_feedback_types() if feedback_types is None else feedback_types
    name = str(source)
    if isinstance(source, str) and name == DEMO:
        parts = _demo_parts(demo_users, demo_items)
        fmt, label = "rows", DEMO
    else:
        if isinstance(source, str) and name in DATASET_FORMATS and not Path(name).exists():
            path = resolve_dataset(name)
        else:
            path = Path(source).expanduser()
            if not path.exists():
                raise DatasetNotFound(_unknown(name))
        fmt = format or detect_format(path)
        if fmt not in FORMATS:
            raise UnknownFormatError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
        parts = source_parts(path, fmt, None)
        label = path.name or str(path)
    if via_store:
        return _through_store(parts, label, fmt, types)
    return dataset_from_parts(parts, types, source=label)


def _demo_parts(n_users: int | None, n_items: int | None) -> list[Part]:
    from recserve.demo import generate

    sizes = {"n_users": n_users, "n_items": n_items}
    data = generate(seed=0, **{k: v for k, v in sizes.items() if v is not None})
    given = {
        "items": data.items,
        "users": data.users,
        "events": data.events,
        "relations": data.relations,
    }
    return [rows_part(kind, f"demo {kind}", rows) for kind, rows in given.items()]  # type: ignore[arg-type]


def _validated(
    parts: Sequence[Part], types: Mapping[str, FeedbackType], source: str
) -> dict[str, list[dict[str, Any]]]:
    """Every part's rows through the schema models; raises before returning anything bad."""
    validator = RowValidator(types, MAX_PROBLEMS)
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for part in parts:
        kept = rows[part.kind]
        for row in validator.rows(part):
            if row is not None:
                kept.append(row)
    if validator.total:
        raise ImportValidationError(source, validator.problems, validator.total)
    return rows


def _column(rows: Iterable[Mapping[str, Any]], key: str) -> np.ndarray:
    return np.array([row[key] for row in rows], dtype=object)


def dataset_from_parts(
    parts: Sequence[Part], feedback_types: Mapping[str, FeedbackType], *, source: str = "rows"
) -> Dataset:
    """Validate ``parts`` and index them as a store would hold them after an import.

    Items and users: the last row of an id wins. Events: one with an ``event_id`` seen
    before is skipped; no timestamp means now. Relations: repeated edges count once.
    """
    rows = _validated(parts, feedback_types, source)
    items = {row["item_id"]: row for row in rows["items"]}
    user_rows = {row["user_id"]: row for row in rows["users"]}
    seen_ids: set[str] = set()
    events: list[dict[str, Any]] = []
    for row in rows["events"]:
        event_id = row.get("event_id")
        if event_id is not None:
            if event_id in seen_ids:
                continue
            seen_ids.add(event_id)
        events.append(row)
    now = time.time()
    edges = sorted(
        {(r["user_id"], r["other_user_id"], r.get("type") or "friend") for r in rows["relations"]}
    )
    rel_users = np.array([e[0] for e in edges], dtype=object)
    rel_others = np.array([e[1] for e in edges], dtype=object)
    user_ids, item_ids = _column(events, "user_id"), _column(events, "item_id")
    values = np.array(
        [np.nan if row.get("value") is None else row["value"] for row in events], dtype=np.float64
    )
    timestamps = np.array(
        [now if row.get("timestamp") is None else row["timestamp"] for row in events],
        dtype=np.float64,
    )
    return Dataset.from_events(
        user_ids,
        item_ids,
        _column(events, "type"),
        values,
        timestamps,
        feedback_types,
        users=Vocabulary.from_arrays(
            np.array(list(user_rows), dtype=object), user_ids, rel_users, rel_others
        ),
        items=Vocabulary.from_arrays(np.array(list(items), dtype=object), item_ids),
        item_rows=items,
        relations=(rel_users, rel_others),
    )


def _through_store(
    parts: Sequence[Part], source: str, fmt: str, types: Mapping[str, FeedbackType]
) -> Dataset:
    from recserve.importers.core import import_parts
    from recserve.store import Store

    with tempfile.TemporaryDirectory(prefix="recserve-dataset-") as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'dataset.sqlite'}")
        try:
            import_parts(store, parts, source=source, format=fmt, feedback_types=types)
            return Dataset.from_store(store, types)
        finally:
            store.close()


__all__ = [
    "DATASETS_ENV",
    "KNOWN_DATASETS",
    "DatasetNotFound",
    "dataset_from_parts",
    "datasets_dir",
    "load_dataset",
    "resolve_dataset",
]
