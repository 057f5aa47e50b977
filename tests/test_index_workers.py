"""Loading and chunking in worker processes gives what the indexing process alone gives (issue 18)."""

from __future__ import annotations

import shutil

from helpers import SEED_FILE, bbc_files, make_settings
from rag.index_workers import loaded_chunks
from rag.indexer import build_index
from rag.limits import FileLimits
from rag.load import scan
from rag.service import Engine, answer


def _corpus(docs):
    for path in bbc_files(12):
        shutil.copy(path, docs / f"{path.parent.name}-{path.name}")
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 40)  # skipped with a reason
    (docs / "latin1.txt").write_bytes("Café prices\n\nThe café raised its prices by 8%.\n".encode("latin-1"))


def test_workers_yield_the_same_chunks_skips_and_warnings_in_order(seed_docs):
    _corpus(seed_docs)
    files, _ = scan(seed_docs)
    alone = list(loaded_chunks(files, 800, 150, FileLimits(), workers=0))
    pooled = list(loaded_chunks(files, 800, 150, FileLimits(), workers=2))
    assert [r.file.path for r in pooled] == [f.path for f in files]
    assert pooled == alone
    assert any(r.skipped for r in pooled) and any(r.warnings for r in pooled)
    assert sum(len(r.chunks) for r in pooled) > len(files)


def test_an_index_built_with_workers_answers_with_citations(tmp_path, seed_docs, embedder):
    _corpus(seed_docs)
    settings = make_settings(tmp_path, seed_docs, index_workers=2)
    report = build_index(settings, embedder=embedder)
    assert SEED_FILE in report.added and [s.path for s in report.skipped] == ["binary.txt"]
    assert report.documents_total == 14
    result = answer("Who claimed what about export controls?", engine=Engine(settings, embedder))
    assert "Sacks" in result.text and SEED_FILE in {c.source for c in result.citations}
