"""A small client of an OpenAI-compatible ``/v1/chat/completions`` endpoint.

Every call has a deadline (``llm_timeout_seconds``, waiting for a free slot included), at
most ``llm_max_concurrency`` calls are in flight, tokens are counted from the answer's
``usage`` against ``llm_token_budget``, the answer is asked for as a JSON schema
(``response_format``) and parsed strictly, and answers are cached by prompt. A call that
cannot give a checked answer raises ``LlmFailure`` with a short reason; callers fall back
to the answer without the LLM. The API key is sent as a bearer token and never logged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from recserve.config import Settings
from recserve.llm.answers import AnswerSpec
from recserve.llm.budget import TokenBudget
from recserve.llm.cache import AnswerCache

log = logging.getLogger("recserve.llm")

# Why a call gave no answer (the ``fallback`` of a response, a label of the metrics).
TIMEOUT = "timeout"  # no answer before the deadline
BUSY = "busy"  # every slot stayed taken until the deadline
BUDGET = "budget"  # the hour's token budget is spent
UNAVAILABLE = "unavailable"  # the server could not be reached
HTTP_ERROR = "http_error"  # the server answered with an error status
INVALID = "invalid"  # the answer is not JSON of the asked shape
FAILURE_REASONS = (TIMEOUT, BUSY, BUDGET, UNAVAILABLE, HTTP_ERROR, INVALID)

Messages = Sequence[Mapping[str, str]]


class LlmFailure(Exception):
    """An LLM call gave no usable answer; ``reason`` is one of ``FAILURE_REASONS``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class LlmReply:
    """A checked answer and what it cost (0 tokens when it came from the cache)."""

    answer: Any  # an instance of the spec's model
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cached: bool

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LlmObserver(Protocol):
    """What the client reports (observability's ``LlmMetrics`` implements it)."""

    def called(self, task: str, outcome: str, seconds: float) -> None: ...
    def spent(self, task: str, prompt_tokens: int, completion_tokens: int) -> None: ...
    def cache_lookup(self, task: str, hit: bool) -> None: ...
    def fell_back(self, task: str, reason: str) -> None: ...


class _Quiet:
    def called(self, task: str, outcome: str, seconds: float) -> None:
        pass

    def spent(self, task: str, prompt_tokens: int, completion_tokens: int) -> None:
        pass

    def cache_lookup(self, task: str, hit: bool) -> None:
        pass

    def fell_back(self, task: str, reason: str) -> None:
        pass


def chat_url(base: str) -> str:
    """``http://host:8080``, ``.../v1`` or the full endpoint -> the chat completions URL."""
    base = base.rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/chat/completions"


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


class LlmClient:
    """One process's connection to the LLM API; thread-safe (routes call it from threads)."""

    def __init__(
        self,
        url: str,
        model: str = "",
        *,
        api_key: SecretStr | None = None,
        timeout: float = 5.0,
        response_format: str = "json_schema",
        max_concurrency: int = 4,
        token_budget: int = 0,
        cache_entries: int = 4096,
        cache_ttl: float = 3600.0,
        observer: LlmObserver | None = None,
    ) -> None:
        self.url = chat_url(url)
        self.model = model
        self.timeout = timeout
        self.response_format = response_format
        self.budget = TokenBudget(token_budget)
        self.cache = AnswerCache(cache_entries, cache_ttl)
        self.observer: LlmObserver = observer or _Quiet()
        self.max_concurrency = max_concurrency
        self._slots = threading.BoundedSemaphore(max_concurrency)
        headers = {"content-type": "application/json"}
        if api_key is not None and api_key.get_secret_value():
            headers["authorization"] = f"Bearer {api_key.get_secret_value()}"
        self._http = httpx.Client(
            headers=headers,
            limits=httpx.Limits(max_connections=max_concurrency),
            follow_redirects=False,
        )

    @classmethod
    def from_settings(cls, settings: Settings, observer: LlmObserver | None = None) -> LlmClient:
        return cls(
            settings.llm_url,
            settings.llm_model,
            api_key=settings.llm_api_key,
            timeout=settings.llm_timeout_seconds,
            response_format=settings.llm_response_format,
            max_concurrency=settings.llm_max_concurrency,
            token_budget=settings.llm_token_budget,
            cache_entries=settings.llm_cache_entries,
            cache_ttl=settings.llm_cache_ttl_seconds,
            observer=observer,
        )

    def close(self) -> None:
        self._http.close()

    def _key(self, messages: Messages, spec: AnswerSpec) -> str:
        text = json.dumps([self.model, list(map(dict, messages)), spec.schema], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def complete(self, task: str, messages: Messages, spec: AnswerSpec) -> LlmReply:
        """The checked answer to ``messages`` in the shape of ``spec``, from the cache when
        the same prompt was answered within the TTL; raises ``LlmFailure``."""
        key = self._key(messages, spec)
        cached = self.cache.get(key)
        self.observer.cache_lookup(task, cached is not None)
        if cached is not None:
            return LlmReply(cached, 0, 0, 0.0, cached=True)
        started = time.monotonic()
        try:
            reply = self._call(task, messages, spec, started + self.timeout)
        except LlmFailure as exc:
            self.observer.called(task, exc.reason, time.monotonic() - started)
            raise
        self.observer.called(task, "ok", reply.seconds)
        self.cache.put(key, reply.answer)
        return reply

    def _call(self, task: str, messages: Messages, spec: AnswerSpec, deadline: float) -> LlmReply:
        if not self.budget.available():
            raise LlmFailure(BUDGET, f"the token budget of {self.budget.limit}/hour is spent")
        started = time.monotonic()
        if not self._slots.acquire(timeout=max(0.0, deadline - started)):
            raise LlmFailure(BUSY, f"{task}: no free slot before the deadline")
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LlmFailure(TIMEOUT, f"{task}: the deadline passed while waiting")
            body = self._post(messages, spec, remaining)
        finally:
            self._slots.release()
        if time.monotonic() > deadline:
            raise LlmFailure(TIMEOUT, f"{task}: the answer came after the deadline")
        content, prompt_tokens, completion_tokens = self._read(body, messages)
        self.budget.spend(prompt_tokens + completion_tokens)
        self.observer.spent(task, prompt_tokens, completion_tokens)
        answer = parse_answer(content, spec.model)
        return LlmReply(
            answer, prompt_tokens, completion_tokens, time.monotonic() - started, cached=False
        )

    def _post(self, messages: Messages, spec: AnswerSpec, remaining: float) -> Any:
        payload: dict[str, Any] = {
            "messages": list(map(dict, messages)),
            "temperature": 0,
            "max_tokens": spec.max_tokens,
            "response_format": self._format(spec),
        }
        if self.model:
            payload["model"] = self.model
        try:
            response = self._http.post(self.url, json=payload, timeout=httpx.Timeout(remaining))
        except httpx.TimeoutException as exc:
            raise LlmFailure(TIMEOUT, f"no answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise LlmFailure(UNAVAILABLE, f"{type(exc).__name__} calling the LLM API") from exc
        if response.status_code != 200:
            log.warning("the LLM API answered %s", response.status_code)
            raise LlmFailure(HTTP_ERROR, f"the LLM API answered {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise LlmFailure(INVALID, "the LLM API's response is not JSON") from exc

    def _format(self, spec: AnswerSpec) -> dict[str, Any]:
        """OpenAI's ``json_schema`` form, or the ``json_object`` + ``schema`` form of
        llama-cpp-python's server (``llm_response_format``)."""
        if self.response_format == "json_object":
            return {"type": "json_object", "schema": spec.schema}
        return {
            "type": "json_schema",
            "json_schema": {"name": spec.name, "schema": spec.schema, "strict": True},
        }

    @staticmethod
    def _read(body: Any, messages: Messages) -> tuple[str, int, int]:
        """The message content and the tokens used (estimated from the text when the server
        sends no ``usage``)."""
        try:
            content = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LlmFailure(INVALID, "the response has no choices[0].message.content") from exc
        if not isinstance(content, str):
            raise LlmFailure(INVALID, "the message content is not text")
        usage = body.get("usage") if isinstance(body, dict) else None
        prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        completion = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if not isinstance(prompt, int) or not isinstance(completion, int):
            prompt = sum(_estimate_tokens(m.get("content", "")) for m in messages)
            completion = _estimate_tokens(content)
        return content, max(0, prompt), max(0, completion)


def parse_answer(content: str, model: type[BaseModel]) -> Any:
    """``content`` as exactly one JSON object of ``model``'s shape (nothing around it, no
    unknown keys, no type coercion); ``LlmFailure(INVALID)`` otherwise."""
    try:
        return model.model_validate_json(content.strip(), strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(answer)"
        raise LlmFailure(INVALID, f"the answer does not fit {model.__name__}: {where}") from exc
