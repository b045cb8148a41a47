"""The HetRec 2011 Last.fm 2K layout: play counts, artists and a friendship graph.

The files are tab-separated with a header row. ``user_artists.dat`` has no times, so every
play event gets the same fixed timestamp, ``LASTFM_TIMESTAMP`` (2011-05-01 UTC, the
data set's release), not the import time: two imports of the same files give the same
events, and nothing about the order of plays is invented. Models that use time (decay,
temporal splits, sequences) learn nothing from it on this data set.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from recserve.importers.parts import BadRow, Part, Rows
from recserve.importers.readers import TagCollector, check_label, tsv_records
from recserve.importers.report import UnknownFormatError

LASTFM_TIMESTAMP = datetime(2011, 5, 1, tzinfo=UTC).timestamp()


def _plays(path: Path) -> Rows:
    for number, rec in tsv_records(path, ("userID", "artistID", "weight")):
        if isinstance(rec, BadRow):
            yield number, rec
            continue
        user, artist = rec["userID"], rec["artistID"]
        yield number, {
            "user_id": user, "item_id": artist, "type": "play", "value": rec["weight"],
            "timestamp": LASTFM_TIMESTAMP, "event_id": f"lastfm:{user}:{artist}",
        }  # fmt: skip


def _artists(directory: Path) -> Rows:
    tags = TagCollector()
    tagged, names = directory / "user_taggedartists.dat", directory / "tags.dat"
    if tagged.is_file() and names.is_file():
        tag_names: dict[str, str] = {}
        for number, rec in tsv_records(names, ("tagID", "tagValue")):
            if isinstance(rec, BadRow):
                yield f"tags.dat line {number}", rec
                continue
            tag = rec["tagValue"].strip()
            problem = check_label(tag)
            if problem:
                yield f"tags.dat line {number}", BadRow(f"tagValue: {problem}")
                continue
            tag_names[rec["tagID"]] = tag
        for number, rec in tsv_records(tagged, ("artistID", "tagID")):
            if isinstance(rec, BadRow):
                yield f"user_taggedartists.dat line {number}", rec
            elif rec["tagID"] in tag_names:
                tags.add(rec["artistID"], tag_names[rec["tagID"]])
            else:
                yield (
                    f"user_taggedartists.dat line {number}",
                    BadRow(f"tagID: {rec['tagID']!r} is not in tags.dat"),
                )
    for number, rec in tsv_records(directory / "artists.dat", ("id", "name", "url", "pictureURL")):
        if isinstance(rec, BadRow):
            yield number, rec
            continue
        links = {"url": rec["url"], "picture_url": rec["pictureURL"]}
        yield number, {
            "item_id": rec["id"], "title": rec["name"] or None, "tags": tags.tags(rec["id"]),
            "attributes": {k: v for k, v in links.items() if v},
        }  # fmt: skip


def _friends(path: Path) -> Rows:
    for number, rec in tsv_records(path, ("userID", "friendID")):
        if isinstance(rec, BadRow):
            yield number, rec
        else:
            yield (
                number,
                {"user_id": rec["userID"], "other_user_id": rec["friendID"], "type": "friend"},
            )


def lastfm_2k(directory: Path) -> list[Part]:
    """user_artists.dat (events of type ``play``, value = play count), artists.dat (items:
    name as title, url and picture_url attributes; tags from user_taggedartists.dat and
    tags.dat when both are there) and user_friends.dat (``friend`` relations, stored
    directed, as listed: the file lists each friendship in both directions).
    """
    if not (directory / "user_artists.dat").is_file():
        raise UnknownFormatError(f"{directory}: user_artists.dat not found")
    parts = []
    if (directory / "artists.dat").is_file():
        parts.append(Part("items", "artists.dat", lambda: _artists(directory)))
    parts.append(Part("events", "user_artists.dat", lambda: _plays(directory / "user_artists.dat")))
    if (directory / "user_friends.dat").is_file():
        parts.append(
            Part("relations", "user_friends.dat", lambda: _friends(directory / "user_friends.dat"))
        )
    return parts
