"""The LLM client against real server processes: protocol, strict parsing, deadlines,
token accounting, the budget and the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from recserve.llm import LlmClient, LlmFailure
from recserve.llm.answers import THEMES, Ranking, ranking_spec
from recserve.llm.client import chat_url, parse_answer
from tests.llm.fake_llm import OUTSIDE
from tests.llm.servers import FakeLlm, closed_port_url, fake_llm

MESSAGES = [{"role": "system", "content": "Rank."}, {"role": "user", "content": "a b c"}]


def test_chat_url_takes_a_base_or_the_endpoint() -> None:
    assert chat_url("http://h:1") == "http://h:1/v1/chat/completions"
    assert chat_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert chat_url("http://h:1/v1/chat/completions") == "http://h:1/v1/chat/completions"


def test_a_call_sends_the_schema_and_the_key_and_counts_tokens(good_llm: FakeLlm) -> None:
    client = LlmClient(good_llm.url, "tiny", api_key=SecretStr("s3cret-key"), cache_entries=0)
    before = len(good_llm.requests())
    reply = client.complete("rerank", MESSAGES, ranking_spec(["a", "b", "c"]))
    assert reply.answer.ranking == [OUTSIDE, "c", "b", "c"]
    assert not reply.cached and reply.prompt_tokens > 0 and reply.completion_tokens > 0
    sent = good_llm.requests()[before]
    assert sent["model"] == "tiny" and sent["messages"] == MESSAGES
    assert sent["authorization"] == "Bearer s3cret-key"
    fmt = sent["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "ranking"
    assert fmt["json_schema"]["schema"]["properties"]["ranking"]["items"]["enum"] == ["a", "b", "c"]
    assert client.budget.spent == reply.tokens


def test_the_same_prompt_is_answered_from_the_cache(good_llm: FakeLlm) -> None:
    client = LlmClient(good_llm.url)
    before = len(good_llm.requests())
    first = client.complete("themes", MESSAGES, THEMES)
    second = client.complete("themes", MESSAGES, THEMES)
    other = client.complete("themes", [*MESSAGES, {"role": "user", "content": "d"}], THEMES)
    assert second.cached and second.answer == first.answer and second.tokens == 0
    assert not other.cached
    assert len(good_llm.requests()) - before == 2
    assert (client.cache.hits, client.cache.misses) == (1, 2)


def test_a_slow_server_times_out(slow_llm: FakeLlm) -> None:
    client = LlmClient(slow_llm.url, timeout=0.5)
    with pytest.raises(LlmFailure) as failure:
        client.complete("themes", MESSAGES, THEMES)
    assert failure.value.reason == "timeout"


def test_a_server_that_is_down_is_unavailable() -> None:
    with pytest.raises(LlmFailure) as failure:
        LlmClient(closed_port_url(), timeout=2).complete("themes", MESSAGES, THEMES)
    assert failure.value.reason == "unavailable"


def test_an_answer_that_is_not_json_is_invalid(garbage_llm: FakeLlm) -> None:
    with pytest.raises(LlmFailure) as failure:
        LlmClient(garbage_llm.url).complete("themes", MESSAGES, THEMES)
    assert failure.value.reason == "invalid"


@pytest.mark.parametrize(("mode", "reason"), [("broken", "invalid"), ("error", "http_error")])
def test_bad_responses(tmp_path: Path, mode: str, reason: str) -> None:
    with fake_llm(tmp_path, mode) as server, pytest.raises(LlmFailure) as failure:
        LlmClient(server.url).complete("themes", MESSAGES, THEMES)
    assert failure.value.reason == reason


def test_the_budget_stops_calls_once_spent(good_llm: FakeLlm) -> None:
    client = LlmClient(good_llm.url, token_budget=1, cache_entries=0)
    client.complete("themes", MESSAGES, THEMES)  # allowed to finish past the limit
    before = len(good_llm.requests())
    with pytest.raises(LlmFailure) as failure:
        client.complete("themes", MESSAGES, THEMES)
    assert failure.value.reason == "budget"
    assert len(good_llm.requests()) == before  # refused before sending


def test_parsing_is_strict() -> None:
    assert parse_answer('{"ranking": ["a"]}', Ranking).ranking == ["a"]
    for bad in (
        '```json\n{"ranking": ["a"]}\n```',  # fenced
        '{"ranking": ["a"], "extra": 1}',  # unknown key
        '{"ranking": "a"}',  # wrong type
        '{"ranking": [1]}',  # no coercion
        "",
    ):
        with pytest.raises(LlmFailure) as failure:
            parse_answer(bad, Ranking)
        assert failure.value.reason == "invalid"


def test_the_json_object_form_carries_the_schema(good_llm: FakeLlm) -> None:
    client = LlmClient(good_llm.url, response_format="json_object", cache_entries=0)
    before = len(good_llm.requests())
    assert client.complete("themes", MESSAGES, THEMES).answer.themes
    assert good_llm.requests()[before]["response_format"] == {
        "type": "json_object",
        "schema": THEMES.schema,
    }


def test_no_free_slot_before_the_deadline_is_busy(good_llm: FakeLlm) -> None:
    client = LlmClient(good_llm.url, timeout=0.2, max_concurrency=1, cache_entries=0)
    before = len(good_llm.requests())
    assert client._slots.acquire()  # the one slot taken, as by a call in flight
    try:
        with pytest.raises(LlmFailure) as failure:
            client.complete("themes", MESSAGES, THEMES)
    finally:
        client._slots.release()
    assert failure.value.reason == "busy"
    assert len(good_llm.requests()) == before
    assert client.complete("themes", MESSAGES, THEMES).answer.themes  # free again


def test_the_key_is_not_in_failures(tmp_path: Path) -> None:
    with fake_llm(tmp_path, "error") as server, pytest.raises(LlmFailure) as failure:
        LlmClient(server.url, api_key=SecretStr("s3cret-key")).complete("themes", MESSAGES, THEMES)
    assert "s3cret" not in str(failure.value) and "s3cret" not in repr(failure.value)
