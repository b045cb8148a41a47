"""Batch output files: one JSON line per user, or Parquet when the name ends ``.parquet``.

A file is written under a temporary name beside it and renamed into place when complete,
so a reader never sees half an export. Parquet needs pyarrow (the ``parquet`` extra).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

Record = dict[str, Any]  # {user_id, items: [{item_id, score}], model, experiment, variant}


class OutputError(ValueError):
    """The output file cannot be written as asked (format, missing pyarrow)."""


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


def _pyarrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise OutputError(
            "writing Parquet needs pyarrow: pip install 'recserve[parquet]' (or write .jsonl)"
        ) from exc
    return pa, pq


class BatchWriter:
    """Appends records to ``path`` (JSONL, or Parquet by suffix); ``close`` publishes it,
    ``discard`` removes the partial file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.parquet = is_parquet(self.path)
        if self.parquet:
            self._pa, self._pq = _pyarrow()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        self._tmp = Path(tmp)
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._parquet_writer: Any = None
        self.count = 0

    def _schema(self) -> Any:
        pa = self._pa
        item = pa.struct([("item_id", pa.string()), ("score", pa.float64())])
        return pa.schema(
            [
                ("user_id", pa.string()),
                ("items", pa.list_(item)),
                ("model", pa.string()),
                ("experiment", pa.string()),
                ("variant", pa.string()),
            ]
        )

    def write(self, records: Sequence[Record]) -> None:
        if not records:
            return
        if self.parquet:
            if self._parquet_writer is None:
                self._parquet_writer = self._pq.ParquetWriter(self._file, self._schema())
            table = self._pa.Table.from_pylist(list(records), schema=self._schema())
            self._parquet_writer.write_table(table)
        else:
            lines = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
            self._file.write(lines.encode("utf-8"))
        self.count += len(records)

    def close(self) -> None:
        """Finish the file and rename it into place."""
        if self.parquet:
            if self._parquet_writer is None:  # no user at all: a valid, empty file
                self._parquet_writer = self._pq.ParquetWriter(self._file, self._schema())
            self._parquet_writer.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.path)

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)
