"""Integration: one indexer at a time across machines, through the lock record in a real `chroma run`.

"Machines" are processes with different `RAG_INDEX_DIR`s (so no lock file is shared): what they share
is the server alone. The lease is kept short through `RAG_INDEX_LOCK_LEASE`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_chroma_server import env_for, front_end

from helpers import ROOT, SEED_FILE, SEEDS, ChromaServer, bbc_files
from rag.config import Settings
from rag.errors import IndexBusyError
from rag.server_lock import ServerLock
from rag.service import Engine, answer
from rag.store import Store

pytestmark = [pytest.mark.chroma_server, pytest.mark.timeout(600)]

LEASE = 5.0  # short, yet long enough for renewals on a loaded 2-core machine


@pytest.fixture
def chroma(chroma_server: ChromaServer) -> ChromaServer:
    """The real `chroma run` of conftest, under a shorter name."""
    return chroma_server


def _client(server: ChromaServer):
    return Store(Settings(chroma_url=server.url)).client


def _docs(tmp_path: Path, n: int) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / SEED_FILE, docs / SEED_FILE)
    for path in bbc_files(n):
        shutil.copy(path, docs / f"{path.parent.name}-{path.name}")
    return docs


def _popen(settings: Settings, *args: str) -> subprocess.Popen[str]:
    env = {**env_for(settings), "RAG_INDEX_LOCK_LEASE": str(LEASE)}
    return subprocess.Popen([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _lock_record(server: ChromaServer, timeout: float = 120.0) -> dict:
    """The lock record once an indexer has created it."""
    client, deadline = _client(server), time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "rag-lock" in server.collections():
            return dict(client.get_collection("rag-lock").metadata or {})
        time.sleep(0.1)
    raise AssertionError("no indexer took the lock")


def _indexed_sources(settings: Settings) -> set[str]:
    store = Store(settings)
    active = store.active()
    assert active is not None
    return set(store.documents(active))


def test_a_second_lock_is_refused_naming_the_holder_then_taken_after_release_or_expiry(chroma):
    client = _client(chroma)
    first = ServerLock(client, "rag", lease=LEASE, where=chroma.url).acquire()
    second = ServerLock(client, "rag", lease=LEASE, where=chroma.url)
    time.sleep(LEASE * 1.5)  # longer than the lease: the holder's renewals keep it
    with pytest.raises(IndexBusyError) as busy:
        second.acquire(wait=0.5)
    message = str(busy.value)
    assert "\n" not in message and chroma.url in message and first.holder in message
    assert re.search(r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(lease renewed \d+ s ago\)", message), message
    first.check()  # still ours
    first.release()
    assert "rag-lock" not in chroma.collections()
    second.acquire(wait=0)

    # a holder that stops renewing (as if frozen) loses the lock after its lease, and is told so
    second._stop.set()
    third = ServerLock(client, "rag", lease=LEASE, where=chroma.url)
    started = time.monotonic()
    third.acquire(wait=LEASE * 5)
    assert time.monotonic() - started <= LEASE * 2 + 1.0
    with pytest.raises(IndexBusyError, match="expired and was taken by"):
        second.check()
    second.release()  # must not delete the new holder's record
    assert _client(chroma).get_collection("rag-lock").metadata["token"] == third.token
    third.release()
    assert not {c for c in chroma.collections() if c.startswith("rag-lock")}


@pytest.mark.slow
def test_two_machines_rebuilding_at_once_one_waits_and_nothing_is_lost(tmp_path, chroma):
    docs = _docs(tmp_path, 30)
    one, two = front_end(tmp_path, docs, chroma, "m1"), front_end(tmp_path, docs, chroma, "m2")
    first = _popen(one, "index", "--rebuild")
    waiter: subprocess.Popen[str] | None = None
    try:
        holder = _lock_record(chroma)["holder"]
        assert holder.endswith(f":{first.pid}")
        refused = subprocess.run([sys.executable, "-m", "rag", "index", "--rebuild"], cwd=ROOT, text=True,
                                 capture_output=True, env=env_for(two), timeout=180)
        assert refused.returncode == 1
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: another indexer is writing the index at "
                                                       f"{chroma.url}: {holder} since "), refused.stderr
        waiter = _popen(two, "index", "--rebuild", "--wait", "300")
        time.sleep(2)
        assert first.poll() is None and waiter.poll() is None, "the second waits while the first indexes"
        out_one, err_one = first.communicate(timeout=400)
        out_two, err_two = waiter.communicate(timeout=400)
    finally:
        for proc in (first, waiter):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert first.returncode == 0 and "Traceback" not in err_one, err_one
    assert waiter.returncode == 0 and "Traceback" not in err_two, err_two
    total = len(list(docs.iterdir()))
    for out in (out_one, out_two):  # each built a whole generation and switched to it
        assert "Built a fresh index: --rebuild asked." in out and f"Index: {total} documents" in out, out
    assert _indexed_sources(one) == {p.name for p in docs.iterdir()}
    assert {c for c in chroma.collections() if not c.startswith("rag-2")} == {"rag-pointer"}


@pytest.mark.slow
def test_a_killed_holder_releases_the_lock_within_its_lease_and_the_next_run_finishes(
        tmp_path, chroma, embedder):
    docs = _docs(tmp_path, 30)
    one, two = front_end(tmp_path, docs, chroma, "m1"), front_end(tmp_path, docs, chroma, "m2")
    holder = _popen(one, "index")
    try:
        _lock_record(chroma)
        time.sleep(3)  # well into loading the model and embedding
        assert holder.poll() is None
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.communicate()
    killed_at = time.monotonic()
    record = _lock_record(chroma)
    server_now = _client(chroma).heartbeat() / 1e9
    assert record["expires"] - server_now <= LEASE, "the lease runs out within its length after the kill"

    next_run = _popen(two, "index", "--wait", "120")
    out, err = next_run.communicate(timeout=400)
    assert next_run.returncode == 0 and "Traceback" not in err, err
    assert time.monotonic() - killed_at < 400
    assert f"Index: {len(list(docs.iterdir()))} documents" in out, out
    assert not {c for c in chroma.collections() if c.startswith("rag-lock")}
    engine = Engine(one, embedder)
    result = answer("Who claimed what about export controls?", engine=engine)
    assert "Sacks" in result.text and SEED_FILE in {c.source for c in result.citations}
