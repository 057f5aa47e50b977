"""The one service function, `answer`, that the CLI, the web UI and the evaluation all call.

An `Engine` is the process-wide handle: one embedder, one retriever (one index connection) and the
configured chat model, created once per settings and shared by every caller and thread.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from rag.config import Settings
from rag.embed import Embedder
from rag.errors import IndexUnavailableError, QuestionError
from rag.followup import History, standalone_question
from rag.indexer import IndexReport, ProgressFn, build_index
from rag.models import Answer
from rag.qa import extractive_answer
from rag.retrieve import Retriever

TokenFn = Callable[[str], None]
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Engine:
    """Embedder + retriever + (lazily) the chat model, for one `Settings`."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder(settings.embed_model, settings.embed_batch_size)
        self.retriever = Retriever(settings, self.embedder)
        self._index_lock = threading.Lock()
        self._chat_models: dict[str, Any] = {}

    def index(self, *, rebuild: bool = False, progress: ProgressFn | None = None,
              wait: float = 0.0) -> IndexReport:
        """Bring the index up to date (the same code as `rag index`), then reload the retriever."""
        with self._index_lock:
            report = build_index(self.settings, rebuild=rebuild, embedder=self.embedder,
                                 store=self.retriever.store, progress=progress, wait=wait)
        self.retriever.refresh()
        return report

    def ensure_index(self, progress: ProgressFn | None = None) -> IndexReport | None:
        """Build the index if there is none yet; None when one already exists."""
        if self.retriever.refresh() is not None:
            return None
        return self.index(progress=progress, wait=600)

    def chat_model(self, backend: str) -> Any:
        """The LangChain chat model for `backend` (created once), or None for extractive."""
        if backend == "extractive":
            return None
        if backend not in self._chat_models:
            from rag.llm import get_chat_model

            self._chat_models[backend] = get_chat_model(self.settings.model_copy(update={"llm": backend}))
        return self._chat_models[backend]


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(settings: Settings | None = None) -> Engine:
    """The shared engine for these settings (created on first use)."""
    settings = settings or Settings()
    key = settings.model_dump_json()
    with _engines_lock:
        if key not in _engines:
            _engines[key] = Engine(settings)
        return _engines[key]


def clean_question(question: str, limit: int) -> tuple[str, list[str]]:
    """Control characters removed, white space folded, cut to `limit` (with a notice)."""
    notices = []
    text = " ".join(_CONTROL.sub(" ", question or "").split())
    if not text:
        raise QuestionError("Please type a question.")
    if len(text) > limit:
        notices.append(f"The question was cut to its first {limit} characters (it had {len(text)}).")
        text = text[:limit]
    return text, notices


def answer(question: str, *, history: History = (), settings: Settings | None = None,
           engine: Engine | None = None, llm: str | None = None, top_k: int | None = None,
           on_token: TokenFn | None = None) -> Answer:
    """Answer `question` from the indexed documents, with checked citations.

    history: earlier (question, answer) pairs of this conversation; llm: override the backend
    ("extractive", "openai", "ollama", "llamacpp"); on_token: called with each piece of the answer
    text as it is produced (streaming).
    """
    engine = engine or get_engine(settings)
    settings = engine.settings
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    text, notices = clean_question(question, settings.max_question_chars)
    backend = llm or settings.llm
    model = engine.chat_model(backend)
    standalone = _standalone(text, history, model, notices)
    timings["rewrite"] = time.perf_counter() - t0

    t = time.perf_counter()
    qvec = engine.embedder.encode_one(standalone)
    timings["embed"] = time.perf_counter() - t
    t = time.perf_counter()
    hits = engine.retriever.search(standalone, top_k or settings.top_k, qvec)
    if not hits and engine.retriever.refresh() is None:
        raise IndexUnavailableError("There is no index yet: run `rag index` first.")
    timings["retrieve"] = time.perf_counter() - t

    t = time.perf_counter()
    result = extractive_answer(standalone, qvec, hits, engine.embedder, engine.retriever.idf, settings)
    timings["extract"] = time.perf_counter() - t
    if model is not None:
        from rag.generate import llm_answer

        t = time.perf_counter()
        result = llm_answer(standalone, hits, history, model, engine.embedder, settings, result, on_token)
        timings["generate"] = time.perf_counter() - t
    elif on_token:
        for piece in re.split(r"(?<=\]) ", result.text):
            on_token(piece + " ")
    timings["total"] = time.perf_counter() - t0
    return _finish(result, text, standalone, notices, timings)


def _standalone(question: str, history: History, model: Any, notices: list[str]) -> str:
    if not history:
        return question
    if model is not None:
        from rag.generate import rewrite_question

        return rewrite_question(model, question, history, notices)
    return standalone_question(question, history)


def _finish(result: Answer, question: str, standalone: str, notices: list[str],
            timings: dict[str, float]) -> Answer:
    from dataclasses import replace

    return replace(result, question=question, standalone_question=standalone,
                   notices=tuple(notices) + result.notices, timings=timings)
