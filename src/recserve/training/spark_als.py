"""ALS trained on Apache Spark MLlib and registered as a recserve ``als`` model.

For event logs whose ALS solve outgrows one machine (DESIGN.md section 9). The snapshot
(the store's, or an existing Parquet export of events) is indexed on the driver with the
same vocabularies and the same holdout split a local training job uses; its positive
``(user, item, confidence)`` triples go to Parquet through pyarrow, Spark reads them and
fits ``pyspark.ml.recommendation.ALS``, and its ``userFactors``/``itemFactors`` come back
(again through Parquet, not through the driver's JVM socket) as the arrays of a recserve
``als`` model. The registry stores that like a local fit and serving loads it unchanged,
fold-in of request-time history included; the manifest says ``engine: "spark"``.

The two libraries solve the same implicit-feedback objective (Hu, Koren & Volinsky 2008)
with two differences, mapped by :func:`spark_params`:

* confidence of an observed pair with summed event weight ``w``: implicit uses
  ``alpha * w``, Spark ``1 + alpha_s * r`` for the rating ``r`` it is given. Spark gets
  ``alpha_s = 1`` and ``r = alpha * w - 1``, so its confidence is implicit's exactly,
  except that ``r`` is floored at ``MIN_RATING`` (Spark makes a non-positive rating a
  preference of 0): a pair with ``alpha * w < 1`` gets confidence ``1 + MIN_RATING``
  instead of less than 1.
* regularisation: implicit adds ``lambda ||x||^2`` for every user and item; Spark adds
  ``regParam * n ||x||^2`` with ``n`` the user's (item's) observed pairs ("ALS-WR",
  Zhou et al. 2008), and has no switch to turn that off. ``regParam = lambda / n_mean``
  with ``n_mean`` the mean number of pairs per trained user: a user with the average
  history is regularised as in the local fit, heavier users more, lighter users less.
  ``benchmarks/spark_als.py`` measures what that mapping costs.

pyspark and pyarrow are imported inside the functions: ``pip install 'recserve[spark]'``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from recserve.algorithms import Recommender, create
from recserve.algorithms.als import ALS, ALSConfig
from recserve.algorithms.factor_base import check_finite
from recserve.config import FeedbackType
from recserve.data import Dataset
from recserve.registry import ModelRegistry
from recserve.training.pipeline import dataset_stats, snapshot_with_stats
from recserve.training.selection import (
    PROMOTE_MODES,
    Contender,
    Decision,
    Incumbent,
    PromoteMode,
    champion_manifest,
    decide,
    evaluate,
    per_user_holdout,
    split_record,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from recserve.store import Store

log = logging.getLogger(__name__)

ENGINE = "spark"
DEFAULT_NAME = "als_spark"
DEFAULT_SCENARIOS: tuple[str, ...] = ("recommended", "similar_items")
DEFAULT_MASTER = "local[*]"
# columns of a Parquet export of events (what --from-parquet reads); value and timestamp
# may be left out
EVENT_COLUMNS = ("user_id", "item_id", "type", "value", "timestamp")
REQUIRED_COLUMNS = ("user_id", "item_id", "type")
MIN_RATING = 1e-4  # the smallest rating handed to Spark: it still means "preferred"
Progress = Callable[[float, str], None]


class SparkUnavailable(RuntimeError):
    """pyspark or pyarrow is not installed, or Spark (its JVM) could not start."""


class ExportError(ValueError):
    """A Parquet export of events is missing, unreadable or lacks a required column."""


# -- Spark session --------------------------------------------------------------------------


def spark_version() -> str:
    """The installed pyspark's version; ``SparkUnavailable`` without pyspark or pyarrow."""
    try:
        import pyarrow  # noqa: F401
        import pyspark
    except ImportError as exc:
        raise SparkUnavailable(
            "the Spark engine needs pyspark and pyarrow: pip install 'recserve[spark]'"
        ) from exc
    return str(pyspark.__version__)


@contextlib.contextmanager
def spark_session(master: str = DEFAULT_MASTER, app_name: str = "recserve-als") -> Iterator[Any]:
    """A SparkSession on ``master``; stopped on exit only if it was started here (an
    existing session, e.g. a test suite's, is used as it is and left running).

    Quiet and lean for a training run: log level WARN, no web UI, no console progress
    bars, two shuffle partitions (ALS sets its own block counts)."""
    spark_version()
    from pyspark.sql import SparkSession

    existing = SparkSession.getActiveSession()
    if existing is not None:
        yield existing
        return
    if master.startswith("local"):  # no "hostname resolves to a loopback address" warning
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    try:
        session = (
            SparkSession.builder.master(master)
            .appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate()
        )
    except Exception as exc:  # py4j/pyspark raise their own types when the JVM fails
        raise SparkUnavailable(f"Spark could not start on {master!r}: {exc}") from exc
    session.sparkContext.setLogLevel("WARN")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # an INFO line per gateway event
    try:
        yield session
    finally:
        session.stop()


# -- Parquet in and out ---------------------------------------------------------------------


def export_events(store: Store, path: Path) -> int:
    """Write every stored event (``EVENT_COLUMNS``) to one Parquet file; returns the count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = store.feedback.columns()
    table = pa.table(
        {
            "user_id": pa.array(cols.user_ids.tolist(), pa.string()),
            "item_id": pa.array(cols.item_ids.tolist(), pa.string()),
            "type": pa.array(cols.types.tolist(), pa.string()),
            "value": pa.array(cols.values, pa.float64()),
            "timestamp": pa.array(cols.timestamps, pa.float64()),
        }
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return table.num_rows


def read_events(path: Path, feedback_types: Mapping[str, FeedbackType]) -> Dataset:
    """A dataset from a Parquet export of events (a file, or a folder of part files as
    Spark writes them): string ``user_id``/``item_id``/``type``, optional numeric
    ``value`` (missing: NaN) and ``timestamp`` (Unix seconds or a Parquet timestamp)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise ExportError(f"{path} does not exist")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ExportError(f"{path} is not a readable Parquet export: {exc}") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
    if missing:
        raise ExportError(
            f"{path} lacks column(s) {missing}; an export has {', '.join(EVENT_COLUMNS)}"
        )
    n = table.num_rows

    def strings(name: str) -> np.ndarray:
        column = pc.cast(table.column(name), pa.string())
        if column.null_count:
            raise ExportError(f"{path}: column {name} has {column.null_count} empty value(s)")
        return np.array(column.to_pylist(), dtype=object)

    def numbers(name: str, missing_value: float) -> np.ndarray:
        if name not in table.column_names:
            return np.full(n, missing_value)
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = pc.divide(pc.cast(pc.cast(column, pa.timestamp("us")), pa.int64()), 1e6)
        try:
            column = pc.cast(column, pa.float64())
        except pa.ArrowException as exc:
            raise ExportError(f"{path}: column {name} is not numeric ({column.type})") from exc
        return np.asarray(column.fill_null(missing_value).to_numpy(), dtype=np.float64)

    return Dataset.from_events(
        strings("user_id"),
        strings("item_id"),
        strings("type"),
        numbers("value", math.nan),
        numbers("timestamp", 0.0),
        feedback_types,
    )


def spark_ratings(weights: np.ndarray, alpha: float) -> np.ndarray:
    """Spark ratings whose confidence ``1 + r`` (Spark's alpha 1) is implicit's
    ``alpha * w`` (see the module docstring)."""
    return np.maximum(alpha * np.asarray(weights, np.float64) - 1.0, MIN_RATING).astype(np.float32)


def _write_triples(matrix: sp.csr_matrix, alpha: float, path: Path) -> None:
    """The positive pairs of ``matrix`` as ``(user, item, rating)`` rows of one Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    coo = matrix.tocoo()
    table = pa.table(
        {
            "user": pa.array(coo.row.astype(np.int32)),
            "item": pa.array(coo.col.astype(np.int32)),
            "rating": pa.array(spark_ratings(coo.data, alpha)),
        }
    )
    pq.write_table(table, path)


def _read_factors(path: Path, rows: int, rank: int) -> np.ndarray:
    """A ``rows x rank`` table from Spark's ``(id, features)`` Parquet output (rows Spark
    did not learn stay zero)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["id", "features"])
    out = np.zeros((rows, rank), dtype=np.float32)
    if table.num_rows:
        ids = table.column("id").to_numpy()
        features = table.column("features").combine_chunks().flatten().to_numpy()
        out[ids] = np.asarray(features, dtype=np.float32).reshape(len(ids), rank)
    return out


# -- the fit ------------------------------------------------------------------------------


def spark_params(config: ALSConfig, matrix: sp.csr_matrix, parallelism: int) -> dict[str, Any]:
    """Spark ALS parameters equivalent to ``config`` on ``matrix`` (see the module
    docstring for the regularisation and confidence mapping)."""
    per_user = np.diff(matrix.indptr)
    trained = per_user[per_user > 0]
    mean_pairs = float(trained.mean()) if len(trained) else 1.0
    blocks = max(1, min(parallelism, 64))
    return {
        "rank": config.factors,
        "maxIter": config.iterations,
        "regParam": config.regularization / mean_pairs,
        "alpha": 1.0,  # the ratings carry config.alpha: see spark_ratings
        "implicitPrefs": True,
        "nonnegative": False,
        "seed": config.seed,
        "numUserBlocks": blocks,
        "numItemBlocks": blocks,
        "mean_pairs_per_user": mean_pairs,  # not a Spark parameter: how regParam was set
    }


def fit_spark_als(
    spark: SparkSession, data: Dataset, config: ALSConfig, work_dir: Path
) -> tuple[ALS, dict[str, Any]]:
    """Fit ALS on ``data``'s positive matrix with Spark; returns the recserve ``als`` model
    (``data``'s vocabularies, Spark's factors) and the Spark parameters used."""
    from pyspark.ml.recommendation import ALS as SparkALS

    matrix = data.positive_matrix()
    params = spark_params(config, matrix, spark.sparkContext.defaultParallelism)
    # absolute: Spark resolves paths against its own working folder, executors too
    run_dir = Path(tempfile.mkdtemp(prefix="als-", dir=Path(work_dir).resolve()))
    try:
        _write_triples(matrix, config.alpha, run_dir / "triples.parquet")
        spark.sparkContext.setCheckpointDir(str(run_dir / "checkpoints"))  # long lineages
        estimator = SparkALS(
            userCol="user",
            itemCol="item",
            ratingCol="rating",
            checkpointInterval=10,
            **{k: v for k, v in params.items() if k != "mean_pairs_per_user"},
        )
        fitted = estimator.fit(spark.read.parquet(str(run_dir / "triples.parquet")))
        fitted.userFactors.write.parquet(str(run_dir / "users"))
        fitted.itemFactors.write.parquet(str(run_dir / "items"))
        user_factors = _read_factors(run_dir / "users", data.n_users, config.factors)
        item_factors = _read_factors(run_dir / "items", data.n_items, config.factors)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    check_finite("spark als", user_factors, item_factors)
    model = ALS(config)
    model.users, model.items = data.users, data.items
    # the persisted state of an ``als`` model (its ``_state`` layout), as a local fit sets it
    model._restore(
        {
            "user_factors": user_factors,
            "item_factors": item_factors,
            "user_support": np.diff(matrix.indptr) > 0,
            "servable_items": np.bincount(matrix.indices, minlength=matrix.shape[1]) > 0,
        }
    )
    return model, params


# -- the training run -----------------------------------------------------------------------


def _config_key(config: Mapping[str, Any], engine: str) -> dict[str, Any]:
    """What makes two models 'the same model' for the promotion rule: config and engine."""
    return {**config, "engine": engine}


def _incumbent(
    registry: ModelRegistry,
    ref: str,
    ours: Contender,
    spark: SparkSession,
    split: Any,
    work_dir: Path,
) -> Incumbent:
    """The champion ``ref`` refitted on the split's train part with its own engine and
    scored; a Spark champion with our config is our fit, so our metrics are reused."""
    manifest = champion_manifest(registry, ref)
    if manifest is None:
        return Incumbent(ref, None, None, None, None)
    family, config = manifest["family"], manifest["config"]
    engine = str(manifest.get("engine", "local"))
    key, data = _config_key(config, engine), manifest.get("data")
    if family == "als" and key == ours.config:
        return Incumbent(ref, ours.metrics, family, key, data)
    model: Recommender[Any]
    try:
        if family == "als" and engine == ENGINE:
            model, _ = fit_spark_als(spark, split.train, ALSConfig(**config), work_dir)
        else:
            model = create(family, **config).fit(split.train)
    except (ValueError, TypeError) as exc:
        log.warning("champion %s cannot be refitted (%s)", ref, exc)
        return Incumbent(ref, None, family, key, data)
    return Incumbent(ref, evaluate(model, split), family, key, data)


def run_spark_training(
    registry: ModelRegistry,
    feedback_types: Mapping[str, FeedbackType],
    *,
    store: Store | None = None,
    parquet: Path | None = None,
    master: str = DEFAULT_MASTER,
    config: ALSConfig | None = None,
    name: str = DEFAULT_NAME,
    scenarios: Sequence[str] = DEFAULT_SCENARIOS,
    promote: PromoteMode = "if_better",
    work_dir: Path | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Train ALS on Spark from ``store`` (or from the Parquet export ``parquet``), score it
    on the per-user holdout a local job uses, promote it to ``scenarios`` by the same rule
    (``selection.decide``), and register it; returns results shaped like a local job's
    (``data``, ``split``, ``models``, ``scenarios``) plus ``engine``.

    As in a local job, a promoted model (or every model with ``promote="never"``) is
    refitted on all the data before it is registered; one not promoted is registered as
    the evaluated train-part fit. ``ValueError`` for no events or a bad promote mode,
    ``ExportError`` for a bad export, ``SparkUnavailable`` when Spark cannot run.
    """
    if promote not in PROMOTE_MODES:
        raise ValueError(f"promote must be one of {PROMOTE_MODES}, got {promote!r}")
    if (store is None) == (parquet is None):
        raise ValueError("give exactly one of store and parquet")
    config = config or ALSConfig()
    report = progress or (lambda fraction, step: None)
    report(0.0, "snapshot")
    start = time.perf_counter()
    if store is not None:
        data, stats = snapshot_with_stats(store, feedback_types)
    else:
        assert parquet is not None
        taken_at = time.time()
        data = read_events(parquet, feedback_types)
        if len(data) == 0:
            raise ValueError(f"{parquet} holds no events")
        stats = {**dataset_stats(data), "snapshot_at": taken_at}
    split = per_user_holdout(data)
    record = split_record(split)
    results: dict[str, Any] = {
        "data": stats,
        "snapshot_seconds": time.perf_counter() - start,
        "split": record,
        "models": {},
        "scenarios": {},
        "engine": {"name": ENGINE, "spark_version": spark_version(), "master": master},
    }
    work_dir = Path(work_dir) if work_dir is not None else Path(tempfile.gettempdir())
    work_dir.mkdir(parents=True, exist_ok=True)
    with spark_session(master) as spark:
        results["engine"]["master"] = spark.sparkContext.master
        report(0.1, f"fitting {name} on the train part (Spark)")
        t0 = time.perf_counter()
        model, params = fit_spark_als(spark, split.train, config, work_dir)
        info: dict[str, Any] = {
            "family": "als",
            "engine": ENGINE,
            "spark_params": params,
            "fit_seconds": time.perf_counter() - t0,
            "promoted_to": [],
            "not_promoted": {},
        }
        report(0.4, f"evaluating {name}")
        info["metrics"] = evaluate(model, split)
        results["models"][name] = info
        ours = Contender(
            name, info["metrics"], "als", _config_key(config.model_dump(mode="json"), ENGINE)
        )
        champions = registry.champions()
        scored: dict[str, Incumbent] = {}
        for scenario in scenarios:
            ref = champions.get(scenario)
            incumbent: Incumbent | None = None
            if ref is not None and promote != "if_better":
                incumbent = Incumbent(ref, None, None, None, None)
            elif ref is not None:
                if ref not in scored:
                    report(0.5, f"evaluating champion {ref}")
                    scored[ref] = _incumbent(registry, ref, ours, spark, split, work_dir)
                incumbent = scored[ref]
            decision: Decision = decide(scenario, [ours], incumbent, promote, stats)
            results["scenarios"][scenario] = {
                "champion_before": ref,
                "champion_metrics": incumbent.metrics if incumbent else None,
                "winner": decision.winner,
                "reason": decision.reason,
            }
            if decision.winner == name:
                info["promoted_to"].append(scenario)
            else:
                info["not_promoted"][scenario] = decision.reason
        refit = bool(info["promoted_to"]) or promote == "never"
        if refit:
            report(0.7, f"refitting {name} on all data (Spark)")
            t0 = time.perf_counter()
            model, params = fit_spark_als(spark, data, config, work_dir)
            info["refit_seconds"] = time.perf_counter() - t0
            info["spark_params"] = params
    report(0.9, f"registering {name}")
    version = registry.register(
        name,
        model,
        data_stats=stats,
        metrics=info["metrics"],
        split=record,
        extra={
            "fitted_on": "all" if refit else "train",
            "engine": ENGINE,
            "spark_version": results["engine"]["spark_version"],
            "spark_params": info["spark_params"],
            "source": "store" if store is not None else f"parquet:{parquet}",
        },
    )
    info["version"] = version.version
    for scenario in info["promoted_to"]:
        registry.promote(scenario, name, version.version)
        results["scenarios"][scenario]["champion_after"] = version.ref
    for entry in results["scenarios"].values():
        entry.setdefault("champion_after", entry["champion_before"])
    log.info("%s %s (spark): promoted to %s", name, version.version, info["promoted_to"] or "-")
    return results
