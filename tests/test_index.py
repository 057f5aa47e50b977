"""Incremental indexing, rebuild switch-over and crash safety, on real Chroma in tmp_path."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from helpers import ROOT, bbc_files, make_settings
from rag.indexer import build_index
from rag.service import Engine, answer
from rag.store import Store


def _docs_with_bbc(tmp_path: Path, n: int) -> Path:
    docs = tmp_path / "docs"
    for f in bbc_files(n):
        target = docs / f.parent.name / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, target)
    return docs


def test_second_run_embeds_nothing_edit_reembeds_only_that_file_delete_removes(tmp_path, embedder):
    docs = _docs_with_bbc(tmp_path, 6)
    settings = make_settings(tmp_path, docs)
    first = build_index(settings, embedder=embedder)
    assert len(first.added) == 6 and first.chunks_embedded > 0

    second = build_index(settings, embedder=embedder)
    assert second.chunks_embedded == 0
    assert second.unchanged == 6
    assert "Nothing changed" in second.summary()

    edited = sorted(docs.rglob("*.txt"))[0]
    edited.write_text(edited.read_text() + "\nA brand new closing sentence about zebras.\n")
    store = Store(settings)
    before = store.documents(store.active())
    third = build_index(settings, embedder=embedder, store=store)
    rel = edited.relative_to(docs).as_posix()
    assert third.changed == [rel] and not third.added
    after = store.documents(store.active())
    assert third.chunks_embedded == after[rel].chunks
    unchanged = [s for s in before if s != rel]
    assert all(after[s].indexed_at == before[s].indexed_at for s in unchanged)

    gone = sorted(docs.rglob("*.txt"))[-1]
    gone.unlink()
    fourth = build_index(settings, embedder=embedder, store=store)
    rel_gone = gone.relative_to(docs).as_posix()
    assert fourth.removed == [rel_gone]
    assert rel_gone not in store.documents(store.active())
    assert fourth.chunks_embedded == 0


def test_changed_chunker_settings_rebuild_with_a_reason(tmp_path, embedder, seed_docs):
    build_index(make_settings(tmp_path, seed_docs), embedder=embedder)
    report = build_index(make_settings(tmp_path, seed_docs, chunk_size=400), embedder=embedder)
    assert report.rebuilt and "chunk_size" in report.rebuilt


def test_lexical_side_follows_the_index(tmp_path, embedder, seed_docs):
    engine = Engine(make_settings(tmp_path, seed_docs), embedder)
    engine.index()
    (seed_docs / "zebra.txt").write_text("Zebras\n\nThe quagga zebra herd crossed the Limpopo river.\n")
    engine.index()
    hits = engine.retriever.search("quagga Limpopo", k=1)
    assert hits[0].chunk.source == "zebra.txt" and hits[0].lexical


KILLED_REBUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from rag.config import Settings
    from rag.indexer import build_index

    def progress(done, total, chunks, message):
        print(f"PROGRESS {done} {total} {chunks}", flush=True)

    settings = Settings(docs_dir=Path(sys.argv[1]), index_dir=Path(sys.argv[2]))
    build_index(settings, rebuild=True, progress=progress)
    print("DONE", flush=True)
""")


def test_killed_rebuild_leaves_the_old_index_answering(tmp_path, embedder, seed_docs):
    settings = make_settings(tmp_path, seed_docs)
    build_index(settings, embedder=embedder)
    old = Store(settings).active_name()
    for f in bbc_files(60):
        shutil.copy(f, seed_docs / f"{f.parent.name}-{f.name}")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_REBUILD, str(seed_docs), str(settings.index_dir)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ})
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("PROGRESS") and int(line.split()[3]) > 0:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert Store(settings).active_name() == old, "the half-built generation must not be active"
    result = answer("Who claimed what about export controls?", engine=Engine(settings, embedder))
    assert "Sacks" in result.text and result.citations
    report = build_index(settings, embedder=embedder)  # the next run completes (incremental on the old one)
    assert len(report.added) == 60


def test_a_running_engine_finds_documents_another_process_indexed(tmp_path, embedder):
    """The chat keeps running while `rag index` (another process) adds a document: the next question
    finds it by meaning too, not only by keywords (Chroma's embedded vector side is re-read)."""
    docs = _docs_with_bbc(tmp_path, 4)
    settings = make_settings(tmp_path, docs)
    engine = Engine(settings, embedder=embedder)
    engine.index()
    question = "Which marsupial did the zookeepers in Tasmania breed?"
    assert all(h.chunk.source != "zoo.txt" for h in engine.retriever.search(question))
    (docs / "zoo.txt").write_text("Zoo news\n\nZookeepers in Tasmania bred a rare marsupial, the quoll, "
                                  "for the first time this spring.\n", encoding="utf-8")
    added = subprocess.run([sys.executable, "-m", "rag", "index", "--docs", str(docs), "--index",
                            str(settings.index_dir)], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert added.returncode == 0, added.stderr
    hits = engine.retriever.search(question)
    assert hits[0].chunk.source == "zoo.txt"
    assert hits[0].dense is not None, "found by the vector side, not only by BM25"
    result = answer(question, engine=engine)
    assert not result.abstained and result.citations[0].source == "zoo.txt"
