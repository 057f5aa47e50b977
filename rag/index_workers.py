"""Loading and chunking documents for the indexer, in this process or in worker processes.

`loaded_chunks` yields each file's chunks in the files' order. With `workers` > 0, that many processes
(started with `spawn`: never a fork of a process holding torch's threads) read and chunk files while the
calling process embeds and writes what they already returned; at most `AHEAD` files per worker are in
flight, so memory stays bounded however far embedding falls behind. A file that cannot be used comes
back as its skip reason, never an exception. What it leaves out: embedding in the workers (one model
per process would not fit a small machine's memory, and torch already uses every core to embed).
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from rag.chunk import chunk_document
from rag.errors import SkipFile
from rag.limits import FileLimits
from rag.load import SourceFile, load
from rag.models import Chunk

AHEAD = 8


@dataclass(frozen=True)
class Loaded:
    """One file's chunks, the warnings its loading gave, or why it was skipped."""

    file: SourceFile
    chunks: list[Chunk] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: str | None = None


def load_and_chunk(file: SourceFile, chunk_size: int, chunk_overlap: int, limits: FileLimits) -> Loaded:
    warnings: list[str] = []
    try:
        doc = load(file, warn=warnings.append, limits=limits)
    except SkipFile as exc:
        return Loaded(file, warnings=warnings, skipped=str(exc))
    return Loaded(file, chunk_document(doc, chunk_size, chunk_overlap), warnings)


def loaded_chunks(files: Sequence[SourceFile], chunk_size: int, chunk_overlap: int, limits: FileLimits,
                  workers: int = 0) -> Iterator[Loaded]:
    """Each of `files` loaded and chunked, in order (see the module docstring)."""
    if workers <= 0 or len(files) < 2:
        for file in files:
            yield load_and_chunk(file, chunk_size, chunk_overlap, limits)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(files)), mp_context=context) as pool:
        pending: deque[Future[Loaded]] = deque()
        todo = iter(files)
        for file in todo:
            pending.append(pool.submit(load_and_chunk, file, chunk_size, chunk_overlap, limits))
            if len(pending) >= AHEAD * workers:
                break
        while pending:
            result = pending.popleft().result()
            for file in todo:  # one more in flight for each one taken
                pending.append(pool.submit(load_and_chunk, file, chunk_size, chunk_overlap, limits))
                break
            yield result
