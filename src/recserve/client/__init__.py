"""The Python client of the recserve API: ``Client`` (blocking) and ``AsyncClient``
(asyncio), both on httpx, with the server's response models as results and its error codes
as exceptions. See docs/client.md.

    from recserve.client import Client

    with Client("http://127.0.0.1:8000", api_key="...") as client:
        client.add_feedback([{"user_id": "u1", "item_id": "i1", "type": "like"}])
        for item in client.recommend("u1", n=5, explain=True).items:
            print(item.item_id, item.score, item.explanation)
"""

from recserve.client.aio import AsyncClient
from recserve.client.endpoints import ListOptions
from recserve.client.errors import (
    Conflict,
    Forbidden,
    JobFailed,
    JobTimeout,
    ModelNotReady,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RecserveError,
    ServerError,
    ServerUnavailable,
    Unauthorized,
    ValidationFailed,
)
from recserve.client.protocol import Call, RetryPolicy
from recserve.client.sync import Client

__all__ = [
    "AsyncClient",
    "Call",
    "Client",
    "Conflict",
    "Forbidden",
    "JobFailed",
    "JobTimeout",
    "ListOptions",
    "ModelNotReady",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RecserveError",
    "RetryPolicy",
    "ServerError",
    "ServerUnavailable",
    "Unauthorized",
    "ValidationFailed",
]
