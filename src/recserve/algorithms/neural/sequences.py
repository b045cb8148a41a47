"""What the sequential models (SASRec, GRU4Rec) share: users' positive items in time order,
sessions, training windows, padded batches, the last-item validation slice, and one base
class that serves from a request-time sequence.

Item indices are shifted by one inside the networks: ``0`` is padding, item ``i`` is token
``i + 1``. Nothing here imports torch at module level (see ``recserve.algorithms``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import C, top_n
from recserve.algorithms.memo import MemoisedTopN
from recserve.algorithms.neural.torch_base import TorchRecommender
from recserve.algorithms.neural.trainer import NeuralConfig, Trainer, seed_everything
from recserve.data import Dataset
from recserve.data.dataset import POSITIVE

PAD = 0
SCORE_CHUNK = 256  # users per forward pass at serving time
FULL_SOFTMAX_ITEMS = 10_000  # loss="auto" samples negatives above this catalogue size

# -- sequences as ragged arrays ---------------------------------------------------------------


@dataclass(frozen=True)
class Ragged:
    """Variable-length int sequences stored flat: row ``r`` is ``values[indptr[r]:indptr[r+1]]``
    (with ``times`` alongside, when known)."""

    indptr: np.ndarray  # int64, len(rows) + 1
    values: np.ndarray  # int64 item indices
    times: np.ndarray | None = None  # float64, aligned with values

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def row(self, r: int) -> np.ndarray:
        return self.values[self.indptr[r] : self.indptr[r + 1]]

    def rows(self) -> list[np.ndarray]:
        return np.split(self.values, self.indptr[1:-1]) if len(self) else []

    def tails(self, max_len: int) -> Ragged:
        """Each row's last ``max_len`` values."""
        lengths = np.minimum(self.lengths, max_len)
        position = np.arange(len(self.values)) - np.repeat(self.indptr[:-1], self.lengths)
        keep = position >= np.repeat(self.lengths - lengths, self.lengths)
        return Ragged(
            np.r_[0, np.cumsum(lengths)].astype(np.int64),
            self.values[keep],
            None if self.times is None else self.times[keep],
        )


def user_sequences(data: Dataset) -> Ragged:
    """Per user (every user of the vocabulary), their positive items oldest first.

    Ties in time keep event order, as the leave-last-out splitter breaks them, so the
    sequence's last item is the one that splitter would hold out.
    """
    index = np.flatnonzero((data.kind == POSITIVE) & (data.user >= 0) & (data.item >= 0))
    order = index[np.lexsort((index, data.timestamp[index], data.user[index]))]
    counts = np.bincount(data.user[order], minlength=data.n_users)
    return Ragged(
        np.r_[0, np.cumsum(counts)].astype(np.int64),
        data.item[order].astype(np.int64),
        data.timestamp[order].astype(np.float64),
    )


def split_sessions(sequences: Ragged, gap_seconds: float | None) -> list[np.ndarray]:
    """Each sequence cut where two consecutive events are more than ``gap_seconds`` apart
    (None: one session per sequence). Empty sessions are dropped."""
    if gap_seconds is None or sequences.times is None:
        return [row for row in sequences.rows() if len(row)]
    sessions = []
    for r in range(len(sequences)):
        start, end = sequences.indptr[r], sequences.indptr[r + 1]
        if end == start:
            continue
        times = sequences.times[start:end]
        cuts = np.flatnonzero(np.diff(times) > gap_seconds) + 1
        sessions.extend(np.split(sequences.values[start:end], cuts))
    return sessions


def windows(sequences: Sequence[np.ndarray], max_len: int) -> list[np.ndarray]:
    """Training windows of at most ``max_len + 1`` items (``max_len`` inputs, each followed by
    its target): a long sequence is cut from its end into windows that overlap by one item, so
    every transition is learned once. Sequences shorter than two items teach nothing."""
    out = []
    for seq in sequences:
        end = len(seq)
        while end >= 2:
            start = max(0, end - max_len - 1)
            out.append(seq[start:end])
            end = start + 1
    return out


def pad(
    sequences: Sequence[np.ndarray], side: Literal["left", "right"], length: int | None = None
) -> np.ndarray:
    """Token matrix (``len(sequences) x length``; default: the longest), items shifted by one
    and ``0`` as padding on ``side``. Longer sequences keep their last ``length`` items."""
    length = max((len(s) for s in sequences), default=0) if length is None else length
    out = np.zeros((len(sequences), max(length, 1)), dtype=np.int64)
    for r, seq in enumerate(sequences):
        seq = np.asarray(seq, dtype=np.int64)[len(seq) - min(len(seq), length) :]
        if len(seq):
            if side == "left":
                out[r, out.shape[1] - len(seq) :] = seq + 1
            else:
                out[r, : len(seq)] = seq + 1
    return out


def next_item_batches(
    train_windows: Sequence[np.ndarray],
    batch_size: int,
    side: Literal["left", "right"],
    rng: np.random.Generator,
    bucket_batches: int = 32,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of shuffled ``(inputs, targets)`` token matrices: targets are the inputs
    shifted by one step, ``0`` where there is nothing to predict.

    Windows of similar length are batched together (within random pools of
    ``bucket_batches`` batches) and each batch is padded to its own longest window only, so
    little time goes on padding; the batch order is shuffled.
    """
    lengths = np.fromiter((len(w) for w in train_windows), dtype=np.int64, count=len(train_windows))
    order = rng.permutation(len(train_windows))
    pool = batch_size * bucket_batches
    groups: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        members = order[start : start + pool]
        members = members[np.argsort(lengths[members], kind="stable")]
        groups.extend(members[i : i + batch_size] for i in range(0, len(members), batch_size))
    for g in rng.permutation(len(groups)):
        chunk = [train_windows[i] for i in groups[g]]
        yield pad([w[:-1] for w in chunk], side), pad([w[1:] for w in chunk], side)


def holdout_last(
    sequences: Ragged, max_users: int, rng: np.random.Generator
) -> tuple[Ragged, np.ndarray, np.ndarray]:
    """The validation slice: up to ``max_users`` random users with at least two items lose
    their last item from training, which becomes their target.

    Returns (training sequences, validation user indices, their target items).
    """
    eligible = np.flatnonzero(sequences.lengths >= 2)
    if max_users <= 0 or not len(eligible):
        return sequences, np.empty(0, np.int64), np.empty(0, np.int64)
    users = np.sort(rng.choice(eligible, min(max_users, len(eligible)), replace=False))
    last = sequences.indptr[users + 1] - 1
    keep = np.ones(len(sequences.values), dtype=bool)
    keep[last] = False
    lengths = sequences.lengths.copy()
    lengths[users] -= 1
    train = Ragged(
        np.r_[0, np.cumsum(lengths)].astype(np.int64),
        sequences.values[keep],
        None if sequences.times is None else sequences.times[keep],
    )
    return train, users, sequences.values[last]


def ndcg_of_targets(
    scores: np.ndarray, targets: np.ndarray, seen: Sequence[np.ndarray], k: int
) -> float:
    """Mean NDCG@k of one target per row over a full ranking, items in ``seen`` left out."""
    scores = scores.astype(np.float64, copy=True)
    for r, items in enumerate(seen):
        keep = items[items != targets[r]]
        scores[r, keep] = -np.inf
    target_scores = scores[np.arange(len(targets)), targets]
    rank = 1 + (scores > target_scores[:, None]).sum(axis=1)
    gains = np.where(rank <= k, 1.0 / np.log2(rank + 1.0), 0.0)
    return float(gains.mean()) if len(gains) else 0.0


# -- the shared base class --------------------------------------------------------------------


class SequentialConfig(NeuralConfig):
    """Options every sequential model shares."""

    max_len: int = Field(default=50, ge=1, le=4096, description="Most recent items read.")
    embedding_dim: int = Field(default=64, ge=2, le=4096)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    loss: Literal["auto", "softmax", "sampled_softmax"] = Field(
        default="auto",
        description="Cross-entropy over the whole catalogue (softmax), or against uniform "
        f"shared negatives (sampled_softmax); auto: softmax up to {FULL_SOFTMAX_ITEMS:,} items.",
    )
    negatives: int = Field(default=1024, ge=1, description="Shared negatives of sampled_softmax.")
    validation_users: int = Field(
        default=5_000,
        ge=0,
        description="Users whose last item is held out to pick the epoch by NDCG@10; "
        "0: no validation, train every epoch on everything.",
    )


class SequentialRecommender(MemoisedTopN, TorchRecommender[C]):
    """Next-item models over each user's positive items in time order.

    The module maps a token matrix (``batch x length``, padded on ``padding_side``) to one
    hidden state per position; an item's score is that state's dot product with the item's
    embedding (``module.items``, tied input and output). Serving reads the last state, from
    the request's ``sequences`` when given, else the sequence the model saw in training (or,
    for a user the model never saw, the items of the request ``history`` in index order).
    """

    uses_sequence = True
    uses_history = True  # only read when no sequence is given (order then unknown)
    supports_similar_items = True
    padding_side: ClassVar[Literal["left", "right"]] = "left"

    trained: Ragged | None = None
    best_epoch: int | None = None

    # -- what each network defines ------------------------------------------------------------

    def _training_sequences(self, sequences: Ragged) -> list[np.ndarray]:
        """The sequences to learn transitions from (default: each user's whole sequence)."""
        return [row for row in sequences.rows() if len(row) >= 2]

    # -- training ------------------------------------------------------------------------------

    def _fit(self, data: Dataset) -> None:
        import torch

        cfg: SequentialConfig = self.config  # type: ignore[assignment]
        rng = seed_everything(cfg.seed, cfg.threads)
        sequences = user_sequences(data)
        train, valid_users, valid_targets = holdout_last(sequences, cfg.validation_users, rng)
        train_windows = windows(self._training_sequences(train), cfg.max_len)
        device = self.device
        self.module = self.build_module().to(device)
        valid_inputs = train.tails(cfg.max_len)
        valid_rows = [valid_inputs.row(u) for u in valid_users]
        valid_seen = [train.row(u) for u in valid_users]  # left out of the ranking

        def batches(epoch_rng: np.random.Generator) -> Iterator[tuple[Any, Any]]:
            for inputs, targets in next_item_batches(
                train_windows, cfg.batch_size, self.padding_side, epoch_rng
            ):
                yield torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device)

        def validate(module: Any) -> float:
            scores = self._scores_of(module, valid_rows)
            return ndcg_of_targets(scores, valid_targets, valid_seen, k=10)

        trainer = Trainer(cfg)
        trainer.fit(
            self.module,
            batches,
            self._loss,
            validate if len(valid_users) else None,
            rng=rng,
            n_batches=math.ceil(len(train_windows) / cfg.batch_size),
        )
        self.history, self.best_epoch = trainer.history, trainer.best_epoch
        tails = sequences.tails(cfg.max_len)
        self.trained = Ragged(tails.indptr, tails.values)  # times are not kept

    def _loss(self, module: Any, batch: tuple[Any, Any]) -> Any:
        import torch
        import torch.nn.functional as F

        cfg: SequentialConfig = self.config  # type: ignore[assignment]
        inputs, targets = batch
        hidden = module(inputs)
        mask = targets != PAD
        states, wanted = hidden[mask], targets[mask]  # (N, d), tokens 1..n_items
        weights = module.items.weight
        full = cfg.loss == "softmax" or (cfg.loss == "auto" and self.n_items <= FULL_SOFTMAX_ITEMS)
        if full:
            logits = states @ weights[1:].T
            return F.cross_entropy(logits, wanted - 1)
        negatives = torch.randint(1, weights.shape[0], (cfg.negatives,), device=states.device)
        positive = (states * weights[wanted]).sum(-1, keepdim=True)
        negative = states @ weights[negatives].T
        negative = negative.masked_fill(negatives[None, :] == wanted[:, None], -torch.inf)
        logits = torch.cat([positive, negative], dim=1)
        first = torch.zeros(len(wanted), dtype=torch.long, device=states.device)
        return F.cross_entropy(logits, first)  # the positive is column 0

    # -- serving -------------------------------------------------------------------------------

    def _last_states(self, module: Any, tokens: Any) -> Any:
        import torch

        hidden = module(tokens)
        if self.padding_side == "left":
            return hidden[:, -1]
        last = (tokens != PAD).sum(dim=1) - 1
        return hidden[torch.arange(len(tokens), device=tokens.device), last]

    def _scores_of(self, module: Any, rows: Sequence[np.ndarray]) -> np.ndarray:
        """Scores over the catalogue after each (non-empty) item sequence in ``rows``."""
        import torch

        out = np.zeros((len(rows), self.n_items), dtype=np.float32)
        weights = module.items.weight[1:]
        with torch.inference_mode():
            for start in range(0, len(rows), SCORE_CHUNK):
                chunk = rows[start : start + SCORE_CHUNK]
                tokens = torch.from_numpy(pad(chunk, self.padding_side))
                states = self._last_states(module, tokens.to(weights.device))
                out[start : start + len(chunk)] = (states @ weights.T).float().cpu().numpy()
        return out

    def _inputs(
        self, users: np.ndarray, history: sp.csr_matrix, sequences: Sequence[np.ndarray] | None
    ) -> list[np.ndarray]:
        """The item sequence each requested user is served from (empty: nothing to go on)."""
        assert self.trained is not None
        cfg: SequentialConfig = self.config  # type: ignore[assignment]
        rows = []
        for r, user in enumerate(users):
            seq = np.empty(0, np.int64)
            if sequences is not None:
                seq = np.asarray(sequences[r], dtype=np.int64)
                seq = seq[(seq >= 0) & (seq < self.n_items)]
            if not len(seq) and 0 <= user < len(self.trained):
                seq = self.trained.row(int(user))
            if not len(seq):
                seq = history.indices[history.indptr[r] : history.indptr[r + 1]].astype(np.int64)
            rows.append(seq[-cfg.max_len :])
        return rows

    def has_signal(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None = None,
        sequences: Sequence[np.ndarray] | None = None,
    ) -> np.ndarray:
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        history = self._history(users, history)
        return np.array([len(s) > 0 for s in self._inputs(users, history, sequences)], dtype=bool)

    def _score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self._score_sequences(users, history, None)

    def _score_sequences(
        self, users: np.ndarray, history: sp.csr_matrix, sequences: Sequence[np.ndarray] | None
    ) -> np.ndarray:
        rows = self._inputs(users, history, sequences)
        scores = np.zeros((len(users), self.n_items), dtype=np.float32)
        with_signal = [r for r, seq in enumerate(rows) if len(seq)]
        if with_signal:
            self.module.eval()
            scores[with_signal] = self._scores_of(self.module, [rows[r] for r in with_signal])
        return scores

    def similar_items(self, items: np.ndarray, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarity of the learned item embeddings."""
        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        vectors = self.module.items.weight[1:].detach().float().cpu().numpy()
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        valid = (items >= 0) & (items < self.n_items)
        sims = np.full((len(items), self.n_items), -np.inf, dtype=np.float32)
        sims[valid] = vectors[items[valid]] @ vectors.T
        sims[np.flatnonzero(valid), items[valid]] = -np.inf
        return top_n(sims, n)

    # -- persistence ---------------------------------------------------------------------------

    def _extra_state(self) -> dict[str, np.ndarray]:
        assert self.trained is not None
        return {"sequences.indptr": self.trained.indptr, "sequences.items": self.trained.values}

    def _restore_extra(self, arrays: dict[str, np.ndarray]) -> None:
        self.trained = Ragged(
            arrays["sequences.indptr"].astype(np.int64), arrays["sequences.items"].astype(np.int64)
        )
