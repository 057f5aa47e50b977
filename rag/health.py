"""Where the store and the LLM are, and whether they answer: for `rag info` and the UI."""

from __future__ import annotations

import urllib.error
import urllib.request

from rag.config import Settings
from rag.errors import RagError


def _reason(exc: BaseException) -> str:
    """The useful first line of a failure: a URLError's reason, the cause of a wrapped store error."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return _reason(exc.reason) if isinstance(exc.reason, BaseException) else str(exc.reason)
    if isinstance(exc, RagError) and exc.__cause__ is not None:
        return _reason(exc.__cause__)
    return (str(exc).splitlines() or [type(exc).__name__])[0][:160]


def store_health(settings: Settings, timeout: float = 3.0) -> tuple[str, bool, str]:
    """(location, answers?, detail) of the Chroma store."""
    from rag.store import Store

    location = settings.chroma_url or str(settings.index_dir / "chroma")
    try:
        if settings.chroma_url:  # a bounded probe first: the Chroma client waits without a timeout
            heartbeat = settings.chroma_url.rstrip("/") + "/api/v2/heartbeat"
            with urllib.request.urlopen(heartbeat, timeout=timeout):  # noqa: S310 - configured URL
                pass
        store = Store(settings)
        store.client.heartbeat()
        active = store.active_name()
        return location, True, f"active collection {active}" if active else "no index yet"
    except Exception as exc:
        return location, False, _reason(exc)


def llm_health(settings: Settings, timeout: float = 3.0) -> tuple[str, bool, str]:
    """(where, answers?, detail) of the configured answerer."""
    if settings.llm == "extractive":
        return "extractive (no LLM)", True, "built in"
    if settings.llm == "llamacpp":
        path = settings.llamacpp_model_path
        ok = bool(path and path.exists())
        return f"llamacpp {path}", ok, "model file found" if ok else "model file missing"
    url = (settings.llm_base_url.rstrip("/") + "/models" if settings.llm == "openai"
           else settings.ollama_host.rstrip("/") + "/api/tags")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - configured URL
            return f"{settings.llm} {url}", True, f"HTTP {response.status}"
    except Exception as exc:
        return f"{settings.llm} {url}", False, _reason(exc)


def encoder_status(settings: Settings) -> str:
    """How questions are encoded: PyTorch, or ONNX Runtime with its exported model (see rag.onnx_encoder)."""
    if settings.embed_backend == "torch":
        return "PyTorch (embed_backend = torch)"
    from rag.embed import resolve_model_path
    from rag.onnx_encoder import status

    try:
        return status(resolve_model_path(settings.embed_model), settings.model_cache)
    except Exception as exc:  # a missing model: the index line and `rag index` say more
        return f"unknown ({_reason(exc)})"


def health_lines(settings: Settings) -> list[str]:
    lines = []
    for label, (where, ok, detail) in (("Store", store_health(settings)), ("LLM", llm_health(settings))):
        lines.append(f"{label}: {where} — {'OK' if ok else 'NOT ANSWERING'} ({detail})")
    return lines
