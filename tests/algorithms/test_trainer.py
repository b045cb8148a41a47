"""The shared neural training loop: seeded, early-stopped, best epoch restored, and safe
under ``-W error`` on devices whose kernels lack a deterministic implementation."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recserve.algorithms.neural.trainer import (  # noqa: E402
    NeuralConfig,
    NonFiniteLossError,
    Trainer,
    seed_everything,
)

X = torch.linspace(-1, 1, 64).unsqueeze(1)
Y = 3 * X + 1


def batches(rng: np.random.Generator) -> Iterator[Any]:
    order = torch.as_tensor(rng.permutation(len(X)))
    for start in range(0, len(X), 16):
        rows = order[start : start + 16]
        yield X[rows], Y[rows]


def mse(module: Any, batch: Any) -> Any:
    x, y = batch
    return torch.nn.functional.mse_loss(module(x), y)


def fitted(config: NeuralConfig, validate: Any = None, loss: Any = mse) -> tuple[Any, Trainer]:
    rng = seed_everything(config.seed, config.threads)
    module = torch.nn.Linear(1, 1)
    trainer = Trainer(config)
    return trainer.fit(module, batches, loss, validate=validate, rng=rng), trainer


def test_the_same_seed_gives_the_same_weights() -> None:
    config = NeuralConfig(epochs=5, learning_rate=0.05, seed=7)
    first, _ = fitted(config)
    second, _ = fitted(config)
    assert torch.equal(first.weight, second.weight)
    assert torch.equal(first.bias, second.bias)
    other, _ = fitted(config.model_copy(update={"seed": 8}))
    assert not torch.equal(first.weight, other.weight)


def test_early_stopping_restores_the_best_epoch() -> None:
    scores = iter([0.1, 0.5, 0.3, 0.2, 0.9])  # best at epoch 2, then two worse: stop
    weights: list[Any] = []

    def validate(module: Any) -> float:
        weights.append(module.weight.detach().clone())
        return next(scores)

    module, trainer = fitted(
        NeuralConfig(epochs=5, patience=2, learning_rate=0.05), validate=validate
    )
    assert [h.epoch for h in trainer.history] == [1, 2, 3, 4]
    assert trainer.best_epoch == 2
    assert torch.equal(module.weight, weights[1])
    assert not module.training


def test_a_non_finite_loss_stops_training() -> None:
    def exploding(module: Any, batch: Any) -> Any:
        return mse(module, batch) * float("inf")

    with pytest.raises(NonFiniteLossError, match="epoch 1"):
        fitted(NeuralConfig(epochs=2), loss=exploding)


def test_nondeterministic_kernel_warnings_do_not_abort_training() -> None:
    """On CUDA, ``use_deterministic_algorithms(warn_only=True)`` warns on every step of ops
    like embedding_bag's backward; pytest runs with -W error, so would a strict deployment.
    The warning text is torch's own; other warnings still surface."""

    def warning_loss(module: Any, batch: Any) -> Any:
        warnings.warn(
            "embedding_bag_backward_cuda_max does not have a deterministic implementation, "
            "but you set 'torch.use_deterministic_algorithms(True, warn_only=True)'.",
            UserWarning,
            stacklevel=1,
        )
        return mse(module, batch)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, trainer = fitted(NeuralConfig(epochs=2), loss=warning_loss)
    assert len(trainer.history) == 2

    def other_warning_loss(module: Any, batch: Any) -> Any:
        warnings.warn("something else", UserWarning, stacklevel=1)
        return mse(module, batch)

    with pytest.raises(UserWarning, match="something else"):
        fitted(NeuralConfig(epochs=1), loss=other_warning_loss)


def test_a_time_limit_ends_training_and_keeps_the_best_epoch() -> None:
    """Each batch sleeps, so 100 epochs would take 20 s: the limit stops the loop long
    before, and the best epoch's weights (the first: the scores only fall) are restored."""
    import time

    def slow(module: Any, batch: Any) -> Any:
        time.sleep(0.05)
        return mse(module, batch)

    scores = iter(np.linspace(1.0, 0.0, 100))
    weights: list[Any] = []

    def validate(module: Any) -> float:
        weights.append(module.weight.detach().clone())
        return float(next(scores))

    config = NeuralConfig(epochs=100, patience=1000, learning_rate=0.05, time_limit_seconds=0.5)
    module, trainer = fitted(config, validate=validate, loss=slow)
    assert trainer.stopped_by_time
    assert 1 <= len(trainer.history) < 100
    assert trainer.best_epoch == 1
    assert torch.equal(module.weight, weights[0])


def test_a_limit_shorter_than_one_batch_cuts_the_first_epoch() -> None:
    seen: list[int] = []

    def counted(module: Any, batch: Any) -> Any:
        seen.append(1)
        return mse(module, batch)

    config = NeuralConfig(epochs=5, time_limit_seconds=1e-9)
    _, trainer = fitted(config, loss=counted)
    assert trainer.stopped_by_time
    assert len(trainer.history) == 1 and len(seen) == 1  # one batch of the first epoch
