"""What ``recserve status`` reports: from the configured store and registry (no server), or
from a running server's ``/health``, ``/ready`` and ``/metrics``."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from recserve.config import Settings
from recserve.registry import ArtifactError, ModelRegistry
from recserve.store import Store

SHOWN_METRICS = 6  # per champion: enough to compare, short enough for one line


class StatusError(Exception):
    """The status could not be read (server unreachable, refused key); the message says why."""


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def _number(value: float) -> str:
    """Counts as integers, scores with four decimals."""
    return str(int(value)) if float(value).is_integer() and abs(value) >= 1 else f"{value:.4f}"


def _champion(registry: ModelRegistry, ref: str, now: float) -> dict[str, Any]:
    name, _, version = ref.partition("/")
    try:
        manifest = registry.manifest(name, version)
    except ArtifactError as exc:
        return {"model": ref, "error": str(exc)}
    created = manifest.get("created_at")
    metrics = {
        k: v
        for k, v in sorted((manifest.get("metrics") or {}).items())
        if isinstance(v, int | float)
    }
    return {
        "model": ref,
        "family": manifest.get("family"),
        "created_at": created,
        "age_seconds": now - created if isinstance(created, int | float) else None,
        "metrics": metrics,
    }


def local_status(settings: Settings) -> dict[str, Any]:
    """Counts in the store, each scenario's champion (metrics, age) and the latest job."""
    now = time.time()
    store = Store.open(settings.resolved_database_url)
    try:
        counts = store.counts()
        jobs = store.jobs.recent(1)
    finally:
        store.close()
    registry = ModelRegistry(settings.models_dir)
    champions = {
        scenario: _champion(registry, ref, now)
        for scenario, ref in sorted(registry.champions().items())
    }
    last_job = None
    if jobs:
        job = jobs[0]
        last_job = {k: job.get(k) for k in ("job_id", "status", "trigger", "created_at", "error")}
    return {
        "source": "store",
        "database": settings.resolved_database_url.split("://", 1)[0],  # no password shown
        "models_dir": str(settings.models_dir),
        "counts": counts,
        "champions": champions,
        "last_job": last_job,
    }


def summarize_metrics(text: str) -> dict[str, Any]:
    """The headline figures of a ``/metrics`` page: requests per route, errors, mean latency,
    requests in flight, events ingested, model served per scenario, training fits."""
    requests: dict[str, float] = defaultdict(float)
    seconds = 0.0
    errors = 0.0
    events: dict[str, float] = {}
    served: dict[str, str] = {}
    in_flight = 0.0
    fits = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "recserve_http_request_duration_seconds_count":
                route = sample.labels.get("route", "")
                if route == "/metrics":
                    continue
                requests[f"{sample.labels.get('method')} {route}"] += sample.value
                if sample.labels.get("status", "").startswith("5"):
                    errors += sample.value
            elif sample.name == "recserve_http_request_duration_seconds_sum":
                if sample.labels.get("route") != "/metrics":
                    seconds += sample.value
            elif sample.name == "recserve_http_requests_in_flight":
                in_flight = sample.value
            elif sample.name == "recserve_events_ingested_total":
                events[sample.labels.get("outcome", "")] = sample.value
            elif sample.name == "recserve_model_served":
                served[sample.labels.get("scenario", "")] = sample.labels.get("model", "")
            elif sample.name == "recserve_training_seconds_count":
                fits += sample.value
    total = sum(requests.values())
    return {
        "requests": int(total),
        "server_errors": int(errors),
        "mean_latency_ms": round(1000 * seconds / total, 2) if total else None,
        "in_flight": int(in_flight),
        "requests_by_route": {
            k: int(v) for k, v in sorted(requests.items(), key=lambda kv: -kv[1])
        },
        "events_ingested": {k: int(v) for k, v in sorted(events.items())},
        "models_served": dict(sorted(served.items())),
        "training_fits": int(fits),
    }


def remote_status(url: str, api_key: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
    """A running server's health, readiness and metrics summary."""
    headers = {"X-API-Key": api_key} if api_key else {}
    base = url.rstrip("/")
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=timeout) as client:
            health = client.get("/health")
            ready = client.get("/ready")
            metrics = client.get("/metrics")
    except httpx.HTTPError as exc:
        raise StatusError(f"cannot reach {base}: {exc}") from exc
    out: dict[str, Any] = {
        "source": base,
        "health": health.json().get("status") if health.status_code == 200 else health.status_code,
        "ready": _json(ready),
    }
    if metrics.status_code == 200:
        out["metrics"] = summarize_metrics(metrics.text)
    else:
        body = _json(metrics)
        code = body.get("code") if isinstance(body, dict) else None
        out["metrics"] = {"unavailable": f"HTTP {metrics.status_code} {code or ''}".strip()}
    return out


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"status": response.status_code, "text": response.text[:200]}


def format_status(status: dict[str, Any]) -> str:
    """``status`` as the lines the CLI prints."""
    if status["source"] == "store":
        return _format_local(status)
    return _format_remote(status)


def _format_local(status: dict[str, Any]) -> str:
    counts = status["counts"]
    lines = [
        f"store: {status['database']}, models in {status['models_dir']}",
        "  "
        + ", ".join(
            f"{name} {counts[name]:,}"
            for name in ("users", "items", "events", "relations")
            if name in counts
        ),
        "champions:" if status["champions"] else "champions: none (train with `recserve train`)",
    ]
    for scenario, champ in status["champions"].items():
        if "error" in champ:
            lines.append(f"  {scenario}: {champ['model']} (unreadable: {champ['error']})")
            continue
        age = _age(champ["age_seconds"]) if champ["age_seconds"] is not None else "?"
        shown = list(champ["metrics"].items())[:SHOWN_METRICS]
        metrics = ", ".join(f"{k} {_number(v)}" for k, v in shown) or "no metrics"
        lines.append(f"  {scenario}: {champ['model']} ({champ['family']}), age {age}, {metrics}")
    job = status["last_job"]
    if job:
        error = f": {job['error']}" if job.get("error") else ""
        lines.append(
            f"last training job: {job['job_id']} {job['status']} ({job['trigger']}){error}"
        )
    return "\n".join(lines)


def _format_remote(status: dict[str, Any]) -> str:
    ready = status["ready"]
    if isinstance(ready, dict) and ready.get("status") == "ready":
        ready_text = "ready"
    elif isinstance(ready, dict) and ready.get("message"):
        ready_text = f"not ready ({ready['message']})"
    else:
        ready_text = f"not ready ({ready})"
    lines = [f"server: {status['source']}", f"  health: {status['health']}", f"  {ready_text}"]
    metrics = status["metrics"]
    if "unavailable" in metrics:
        lines.append(f"  metrics: unavailable ({metrics['unavailable']})")
        return "\n".join(lines)
    latency = metrics["mean_latency_ms"]
    lines.append(
        f"  requests {metrics['requests']:,} ({metrics['server_errors']} server errors), "
        f"mean latency {'-' if latency is None else latency} ms, "
        f"in flight {metrics['in_flight']}"
    )
    events = metrics["events_ingested"]
    lines.append(
        "  events ingested: " + (", ".join(f"{k} {v:,}" for k, v in events.items()) or "none")
    )
    served = metrics["models_served"]
    lines.append("  models served:" + ("" if served else " none"))
    lines.extend(f"    {scenario}: {ref}" for scenario, ref in served.items())
    top = list(metrics["requests_by_route"].items())[:10]
    if top:
        lines.append("  busiest routes:")
        lines.extend(f"    {route}: {count:,}" for route, count in top)
    return "\n".join(lines)
