"""The Chroma side of the index: embedded (`PersistentClient` under index_dir) or a server (`HttpClient`).

An index is one *generation*: a collection named `<prefix>-<id>`. A tiny pointer collection
`<prefix>-pointer` names the active generation in its metadata, so a rebuild fills a new generation
and switches to it only when complete, and every process sharing a server sees the switch. The active
collection's metadata records the embedding model, its dimension, the chunker settings and a
`version` token that changes whenever its contents do (the BM25 side is keyed by it).
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.chroma_client import open_client
from rag.config import Settings
from rag.models import Chunk

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

SCHEMA_VERSION = 1
_WRITE_BATCH = 1000


@dataclass(frozen=True)
class IndexedDocument:
    """What the index holds for one source file."""

    source: str
    title: str
    doc_sha: str
    aliases: tuple[str, ...]
    chunks: int
    indexed_at: float


def _chunk_metadata(chunk: Chunk, aliases: Sequence[str], now: float, doc_chunks: int) -> dict[str, Any]:
    return {"source": chunk.source, "title": chunk.title, "start": chunk.start, "end": chunk.end,
            "ordinal": chunk.ordinal, "page": -1 if chunk.page is None else chunk.page,
            "doc_sha": chunk.doc_sha, "aliases": "\n".join(aliases), "indexed_at": now, "doc_chunks": doc_chunks,
            **({"location": chunk.location} if chunk.location else {}),
            **({"sentence_vectors": chunk.sentence_vectors} if chunk.sentence_vectors else {})}


def _write_calls(chunks: Sequence[Chunk], limit: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each write: whole documents, _WRITE_BATCH chunks or one longer one (cut at `limit`)."""
    start = end = 0
    for _, run in itertools.groupby(chunks, key=lambda c: c.source):
        n = sum(1 for _ in run)
        if end > start and end + n - start > _WRITE_BATCH:
            yield start, end
            start = end
        end += n
        while end - start > limit:
            yield start, start + limit
            start += limit
    if end > start:
        yield start, end


def chunk_from_record(chunk_id: str, text: str, meta: Mapping[str, Any]) -> Chunk:
    page = int(meta.get("page", -1))
    return Chunk(id=chunk_id, source=str(meta["source"]), title=str(meta.get("title", "")), text=text,
                 start=int(meta["start"]), end=int(meta["end"]), ordinal=int(meta.get("ordinal", 0)),
                 page=None if page < 0 else page, doc_sha=str(meta.get("doc_sha", "")),
                 location=str(meta.get("location", "")),
                 sentence_vectors=str(meta.get("sentence_vectors", "")))


def _chunks_of(got: Any) -> list[Chunk]:
    """The chunks of a `collection.get` result that included documents and metadatas."""
    return [chunk_from_record(i, t or "", m)
            for i, t, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)]


class Store:
    """Generations of chunks in Chroma, with the pointer to the active one."""

    def __init__(self, settings: Settings, client: ClientAPI | None = None) -> None:
        self.settings = settings
        self.prefix = settings.collection_prefix
        self.client = client if client is not None else open_client(settings)

    @property
    def location(self) -> str:
        return self.settings.chroma_url or str(self.settings.index_dir / "chroma")

    # -- generations --------------------------------------------------------------------------
    def _pointer(self) -> Collection:
        return self.client.get_or_create_collection(f"{self.prefix}-pointer", embedding_function=None)

    def active_name(self) -> str | None:
        meta = self._pointer().metadata or {}
        name = meta.get("active")
        return str(name) if name else None

    def active(self) -> Collection | None:
        """The collection answering queries, or None when nothing was indexed yet."""
        name = self.active_name()
        if not name:
            return None
        from chromadb.errors import NotFoundError

        try:
            return self.client.get_collection(name, embedding_function=None)
        except NotFoundError:  # the pointer names a deleted generation: treat as no index
            return None

    def create_generation(self, meta: dict[str, Any]) -> Collection:
        name = f"{self.prefix}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
        full = {**meta, "schema": SCHEMA_VERSION, "version": uuid.uuid4().hex, "created_at": time.time()}
        return self.client.create_collection(
            name, metadata=full, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)

    def activate(self, collection: Collection) -> None:
        """Point queries at `collection`, then drop every other generation of this prefix."""
        self._pointer().modify(metadata={"active": collection.name, "switched_at": time.time()})
        self.drop_stale(keep=collection.name)
        if not self.settings.chroma_url:
            from rag.chroma_client import remove_orphan_segments

            remove_orphan_segments(self.settings.index_dir / "chroma")

    def drop_stale(self, keep: str | None) -> None:
        """Delete every generation of this prefix but `keep` (never the pointer, nor the server lock)."""
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if (name.startswith(f"{self.prefix}-") and name not in (keep, f"{self.prefix}-pointer")
                    and not name.startswith(f"{self.prefix}-lock")):
                self.client.delete_collection(name)

    # -- metadata and version ----------------------------------------------------------------
    @staticmethod
    def version(collection: Collection) -> str:
        return str((collection.metadata or {}).get("version", ""))

    @staticmethod
    def set_version(collection: Collection, token: str | None = None) -> str:
        token = token or uuid.uuid4().hex
        meta = {**(collection.metadata or {}), "version": token, "updated_at": time.time()}
        meta.pop("hnsw:space", None)
        collection.modify(metadata=meta)
        return token

    # -- contents ---------------------------------------------------------------------------
    def documents(self, collection: Collection) -> dict[str, IndexedDocument]:
        """Per source path, what is indexed (read from the chunk metadata); doc_sha is "" for a document
        a crash left part-written (see `add`) or with two versions, so that the next run embeds it again."""
        found: dict[str, IndexedDocument] = {}
        whole: dict[str, int] = {}
        versions: dict[str, set[str]] = {}  # two: a crash between writing a new version and deleting the old
        for _ids, _texts, metas in self._pages(collection, include=["metadatas"]):
            for meta in metas:
                src = str(meta["source"])
                versions.setdefault(src, set()).add(str(meta.get("doc_sha", "")))
                whole[src] = int(meta.get("doc_chunks", 0))  # 0: written before it was recorded
                seen = found.get(src)
                found[src] = IndexedDocument(
                    source=src, title=str(meta.get("title", "")), doc_sha=str(meta.get("doc_sha", "")),
                    aliases=tuple(a for a in str(meta.get("aliases", "")).split("\n") if a),
                    chunks=(seen.chunks if seen else 0) + 1, indexed_at=float(meta.get("indexed_at", 0.0)))
        return {src: doc if whole[src] in (0, doc.chunks) and len(versions[src]) == 1 else replace(doc, doc_sha="")
                for src, doc in found.items()}

    def all_chunks(self, collection: Collection) -> list[Chunk]:
        chunks: list[Chunk] = []
        for ids, texts, metas in self._pages(collection, include=["documents", "metadatas"]):
            chunks.extend(chunk_from_record(i, t or "", m) for i, t, m in zip(ids, texts, metas, strict=True))
        return chunks

    def _pages(self, collection: Collection, include: list[str]) -> Iterable[tuple[list, list, list]]:
        offset, page = 0, 5000
        while True:
            got = collection.get(include=include, limit=page, offset=offset)  # type: ignore[arg-type]
            ids = got["ids"]
            if not ids:
                return
            texts: list[Any] = got.get("documents") or [None] * len(ids)
            yield ids, texts, got.get("metadatas") or [{}] * len(ids)
            if len(ids) < page:
                return
            offset += page

    def add(self, collection: Collection, chunks: Sequence[Chunk], vectors: np.ndarray,
            aliases: dict[str, tuple[str, ...]]) -> None:
        """Write `chunks` (whole documents), whole documents per call: a call is atomic in Chroma, so a crash leaves
        each all present or absent, but one longer than a call may be, which `documents` reports part-written."""
        now, doc_chunks = time.time(), Counter(c.source for c in chunks)
        for i, j in _write_calls(chunks, self.client.get_max_batch_size()):
            collection.upsert(
                ids=[c.id for c in chunks[i:j]], documents=[c.text for c in chunks[i:j]], embeddings=vectors[i:j],
                metadatas=[_chunk_metadata(c, aliases.get(c.source, ()), now, doc_chunks[c.source])  # type: ignore[misc]
                           for c in chunks[i:j]],
            )

    def delete_older(self, collection: Collection, current: Mapping[str, str]) -> None:
        """Delete the chunks of each source (path -> its current doc sha) that belong to another version."""
        for source, sha in current.items():
            collection.delete(where={"$and": [{"source": source}, {"doc_sha": {"$ne": sha}}]})  # type: ignore[dict-item]

    def delete_sources(self, collection: Collection, sources: Iterable[str]) -> None:
        for source in sources:
            collection.delete(where={"source": source})

    def set_aliases(self, collection: Collection, source: str, aliases: tuple[str, ...]) -> None:
        got = collection.get(where={"source": source}, include=["metadatas"])
        metas = [{**m, "aliases": "\n".join(aliases)} for m in got["metadatas"] or []]
        if got["ids"]:
            collection.update(ids=got["ids"], metadatas=metas)  # type: ignore[arg-type]

    def get_chunks(self, collection: Collection, ids: Sequence[str]) -> dict[str, Chunk]:
        if not ids:
            return {}
        got = collection.get(ids=list(ids), include=["documents", "metadatas"])  # type: ignore[list-item]
        return {c.id: c for c in _chunks_of(got)}

    def openings(self, collection: Collection, sources: Sequence[str]) -> list[Chunk]:
        """The first chunk of each of `sources`."""
        if not sources:
            return []
        where = {"$and": [{"source": {"$in": list(sources)}}, {"ordinal": 0}]}
        return _chunks_of(collection.get(where=where, include=["documents", "metadatas"]))  # type: ignore[arg-type,list-item]

    def chunks_at(self, collection: Collection, places: Sequence[tuple[str, int]]) -> list[Chunk]:
        """The chunks at these (source, ordinal) places that exist, in the order given."""
        if not places:
            return []
        sources, ordinals = sorted({s for s, _ in places}), sorted({o for _, o in places})
        where = {"$and": [{"source": {"$in": sources}}, {"ordinal": {"$in": ordinals}}]}
        found = {(c.source, c.ordinal): c for c in _chunks_of(collection.get(
            where=where, include=["documents", "metadatas"]))}  # type: ignore[arg-type,list-item]
        return [found[p] for p in places if p in found]

    def query(self, collection: Collection, vector: np.ndarray, n: int) -> list[tuple[Chunk, float]]:
        """Nearest chunks with cosine similarity (1 - distance), best first."""
        count = collection.count()
        if count == 0:
            return []
        got = collection.query(query_embeddings=[vector.tolist()], n_results=min(n, count),
                               include=["documents", "metadatas", "distances"])  # type: ignore[list-item]
        ids, texts = got["ids"][0], (got["documents"] or [[]])[0]
        metas, dists = (got["metadatas"] or [[]])[0], (got["distances"] or [[]])[0]
        return [(chunk_from_record(i, t or "", m), 1.0 - float(d))
                for i, t, m, d in zip(ids, texts, metas, dists, strict=True)]
