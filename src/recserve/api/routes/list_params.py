"""The query parameters every item-list endpoint shares, turned into ``ListOptions``.

The dependencies here are ``async def``: they only parse, and FastAPI runs a sync dependency
in the thread pool (a hop of ~0.1 ms of the ~1 ms budget of a cached recommendation).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import BaseModel

from recserve.api import item_details
from recserve.api.deps import top_n
from recserve.api.errors import ApiError
from recserve.schemas import ID_MAX
from recserve.schemas.scenarios import DETAIL_FIELDS, Explanation, ListItem, ListResponse, Reason
from recserve.serving import RecommendationList
from recserve.serving.filters import FilterError, Node, parse_filter
from recserve.serving.options import ListOptions
from recserve.store import Store

MAX_OFFSET = 10_000
MAX_IDS = 1000
MAX_PINS = 50


def _bad(code: str, name: str, message: str, value: object = None) -> ApiError:
    return ApiError(
        422 if code != "invalid_filter" else 400,
        code,
        f"query.{name}: {message}",
        [{"type": code, "loc": ["query", name], "msg": message, "input": value}],
    )


def _ids(name: str, values: list[str] | None) -> tuple[str, ...]:
    values = values or []
    if len(values) > MAX_IDS:
        raise _bad("validation_error", name, f"at most {MAX_IDS} item ids")
    for value in values:
        if not 1 <= len(value) <= ID_MAX:
            raise _bad("validation_error", name, f"item ids have 1 to {ID_MAX} characters")
    return tuple(values)


def _pins(values: list[str] | None) -> tuple[tuple[str, int], ...]:
    pins = []
    for value in values or []:
        item_id, _, position = value.rpartition(":")
        if not item_id or len(item_id) > ID_MAX or not position.isdigit():
            raise _bad("invalid_pin", "pin", "write a pin as item_id:position", value)
        slot = int(position[:6])
        if not 1 <= slot <= MAX_OFFSET:
            raise _bad("invalid_pin", "pin", f"positions run from 1 to {MAX_OFFSET}", value)
        pins.append((item_id, slot))
    if len(pins) > MAX_PINS:
        raise _bad("invalid_pin", "pin", f"at most {MAX_PINS} pins")
    return tuple(pins)


async def item_fields(
    fields: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Stored item fields to add to each entry as `details`, comma-separated: "
            + ", ".join(DETAIL_FIELDS)
            + ". Read in one query per response.",
        ),
    ] = None,
) -> tuple[str, ...]:
    """``fields`` as a tuple of known names (duplicates and blanks dropped); an unknown name
    is 422 ``invalid_fields``."""
    if fields is None:
        return ()
    names = tuple(dict.fromkeys(n.strip() for n in fields.split(",") if n.strip()))
    unknown = [n for n in names if n not in DETAIL_FIELDS]
    if unknown or not names:
        said = f"unknown field(s) {', '.join(map(repr, unknown))}" if unknown else "no field"
        raise _bad("invalid_fields", "fields", f"{said}; known: {', '.join(DETAIL_FIELDS)}", fields)
    return names


ItemFieldsParam = Annotated[tuple[str, ...], Depends(item_fields)]


def filter_node(filter: str | None) -> Node | None:
    """The ``filter`` parameter parsed; a 400 ``invalid_filter`` saying where it fails."""
    if filter is None:
        return None
    try:
        return parse_filter(filter)
    except FilterError as exc:
        raise _bad("invalid_filter", "filter", str(exc), filter) from exc


async def list_options(
    n: Annotated[int, Depends(top_n)],
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (paging).")] = 0,
    exclude_seen: Annotated[
        bool, Query(description="Leave out items the user gave feedback on.")
    ] = True,
    category: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Only this category.")
    ] = None,
    filter: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Expression on item attributes, e.g. "
            "`price < 20 and (color in ('red', 'blue') or not brand == 'x')`.",
        ),
    ] = None,
    include: Annotated[
        list[str] | None, Query(description="Allow list: only these item ids (repeat).")
    ] = None,
    exclude: Annotated[
        list[str] | None, Query(description="Deny list of item ids (repeat).")
    ] = None,
    diversity: Annotated[
        float, Query(ge=0.0, le=1.0, description="0: by relevance .. 1: most varied.")
    ] = 0.0,
    pin: Annotated[
        list[str] | None, Query(description="item_id:position, a promoted item in a slot.")
    ] = None,
    explain: Annotated[bool, Query(description="Say why each item is there.")] = False,
    fields: ItemFieldsParam = (),
) -> ListOptions:
    node = filter_node(filter)
    return ListOptions(
        n=n,
        offset=offset,
        exclude_seen=exclude_seen,
        category=category,
        filter=node,
        include=_ids("include", include),
        exclude=_ids("exclude", exclude),
        diversity=diversity,
        pins=_pins(pin),
        explain=explain,
        fields=fields,
    )


ListParams = Annotated[ListOptions, Depends(list_options)]


def list_items(
    result: RecommendationList, details: item_details.Details | None = None
) -> list[ListItem]:
    """The entries of a list; with ``details`` (``item_details.read``), each item's fields."""
    explanations: list[Any] = result.explanations or [None] * len(result.item_ids)
    return [
        ListItem(
            item_id=i,
            score=s,
            pinned=i in result.pinned,
            explanation=Explanation(
                reason=e.reason, items=[Reason(item_id=r, weight=w) for r, w in e.items]
            )
            if e is not None
            else None,
            details=details.get(i) if details is not None else None,
        )
        for i, s, e in zip(result.item_ids, result.scores, explanations, strict=True)
    ]


def json_response(body: BaseModel) -> Response:
    """``body`` serialised once: FastAPI would dump a returned model, validate the dump
    against ``response_model`` and serialise that (three passes over the same list)."""
    return Response(body.model_dump_json(), media_type="application/json")


def list_response(
    result: RecommendationList,
    options: ListOptions,
    store: Store,
    *,
    user_id: str | None = None,
    item_id: str | None = None,
    session_id: str | None = None,
) -> ListResponse:
    """The answer of one list; with ``fields``, each item's details (one store query)."""
    details = item_details.read(store, result.item_ids, options.fields)
    return ListResponse(
        user_id=user_id,
        item_id=item_id,
        session_id=session_id,
        items=list_items(result, details),
        offset=options.offset,
        recommendation_id=result.recommendation_id,
        model=result.model,
        experiment=result.experiment,
        variant=result.variant,
        reason=result.reason,
    )
