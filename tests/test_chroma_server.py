"""Integration: a real `chroma run` server on loopback, shared by several front ends (issue 7).

Each front end gets its own local `index_dir` (only its lock and its BM25 cache live there), so what
they share is the server alone: the BM25 side has to be rebuilt from the server's documents whenever
another process changed the collection.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from helpers import ROOT, SEED_FILE, ChromaServer, free_port
from rag.config import Settings
from rag.errors import IndexUnavailableError
from rag.health import health_lines, store_health
from rag.service import Engine, answer
from rag.store import Store

pytestmark = [pytest.mark.chroma_server, pytest.mark.timeout(300)]

EXPORT_QUESTION = "Who claimed what about export controls?"
QUAGGA = ("quagga.txt", "Quagga herd\n\nThe quagga herd crossed the Limpopo river at Beitbridge in March.\n",
          "Which river did the quagga herd cross?", "Limpopo")
OKAPI = ("okapi.txt", "Okapi survey\n\nRangers counted 412 okapi in the Ituri forest during the survey.\n",
         "How many okapi did the rangers count in the Ituri forest?", "412")




def front_end(tmp_path: Path, docs: Path, server: ChromaServer, name: str) -> Settings:
    """Settings of one front end: the shared server and documents, its own local index_dir."""
    return Settings(docs_dir=docs, index_dir=tmp_path / f"{name}-index", chroma_url=server.url)


def env_for(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return {**env, "HF_HUB_OFFLINE": "1", "RAG_CHROMA_URL": str(settings.chroma_url),
            "RAG_DOCS_DIR": str(settings.docs_dir), "RAG_INDEX_DIR": str(settings.index_dir)}


def rag_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env_for(settings), timeout=180)


def add_doc(docs: Path, doc: tuple[str, str, str, str]) -> None:
    (docs / doc[0]).write_text(doc[1])


def assert_answers(engine: Engine, doc: tuple[str, str, str, str]) -> None:
    result = answer(doc[2], engine=engine)
    assert not result.abstained and doc[3] in result.text, result.text
    assert doc[0] in {c.source for c in result.citations}


def test_index_answer_update_and_rebuild_through_the_server(tmp_path, embedder, seed_docs, chroma_server):
    settings = front_end(tmp_path, seed_docs, chroma_server, "fe1")
    add_doc(seed_docs, QUAGGA)
    engine = Engine(settings, embedder)
    first = engine.index()
    assert sorted(first.added) == sorted([SEED_FILE, QUAGGA[0]]) and first.rebuilt == "no index yet"
    assert not (settings.index_dir / "chroma").exists(), "nothing embedded on disk: the server holds it"
    store = Store(settings)
    generation = store.active_name()
    assert generation and {generation, "rag-pointer"} <= chroma_server.collections()

    result = answer(EXPORT_QUESTION, engine=engine)
    assert "Sacks" in result.text and result.citations
    assert any("repealing certain export controls" in c.quote for c in result.citations)
    assert_answers(engine, QUAGGA)

    # incremental: only the edited document is embedded again, the other one is left as it was
    before = store.documents(store.active())
    (seed_docs / QUAGGA[0]).write_text(QUAGGA[1] + "\nAfterwards the quagga herd rested near the Shashe "
                                       "confluence.\n")
    update = engine.index()
    assert update.changed == [QUAGGA[0]] and not update.added and update.rebuilt is None
    after = store.documents(store.active())
    assert update.chunks_embedded == after[QUAGGA[0]].chunks
    assert after[SEED_FILE].indexed_at == before[SEED_FILE].indexed_at
    assert store.active_name() == generation
    rested = answer("Where did the quagga herd rest afterwards?", engine=engine)
    assert "Shashe" in rested.text and QUAGGA[0] in {c.source for c in rested.citations}

    # rebuild: a new generation is filled, switched to, and the old one is dropped from the server
    rebuilt = engine.index(rebuild=True)
    assert rebuilt.rebuilt == "--rebuild asked" and rebuilt.documents_total == 2
    new = store.active_name()
    assert new and new != generation
    assert chroma_server.collections() == {new, "rag-pointer"}
    assert_answers(engine, QUAGGA)
    active = engine.retriever.refresh()
    assert active is not None and active.name == new

    assert health_lines(settings)[0] == f"Store: {chroma_server.url} — OK (active collection {new})"
    info = rag_cli(settings, "info")
    assert info.returncode == 0, info.stderr
    assert f"Index: {chroma_server.url} (collection {new})" in info.stdout
    assert f"Store: {chroma_server.url} — OK (active collection {new})" in info.stdout


FRONT_END = textwrap.dedent("""
    import json, sys
    from rag.config import Settings
    from rag.service import Engine, answer

    engine = Engine(Settings())  # RAG_CHROMA_URL, RAG_DOCS_DIR, RAG_INDEX_DIR from the environment
    print("READY", flush=True)
    for line in sys.stdin:
        command, _, question = line.strip().partition(" ")
        try:
            if command == "index":
                report = engine.index()
                print(json.dumps({"added": report.added, "changed": report.changed}), flush=True)
            else:
                result = answer(question, engine=engine)
                print(json.dumps({"text": result.text, "sources": [c.source for c in result.citations]}),
                      flush=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
""")


class FrontEndProcess:
    """A second, long-lived front end: its own process, Engine and index_dir; same server and documents."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self._log = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-c", FRONT_END], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=ROOT,
                                     env=env_for(settings))
        assert self._readline() == "READY"

    def _readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"the front-end process died (exit {self.proc.poll()})"
        return line.strip()

    def send(self, line: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self._readline())
        assert "error" not in reply, reply["error"]
        return reply

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def test_two_front_end_processes_see_each_others_documents(tmp_path, embedder, seed_docs, chroma_server):
    one = front_end(tmp_path, seed_docs, chroma_server, "fe1")
    two = front_end(tmp_path, seed_docs, chroma_server, "fe2")
    engine = Engine(one, embedder)
    engine.index()
    assert "Sacks" in answer(EXPORT_QUESTION, engine=engine).text

    other = FrontEndProcess(two, tmp_path / "fe2.log")
    try:
        assert SEED_FILE in other.send(f"ask {EXPORT_QUESTION}")["sources"]

        # indexed through the other process: this process's Engine (created before) finds it
        add_doc(seed_docs, QUAGGA)
        assert other.send("index")["added"] == [QUAGGA[0]]
        assert_answers(engine, QUAGGA)
        top = engine.retriever.search("quagga Limpopo", k=1)[0]
        assert top.chunk.source == QUAGGA[0] and top.lexical, "BM25 was rebuilt from the server's documents"

        # and the reverse: indexed here, found by the running other process without restarting it
        add_doc(seed_docs, OKAPI)
        assert engine.index().added == [OKAPI[0]]
        reply = other.send(f"ask {OKAPI[2]}")
        assert OKAPI[3] in reply["text"] and OKAPI[0] in reply["sources"]
    finally:
        other.close()

    # a third front end, the CLI, with an index_dir of its own that has never seen the collection
    asked = rag_cli(front_end(tmp_path, seed_docs, chroma_server, "fe3"), "ask", "--json", QUAGGA[2])
    assert asked.returncode == 0, asked.stderr
    result = json.loads(asked.stdout)
    assert QUAGGA[3] in result["text"] and QUAGGA[0] in {c["source"] for c in result["citations"]}
    assert "No index yet" not in asked.stderr


def test_server_stopped_mid_session_gives_one_line_and_recovers(tmp_path, embedder, seed_docs, chroma_server):
    settings = front_end(tmp_path, seed_docs, chroma_server, "fe1")
    engine = Engine(settings, embedder)
    engine.index()
    assert answer(EXPORT_QUESTION, engine=engine).citations

    chroma_server.stop()
    with pytest.raises(IndexUnavailableError) as err:
        answer(EXPORT_QUESTION, engine=engine)
    message = str(err.value)
    assert "\n" not in message and chroma_server.url in message and "does not answer" in message
    add_doc(seed_docs, OKAPI)
    with pytest.raises(IndexUnavailableError, match="does not answer"):
        engine.index()

    where, ok, detail = store_health(settings)
    assert (where, ok) == (chroma_server.url, False) and "\n" not in detail
    assert health_lines(settings)[0].startswith(f"Store: {chroma_server.url} — NOT ANSWERING (")

    asked = rag_cli(settings, "ask", EXPORT_QUESTION)
    assert asked.returncode == 1
    assert "Traceback" not in asked.stderr and not asked.stdout.strip()
    lines = [line for line in asked.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and chroma_server.url in lines[0], asked.stderr

    # back on the same port and path: the same Engine answers again, and indexing resumes
    chroma_server.start()
    result = answer(EXPORT_QUESTION, engine=engine)
    assert "Sacks" in result.text and result.citations
    assert engine.index().added == [OKAPI[0]]
    assert_answers(engine, OKAPI)
    assert store_health(settings)[1]


def test_rag_info_reports_a_server_that_does_not_answer(tmp_path, seed_docs):
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = Settings(docs_dir=seed_docs, index_dir=tmp_path / "fe1-index", chroma_url=url)
    info = rag_cli(settings, "info")
    assert f"Store: {url} — NOT ANSWERING" in info.stdout, info.stdout + info.stderr
