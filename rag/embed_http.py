"""Served embeddings: an `Embedder` that sends texts to an OpenAI-compatible `/embeddings` endpoint.

Hugging Face TEI, Infinity, vLLM and Ollama all serve one. Texts go in batches of `embed_api_batch_size`,
up to `embed_api_concurrency` requests at once; a failed request (no answer, HTTP 429 or 5xx) is tried
again `embed_api_retries` times, then the whole call fails with one line (`EmbeddingServerError`). Vectors
are L2-normalised here whatever the server does, so a dot product stays the cosine similarity.

The identity recorded in the index is the model as the server names it (`api:<model>`), not its URL: the
same model served from another host is the same embedder, and an index built through it refuses an
in-process model (another identity) and the reverse. What it leaves out: no token counting (a server
truncates over-long texts itself, as TEI and Infinity do), no caching (`CachedEmbedder` does that).

>>> e = HttpEmbedder("http://127.0.0.1:7997", model="")   # doctest: +SKIP
>>> e.encode_documents(["hello"]).shape                   # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import EmbeddingServerError

if TYPE_CHECKING:
    import httpx

    from rag.config import Settings

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:160] or type(exc).__name__


class HttpEmbedder:
    """An `Embedder` backed by an OpenAI-compatible embeddings server (see the module docstring)."""

    def __init__(self, base_url: str, model: str = "", api_key: str = "", batch_size: int = 64,
                 timeout: float = 60.0, retries: int = 2, concurrency: int = 4) -> None:
        self.endpoint = base_url.rstrip("/")
        self.served_model = model
        self.name = f"{model or 'the served model'} at {self.endpoint}"
        self.batch_size, self.timeout, self.retries = batch_size, timeout, retries
        self.concurrency = concurrency
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._served: tuple[str, int] | None = None  # (model as the server names it, dimension)

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpEmbedder:
        assert settings.embed_api_url, "only for a configured embeddings server"
        return cls(settings.embed_api_url, settings.embed_api_model, settings.embed_api_key.get_secret_value(),
                   settings.embed_api_batch_size, settings.embed_api_timeout, settings.embed_api_retries,
                   settings.embed_api_concurrency)

    @property
    def identity(self) -> str:
        """`api:<model>` as the server names it (asked once, with a one-text request)."""
        return f"api:{self._probe()[0]}"

    @property
    def dimension(self) -> int:
        return self._probe()[1]

    def _probe(self) -> tuple[str, int]:
        if self._served is None:
            self.encode(["dimension probe"])
        assert self._served is not None
        return self._served

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts`, in order: batches sent concurrently, each retried on failure."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        batches = [texts[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if len(batches) == 1:
            parts = [self._post(batches[0])]
        else:
            with ThreadPoolExecutor(min(self.concurrency, len(batches)), "embed-api") as pool:
                parts = list(pool.map(self._post, batches))
        vectors = np.concatenate(parts).astype(np.float32, copy=False)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                import httpx

                limits = httpx.Limits(max_connections=self.concurrency)
                self._client = httpx.Client(timeout=self.timeout, headers=self._headers, limits=limits)
            return self._client

    def _post(self, batch: list[str]) -> np.ndarray:
        body: dict[str, Any] = {"input": batch, "encoding_format": "float"}
        if self.served_model:
            body["model"] = self.served_model
        for attempt in range(self.retries + 1):
            try:
                response = self._http().post(f"{self.endpoint}/embeddings", json=body)
                if response.status_code in _RETRY_STATUS and attempt < self.retries:
                    raise _Retry(f"HTTP {response.status_code}")
                response.raise_for_status()
                return self._vectors(response.json(), len(batch))
            except EmbeddingServerError:
                raise
            except Exception as exc:
                if attempt >= self.retries or not _transient(exc):
                    raise self._error(exc) from exc
                time.sleep(min(8.0, 0.5 * 2**attempt))
        raise AssertionError("unreachable")

    def _vectors(self, payload: dict[str, Any], expected: int) -> np.ndarray:
        rows = sorted(payload.get("data") or [], key=lambda row: int(row.get("index", 0)))
        if len(rows) != expected:
            raise EmbeddingServerError(f"the embeddings server at {self.endpoint} returned {len(rows)} vectors "
                                       f"for {expected} texts")
        vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        served = (str(payload.get("model") or self.served_model or "unnamed"), int(vectors.shape[1]))
        if self._served is None:
            self._served = served
        elif served[1] != self._served[1]:
            raise EmbeddingServerError(f"the embeddings server at {self.endpoint} changed its vector size from "
                                       f"{self._served[1]} to {served[1]}")
        return vectors

    def _error(self, exc: BaseException) -> EmbeddingServerError:
        import httpx

        if isinstance(exc, httpx.HTTPStatusError):
            detail = exc.response.text.strip().splitlines()[0][:160] if exc.response.text.strip() else ""
            return EmbeddingServerError(f"the embeddings server at {self.endpoint} refused the request "
                                        f"(HTTP {exc.response.status_code}{': ' + detail if detail else ''})")
        return EmbeddingServerError(f"the embeddings server at {self.endpoint} does not answer "
                                    f"({_first_line(exc)}); is it running?")


class _Retry(Exception):
    """A status worth retrying (429, 5xx)."""


def _transient(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, _Retry | httpx.TransportError)


def served_health(settings: Settings, timeout: float = 3.0) -> tuple[str, bool, str]:
    """(where, answers?, detail) of the embeddings server: GET <url>/models."""
    import httpx

    assert settings.embed_api_url
    url = settings.embed_api_url.rstrip("/")
    key = settings.embed_api_key.get_secret_value()
    try:
        response = httpx.get(f"{url}/models", timeout=timeout,
                             headers={"Authorization": f"Bearer {key}"} if key else {})
        response.raise_for_status()
        models = [str(m.get("id")) for m in response.json().get("data") or []]
        return url, True, f"serving {', '.join(models) or 'no model'}"
    except Exception as exc:
        return url, False, _first_line(exc)
