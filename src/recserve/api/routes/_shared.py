"""Helpers the resource routers share."""

from __future__ import annotations

from collections.abc import Sized
from typing import Any

from recserve.api.errors import ApiError
from recserve.config import Settings


def check_batch(rows: Sized, settings: Settings) -> None:
    """A batch write needs 1 to ``settings.max_batch_size`` rows."""
    if len(rows) == 0:
        raise ApiError(
            422, "empty_batch", "the request body is an empty list: send at least one row"
        )
    if len(rows) > settings.max_batch_size:
        raise ApiError(
            413,
            "batch_too_large",
            f"{len(rows)} rows in one request; the limit is {settings.max_batch_size}: "
            "split the batch",
        )


def item_not_found(item_id: str) -> ApiError:
    return ApiError(404, "item_not_found", f"no item with item_id {item_id!r}")


def user_not_found(user_id: str) -> ApiError:
    return ApiError(404, "user_not_found", f"no user with user_id {user_id!r}")


def nullable_changes(changes: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """A PATCH's ``null`` resets a list or mapping to empty; a flag cannot be null."""
    for name, value in changes.items():
        if value is None and defaults.get(name) is not None:
            if isinstance(defaults[name], bool):
                raise ApiError(
                    422,
                    "validation_error",
                    f"body.{name}: must be true or false, not null",
                    [{"type": "bool_type", "loc": ["body", name], "msg": "must not be null"}],
                )
            changes[name] = type(defaults[name])()
    return changes
