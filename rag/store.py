"""The Chroma side of the index: embedded (`PersistentClient` under index_dir) or a server (`HttpClient`).

An index is one *generation*: a collection named `<prefix>-<id>`. A tiny pointer collection
`<prefix>-pointer` names the active generation in its metadata, so a rebuild fills a new generation
and switches to it only when complete, and every process sharing a server sees the switch. The active
collection's metadata records the embedding model, its dimension, the chunker settings and a
`version` token that changes whenever its contents do (the BM25 side is keyed by it).
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np

from rag.config import Settings
from rag.errors import IndexUnavailableError
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


def _chunk_metadata(chunk: Chunk, aliases: Sequence[str], now: float) -> dict[str, Any]:
    return {"source": chunk.source, "title": chunk.title, "start": chunk.start, "end": chunk.end,
            "ordinal": chunk.ordinal, "page": -1 if chunk.page is None else chunk.page,
            "doc_sha": chunk.doc_sha, "aliases": "\n".join(aliases), "indexed_at": now}


def chunk_from_record(chunk_id: str, text: str, meta: Mapping[str, Any]) -> Chunk:
    page = int(meta.get("page", -1))
    return Chunk(id=chunk_id, source=str(meta["source"]), title=str(meta.get("title", "")), text=text,
                 start=int(meta["start"]), end=int(meta["end"]), ordinal=int(meta.get("ordinal", 0)),
                 page=None if page < 0 else page, doc_sha=str(meta.get("doc_sha", "")))


def open_client(settings: Settings) -> ClientAPI:
    """A Chroma client for the settings: HTTP when `chroma_url` is set, else embedded on disk."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            return chromadb.HttpClient(host=url.hostname or "127.0.0.1", port=url.port or 8000,
                                       ssl=url.scheme == "https", settings=chroma_settings)
        except Exception as exc:
            raise IndexUnavailableError(
                f"Chroma server at {settings.chroma_url} does not answer ({_short(exc)})") from exc
    path = settings.index_dir / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except BaseException as exc:  # a damaged sqlite file can make Chroma's Rust side panic (a BaseException)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        forget_local_client(path)
        raise IndexUnavailableError(f"the index at {path} cannot be opened ({_short(exc)})") from exc


def forget_local_client(path: Path) -> None:
    """Stop and drop Chroma's per-process cached system for an embedded index folder.

    Chroma keeps one system per folder for the life of the process, even one that failed to start;
    without this, reopening the folder after a failure (or after moving it aside) gets the dead one.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(str(path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    if system is not None:
        _stop_quietly(system)


def detach_local_client(path: Path, grace: float = 60.0) -> None:
    """Make the next client for an embedded index folder load it afresh from disk.

    Chroma's embedded vector segment is read once per process: chunks another process adds later are
    not seen through it. The cached system is dropped now (so the next client starts a new one) and
    stopped after `grace` seconds, so searches still running on it can finish.
    """
    import threading

    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(str(path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    if system is not None:
        timer = threading.Timer(grace, _stop_quietly, args=(system,))
        timer.daemon = True
        timer.start()


def _stop_quietly(system: Any) -> None:
    with contextlib.suppress(BaseException):
        system.stop()


def _short(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def unreachable(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is a failure to reach a server, not a problem of the index."""
    import httpx
    return any(isinstance(e, httpx.TransportError | ConnectionError | TimeoutError) for e in _causes(exc))


def _causes(exc: BaseException | None) -> Iterator[BaseException]:  # each once: a chain may loop
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__


def store_error(settings: Settings, exc: BaseException, doing: str = "read") -> IndexUnavailableError:
    """The one-line error for a failed store call: the server does not answer, or the index cannot be `doing`."""
    if isinstance(exc, IndexUnavailableError):  # a copy: `raise store_error(s, e) from e` must not loop e's cause
        return IndexUnavailableError(str(exc))
    if settings.chroma_url and unreachable(exc):
        return IndexUnavailableError(
            f"the Chroma server at {settings.chroma_url} does not answer ({_short(exc)}); is it running?")
    location = settings.chroma_url or str(settings.index_dir / "chroma")
    return IndexUnavailableError(f"the index at {location} cannot be {doing} ({_short(exc)})")


_DAMAGED = ("database disk image is malformed", "file is not a database", "no such table", "no such column")


def damaged(settings: Settings, exc: BaseException | None) -> bool:
    """True when `exc` (or its cause) says the files of the embedded index are damaged, or sqlite finds
    them malformed. Never for a Chroma server (not ours to move aside), nor for a busy or unreadable index."""
    if settings.chroma_url or exc is None:
        return False
    if any(isinstance(e, FileExistsError | NotADirectoryError)  # index_dir/chroma is a file
           or any(sign in str(e).lower() for sign in _DAMAGED) for e in _causes(exc)):
        return True
    # e.g. "Failed to pull logs from the log store": only sqlite itself can tell whether that is damage
    return not unreachable(exc) and _sqlite_damaged(settings.index_dir / "chroma" / "chroma.sqlite3")


def _sqlite_damaged(db: Path) -> bool:
    import sqlite3
    if not db.is_file():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)) as con:
            return con.execute("PRAGMA quick_check").fetchall() != [("ok",)]
    except sqlite3.DatabaseError as exc:  # "database is locked" or unreadable is not damage
        return any(sign in str(exc).lower() for sign in _DAMAGED)


def quarantine_local_index(index_dir: Path) -> Path | None:
    """Move a broken embedded index aside (kept for inspection) so a fresh one can be built."""
    path = index_dir / "chroma"
    forget_local_client(path)
    if not path.exists():
        return None
    target = index_dir / f"chroma.broken-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    shutil.move(str(path), str(target))
    return target


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

    def drop_stale(self, keep: str | None) -> None:
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name.startswith(f"{self.prefix}-") and name not in (keep, f"{self.prefix}-pointer"):
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
        """Per source path, what is indexed (read from the chunk metadata)."""
        found: dict[str, IndexedDocument] = {}
        for _ids, _texts, metas in self._pages(collection, include=["metadatas"]):
            for meta in metas:
                src = str(meta["source"])
                seen = found.get(src)
                found[src] = IndexedDocument(
                    source=src, title=str(meta.get("title", "")), doc_sha=str(meta.get("doc_sha", "")),
                    aliases=tuple(a for a in str(meta.get("aliases", "")).split("\n") if a),
                    chunks=(seen.chunks if seen else 0) + 1, indexed_at=float(meta.get("indexed_at", 0.0)))
        return found

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
        """Write chunks in one call per batch (each call is atomic in Chroma)."""
        now = time.time()
        for i in range(0, len(chunks), _WRITE_BATCH):
            part = chunks[i:i + _WRITE_BATCH]
            collection.upsert(
                ids=[c.id for c in part], documents=[c.text for c in part],
                embeddings=vectors[i:i + _WRITE_BATCH],
                metadatas=[_chunk_metadata(c, aliases.get(c.source, ()), now) for c in part],  # type: ignore[misc]
            )

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
        return {i: chunk_from_record(i, t or "", m)
                for i, t, m in zip(got["ids"], got["documents"] or [], got["metadatas"] or [], strict=True)}

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
