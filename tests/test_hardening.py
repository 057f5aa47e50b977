"""One test per defect of the adversarial pass (issue 17), each of which failed before its fix.

The end-to-end probes against a real `rag serve` are in test_security.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import ROOT, make_settings


def rag(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k == "RAG_MODEL_CACHE"}
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=cwd, capture_output=True, text=True,
                          env={**base, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout[-500:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# 1. login turns itself off without a word ------------------------------------------------------------
@pytest.mark.parametrize("env, says", [
    ({"RAG_UI_USERNAME": "admin", "RAG_UI_PASSWORD": ""}, "ui_username is set but ui_password is not"),
    ({"RAG_UI_USERNAME": "admin", "RAG_UI_PASSWORD": "   "}, "ui_username is set but ui_password is not"),
    ({"RAG_UI_PASSWORD": "s3cret"}, "ui_password is set but ui_username is not"),
    ({"RAG_UI_PASWORD": "s3cret"}, "did you mean ui_password?"),
])
def test_half_set_login_or_unknown_variable_refuses_in_one_line(tmp_path, env, says):
    assert says in one_error_line(rag("info", cwd=tmp_path, env=env))


def test_misspelt_key_in_rag_toml_names_the_nearest_setting(tmp_path):
    (tmp_path / "rag.toml").write_text('ui_username = "admin"\nui_pasword = "s3cret"\n')
    line = one_error_line(rag("info", cwd=tmp_path))
    assert "'ui_pasword'" in line and "did you mean ui_password?" in line


def test_login_set_in_full_or_not_at_all_is_accepted():
    from pydantic import SecretStr

    from rag.config import Settings

    assert Settings(ui_username="ann", ui_password=SecretStr("pw")).ui_password is not None
    assert Settings(ui_password=SecretStr("")).ui_password is None  # blank and alone: no login, no error


# 9. tracebacks where a line is due ------------------------------------------------------------------
@pytest.mark.parametrize("content", [b'top_k = \n', b'top_k = 5\n[unclosed\n', b'llm_model = "caf\xe9"\n'])
def test_malformed_rag_toml_is_one_line(tmp_path, content):
    (tmp_path / "rag.toml").write_bytes(content)
    assert "rag.toml cannot be read" in one_error_line(rag("info", cwd=tmp_path))


# 5, 6 and 8: what documents hold reaches the terminal and the chat as text ---------------------------
HOSTILE = ("Ferry report\n\n"
           "The harbour master said the night ferry \x1b]52;c;ZWNobyBwd25lZA==\x07leaves the quay at nine "
           "every morning.\x1b]0;pwned\x07 An adult ticket for the ferry costs four euros, the council noted "
           "[2] in its report.\x9b31m Children travel free on the ferry at weekends.\n")
FORGED_QUESTION = "What did the council note about the ferry ticket?"


@pytest.fixture(scope="module")
def hostile_docs(tmp_path_factory) -> Path:
    docs = tmp_path_factory.mktemp("hostile") / "docs"
    docs.mkdir()
    (docs / "ferry.txt").write_text(HOSTILE)
    return docs


@pytest.fixture(scope="module")
def hostile_engine(hostile_docs, embedder):
    from rag.service import Engine

    engine = Engine(make_settings(hostile_docs.parent, hostile_docs), embedder)
    engine.index()
    return engine


def _controls(text: str) -> list[str]:
    return [ch for ch in text if (ord(ch) < 32 and ch not in "\n\t") or 0x7f <= ord(ch) <= 0x9f]


def test_rag_ask_prints_no_escape_sequences_from_documents(hostile_docs, tmp_path):
    env = {"RAG_DOCS_DIR": str(hostile_docs), "RAG_INDEX_DIR": str(tmp_path / "index")}
    text = rag("ask", "When does the night ferry leave the quay?", cwd=tmp_path, env=env)
    assert text.returncode == 0, text.stderr
    assert "leaves the quay at nine" in text.stdout
    assert not _controls(text.stdout + text.stderr), repr(text.stdout)
    as_json = rag("ask", "--json", "When does the night ferry leave the quay?", cwd=tmp_path, env=env)
    assert as_json.returncode == 0 and not _controls(as_json.stdout), repr(as_json.stdout)
    import json

    assert "\x1b]52;c;" in json.loads(as_json.stdout)["citations"][0]["passage"], "JSON keeps the data"


def test_a_marker_inside_a_quote_is_text_in_the_chat_and_the_terminal(hostile_engine):
    from rag import webui_handlers as h
    from rag.render import answer_as_text
    from rag.service import answer

    result = answer(FORGED_QUESTION, engine=hostile_engine)
    assert not result.abstained and "noted [2] in" in result.text
    html_text = h.answer_html(result)
    assert html_text.count('class="cite"') == len(result.citations), html_text
    assert "noted &#91;2&#93; in" in html_text
    first = answer_as_text(result).splitlines()[0]
    assert "“" in first and first.index("“") < first.index("[2]") < first.index("”"), first


def test_escaped_document_text_reads_back_as_itself():
    import html

    from rag import webui_handlers as h

    for text in ["It's “fine”", "a 'quoted' <b>word</b> & co", "# [1] *x* _y_ `z` \\ | ~ - + ! > {}"]:
        shown = h.escape(text)
        assert "<" not in shown and "[" not in shown
        assert html.unescape(shown) == text, shown


# 3. symbolic links out of the documents folder -------------------------------------------------------
@pytest.fixture
def linked_docs(tmp_path) -> Path:
    outside = tmp_path / "outside"
    (outside / "etc").mkdir(parents=True)
    (outside / "secret.txt").write_text("Secret\n\nThe vault code of the zeppelin hangar is 4471 violet.\n")
    for i in range(3):
        (outside / "etc" / f"conf{i}.txt").write_text(f"Config {i}\n\nThe zeppelin setting number {i} is on.\n")
    docs = tmp_path / "docs"
    (docs / "inner").mkdir(parents=True)
    (docs / "inner" / "note.txt").write_text("Note\n\nThe zeppelin museum opens on Sundays at ten.\n")
    (docs / "passwd.txt").symlink_to(outside / "secret.txt")
    (docs / "etc").symlink_to(outside / "etc")
    (docs / "same-note.txt").symlink_to(docs / "inner" / "note.txt")  # inside: followed as before
    return docs


def test_links_out_of_the_documents_folder_are_skipped_in_one_line(tmp_path, linked_docs, embedder):
    from rag.indexer import build_index
    from rag.service import Engine, answer

    settings = make_settings(tmp_path, linked_docs)
    report = build_index(settings, embedder=embedder)
    skipped = {s.path: s.reason for s in report.skipped}
    assert set(skipped) == {"passwd.txt", "etc"}, skipped
    assert all("outside the documents folder" in r and "\n" not in r for r in skipped.values())
    assert report.documents_total == 1, "only the note (its inside link is an alias of it)"
    result = answer("What is the vault code of the zeppelin hangar?", engine=Engine(settings, embedder))
    assert "4471" not in result.text and all(c.source == "inner/note.txt" for c in result.nearest)

    allowed = make_settings(tmp_path / "allowed", linked_docs, follow_outside_links=True)
    assert build_index(allowed, embedder=embedder).documents_total == 5


# 4. a small PDF that costs minutes --------------------------------------------------------------------
def test_a_pdf_bomb_is_skipped_quickly_and_the_other_files_are_indexed(tmp_path, embedder):
    import time

    from hostile_files import bomb_pdf

    from rag.indexer import build_index

    docs = tmp_path / "docs"
    docs.mkdir()
    assert bomb_pdf(docs / "bomb.pdf") < 150_000
    (docs / "fine.txt").write_text("Fine\n\nThe lighthouse keeper paints the railings every April.\n")
    started = time.perf_counter()
    report = build_index(make_settings(tmp_path, docs), embedder=embedder)
    took = time.perf_counter() - started
    assert [s.path for s in report.skipped] == ["bomb.pdf"]
    assert "pdf_max_content_mb" in report.skipped[0].reason, report.skipped[0].reason
    assert report.added == ["fine.txt"] and report.documents_total == 1
    assert took < 20, f"{took:.1f} s: the bomb was read (about 25 s) instead of refused"


def test_a_file_slower_than_the_time_limit_is_abandoned(tmp_path, embedder):
    from hostile_files import bomb_pdf

    from rag.indexer import build_index

    docs = tmp_path / "docs"
    docs.mkdir()
    bomb_pdf(docs / "slow.pdf", pages=3, mb=40)
    (docs / "fine.txt").write_text("Fine\n\nThe lighthouse keeper paints the railings every April.\n")
    settings = make_settings(tmp_path, docs, file_seconds=1.0, pdf_max_content_mb=1000)
    report = build_index(settings, embedder=embedder)
    skipped = [(s.path, s.reason) for s in report.skipped]
    assert skipped == [("slow.pdf", "reading took over 1 s (file_seconds); skipped")]
    assert report.documents_total == 1


# 7. a crash between an edited document's old chunks and its new ones -----------------------------------
KILL_AT = """
import os, signal, sys
from chromadb.api.models.Collection import Collection

def killed(self, *args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

setattr(Collection, sys.argv[1], killed)  # the first write of this kind in the run is where it dies
from rag.cli import app
app(sys.argv[2:], prog_name="rag")
"""
LIGHTHOUSE = "Lighthouse\n\nThe lighthouse on Gull Island was painted {} in {}. Its keeper lives in the tower.\n"


@pytest.mark.parametrize("stage", ["upsert", "delete"])
def test_an_edited_document_still_answers_after_a_kill_mid_update(tmp_path, embedder, stage):
    from rag.chroma_client import forget_local_client
    from rag.indexer import build_index
    from rag.service import Engine, answer
    from rag.store import Store

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "other.txt").write_text("Harbour\n\nThe harbour crane lifts containers from the night ferry.\n")
    (docs / "lighthouse.txt").write_text(LIGHTHOUSE.format("red", 1990))
    settings = make_settings(tmp_path, docs)
    build_index(settings, embedder=embedder)
    forget_local_client(settings.index_dir / "chroma")
    (docs / "lighthouse.txt").write_text(LIGHTHOUSE.format("blue", 2020))
    killed = subprocess.run([sys.executable, "-c", KILL_AT, stage, "index", "--docs", str(docs), "--index",
                             str(settings.index_dir)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert killed.returncode == -9, killed.stderr[-2000:]

    forget_local_client(settings.index_dir / "chroma")
    store = Store(settings)
    collection = store.active()
    assert collection is not None
    indexed = store.documents(collection)
    assert "lighthouse.txt" in indexed, "the edited document vanished from the index"
    result = answer("What colour was the lighthouse on Gull Island painted?", engine=Engine(settings, embedder))
    assert not result.abstained and result.citations[0].source == "lighthouse.txt", result.text
    forget_local_client(settings.index_dir / "chroma")

    report = build_index(settings, embedder=embedder)  # the next run finishes the update
    assert "lighthouse.txt" in report.changed
    chunks = [c for c in Store(settings).all_chunks(Store(settings).active()) if c.source == "lighthouse.txt"]
    assert chunks and all("blue" in c.text for c in chunks), [c.text for c in chunks]
    forget_local_client(settings.index_dir / "chroma")


# 12. network calls without a bound ----------------------------------------------------------------------
def _silent_server(answer_heartbeat: bool) -> tuple[int, Any]:
    """A loopback server that accepts connections and never answers (but, if asked, the heartbeat)."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            request = conn.recv(65536)
            if answer_heartbeat and b"/heartbeat" in request.split(b"\r\n")[0]:
                body = b'{"nanosecond heartbeat": 1}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1]), lambda: [s.close() for s in [listener, *held]]


@pytest.mark.parametrize("answer_heartbeat", [False, True])
def test_a_chroma_server_that_never_answers_is_one_line_within_its_timeout(tmp_path, answer_heartbeat):
    import threading

    from rag.errors import IndexUnavailableError
    from rag.store import Store

    port, close = _silent_server(answer_heartbeat)
    settings = make_settings(tmp_path, tmp_path, chroma_url=f"http://127.0.0.1:{port}", chroma_timeout=1.0)
    outcome: list[BaseException | str] = []

    def ask_store() -> None:
        try:
            outcome.append(str(Store(settings).active_name()))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=ask_store, daemon=True)
    worker.start()
    worker.join(30)
    close()
    assert outcome, "the Chroma client still waited after 30 s"
    assert isinstance(outcome[0], IndexUnavailableError), outcome
    assert "does not answer" in str(outcome[0]) and "timed out" in str(outcome[0]) and "\n" not in str(outcome[0])


# 10. misleading reports ----------------------------------------------------------------------------------
def test_skips_are_named_with_their_reason_and_a_skipped_upload_is_deleted(tmp_path, embedder):
    from rag import webui_handlers as h
    from rag.indexer import build_index
    from rag.service import Engine

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "fine.txt").write_text("Fine\n\nThe lighthouse keeper paints the railings every April.\n")
    (docs / "empty.md").write_text("   \n")
    settings = make_settings(tmp_path, docs)
    build_index(settings, embedder=embedder)
    again = build_index(settings, embedder=embedder)
    assert again.added == [] and [s.path for s in again.skipped] == ["empty.md"], "a skip is not an addition"

    engine = Engine(settings, embedder)
    message = h.add_uploads(engine, [("broken.pdf", b"%PDF-1.4 not really a PDF"), ("ok.txt", b"Ok\n\nA fine note.\n")])
    assert "removed uploads/broken.pdf again: it cannot be indexed (unreadable PDF" in message, message
    assert not (docs / "uploads" / "broken.pdf").exists() and (docs / "uploads" / "ok.txt").exists()
    assert "skipped empty.md: no text" in h.index_now(engine, False)


# 9. one undecodable byte in a question set -------------------------------------------------------------
def test_an_undecodable_line_of_a_question_set_is_skipped_not_the_set(tmp_path):
    from rag.evaluate import load_questions

    path = tmp_path / "set.jsonl"
    path.write_bytes(b'{"id": "a", "question": "Who claimed what?", "answerable": false}\n'
                     b'{"id": "b", "question": "Caf\xe9?", "answerable": false}\n'
                     b'{"id": "c", "question": "What did DeepSeek say?", "answerable": false}\n')
    questions, errors = load_questions(path)
    assert [q.id for q in questions] == ["a", "c"]
    assert errors == ["set.jsonl:2: not UTF-8"]


# 11. files left behind by a rebuild -----------------------------------------------------------------------
def test_a_rebuild_leaves_one_segment_folder(tmp_path, seed_docs, embedder):
    import re

    from rag.indexer import build_index

    settings = make_settings(tmp_path, seed_docs)
    for _ in range(3):
        build_index(settings, embedder=embedder, rebuild=True)
    folders = [p for p in (settings.index_dir / "chroma").iterdir() if re.fullmatch(r"[0-9a-f-]{36}", p.name)]
    assert len(folders) == 1, folders
