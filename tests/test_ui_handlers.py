"""The web chat's handlers, called as plain functions (no browser)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag import webui_handlers as h
from rag.errors import UploadError
from rag.models import Answer, Citation, SentenceCheck


def test_chat_streams_then_ends_with_a_cited_answer(seed_engine):
    steps = list(h.chat(seed_engine, "Who claimed what about export controls?", [], []))
    messages, history, citations, detail = steps[-1]
    assert len(steps) >= 2, "pieces arrive before the final answer"
    assert messages[-2] == {"role": "user", "content": "Who claimed what about export controls?"}
    assert "Sacks" in messages[-1]["content"] and 'href="#cite-1"' in messages[-1]["content"]
    assert history[-1][0] == "Who claimed what about export controls?"
    assert citations[0]["n"] == 1 and "export controls" in citations[0]["quote"]
    assert "extractive" in detail


def test_abstention_looks_different_and_lists_nearest_passages(seed_engine):
    *_, (messages, _, nearest, _) = h.chat(seed_engine, "What is the capital of France?", [], [])
    assert 'class="abstained"' in messages[-1]["content"] and "Nearest passages" in messages[-1]["content"]
    assert nearest, "the nearest passages can be opened too"


def test_follow_up_shows_the_rewritten_question(seed_engine):
    *_, (messages, history, _, _) = h.chat(seed_engine, "Who is the CEO of OpenAI?", [], [])
    *_, (_, _, citations, detail) = h.chat(seed_engine, "What did he hint at?", messages, history)
    assert "searched as" in detail
    assert any("legal action" in c["quote"] for c in citations)


def test_empty_question_is_a_message_not_a_crash(seed_engine):
    *_, (messages, _, _, _) = h.chat(seed_engine, "   ", [], [])
    assert "type a question" in messages[-1]["content"]


def test_source_panel_highlights_the_quote_and_escapes_document_markup():
    passage = "Intro <b>bold</b> text. <script>alert(1)</script> is the quoted sentence. Outro."
    quote = "<script>alert(1)</script> is the quoted sentence."
    start = passage.index(quote)
    c = Citation(n=2, source="evil.txt", title="<i>Evil</i>", page=None, start=100 + start,
                 end=100 + start + len(quote), quote=quote, score=0.9, passage=passage, passage_start=100)
    html = h.source_panel(c)
    assert "<script>" not in html and "<b>" not in html and "<i>" not in html
    assert '<mark id="quote">&lt;script&gt;alert&#40;1&#41;&lt;/script&gt; is the quoted sentence.</mark>' in html
    assert h.open_citation("2", [c.__dict__]) == html
    assert "Click a citation" in h.open_citation("9", [c.__dict__])


def test_llm_answer_marks_unsupported_sentences():
    checked = Answer(question="q", text="A [1] B", abstained=False, answerer="openai:m", sentences=(
        SentenceCheck("Fine claim.", (1,), "supported", 0.9),
        SentenceCheck("Made-up claim.", (1,), "unsupported", 0.1)))
    html = h.answer_html(checked)
    assert 'class="unsupported"' in html and "answered by openai:m" in html
    assert 'class="unsupported"' not in h.answer_html(replace(checked, sentences=checked.sentences[:1]))


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd.txt", "a\x00b.txt", "C:\\x\\y.txt", ".env.txt",
                                  "notes.exe", "..", ""])
def test_bad_upload_names_are_refused(tmp_path, name):
    with pytest.raises(UploadError):
        h.save_upload(tmp_path, name, b"hello", 1.0)
    assert not any(tmp_path.rglob("*")) or not any(p.is_file() for p in tmp_path.rglob("*"))


def test_upload_is_sanitised_sized_and_kept_inside_the_documents_folder(tmp_path):
    saved = h.save_upload(tmp_path, "my report (final).txt", b"hello", 1.0)
    assert saved.parent == (tmp_path / "uploads").resolve() and saved.name == "my report _final_.txt"
    with pytest.raises(UploadError, match="over the 1 MB limit"):
        h.save_upload(tmp_path, "big.txt", b"x" * 1_100_000, 1.0)


def test_documents_table_lists_indexed_documents(seed_engine):
    rows = h.documents_table(seed_engine)
    assert rows[0][0] == "000_1b21a7c2e01bd4ee.txt" and rows[0][2] > 1


def test_example_questions_come_from_evals(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": "1", "question": "Q one?"}\nnot json\n'
                                      '{"id": "2", "question": "Q two?", "answerable": false}\n')
    assert h.example_questions(tmp_path) == ["Q one?"]


def test_evaluate_tab_runs_a_question_set(seed_engine, tmp_path):
    from rag.webui_eval import run_set

    qs = tmp_path / "q.jsonl"
    qs.write_text('{"id": "a", "question": "How much did DeepSeek say R1 cost to develop?", '
                  '"answer_keys": ["5.6 million"], "sources": ["000_1b21a7c2e01bd4ee.txt"]}\n'
                  '{"id": "b", "question": "What is the capital of France?", "answerable": false}\nbroken\n')
    seen: list[tuple[int, int]] = []
    summary, chart, rows, report = run_set(seed_engine, qs, progress=lambda d, t: seen.append((d, t)))
    assert "accuracy" in summary and "q.jsonl:3" in summary
    assert chart and chart.endswith(".png") and report and report.endswith(".md")
    assert [r[2] for r in rows] == ["pass", "pass"] and seen[-1] == (2, 2)
