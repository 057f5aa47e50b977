"""Build and update the index: scan -> plan -> load -> chunk -> embed -> write, under a lock.

Incremental by default: only new and changed files are embedded, removed files' chunks are deleted.
A document's chunks are written in one Chroma call (new ids: they hold the content's hash), then an
edited document's old chunks are deleted, so a crash leaves it whole, old or new (or both, which the next
run sees and cleans); one too long for a call, over 5000 chunks, is embedded again by the next run if a
crash cut it, see Store.add. `rebuild=True` (or a change of embedder/chunker/schema) fills a new
generation and switches to it only at the end: a crash half-way leaves the previous index answering.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from filelock import FileLock, Timeout

from rag.chroma_client import damaged, quarantine_local_index, store_error, unreachable
from rag.config import Settings
from rag.embed import Embedder, embedder_for
from rag.errors import ConfigError, IndexBusyError, IndexUnavailableError, NoDocumentsError
from rag.index_workers import loaded_chunks
from rag.lexical import build_lexical
from rag.limits import limits_for
from rag.load import SUPPORTED, Skipped, SourceFile, scan
from rag.models import Chunk
from rag.sentvec import with_sentence_vectors
from rag.server_lock import ServerLock
from rag.store import SCHEMA_VERSION, Store

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

ProgressFn = Callable[[int, int, int, str], None]  # files done, files to do, chunks embedded, message
_EMBED_BATCH_CHUNKS = 256


@dataclass
class IndexReport:
    """What one `rag index` run did."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: dict[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_total: int = 0
    documents_total: int = 0
    seconds: float = 0.0
    rebuilt: str | None = None  # why a fresh generation was built, if it was
    repaired: bool = False  # a damaged embedded index was moved aside (open Store objects are stale)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed", f"{len(self.removed)} removed",
                 f"{self.unchanged} unchanged", f"{len(self.skipped)} skipped"]
        head = ("Nothing changed: 0 chunks embedded" if not (self.added or self.changed or self.removed)
                else f"{self.chunks_embedded} chunks embedded")
        return (f"{head}. Files: {', '.join(parts)}. Index: {self.documents_total} documents, "
                f"{self.chunks_total} chunks. {self.seconds:.1f} s.")


def index_meta(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """What a generation must agree on with the settings to be reused."""
    return {"embed_model": embedder.identity, "embed_dim": embedder.dimension,
            "chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap}


def incompatibility(collection: Collection, wanted: dict[str, Any]) -> str | None:
    """Why an existing generation cannot be reused, or None."""
    meta = collection.metadata or {}
    if meta.get("schema") is None:
        return f"the index has no format version (made by an older rag; the current format is {SCHEMA_VERSION})"
    if meta.get("schema") != SCHEMA_VERSION:
        return f"index format {meta.get('schema')} is not the current {SCHEMA_VERSION}"
    for key, value in wanted.items():
        if meta.get(key) != value:
            return f"{key} changed from {meta.get(key)!r} to {value!r}"
    return None


def mixed_embedders(collection: Collection, embedder: Embedder) -> str | None:
    """One line when the index holds vectors of another embedder and a served one is involved, else None.

    Such a mismatch is refused rather than rebuilt: a served model usually indexed far more than this
    machine could embed again, and a front end that only forgot `embed_api_url` must not rebuild a shared
    index with its own model. (Between two in-process models, a rebuild follows as before.)
    """
    meta = collection.metadata or {}
    had = str(meta.get("embed_model", ""))
    if not had:
        return None
    has = embedder.identity
    if (had, meta.get("embed_dim")) == (has, embedder.dimension) or not (had.startswith("api:")
                                                                        or has.startswith("api:")):
        return None
    return (f"the index holds vectors of {had} ({meta.get('embed_dim')} dimensions) and cannot be used with "
            f"{has} ({embedder.dimension}): set the embedder back (RAG_EMBED_API_URL / RAG_EMBED_MODEL), "
            "or run `rag index --rebuild` to embed every document again")


class IndexLock(Protocol):
    """The one-indexer lock: a file in index_dir, or a record in the Chroma server (rag.server_lock)."""

    def check(self) -> None: ...
    def release(self) -> None: ...


@dataclass
class LocalLock:
    """The lock file `index_dir/index.lock` (one machine)."""

    file: FileLock

    def check(self) -> None:
        """A file lock cannot be lost while held."""

    def release(self) -> None:
        self.file.release()


def index_lock(settings: Settings, wait: float = 0.0, store: Store | None = None) -> IndexLock:
    """The lock for writing the index, taken within `wait` seconds, else IndexBusyError in one line."""
    if settings.chroma_url:
        client = (store or Store(settings)).client
        return ServerLock(client, settings.collection_prefix, settings.index_lock_lease,
                          settings.chroma_url).acquire(wait)
    try:
        settings.index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IndexUnavailableError(f"cannot use {settings.index_dir} as the index folder ({exc.strerror})") from exc
    lock = FileLock(str(settings.index_dir / "index.lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout as exc:
        raise IndexBusyError(
            f"another indexer is running on {settings.index_dir} (lock held); wait for it to finish") from exc
    return LocalLock(lock)


def build_index(settings: Settings, *, rebuild: bool = False, embedder: Embedder | None = None,
                store: Store | None = None, progress: ProgressFn | None = None,
                wait: float = 0.0) -> IndexReport:
    """Bring the index in line with `settings.docs_dir`; see the module docstring."""
    started = time.perf_counter()
    if settings.chroma_url:
        store = store or Store(settings)
    try:
        lock = index_lock(settings, wait, store)
    except Exception as exc:
        if settings.chroma_url and unreachable(exc):
            raise store_error(settings, exc, "written") from exc
        raise
    try:
        embedder = embedder or embedder_for(settings)
        files, skipped = scan(settings.docs_dir, settings.max_file_mb, settings.follow_outside_links)
        report = IndexReport(skipped=list(skipped))
        if not files and not skipped:
            raise NoDocumentsError(
                f"no documents in {settings.docs_dir} (supported: {' '.join(SUPPORTED)})")
        try:
            _run(settings, store or Store(settings), embedder, files, report, rebuild, progress, lock)
        except Exception as exc:
            lock.check()  # lost to another indexer (which may have dropped this run's generation): say so
            if settings.chroma_url and unreachable(exc):  # the server went away: one line, not a traceback
                raise store_error(settings, exc, "written") from exc
            if not damaged(settings, exc):
                raise
            # the embedded index's files are damaged: keep them aside for inspection, build afresh
            moved = quarantine_local_index(settings.index_dir)
            report = IndexReport(skipped=list(skipped))
            _run(settings, Store(settings), embedder, files, report, True, progress, lock)
            report.rebuilt = f"{store_error(settings, exc)}; it was moved to {moved}"
            report.repaired = True
        report.seconds = time.perf_counter() - started
        return report
    finally:
        lock.release()


def _run(settings: Settings, store: Store, embedder: Embedder, files: list[SourceFile],
         report: IndexReport, rebuild: bool, progress: ProgressFn | None, lock: IndexLock) -> None:
    wanted = index_meta(settings, embedder)
    current = store.active()
    store.drop_stale(keep=current.name if current else None)  # leftovers of a crashed rebuild
    if not rebuild and current is not None and (mixed := mixed_embedders(current, embedder)):
        raise ConfigError(mixed)
    reason = "--rebuild asked" if rebuild else ("no index yet" if current is None else
                                                incompatibility(current, wanted))
    if reason:
        target = store.create_generation(wanted)
        report.rebuilt = reason
        indexed = {}
    else:
        assert current is not None
        target = current
        indexed = store.documents(target)
        Store.set_version(target, f"dirty-{uuid.uuid4().hex}")
    report.duplicates = {f.path: f.aliases for f in files if f.aliases}
    todo = _plan(files, indexed, report)
    if target is current:
        store.delete_sources(target, report.removed)
        for f in files:
            seen = indexed.get(f.path)
            if seen and seen.doc_sha == f.sha and seen.aliases != f.aliases:
                store.set_aliases(target, f.path, f.aliases)
    _embed_and_write(settings, store, embedder, target, todo, report, progress)
    lock.check()  # never switch to (or mark clean) what was written after the lock was lost
    Store.set_version(target)
    _, chunks = build_lexical(store, target)
    if target is not current:
        store.activate(target)
    report.chunks_total = len(chunks)
    report.documents_total = len({c.source for c in chunks})


def _plan(files: list[SourceFile], indexed: dict, report: IndexReport) -> list[SourceFile]:
    todo = []
    for f in files:
        seen = indexed.get(f.path)
        if seen is None:
            report.added.append(f.path)
            todo.append(f)
        elif seen.doc_sha != f.sha:
            report.changed.append(f.path)
            todo.append(f)
        else:
            report.unchanged += 1
    current = {f.path for f in files}
    report.removed = sorted(src for src in indexed if src not in current)
    return todo


def _chunked(settings: Settings, todo: list[SourceFile], report: IndexReport,
             ) -> Iterator[tuple[SourceFile, list[Chunk]]]:
    for loaded in loaded_chunks(todo, settings.chunk_size, settings.chunk_overlap, limits_for(settings),
                                settings.index_workers):
        report.warnings += loaded.warnings
        if loaded.skipped is not None:
            report.skipped.append(Skipped(loaded.file.path, loaded.skipped))
            if loaded.file.path in report.added:  # counted once, as skipped ("28 added, 18 skipped" for 10)
                report.added.remove(loaded.file.path)
        yield loaded.file, loaded.chunks


def _embed_and_write(settings: Settings, store: Store, embedder: Embedder, target: Collection,
                     todo: list[SourceFile], report: IndexReport, progress: ProgressFn | None) -> None:
    """Embed in batches of whole documents; an edited document's old chunks go just after its new ones are
    written, so a crash in between leaves the old version answering (and the next run finishes the job)."""
    batch: list[tuple[SourceFile, list[Chunk]]] = []
    done = 0

    def flush() -> None:
        nonlocal done
        chunks = [c for _, cs in batch for c in cs]
        vectors = embedder.encode_documents([c.text for c in chunks])
        if settings.sentence_vectors:
            chunks = with_sentence_vectors(chunks, embedder)
        store.add(target, chunks, vectors, {f.path: f.aliases for f, _ in batch})  # new ids: the old version
        store.delete_older(target, {f.path: f.sha for f, _ in batch if f.path in report.changed})  # answers till here
        report.chunks_embedded += len(chunks)
        done += len(batch)
        batch.clear()
        if progress:
            progress(done, len(todo), report.chunks_embedded, "")

    if progress:
        progress(0, len(todo), 0, "embedding")
    for f, chunks in _chunked(settings, todo, report):
        batch.append((f, chunks))
        if sum(len(cs) for _, cs in batch) >= _EMBED_BATCH_CHUNKS:
            flush()
    if batch:
        flush()
