"""The default (extractive) answerer on the seed article, with the real embedder and Chroma."""

from __future__ import annotations

import pytest

from helpers import SEED_FILE, SEEDS, engine_over
from rag.errors import QuestionError
from rag.service import answer


def test_export_controls_names_sacks_and_cites_the_repeal_sentence(seed_engine):
    result = answer("Who claimed what about export controls?", engine=seed_engine)
    assert not result.abstained
    assert "Sacks" in result.text
    assert any("repealing certain export controls" in c.quote for c in result.citations)
    assert "[1]" in result.text


def test_cost_question_cites_the_5_6_million_sentence(seed_engine):
    result = answer("How much did DeepSeek say R1 cost to develop?", engine=seed_engine)
    assert not result.abstained
    assert any("$5.6 million" in c.quote and "developing R1" in c.quote for c in result.citations)


@pytest.mark.parametrize(("question", "says"), [
    ("What kind of company is DeepSeek?", "a relatively unknown Chinese AI company"),  # its opening chunk
    ("What kind of company is ASML?", "a Dutch semiconductor equipment maker"),
])
def test_what_kind_of_question_quotes_where_the_subject_is_introduced(seed_engine, question, says):
    result = answer(question, engine=seed_engine)
    assert not result.abstained and any(says in c.quote for c in result.citations)


def test_a_lead_that_restates_the_question_is_followed_by_the_sentence_naming_the_answer(tmp_path, embedder):
    """News leads restate the question without the name asked for; the answer quotes the name too."""
    engine = engine_over(tmp_path, embedder, {"mep.txt":
        "MEP's remark on Germany\n\nA UK Independence Party MEP suggested Germany saw the EU as an empire "
        "that was cheaper than using tanks, a new documentary has revealed. The documentary was filmed at a "
        "meeting in Brussels last year. Pointing to Germany's trade interests, Mr Nattrass said the EU was "
        "a cheaper way to run Europe. He says he was not German-bashing.\n"})
    result = answer("Which UKIP MEP suggested that Germany saw the EU as an empire?", engine=engine)
    assert not result.abstained and "Nattrass" in result.text
    assert result.text.startswith("A UK Independence Party MEP suggested"), "the lead is quoted too"


@pytest.mark.parametrize(("question", "expected"), [
    ("How much will the Mac mini cost in the UK?", "£339"),
    ("How much does Apple's iPod nano cost in the UK?", None),  # the article prices the Mac mini only
])
def test_a_price_question_is_answered_only_with_its_own_subjects_price(tmp_path, embedder, question, expected):
    engine = engine_over(tmp_path, embedder, {"mini.txt":
        "Apple unveils low-cost Mac mini\n\nApple has unveiled a new, low-cost Macintosh computer, billed as "
        "the Mac mini. Chief executive Steve Jobs showed off the machine at MacWorld in San Francisco. Apple "
        "expects the Mac mini to sell for £339 in the UK and $499 in the US. Analysts said the machine would "
        "appeal to PC owners who had bought an iPod. \"They like what they have seen with iPod,\" one said.\n"})
    result = answer(question, engine=engine)
    if expected is None:
        assert result.abstained, result.text
    else:
        assert not result.abstained and expected in result.text


def test_a_figure_question_is_not_answered_with_sentences_holding_no_figure(tmp_path, embedder):
    engine = engine_over(tmp_path, embedder, {"spyware.txt":
        "Microsoft takes on spyware\n\nWindows users could soon pay Microsoft to keep their PCs free of "
        "spyware. Microsoft's announcement about spyware comes after it bought New York anti-spyware firm "
        "Giant Company Software in December. The toolkit will be free at first, Microsoft said.\n"})
    result = answer("How much did Microsoft pay to buy the New York anti-spyware firm Giant Company Software?",
                    engine=engine)
    assert result.abstained, result.text
    assert any("Giant" in c.quote for c in result.nearest), "the sentence it would have quoted is a nearest passage"
    assert not answer("When did Microsoft buy Giant Company Software?", engine=engine).abstained


def test_capital_of_france_abstains_without_citations(seed_engine):
    result = answer("What is the capital of France?", engine=seed_engine)
    assert result.abstained
    assert result.text.startswith("The documents do not say")
    assert result.citations == ()
    assert result.nearest, "an abstention lists the nearest passages"


@pytest.mark.parametrize("question", [
    "Who claimed what about export controls?",
    "How much did DeepSeek say R1 cost to develop?",
    "How much market value did Nvidia lose on January 27?",
    "What did ASML's CEO say about cheaper AI models?",
])
def test_every_quote_is_verbatim_at_its_span(seed_engine, question):
    text = (SEEDS / SEED_FILE).read_text(encoding="utf-8")
    result = answer(question, engine=seed_engine)
    assert result.citations
    numbers = [c.n for c in result.citations]
    assert numbers == list(range(1, len(numbers) + 1)), "sources numbered in order of first citation"
    for c in result.citations:
        assert c.source == SEED_FILE
        assert text[c.start:c.end] == c.quote
        assert f"{c.quote} [{c.n}]" in result.text, "the answer quotes each sentence verbatim"


def test_answer_json_has_the_documented_fields(seed_engine):
    data = answer("How much did DeepSeek say R1 cost to develop?", engine=seed_engine).to_dict()
    for key in ("question", "text", "abstained", "citations", "timings"):
        assert key in data
    citation = data["citations"][0]
    for key in ("n", "source", "title", "page", "start", "end", "quote", "score"):
        assert key in citation
    assert set(data["timings"]) >= {"embed", "retrieve", "total"}


def test_follow_up_carries_the_subject_into_retrieval(seed_engine):
    first = answer("Who is the CEO of OpenAI?", engine=seed_engine)
    assert "Altman" in first.text
    second = answer("What did he hint at?", history=[(first.question, first.text)], engine=seed_engine)
    assert second.standalone_question != second.question
    assert any("legal action" in c.quote for c in second.citations)


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question_is_a_clear_error(seed_engine, question):
    with pytest.raises(QuestionError, match="type a question"):
        answer(question, engine=seed_engine)


def test_very_long_question_is_cut_with_a_notice(seed_engine):
    result = answer("export controls " * 10000, engine=seed_engine)
    assert any("cut" in n for n in result.notices)


def test_langchain_retriever_returns_documents_with_metadata(seed_engine):
    retriever = seed_engine.retriever.as_langchain(k=3)
    docs = retriever.invoke("export controls")
    assert len(docs) == 3
    assert docs[0].metadata["source"] == SEED_FILE
    assert any("export controls" in d.page_content for d in docs)
