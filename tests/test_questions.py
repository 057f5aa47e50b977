"""Bad and unusual questions through `rag.answer`, the chat handler and `rag ask`: never a crash.

Each one gets an Answer (abstained, or answered with every quote verbatim at its span) or, when nothing
is left to ask, the clear "Please type a question." (test_answer.py has the plain empty and long cases).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from helpers import ROOT, SEED_FILE, SEEDS
from rag import webui_handlers as h
from rag.errors import QuestionError
from rag.models import Answer
from rag.service import answer

EXPORT = "Who claimed what about export controls?"
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _seed_text() -> str:
    return (SEEDS / SEED_FILE).read_text(encoding="utf-8")


def _well_formed(result: Answer) -> None:
    """An answer or an abstention, with each quote exactly where its citation says."""
    assert isinstance(result, Answer) and result.text
    assert not _INVISIBLE.search(result.question + result.text), "no control characters come back"
    text = _seed_text()
    for c in (*result.citations, *result.nearest):
        assert c.source == SEED_FILE and text[c.start:c.end] == c.quote
    if result.abstained:
        assert result.citations == ()
    else:
        assert result.citations and all(f"[{c.n}]" in result.text for c in result.citations)


@pytest.mark.parametrize("question", [
    "Who claimed what\x00 about export\x1b[31m controls?",  # NUL and a terminal colour code
    "Who claimed\x85 what about\x07 export\x9f controls?\x1b]0;title\x07",  # C1, bell, an OSC title
    "Who\tclaimed\r\nwhat\x0babout\x0cexport\u3000controls?",  # all sorts of white space
])
def test_control_characters_are_removed_and_the_question_still_answered(seed_engine, question):
    result = answer(question, engine=seed_engine)
    _well_formed(result)
    assert result.question == EXPORT
    assert not result.abstained and "Sacks" in result.text


@pytest.mark.parametrize("question", [
    "\u200b\u200b", "\ufeff", "\x00\x1b\x7f\x9b", "\x1b[0m \x1b[31m", "\u202e\u2066\u2069", "\u00a0\u3000\u2028",
])
def test_nothing_visible_is_the_clear_empty_question_message(seed_engine, question):
    with pytest.raises(QuestionError, match="Please type a question"):
        answer(question, engine=seed_engine)


@pytest.mark.parametrize("question", [
    "🤖🚀 Who claimed what about export controls? 🇺🇸👍🏽",
    "😀😀😀",
    "من ادعى ماذا بشأن ضوابط التصدير؟",  # Arabic
    "מי טען מה לגבי בקרות יצוא?",  # Hebrew
    "\u202bWho claimed what about \u05d9\u05e6\u05d5\u05d0 export controls?\u202c",  # mixed, with embedding marks
    "Wer hat was über Exportkontrollen behauptet?",
    "谁对出口管制提出了什么主张？",
    "How much did DeepSeek say R1 cost to develop?" + "\u0301" * 50,  # a pile of combining accents
    "\ud800 export controls \udfff",  # lone surrogates, as from undecodable command-line bytes
    "??? !!! ... [1] [2]",
    "<script>alert(1)</script> export controls",
])
def test_unusual_questions_get_a_well_formed_answer(seed_engine, question):
    _well_formed(answer(question, engine=seed_engine))


def test_emoji_around_a_real_question_do_not_stop_it_being_answered(seed_engine):
    result = answer("🤖 Who claimed what about export controls? 🇺🇸", engine=seed_engine)
    assert not result.abstained and "Sacks" in result.text


def test_hundred_thousand_characters_are_cut_with_a_notice(seed_engine):
    limit = seed_engine.settings.max_question_chars
    result = answer("How much did DeepSeek say R1 cost to develop? " + "ж" * 100_000, engine=seed_engine)
    _well_formed(result)
    assert len(result.question) == limit
    assert any(f"first {limit} characters" in n and "it had" in n for n in result.notices)
    assert "$5.6 million" in result.text, "the question at the front still counts"


def test_chat_handler_shows_the_cut_notice_and_never_errors(seed_engine):
    *_, (messages, history, cited, detail) = h.chat(seed_engine, "export controls " * 7000, [], [])
    assert "was cut to its first" in messages[-1]["content"]
    assert 'class="error"' not in messages[-1]["content"] and cited and detail
    assert len(history) == 1


@pytest.mark.parametrize(("question", "asked"), [("\x1b[31m\x00\u200b", False),
                                               ("谁对出口管制提出了什么主张？ 🤖 מי טען", True)])
def test_chat_handler_answers_or_asks_for_a_question(seed_engine, question, asked):
    *_, (messages, history, _, _) = h.chat(seed_engine, question, [], [])
    content = messages[-1]["content"]
    if asked:  # answered or abstained: a normal assistant message, and the turn is kept
        assert 'class="error"' not in content and "answered by" in content and len(history) == 1
    else:
        assert "type a question" in content and history == []


def test_cli_ask_with_a_bad_question_exits_0_without_a_traceback(seed_engine, tmp_path):
    settings = seed_engine.settings  # reuse the session's index: the subprocess only reads it
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_DOCS_DIR": str(settings.docs_dir),
           "RAG_INDEX_DIR": str(settings.index_dir)}
    question = "🤖 Who claimed\x1b[1m what\x85 about export controls? ضوابط التصدير " + "x" * 30_000
    out = subprocess.run([sys.executable, "-m", "rag", "ask", "--json", question], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    data = json.loads(out.stdout)
    assert data["question"].startswith("🤖 Who claimed what about export controls? ضوابط التصدير x")
    assert any("cut" in n for n in data["notices"])
