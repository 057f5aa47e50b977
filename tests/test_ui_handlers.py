"""The web chat's handlers, called as plain functions (no browser)."""

from __future__ import annotations

import html
from dataclasses import replace

import pytest

from helpers import make_settings
from rag import webui_handlers as h
from rag.errors import UploadError
from rag.models import Answer, Citation, SentenceCheck


def test_chat_streams_then_ends_with_a_cited_answer(seed_engine):
    steps = list(h.chat(seed_engine, "Who claimed what about export controls?", [], []))
    messages, history, citations, detail = steps[-1]
    assert len(steps) >= 2, "pieces arrive before the final answer"
    assert messages[-2] == {"role": "user", "content": "Who claimed what about export controls?"}
    assert "Sacks" in messages[-1]["content"] and 'href="#cite-0-1"' in messages[-1]["content"]
    assert "<sup>" in messages[-1]["content"] and "answered by extractive" in messages[-1]["content"]
    assert history[-1][0] == "Who claimed what about export controls?"
    assert citations[0]["n"] == 1 and "export controls" in citations[0]["quote"]
    assert "extractive" in detail


def test_abstention_looks_different_and_lists_nearest_passages(seed_engine):
    *_, (messages, _, nearest, _) = h.chat(seed_engine, "What is the capital of France?", [], [])
    assert 'class="abstained"' in messages[-1]["content"] and "Nearest passages" in messages[-1]["content"]
    assert nearest, "the nearest passages can be opened too"
    assert 'href="#cite-0-1"' in messages[-1]["content"]
    panel = h.open_citation("0-1", [nearest])
    assert '<mark id="quote">' in panel and nearest[0]["source"] in html.unescape(panel)


def test_follow_up_shows_the_rewritten_question(seed_engine):
    *_, (messages, history, _, _) = h.chat(seed_engine, "Who is the CEO of OpenAI?", [], [])
    *_, (messages, _, citations, detail) = h.chat(seed_engine, "What did he hint at?", messages, history)
    assert "searched as" in detail and "searched as" in messages[-1]["content"]
    assert any("legal action" in c["quote"] for c in citations)
    assert 'href="#cite-1-' in messages[-1]["content"], "the second answer's links name their turn"


def test_each_answers_citation_links_open_that_answers_sources(seed_engine):
    cites: list[list[dict]] = []
    messages: list = []
    history: list = []
    for q in ("Who claimed what about export controls?", "How much did DeepSeek say R1 cost to develop?"):
        *_, (messages, history, cited, _) = h.chat(seed_engine, q, messages, history)
        cites.append(cited)
    assert "export controls" in h.open_citation("0-1", cites)
    assert "5.6 million" in h.open_citation("1-1", cites)
    assert h.open_citation("1", cites) == h.open_citation("1-1", cites), "a bare number means the latest answer"
    assert "Click a citation" in h.open_citation("7-1", cites) and "Click a citation" in h.open_citation("x", cites)


def test_empty_question_is_a_message_not_a_crash(seed_engine):
    *_, (messages, _, _, _) = h.chat(seed_engine, "   ", [], [])
    assert "type a question" in messages[-1]["content"]


@pytest.mark.unit
def test_source_panel_highlights_the_quote_and_escapes_document_markup():
    passage = "Intro <b>bold</b> text. <script>alert(1)</script> is the quoted sentence. Outro."
    quote = "<script>alert(1)</script> is the quoted sentence."
    start = passage.index(quote)
    c = Citation(n=2, source="evil.txt", title="<i>Evil</i>", page=None, start=100 + start,
                 end=100 + start + len(quote), quote=quote, score=0.9, passage=passage, passage_start=100)
    panel = h.source_panel(c)
    assert "<script>" not in panel and "<b>" not in panel and "<i>" not in panel
    assert '<mark id="quote">&lt;script&gt;alert&#40;1&#41;&lt;/script&gt; is the quoted sentence.</mark>' in panel
    assert h.open_citation("0-2", [[c.__dict__]]) == panel == h.open_citation("2", [[c.__dict__]])
    assert "Click a citation" in h.open_citation("9", [[c.__dict__]])


@pytest.mark.unit
def test_llm_answer_marks_unsupported_sentences():
    checked = Answer(question="q", text="A [1] B", abstained=False, answerer="openai:m", sentences=(
        SentenceCheck("Fine claim.", (1,), "supported", 0.9),
        SentenceCheck("Made-up claim.", (1,), "unsupported", 0.1)))
    rendered = h.answer_html(checked)
    assert 'class="unsupported"' in rendered and "answered by openai:m" in rendered and "⚠ unsupported" in rendered
    assert "1 sentence(s) not supported" in rendered
    assert 'class="unsupported"' not in h.answer_html(replace(checked, sentences=checked.sentences[:1]))


@pytest.mark.unit
@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd.txt", "a\x00b.txt", "C:\\x\\y.txt", ".env.txt",
                                  "notes.exe", "..", ""])
def test_bad_upload_names_are_refused(tmp_path, name):
    with pytest.raises(UploadError):
        h.save_upload(tmp_path, name, b"hello", 1.0)
    assert not any(tmp_path.rglob("*")) or not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.unit
def test_upload_is_sanitised_sized_and_kept_inside_the_documents_folder(tmp_path):
    saved = h.save_upload(tmp_path, "my report (final).txt", b"hello", 1.0)
    assert saved.parent == (tmp_path / "uploads").resolve() and saved.name == "my report _final_.txt"
    with pytest.raises(UploadError, match="over the 1 MB limit"):
        h.save_upload(tmp_path, "big.txt", b"x" * 1_100_000, 1.0)


def test_refused_uploads_are_messages_not_exceptions(seed_engine):
    message = h.add_uploads(seed_engine, [("../evil.txt", b"x"), ("tool.exe", b"x"),
                                          ("big.txt", b"x" * int(seed_engine.settings.upload_max_mb * 1e6 + 1))])
    assert "paths are not allowed" in message and "only .txt" in message and "MB limit" in message
    assert not (seed_engine.settings.docs_dir / "uploads").exists()


def test_documents_table_lists_indexed_documents(seed_engine):
    rows = h.documents_table(seed_engine)
    assert rows[0][0] == "000_1b21a7c2e01bd4ee.txt" and rows[0][2] > 1 and rows[0][3]
    assert len(rows[0][1]) <= 80, "long titles are shortened for the table"


@pytest.fixture
def own_engine(tmp_path, seed_docs, embedder):
    from rag.service import Engine

    engine = Engine(make_settings(tmp_path, seed_docs), embedder)
    engine.index()
    return engine


def test_upload_then_remove_a_document(own_engine):
    fact = b"Zorblax report\n\nThe Zorblax festival of 2031 will be held in the town of Quimperle.\n"
    assert "1 added" in h.add_uploads(own_engine, [("zorblax.txt", fact)])
    assert "uploads/zorblax.txt" in [r[0] for r in h.documents_table(own_engine)]
    *_, (messages, _, cited, _) = h.chat(own_engine, "Where will the Zorblax festival be held?", [], [])
    assert "Quimperle" in messages[-1]["content"] and cited[0]["source"] == "uploads/zorblax.txt"
    assert "Refused" in h.remove_document(own_engine, "../outside.txt")
    assert "1 removed" in h.remove_document(own_engine, "uploads/zorblax.txt")
    assert not (own_engine.settings.docs_dir / "uploads" / "zorblax.txt").exists()
    assert "uploads/zorblax.txt" not in [r[0] for r in h.documents_table(own_engine)]


def test_chat_keeps_answering_while_the_index_is_rebuilt(own_engine):
    answered: list[str] = []

    def ask_meanwhile(done: int, total: int, chunks: int, message: str) -> None:
        if not answered:  # the new generation is being filled; the chat reads the old one
            *_, (messages, _, cited, _) = h.chat(own_engine, "Who claimed what about export controls?", [], [])
            answered.append(messages[-1]["content"])
            assert cited

    assert "chunks embedded" in h.index_now(own_engine, True, ask_meanwhile)
    assert answered and "Sacks" in answered[0]


def test_evaluate_tab_runs_a_question_set(seed_engine, tmp_path):
    from rag.webui_eval import run_set

    qs = tmp_path / "q.jsonl"
    qs.write_text('{"id": "a", "question": "How much did DeepSeek say R1 cost to develop?", '
                  '"answer_keys": ["5.6 million"], "sources": ["000_1b21a7c2e01bd4ee.txt"]}\n'
                  '{"id": "b", "question": "What is the capital of France?", "answerable": false}\nbroken\n')
    seen: list[tuple[int, int]] = []
    summary, chart, rows, report = run_set(seed_engine, qs, progress=lambda d, t: seen.append((d, t)))
    assert "accuracy" in summary and "q.jsonl:3" in summary
    assert chart and chart.endswith(".png") and report and report[0].endswith("report.md")
    assert [r[2] for r in rows] == ["pass", "pass"] and seen[-1] == (2, 2)
