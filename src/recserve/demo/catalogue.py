"""The demo catalogue: items of a media shop with titles, descriptions, genres, tags and the
hidden structure (genre, mood, creator style, popularity) that the users' tastes act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from recserve.demo.words import DEPARTMENTS, FIRST_NAMES, GENRES, LAST_NAMES, MOOD_WORDS, MOODS

FACTORS = 8  # latent style dimensions within a genre
ZIPF_EXPONENT = 1.0  # item popularity ~ 1 / rank ** ZIPF_EXPONENT
NEW_RELEASE_SHARE = 0.08  # items published during the event window
HIDDEN_SHARE = 0.01  # discontinued items: in the catalogue, hidden from recommendations
_NUMERALS = ("II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


@dataclass(frozen=True)
class Catalogue:
    rows: list[dict[str, Any]]
    genre: np.ndarray  # int, index into GENRES
    mood: np.ndarray  # int, index into MOODS
    style: np.ndarray  # float (n_items, FACTORS), unit-ish vectors shared by a creator's works
    popularity: np.ndarray  # float, sums to 1, Zipf-like
    published_at: np.ndarray  # float Unix seconds


def _title(rng: np.random.Generator, adjectives: tuple[str, ...], nouns: tuple[str, ...]) -> str:
    adj, noun = adjectives[rng.integers(len(adjectives))], nouns[rng.integers(len(nouns))]
    form = rng.integers(4)
    if form == 0:
        return f"The {adj} {noun}"
    if form == 1:
        other = nouns[rng.integers(len(nouns))]
        return f"{noun} of the {adj} {other}" if other != noun else f"{adj} {noun}"
    if form == 2:
        return f"{adj} {noun}"
    return f"{noun}"


def _unique(title: str, used: dict[str, int]) -> str:
    n = used.get(title, 0)
    used[title] = n + 1
    if n == 0:
        return title
    return f"{title} {_NUMERALS[n - 1]}" if n <= len(_NUMERALS) else f"{title} ({n + 1})"


def build_catalogue(rng: np.random.Generator, n_items: int, start: float, end: float) -> Catalogue:
    """``n_items`` items spread over the genres (unevenly, as real catalogues are)."""
    genre_share = rng.dirichlet(np.full(len(GENRES), 8.0))
    genre = np.sort(rng.choice(len(GENRES), size=n_items, p=genre_share))
    mood = rng.integers(len(MOODS), size=n_items)

    # creators: a few per genre, some prolific; a creator's works share a style
    creator = np.empty(n_items, dtype=np.int64)
    creator_style: list[np.ndarray] = []
    creator_names: list[str] = []
    for g in range(len(GENRES)):
        members = np.flatnonzero(genre == g)
        n_creators = max(2, len(members) // 5)
        weights = 1.0 / np.arange(1, n_creators + 1) ** 0.7
        first = len(creator_style)
        creator[members] = first + rng.choice(
            n_creators, size=len(members), p=weights / weights.sum()
        )
        for _ in range(n_creators):
            creator_style.append(rng.normal(size=FACTORS))
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            creator_names.append(name)
    style = np.array(creator_style)[creator] + 0.5 * rng.normal(size=(n_items, FACTORS))
    style /= np.linalg.norm(style, axis=1, keepdims=True)

    # Zipf-like popularity over a random order of the items
    rank = rng.permutation(n_items) + 1
    popularity = 1.0 / rank.astype(np.float64) ** ZIPF_EXPONENT
    popularity /= popularity.sum()

    # published: most before the window, a few during it (new releases)
    new = rng.random(n_items) < NEW_RELEASE_SHARE
    published = np.where(
        new,
        rng.uniform(start, end - 86_400.0, size=n_items),
        start - rng.uniform(14 * 86_400.0, 6 * 365 * 86_400.0, size=n_items),
    ).round()
    hidden = rng.random(n_items) < HIDDEN_SHARE

    used: dict[str, int] = {}
    rows = []
    for i in range(n_items):
        g = GENRES[genre[i]]
        dept = DEPARTMENTS[g.department]
        title = _unique(_title(rng, g.adjectives, g.nouns), used)
        tags = [str(t) for t in rng.choice(g.tags, size=int(rng.integers(2, 4)), replace=False)]
        tags.append(MOODS[mood[i]])
        theme = g.themes[rng.integers(len(g.themes))]
        who = creator_names[creator[i]]
        mood_word = MOOD_WORDS[MOODS[mood[i]]]
        article = "an" if mood_word[0] in "aeiou" else "a"
        text = (
            f"{title} is {article} {mood_word} {g.describe(dept.noun)} by {who} about "
            f"{theme}. {dept.audience} mention {', '.join(tags[:-2])} and {tags[-2]}."
        )
        low, high = dept.price
        rows.append(
            {
                "item_id": f"{dept.name[0].lower()}{i:06d}",
                "title": title,
                "text": text,
                "categories": [dept.name, g.name],
                "tags": tags,
                "attributes": {
                    dept.creator: who,
                    "price": round(float(rng.uniform(low, high)), 2),
                    "format": str(rng.choice(dept.formats)),
                    "year": datetime.fromtimestamp(published[i], tz=UTC).year,
                },
                "published_at": float(published[i]),
                "hidden": bool(hidden[i]),
            }
        )
    return Catalogue(rows, genre, mood, style, popularity, published)
