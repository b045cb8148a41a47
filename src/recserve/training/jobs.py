"""Training jobs: snapshot, holdout split, fit and evaluate each candidate, score each
scenario's champion on the same split, promote by the rule in ``selection.decide``, register.

``run_training`` is the job itself (the CLI calls it synchronously); ``execute_job`` runs it
for a stored job record, writing status, progress and results to the store so any API
replica can read them; ``JobRunner`` starts that in a separate worker process ("spawn"
context, never the request thread) and swaps the new champions in when it ends.

What is registered: a candidate promoted to some scenario is refitted on ALL the data
(``fitted_on: "all"``) before it is registered, because the held-out events are the users'
own recent interests and serving without them would be a worse model than the one
evaluated. Its manifest keeps the holdout metrics of the train-part fit and the split they
were measured on. A candidate that is not promoted is registered as evaluated (the
train-part fit, ``fitted_on: "train"``): it can be inspected or promoted by hand, and
refitting a model nobody serves would double the job's time. With ``promote="never"``
every candidate is refitted on all data, since that run exists to be promoted by hand.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from recserve.algorithms import Recommender, create
from recserve.config import DEFAULT_TRAIN_BUDGET_SECONDS, FeedbackType
from recserve.observability import observe_job_results
from recserve.registry import ModelRegistry
from recserve.store import Store
from recserve.store.jobs import ACTIVE
from recserve.training.pipeline import (
    DEFAULT_MODELS,
    ModelSpec,
    applicable,
    select_models,
    snapshot_with_stats,
)
from recserve.training.request import TrainingRequest
from recserve.training.search import ModelSearch, SearchResult, events_digest
from recserve.training.selection import (
    PROMOTE_MODES,
    Contender,
    Incumbent,
    PromoteMode,
    champion_manifest,
    decide,
    evaluate,
    per_user_holdout,
    split_record,
)

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
HEARTBEAT_SECONDS = 5.0
SEARCHED = "recommended"  # the scenario whose candidate the model search finds
SEARCH_SHARE = 0.8  # of the job's progress bar
FIRST_RUN_LOOKBACK = 20  # recent jobs read to tell whether one has succeeded yet


class JobAlreadyRunning(RuntimeError):
    """A training job is queued or running already; one at a time keeps promotion sane."""

    def __init__(self, job_id: str):
        super().__init__(f"training job {job_id} is still running")
        self.job_id = job_id


def _config(model: Recommender[Any]) -> dict[str, Any]:
    return model.config.model_dump(mode="json")


class _Steps:
    """Progress as a fraction of a step count known up front (refits are estimated)."""

    def __init__(self, total: int, report: Progress | None):
        self.total, self.done, self.report = max(total, 1), 0, report
        self.floor = 0.0  # the share of the bar already filled by the search

    @property
    def fraction(self) -> float:
        return self.floor + (1.0 - self.floor) * self.done / self.total

    def __call__(self, step: str) -> None:
        if self.report:
            self.report(min(self.fraction, 0.99), step)
        self.done += 1

    def rebase(self, floor: float) -> None:
        """The steps left share the bar from ``floor`` on (after the search filled it)."""
        self.floor, self.total, self.done = floor, max(self.total - self.done, 1), 0


def run_training(
    store: Store,
    registry: ModelRegistry,
    feedback_types: Mapping[str, FeedbackType],
    *,
    models: Iterable[str] | None = None,
    scenarios: Iterable[str] | None = None,
    promote: PromoteMode = "if_better",
    catalogue: Mapping[str, ModelSpec] = DEFAULT_MODELS,
    progress: Progress | None = None,
    budget_seconds: float | None = None,
    families: Iterable[str] | None = None,
    job_id: str | None = None,
    search: bool | None = None,
) -> dict[str, Any]:
    """One training run; returns its results (data, split, per-model and per-scenario).

    Unless ``models`` names the models to train, ``scenarios`` leaves ``recommended`` out,
    or a ``catalogue`` other than the default is given (``search`` forces either way),
    the ``recommended`` scenario's candidate comes from a model search
    (``training.search``) over ``families`` (default: every family that applies) within
    ``budget_seconds`` on the train part of the holdout; its trials are in
    ``results["search"]``.

    ``ValueError`` for an empty store, unknown model names or an unknown promote mode.
    """
    if promote not in PROMOTE_MODES:
        raise ValueError(f"promote must be one of {PROMOTE_MODES}, got {promote!r}")
    if search is None:
        search = models is None and catalogue is DEFAULT_MODELS
    searching = search and (scenarios is None or SEARCHED in scenarios)
    chosen = select_models(models, scenarios, catalogue)
    if searching:  # the search's winner is the candidate for the searched scenario
        chosen = _without_scenario(chosen, SEARCHED)
    start = time.perf_counter()
    steps = _Steps(2 + 3 * (len(chosen) + searching), progress)
    steps("snapshot")
    data, stats = snapshot_with_stats(store, feedback_types)
    chosen = {n: spec for n, spec in chosen.items() if applicable(spec[0], data, spec[1])}
    if not chosen and not searching:
        raise ValueError("none of the requested models can be trained on this data")
    results: dict[str, Any] = {
        "data": stats,
        "snapshot_seconds": time.perf_counter() - start,
        "models": {},
        "scenarios": {},
    }
    split = per_user_holdout(data)
    record = split_record(split)
    record["test_digest"] = events_digest(split.test)
    results["split"] = record

    fitted: dict[str, Recommender[Any]] = {}

    def fit_candidate(name: str, family: str, params: dict[str, Any]) -> None:
        steps(f"fitting {name} on the train part")
        t0 = time.perf_counter()
        model = create(family, **params).fit(split.train)
        fit_seconds = time.perf_counter() - t0
        steps(f"evaluating {name}")
        fitted[name] = model
        results["models"][name] = {
            "family": family,
            "metrics": evaluate(model, split),
            "fit_seconds": fit_seconds,
            "promoted_to": [],
            "not_promoted": {},
        }

    for name, (family, params, _) in chosen.items():
        fit_candidate(name, family, params)
    others_seconds = time.perf_counter() - start - results["snapshot_seconds"]

    found: SearchResult | None = None
    if searching:
        budget = DEFAULT_TRAIN_BUDGET_SECONDS if budget_seconds is None else float(budget_seconds)
        found = _search(
            split.train,
            budget - (time.perf_counter() - start),
            registry,
            None if families is None else list(families),
            steps,
            progress,
            # kept back: the winner's fit, the champion's refit, the other models' refits
            reserve=lambda best_seconds: 2 * best_seconds + others_seconds,
        )
        results["search"] = {**found.to_dict(), "job_id": job_id}
        steps.rebase(SEARCH_SHARE)
        best = found.best
        if best is not None:
            name = best.family if best.family not in chosen else f"{best.family}_search"
            chosen[name] = (best.family, dict(best.params), (SEARCHED,))
            fit_candidate(name, best.family, dict(best.params))
        if not chosen:
            raise ValueError("no model could be trained on this data: see the search's trials")

    # the champion of each scenario, refitted on the same train part and scored
    champions = registry.champions()
    incumbents: dict[str, Incumbent | None] = {}
    scored: dict[str, Incumbent] = {}
    for scenario in dict.fromkeys(s for spec in chosen.values() for s in spec[2]):
        ref = champions.get(scenario)
        if ref is None or promote != "if_better":
            incumbents[scenario] = None if ref is None else Incumbent(ref, None, None, None, None)
            continue
        if ref not in scored:
            steps(f"evaluating champion {ref}")
            scored[ref] = _score_champion(registry, ref, split, chosen, results["models"])
        incumbents[scenario] = scored[ref]

    promoted: dict[str, list[str]] = {name: [] for name in chosen}
    for scenario, incumbent in incumbents.items():
        contenders = [
            Contender(name, results["models"][name]["metrics"], family, _config(fitted[name]))
            for name, (family, _, served) in chosen.items()
            if scenario in served
        ]
        decision = decide(scenario, contenders, incumbent, promote, stats)
        results["scenarios"][scenario] = {
            "champion_before": incumbent.ref if incumbent else None,
            "champion_metrics": incumbent.metrics if incumbent else None,
            "winner": decision.winner,
            "reason": decision.reason,
        }
        for contender in contenders:
            if contender.name == decision.winner:
                promoted[contender.name].append(scenario)
            else:
                reason = decision.reason
                if contender.name != decision.challenger:
                    reason = f"{decision.challenger} scored higher for {scenario}"
                results["models"][contender.name]["not_promoted"][scenario] = reason

    for name, (family, params, _) in chosen.items():
        info = results["models"][name]
        refit = bool(promoted[name]) or promote == "never"
        model = fitted[name]
        if refit:
            steps(f"refitting {name} on all data")
            t0 = time.perf_counter()
            model = create(family, **params).fit(data)
            info["refit_seconds"] = time.perf_counter() - t0
        steps(f"registering {name}")
        extra: dict[str, Any] = {"fitted_on": "all" if refit else "train"}
        if found is not None and found.best is not None and SEARCHED in chosen[name][2]:
            info["search"] = extra["search"] = {
                "job_id": job_id,
                "trial": found.best.number,
                "source": found.best.source,
                "validation_ndcg@10": found.best.value,
                "trials": len(found.trials),
            }
        version = registry.register(
            name,
            model,
            data_stats=stats,
            metrics=info["metrics"],
            split=record,
            extra=extra,
        )
        info["version"] = version.version
        for scenario in promoted[name]:
            registry.promote(scenario, name, version.version)
            info["promoted_to"].append(scenario)
            results["scenarios"][scenario]["champion_after"] = version.ref
        log.info("%s %s: promoted to %s", name, version.version, info["promoted_to"] or "nothing")
    for entry in results["scenarios"].values():
        entry.setdefault("champion_after", entry["champion_before"])
    return results


def _without_scenario(chosen: Mapping[str, ModelSpec], scenario: str) -> dict[str, ModelSpec]:
    """``chosen`` with ``scenario`` taken off every model (a model left with none goes)."""
    out = {}
    for name, (family, params, served) in chosen.items():
        rest = tuple(s for s in served if s != scenario)
        if rest:
            out[name] = (family, params, rest)
    return out


def _search(
    train: Any,
    budget: float,
    registry: ModelRegistry,
    families: list[str] | None,
    steps: _Steps,
    progress: Progress | None,
    reserve: Callable[[float], float],
) -> SearchResult:
    """The model search for the searched scenario on ``train``, warm-started from its
    champion's family and configuration; progress fills the job's search share."""
    warm = None
    ref = registry.champions().get(SEARCHED)
    manifest = champion_manifest(registry, ref) if ref else None
    if manifest is not None:
        warm = (manifest["family"], manifest["config"])
    steps("searching")
    offset = steps.fraction

    def report(fraction: float, step: str) -> None:
        if progress:
            progress(offset + (SEARCH_SHARE - offset) * fraction, f"search: {step}")

    return ModelSearch(
        train,
        budget,
        families=families,
        warm_start=warm,
        reserve=reserve,
        progress=report,
    ).run()


def _score_champion(
    registry: ModelRegistry,
    ref: str,
    split: Any,
    chosen: Mapping[str, ModelSpec],
    scores: Mapping[str, dict[str, Any]],
) -> Incumbent:
    """The champion's family and config refitted on ``split.train`` and evaluated; a
    candidate with the same family and config is the same fit, so its metrics are reused."""
    manifest = champion_manifest(registry, ref)
    if manifest is None:
        return Incumbent(ref, None, None, None, None)
    family, config = manifest["family"], manifest["config"]
    data = manifest.get("data")
    for candidate, (cand_family, params, _) in chosen.items():
        if cand_family == family and _config(create(family, **params)) == config:
            return Incumbent(ref, scores[candidate]["metrics"], family, config, data)
    try:
        model = create(family, **config).fit(split.train)
    except (ValueError, TypeError) as exc:
        log.warning("champion %s cannot be refitted (%s)", ref, exc)
        return Incumbent(ref, None, family, config, data)
    return Incumbent(ref, evaluate(model, split), family, config, data)


# jobs in the store -------------------------------------------------------------------------


def execute_job(
    store: Store,
    registry: ModelRegistry,
    feedback_types: Mapping[str, FeedbackType],
    job_id: str,
    *,
    progress: Progress | None = None,
) -> dict[str, Any] | None:
    """Run the stored job ``job_id`` here, recording status, progress, results or the error
    (with a heartbeat thread, so a worker that dies is seen as failed). Returns the results,
    or None when the job failed."""
    job = store.jobs.get(job_id)
    if job is None:
        raise LookupError(f"no training job {job_id}")
    try:
        request = TrainingRequest.from_dict(job["request"])
    except (ValueError, TypeError) as exc:
        store.jobs.fail(job_id, f"bad training request: {exc}")
        return None
    store.jobs.start(job_id, os.getpid())
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(store, job_id, stop), daemon=True)
    beat.start()

    def report(fraction: float, step: str) -> None:
        store.jobs.update(job_id, progress=round(fraction, 4), step=step)
        if progress:
            progress(fraction, step)

    try:
        results = run_training(
            store,
            registry,
            feedback_types,
            models=request.models,
            scenarios=request.scenarios,
            promote=request.promote,
            progress=report,
            budget_seconds=request.budget_seconds,
            families=request.families,
            job_id=job_id,
        )
    except ValueError as exc:  # bad request or data (no events, unknown model): no traceback
        log.error("training job %s failed: %s", job_id, exc)
        store.jobs.fail(job_id, str(exc))
        return None
    except Exception as exc:
        log.exception("training job %s failed", job_id)
        store.jobs.fail(job_id, f"{type(exc).__name__}: {exc}")
        return None
    finally:
        stop.set()
        beat.join(timeout=HEARTBEAT_SECONDS * 2)
    store.jobs.finish(job_id, results)
    return results


def _heartbeat(store: Store, job_id: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            store.jobs.update(job_id)
        except Exception:  # the next beat may get through; the job itself goes on
            log.warning("heartbeat for job %s failed", job_id, exc_info=True)


def worker_main(
    database_url: str, models_dir: str, feedback_types: dict[str, Any], job_id: str
) -> None:
    """The worker process's entry point (picklable arguments only)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    store = Store.open(database_url, run_migrations=False)
    try:
        types = {k: FeedbackType.model_validate(v) for k, v in feedback_types.items()}
        execute_job(store, ModelRegistry(Path(models_dir)), types, job_id)
    except BaseException as exc:
        store.jobs.fail(
            job_id, f"worker error: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        )
        raise
    finally:
        store.close()


def first_training(runner: JobRunner, store: Store) -> str | None:
    """Start a training job in the background when the store has events but no job has
    succeeded on it yet (a fresh server's first run: whatever serves meanwhile was fitted
    without a search), and none is running; returns its id, or None."""
    done = {job["status"] for job in store.jobs.recent(FIRST_RUN_LOOKBACK)}
    if done & {"succeeded", *ACTIVE} or store.feedback.count() == 0:
        return None
    try:
        return str(runner.submit(TrainingRequest(), trigger="startup")["job_id"])
    except JobAlreadyRunning:
        return None


class JobRunner:
    """Starts training jobs in worker processes from the API process, one at a time.

    A monitor thread waits for each worker; when it exits, a job it left unfinished is
    marked failed with the exit code, and ``on_finish`` runs (the API swaps champions).
    """

    def __init__(
        self,
        store: Store,
        database_url: str,
        models_dir: Path,
        feedback_types: Mapping[str, FeedbackType],
        on_finish: Callable[[], object] | None = None,
        budget_seconds: float = DEFAULT_TRAIN_BUDGET_SECONDS,
    ):
        self.store = store
        self.budget_seconds = budget_seconds
        self.database_url = database_url
        self.models_dir = Path(models_dir)
        self.feedback_types = {k: v.model_dump(mode="json") for k, v in feedback_types.items()}
        self.on_finish = on_finish
        self._lock = threading.Lock()
        self._workers: dict[str, tuple[Any, threading.Thread]] = {}
        self._context = multiprocessing.get_context("spawn")

    def submit(
        self, request: TrainingRequest | Mapping[str, Any], trigger: str = "api"
    ) -> dict[str, Any]:
        """Record a queued job and start its worker; ``JobAlreadyRunning`` if one is active.
        A request without ``budget_seconds`` gets the runner's (``train_budget_seconds``)."""
        if not isinstance(request, TrainingRequest):
            request = TrainingRequest.from_dict(request)
        stored = request.with_budget(self.budget_seconds).to_dict()
        with self._lock:
            active = self.store.jobs.active()
            if active:
                raise JobAlreadyRunning(active[0]["job_id"])
            job = self.store.jobs.create(stored, trigger)
            process = self._context.Process(
                target=worker_main,
                args=(self.database_url, str(self.models_dir), self.feedback_types, job["job_id"]),
                name=f"recserve-train-{job['job_id'][:8]}",
                daemon=False,
            )
            process.start()
            monitor = threading.Thread(
                target=self._monitor, args=(job["job_id"], process), daemon=True
            )
            self._workers[job["job_id"]] = (process, monitor)
            monitor.start()
            return job

    def _monitor(self, job_id: str, process: Any) -> None:
        process.join()
        try:
            if process.exitcode != 0:
                self.store.jobs.fail(
                    job_id, f"the training worker exited with code {process.exitcode}"
                )
            job = self.store.jobs.get(job_id)
            if job is not None and job["status"] in ACTIVE:  # exited 0 without finishing
                self.store.jobs.fail(job_id, "the training worker exited before finishing")
            # the fit times reach /metrics here: the worker process has its own registry
            observe_job_results((job or {}).get("results") or {})
            if self.on_finish is not None:
                self.on_finish()
        except Exception:
            log.exception("finishing training job %s failed", job_id)
        finally:
            with self._lock:
                self._workers.pop(job_id, None)

    def running(self) -> bool:
        with self._lock:
            return bool(self._workers)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the workers started here and their monitors (tests, shutdown)."""
        with self._lock:
            workers = list(self._workers.values())
        for _, monitor in workers:
            monitor.join(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop workers still running (the API process is shutting down); their jobs fail."""
        with self._lock:
            workers = list(self._workers.items())
        for job_id, (process, monitor) in workers:
            if process.is_alive():
                process.terminate()
                process.join(timeout)
                if process.is_alive():
                    process.kill()
                    process.join(timeout)
                self.store.jobs.fail(job_id, "cancelled: the API process shut down")
            monitor.join(timeout)
