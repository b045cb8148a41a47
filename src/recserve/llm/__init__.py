"""The optional LLM stage: re-ranking, explanations, themes and item enrichment through an
OpenAI-compatible chat API, each with a deadline and a fallback to the answer without it
(docs/language.md)."""

from recserve.llm.client import LlmClient, LlmFailure, LlmReply

__all__ = ["LlmClient", "LlmFailure", "LlmReply"]
