"""Lexical item search with the database's own full-text index: FTS5 on SQLite, a GIN
index over ``to_tsvector`` on PostgreSQL. No index is written by hand.

Both rank by a field-weighted relevance (title above categories and tags above text) and
match any of the query's words (the last one also as a prefix, for text being typed:
"harry pot" finds *Harry Potter*), so a longer query still finds items that share only
some of them; items matching more words
(and rarer ones) rank higher. Words are not stemmed: English stemmers fold "animation" and
"animal" into one stem, and the semantic search (serving/semantic.py) already matches
other forms of a word by meaning. Both engines tokenize the same way (SQLite's
``unicode61``, PostgreSQL's ``simple`` configuration). The query is reduced to plain words
first: a user's text never reaches the engines' query syntax.

The index is created by migration 0006 (``FTS_TABLE``, ``PG_DOCUMENT``); it follows every
insert, update and delete of ``items`` inside the same transaction (SQLite triggers, a
PostgreSQL expression index), so a new item is searchable as soon as it is acknowledged.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

FTS_TABLE = "items_fts"
# the shadow tables FTS5 keeps beside it (external content: no copy of the text)
FTS_SHADOW_TABLES = tuple(f"{FTS_TABLE}_{s}" for s in ("data", "idx", "docsize", "config"))
PG_INDEX = "ix_items_fulltext"
# Title weighs most (A), then categories and tags (B), then the free text (C).
PG_DOCUMENT = (
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(categories::text, '') || ' ' || "
    "coalesce(tags::text, '')), 'B') || "
    "setweight(to_tsvector('simple', coalesce(text, '')), 'C')"
)
# bm25 column weights in FTS5 column order (title, text, categories, tags)
FTS_WEIGHTS = (10.0, 1.0, 4.0, 4.0)
MAX_TERMS = 32
PREFIX_MIN = 3  # "to" as a prefix would match "tools", "tomato", ...
_WORD = re.compile(r"\w+", re.UNICODE)


def query_terms(text: str) -> list[str]:
    """The distinct lower-case words of ``text`` (at most ``MAX_TERMS``), in order."""
    words = [w.lower() for w in _WORD.findall(text)]
    return list(dict.fromkeys(w for w in words if w.strip("_")))[:MAX_TERMS]


def _prefix(quoted: str, word: str, marker: str) -> str:
    """The last word also matches longer words, unless it is too short to mean much."""
    return quoted + marker if len(word) >= PREFIX_MIN else quoted


class ItemTextSearch:
    """``search(text, limit)``: the best-matching item ids with a relevance score."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def search(self, text: str, limit: int) -> list[tuple[str, float]]:
        """Up to ``limit`` (item_id, score) pairs, best first; higher scores match better.
        Hidden items are left out. Empty when the query has no word."""
        terms = query_terms(text)
        if not terms or limit <= 0:
            return []
        if self.engine.dialect.name == "postgresql":
            return self._postgres(terms, limit)
        return self._sqlite(terms, limit)

    def _sqlite(self, terms: list[str], limit: int) -> list[tuple[str, float]]:
        # each word quoted (a phrase of one token); any of them may match
        quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
        match = " OR ".join([*quoted[:-1], _prefix(quoted[-1], terms[-1], "*")])
        weights = ", ".join(str(w) for w in FTS_WEIGHTS)
        sql = sa.text(
            f"SELECT items.item_id, bm25({FTS_TABLE}, {weights}) AS rank "
            f"FROM {FTS_TABLE} JOIN items ON items.rowid = {FTS_TABLE}.rowid "
            f"WHERE {FTS_TABLE} MATCH :match AND NOT items.hidden "
            "ORDER BY rank LIMIT :limit"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(sql, {"match": match, "limit": limit}).all()
        return [(item_id, -float(rank)) for item_id, rank in rows]  # bm25: lower is better

    def _postgres(self, terms: list[str], limit: int) -> list[tuple[str, float]]:
        # to_tsquery over words joined by | (any may match), each a prefix (:*)
        quoted = [f"'{t}'" for t in terms]  # words only: nothing to escape
        query = " | ".join([*quoted[:-1], _prefix(quoted[-1], terms[-1], ":*")])
        sql = sa.text(
            f"SELECT item_id, ts_rank_cd({PG_DOCUMENT}, query) AS rank "
            "FROM items, to_tsquery('simple', :query) AS query "
            f"WHERE ({PG_DOCUMENT}) @@ query AND NOT hidden "  # the expression index's own
            "ORDER BY rank DESC, item_id LIMIT :limit"
        )
        with self.engine.connect() as conn:
            rows = conn.execute(sql, {"query": query, "limit": limit}).all()
        return [(item_id, float(rank)) for item_id, rank in rows]
