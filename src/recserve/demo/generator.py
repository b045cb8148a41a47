"""A seeded synthetic shop: catalogue, users with latent tastes, sessions of events, friends.

How the data come about, so that models have something real to find:

* every user has a taste: a mixture over the 18 genres (Dirichlet, concentrated on two or
  three, shifted by age), a mixture over six moods, and a style vector in the space the
  creators' works live in;
* a user's sessions fall on random days of the window, mostly in the evening; a session
  focuses on one genre drawn from the taste (sometimes a random one: exploration), and the
  items viewed in it are drawn by popularity (Zipf-like) times the user's affinity, with
  the odd bestseller from the home page mixed in;
* each view may lead to a click, then a like, add_to_cart and purchase, a rating days
  later, or a dislike: the likelier the better the item fits the user's taste;
* friends are drawn mostly among users with the same favourite genre (homophily).

So the items a user acts on are predictable from the items they acted on before, and
much better than from popularity alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from recserve.demo.catalogue import FACTORS, Catalogue, build_catalogue
from recserve.demo.words import CHANNELS, COUNTRIES, COUNTRY_WEIGHTS, GENRES, MOODS

DAY = 86_400.0
DEFAULT_END = datetime(2024, 7, 1, tzinfo=UTC).timestamp()  # fixed: same seed, same data
# share of a day's sessions starting in each hour (UTC), evening-heavy
HOURLY = np.array(
    [2, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 5, 6, 5, 5, 5, 6, 7, 9, 10, 10, 9, 6, 3], dtype=np.float64
)
HOURLY /= HOURLY.sum()

TASTE_CONCENTRATION = 0.08  # Dirichlet concentration per genre: small = few favourite genres
EXPLORE = 0.08  # share of sessions about a random genre
BESTSELLER = 0.2  # chance a session also shows one home-page bestseller
SESSION_LENGTH = 0.28  # views per session ~ 1 + Geometric(SESSION_LENGTH)
POPULARITY_POWER = 0.7  # how much popularity drives what is viewed within a genre
HOMOPHILY = 0.8  # share of friendships made within the favourite genre


@dataclass
class DemoData:
    """Rows shaped like the API's create bodies (``ItemCreate``, ``UserCreate``,
    ``FeedbackCreate``, ``RelationCreate``); events in time order."""

    items: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    relations: list[dict[str, Any]] = field(default_factory=list)

    def write(self, directory: Path) -> None:
        """Write ``items.jsonl``, ``users.jsonl``, ``events.jsonl`` and ``relations.jsonl``,
        a directory that ``recserve.importers.import_source`` reads back."""
        directory.mkdir(parents=True, exist_ok=True)
        for kind in ("items", "users", "events", "relations"):
            with (directory / f"{kind}.jsonl").open("w", encoding="utf-8") as handle:
                for row in getattr(self, kind):
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")


@dataclass(frozen=True)
class _Users:
    rows: list[dict[str, Any]]
    taste: np.ndarray  # (n_users, n_genres) mixture
    mood: np.ndarray  # (n_users, n_moods) mixture
    style: np.ndarray  # (n_users, FACTORS)
    activity: np.ndarray  # sessions per user


def _users(rng: np.random.Generator, n_users: int, sessions_per_user: float) -> _Users:
    n_genres = len(GENRES)
    age = np.clip(rng.normal(37, 13, size=n_users).round(), 16, 80).astype(int)
    centre = np.array([g.audience_age for g in GENRES], dtype=np.float64)
    # genres near the user's age are likelier favourites
    closeness = 0.2 + np.exp(-(((age[:, None] - centre[None, :]) / 14.0) ** 2))
    alpha = TASTE_CONCENTRATION * n_genres * closeness / closeness.sum(axis=1, keepdims=True)
    taste = np.array([rng.dirichlet(a) for a in alpha])
    taste = np.maximum(taste, 1e-6)
    taste /= taste.sum(axis=1, keepdims=True)
    mood = rng.dirichlet(np.full(len(MOODS), 0.7), size=n_users)
    style = rng.normal(size=(n_users, FACTORS))
    style /= np.linalg.norm(style, axis=1, keepdims=True)
    # long-tailed activity: most users come back a few times, some very often
    sigma = 0.8
    rate = max(sessions_per_user - 1.0, 0.0) * rng.lognormal(-(sigma**2) / 2, sigma, size=n_users)
    activity = 1 + rng.poisson(rate)
    weights = np.array(COUNTRY_WEIGHTS, dtype=np.float64) / sum(COUNTRY_WEIGHTS)
    rows = []
    for u in range(n_users):
        premium = bool(rng.random() < 0.25)
        rows.append(
            {
                "user_id": f"user{u:05d}",
                "attributes": {
                    "age": int(age[u]),
                    "country": str(rng.choice(COUNTRIES, p=weights)),
                    "plan": "premium" if premium else "free",
                    "signup_channel": str(rng.choice(CHANNELS)),
                },
                "tags": ["newsletter"] if rng.random() < 0.3 else [],
            }
        )
    return _Users(rows, taste, mood, style, activity)


def _utility(users: _Users, cat: Catalogue, user: np.ndarray, item: np.ndarray) -> np.ndarray:
    """How well each item fits its user (pairwise arrays): genre, mood and style terms."""
    n_genres, n_moods = users.taste.shape[1], users.mood.shape[1]
    genre_term = np.log(n_genres * users.taste[user, cat.genre[item]])
    mood_term = np.log(n_moods * users.mood[user, cat.mood[item]] + 0.05)
    style_term = np.einsum("ij,ij->i", users.style[user], cat.style[item])
    return genre_term + 0.5 * mood_term + 1.5 * style_term


def _sample_rows(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    """One index per row of a row-wise cumulative distribution."""
    draw = rng.random(len(cumulative)) * cumulative[:, -1]
    return (cumulative < draw[:, None]).sum(axis=1)


@dataclass(frozen=True)
class _Views:
    """Everything shown to users, one entry per view, grouped by session in time order."""

    user: np.ndarray
    item: np.ndarray
    time: np.ndarray
    session: np.ndarray
    utility: np.ndarray


def _views(
    rng: np.random.Generator, users: _Users, cat: Catalogue, start: float, days: int
) -> _Views:
    n_genres = users.taste.shape[1]
    # sessions: when, whose, about which genre, how many views
    user = np.repeat(np.arange(len(users.rows)), users.activity)
    n = len(user)
    time = start + rng.integers(days, size=n) * DAY + rng.choice(24, size=n, p=HOURLY) * 3600.0
    time += rng.uniform(0, 3600, size=n)
    order = np.lexsort((time, user))
    user, time = user[order], time[order]
    genre = _sample_rows(rng, np.cumsum(users.taste[user], axis=1))
    explore = rng.random(n) < EXPLORE
    genre[explore] = rng.integers(n_genres, size=int(explore.sum()))
    length = rng.geometric(SESSION_LENGTH, size=n)

    # items: per genre, the top ``length`` of log(appeal) + Gumbel noise is a draw without
    # replacement proportional to appeal; items not yet published are out of the pool
    picks_session, picks_item, picks_rank = [], [], []
    log_pop = POPULARITY_POWER * np.log(cat.popularity)
    for g in range(n_genres):
        sessions = np.flatnonzero(genre == g)
        pool = np.flatnonzero(cat.genre == g)
        if not len(sessions) or not len(pool):
            continue
        su, pu = np.meshgrid(user[sessions], pool, indexing="ij")
        score = log_pop[pool][None, :] + _utility(users, cat, su.ravel(), pu.ravel()).reshape(
            su.shape
        )
        score += rng.gumbel(size=score.shape)
        score[cat.published_at[pool][None, :] > time[sessions][:, None]] = -np.inf
        ranked = np.argsort(-score, axis=1)
        keep = np.arange(len(pool))[None, :] < length[sessions][:, None]
        keep &= np.isfinite(np.take_along_axis(score, ranked, axis=1))
        rows, ranks = np.nonzero(keep)
        picks_session.append(sessions[rows])
        picks_item.append(pool[ranked[rows, ranks]])
        picks_rank.append(ranks.astype(np.float64))
    # the odd bestseller from the home page, at a random place in the session
    shown = np.flatnonzero(rng.random(n) < BESTSELLER)
    best = np.searchsorted(np.cumsum(cat.popularity), rng.random(len(shown)), side="right")
    best = np.minimum(best, len(cat.popularity) - 1)
    published = cat.published_at[best] <= time[shown]
    picks_session.append(shown[published])
    picks_item.append(best[published])
    picks_rank.append(rng.uniform(-0.5, length[shown[published]] - 0.5))

    session = np.concatenate(picks_session)
    item = np.concatenate(picks_item)
    rank = np.concatenate(picks_rank)
    order = np.lexsort((rank, session))
    session, item = session[order], item[order]
    # a view every ~100 s within its session
    gap = rng.exponential(90.0, size=len(session)) + 10.0
    first = np.r_[True, session[1:] != session[:-1]]
    gap[first] = 0.0
    elapsed = np.cumsum(gap)
    elapsed -= np.maximum.accumulate(np.where(first, elapsed, 0.0))
    view_user = user[session]
    return _Views(
        view_user, item, time[session] + elapsed, session, _utility(users, cat, view_user, item)
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _events(
    rng: np.random.Generator, views: _Views, end: float, seed: int, item_ids: list[str]
) -> list[dict[str, Any]]:
    """The funnel after each view, as time-ordered event rows."""
    time, fit = views.time, _sigmoid(1.3 * (views.utility - 1.0))  # fit: 0..1
    n = len(time)
    draw = lambda: rng.random(n)  # noqa: E731
    click = draw() < 0.03 + 0.7 * fit
    like = click & (draw() < 0.45 * fit**2)
    cart = click & (draw() < 0.05 + 0.45 * fit)
    purchase = cart & (draw() < 0.3 + 0.5 * fit)
    rated = purchase & (draw() < 0.5)
    dislike = ~click & (draw() < 0.2 * (1.0 - fit) ** 3)
    stars = np.clip(np.round(1.0 + 4.0 * fit + rng.normal(0, 0.7, size=n)), 1, 5)
    click_at = time + rng.uniform(3, 30, size=n)
    cart_at = click_at + rng.uniform(10, 120, size=n)
    stages = [  # (type, which views, when)
        ("view", np.ones(n, dtype=bool), time),
        ("click", click, click_at),
        ("like", like, click_at + rng.uniform(5, 60, size=n)),
        ("add_to_cart", cart, cart_at),
        ("purchase", purchase, cart_at + rng.uniform(30, 300, size=n)),
        ("rating", rated, time + rng.uniform(DAY, 10 * DAY, size=n)),  # after the session
        ("dislike", dislike, time + rng.uniform(2, 20, size=n)),
    ]
    view_parts, code_parts, time_parts = [], [], []
    for stage, (_, mask, when) in enumerate(stages):
        idx = np.flatnonzero(mask & (when <= end))
        view_parts.append(idx)
        code_parts.append(np.full(len(idx), stage))
        time_parts.append(when[idx])
    view, code, at = (np.concatenate(p) for p in (view_parts, code_parts, time_parts))
    order = np.lexsort((view, code, at))  # by time, then stage, then view
    view, code, at = view[order], code[order], np.round(at[order], 3)
    names = [name for name, _, _ in stages]
    rating = names.index("rating")
    rows = []
    for number, (c, t, u, i, s, star) in enumerate(
        zip(
            code.tolist(),
            at.tolist(),
            views.user[view].tolist(),
            views.item[view].tolist(),
            views.session[view].tolist(),
            stars[view].tolist(),
            strict=True,
        )
    ):
        rows.append(
            {
                "user_id": f"user{u:05d}",
                "item_id": item_ids[i],
                "type": names[c],
                "value": star if c == rating else None,
                "timestamp": t,
                "event_id": f"demo{seed}-{number:07d}",
                "session_id": None if c == rating else f"demo{seed}-s{s:06d}",
            }
        )
    return rows


def _friends(rng: np.random.Generator, users: _Users) -> list[dict[str, Any]]:
    """Undirected friendships, mostly between users with the same favourite genre, stored
    in both directions."""
    favourite = users.taste.argmax(axis=1)
    n = len(favourite)
    groups = {g: np.flatnonzero(favourite == g) for g in np.unique(favourite)}
    pairs: set[tuple[int, int]] = set()
    for u, invites in enumerate(1 + rng.poisson(2.5, size=n)):
        group = groups[favourite[u]]
        for _ in range(invites):
            same = rng.random() < HOMOPHILY and len(group) > 1
            v = int(rng.choice(group)) if same else int(rng.integers(n))
            if v != u:
                pairs.add((min(u, v), max(u, v)))
    rows = []
    for a, b in sorted(pairs):
        rows.append({"user_id": f"user{a:05d}", "other_user_id": f"user{b:05d}", "type": "friend"})
        rows.append({"user_id": f"user{b:05d}", "other_user_id": f"user{a:05d}", "type": "friend"})
    return rows


def generate(
    seed: int = 0,
    n_users: int = 1000,
    n_items: int = 2000,
    *,
    days: int = 90,
    sessions_per_user: float = 10.0,
    end: float = DEFAULT_END,
) -> DemoData:
    """The demo data set for ``seed``: the same arguments always give the same rows.

    ``days`` of events ending at ``end`` (Unix seconds; a fixed date by default),
    ``sessions_per_user`` on average (long-tailed across users).
    """
    if n_users < 2 or n_items < 2 * len(GENRES):
        raise ValueError(f"the demo needs at least 2 users and {2 * len(GENRES)} items")
    if days < 1 or sessions_per_user < 1:
        raise ValueError("days and sessions_per_user must be at least 1")
    rng = np.random.default_rng(seed)
    start = end - days * DAY
    catalogue = build_catalogue(rng, n_items, start, end)
    users = _users(rng, n_users, sessions_per_user)
    views = _views(rng, users, catalogue, start, days)
    events = _events(rng, views, end, seed, [row["item_id"] for row in catalogue.rows])
    return DemoData(catalogue.rows, users.rows, events, _friends(rng, users))
