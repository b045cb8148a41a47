"""GRU4Rec: session-based recommendation with a recurrent network (Hidasi et al., ICLR 2016).

Item embedding -> GRU -> a projection back to the embedding space, whose dot product with
every item's embedding scores the next item, trained with cross-entropy over the
catalogue (full softmax by default, as in GRU4Rec's later cross-entropy variant; sampled
softmax for large catalogues).

Training sequences are sessions: each user's positive items in time order, cut wherever
two events are more than ``session_gap_minutes`` apart (the data set carries no session
ids). Serving runs the GRU over the last ``max_len`` items of the request's sequence, so
an anonymous session is served from its own events alone; a known user with no sequence
gets their most recent items from training.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import Field

from recserve.algorithms.neural.sequences import (
    Ragged,
    SequentialConfig,
    SequentialRecommender,
    session_cuts,
)


class GRU4RecConfig(SequentialConfig):
    max_len: int = Field(default=50, ge=1, le=4096, description="Most recent items read.")
    embedding_dim: int = Field(default=64, ge=2, le=4096)
    hidden_size: int = Field(default=128, ge=2, le=4096, description="GRU state size.")
    layers: int = Field(default=1, ge=1, le=8, description="Stacked GRU layers.")
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    session_gap_minutes: float | None = Field(
        default=None,
        gt=0,
        description="A pause longer than this starts a new session; None: one per user "
        "(the better choice on MovieLens, whose rating bursts are not sessions).",
    )
    learning_rate: float = Field(default=2e-3, gt=0, le=1.0)
    epochs: int = Field(default=100, ge=1, le=1000)
    batch_size: int = Field(default=64, ge=1, le=65_536)
    patience: int = Field(default=8, ge=1)

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "hidden_size": trial.suggest_categorical("hidden_size", [64, 128, 256]),
            "dropout": trial.suggest_float("dropout", 0.0, 0.5),
            "session_gap_minutes": trial.suggest_categorical(
                "session_gap_minutes", [None, 30.0, 24 * 60.0]
            ),
            "learning_rate": trial.suggest_float("learning_rate", 3e-4, 3e-3, log=True),
        }


@functools.cache
def _network() -> type:
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class GRU4RecNet(nn.Module):
        """Token matrix (right-padded with 0) -> one state per position, in item space."""

        def __init__(self, n_items: int, dim: int, hidden: int, layers: int, dropout: float):
            super().__init__()
            self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)
            self.drop = nn.Dropout(dropout)
            self.gru = nn.GRU(
                dim, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
            )
            self.project = nn.Linear(hidden, dim)
            nn.init.normal_(self.items.weight, std=dim**-0.5)
            with torch.no_grad():
                self.items.weight[0].zero_()

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            lengths = (tokens != 0).sum(dim=1).clamp(min=1).cpu()
            packed = pack_padded_sequence(
                self.drop(self.items(tokens)), lengths, batch_first=True, enforce_sorted=False
            )
            states, _ = self.gru(packed)
            states, _ = pad_packed_sequence(states, batch_first=True, total_length=tokens.shape[1])
            return self.project(self.drop(states))

    return GRU4RecNet


class GRU4Rec(SequentialRecommender[GRU4RecConfig]):
    """A session GRU over the user's recent items; see the module docstring."""

    family = "gru4rec"
    config_class = GRU4RecConfig
    padding_side = "right"

    def _training_sequences(self, sequences: Ragged) -> Ragged:
        gap = self.config.session_gap_minutes
        return session_cuts(sequences, None if gap is None else gap * 60.0)

    def build_module(self) -> Any:
        cfg = self.config
        return _network()(self.n_items, cfg.embedding_dim, cfg.hidden_size, cfg.layers, cfg.dropout)
