"""Prometheus metrics: per-app HTTP and ingestion metrics, process-wide training durations.

Each app owns a ``CollectorRegistry`` (``HttpMetrics``), so several apps in one process
(tests) keep separate counts. Training durations live in the default registry because the
code that measures them has no app: it calls ``observe_training``. ``/metrics`` renders both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TRAINING_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)

TRAINING_SECONDS = Histogram(
    "recserve_training_seconds",
    "Time to fit one model, by model family.",
    ["family"],
    buckets=TRAINING_BUCKETS,
)


def observe_training(family: str, seconds: float) -> None:
    """Record one model fit of ``family`` that took ``seconds`` (the training code calls it)."""
    TRAINING_SECONDS.labels(family=family).observe(max(0.0, float(seconds)))


def observe_job_results(results: Mapping[str, Any]) -> int:
    """Record the fits of one finished training job from its results (``models`` ->
    ``family``, ``fit_seconds``, ``refit_seconds``); returns how many were recorded."""
    recorded = 0
    for info in (results.get("models") or {}).values():
        family = info.get("family")
        if not isinstance(family, str):
            continue
        for key in ("fit_seconds", "refit_seconds"):
            seconds = info.get(key)
            if isinstance(seconds, int | float):
                observe_training(family, seconds)
                recorded += 1
    return recorded


class ServedModels(Collector):
    """``recserve_model_served{scenario, model}`` = 1 for the version each scenario serves,
    read at scrape time from ``served()`` (scenario -> model ref such as ``ease/v0003``)."""

    def __init__(self, served: Callable[[], Mapping[str, str]]):
        self.served = served

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "recserve_model_served",
            "The model version serving each scenario (value 1).",
            labels=["scenario", "model"],
        )
        for scenario, ref in sorted(self.served().items()):
            family.add_metric([scenario, ref], 1.0)
        count = GaugeMetricFamily(
            "recserve_scenarios_served", "How many scenarios have a model serving them."
        )
        count.add_metric([], float(len(family.samples)))
        yield family
        yield count


class CacheStats(NamedTuple):
    """One serving cache's figures: lookups by result, entries held, and its bound."""

    hits: int
    misses: int
    entries: int
    capacity: int
    evictions: int = 0


class CacheLookups(Collector):
    """The serving caches, read at scrape time from ``stats()`` (cache name -> CacheStats):
    ``recserve_cache_lookups_total{cache, result}`` (hits and misses),
    ``recserve_cache_evictions_total{cache}`` (least recently used entries dropped to stay
    within the bound), ``recserve_cache_entries{cache}`` and ``recserve_cache_capacity{cache}``
    (entries held, and the most it holds: memory stays bounded)."""

    def __init__(self, stats: Callable[[], Mapping[str, CacheStats]]):
        self.stats = stats

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        lookups = CounterMetricFamily(
            "recserve_cache_lookups",
            "Lookups of the serving caches (history: users' live histories), by result.",
            labels=["cache", "result"],
        )
        evictions = CounterMetricFamily(
            "recserve_cache_evictions",
            "Least recently used entries dropped from a serving cache to stay within its bound.",
            labels=["cache"],
        )
        entries = GaugeMetricFamily(
            "recserve_cache_entries",
            "Entries held by a serving cache (history: users).",
            labels=["cache"],
        )
        capacity = GaugeMetricFamily(
            "recserve_cache_capacity",
            "The most entries a serving cache holds (0: caching off).",
            labels=["cache"],
        )
        for cache, stats in sorted(self.stats().items()):
            lookups.add_metric([cache, "hit"], float(stats.hits))
            lookups.add_metric([cache, "miss"], float(stats.misses))
            evictions.add_metric([cache], float(stats.evictions))
            entries.add_metric([cache], float(stats.entries))
            capacity.add_metric([cache], float(stats.capacity))
        yield lookups
        yield evictions
        yield entries
        yield capacity


class HttpMetrics:
    """One app's metrics: request latency by route template, requests in flight, events
    ingested by outcome, and (when given) the model versions served and cache lookups."""

    def __init__(
        self,
        served: Callable[[], Mapping[str, str]] | None = None,
        caches: Callable[[], Mapping[str, CacheStats]] | None = None,
    ):
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "recserve_http_request_duration_seconds",
            "Time to answer a request, by method, route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "recserve_http_requests_in_flight",
            "Requests being answered now.",
            registry=self.registry,
        )
        self.events = Counter(
            "recserve_events_ingested",
            "Feedback events received through the API, by outcome (stored or duplicate).",
            ["outcome"],
            registry=self.registry,
        )
        for outcome in ("stored", "duplicate"):
            self.events.labels(outcome=outcome)  # exported as 0 before the first event
        if served is not None:
            self.registry.register(ServedModels(served))
        if caches is not None:
            self.registry.register(CacheLookups(caches))

    def count_events(self, stored: int, duplicates: int) -> None:
        self.events.labels(outcome="stored").inc(max(0, stored))
        self.events.labels(outcome="duplicate").inc(max(0, duplicates))

    def render(self) -> bytes:
        """The Prometheus text exposition of this app's metrics and the process-wide ones."""
        return generate_latest(self.registry) + generate_latest(REGISTRY)
