"""The answerers rag knows, in one table: name -> description, chat-model builder, where it runs, health.

Settings validation (`Settings.llm`), `rag --help`, `rag info`, the health line and the web UI's
answerer list all read `BACKENDS`. To add an LLM backend: write its builder in `rag/llm.py` (a function
from `Settings` to a LangChain chat model) and add a row here. Nothing heavy is imported by this
module: a builder imports its library when it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.errors import failure_reason

if TYPE_CHECKING:
    from rag.config import Settings

Health = tuple[str, bool, str]  # (where, answers?, detail)


@dataclass(frozen=True)
class Backend:
    """One answerer: `build` makes its chat model (None: no LLM), `label` names it with answers
    ('openai:MODEL'), `where` says where it runs (for notices), `health` checks that it answers."""

    name: str
    description: str
    build: Callable[[Settings], Any] | None
    label: Callable[[Settings], str]
    where: Callable[[Settings], str]
    health: Callable[[Settings, float], Health]


def _builder(function: str) -> Callable[[Settings], Any]:
    def build(settings: Settings) -> Any:
        from rag import llm  # LangChain and the backend's client library load only here

        return getattr(llm, function)(settings)

    return build


def _http_health(url: Callable[[Settings], str]) -> Callable[[Settings, float], Health]:
    def check(settings: Settings, timeout: float) -> Health:
        import urllib.request  # with http and ssl: only when a server is probed

        where = f"{settings.llm} {url(settings)}"
        try:
            with urllib.request.urlopen(url(settings), timeout=timeout) as response:  # noqa: S310 - configured URL
                return where, True, f"HTTP {response.status}"
        except Exception as exc:
            return where, False, failure_reason(exc)

    return check


def _gguf_health(settings: Settings, timeout: float) -> Health:
    path = settings.llamacpp_model_path
    ok = bool(path and path.exists())
    return f"llamacpp {path}", ok, "model file found" if ok else "model file missing"


def _gguf_label(settings: Settings) -> str:
    path = settings.llamacpp_model_path
    return f"llamacpp:{path.name if path else '?'}"


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("extractive", "no LLM: quotes the best sentences of the documents (the default)", None,
            lambda s: "extractive", lambda s: "extractive", lambda s, t: ("extractive (no LLM)", True, "built in")),
    Backend("openai", "any OpenAI-compatible server (vLLM, llama.cpp's server, LM Studio): llm_base_url, llm_model",
            _builder("openai_chat"), lambda s: f"openai:{s.llm_model or '?'}",
            lambda s: f"openai at {s.llm_base_url}", _http_health(lambda s: s.llm_base_url.rstrip("/") + "/models")),
    Backend("ollama", "an Ollama server: ollama_host, llm_model", _builder("ollama_chat"),
            lambda s: f"ollama:{s.llm_model or '?'}", lambda s: f"ollama at {s.ollama_host}",
            _http_health(lambda s: s.ollama_host.rstrip("/") + "/api/tags")),
    Backend("llamacpp", "a local GGUF file through llama-cpp-python: llamacpp_model_path", _builder("llamacpp_chat"),
            _gguf_label, lambda s: f"llamacpp with {s.llamacpp_model_path}", _gguf_health),
)}


def backend_names(last: str = "or") -> str:
    """'extractive, openai, ollama or llamacpp'."""
    names = list(BACKENDS)
    return f"{', '.join(names[:-1])} {last} {names[-1]}"


def backend(settings: Settings) -> Backend:
    return BACKENDS[settings.llm]


def describe(settings: Settings) -> str:
    """The answerer's name as shown with answers: 'openai:MODEL', 'llamacpp:FILE.gguf', 'extractive'."""
    return backend(settings).label(settings)


def where(settings: Settings) -> str:
    """Where the backend runs, for notices: 'openai at http://...'."""
    return backend(settings).where(settings)


def llm_health(settings: Settings, timeout: float | None = None) -> Health:
    """(where, answers?, detail) of the configured answerer."""
    return backend(settings).health(settings, timeout or settings.health_timeout)


def ui_choices(settings: Settings) -> list[str]:
    """The answerers the web UI offers: those that need no configuration, and the configured one."""
    return [name for name, b in BACKENDS.items() if b.build is None or name == settings.llm]


def listing() -> list[str]:
    """One line per answerer, for `rag info`."""
    return [f"  {name}: {b.description}" for name, b in BACKENDS.items()]
