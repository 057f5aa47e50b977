"""The one service function, `answer`, that the CLI, the web UI and the evaluation all call.

`answer` runs the pipeline of named steps (records and interfaces in `rag.pipeline`):

    clean -> rewrite follow-up -> embed -> retrieve -> rerank -> read -> answer -> check citations -> Answer

An `Engine` is the process-wide handle: one embedder, one retriever (one index connection), the
re-ranker, the citation checker and the chat models, created once per settings and shared by every
caller and thread. Each part can be given to `Engine(...)` instead (tests pass fakes).
"""

from __future__ import annotations

import hashlib
import json
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import SecretStr

from rag.backends import BACKENDS
from rag.check import check_citations
from rag.chroma_client import damaged
from rag.cite import EmbeddingChecker
from rag.config import Settings
from rag.embed import CachedEmbedder, Embedder, embedder_for
from rag.errors import ConfigError, IndexUnavailableError, QuestionError
from rag.followup import standalone_question
from rag.indexer import IndexReport, ProgressFn, build_index, incompatibility, index_meta, mixed_embedders
from rag.models import Answer
from rag.pipeline import Answerer, Asked, CitationChecker, History, KeepOrder, Reranker, Retrieved, Timings, TokenFn
from rag.qa import ExtractiveAnswerer
from rag.qtype import asks_definition
from rag.retrieve import Retriever
from rag.safety import CONTROL as _CONTROL
from rag.safety import ESCAPES as _ESCAPES  # escape sequences go whole: "[31m" would stay in the question
from rag.scorer import FittedAnswerer, uses_fitted
from rag.sentvec import remember_stored
from rag.store import Store

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel


class Engine:
    """The parts of the pipeline for one `Settings`; each may be given instead of built from them.

    >>> engine = Engine(settings, embedder=fake_embedder, chat_model=scripted_model)   # doctest: +SKIP
    >>> rag.answer("Who said what?", engine=engine, llm="openai").answerer               # doctest: +SKIP

    `chat_model`, when given, answers for every LLM backend; otherwise each backend's model is built
    from the settings (`rag.backends`) on first use. `using(...)` makes a sibling engine over the same
    index handle with some parts replaced.
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None, *, chat_model: BaseChatModel | None = None,
                 reranker: Reranker | None = None, checker: CitationChecker | None = None,
                 retriever: Retriever | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or embedder_for(settings)
        self.sentences = CachedEmbedder(self.embedder)  # answer sentences, scored again and again
        self.retriever = retriever or Retriever(settings, self.embedder)
        self.reranker: Reranker = reranker or KeepOrder()
        self.checker: CitationChecker = checker or EmbeddingChecker(self.embedder)
        self.extractive = (ExtractiveAnswerer if settings.extractive_scorer == "rules" else FittedAnswerer)(
            settings, self.sentences)
        self._chat_model = chat_model
        self._chat_models: dict[str, Any] = {}
        self._index_lock = threading.Lock()

    def using(self, **parts: Any) -> Engine:
        """A sibling engine sharing this one's embedder and index handle, with `parts` (chat_model,
        reranker, checker) replaced."""
        kept = {"chat_model": self._chat_model, "reranker": self.reranker, "checker": self.checker}
        return Engine(self.settings, self.embedder, retriever=self.retriever, **{**kept, **parts})

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
            if collection is not None and (mixed := mixed_embedders(collection, self.embedder)):
                raise ConfigError(mixed)
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
        """The LangChain chat model for `backend` (created once), or None for a backend without one."""
        if backend in BACKENDS and BACKENDS[backend].build is None:
            return None
        if self._chat_model is not None:
            return self._chat_model
        if backend not in self._chat_models:
            from rag.llm import get_chat_model  # LangChain

            self._chat_models[backend] = get_chat_model(self.settings.model_copy(update={"llm": backend}))
            if isinstance(self.checker, EmbeddingChecker):  # its claim reader loads while the LLM writes
                from rag.claims import warm_up_in_background

                warm_up_in_background()
        return self._chat_models[backend]

    def answerer(self, model: Any) -> Answerer:
        """The answerer for a chat model (None: the extractive one)."""
        if model is None:
            return self.extractive
        from rag.generate import LLMAnswerer  # LangChain

        return LLMAnswerer(model)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def engine_key(settings: Settings) -> str:
    """A digest of every setting's real value, secrets included: two API keys are two engines."""
    values = {name: value.get_secret_value() if isinstance(value, SecretStr) else value for name, value in settings}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def get_engine(settings: Settings | None = None) -> Engine:
    """The shared engine for these settings (created on first use)."""
    settings = settings or Settings()
    key = engine_key(settings)
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
    """Answer `question` from the indexed documents, with checked citations: the pipeline's steps in order.

    history: earlier (question, answer) pairs of this conversation; llm: override the backend (a name
    of `rag.backends.BACKENDS`); on_token: called with each piece of the answer text as it is produced
    (streaming).
    """
    engine = engine or get_engine(settings)
    timings = Timings()
    with timings("rewrite"):
        model = engine.chat_model(llm or engine.settings.llm)
        asked = rewrite(clean(question, engine.settings.max_question_chars), history, model)
    with timings("embed"):
        vector = engine.embedder.encode_queries([asked.standalone])[0]
    with timings("retrieve"):
        retrieved = engine.reranker.rerank(retrieve(engine, asked.standalone, vector, top_k))
    with timings("extract"):
        retrieved = read(engine, retrieved)
        draft = engine.extractive.answer(retrieved, history, on_token if model is None else None)
    extractive = draft.answer
    assert extractive is not None  # the extractive answerer quotes: nothing to check, and the fallback
    with timings("generate" if model is not None else "extract"):
        if model is not None:
            draft = engine.answerer(model).answer(retrieved, history, on_token)
        result = check_citations(draft, retrieved, extractive, engine.checker, on_token)
    return replace(result, question=asked.text, standalone_question=asked.standalone, hits=retrieved.hits,
                   notices=asked.notices + result.notices, timings=timings.done())


def clean(question: str, limit: int) -> Asked:
    """The clean step (see `clean_question`)."""
    text, notices = clean_question(question, limit)
    return Asked(text, text, tuple(notices))


def rewrite(asked: Asked, history: History, model: Any) -> Asked:
    """The rewrite step: a follow-up made standalone for retrieval, by the LLM when there is one (with
    a notice when it fails), else by carrying the previous turn's key words (`rag.followup`)."""
    if not history:
        return asked
    notices = list(asked.notices)
    if model is not None:
        from rag.generate import rewrite_question  # LangChain

        standalone = rewrite_question(model, asked.text, history, notices)
    else:
        standalone = standalone_question(asked.text, history)
    return replace(asked, standalone=standalone, notices=tuple(notices))


def retrieve(engine: Engine, question: str, vector: np.ndarray, top_k: int | None) -> Retrieved:
    """The retrieve step: hybrid search for the k best passages, and the question's unseen words."""
    hits = engine.retriever.search(question, top_k or engine.settings.top_k, vector)
    if not hits and engine.retriever.refresh() is None:
        raise IndexUnavailableError("There is no index yet: run `rag index` first.")
    unseen = engine.retriever.unseen_terms(question, engine.settings.unseen_word_min_chunks)
    return Retrieved(question, vector, tuple(hits), engine.retriever.idf, tuple(unseen))


def read(engine: Engine, retrieved: Retrieved) -> Retrieved:
    """The read step: the passages the extractive answerer reads (the hits, plus where the top documents
    introduce their subject when the question asks what something is), their stored sentence vectors
    put in the engine's cache."""
    passages = list(retrieved.hits)
    if asks_definition(retrieved.question):  # "What kind of company is X?"
        passages += engine.retriever.openings(retrieved.hits)
    if engine.settings.neighbour_chunks and uses_fitted(engine.settings, retrieved.question):  # the chunks next to
        have = {h.chunk.id for h in passages}  # the top documents' hits: a quote often sits a paragraph below
        passages += [h for h in engine.retriever.neighbours(retrieved.hits, reach=engine.settings.neighbour_chunks)
                     if h.chunk.id not in have]
    remember_stored(passages, engine.sentences)
    return replace(retrieved, passages=tuple(passages))
