"""Opaque keyset cursors: the last key of a page, base64-encoded."""

from __future__ import annotations

import base64
import binascii


class InvalidCursor(ValueError):
    """The cursor was not produced by this service."""


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode()
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise InvalidCursor(f"invalid cursor {cursor[:40]!r}") from exc
