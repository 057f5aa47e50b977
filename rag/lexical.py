"""The BM25 side of hybrid retrieval (bm25s), derived from the Chroma collection.

The BM25 index is never a source of truth: it is built from the texts stored in the active Chroma
collection and cached on disk under a key made of the collection's name, its `version` token and its
chunk count. Any process that sees another key rebuilds it from the collection, so several front ends
over one Chroma server stay in step, and a crash mid-index can never leave the two sides apart.
`load_lexical` and `build_lexical` are that cache (in `index_dir/bm25`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.store import Store
from rag.text import content_words

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

    from rag.config import Settings
    from rag.models import Chunk


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def analyze(text: str) -> list[str]:
    """Content words, Snowball-stemmed: the terms both the index and the queries use."""
    words = content_words(text)
    return list(_stemmer().stemWords(words)) if words else []


class LexicalIndex:
    """BM25 over chunk texts; `search` returns (chunk id, score) best first."""

    def __init__(self, key: str, ids: list[str], model: Any | None) -> None:
        self.key = key
        self.ids = ids
        self._model = model

    @classmethod
    def build(cls, key: str, ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        if not ids:
            return cls(key, [], None)
        model = bm25s.BM25()
        model.index(_as_corpus([analyze(t) for t in texts]), show_progress=False)
        return cls(key, list(ids), model)

    def search(self, query: str, n: int) -> list[tuple[str, float]]:
        terms = analyze(query)
        if self._model is None or not terms:
            return []
        vocab = self._model.vocab_dict
        query_ids = [vocab[t] for t in terms if t in vocab]
        if not query_ids:
            return []
        scores = self._model.get_scores(query_ids)
        n = min(n, len(self.ids))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, term: str) -> float:
        """BM25 idf of an analysed term; a term absent from every chunk gets the largest value."""
        n = max(len(self.ids), 1)
        df = self._document_frequency(term)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def unseen(self, terms: Sequence[str]) -> list[str]:
        """The analysed terms that no chunk contains."""
        return [t for t in terms if self._document_frequency(t) == 0]

    def _document_frequency(self, term: str) -> int:
        if self._model is None:
            return 0
        index = self._model.vocab_dict.get(term)
        if index is None:
            return 0
        indptr = self._model.scores["indptr"]
        return int(indptr[index + 1] - indptr[index])

    def save(self, folder: Path) -> None:
        """Write atomically: into a temporary folder, then renamed over the old one."""
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if self._model is not None:
            self._model.save(str(tmp / "bm25"))
        (tmp / "meta.json").write_text(json.dumps({"key": self.key, "ids": self.ids}))
        old = folder.with_name(f"{folder.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path, key: str) -> LexicalIndex | None:
        """The cached index if it exists, is readable and has this key; else None."""
        try:
            meta = json.loads((folder / "meta.json").read_text())
            if meta.get("key") != key:
                return None
            model = None
            if meta["ids"]:
                import bm25s

                model = bm25s.BM25.load(str(folder / "bm25"))
            return cls(key, list(meta["ids"]), model)
        except Exception:
            return None


def _as_corpus(token_lists: list[list[str]]) -> Any:
    """bm25s wants (ids, vocab); build them from our own analyzer's tokens."""
    import bm25s

    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in tokens] for tokens in token_lists]
    return bm25s.tokenization.Tokenized(ids=ids, vocab=vocab)


def lexical_key(collection: Collection) -> str:
    return f"{collection.name}:{Store.version(collection)}:{collection.count()}"


def lexical_cache_dir(settings: Settings) -> Path:
    return settings.index_dir / "bm25"


def build_lexical(store: Store, collection: Collection) -> tuple[LexicalIndex, list[Chunk]]:
    """Rebuild BM25 from the collection's texts; cache it unless the collection is mid-write."""
    chunks = store.all_chunks(collection)
    lexical = LexicalIndex.build(lexical_key(collection), [c.id for c in chunks], [c.text for c in chunks])
    if not Store.version(collection).startswith("dirty-"):
        with contextlib.suppress(OSError):  # only a cache: another front end sharing index_dir may be saving it
            lexical.save(lexical_cache_dir(store.settings))
    return lexical, chunks


def load_lexical(store: Store, collection: Collection) -> LexicalIndex:
    """The BM25 index for the collection as it is now: from the cache when its key matches."""
    cached = LexicalIndex.load(lexical_cache_dir(store.settings), lexical_key(collection))
    return cached if cached is not None else build_lexical(store, collection)[0]
