"""HSTU: a generative recommender of hierarchical sequential transduction units (Zhai et al.,
"Actions Speak Louder than Words", ICML 2024; facebookresearch/generative-recommenders).

Like SASRec it reads each user's positive items in time order and scores the next item by
the dot product of the last state with every item's embedding, but each block is one
HSTU layer instead of attention plus feed-forward:

* one projection gives four SiLU-activated parts ``u, v, q, k``;
* pointwise aggregated attention: ``SiLU(q·k + bias) / max_len`` over the causal past,
  with no softmax, so the weights are not forced to sum to one (how much history there
  is stays visible to the model);
* the bias is learned per relative position and per time bucket: ``log2`` of the gap
  between two events' timestamps, as the reference implementation buckets it;
* the output is ``LayerNorm(attention) * u`` (the gate), projected back and added.

Times are part of the sequence in training and when serving a user the model saw in
training; a request's live sequence carries item ids only, so with ``time_dropout`` the
network also learns to do without the time bias, which it then leaves out. The loss is
the shared one: full softmax on small catalogues, sampled softmax (shared popularity
negatives, logQ-corrected) above ``FULL_SOFTMAX_ITEMS`` or when ``loss`` says so.

Sizes come as presets (``size``: tiny for tests and CPU demos up to large for a GPU);
fields given explicitly win over the preset.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

from pydantic import Field, model_validator

from recserve.algorithms.neural.sequences import SequentialConfig, SequentialRecommender

# (embedding_dim, blocks, heads) per size; "small" is the default, tuned on MovieLens 100K
SIZES: dict[str, tuple[int, int, int]] = {
    "tiny": (16, 1, 1),
    "small": (64, 2, 1),
    "medium": (128, 4, 2),
    "large": (256, 8, 4),
}
TIME_BUCKETS = 64  # log2 buckets of seconds: 2**63 s covers any gap


class HSTUConfig(SequentialConfig):
    size: Literal["tiny", "small", "medium", "large"] = Field(
        default="small",
        description="Preset of embedding_dim, blocks and heads: tiny 16/1/1, small 64/2/1, "
        "medium 128/4/2, large 256/8/4 (large wants a GPU).",
    )
    embedding_dim: int = Field(default=64, ge=2, le=4096, description="Hidden size.")
    blocks: int = Field(default=2, ge=1, le=48, description="HSTU layers.")
    heads: int = Field(default=1, ge=1, le=64, description="Attention heads per layer.")
    max_len: int = Field(default=200, ge=1, le=4096, description="Most recent items read.")
    dropout: float = Field(default=0.3, ge=0.0, lt=1.0)
    time_bias: bool = Field(default=True, description="Bias attention by time-gap bucket.")
    time_dropout: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Share of training windows seen without times, so that a request's "
        "sequence (item ids only) is served well too.",
    )
    learning_rate: float = Field(default=2e-3, gt=0, le=1.0)  # SASRec's training settings
    epochs: int = Field(default=200, ge=1, le=1000)
    batch_size: int = Field(default=64, ge=1, le=65_536)
    patience: int = Field(default=8, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _fill_in_the_size(cls, data: Any) -> Any:
        if isinstance(data, dict):
            dim, blocks, heads = SIZES.get(data.get("size", "small"), SIZES["small"])
            data = {"embedding_dim": dim, "blocks": blocks, "heads": heads, **data}
        return data

    @model_validator(mode="after")
    def _heads_divide_the_hidden_size(self) -> HSTUConfig:
        if self.embedding_dim % self.heads:
            raise ValueError(f"embedding_dim ({self.embedding_dim}) must be a multiple of heads")
        return self

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {
            "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
            "blocks": trial.suggest_int("blocks", 1, 4),
            "dropout": trial.suggest_float("dropout", 0.1, 0.6),
            "max_len": trial.suggest_categorical("max_len", [50, 100, 200]),
            "time_bias": trial.suggest_categorical("time_bias", [True, False]),
            "learning_rate": trial.suggest_float("learning_rate", 5e-4, 5e-3, log=True),
        }


@functools.cache
def _network() -> type:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class HSTULayer(nn.Module):
        """One hierarchical sequential transduction unit (pre-norm, residual)."""

        def __init__(self, hidden: int, heads: int, dropout: float, max_len: int):
            super().__init__()
            self.heads, self.max_len = heads, max_len
            self.norm = nn.LayerNorm(hidden)
            self.uvqk = nn.Linear(hidden, 4 * hidden)
            self.attention_norm = nn.LayerNorm(hidden)
            self.out = nn.Linear(hidden, hidden)
            self.drop = nn.Dropout(dropout)

        def forward(self, x: torch.Tensor, bias: torch.Tensor, allowed: torch.Tensor) -> Any:
            batch, length, hidden = x.shape
            u, v, q, k = F.silu(self.uvqk(self.norm(x))).chunk(4, dim=-1)
            shape = (batch, length, self.heads, hidden // self.heads)
            q, k, v = (t.reshape(shape).transpose(1, 2) for t in (q, k, v))
            weights = F.silu(q @ k.transpose(-1, -2) + bias) * allowed / self.max_len
            attended = (weights @ v).transpose(1, 2).reshape(batch, length, hidden)
            return x + self.out(self.drop(self.attention_norm(attended) * u))

    class HSTUNet(nn.Module):
        """Token matrix (left-padded with 0) and optional event times -> one state per
        position."""

        def __init__(
            self,
            n_items: int,
            hidden: int,
            blocks: int,
            heads: int,
            dropout: float,
            max_len: int,
            time_bias: bool,
        ):
            super().__init__()
            self.scale, self.max_len = math.sqrt(hidden), max_len
            self.items = nn.Embedding(n_items + 1, hidden, padding_idx=0)
            self.positions = nn.Embedding(max_len, hidden)  # 0: the most recent item
            self.position_bias = nn.Parameter(torch.zeros(max_len))  # by distance back
            self.time_bias = nn.Parameter(torch.zeros(TIME_BUCKETS)) if time_bias else None
            self.drop = nn.Dropout(dropout)
            self.layers = nn.ModuleList(
                HSTULayer(hidden, heads, dropout, max_len) for _ in range(blocks)
            )
            self.norm = nn.LayerNorm(hidden)
            nn.init.normal_(self.items.weight, std=hidden**-0.5)
            nn.init.normal_(self.positions.weight, std=0.02)
            with torch.no_grad():
                self.items.weight[0].zero_()

        def attention_bias(self, length: int, times: torch.Tensor | None, device: Any) -> Any:
            """Relative-position bias, plus the time-gap bucket's bias where times are known
            (rows of ``times`` that are all zero are windows seen without times)."""
            steps = torch.arange(length, device=device)
            distance = (steps[:, None] - steps[None, :]).clamp(0, self.max_len - 1)
            bias = self.position_bias[distance][None]  # (1, L, L)
            if self.time_bias is not None and times is not None:
                gap = (times[:, :, None] - times[:, None, :]).abs().clamp(min=1.0)
                bucket = torch.log2(gap).long().clamp(0, TIME_BUCKETS - 1)
                known = (times != 0).any(dim=1)[:, None, None]
                bias = bias + self.time_bias[bucket] * known
            return bias[:, None]  # broadcast over heads

        def forward(self, tokens: torch.Tensor, times: torch.Tensor | None = None) -> Any:
            length = tokens.shape[1]
            real = tokens != 0
            back = torch.arange(length - 1, -1, -1, device=tokens.device)
            x = self.items(tokens) * self.scale + self.positions(back)
            x = self.drop(x) * real.unsqueeze(-1)
            causal = torch.ones(length, length, dtype=torch.bool, device=tokens.device).tril()
            allowed = (causal & real[:, None, :] & real[:, :, None])[:, None]
            bias = self.attention_bias(length, times, tokens.device).to(x.dtype)
            for layer in self.layers:
                x = layer(x, bias, allowed) * real.unsqueeze(-1)
            return self.norm(x)

    return HSTUNet


class HSTU(SequentialRecommender[HSTUConfig]):
    """Pointwise-attention generative recommender over the user's recent items and their
    times; see the module docstring."""

    family = "hstu"
    config_class = HSTUConfig
    padding_side = "left"
    uses_times = True

    def build_module(self) -> Any:
        cfg = self.config
        return _network()(
            self.n_items,
            cfg.embedding_dim,
            cfg.blocks,
            cfg.heads,
            cfg.dropout,
            cfg.max_len,
            cfg.time_bias,
        )

    def _hidden(self, module: Any, tokens: Any, times: Any | None) -> Any:
        import torch

        cfg = self.config
        if times is not None and (not cfg.time_bias or not len(times)):
            times = None
        if times is not None and module.training and cfg.time_dropout > 0:
            keep = torch.rand(len(times), device=times.device) >= cfg.time_dropout
            times = times * keep[:, None]
        if times is not None:
            # gaps are what counts: measure from each row's first time, in float32 seconds
            first = torch.where(times != 0, times, torch.inf).min(dim=1, keepdim=True).values
            times = torch.where(times != 0, times - first.nan_to_num(posinf=0.0) + 1.0, 0.0)
            times = times.float()
        return module(tokens, times)
