"""Opaque keyset cursors: the last key of a page, base64-encoded."""

from __future__ import annotations

import base64
import binascii
import math
import re

_EVENT_POSITION = re.compile(r"(-?[0-9][0-9.e+-]{0,30})/([0-9]{1,18})")


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


def encode_event_cursor(timestamp: float, sequence: int) -> str:
    """The cursor after an event in a newest-first listing: its time and sequence number
    (``repr`` keeps the float exact, so the next page starts right after it)."""
    return encode_cursor(f"{float(timestamp)!r}/{int(sequence)}")


def decode_event_cursor(cursor: str) -> tuple[float, int]:
    """(timestamp, sequence number) of an event listing cursor; InvalidCursor otherwise."""
    match = _EVENT_POSITION.fullmatch(decode_cursor(cursor))
    if match is None:
        raise InvalidCursor("invalid cursor")
    try:
        at = float(match[1])
    except ValueError as exc:
        raise InvalidCursor("invalid cursor") from exc
    if not math.isfinite(at):
        raise InvalidCursor("invalid cursor")
    return at, int(match[2])
