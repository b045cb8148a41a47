"""The training loop every neural model shares: seeded, early-stopped, logged, bounded.

* Deterministic on the CPU for a given seed (torch, numpy and the batch order are seeded;
  deterministic algorithms are requested).
* Early stopping on a validation score computed by the model (higher is better); the best
  epoch's weights are restored at the end.
* Per-epoch metrics go to the log and to ``Trainer.history``; a tqdm bar when asked.
* Runs on a GPU when ``device`` is "cuda" or "auto" and one is present, under bfloat16
  autocast (``bf16``); the weights stay float32, so a model trained on a GPU is saved as
  plain float arrays and loads on a CPU-only replica (see ``TorchRecommender``).
* Memory stays bounded: batches are produced lazily by the model, never all at once.
* Time can be bounded too (``time_limit_seconds``): training stops, keeping the best epoch,
  when the next epoch would end past the limit, or mid-epoch when the limit has passed.
  The model search gives each neural trial its share of the budget this way.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field

from recserve.algorithms.base import ModelConfig

log = logging.getLogger(__name__)


# torch's text when an op without a deterministic implementation runs under warn_only
NONDETERMINISTIC_WARNING = r".*does not have a deterministic implementation.*"


class NeuralConfig(ModelConfig):
    """Options every neural model shares; models add their architecture fields."""

    epochs: int = Field(default=30, ge=1, le=1000)
    batch_size: int = Field(default=256, ge=1, le=65_536)
    learning_rate: float = Field(default=1e-3, gt=0, le=1.0)
    weight_decay: float = Field(default=0.0, ge=0, le=1.0)
    patience: int = Field(
        default=3, ge=1, description="Epochs without improvement before stopping."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        description="Where to train: auto takes CUDA when present; a model saved from a GPU "
        "serves on the CPU where no GPU is.",
    )
    bf16: bool = Field(
        default=True, description="bfloat16 autocast when training on CUDA (the CPU keeps fp32)."
    )
    threads: int = Field(default=2, ge=1, le=256, description="CPU threads for torch.")
    progress: bool = Field(default=False, description="Show a progress bar per epoch.")
    time_limit_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Stop training (keeping the best epoch) when the next epoch would end "
        "past this many seconds from the start of training, or mid-epoch once they have "
        "passed; None: no limit. The model search sets it from its budget.",
    )


def resolve_device(name: str, fall_back_to_cpu: bool = False) -> Any:
    """The torch device for a ``device`` setting. Training on "cuda" without a GPU is an
    error; serving (``fall_back_to_cpu``) then runs on the CPU instead."""
    import torch

    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if not fall_back_to_cpu:
            raise RuntimeError("device='cuda' was asked for but no CUDA device is available")
        log.info("model trained for device='cuda' is served on the CPU: no CUDA device here")
    return torch.device("cpu")


def seed_everything(seed: int, threads: int) -> np.random.Generator:
    import os

    # deterministic cuBLAS needs a fixed workspace, set before CUDA starts (else it warns)
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    import torch

    torch.manual_seed(seed)  # every device's generator, CUDA's included
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False  # autotuning picks kernels by timing
    return np.random.default_rng(seed)


@dataclass(frozen=True)
class EpochLog:
    epoch: int
    loss: float
    validation: float | None
    seconds: float


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite: learning rate too high, or bad inputs."""


class Trainer:
    """Fits a torch module with Adam(W), early stopping and best-epoch restore."""

    def __init__(self, config: NeuralConfig):
        self.config = config
        self.history: list[EpochLog] = []
        self.best_epoch: int | None = None
        self.stopped_by_time = False  # the time limit, not early stopping, ended training

    def fit(
        self,
        module: Any,
        batches: Callable[[np.random.Generator], Iterator[Any]],
        loss: Callable[[Any, Any], Any],
        validate: Callable[[Any], float] | None = None,
        rng: np.random.Generator | None = None,
        n_batches: int | None = None,
    ) -> Any:
        """Train ``module`` in place and return it.

        ``batches(rng)`` yields one epoch of batches (already on the module's device);
        ``loss(module, batch)`` returns a scalar tensor; ``validate(module)`` returns a
        score to maximise (e.g. NDCG@10 on a held-out slice), or None to train all epochs.
        """
        import torch
        from tqdm import tqdm

        cfg = self.config
        rng = rng if rng is not None else np.random.default_rng(cfg.seed)
        optimiser = torch.optim.AdamW(
            module.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
        )
        on_cuda = any(p.is_cuda for p in module.parameters())
        precision = (
            torch.autocast("cuda", dtype=torch.bfloat16)
            if on_cuda and cfg.bf16
            else contextlib.nullcontext()
        )
        best_score, best_state, stale = -math.inf, None, 0
        began = time.perf_counter()
        limit = math.inf if cfg.time_limit_seconds is None else cfg.time_limit_seconds
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            if self.history and start - began + self.history[-1].seconds > limit:
                self.stopped_by_time = True
                break
            module.train()
            total, count = 0.0, 0
            for batch in tqdm(
                batches(rng),
                total=n_batches,
                disable=not cfg.progress,
                desc=f"epoch {epoch}",
                leave=False,
            ):
                optimiser.zero_grad(set_to_none=True)
                with warnings.catch_warnings():
                    # Some CUDA kernels (embedding_bag's backward, index_add) have no
                    # deterministic version; ``warn_only`` makes torch warn on every step,
                    # which under ``-W error`` would abort training. Results on a GPU are
                    # then reproducible only up to float summation order; the CPU is exact.
                    warnings.filterwarnings("ignore", message=NONDETERMINISTIC_WARNING)
                    with precision:
                        value = loss(module, batch)
                    if not torch.isfinite(value):
                        raise NonFiniteLossError(f"loss is {value.item()} at epoch {epoch}")
                    value.backward()
                optimiser.step()
                total += float(value.detach())
                count += 1
                if time.perf_counter() - began > limit:
                    self.stopped_by_time = True
                    break
            score = None
            if validate is not None:
                module.eval()
                with torch.no_grad():
                    score = float(validate(module))
            entry = EpochLog(epoch, total / max(count, 1), score, time.perf_counter() - start)
            self.history.append(entry)
            log.info(
                "epoch %d loss %.4f validation %s (%.1fs)", epoch, entry.loss, score, entry.seconds
            )
            if score is not None and score > best_score:
                best_score, stale, self.best_epoch = score, 0, epoch
                best_state = copy.deepcopy(module.state_dict())
            elif score is not None:
                stale += 1
            if self.stopped_by_time or stale >= cfg.patience:
                break
        if best_state is not None:
            module.load_state_dict(best_state)
        module.eval()
        return module
