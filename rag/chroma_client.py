"""Opening Chroma, and what to do when it cannot be opened.

`open_client` gives an embedded `PersistentClient` under index_dir/chroma, or an `HttpClient` when
`chroma_url` is set. Failures become one-line `IndexUnavailableError`s (`store_error`); `damaged`
tells a damaged embedded index (kept aside by `quarantine_local_index`, then rebuilt) from a busy or
unreachable one. Chroma caches one system per folder per process: `forget_local_client` drops it,
after a failure or when another process changed the index.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import types
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from rag.config import Settings
from rag.errors import IndexUnavailableError, one_line

if TYPE_CHECKING:
    from chromadb.api import ClientAPI


def open_client(settings: Settings) -> ClientAPI:
    """A Chroma client for the settings: HTTP when `chroma_url` is set, else embedded on disk."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            heartbeat(settings.chroma_url, settings.chroma_timeout)
            return _http_client(chroma_settings, url.hostname or "127.0.0.1", url.port or 8000,
                                url.scheme == "https", settings.chroma_timeout)
        except Exception as exc:
            raise IndexUnavailableError(
                f"Chroma server at {settings.chroma_url} does not answer ({one_line(exc)})") from exc
    path = settings.index_dir / "chroma"
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except BaseException as exc:  # a damaged sqlite file can make Chroma's Rust side panic (a BaseException)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        forget_local_client(path)
        raise IndexUnavailableError(f"the index at {path} cannot be opened ({one_line(exc)})") from exc


def heartbeat(url: str, timeout: float) -> None:
    """GET the Chroma server's heartbeat within `timeout` seconds (raises when it does not answer)."""
    import urllib.request

    with urllib.request.urlopen(url.rstrip("/") + "/api/v2/heartbeat", timeout=timeout):  # noqa: S310
        pass


_timeout: ContextVar[float] = ContextVar("chroma_timeout", default=30.0)


def _http_client(chroma_settings: Any, host: str, port: int, ssl: bool, timeout: float) -> ClientAPI:
    """chromadb.HttpClient whose every request, its first ones (tenant, database) included, times out."""
    import chromadb
    import chromadb.api.fastapi

    _bound_requests(chromadb.api.fastapi)
    token = _timeout.set(timeout)
    try:
        return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=chroma_settings)
    finally:
        _timeout.reset(token)


def _bound_requests(module: Any) -> None:
    """chromadb 1.x builds its httpx session with timeout=None and has no setting for it: its module gets an
    httpx whose Client takes the timeout of the `_http_client` call that creates it."""
    import httpx

    if getattr(module.httpx, "rag_bounded", False):
        return

    class BoundedClient(httpx.Client):
        def __init__(self, *args: Any, timeout: Any = None, **kwargs: Any) -> None:
            super().__init__(*args, timeout=timeout if timeout is not None else _timeout.get(), **kwargs)

    bounded = types.ModuleType("httpx")
    bounded.__dict__.update(vars(httpx))
    bounded.Client = BoundedClient  # type: ignore[attr-defined]
    bounded.rag_bounded = True  # type: ignore[attr-defined]
    module.httpx = bounded


def remove_orphan_segments(path: Path) -> None:
    """Delete the vector-segment folders of dropped collections (Chroma leaves them behind on disk)."""
    import re
    import sqlite3

    db = path / "chroma.sqlite3"
    if not db.is_file():
        return
    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)) as con:
        live = {str(row[0]) for row in con.execute("SELECT id FROM segments")}
    for folder in path.iterdir():
        if folder.is_dir() and re.fullmatch(r"[0-9a-f-]{36}", folder.name) and folder.name not in live:
            shutil.rmtree(folder, ignore_errors=True)


def forget_local_client(path: Path, grace: float = 0.0) -> None:
    """Drop Chroma's per-process system for an embedded index folder, so the next client starts a new
    one that reads the folder afresh, and stop the old one after `grace` seconds.

    Chroma keeps one system per folder for the life of the process, even a failed one (reopening
    after a failure or a move would get the dead one), and its vector segment is read once (chunks
    another process adds later are not seen through it). A grace period lets searches still running
    on the old system finish.
    """
    import threading

    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(str(path), None)
    SharedSystemClient._identifier_to_refcount.pop(str(path), None)
    if system is None:
        return
    if grace <= 0:
        _stop_quietly(system)
        return
    timer = threading.Timer(grace, _stop_quietly, args=(system,))
    timer.daemon = True
    timer.start()


def _stop_quietly(system: Any) -> None:
    with contextlib.suppress(BaseException):
        system.stop()


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
            f"the Chroma server at {settings.chroma_url} does not answer ({one_line(exc)}); is it running?")
    location = settings.chroma_url or str(settings.index_dir / "chroma")
    return IndexUnavailableError(f"the index at {location} cannot be {doing} ({one_line(exc)})")


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
