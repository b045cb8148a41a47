"""A base class for recommenders backed by a torch module: device handling, persistence of
the module's weights as named float arrays (no pickles), and chunked inference."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from recserve.algorithms.base import C, Recommender
from recserve.algorithms.neural.trainer import EpochLog, resolve_device

PARAM_PREFIX = "param."


class TorchRecommender(Recommender[C]):
    """Subclasses build their module in ``build_module`` (from config and vocabulary sizes,
    plus any extra arrays they keep in ``_extra_state``) and train it in ``_fit``."""

    module: Any = None
    history: list[EpochLog]
    _serving_device: Any = None  # set on load: the configured device, or the CPU without one

    @abstractmethod
    def build_module(self) -> Any:
        """A fresh, untrained module for the current config and vocabularies."""

    @property
    def device(self) -> Any:
        """The training device of the config; for a loaded model, where it serves (the CPU
        when it was trained on a GPU that this machine lacks)."""
        if self._serving_device is not None:
            return self._serving_device
        return resolve_device(self.config.device)  # type: ignore[attr-defined]

    def _extra_state(self) -> dict[str, np.ndarray]:
        """Arrays besides the weights that the model needs to rebuild itself."""
        return {}

    def _restore_extra(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of ``_extra_state``."""

    def _state(self) -> dict[str, np.ndarray]:
        weights = {
            PARAM_PREFIX + name: tensor.detach().cpu().numpy()
            for name, tensor in self.module.state_dict().items()
        }
        return {**weights, **self._extra_state()}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        import torch

        self._serving_device = resolve_device(
            self.config.device,  # type: ignore[attr-defined]
            fall_back_to_cpu=True,
        )
        self._restore_extra({k: v for k, v in arrays.items() if not k.startswith(PARAM_PREFIX)})
        self.module = self.build_module()
        state = {
            # saved as CPU float arrays whatever the training device: no map_location needed
            k.removeprefix(PARAM_PREFIX): torch.from_numpy(np.array(v))
            for k, v in arrays.items()
            if k.startswith(PARAM_PREFIX)
        }
        self.module.load_state_dict(state)
        self.module.to(self.device).eval()
