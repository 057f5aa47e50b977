"""Falsified claims behind real citations, end to end: `rag.answer` with a scripted LLM over the seed
article; each unsupported sentence says why, in the Answer, in `rag ask`'s text and in the web chat."""

from __future__ import annotations

import pytest
from test_llm import scripted, with_model  # noqa: F401  (fixture)

from rag import webui_handlers as h
from rag.render import answer_as_text
from rag.service import answer

NVIDIA = ("On January 27, Nvidia lost a staggering $589 billion in market capitalization in a single day.",
          "$589 billion")


@pytest.mark.parametrize("claim, anchor, why", [
    ("On January 27, Oracle lost a staggering $589 billion in market capitalization in a single day.", "$589",
     "the source names Nvidia"),
    ("On January 27, Nvidia gained a staggering $589 billion in market capitalization in a single day.", "$589",
     "the source says lost"),
    ("On January 27, Nvidia lost a staggering $589 million in market capitalization in a single day.", "$589",
     "the source does not say 589m"),
    ("ASML pointed out that cheaper AI models would not increase demand for chips.", "increase demand",
     'does not negate "increase"'),
])
def test_an_unsupported_sentence_says_why(with_model, claim, anchor, why):  # noqa: F811
    engine = with_model(scripted(NVIDIA, (claim, anchor)))
    result = answer("What happened to Nvidia and what did ASML say?", engine=engine, llm="openai")
    first, second = result.sentences
    assert first.status == "supported" and not first.reason
    assert second.status == "unsupported" and why in second.reason, second
    assert f"(! {second.reason})" in answer_as_text(result)
    assert f"not supported by its citation ({second.reason})" in answer_as_text(result, streamed=True)
    html = h.answer_html(result)
    assert "⚠ unsupported: " in html and h.escape(second.reason) in html


def test_faithful_paraphrase_is_not_unsupported(with_model):  # noqa: F811
    engine = with_model(scripted(
        ("Nvidia's market value fell by $589 billion in one day on January 27.", "$589 billion"),
        ("ASML, the Dutch chip equipment maker, said less expensive AI models could in fact boost "
         "demand for chips.", "increase demand")))
    result = answer("What happened to Nvidia and what did ASML say?", engine=engine, llm="openai")
    assert [s.status for s in result.sentences] != [] and all(s.status != "unsupported" for s in result.sentences)
