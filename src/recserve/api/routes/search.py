"""GET /v1/search: items for words, by the words and by their meaning, optionally ordered by
a user's taste (serving/search.py). Also the text query of user recommendations."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from recserve.api.deps import OptionalUserQuery, top_n
from recserve.api.errors import ApiError
from recserve.api.routes.list_params import filter_node
from recserve.config import FeedbackKind
from recserve.schemas import SearchHit, SearchResponse
from recserve.schemas.scenarios import Explanation, ListItem, ListResponse
from recserve.serving import ServingEngine
from recserve.serving.options import ListOptions
from recserve.serving.search import CatalogueSearch
from recserve.serving.served import new_recommendation_id
from recserve.store import Store

router = APIRouter(tags=["search"])

MAX_QUERY = 500


def _search(request: Request) -> CatalogueSearch:
    return request.app.state.search


def check_query(q: str) -> str:
    if not q.strip() or len(q) > MAX_QUERY:
        raise ApiError(
            422,
            "invalid_query",
            f"query.q: write 1 to {MAX_QUERY} characters",
            [{"type": "invalid_query", "loc": ["query", "q"], "msg": "empty or too long"}],
        )
    return q


@router.get("/search", response_model=SearchResponse, summary="Search items by text")
async def search(
    request: Request,
    q: Annotated[str, Query(description="Words, a title, or a description of what you want.")],
    n: Annotated[int, Query(description="How many items.")] = 10,
    category: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    filter: Annotated[str | None, Query(max_length=2000, description="As for lists.")] = None,
    user_id: OptionalUserQuery = None,
    mode: Annotated[
        Literal["hybrid", "words", "meaning"],
        Query(description="hybrid: both searches fused; words or meaning: one of them."),
    ] = "hybrid",
) -> SearchResponse:
    """Word search (the database's full-text index) and meaning search (MiniLM vectors)
    fused by rank; with ``user_id`` the user's taste is fused in too. Hidden items never
    appear; ``category`` and ``filter`` work as on recommendation lists."""
    check_query(q)
    n = await top_n(request, n)
    where = filter_node(filter)
    result = await run_in_threadpool(
        _search(request).search, q, n, category=category, where=where, user_id=user_id, mode=mode
    )
    return SearchResponse(
        query=q,
        items=[
            SearchHit(
                item_id=h.item_id,
                score=h.score,
                title=h.row.get("title"),
                categories=h.row.get("categories") or [],
                lexical_rank=h.lexical_rank,
                semantic_rank=h.semantic_rank,
                taste_rank=h.taste_rank,
            )
            for h in result.hits
        ],
        semantic=result.semantic,
        user_id=user_id,
        model=result.personalised_by,
    )


def _feedback_items(store: Store, engine: ServingEngine, user_id: str) -> list[str]:
    """Items the user acted on (everything but read-only types): never recommended again."""
    acted = []
    for item_id, kind, _value, _ts in store.feedback.user_history(user_id):
        feedback = engine.feedback_types.get(str(kind))
        if feedback is not None and feedback.kind != FeedbackKind.READ:
            acted.append(item_id)
    return acted


def query_recommendations(
    searcher: CatalogueSearch, user_id: str, query: str, options: ListOptions
) -> ListResponse:
    """Recommendations about ``query``: the most relevant items, ordered by the user's taste."""
    seen = _feedback_items(searcher.store, searcher.engine, user_id) if options.exclude_seen else []
    result = searcher.search(
        query,
        options.n + options.offset,
        category=options.category,
        where=options.filter,
        user_id=user_id,
        by_taste=True,
        exclude=[*seen, *options.exclude],
    )
    hits = result.hits[options.offset :]
    items = []
    for hit in hits:
        explanation = None
        if options.explain:
            taste = f"ranks {hit.taste_rank} for your taste" if hit.taste_rank else "new to you"
            found = "by its words" if hit.lexical_rank else "by its meaning"
            explanation = Explanation(
                reason="query_and_taste" if hit.taste_rank else "query",
                detail=f'matches "{query}" {found}; {taste}',
            )
        items.append(ListItem(item_id=hit.item_id, score=hit.score, explanation=explanation))
    return ListResponse(
        user_id=user_id,
        items=items,
        offset=options.offset,
        recommendation_id=new_recommendation_id(),
        model=result.personalised_by or "search",
    )
