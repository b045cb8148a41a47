"""Prometheus metrics of the LLM stage, in the app's registry (only when ``llm_url`` is
set): calls by task and outcome, their latency, tokens by kind, fallbacks by reason and
cache lookups. ``LlmMetrics`` is the LLM client's observer (recserve/llm/client.py)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

LLM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)
TASKS = ("rerank", "explain", "themes", "enrich")
REASONS = ("timeout", "busy", "budget", "unavailable", "http_error", "invalid")


class LlmMetrics:
    """Counters and a latency histogram of one app's LLM calls."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "recserve_llm_calls",
            "LLM calls not answered by the cache, by task and outcome (ok, or why no answer "
            "was usable; busy and budget are refused before sending).",
            ["task", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "recserve_llm_call_duration_seconds",
            "Time of one LLM call, by task, waiting for a slot included.",
            ["task"],
            buckets=LLM_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "recserve_llm_tokens",
            "Tokens spent, from the answers' usage, by task and kind (prompt, completion).",
            ["task", "kind"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "recserve_llm_fallbacks",
            "Answers given without the LLM's, by task and reason.",
            ["task", "reason"],
            registry=registry,
        )
        self.cache = Counter(
            "recserve_llm_cache_lookups",
            "Lookups of the cache of LLM answers, by task and result (hit, miss).",
            ["task", "result"],
            registry=registry,
        )
        for task in TASKS:  # exported as 0 before the first call
            for reason in REASONS:
                self.fallbacks.labels(task=task, reason=reason)
            for result in ("hit", "miss"):
                self.cache.labels(task=task, result=result)

    def called(self, task: str, outcome: str, seconds: float) -> None:
        self.calls.labels(task=task, outcome=outcome).inc()
        self.latency.labels(task=task).observe(max(0.0, seconds))

    def spent(self, task: str, prompt_tokens: int, completion_tokens: int) -> None:
        self.tokens.labels(task=task, kind="prompt").inc(max(0, prompt_tokens))
        self.tokens.labels(task=task, kind="completion").inc(max(0, completion_tokens))

    def cache_lookup(self, task: str, hit: bool) -> None:
        self.cache.labels(task=task, result="hit" if hit else "miss").inc()

    def fell_back(self, task: str, reason: str) -> None:
        self.fallbacks.labels(task=task, reason=reason).inc()
