"""Where the store, the LLM and the embedder are, and whether they answer: for `rag info` and the UI."""

from __future__ import annotations

from rag.backends import llm_health
from rag.chroma_client import heartbeat
from rag.config import Settings
from rag.embed import resolve_model_path
from rag.errors import failure_reason
from rag.onnx_encoder import status
from rag.store import Store


def store_health(settings: Settings, timeout: float | None = None) -> tuple[str, bool, str]:
    """(location, answers?, detail) of the Chroma store."""
    location = settings.chroma_url or str(settings.index_dir / "chroma")
    try:
        if settings.chroma_url:  # a probe bounded by the health timeout, shorter than the client's
            heartbeat(settings.chroma_url, timeout or settings.health_timeout)
        store = Store(settings)
        store.client.heartbeat()
        active = store.active_name()
        return location, True, f"active collection {active}" if active else "no index yet"
    except Exception as exc:
        return location, False, failure_reason(exc)


def encoder_status(settings: Settings) -> str:
    """How questions are encoded: PyTorch, or ONNX Runtime with its exported model (see rag.onnx_encoder)."""
    if settings.embed_api_url:
        return f"the embeddings server at {settings.embed_api_url}"
    if settings.embed_backend == "torch":
        return "PyTorch (embed_backend = torch)"
    try:
        return status(resolve_model_path(settings.embed_model), settings.model_cache)
    except Exception as exc:  # a missing model: the index line and `rag index` say more
        return f"unknown ({failure_reason(exc)})"


def embeddings_health(settings: Settings, timeout: float = 3.0) -> tuple[str, bool, str]:
    """(where, answers?, detail) of the embedder: the served model's endpoint, or the in-process model."""
    if settings.embed_api_url:
        from rag.embed_http import served_health

        return served_health(settings, timeout)
    return f"in-process {settings.embed_model or 'all-MiniLM-L6-v2 (packaged)'}", True, "loaded on first use"


def health_lines(settings: Settings) -> list[str]:
    lines = []
    for label, (where, ok, detail) in (("Store", store_health(settings)), ("LLM", llm_health(settings)),
                                       ("Embeddings", embeddings_health(settings))):
        lines.append(f"{label}: {where} — {'OK' if ok else 'NOT ANSWERING'} ({detail})")
    return lines
