"""What the sequential models (SASRec, GRU4Rec) share: users' positive items in time order,
sessions, training windows, padded batches, the last-item validation slice, and one base
class that serves from a request-time sequence.

Item indices are shifted by one inside the networks: ``0`` is padding, item ``i`` is token
``i + 1``. Nothing here imports torch at module level (see ``recserve.algorithms``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from recserve.algorithms.base import C, top_n
from recserve.algorithms.candidate_search import IndexedTopN
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


def session_cuts(sequences: Ragged, gap_seconds: float | None) -> Ragged:
    """The same events cut into sessions: a new row wherever two consecutive events of a
    sequence are more than ``gap_seconds`` apart (None: one row per sequence). Empty rows
    are dropped; times travel along."""
    starts = np.zeros(len(sequences.values), dtype=bool)
    starts[sequences.indptr[:-1][sequences.lengths > 0]] = True
    if gap_seconds is not None and sequences.times is not None and len(sequences.values):
        starts[1:] |= np.diff(sequences.times) > gap_seconds
    indptr = np.r_[np.flatnonzero(starts), len(sequences.values)].astype(np.int64)
    return Ragged(indptr, sequences.values, sequences.times)


def window_positions(
    sequences: Ragged, max_len: int, side: Literal["left", "right"] = "right"
) -> np.ndarray:
    """Training windows of at most ``max_len + 1`` items (``max_len`` inputs, each followed by
    its target), as a ``windows x (max_len + 1)`` matrix of positions into
    ``sequences.values`` (``-1``: padding on ``side``). A long sequence is cut from its end
    into windows that overlap by one item, so every transition is learned once; sequences
    shorter than two items teach nothing. Built with array operations, no loop per row."""
    lengths = sequences.lengths
    rows = np.flatnonzero(lengths >= 2)
    n = lengths[rows]
    count = 1 + np.maximum(0, -(-(n - max_len - 1) // max_len))  # windows per row
    row = np.repeat(rows, count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    end = np.repeat(n, count) - k * max_len
    start = np.maximum(0, end - max_len - 1)
    length = end - start
    width = max_len + 1
    column = np.arange(width)[None, :]
    offset = column if side == "right" else column - (width - length)[:, None]
    positions = (sequences.indptr[row] + start)[:, None] + offset
    return np.where((offset >= 0) & (offset < length[:, None]), positions, -1)


def next_item_pairs(block: Any) -> tuple[Any, Any]:
    """Inputs and next-item targets of a block of padded windows (tokens, ``PAD`` = 0), on
    either padding side: a position counts only where its input and its target are both
    items, so a window's last item is no input and, padded on the left, the padding before
    its first item predicts nothing."""
    inputs, targets = block[:, :-1], block[:, 1:]
    both = (inputs != PAD) & (targets != PAD)
    return inputs * both, targets * both


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


def pad_times(
    times: Sequence[np.ndarray | None], length: int, side: Literal["left", "right"]
) -> Any:
    """A float tensor of event times laid out like :func:`pad`'s tokens (zeros as padding),
    or None when no row has times: a request's sequence carries none, and a network that
    reads times then serves without them, as it learned to with ``time_dropout``."""
    import torch

    if all(t is None for t in times):
        return None
    out = np.zeros((len(times), length), dtype=np.float64)
    for r, row in enumerate(times):
        if row is not None and len(row):
            row = np.asarray(row, dtype=np.float64)[-length:]
            if side == "left":
                out[r, length - len(row) :] = row
            else:
                out[r, : len(row)] = row
    return torch.from_numpy(out)


@dataclass(frozen=True)
class WindowBatch:
    """One training batch: input and target token matrices (targets are the inputs shifted
    by one step, ``PAD`` where there is nothing to predict) and the inputs' event times."""

    inputs: Any
    targets: Any
    times: Any | None = None


def batch_rows(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, bucket_batches: int = 32
) -> list[np.ndarray]:
    """One epoch's batches, as arrays of row indices: rows of similar length are batched
    together (within random pools of ``bucket_batches`` batches), so each batch can be cut
    to its own longest row and little time goes on padding; the batch order is shuffled."""
    order = rng.permutation(len(lengths))
    pool = np.arange(len(order)) // (batch_size * bucket_batches)
    order = order[np.lexsort((lengths[order], pool))]
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [groups[g] for g in rng.permutation(len(groups))]


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
        description="Cross-entropy over the whole catalogue (softmax), or against shared "
        "negatives drawn by popularity with logQ correction (sampled_softmax); auto: softmax "
        f"up to {FULL_SOFTMAX_ITEMS:,} items.",
    )
    negatives: int = Field(default=1024, ge=1, description="Shared negatives of sampled_softmax.")
    validation_users: int = Field(
        default=5_000,
        ge=0,
        description="Users whose last item is held out to pick the epoch by NDCG@10; "
        "0: no validation, train every epoch on everything.",
    )


class SequentialRecommender(MemoisedTopN, IndexedTopN, TorchRecommender[C]):
    """Next-item models over each user's positive items in time order.

    The module maps a token matrix (``batch x length``, padded on ``padding_side``) to one
    hidden state per position; an item's score is that state's dot product with the item's
    embedding (``module.items``, tied input and output). Serving reads the last state, from
    the request's ``sequences`` when given, else the sequence the model saw in training (or,
    for a user the model never saw, the items of the request ``history`` in index order).
    That state is the query of a candidate index over the item embeddings when serving
    attaches one (``IndexedTopN``, above ``ann_min_items``); a user's list is memoised.
    """

    uses_sequence = True
    uses_history = True  # only read when no sequence is given (order then unknown)
    supports_similar_items = True
    padding_side: ClassVar[Literal["left", "right"]] = "left"
    uses_times: ClassVar[bool] = False  # the network reads event times (kept for serving)

    trained: Ragged | None = None
    _log_q: Any = None  # the negative sampler's log-probabilities, during training only
    best_epoch: int | None = None

    # -- what each network defines ------------------------------------------------------------

    def _training_sequences(self, sequences: Ragged) -> Ragged:
        """The sequences to learn transitions from (default: each user's whole sequence)."""
        return sequences

    def _hidden(self, module: Any, tokens: Any, times: Any | None) -> Any:
        """One hidden state per position; ``times`` (seconds, aligned with ``tokens``, or None
        when unknown) matter only to networks that read them (HSTU)."""
        return module(tokens)

    # -- training ------------------------------------------------------------------------------

    def _fit(self, data: Dataset) -> None:

        cfg: SequentialConfig = self.config  # type: ignore[assignment]
        rng = seed_everything(cfg.seed, cfg.threads)
        sequences = user_sequences(data)
        train, valid_users, valid_targets = holdout_last(sequences, cfg.validation_users, rng)
        source = self._training_sequences(train)
        device = self.device
        self.module = self.build_module().to(device)
        batches, n_batches = self._window_batches(source, device)
        self._log_q = self._sampling_log_probabilities(source.values, device)
        valid_inputs = train.tails(cfg.max_len)
        valid_rows = [valid_inputs.row(u) for u in valid_users]
        valid_times = (
            None
            if valid_inputs.times is None
            else [
                valid_inputs.times[valid_inputs.indptr[u] : valid_inputs.indptr[u + 1]]
                for u in valid_users
            ]
        )
        valid_seen = [train.row(u) for u in valid_users]  # left out of the ranking

        def validate(module: Any) -> float:
            scores = self._scores_of(module, valid_rows, valid_times)
            return ndcg_of_targets(scores, valid_targets, valid_seen, k=10)

        trainer = Trainer(cfg)
        try:
            trainer.fit(
                self.module,
                batches,
                self._loss,
                validate if len(valid_users) else None,
                rng=rng,
                n_batches=n_batches,
            )
        finally:
            self._log_q = None
        self.history, self.best_epoch = trainer.history, trainer.best_epoch
        tails = sequences.tails(cfg.max_len)
        self.trained = Ragged(tails.indptr, tails.values, tails.times if self.uses_times else None)

    def _window_batches(
        self, source: Ragged, device: Any
    ) -> tuple[Callable[[np.random.Generator], Iterator[WindowBatch]], int]:
        """Every training window padded once into one tensor (times beside it when the
        network reads them); an epoch is then a shuffled list of row-index batches, each cut
        to its longest window: no Python work per window."""
        import torch

        cfg: SequentialConfig = self.config  # type: ignore[assignment]
        positions = window_positions(source, cfg.max_len, self.padding_side)
        real = positions >= 0
        lengths = real.sum(axis=1)
        tokens = torch.from_numpy(np.where(real, source.values[positions] + 1, PAD)).to(device)
        times = None
        if self.uses_times and source.times is not None:
            times = torch.from_numpy(np.where(real, source.times[positions], 0.0)).to(device)
        width = positions.shape[1]

        def batches(epoch_rng: np.random.Generator) -> Iterator[WindowBatch]:
            for rows in batch_rows(lengths, cfg.batch_size, epoch_rng):
                longest = int(lengths[rows].max())
                cols = (
                    slice(0, longest)
                    if self.padding_side == "right"
                    else slice(width - longest, width)
                )
                index = torch.from_numpy(rows).to(device)
                inputs, targets = next_item_pairs(tokens[index, cols])
                yield WindowBatch(
                    inputs, targets, None if times is None else times[index, cols][:, :-1]
                )

        return batches, math.ceil(len(lengths) / cfg.batch_size)

    def _sampling_log_probabilities(self, items: np.ndarray, device: Any) -> Any:
        """log q of the negative sampler: items in proportion to their training count (plus
        one, so every item is drawn now and then); None when the loss is a full softmax."""
        import torch

        if self._full_softmax():
            return None
        counts = np.bincount(items, minlength=self.n_items).astype(np.float64) + 1.0
        return torch.from_numpy(np.log(counts / counts.sum())).float().to(device)

    def _full_softmax(self) -> bool:
        cfg: SequentialConfig = self.config  # type: ignore[assignment]
        return cfg.loss == "softmax" or (cfg.loss == "auto" and self.n_items <= FULL_SOFTMAX_ITEMS)

    def _loss(self, module: Any, batch: WindowBatch) -> Any:
        import torch
        import torch.nn.functional as F

        cfg: SequentialConfig = self.config  # type: ignore[assignment]
        hidden = self._hidden(module, batch.inputs, batch.times)
        mask = batch.targets != PAD
        states, wanted = hidden[mask], batch.targets[mask]  # (N, d), tokens 1..n_items
        weights = module.items.weight
        if self._log_q is None:
            logits = states @ weights[1:].T.to(states.dtype)
            return F.cross_entropy(logits.float(), wanted - 1)
        # sampled softmax: shared negatives drawn by popularity, each logit corrected by the
        # log of its expected count in the sample (logQ), so the estimate is unbiased
        log_q = self._log_q
        drawn = torch.multinomial(log_q.exp(), cfg.negatives, replacement=True)
        correction = math.log(cfg.negatives)
        positive = (states * weights[wanted].to(states.dtype)).sum(-1, keepdim=True).float()
        positive = positive - (log_q[wanted - 1] + correction)[:, None]
        negative = (states @ weights[drawn + 1].T.to(states.dtype)).float()
        negative = negative - (log_q[drawn] + correction)[None, :]
        negative = negative.masked_fill(drawn[None, :] + 1 == wanted[:, None], -torch.inf)
        logits = torch.cat([positive, negative], dim=1)
        first = torch.zeros(len(wanted), dtype=torch.long, device=states.device)
        return F.cross_entropy(logits, first)  # the positive is column 0

    # -- serving -------------------------------------------------------------------------------

    def _last_states(self, module: Any, tokens: Any, times: Any | None = None) -> Any:
        import torch

        hidden = self._hidden(module, tokens, times)
        if self.padding_side == "left":
            return hidden[:, -1]
        last = (tokens != PAD).sum(dim=1) - 1
        return hidden[torch.arange(len(tokens), device=tokens.device), last]

    def _state_chunks(
        self,
        module: Any,
        rows: Sequence[np.ndarray],
        times: Sequence[np.ndarray | None] | None,
    ) -> Iterator[tuple[int, Any]]:
        """(first row, last hidden states) per chunk of ``SCORE_CHUNK`` non-empty sequences,
        on the module's device; the caller holds ``torch.inference_mode``."""
        import torch

        device = module.items.weight.device
        for start in range(0, len(rows), SCORE_CHUNK):
            chunk = rows[start : start + SCORE_CHUNK]
            tokens = torch.from_numpy(pad(chunk, self.padding_side)).to(device)
            chunk_times = None
            if self.uses_times and times is not None:
                chunk_times = pad_times(
                    times[start : start + SCORE_CHUNK], tokens.shape[1], self.padding_side
                )
                chunk_times = None if chunk_times is None else chunk_times.to(device)
            yield start, self._last_states(module, tokens, chunk_times)

    def _scores_of(
        self,
        module: Any,
        rows: Sequence[np.ndarray],
        times: Sequence[np.ndarray | None] | None = None,
    ) -> np.ndarray:
        """Scores over the catalogue after each (non-empty) item sequence in ``rows``
        (``times``: each row's event times, or None where unknown)."""
        import torch

        out = np.zeros((len(rows), self.n_items), dtype=np.float32)
        weights = module.items.weight[1:]
        with torch.inference_mode():
            for start, states in self._state_chunks(module, rows, times):
                out[start : start + len(states)] = (states @ weights.T).float().cpu().numpy()
        return out

    def _inputs(
        self, users: np.ndarray, history: sp.csr_matrix, sequences: Sequence[np.ndarray] | None
    ) -> list[np.ndarray]:
        return self._inputs_with_times(users, history, sequences)[0]

    def _inputs_with_times(
        self, users: np.ndarray, history: sp.csr_matrix, sequences: Sequence[np.ndarray] | None
    ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
        """The item sequence each requested user is served from (empty: nothing to go on),
        and its event times where known (only for the sequence the model saw in training:
        a request's sequence carries no times)."""
        assert self.trained is not None
        cfg: SequentialConfig = self.config  # type: ignore[assignment]
        rows: list[np.ndarray] = []
        times: list[np.ndarray | None] = []
        for r, user in enumerate(users):
            seq, when = np.empty(0, np.int64), None
            if sequences is not None:
                seq = np.asarray(sequences[r], dtype=np.int64)
                seq = seq[(seq >= 0) & (seq < self.n_items)]
            if not len(seq) and 0 <= user < len(self.trained):
                seq = self.trained.row(int(user))
                if self.trained.times is not None:
                    when = self.trained.times[
                        self.trained.indptr[user] : self.trained.indptr[user + 1]
                    ][-cfg.max_len :]
            if not len(seq):
                seq = history.indices[history.indptr[r] : history.indptr[r + 1]].astype(np.int64)
            rows.append(seq[-cfg.max_len :])
            times.append(when)
        return rows, times

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
        rows, times = self._inputs_with_times(users, history, sequences)
        scores = np.zeros((len(users), self.n_items), dtype=np.float32)
        with_signal = [r for r, seq in enumerate(rows) if len(seq)]
        if with_signal:
            if self.module.training:  # eval() walks every submodule: not once per request
                self.module.eval()
            scores[with_signal] = self._scores_of(
                self.module, [rows[r] for r in with_signal], [times[r] for r in with_signal]
            )
        return scores

    # -- retrieval (algorithms/candidate_search.py) -----------------------------------------

    def retrieval_vectors(self) -> np.ndarray:
        """The item embeddings scores are inner products with, as float32 (kept)."""
        table = self.__dict__.get("_retrieval_table")
        if table is None:
            weights = self.module.items.weight[1:].detach().float().cpu().numpy()
            table = self.__dict__.setdefault("_retrieval_table", np.ascontiguousarray(weights))
        return table

    def retrieval_query(
        self,
        users: np.ndarray,
        history: sp.csr_matrix | None,
        sequences: Sequence[np.ndarray] | None,
    ) -> np.ndarray | None:
        """One request's last hidden state; None when it has no sequence to go on."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        rows, times = self._inputs_with_times(users, self._history(users, history), sequences)
        if not len(rows[0]):
            return None
        return self._states_of(rows, times)[0]

    def calibration_queries(self, size: int) -> np.ndarray:
        """Last hidden states of up to ``size`` trained users (a fixed sample), as serving
        computes them: the queries a candidate index's ``nprobe`` is calibrated on."""
        assert self.trained is not None
        users = np.flatnonzero(np.diff(self.trained.indptr) > 0)
        if len(users) > size:
            users = np.sort(np.random.default_rng(0).choice(users, size, replace=False))
        empty = sp.csr_matrix((len(users), self.n_items), dtype=np.float32)
        rows, times = self._inputs_with_times(users.astype(np.int64), empty, None)
        return self._states_of(rows, times)

    def _states_of(
        self, rows: Sequence[np.ndarray], times: Sequence[np.ndarray | None]
    ) -> np.ndarray:
        """The last hidden state after each non-empty sequence of ``rows``, as float32."""
        import torch

        if self.module.training:
            self.module.eval()
        dim = self.retrieval_vectors().shape[1]
        out = np.empty((len(rows), dim), dtype=np.float32)
        with torch.inference_mode():
            for start, states in self._state_chunks(self.module, rows, times):
                out[start : start + len(states)] = states.float().cpu().numpy()
        return out

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
        state = {"sequences.indptr": self.trained.indptr, "sequences.items": self.trained.values}
        if self.trained.times is not None:
            state["sequences.times"] = self.trained.times
        return state

    def _restore_extra(self, arrays: dict[str, np.ndarray]) -> None:
        times = arrays.get("sequences.times")
        self.trained = Ragged(
            arrays["sequences.indptr"].astype(np.int64),
            arrays["sequences.items"].astype(np.int64),
            None if times is None else times.astype(np.float64),
        )
