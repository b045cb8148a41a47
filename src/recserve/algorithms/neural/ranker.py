"""A factorisation-machine ranker (``deep=True``: DeepFM) predicting click probabilities.

Fields, each one vector of ``dim`` (bags of ids are averaged):

* user side: the user id (a shared "unknown" row for users it never trained on), the
  user's history (mean of a separate item embedding over their positives, SVD++-style:
  a user it never saw still gets personalised from a request-time history), the hour of
  the day of the event (UTC; an "unknown" bucket when the caller gives none);
* item side: the item id, its categories and tags.

The FM logit is a global bias plus per-feature biases plus all pairwise dot products of
the field vectors, ``0.5 * (|sum f|^2 - sum |f|^2)``; DeepFM adds an MLP over the
concatenated field vectors. Since the pairwise term splits into user-side, item-side and
cross terms, scoring every item for a user is one matrix product (plus, for DeepFM, an
MLP whose first layer is split the same way and run in bounded chunks).

Training data (binary cross-entropy): positive events are 1; negative events (kind -1)
and, with ``read_as_negative``, read events on pairs without a positive (shown, not
taken) are 0; ``negatives`` unobserved items per positive, drawn afresh each epoch, are
0 too. Early stopping on the AUC of a held-out share of the labelled events.

As a recommender it scores all items (so it can serve alone); its job is the ranking
stage: ``rank(users, candidates)`` scores a few candidates per user from any retrieval
model, and :func:`rerank` does retrieval plus re-ranking in one call.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import Recommender, csr_restore, csr_state
from recserve.algorithms.neural.features import (
    N_HOURS,
    UNKNOWN_HOUR,
    HistorySampler,
    as_bags,
    bag_inputs,
    batches_of,
    binary,
    hour_of_day,
    item_tokens,
    mean_rows,
    mlp,
    validation_split,
)
from recserve.algorithms.neural.torch_base import TorchRecommender
from recserve.algorithms.neural.trainer import NeuralConfig, Trainer, seed_everything
from recserve.algorithms.similarity import effective_history
from recserve.data import Dataset
from recserve.data.dataset import NEGATIVE, POSITIVE, READ

PAIR_CHUNK = 1 << 22  # users x items x hidden floats per DeepFM chunk when scoring all items


class FMRankerConfig(NeuralConfig):
    batch_size: int = Field(default=1024, ge=1, le=65_536)
    learning_rate: float = Field(default=3e-3, gt=0, le=1.0)
    weight_decay: float = Field(default=1e-5, ge=0, le=1.0)
    dim: int = Field(default=32, ge=2, le=1024, description="Size of every field vector.")
    deep: bool = Field(default=False, description="DeepFM: add an MLP over the field vectors.")
    hidden: tuple[int, ...] = Field(
        default=(128, 64), min_length=1, max_length=8, description="DeepFM hidden layers."
    )
    dropout: float = Field(default=0.1, ge=0, lt=1, description="DeepFM dropout.")
    negatives: int = Field(
        default=4, ge=0, le=1000, description="Unobserved items sampled as 0 per positive."
    )
    read_as_negative: bool = Field(
        default=True, description="Read events on pairs without a positive count as 0."
    )
    use_history: bool = Field(default=True, description="The user's history as a field.")
    use_tokens: bool = Field(default=True, description="Item categories and tags as a field.")
    use_hour: bool = Field(default=True, description="Hour of the day (UTC) as a context field.")
    max_tokens: int = Field(default=10_000, ge=1, le=1_000_000)
    max_history: int = Field(default=50, ge=1, le=10_000)
    user_dropout: float = Field(
        default=0.2, ge=0, le=1, description="Share of rows trained as an unknown user."
    )
    hour_dropout: float = Field(
        default=0.3, ge=0, le=1, description="Share of rows trained with an unknown hour."
    )
    validation_fraction: float = Field(
        default=0.1, ge=0, lt=1, description="Labelled events held out for early stopping."
    )
    validation_max: int = Field(default=50_000, ge=1, le=10_000_000)

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "dim": trial.suggest_categorical("dim", [16, 32, 64]),
            "deep": trial.suggest_categorical("deep", [False, True]),
            "learning_rate": trial.suggest_float("learning_rate", 3e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-7, 1e-3, log=True),
            "negatives": trial.suggest_int("negatives", 1, 8),
        }


@functools.cache
def _network() -> type:
    import torch
    from torch import nn

    def embedding(rows: int, dim: int, std: float = 0.05) -> nn.Embedding:
        e = nn.Embedding(rows, dim)
        nn.init.normal_(e.weight, std=std)
        return e

    def bias(rows: int) -> nn.Embedding:
        e = nn.Embedding(rows, 1)
        nn.init.zeros_(e.weight)
        return e

    class FMNet(nn.Module):
        def __init__(self, n_users: int, n_items: int, n_tokens: int, cfg: FMRankerConfig):
            super().__init__()
            d = cfg.dim
            self.user, self.user_bias = embedding(n_users + 1, d), bias(n_users + 1)
            self.item, self.item_bias = embedding(n_items, d), bias(n_items)
            self.history = embedding(n_items, d) if cfg.use_history else None
            self.hour = embedding(N_HOURS, d) if cfg.use_hour else None
            self.hour_bias = bias(N_HOURS) if cfg.use_hour else None
            self.tokens = self.token_bias = None
            if n_tokens:
                self.tokens = nn.EmbeddingBag(n_tokens, d, mode="mean")
                nn.init.normal_(self.tokens.weight, std=0.05)
                self.token_bias = nn.EmbeddingBag(n_tokens, 1, mode="mean")
                nn.init.zeros_(self.token_bias.weight)
            self.bias = nn.Parameter(torch.zeros(1))
            self.n_user_fields = 1 + cfg.use_history + cfg.use_hour
            n_fields = self.n_user_fields + 1 + (n_tokens > 0)
            self.deep_in = self.deep_rest = None
            if cfg.deep:
                self.deep_in = nn.Linear(n_fields * d, cfg.hidden[0])
                self.deep_rest = nn.Sequential(
                    nn.ReLU(), nn.Dropout(cfg.dropout), mlp([*cfg.hidden, 1], cfg.dropout)
                )

        def user_side(
            self, users: torch.Tensor, history: torch.Tensor | None, hours: torch.Tensor | None
        ) -> tuple[list[torch.Tensor], torch.Tensor]:
            """Field vectors and summed bias of the user side (``history``: mean vectors)."""
            fields = [self.user(users)]
            total = self.user_bias(users)[:, 0] + self.bias
            if self.history is not None:
                assert history is not None
                fields.append(history)
            if self.hour is not None and self.hour_bias is not None:
                assert hours is not None
                fields.append(self.hour(hours))
                total = total + self.hour_bias(hours)[:, 0]
            return fields, total

        def history_mean(
            self, items: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor
        ) -> torch.Tensor:
            """Mean history vector per bag (``features.as_bags`` inputs)."""
            assert self.history is not None
            return nn.functional.embedding_bag(
                items, self.history.weight, offsets, mode="sum", per_sample_weights=weights
            )

        def item_side(
            self, items: torch.Tensor, token_indices: torch.Tensor, token_offsets: torch.Tensor
        ) -> tuple[list[torch.Tensor], torch.Tensor]:
            fields = [self.item(items)]
            total = self.item_bias(items)[:, 0]
            if self.tokens is not None and self.token_bias is not None:
                fields.append(self.tokens(token_indices, token_offsets))
                total = total + self.token_bias(token_indices, token_offsets)[:, 0]
            return fields, total

        @staticmethod
        def _half_pairs(fields: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            """(sum of the fields, half of their within-side pairwise dot products)."""
            summed = torch.stack(fields).sum(0)
            squares = sum((f * f).sum(1) for f in fields)
            return summed, 0.5 * ((summed * summed).sum(1) - squares)

        def pairs(self, user: tuple[Any, Any], item: tuple[Any, Any]) -> torch.Tensor:
            """Logits of aligned (user row, item row) pairs."""
            (uf, ub), (itf, ib) = user, item
            su, pu = self._half_pairs(uf)
            si, pi = self._half_pairs(itf)
            logits = ub + ib + pu + pi + (su * si).sum(1)
            if self.deep_in is not None and self.deep_rest is not None:
                x = torch.cat([*uf, *itf], dim=1)
                logits = logits + self.deep_rest(self.deep_in(x))[:, 0]
            return logits

        def matrix(self, user: tuple[Any, Any], item: tuple[Any, Any]) -> torch.Tensor:
            """Logits of every user row with every item row (``users x items``)."""
            (uf, ub), (itf, ib) = user, item
            su, pu = self._half_pairs(uf)
            si, pi = self._half_pairs(itf)
            logits = (ub + pu)[:, None] + (ib + pi)[None, :] + su @ si.T
            if self.deep_in is not None and self.deep_rest is not None:
                split = self.n_user_fields * su.shape[1]
                weight = self.deep_in.weight
                a_user = torch.cat(uf, dim=1) @ weight[:, :split].T + self.deep_in.bias
                a_item = torch.cat(itf, dim=1) @ weight[:, split:].T
                step = max(1, PAIR_CHUNK // max(len(a_user) * weight.shape[0], 1))
                deep = [
                    self.deep_rest(a_user[:, None, :] + a_item[None, start : start + step, :])[
                        ..., 0
                    ]
                    for start in range(0, len(a_item), step)
                ]
                logits = logits + torch.cat(deep, dim=1)
            return logits

    return FMNet


class FMRanker(TorchRecommender[FMRankerConfig]):
    """Factorisation machine / DeepFM over user, history, hour, item and token fields."""

    family = "fm_ranker"
    config_class = FMRankerConfig
    uses_history = True
    requires: ClassVar[tuple[str, ...]] = ("torch",)  # read by the leaderboard's skip rules

    trained_users: np.ndarray  # bool: the user's id embedding was trained
    trained_history: sp.csr_matrix  # positives at fit time (request history falls back to it)
    tokens: sp.csr_matrix  # items x tokens

    def build_module(self) -> Any:
        assert self.users is not None and self.items is not None
        net = _network()
        return net(len(self.users), len(self.items), self.tokens.shape[1], self.config)

    # -- training --------------------------------------------------------------------------------

    def _fit(self, data: Dataset) -> None:
        import torch

        cfg = self.config
        rng = seed_everything(cfg.seed, cfg.threads)
        device = self.device
        n_users, n_items = data.n_users, data.n_items
        self.tokens = (
            item_tokens(data, cfg.max_tokens)
            if cfg.use_tokens
            else sp.csr_matrix((n_items, 0), dtype=np.float32)
        )
        users, items, labels, hours = _labelled_events(data, cfg.read_as_negative)
        train_rows, val_rows = validation_split(
            len(users), cfg.validation_fraction, cfg.validation_max, rng
        )
        is_pos = labels == 1
        train_pos = sp.csr_matrix(
            (
                np.ones(int(is_pos[train_rows].sum()), np.float32),
                (users[train_rows][is_pos[train_rows]], items[train_rows][is_pos[train_rows]]),
            ),
            shape=(n_users, n_items),
        )
        train_pos = binary(train_pos)
        self.trained_history = binary(data.positive_matrix())
        self.trained_users = np.bincount(users[train_rows], minlength=n_users) > 0
        sampler = HistorySampler(train_pos, cfg.max_history)

        module = self.build_module().to(device)
        tu, ti, tl, th = users[train_rows], items[train_rows], labels[train_rows], hours[train_rows]

        def examples(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
            """One epoch: the labelled events plus fresh sampled negatives, shuffled."""
            pos = np.flatnonzero(tl == 1)
            su = np.repeat(tu[pos], cfg.negatives)
            si = _sample_unobserved(self.trained_history, su, n_items, rng)
            sh = np.repeat(th[pos], cfg.negatives)
            keep = si >= 0
            eu = np.concatenate([tu, su[keep]])
            ei = np.concatenate([ti, si[keep]])
            el = np.concatenate([tl, np.zeros(int(keep.sum()), np.float32)])
            eh = np.concatenate([th, sh[keep]])
            order = rng.permutation(len(eu))
            return eu[order], ei[order], el[order], eh[order]

        def batches(rng: np.random.Generator) -> Iterator[tuple[Any, ...]]:
            eu, ei, el, eh = examples(rng)
            for rows in batches_of(len(eu), cfg.batch_size):
                u, i = eu[rows], ei[rows]
                hidden = rng.random(len(u)) < cfg.user_dropout
                unknown_hour = rng.random(len(u)) < cfg.hour_dropout
                yield (
                    self._inputs(
                        np.where(hidden, -1, u),
                        i,
                        sampler.sample_bags(u, i, rng),
                        np.where(unknown_hour, UNKNOWN_HOUR, eh[rows]),
                        device,
                    ),
                    torch.as_tensor(el[rows], device=device),
                )

        def loss(module: Any, batch: tuple[Any, ...]) -> Any:
            (user_in, item_in), label = batch
            logits = module.pairs(self._user_side(module, *user_in), module.item_side(*item_in))
            return torch.nn.functional.binary_cross_entropy_with_logits(logits, label)

        validate = self._validator(
            users[val_rows], items[val_rows], labels[val_rows], hours[val_rows], sampler, device
        )
        trainer = Trainer(cfg)
        n_examples = len(tu) + cfg.negatives * int((tl == 1).sum())
        self.module = trainer.fit(
            module, batches, loss, validate, rng, n_batches=math.ceil(n_examples / cfg.batch_size)
        )
        self.history = trainer.history

    def _validator(
        self,
        users: np.ndarray,
        items: np.ndarray,
        labels: np.ndarray,
        hours: np.ndarray,
        sampler: HistorySampler,
        device: Any,
    ) -> Callable[[Any], float] | None:
        """AUC on the held-out events plus sampled unobserved items (drawn once, seeded);
        None when there is no AUC to compute (no held-out positive)."""
        if not (labels == 1).any():
            return None
        rng = np.random.default_rng(self.config.seed + 1)
        per_positive = max(self.config.negatives, 1)
        positive = np.flatnonzero(labels == 1)
        sampled_users = np.repeat(users[positive], per_positive)
        sampled = _sample_unobserved(self.trained_history, sampled_users, self.n_items, rng)
        keep = sampled >= 0
        if not keep.any():
            return None
        users = np.concatenate([users, sampled_users[keep]])
        items = np.concatenate([items, sampled[keep]])
        labels = np.concatenate([labels, np.zeros(int(keep.sum()), np.float32)])
        hours = np.concatenate([hours, np.repeat(hours[positive], per_positive)[keep]])
        history = sampler.sample(users, items, rng)

        def validate(module: Any) -> float:
            from sklearn.metrics import roc_auc_score

            scores = []
            for rows in batches_of(len(users), 8192):
                bags = as_bags(history[0][rows], history[1][rows])
                user_in, item_in = self._inputs(users[rows], items[rows], bags, hours[rows], device)
                user = self._user_side(module, *user_in)
                scores.append(module.pairs(user, module.item_side(*item_in)).cpu().numpy())
            return float(roc_auc_score(labels, np.concatenate(scores)))

        return validate

    def _user_ids(self, users: np.ndarray) -> np.ndarray:
        known = (users >= 0) & self.trained_users[np.clip(users, 0, None)]
        return np.where(known, users, len(self.trained_users))

    def _inputs(
        self,
        users: np.ndarray,
        items: np.ndarray,
        history: tuple[np.ndarray, np.ndarray, np.ndarray],
        hours: np.ndarray,
        device: Any,
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """Training tensors: (ids, history bag items, offsets, weights, hours), (item, tokens)."""
        import torch

        indices, offsets = bag_inputs(self.tokens, items)
        return (
            (
                torch.as_tensor(self._user_ids(users), device=device),
                torch.as_tensor(history[0], device=device),
                torch.as_tensor(history[1], device=device),
                torch.as_tensor(history[2], device=device),
                torch.as_tensor(hours, device=device),
            ),
            (
                torch.as_tensor(items, device=device),
                torch.as_tensor(indices, device=device),
                torch.as_tensor(offsets, device=device),
            ),
        )

    @staticmethod
    def _user_side(
        module: Any, ids: Any, items: Any, offsets: Any, weights: Any, hours: Any
    ) -> Any:
        history = (
            module.history_mean(items, offsets, weights) if module.history is not None else None
        )
        return module.user_side(ids, history, hours)

    # -- serving ----------------------------------------------------------------------------------

    def _effective(self, users: np.ndarray, history: sp.csr_matrix | None) -> sp.csr_matrix:
        return effective_history(users, history, self.trained_history)

    def has_signal(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        """A user it trained on, or (with ``use_history``) any history to go on."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        known = (users >= 0) & self.trained_users[np.clip(users, 0, None)]
        if self.config.use_history:
            known |= np.diff(self._effective(users, history).indptr) > 0
        return known

    def _serving_user(
        self, users: np.ndarray, history: sp.csr_matrix | None, hours: np.ndarray | None
    ) -> Any:
        import torch

        device = self.device
        means = None
        if self.config.use_history:
            h = mean_rows(self._effective(users, history))
            columns = np.unique(h.indices)
            table = self.module.history.weight.detach()[torch.as_tensor(columns, device=device)]
            means = torch.as_tensor(
                np.asarray(h[:, columns] @ table.cpu().numpy(), dtype=np.float32), device=device
            )
        if hours is None:
            hours = np.full(len(users), UNKNOWN_HOUR, dtype=np.int64)
        hours = np.asarray(hours, dtype=np.int64)
        if hours.shape != users.shape or ((hours < 0) | (hours > UNKNOWN_HOUR)).any():
            raise ValueError(f"hours must be one value in 0..{UNKNOWN_HOUR} per user")
        ids = torch.as_tensor(self._user_ids(users), device=device)
        return self.module.user_side(ids, means, torch.as_tensor(hours, device=device))

    def _item_side(self, items: np.ndarray) -> Any:
        import torch

        indices, offsets = bag_inputs(self.tokens, items)
        device = self.device
        return self.module.item_side(
            torch.as_tensor(items, device=device),
            torch.as_tensor(indices, device=device),
            torch.as_tensor(offsets, device=device),
        )

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        import torch

        with torch.no_grad():
            user = self._serving_user(users, history, None)
            item = self._item_side(np.arange(self.n_items))
            return self.module.matrix(user, item).cpu().numpy().astype(np.float32)

    def rank(
        self,
        users: np.ndarray,
        candidates: np.ndarray,
        history: sp.csr_matrix | None = None,
        hours: np.ndarray | None = None,
        probabilities: bool = True,
    ) -> np.ndarray:
        """Scores of each user's candidate items (``users x candidates``, ``-1`` = padding).

        Click probabilities (or logits with ``probabilities=False``; the same order);
        padding gets ``-inf``. ``hours`` (0-23 UTC, one per user) is the request's context;
        without it the "unknown hour" bucket is used. Users it cannot personalise (see
        ``has_signal``) get the population's estimate.
        """
        import torch

        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        candidates = np.atleast_2d(np.asarray(candidates, dtype=np.int64))
        if candidates.shape[0] != len(users):
            raise ValueError(f"candidates must have one row per user ({len(users)})")
        if ((candidates < -1) | (candidates >= self.n_items)).any():
            raise ValueError(f"candidate items must be in -1..{self.n_items - 1}")
        history = None if history is None else self._history(users, history)
        width = candidates.shape[1]
        with torch.no_grad():
            uf, ub = self._serving_user(users, history, hours)
            repeat = torch.as_tensor(np.repeat(np.arange(len(users)), width), device=self.device)
            user = ([f[repeat] for f in uf], ub[repeat])
            item = self._item_side(np.clip(candidates.ravel(), 0, None))
            logits = self.module.pairs(user, item)
            out = (torch.sigmoid(logits) if probabilities else logits).cpu().numpy()
        out = out.astype(np.float32).reshape(len(users), width)
        out[candidates < 0] = -np.inf
        return out

    def predict_proba(
        self,
        users: np.ndarray,
        items: np.ndarray,
        history: sp.csr_matrix | None = None,
        hours: np.ndarray | None = None,
    ) -> np.ndarray:
        """Click probability of each (user, item) pair (one pair per row)."""
        items = np.asarray(items, dtype=np.int64)
        return self.rank(users, items[:, None], history, hours)[:, 0]

    # -- persistence ------------------------------------------------------------------------------

    def _extra_state(self) -> dict[str, np.ndarray]:
        return {
            "trained_users": self.trained_users,
            **csr_state("history", self.trained_history),
            **csr_state("tokens", self.tokens),
        }

    def _restore_extra(self, arrays: dict[str, np.ndarray]) -> None:
        self.trained_users = arrays["trained_users"].astype(bool)
        self.trained_history = csr_restore("history", arrays)
        self.tokens = csr_restore("tokens", arrays)
        self.history = []


def _labelled_events(
    data: Dataset, read_as_negative: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, label, hour) of the events it learns from (see the module docstring)."""
    ok = (data.user >= 0) & (data.item >= 0)
    wanted = (data.kind == POSITIVE) | (data.kind == NEGATIVE)
    if read_as_negative and (data.kind == READ).any():
        read = ok & (data.kind == READ)
        positive = data.positive_matrix()
        has_positive = np.asarray(positive[data.user[read], data.item[read]]).ravel() != 0
        shown = np.zeros(len(data), dtype=bool)
        shown[np.flatnonzero(read)[~has_positive]] = True
        wanted |= shown
    rows = np.flatnonzero(ok & wanted)
    labels = (data.kind[rows] == POSITIVE).astype(np.float32)
    return (
        data.user[rows].astype(np.int64),
        data.item[rows].astype(np.int64),
        labels,
        hour_of_day(data.timestamp[rows]),
    )


def _sample_unobserved(
    positives: sp.csr_matrix, users: np.ndarray, n_items: int, rng: np.random.Generator
) -> np.ndarray:
    """A random item per row that the user has no positive on (-1 where two draws failed)."""
    items = rng.integers(0, n_items, len(users))
    if not len(users):
        return items
    for _ in range(2):
        hit = np.asarray(positives[users, items]).ravel() != 0
        if not hit.any():
            break
        items[hit] = rng.integers(0, n_items, int(hit.sum()))
    hit = np.asarray(positives[users, items]).ravel() != 0
    return np.where(hit, -1, items)


# -- the ranking stage --------------------------------------------------------------------------


class Ranker(Protocol):
    """What :func:`rerank` needs of a ranker (``FMRanker`` is one)."""

    items: Any

    def rank(
        self,
        users: np.ndarray,
        candidates: np.ndarray,
        history: sp.csr_matrix | None = ...,
        hours: np.ndarray | None = ...,
        probabilities: bool = ...,
    ) -> np.ndarray: ...

    def has_signal(self, users: np.ndarray, history: sp.csr_matrix | None = ...) -> np.ndarray: ...


def rerank(
    retrieval_model: Recommender[Any],
    ranker: Ranker,
    users: np.ndarray,
    n: int,
    candidates: int = 100,
    exclude: sp.csr_matrix | None = None,
    history: sp.csr_matrix | None = None,
    hours: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``candidates`` from any retrieval model, re-ranked by ``ranker``; top-n returned.

    Both must be fitted on the same item vocabulary. ``exclude`` applies at retrieval, so
    excluded items never come back. Rows the ranker cannot personalise (an unknown user
    without history) keep the retrieval order and scores; the other rows carry the
    ranker's click probabilities. Padding is ``-1`` / ``-inf`` as everywhere.
    """
    if ranker.items != retrieval_model.items:
        raise ValueError("the retrieval model and the ranker were fitted on different items")
    users = np.asarray(users, dtype=np.int64)
    ids, retrieved = retrieval_model.recommend(
        users, history=history, n=max(candidates, n), exclude=exclude
    )
    scores = ranker.rank(users, ids, history=history, hours=hours)
    signal = ranker.has_signal(users, history)
    order = np.argsort(-scores, axis=1, kind="stable")
    order[~signal] = np.arange(ids.shape[1])
    ids = np.take_along_axis(ids, order, axis=1)[:, :n]
    out = np.where(signal[:, None], scores, retrieved)
    out = np.take_along_axis(out, order, axis=1)[:, :n].astype(np.float32)
    out[ids < 0] = -np.inf
    return ids, out
