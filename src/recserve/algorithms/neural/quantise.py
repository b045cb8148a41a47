"""Quantised embedding tables for serving: float16 and int8 with a symmetric per-row scale.

An item table of 1M x 64 float32 takes 256 MB; float16 halves it and int8 quarters it
(plus 4 bytes of scale per row). Scoring never rebuilds the float32 table: ``dot``
dequantises a bounded slice of rows at a time, so the extra memory is one slice, not the
table. The conversion costs time: exact scoring from int8 is about 2x slower than from
float32, from float16 more (numpy converts half precision without SIMD); catalogues large
enough for that to matter are served through an ANN index over the same vectors.

* ``quantise(matrix, "int8")``: row ``r`` is stored as ``round(r / s)`` in int8 with
  ``s = max|r| / 127``, so each value is off by at most ``s / 2`` and the largest entry of
  every row is exact. Rows keep their own scale, so long and short vectors lose the same
  relative precision (a shared scale would flatten short rows to a few levels).
* ``quantise(matrix, "float16")``: IEEE half precision (about 3 significant digits);
  values beyond its range are refused rather than turned into infinities.
* ``quantise(matrix, "float32")``: the identity, so a model can hold any table the same way.

:class:`QuantisedScorer` wraps any fitted factor-style model -- one whose scores are the dot
product of a query vector with an item table -- and serves it from a quantised copy of that
table; ``benchmarks/compression.py`` measures what each dtype costs in NDCG.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import scipy.sparse as sp

from recserve.algorithms.base import Recommender

TableDType = Literal["float32", "float16", "int8"]
DTYPES: tuple[TableDType, ...] = ("float32", "float16", "int8")
INT8_MAX = 127
FLOAT16_MAX = float(np.finfo(np.float16).max)
# values dequantised at once in ``dot``: at most 16 MB of float32 per slice; few queries get
# small slices (cache-resident, the conversion dominates), many queries big ones (BLAS-bound)
SLICE_ELEMENTS = 4 * 1024 * 1024
SLICE_ELEMENTS_PER_QUERY = 64 * 1024
MIN_SLICE_ELEMENTS = 256 * 1024


@dataclass(frozen=True)
class QuantisedTable:
    """A ``rows x dims`` table stored as ``dtype``; ``scale`` is per row (int8 only)."""

    data: np.ndarray
    scale: np.ndarray | None
    dtype: TableDType

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape

    @property
    def nbytes(self) -> int:
        """Bytes held by the table (codes plus scales)."""
        return int(self.data.nbytes + (0 if self.scale is None else self.scale.nbytes))

    def to_float(self) -> np.ndarray:
        """The dequantised float32 table (allocates the full table: for checks, not serving)."""
        return self.take(np.arange(self.shape[0]))

    def take(self, rows: np.ndarray) -> np.ndarray:
        """Dequantised float32 copies of the given rows."""
        rows = np.asarray(rows, dtype=np.int64)
        out = self.data[rows].astype(np.float32)
        if self.scale is not None:
            out *= self.scale[rows, None]
        return out

    def dot(self, queries: np.ndarray) -> np.ndarray:
        """``queries @ table.T`` as float32 (``len(queries) x rows``), slice by slice."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n_rows, dims = self.shape
        if q.shape[1] != dims:
            raise ValueError(f"queries have {q.shape[1]} dimensions, the table {dims}")
        if self.dtype == "float32":
            return q @ self.data.T
        out = np.empty((len(q), n_rows), dtype=np.float32)
        elements = min(SLICE_ELEMENTS, max(MIN_SLICE_ELEMENTS, len(q) * SLICE_ELEMENTS_PER_QUERY))
        step = max(1, elements // max(dims, 1))
        for start in range(0, n_rows, step):
            stop = min(start + step, n_rows)
            block = self.data[start:stop].astype(np.float32)
            part = q @ block.T  # contiguous, so BLAS runs it (a strided ``out=`` would not)
            if self.scale is not None:
                part *= self.scale[None, start:stop]
            out[:, start:stop] = part
        return out

    # -- persistence as named arrays ----------------------------------------------------------

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        out = {f"{prefix}.data": self.data}
        if self.scale is not None:
            out[f"{prefix}.scale"] = self.scale
        return out

    @classmethod
    def from_arrays(cls, prefix: str, arrays: dict[str, np.ndarray]) -> QuantisedTable:
        data = arrays[f"{prefix}.data"]
        scale = arrays.get(f"{prefix}.scale")
        kind = str(data.dtype)
        if kind not in DTYPES:
            raise ValueError(f"{prefix}: unsupported table dtype {kind}")
        return cls(data=data, scale=scale, dtype=kind)


def quantise(matrix: np.ndarray, dtype: TableDType = "int8") -> QuantisedTable:
    """``matrix`` (rows x dims, finite) stored as ``dtype`` (see the module docstring)."""
    m = np.asarray(matrix, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"an embedding table is 2-D, got shape {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError("the table holds NaN or infinite values")
    if dtype == "float32":
        return QuantisedTable(np.ascontiguousarray(m), None, "float32")
    if dtype == "float16":
        if m.size and np.abs(m).max() > FLOAT16_MAX:
            raise ValueError(f"values beyond the float16 range (+-{FLOAT16_MAX:g})")
        return QuantisedTable(m.astype(np.float16), None, "float16")
    if dtype == "int8":
        peak = np.abs(m).max(axis=1) if m.shape[1] else np.zeros(len(m), np.float32)
        scale = (peak / INT8_MAX).astype(np.float32)
        safe = np.where(scale > 0, scale, 1.0).astype(np.float32)
        codes = np.rint(m / safe[:, None]).clip(-INT8_MAX, INT8_MAX).astype(np.int8)
        return QuantisedTable(codes, scale, "int8")
    raise ValueError(f"unknown table dtype {dtype!r}; known: {list(DTYPES)}")


# -- serving any factor-style model from a quantised table -----------------------------------

ITEM_TABLE_ATTRIBUTES = ("item_embeddings", "item_factors")


def item_table_of(model: Any) -> np.ndarray:
    """The float32 item table of a factor-style model (``item_embeddings`` or
    ``item_factors``); a ValueError for models without one."""
    for name in ITEM_TABLE_ATTRIBUTES:
        table = getattr(model, name, None)
        if table is not None:
            if hasattr(table, "to_numpy"):  # e.g. an implicit GPU matrix
                table = table.to_numpy()
            return np.asarray(table, dtype=np.float32)
    raise ValueError(
        f"{type(model).__name__} has no item table ({' or '.join(ITEM_TABLE_ATTRIBUTES)})"
    )


class QuantisedScorer(Recommender[Any]):
    """A fitted factor-style model served from a quantised copy of its item table.

    The wrapped model supplies the query side: ``query_vectors(users, history)`` when it
    has one (fold-in and request-time history keep working), else rows of its
    ``user_factors`` for known users. Items it masks (``servable_items`` False) stay
    masked. Scores are then ``query @ table.T`` over the quantised table. The wrapper is
    for serving and measuring; it is not registered as a family and is not saved -- save
    the model itself (two-tower can store its table quantised: ``item_table_dtype``).

    With ``check`` (default), the float32 path must reproduce the model's own scores for
    a few users, so a model whose scores are not a plain dot product is refused.
    """

    def __init__(self, model: Recommender[Any], dtype: TableDType = "int8", check: bool = True):
        model._check_fitted()
        super().__init__(model.config)
        self.model = model
        self.users, self.items = model.users, model.items
        self.table_dtype = dtype
        # not a class attribute: a class-level ``family`` would register the wrapper
        name = getattr(model, "family", type(model).__name__)
        self.family = f"{name}[{dtype}]"  # type: ignore[misc]
        float_table = item_table_of(model)
        if float_table.shape[0] != model.n_items:
            raise ValueError(f"item table has {float_table.shape[0]} rows, model {model.n_items}")
        self.table = quantise(float_table, dtype)
        mask = getattr(model, "servable_items", None)
        self.servable = None if mask is None else np.asarray(mask, dtype=bool)
        if check:
            self._check_dot_product(float_table)

    @property
    def uses_history(self) -> bool:  # type: ignore[override]
        return self.model.uses_history

    @property
    def personalised(self) -> bool:  # type: ignore[override]
        return self.model.personalised

    def _check_dot_product(self, float_table: np.ndarray) -> None:
        assert self.users is not None
        users = np.arange(min(len(self.users), 8))
        if not len(users):
            return
        history = sp.csr_matrix((len(users), self.n_items), dtype=np.float32)
        own = np.asarray(self.model.score(users, history), dtype=np.float64)
        mine = self._mask(self.query_vectors(users, history) @ float_table.T).astype(np.float64)
        finite = np.isfinite(own)
        if not np.array_equal(finite, np.isfinite(mine)) or not np.allclose(
            own[finite], mine[finite], rtol=1e-3, atol=1e-4
        ):
            raise ValueError(
                f"{type(self.model).__name__} scores are not query @ item table: "
                "it cannot be served from a quantised table"
            )

    def query_vectors(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        query = getattr(self.model, "query_vectors", None)
        if query is not None:
            return np.asarray(query(users, history), dtype=np.float32)
        factors = getattr(self.model, "user_factors", None)
        if factors is None:
            raise ValueError(f"{type(self.model).__name__} has no query_vectors or user_factors")
        if hasattr(factors, "to_numpy"):
            factors = factors.to_numpy()
        factors = np.asarray(factors, dtype=np.float32)
        out = np.zeros((len(users), factors.shape[1]), dtype=np.float32)
        known = users >= 0
        out[known] = factors[users[known]]
        return out

    def _mask(self, scores: np.ndarray) -> np.ndarray:
        if self.servable is not None:
            scores[:, ~self.servable] = -np.inf
        return scores

    def has_signal(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        return self.model.has_signal(users, history)

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self._mask(self.table.dot(self.query_vectors(users, history)))

    def _fit(self, data: Any) -> None:
        raise TypeError("QuantisedScorer wraps a fitted model; fit the model itself")

    def save(self, directory: Path) -> None:
        raise TypeError("QuantisedScorer is not saved; save the wrapped model")

    @classmethod
    def load(cls, directory: Path) -> Self:
        raise TypeError("QuantisedScorer is not loaded; load the wrapped model")

    def _state(self) -> dict[str, np.ndarray]:
        raise TypeError("QuantisedScorer is not saved; save the wrapped model")

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        raise TypeError("QuantisedScorer is not loaded; load the wrapped model")
