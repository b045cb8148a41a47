"""Model families behind one protocol (see ``base``), looked up by family name.

Every module of this package (and its subpackages) is imported here, and every
``Recommender`` subclass with a ``family`` name registers itself, so adding a model is
adding a module: nothing to edit here.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from recserve.algorithms.base import REGISTERED, ModelConfig, NotFittedError, Recommender


def _discover() -> dict[str, type[Recommender[Any]]]:
    # Subpackages too (neural/); their modules must not import torch at module level.
    for module in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        if not module.name.rsplit(".", 1)[-1].startswith("_"):
            importlib.import_module(module.name)
    return REGISTERED


FAMILIES: dict[str, type[Recommender[Any]]] = _discover()


def create(family: str, **params: Any) -> Recommender[Any]:
    """A new, unfitted model of ``family`` with validated hyperparameters."""
    try:
        cls = FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown model family {family!r}; known: {sorted(FAMILIES)}") from None
    return cls(**params)


__all__ = ["FAMILIES", "ModelConfig", "NotFittedError", "Recommender", "create"]
