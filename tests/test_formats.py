"""Word, PowerPoint, Excel, CSV, EPUB, e-mail, JSON, XML and PDF files built in the run, read, indexed and
asked about: every answer cites the slide, sheet and row, page or heading that holds it, and a damaged or
encrypted file of each kind is one line of the index report while the others are indexed."""

from __future__ import annotations

import json
import shutil

import pytest
from office_corpus import FACTS, build_broken, build_corpus
from test_cli import rag
from typer.testing import CliRunner

from rag.chunk import chunk_document
from rag.load import load_all


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    build_corpus(root / "good")
    expected = build_broken(root / "bad", root / "good")
    return root, expected


def test_each_format_is_read_with_a_title_and_the_location_of_its_fact(corpus):
    root, _ = corpus
    docs, skipped = load_all(root / "good")
    assert skipped == []
    by_path = {d.path: d for d in docs}
    assert by_path["survey.docx"].title == "Harbour annual report"
    assert by_path["review.pptx"].title == "Quarterly review"
    assert by_path["keeper.epub"].title == "Stories of the coast"
    assert by_path["meeting.eml"].title == "Board meeting moved"
    assert by_path["revenue.xlsx"].title == "revenue.xlsx", "a table's first row is not a title"
    for fact in FACTS:
        doc = by_path[fact.file]
        chunks = [c for c in chunk_document(doc) if fact.answer in c.text]
        assert chunks, f"{fact.file}: {fact.answer!r} not in any chunk"
        where = chunks[0].location or (f"page {chunks[0].page}" if chunks[0].page else "")
        assert where == fact.location, fact
        assert all(doc.text[c.start:c.end] == c.text for c in chunk_document(doc))


def test_a_spreadsheet_row_is_chunked_with_its_header(corpus):
    root, _ = corpus
    docs, _ = load_all(root / "good")
    sheet = next(d for d in docs if d.path == "revenue.xlsx")
    row = next(c for c in chunk_document(sheet) if c.location == "sheet Revenue, row 3")
    assert row.text == "Company: Zephyr Mills; Quarter: Q3; Revenue: 4.8 million."


def test_damaged_and_encrypted_files_are_one_line_each_and_the_rest_is_indexed(corpus, tmp_path):
    root, expected = corpus
    docs = tmp_path / "docs"
    shutil.copytree(root / "good", docs)
    shutil.copytree(root / "bad", docs / "bad")
    env = {"RAG_DOCS_DIR": str(docs), "RAG_INDEX_DIR": str(tmp_path / "index")}
    result = rag("index", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    for name, word in expected.items():
        lines = [line for line in output.splitlines() if f"skipped bad/{name}:" in line]
        assert len(lines) == 1 and word.lower() in lines[0].lower(), (name, lines)
    assert sum("skipped" in line and "bad/" in line for line in output.splitlines()) == len(expected)
    assert f"{len(FACTS) - 1} added" in output, output  # every good file (survey.docx holds two facts)


@pytest.fixture(scope="module")
def indexed(corpus, tmp_path_factory, embedder):
    from helpers import make_settings
    from rag.service import get_engine

    root, _ = corpus
    tmp = tmp_path_factory.mktemp("formats-index")
    settings = make_settings(tmp, root / "good")
    engine = get_engine(settings)
    engine.embedder = engine.retriever.embedder = embedder
    engine.ensure_index()
    return settings


@pytest.mark.parametrize("fact", FACTS, ids=[f"{f.file}:{f.answer}" for f in FACTS])
def test_rag_ask_answers_each_format_citing_where(indexed, fact, monkeypatch):
    from rag.cli import app

    monkeypatch.setenv("RAG_DOCS_DIR", str(indexed.docs_dir))
    monkeypatch.setenv("RAG_INDEX_DIR", str(indexed.index_dir))
    result = CliRunner().invoke(app, ["ask", "--json", fact.question])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert not data["abstained"] and fact.answer.lower() in data["text"].lower(), data["text"]
    cited = [(c["source"], c["location"] or (f"page {c['page']}" if c["page"] else "")) for c in data["citations"]]
    assert (fact.file, fact.location) in cited


def test_rag_ask_text_names_the_slide(indexed, tmp_path):
    env = {"RAG_DOCS_DIR": str(indexed.docs_dir), "RAG_INDEX_DIR": str(indexed.index_dir)}
    result = rag("ask", "How many units did the Osprey project ship in March?", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "7,300" in result.stdout and "review.pptx, slide 3, chars" in result.stdout
