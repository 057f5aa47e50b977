"""Bounds on the work one document may cost, so a hostile or broken file is skipped, not waited for.

A PDF (and an office file: zip archives can be bombs too) is read in a worker process forked from a
forkserver that has the readers imported: the worker is killed when it takes longer than
`FileLimits.seconds`, and the file is skipped with one line. Inside it, pypdf decompresses no stream
beyond `pdf_content_mb` and the pages' content streams together may not exceed that either (six pages
sharing one 70 MB stream count 420 MB), and a PDF of more than `pdf_pages` pages is refused unread.
Left out: a memory cap on the worker (the content budget bounds what pypdf holds).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rag.errors import SkipFile

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from rag.config import Settings
    from rag.load import SourceFile
    from rag.models import Document

_PRELOAD = ["rag.load", "rag.load_pdf", "pypdf"]


@dataclass(frozen=True)
class FileLimits:
    """The most one file may cost: seconds of reading, PDF pages, decompressed PDF content."""

    seconds: float = 60.0
    pdf_pages: int = 2000
    pdf_content_mb: float = 50.0


_current: ContextVar[FileLimits | None] = ContextVar("file_limits", default=None)


def current_limits() -> FileLimits:
    """The limits of the file being read (set by `load_bounded` in its worker; the defaults elsewhere)."""
    return _current.get() or FileLimits()


def limits_for(settings: Settings) -> FileLimits:
    return FileLimits(settings.file_seconds, settings.pdf_max_pages, settings.pdf_max_content_mb)


def _worker(conn: Connection, file: SourceFile, limits: FileLimits) -> None:
    from rag.load import load

    warnings: list[str] = []
    _current.set(limits)
    try:
        conn.send((True, load(file, warnings.append), warnings))
    except BaseException as exc:  # load raises SkipFile only; anything else is sent back all the same
        conn.send((False, exc, warnings))
    finally:
        conn.close()


def load_bounded(file: SourceFile, warn: Callable[[str], None], limits: FileLimits) -> Document:
    """`rag.load.load(file)` in a worker process killed after `limits.seconds` (then SkipFile)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(_PRELOAD)
    receive, send = ctx.Pipe(duplex=False)
    worker = ctx.Process(target=_worker, args=(send, file, limits), daemon=True)
    worker.start()
    send.close()
    try:
        if not receive.poll(limits.seconds):
            raise SkipFile(f"reading took over {limits.seconds:g} s (file_seconds); skipped")
        ok, result, warnings = _received(receive)
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        receive.close()
    for line in warnings:
        warn(line)
    if not ok:
        raise result
    return result  # type: ignore[no-any-return]


def _received(receive: Connection) -> tuple[bool, Any, list[str]]:
    try:
        return receive.recv()  # type: ignore[no-any-return]
    except (EOFError, OSError) as exc:  # the worker died (e.g. killed for memory)
        raise SkipFile(f"the reader process died ({type(exc).__name__})") from None
