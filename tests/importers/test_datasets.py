"""The MovieLens and Last.fm layouts: small copies written here, then the real data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from recserve.importers import (
    LASTFM_TIMESTAMP,
    ImportValidationError,
    UnknownFormatError,
    import_source,
)
from recserve.store import Store
from tests.conftest import dataset_path
from tests.importers.helpers import sqlite_url, write_lines

FLAGS = ["0"] * 19


def _flags(*on: int) -> str:
    flags = list(FLAGS)
    for i in on:
        flags[i] = "1"
    return "|".join(flags)


@pytest.fixture
def ml100k(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-100k"
    write_lines(
        folder / "u.data", ["1\t10\t5\t881250949", "1\t20\t2\t881250950", "2\t10\t3\t881250951"]
    )
    write_lines(
        folder / "u.item",
        [
            f"10|Café Society (1995)|01-Jan-1995||http://imdb/cafe|{_flags(5, 8)}",
            f"20|Old One (1939)|25-Aug-1939||http://imdb/old|{_flags(4)}",
            f"30|unknown||||{_flags(0)}",
        ],
        encoding="latin-1",  # as GroupLens ships it
    )
    write_lines(folder / "u.user", ["1|24|M|technician|85711", "2|53|F|other|94043"])
    genres = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
              "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
              "Romance", "Sci-Fi", "Thriller", "War", "Western"]  # fmt: skip
    write_lines(folder / "u.genre", [f"{g}|{i}" for i, g in enumerate(genres)] + [""])
    return folder


def test_movielens_100k(store: Store, ml100k: Path) -> None:
    report = import_source(store, ml100k)
    assert report.format == "movielens-100k"
    assert (report.items, report.users, report.events) == (3, 2, 3)
    cafe = store.items.get("10")
    assert cafe is not None
    assert cafe["title"] == "Café Society (1995)" and cafe["categories"] == ["Comedy", "Drama"]
    assert cafe["published_at"] == 788918400.0
    assert cafe["attributes"] == {"imdb_url": "http://imdb/cafe", "release_date": "1995-01-01"}
    old = store.items.get("20")
    assert old is not None and old["published_at"] == -957916800.0  # before 1970 is fine
    assert old["attributes"]["release_date"] == "1939-08-25"
    assert store.items.get("30")["categories"] == []  # type: ignore[index]
    assert store.users.get("2")["attributes"] == {  # type: ignore[index]
        "age": 53, "gender": "F", "occupation": "other", "zip_code": "94043"
    }  # fmt: skip
    events = {e["event_id"]: e for e in store.feedback.for_user("1")[0]}
    assert events["ml100k:1:10:881250949"]["value"] == 5.0
    assert events["ml100k:1:10:881250949"]["type"] == "rating"
    again = import_source(store, ml100k)
    assert (again.events, again.duplicates) == (0, 3)


def test_movielens_100k_bad_line(store: Store, ml100k: Path) -> None:
    with (ml100k / "u.data").open("a") as handle:
        handle.write("3\t10\t4\n")
    with pytest.raises(ImportValidationError) as info:
        import_source(store, ml100k)
    assert info.value.problems == ["u.data line 4: expected 4 fields separated by '\\t', found 3"]
    assert store.counts()["items"] == 0


@pytest.fixture
def ml_latest(tmp_path: Path) -> Path:
    folder = tmp_path / "ml-latest-small"
    write_lines(
        folder / "ratings.csv",
        ["userId,movieId,rating,timestamp", "1,31,2.5,1260759144", "1,1029,3.0,1260759179",
         "7,31,4.5,1260759200"],
    )  # fmt: skip
    write_lines(
        folder / "movies.csv",
        ["movieId,title,genres", '31,"Dangerous Minds, The (1995)",Drama',
         "1029,Dumbo (1941),Animation|Children|Drama|Musical",
         "99,Nothing (2000),(no genres listed)"],
    )  # fmt: skip
    write_lines(
        folder / "tags.csv",
        ["userId,movieId,tag,timestamp", "15,31,teacher,1138537770", "16,31,classic,1138537771",
         "17,31,Teacher,1138537772", "15,555,orphan tag,1138537773"],
    )  # fmt: skip
    write_lines(folder / "links.csv", ["movieId,imdbId,tmdbId", "31,0112792,9909", "1029,0033563,"])
    return folder


def test_movielens_latest_small(store: Store, ml_latest: Path) -> None:
    report = import_source(store, ml_latest)
    assert report.format == "movielens-latest-small"
    assert (report.items, report.events) == (4, 3)  # 3 movies + one known only from tags.csv
    minds = store.items.get("31")
    assert minds is not None
    assert minds["title"] == "Dangerous Minds, The (1995)" and minds["categories"] == ["Drama"]
    assert minds["tags"] == ["teacher", "classic"]  # distinct, most used first
    assert minds["attributes"] == {"imdb_id": "0112792", "tmdb_id": "9909"}
    assert store.items.get("99")["categories"] == []  # type: ignore[index]
    assert store.items.get("555")["tags"] == ["orphan tag"]  # type: ignore[index]
    assert store.users.count() == 2
    (event,) = [e for e in store.feedback.for_user("7")[0]]
    assert event["value"] == 4.5 and event["event_id"] == "mls:7:31:1260759200"


def test_movielens_latest_small_bad_rows(store: Store, ml_latest: Path) -> None:
    with (ml_latest / "tags.csv").open("a") as handle:
        handle.write(f"1,31,{'x' * 300},1\n")
    with (ml_latest / "ratings.csv").open("a") as handle:
        handle.write("1,31,abc,1260759144\n")
    with pytest.raises(ImportValidationError) as info:
        import_source(store, ml_latest)
    assert info.value.problems == [
        "tags.csv line 6: tag: String should have at most 200 characters",
        "ratings.csv line 5: value: Input should be a valid number, unable to parse string as a "
        "number",
    ]
    assert store.counts() == {"items": 0, "users": 0, "events": 0, "relations": 0}


@pytest.fixture
def lastfm(tmp_path: Path) -> Path:
    folder = tmp_path / "lastfm"
    write_lines(
        folder / "user_artists.dat", ["userID\tartistID\tweight", "2\t51\t13883", "3\t52\t7"]
    )
    write_lines(
        folder / "artists.dat",
        ["id\tname\turl\tpictureURL", "51\tDuran Duran\thttp://last.fm/dd\thttp://img/dd.jpg",
         "52\tBjörk \"live\"\thttp://last.fm/b\t"],
    )  # fmt: skip
    write_lines(folder / "user_friends.dat", ["userID\tfriendID", "2\t3", "3\t2"])
    write_lines(folder / "tags.dat", ["tagID\ttagValue", "1\tnew wave", "2\tsynthpop"])
    write_lines(
        folder / "user_taggedartists.dat",
        ["userID\tartistID\ttagID\tday\tmonth\tyear", "2\t51\t2\t1\t4\t2009",
         "3\t51\t1\t1\t4\t2009", "4\t51\t2\t1\t4\t2009"],
    )  # fmt: skip
    return folder


def test_lastfm_2k(store: Store, lastfm: Path) -> None:
    report = import_source(store, lastfm)
    assert report.format == "lastfm-2k"
    assert (report.items, report.events, report.relations) == (2, 2, 2)
    duran = store.items.get("51")
    assert duran is not None and duran["title"] == "Duran Duran"
    assert duran["attributes"] == {"url": "http://last.fm/dd", "picture_url": "http://img/dd.jpg"}
    assert duran["tags"] == ["synthpop", "new wave"]
    assert store.items.get("52")["title"] == 'Björk "live"'  # type: ignore[index]
    (play,) = store.feedback.for_user("2")[0]
    assert (play["type"], play["value"], play["event_id"]) == ("play", 13883.0, "lastfm:2:51")
    assert play["timestamp"] == LASTFM_TIMESTAMP
    assert {(r["user_id"], r["other_user_id"]) for r in store.relations.for_user("2")} == {
        ("2", "3"), ("3", "2")
    }  # fmt: skip
    again = import_source(store, lastfm)
    assert (again.events, again.duplicates, again.relations) == (0, 2, 0)


def test_lastfm_unknown_tag_id(store: Store, lastfm: Path) -> None:
    with (lastfm / "user_taggedartists.dat").open("a") as handle:
        handle.write("2\t52\t9\t1\t4\t2009\n")
    with pytest.raises(ImportValidationError, match=r"user_taggedartists.dat line 5: tagID: '9'"):
        import_source(store, lastfm)


def test_dataset_format_needs_its_files(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UnknownFormatError, match=r"u\.data not found"):
        import_source(store, tmp_path, format="movielens-100k")
    with pytest.raises(UnknownFormatError, match="kind"):
        import_source(store, tmp_path, format="lastfm-2k", kind="events")


# the real data sets ------------------------------------------------------------------


def _import_real(tmp_path: Path, name: str) -> tuple[Store, dict[str, int]]:
    store = Store.open(sqlite_url(tmp_path))
    import_source(store, dataset_path(name))
    return store, store.counts()


@pytest.mark.slow
def test_real_movielens_100k(tmp_path: Path) -> None:
    store, counts = _import_real(tmp_path, "movielens-100k")
    assert counts == {"items": 1682, "users": 943, "events": 100_000, "relations": 0}
    toy = store.items.get("1")
    assert toy is not None and toy["title"] == "Toy Story (1995)"
    assert toy["categories"] == ["Animation", "Children's", "Comedy"]
    assert store.users.get("1")["attributes"]["occupation"] == "technician"  # type: ignore[index]
    store.close()


@pytest.mark.slow
def test_real_movielens_latest_small(tmp_path: Path) -> None:
    store, counts = _import_real(tmp_path, "movielens-latest-small")
    assert counts == {"items": 9125, "users": 671, "events": 100_004, "relations": 0}
    toy = store.items.get("1")
    assert toy is not None and toy["categories"][:2] == ["Adventure", "Animation"]
    assert toy["tags"] == ["Pixar"]  # from tags.csv
    store.close()


@pytest.mark.slow
def test_real_lastfm_2k(tmp_path: Path) -> None:
    store, counts = _import_real(tmp_path, "lastfm-2k")
    assert counts == {"items": 17632, "users": 1892, "events": 92_834, "relations": 25_434}
    users, others, types = store.relations.edges()
    pairs = {frozenset(p) for p in zip(users.tolist(), others.tolist(), strict=True)}
    assert len(pairs) == 12_717 and set(types.tolist()) == {"friend"}
    store.close()
