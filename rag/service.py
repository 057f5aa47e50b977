"""The one service function, `answer`, that the CLI, the web UI and the evaluation all call.

An `Engine` is the process-wide handle: one embedder, one retriever (one index connection) and the
configured chat model, created once per settings and shared by every caller and thread.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rag.chroma_client import damaged
from rag.config import Settings
from rag.embed import Embedder, embedder_for
from rag.errors import IndexUnavailableError, QuestionError
from rag.followup import History, standalone_question
from rag.indexer import IndexReport, ProgressFn, build_index, incompatibility, index_meta
from rag.models import Answer
from rag.qa import extractive_answer
from rag.qtype import asks_definition
from rag.retrieve import Retriever
from rag.safety import CONTROL as _CONTROL
from rag.safety import ESCAPES as _ESCAPES  # escape sequences go whole: "[31m" would stay in the question
from rag.store import Store

TokenFn = Callable[[str], None]


class Engine:
    """Embedder + retriever + (lazily) the chat model, for one `Settings`."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or embedder_for(settings)
        self.retriever = Retriever(settings, self.embedder)
        self._index_lock = threading.Lock()
        self._chat_models: dict[str, Any] = {}

    def index(self, *, rebuild: bool = False, progress: ProgressFn | None = None,
              wait: float = 0.0) -> IndexReport:
        """Bring the index up to date (the same code as `rag index`), then reload the retriever."""
        with self._index_lock:
            try:
                store: Store | None = self.retriever.store
            except IndexUnavailableError:  # cannot be opened: build_index moves a damaged one aside
                store = None
            report = build_index(self.settings, rebuild=rebuild, embedder=self.embedder,
                                 store=store, progress=progress, wait=wait)
            if store is None or report.repaired:
                self.retriever.reopen()
        self.retriever.refresh()
        return report

    def ensure_index(self, progress: ProgressFn | None = None,
                     notice: Callable[[str], None] | None = None) -> IndexReport | None:
        """Build the index if there is none yet, it is damaged, or it was built by another version or
        with other embedding/chunking settings (`notice` is told why); None when it can be used as is."""
        try:
            collection = self.retriever.refresh()
            why = "No index yet: building it first." if collection is None else None
            if collection is not None and (old := incompatibility(collection, index_meta(self.settings,
                                                                                          self.embedder))):
                why = f"The index must be rebuilt ({old}): rebuilding it first."
        except IndexUnavailableError as exc:
            if not damaged(self.settings, exc):
                raise
            why = f"The index is damaged: {exc}. Moving it aside and building a fresh one."
        if why is None:
            return None
        if notice:
            notice(why)
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
    """Control characters and terminal escape sequences removed, white space folded, cut to `limit` (with
    a notice); QuestionError when nothing visible is left."""
    notices = []
    # lone surrogates (e.g. undecodable bytes in a command-line argument) cannot be encoded: U+FFFD
    question = (question or "").encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    text = " ".join(_CONTROL.sub(" ", _ESCAPES.sub(" ", question)).split())
    if not any(unicodedata.category(ch)[0] in "LMNPS" for ch in text):  # nothing visible, e.g. only U+200B
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
    unseen = engine.retriever.unseen_terms(standalone, settings.unseen_word_min_chunks)
    read = list(hits)
    if asks_definition(standalone):  # "What kind of company is X?": also read where X is introduced
        read += engine.retriever.openings(hits)
    result = extractive_answer(standalone, qvec, read, engine.embedder, engine.retriever.idf, settings, unseen)
    result = replace(result, hits=tuple(hits))  # the k passages retrieved, as asked
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
