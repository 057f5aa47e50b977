"""Hybrid retrieval: dense (Chroma, cosine) plus BM25, fused by reciprocal rank fusion (`rag.fusion`).

`Retriever` is the shared, thread-safe handle on the index that every query goes through. Before a
search it checks (cheaply) whether the active generation or its version changed, in this or another
process, and reloads the BM25 side if so. `as_langchain()` exposes it as a LangChain `BaseRetriever`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.chroma_client import forget_local_client, store_error
from rag.config import Settings
from rag.embed import Embedder, embedder_for
from rag.errors import ConfigError
from rag.fusion import fuse, phrase_ranking, rrf_fuse
from rag.indexer import mixed_embedders
from rag.lexical import LexicalIndex, analyze, lexical_key, load_lexical
from rag.models import Chunk, Hit
from rag.store import Store

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from langchain_core.retrievers import BaseRetriever


class Retriever:
    """Searches the active index generation.

    >>> r = Retriever(Settings())                       # doctest: +SKIP
    >>> [h.chunk.source for h in r.search("export controls", k=2)]  # doctest: +SKIP
    ['000_1b21a7c2e01bd4ee.txt', '000_1b21a7c2e01bd4ee.txt']
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None, store: Store | None = None):
        self.settings = settings
        self.embedder = embedder or embedder_for(settings)
        self._store = store
        self._lock = threading.Lock()
        self._collection: Collection | None = None
        self._lexical: LexicalIndex | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.settings)
        return self._store

    def reopen(self) -> None:
        """Forget the store handle and the BM25 side (after a damaged index was moved aside)."""
        with self._lock:
            self._store, self._collection, self._lexical = None, None, None

    def refresh(self) -> Collection | None:
        """The active collection, with the BM25 side reloaded if the index changed since last time."""
        try:
            with self._lock:
                collection = self.store.active()
                if collection is None:
                    self._collection, self._lexical = None, None
                    return None
                if self._lexical_outdated(collection):
                    if mixed := mixed_embedders(collection, self.embedder):  # never search with other vectors
                        raise ConfigError(mixed)
                    if self._lexical is not None and not self.settings.chroma_url:
                        collection = self._reopened(collection)
                    self._lexical = load_lexical(self.store, collection)
                self._collection = collection
                return collection
        except ConfigError:
            raise
        except Exception as exc:
            raise store_error(self.settings, exc) from exc

    def _reopened(self, collection: Collection) -> Collection:
        """The index changed since it was loaded, maybe by another process (`rag index` while the chat
        runs): an embedded index is opened afresh, or its vector side would not see the new chunks."""
        forget_local_client(self.settings.index_dir / "chroma", grace=60.0)  # running searches finish
        self._store = Store(self.settings)
        return self._store.active() or collection

    def _lexical_outdated(self, collection: Collection) -> bool:
        """True when BM25 must be rebuilt. While another process is still writing this generation
        (a `dirty-` version), the BM25 side already loaded stays in use until that run ends, instead
        of re-reading every chunk for each question; chunks deleted meanwhile are simply not returned."""
        if self._lexical is None or self._lexical.key == lexical_key(collection):
            return self._lexical is None
        writing = Store.version(collection).startswith("dirty-")
        return not (writing and self._collection is not None and self._collection.name == collection.name)

    def search(self, query: str, k: int | None = None, vector: np.ndarray | None = None) -> list[Hit]:
        k = k or self.settings.top_k
        collection = self.refresh()
        if collection is None or self._lexical is None:
            return []
        vector = self.embedder.encode_queries([query])[0] if vector is None else vector
        n = max(self.settings.candidates, k)
        lexical = self._lexical.search(query, n)
        try:
            dense = self.store.query(collection, vector, n)
            chunks: dict[str, Chunk] = {c.id: c for c, _ in dense}
            top = self._fused(query, [c.id for c, _ in dense], [i for i, _ in lexical], chunks, collection, k)
            chunks.update(self.store.get_chunks(collection, [i for i, _ in top if i not in chunks]))
        except Exception as exc:
            raise store_error(self.settings, exc, "searched") from exc
        dense_scores = {c.id: s for c, s in dense}
        lexical_scores = dict(lexical)
        return [Hit(chunks[i], fused, rank, dense_scores.get(i), lexical_scores.get(i))
                for rank, (i, fused) in enumerate(((i, s) for i, s in top if i in chunks), start=1)]

    def _fused(self, query: str, dense: list[str], lexical: list[str], chunks: dict[str, Chunk],
               collection: Collection, k: int) -> list[tuple[str, float]]:
        """The k best candidates by `rag.fusion.fuse`, with their plain-fusion scores and ordered by them:
        the phrase and document terms choose which passages come back, and the answerers see them ranked
        as before (the fitted scorer's rank features were fitted on plain fusion). The terms need the
        BM25 candidates' texts and sources, fetched into `chunks` when the terms are on."""
        settings = self.settings
        plain = rrf_fuse([dense, lexical], settings.rrf_k)
        if not (settings.phrase_weight or settings.document_weight):
            return sorted(plain.items(), key=lambda item: -item[1])[:k]
        chunks.update(self.store.get_chunks(collection, [i for i in lexical if i not in chunks]))
        phrase = phrase_ranking(query, {i: chunks[i].text for i in lexical if i in chunks})
        fused = fuse(dense, lexical, phrase, {i: c.source for i, c in chunks.items()}, settings.rrf_k,
                     settings.phrase_weight, settings.document_weight)
        chosen = sorted(fused, key=lambda i: -fused[i])[:k]
        return sorted(((i, plain[i]) for i in chosen), key=lambda item: -item[1])

    def openings(self, hits: Sequence[Hit], documents: int = 2) -> list[Hit]:
        """The opening chunk of the top `documents` documents among `hits`, where it is not among them
        already (ranked after them): news and reference texts say what their subject is at its first
        mention ("DeepSeek, a relatively unknown Chinese AI company, ...")."""
        sources = list(dict.fromkeys(h.chunk.source for h in hits))[:documents]
        have = {h.chunk.id for h in hits}
        collection = self._collection
        if collection is None or not sources:
            return []
        try:
            extra = [c for c in self.store.openings(collection, sources) if c.id not in have]
        except Exception as exc:
            raise store_error(self.settings, exc, "searched") from exc
        return [Hit(c, 0.0, len(hits) + i) for i, c in enumerate(extra, start=1)]

    def neighbours(self, hits: Sequence[Hit], documents: int = 2, reach: int = 1) -> list[Hit]:
        """The chunks next to (within `reach` of) the hits of the top `documents` documents, where not
        among the hits already (ranked after them): a name's quote often sits a paragraph below the
        chunk that matched the question best."""
        sources = list(dict.fromkeys(h.chunk.source for h in hits))[:documents]
        have = {(h.chunk.source, h.chunk.ordinal) for h in hits}
        wanted = list(dict.fromkeys((h.chunk.source, h.chunk.ordinal + step) for h in hits if h.chunk.source in sources
                                    for step in range(-reach, reach + 1) if step and h.chunk.ordinal + step >= 0))
        wanted = [p for p in wanted if p not in have]
        collection = self._collection
        if collection is None or not wanted:
            return []
        try:
            extra = self.store.chunks_at(collection, wanted)
        except Exception as exc:
            raise store_error(self.settings, exc, "searched") from exc
        return [Hit(c, 0.0, len(hits) + i) for i, c in enumerate(extra, start=1)]

    def idf(self, term: str) -> float:
        """BM25 inverse document frequency of an analysed term (high for unseen terms)."""
        return self._lexical.idf(term) if self._lexical is not None else 1.0

    def unseen_terms(self, question: str, min_chunks: int) -> list[str]:
        """The question's words that no chunk uses, when the collection has at least `min_chunks`
        chunks (in a small one, a paraphrase's words are often absent; in a large one, such a word
        names something the documents do not cover)."""
        lexical = self._lexical
        if lexical is None or len(lexical.ids) < min_chunks:
            return []
        return lexical.unseen([t for t in dict.fromkeys(analyze(question)) if len(t) > 2])

    def as_langchain(self, k: int | None = None) -> BaseRetriever:
        """This retriever as a LangChain `BaseRetriever` returning `Document`s with chunk metadata."""
        from langchain_core.callbacks import CallbackManagerForRetrieverRun
        from langchain_core.documents import Document as LCDocument
        from langchain_core.retrievers import BaseRetriever

        outer = self

        class HybridRetriever(BaseRetriever):
            top_k: int = k or outer.settings.top_k

            def _get_relevant_documents(
                self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **_: Any
            ) -> list[LCDocument]:
                return [LCDocument(page_content=h.chunk.text, id=h.chunk.id, metadata={
                    "source": h.chunk.source, "title": h.chunk.title, "start": h.chunk.start,
                    "end": h.chunk.end, "page": h.chunk.page, "score": h.score, "rank": h.rank})
                    for h in outer.search(query, self.top_k)]

        return HybridRetriever()
