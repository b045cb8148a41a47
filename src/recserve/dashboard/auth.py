"""Who may use the dashboard, and proof that a form was posted from its own pages.

When the service has API keys, the dashboard needs a key with the ``admin`` scope: the login
form checks it with the API's own ``authenticate`` and keeps it in an HttpOnly,
SameSite=Strict cookie. Every POST carries a CSRF token: an HMAC, keyed by the session's
API key, of a random nonce held in a second SameSite=Strict cookie (a signed double-submit
token, so it needs no server-side state and works across replicas).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request, Response

from recserve.api.deps import identify
from recserve.api.errors import ApiError
from recserve.config import ApiKey, Scope

KEY_COOKIE = "recserve_key"
NONCE_COOKIE = "recserve_csrf"


class LoginRequired(Exception):
    """The dashboard needs an admin key and the request has none: answered by a redirect."""

    def __init__(self, next_path: str):
        self.next_path = next_path


def keys_configured(request: Request) -> bool:
    return bool(request.app.state.api_keys)


def check_key(request: Request, presented: str) -> ApiKey | None:
    """The admin key ``presented`` (None when the service runs open); ApiError 401 when it
    is not a configured key, 403 when it lacks the admin scope."""
    table = request.app.state.api_keys
    if not table:
        return None
    try:
        key = identify(table, presented)
    except ApiError:
        raise ApiError(401, "invalid_api_key", "that API key is not valid") from None
    if not key.allows(Scope.ADMIN):
        raise ApiError(403, "insufficient_scope", "the dashboard needs a key with the admin scope")
    return key


def dashboard_user(request: Request) -> ApiKey | None:
    """Dependency of every dashboard page and action: the admin key from the cookie (None
    when the service runs open); ``LoginRequired`` when a key is needed and missing."""
    if not keys_configured(request):
        return None
    presented = request.cookies.get(KEY_COOKIE)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not presented:
        raise LoginRequired(target)
    try:
        return check_key(request, presented)
    except ApiError:
        raise LoginRequired(target) from None


AdminDep = Annotated[ApiKey | None, Depends(dashboard_user)]


def login_redirect_path(next_path: str) -> str:
    return f"/dashboard/login?next={quote(safe_next(next_path), safe='/')}"


def safe_next(path: str | None) -> str:
    """A local path to return to after login (never another site)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


# CSRF -----------------------------------------------------------------------------------


def _nonce(request: Request) -> str | None:
    nonce = request.cookies.get(NONCE_COOKIE)
    return nonce if nonce and len(nonce) <= 128 else None


def csrf_token(request: Request, nonce: str) -> str:
    """The token forms carry for ``nonce``: keyed by the session's key (empty when open)."""
    secret = hashlib.sha256(request.cookies.get(KEY_COOKIE, "").encode()).digest()
    return hmac.new(secret, nonce.encode(), hashlib.sha256).hexdigest()


def ensure_nonce(request: Request) -> tuple[str, bool]:
    """The request's CSRF nonce, and whether it is new (and must be set as a cookie)."""
    nonce = _nonce(request)
    return (nonce, False) if nonce else (secrets.token_urlsafe(24), True)


def check_csrf(request: Request, csrf_token_field: Annotated[str, Form(alias="csrf_token")] = ""):
    """Dependency of every dashboard POST: 403 ``csrf_failed`` unless the form's token
    matches the nonce cookie, and the Origin header (when sent) is this host."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise ApiError(403, "csrf_failed", "the form was posted from another site")
    nonce = _nonce(request)
    if not nonce or not hmac.compare_digest(csrf_token(request, nonce), csrf_token_field):
        raise ApiError(
            403, "csrf_failed", "the form's CSRF token is missing or stale: reload the page"
        )


CsrfDep = Depends(check_csrf)


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
