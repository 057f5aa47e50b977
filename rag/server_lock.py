"""The indexing lock of a Chroma server: one indexer at a time, from any machine.

With `chroma_url` set, the lock is a record in the server: a collection `<prefix>-lock` whose metadata
says who holds it (`host:pid`), since when, and until when its lease runs. Creating a collection is
atomic in Chroma (a second create of the same name fails), so only one process creates the record. The
holder renews the lease from a thread every third of `index_lock_lease`; a holder killed with `kill -9`
stops renewing and its record expires. Times are the server's (its heartbeat clock), so machines
whose clocks disagree still agree on expiry.

Taking over an expired record is itself guarded: the taker first creates `<prefix>-lock-takeover-<token>`
for the expired record's token (atomic again: one taker per expired record), checks the record still
carries that token, deletes it and creates its own. What this leaves out: Chroma has no compare-and-swap,
so a holder that stalls longer than its lease (a paused VM) may find the lock taken; `check` tells it so
before it switches generations, and it stops with `IndexBusyError` rather than overwrite the other's work.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from rag.errors import IndexBusyError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

_NS = 1e9


def _server_now(client: ClientAPI) -> float:
    """The server's clock, in seconds since the epoch."""
    return client.heartbeat() / _NS


def _created(client: ClientAPI, name: str, metadata: dict[str, Any]) -> Collection | None:
    """Create collection `name`; None when it exists already (another process created it first)."""
    from chromadb.errors import ChromaError

    try:
        return client.create_collection(name, metadata=metadata, embedding_function=None)
    except (ChromaError, ValueError) as exc:
        if "exist" in str(exc).lower():
            return None
        raise


def _read(client: ClientAPI, name: str) -> dict[str, Any] | None:
    from chromadb.errors import NotFoundError

    try:
        return dict(client.get_collection(name, embedding_function=None).metadata or {})
    except (NotFoundError, ValueError):
        return None


def describe(record: dict[str, Any], now: float) -> str:
    """'host:pid since 05:32:10 UTC (lease renewed 3 s ago)' for the one-line busy message."""
    since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(record.get("since", 0))))
    renewed = max(0.0, now - float(record.get("renewed", 0)))
    return f"{record.get('holder', 'an unknown process')} since {since} (lease renewed {renewed:.0f} s ago)"


class ServerLock:
    """The index lock in a Chroma server; `acquire` waits up to `wait` seconds, then says who holds it.

    >>> lock = ServerLock(client, "rag", lease=30.0, where="http://127.0.0.1:8000")  # doctest: +SKIP
    >>> lock.acquire(wait=0)   # IndexBusyError naming the holder and since when, if another holds it
    >>> lock.release()
    """

    def __init__(self, client: ClientAPI, prefix: str, lease: float, where: str) -> None:
        self.client, self.lease, self.where = client, lease, where
        self.name = f"{prefix}-lock"
        self.token = uuid.uuid4().hex
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.lost: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._takeover: str | None = None
        self._record: Collection | None = None  # ours, by id: a record re-created by another is not it
        self._since = 0.0

    def acquire(self, wait: float = 0.0) -> ServerLock:
        deadline = time.monotonic() + wait
        while True:
            now = _server_now(self.client)
            self._record = _created(self.client, self.name, self._metadata(now, since=now))
            if self._record is not None:
                break
            record = _read(self.client, self.name)
            if record is None:  # released just now: try again at once
                continue
            if float(record.get("expires", 0)) < now:
                self._record = self._take_over(record, now)
                if self._record is not None:
                    break
            if time.monotonic() >= deadline:
                raise IndexBusyError(f"another indexer is writing the index at {self.where}: "
                                     f"{describe(record, now)}; wait for it to finish (rag index --wait SECONDS)")
            time.sleep(min(1.0, self.lease / 4, max(0.05, deadline - time.monotonic())))
        self._renewer = threading.Thread(target=self._renew_loop, name="index-lock-lease", daemon=True)
        self._renewer.start()
        return self

    def _metadata(self, now: float, since: float) -> dict[str, Any]:
        self._since = since
        return {"holder": self.holder, "token": self.token, "since": since, "renewed": now,
                "expires": now + self.lease}

    def _take_over(self, expired: dict[str, Any], now: float) -> Collection | None:
        """Replace an expired record; only the one process that creates its takeover marker may."""
        marker = f"{self.name}-takeover-{expired.get('token', 'none')}"
        if _created(self.client, marker, {"by": self.holder, "at": now}) is None:
            return None
        self._takeover = marker
        current = _read(self.client, self.name)
        if current is not None and current.get("token") == expired.get("token"):
            with contextlib.suppress(Exception):
                self.client.delete_collection(self.name)
        return _created(self.client, self.name, self._metadata(now, since=now))

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.check()
                assert self._record is not None
                self._record.modify(metadata=self._metadata(_server_now(self.client), since=self._since))
            except IndexBusyError:
                return
            except Exception:  # noqa: S112 - the server may be briefly away: try again next period
                continue

    def check(self) -> None:
        """Raise IndexBusyError when another process holds the lock now (ours expired and was taken)."""
        try:
            record = _read(self.client, self.name)
            if record is not None and record.get("token") != self.token:
                self.lost = describe(record, _server_now(self.client))
        except Exception:  # noqa: S110 - the server does not answer: the caller's next call says so
            pass
        if self.lost:
            raise IndexBusyError(f"this indexer's lock on {self.where} expired and was taken by {self.lost}; "
                                 "its work was not switched to (run rag index again)")

    def release(self) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        with contextlib.suppress(Exception):
            if (_read(self.client, self.name) or {}).get("token") == self.token:
                self.client.delete_collection(self.name)
            if self._takeover:
                self.client.delete_collection(self._takeover)
