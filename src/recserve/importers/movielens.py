"""The GroupLens MovieLens layouts: 100K (1998) and "latest-small" (2016).

Ratings become events of type ``rating`` with the star value; their ``event_id`` is built
from user, movie and time (``ml100k:{user}:{item}:{ts}``, ``mls:{user}:{item}:{ts}``), so
importing the same files twice stores nothing new.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from recserve.importers.parts import BadRow, Part, Rows
from recserve.importers.readers import TagCollector, check_label, csv_records, split_lines
from recserve.importers.report import UnknownFormatError

# u.genre of the 100K release, used when the file is missing.
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
)}  # fmt: skip
NO_GENRES = "(no genres listed)"


def _require(directory: Path, *names: str) -> None:
    for name in names:
        if not (directory / name).is_file():
            raise UnknownFormatError(f"{directory}: {name} not found")


# MovieLens 100K -------------------------------------------------------------------------


def _release_date(text: str) -> datetime | None:
    """``01-Jan-1995`` as a UTC date, None if it is not such a date."""
    try:
        day, month, year = text.split("-")
        return datetime(int(year), _MONTHS[month], int(day), tzinfo=UTC)
    except (ValueError, KeyError):
        return None


def _genres_100k(directory: Path) -> list[str]:
    path = directory / "u.genre"
    if not path.is_file():
        return list(GENRES_100K)
    pairs = [fields for _, fields in split_lines(path, "|", 2) if not isinstance(fields, BadRow)]
    return [name for name, _ in sorted(pairs, key=lambda p: int(p[1]))]


def _ratings_100k(path: Path) -> Rows:
    for number, fields in split_lines(path, "\t", 4):
        if isinstance(fields, BadRow):
            yield number, fields
            continue
        user, item, rating, ts = fields
        yield number, {
            "user_id": user, "item_id": item, "type": "rating", "value": rating,
            "timestamp": ts, "event_id": f"ml100k:{user}:{item}:{ts}",
        }  # fmt: skip


def _items_100k(path: Path, genres: list[str]) -> Rows:
    for number, fields in split_lines(path, "|", 5 + len(genres)):
        if isinstance(fields, BadRow):
            yield number, fields
            continue
        item, title, released, _video_released, url = fields[:5]
        flags = fields[5:]
        if any(f not in ("0", "1") for f in flags):
            yield number, BadRow("genre flags must be 0 or 1")
            continue
        attributes = {"imdb_url": url} if url else {}
        row: dict[str, object] = {
            "item_id": item,
            "title": title or None,
            "categories": [
                g for g, f in zip(genres, flags, strict=True) if f == "1" and g != "unknown"
            ],
            "attributes": attributes,
        }
        if released:
            date = _release_date(released)
            if date is None:
                yield number, BadRow(f"release date: {released!r} is not a date like 01-Jan-1995")
                continue
            attributes["release_date"] = date.date().isoformat()
            row["published_at"] = date.timestamp()
        yield number, row


def _users_100k(path: Path) -> Rows:
    for number, fields in split_lines(path, "|", 5):
        if isinstance(fields, BadRow):
            yield number, fields
            continue
        user, age, gender, occupation, zip_code = fields
        if not age.isdigit():
            yield number, BadRow(f"age: {age!r} is not a whole number")
            continue
        attributes = {
            "age": int(age),
            "gender": gender,
            "occupation": occupation,
            "zip_code": zip_code,
        }
        yield number, {"user_id": user, "attributes": attributes}


def movielens_100k(directory: Path) -> list[Part]:
    """u.data (ratings), u.item (movies: title, genres as categories, IMDb URL and release
    date as attributes, the release date also as ``published_at``), u.user (age, gender,
    occupation, zip code as attributes).

    The genre ``unknown`` is left out of the categories. Files are read as UTF-8, or as the
    original Latin-1 when they are not valid UTF-8.
    """
    _require(directory, "u.data")
    parts = []
    if (directory / "u.item").is_file():
        genres = _genres_100k(directory)
        parts.append(Part("items", "u.item", lambda: _items_100k(directory / "u.item", genres)))
    if (directory / "u.user").is_file():
        parts.append(Part("users", "u.user", lambda: _users_100k(directory / "u.user")))
    parts.append(Part("events", "u.data", lambda: _ratings_100k(directory / "u.data")))
    return parts


# MovieLens latest-small -------------------------------------------------------------------


def _ratings_latest(path: Path) -> Rows:
    for number, rec in csv_records(path, ("userId", "movieId", "rating", "timestamp")):
        if isinstance(rec, BadRow):
            yield number, rec
            continue
        user, item, ts = rec["userId"], rec["movieId"], rec["timestamp"]
        yield number, {
            "user_id": user, "item_id": item, "type": "rating", "value": rec["rating"] or None,
            "timestamp": ts, "event_id": f"mls:{user}:{item}:{ts}",
        }  # fmt: skip


def _links(path: Path) -> dict[str, dict[str, str]]:
    """movieId -> {imdb_id, tmdb_id} from links.csv (unreadable rows are skipped)."""
    links: dict[str, dict[str, str]] = {}
    if not path.is_file():
        return links
    for _, rec in csv_records(path, ("movieId", "imdbId", "tmdbId")):
        if not isinstance(rec, BadRow):
            ids = {"imdb_id": rec["imdbId"], "tmdb_id": rec["tmdbId"]}
            links[rec["movieId"]] = {k: v for k, v in ids.items() if v}
    return links


def _items_latest(directory: Path) -> Rows:
    tags = TagCollector()
    tags_path = directory / "tags.csv"
    if tags_path.is_file():
        for number, rec in csv_records(tags_path, ("movieId", "tag")):
            where = f"tags.csv line {number}"
            if isinstance(rec, BadRow):
                yield where, rec
                continue
            tag = rec["tag"].strip()
            problem = check_label(tag)
            if problem:
                yield where, BadRow(f"tag: {problem}")
                continue
            tags.add(rec["movieId"], tag)
    links = _links(directory / "links.csv")
    seen: set[str] = set()
    for number, rec in csv_records(directory / "movies.csv", ("movieId", "title", "genres")):
        if isinstance(rec, BadRow):
            yield number, rec
            continue
        item = rec["movieId"]
        seen.add(item)
        genres = [g for g in rec["genres"].split("|") if g and g != NO_GENRES]
        yield number, {
            "item_id": item, "title": rec["title"] or None, "categories": genres,
            "tags": tags.tags(item), "attributes": links.get(item, {}),
        }  # fmt: skip
    for item in tags.items():  # tagged movies missing from movies.csv
        if item not in seen:
            yield f"tags.csv (movie {item})", {"item_id": item, "tags": tags.tags(item)}


def movielens_latest_small(directory: Path) -> list[Part]:
    """ratings.csv (0.5-5 stars), movies.csv (title; genres as categories, none for
    "(no genres listed)"), tags.csv (free-text tags per movie: distinct, case-insensitive,
    most used first) and links.csv (IMDb and TMDb ids as attributes), when present.
    """
    _require(directory, "ratings.csv", "movies.csv")
    return [
        Part("items", "movies.csv", lambda: _items_latest(directory)),
        Part("events", "ratings.csv", lambda: _ratings_latest(directory / "ratings.csv")),
    ]
