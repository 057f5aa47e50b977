"""The answer pipeline's steps and interfaces with fakes: no model, no Chroma, no network (`-m unit`).

A `FakeEmbedder` (hashed bag of words) and a `FakeRetriever` over the seed article's chunks stand in
for the model and the index, so that `rag.answer` runs every step here in milliseconds.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from pydantic import SecretStr, ValidationError

from helpers import SEED_FILE, SEEDS, FakeEmbedder
from rag.backends import BACKENDS, backend_names, llm_health, ui_choices
from rag.check import FALLBACK_SEPARATOR, check_citations
from rag.chunk import chunk_document
from rag.cite import EmbeddingChecker
from rag.config import Settings
from rag.embed import CachedEmbedder
from rag.errors import failure_reason, one_line
from rag.models import Citation, Document, Hit
from rag.pipeline import Draft, KeepOrder, Retrieved, Timings
from rag.qa import ExtractiveAnswerer, extractive_answer
from rag.service import Engine, answer, engine_key

pytestmark = pytest.mark.unit
COST_Q = "How much did DeepSeek say R1 cost to develop?"


def seed_chunks():
    text = (SEEDS / SEED_FILE).read_text(encoding="utf-8")
    return chunk_document(Document(SEED_FILE, "DeepSeek", text, "sha"), 800, 150)


class FakeRetriever:
    """The `Retriever` members the pipeline uses, over chunks in memory: ranked by shared words."""

    def __init__(self, chunks) -> None:
        self.chunks = chunks

    def search(self, query: str, k: int, vector: np.ndarray | None = None) -> list[Hit]:
        words = set(re.findall(r"\w+", query.lower()))
        ranked = sorted(self.chunks, key=lambda c: -len(words & set(re.findall(r"\w+", c.text.lower()))))
        return [Hit(c, 1.0 / rank, rank) for rank, c in enumerate(ranked[:k], start=1)]

    def refresh(self) -> object:
        return object()

    def unseen_terms(self, question: str, min_chunks: int) -> list[str]:
        return []

    def idf(self, term: str) -> float:
        return 1.0

    def openings(self, hits: Sequence[Hit]) -> list[Hit]:
        return []


class Reverse:
    """A `Reranker` that turns the order round (to see that the slot is used)."""

    def rerank(self, retrieved: Retrieved) -> Retrieved:
        hits = tuple(replace(h, rank=i) for i, h in enumerate(reversed(retrieved.hits), start=1))
        return replace(retrieved, hits=hits)


@pytest.fixture
def engine(tmp_path) -> Engine:
    settings = Settings(docs_dir=tmp_path, index_dir=tmp_path / "index")
    return Engine(settings, FakeEmbedder(), retriever=FakeRetriever(seed_chunks()))


def test_the_pipeline_runs_every_step_with_fakes(engine):
    result = answer(COST_Q, engine=engine)
    assert not result.abstained and any("$5.6 million" in c.quote for c in result.citations)
    assert set(result.timings) == {"rewrite", "embed", "retrieve", "extract", "total"}
    assert result.question == result.standalone_question == COST_Q
    text = (SEEDS / SEED_FILE).read_text(encoding="utf-8")
    assert all(text[c.start:c.end] == c.quote for c in result.citations), "quotes are exact spans"


def test_the_reranker_slot_reorders_the_hits(engine):
    plain = answer(COST_Q, engine=engine)
    reranked = answer(COST_Q, engine=engine.using(reranker=Reverse()))
    assert [h.chunk.id for h in reranked.hits] == [h.chunk.id for h in reversed(plain.hits)]
    assert [h.rank for h in reranked.hits] == list(range(1, len(plain.hits) + 1))


def test_an_injected_chat_model_answers_and_its_citations_are_checked(engine):
    cost = "DeepSeek claims that developing R1 required only $5.6 million in computing power."
    plain = answer(COST_Q, engine=engine)
    n = next(h.rank for h in plain.hits if "$5.6 million" in h.chunk.text)
    llm = engine.using(chat_model=FakeListChatModel(responses=[f"{cost} [{n}]"], name="openai:fake"))
    pieces: list[str] = []
    result = answer(COST_Q, engine=llm, llm="openai", on_token=pieces.append)
    assert result.answerer == "openai:fake" and [s.status for s in result.sentences] == ["supported"]
    assert "".join(pieces).startswith("DeepSeek claims") and "generate" in result.timings
    assert result.text.endswith("[1]") and "$5.6 million" in result.citations[0].quote


def test_an_unsupported_draft_falls_back_to_the_extractive_answer(engine):
    llm = engine.using(chat_model=FakeListChatModel(responses=["Cats sleep most of the day [1]."]))
    pieces: list[str] = []
    result = answer(COST_Q, engine=llm, llm="openai", on_token=pieces.append)
    assert result.answerer == "extractive" and result.text == answer(COST_Q, engine=engine).text
    assert FALLBACK_SEPARATOR in "".join(pieces) and "".join(pieces).endswith(result.text)
    assert any("No sentence of the LLM answer is supported" in n for n in result.notices)


def retrieved_for(question: str, embedder: FakeEmbedder, k: int = 5) -> Retrieved:
    hits = FakeRetriever(seed_chunks()).search(question, k)
    return Retrieved(question, embedder.encode_queries([question])[0], tuple(hits), lambda t: 1.0)


def test_the_extractive_answerer_needs_no_check_and_streams_its_quotes():
    embedder = FakeEmbedder()
    retrieved = retrieved_for(COST_Q, embedder)
    pieces: list[str] = []
    draft = ExtractiveAnswerer(Settings(), CachedEmbedder(embedder)).answer(retrieved, (), pieces.append)
    assert draft.answer is not None and draft.text == draft.answer.text
    assert "".join(pieces).strip() == draft.text
    checker = EmbeddingChecker(embedder)
    assert check_citations(draft, retrieved, draft.answer, checker, None) is draft.answer


def test_a_question_the_passages_do_not_answer_is_abstained_on():
    embedder = FakeEmbedder()
    result = extractive_answer(retrieved_for("What is the capital of France?", embedder), embedder, Settings())
    assert result.abstained and not result.citations and result.nearest


def test_the_sentence_cache_encodes_a_sentence_once():
    embedder = FakeEmbedder()
    cached = CachedEmbedder(embedder, size=2)
    first = cached.encode_documents(["a b", "c d"])
    again = cached.encode_documents(["c d", "a b"])
    assert embedder.calls == [["a b", "c d"]] and np.array_equal(first[::-1], again)
    cached.encode_documents(["e f"])  # over the size: the least recently used, "c d", goes
    cached.encode_documents(["a b", "c d"])
    assert embedder.calls[-1] == ["c d"] and cached.identity == embedder.identity == "fake-bag-of-words"


@pytest.mark.parametrize(("draft", "why"), [
    (Draft("openai:m", failure="The LLM (x) did not answer (ConnectionError: refused)."), "did not answer"),
    (Draft("openai:m", where="openai at http://h/v1"), "(openai at http://h/v1) returned an empty answer"),
])
def test_a_failed_or_empty_draft_gives_the_extractive_answer_with_why(draft, why):
    embedder = FakeEmbedder()
    retrieved = retrieved_for(COST_Q, embedder)
    extractive = extractive_answer(retrieved, embedder, Settings())
    result = check_citations(draft, retrieved, extractive, EmbeddingChecker(embedder), None)
    assert result.text == extractive.text and why in result.notices[-1]


def test_documents_do_not_say_is_an_abstention_with_the_nearest_passages():
    embedder = FakeEmbedder()
    retrieved = retrieved_for(COST_Q, embedder)
    extractive = extractive_answer(retrieved, embedder, Settings())
    draft = Draft("openai:m", text="The documents do not say.")
    result = check_citations(draft, retrieved, extractive, EmbeddingChecker(embedder), None)
    assert result.abstained and result.answerer == "openai:m" and result.nearest and not result.citations


def test_timings_come_from_one_context_manager():
    timings = Timings()
    with timings("retrieve"):
        pass
    with pytest.raises(ValueError), timings("generate"):
        raise ValueError("a failing step is timed too")
    assert set(timings.done()) == {"retrieve", "generate", "total"}
    assert timings.done()["total"] >= timings.seconds["retrieve"] >= 0


def test_keep_order_is_the_identity():
    retrieved = retrieved_for(COST_Q, FakeEmbedder())
    assert KeepOrder().rerank(retrieved) is retrieved


def test_engines_are_keyed_on_real_values_secrets_included():
    one, two = Settings(llm_api_key=SecretStr("key-one")), Settings(llm_api_key=SecretStr("key-two"))
    assert one.model_dump_json() == two.model_dump_json(), "the masked dump cannot tell them apart"
    assert engine_key(one) != engine_key(two)
    assert engine_key(one) == engine_key(Settings(llm_api_key=SecretStr("key-one")))


def test_the_backend_table_drives_validation_help_and_the_ui():
    assert list(BACKENDS) == ["extractive", "openai", "ollama", "llamacpp"]
    assert backend_names() == "extractive, openai, ollama or llamacpp"
    with pytest.raises(ValidationError, match="unknown answerer 'gpt'"):
        Settings(llm="gpt")
    assert ui_choices(Settings()) == ["extractive"]
    assert ui_choices(Settings(llm="ollama")) == ["extractive", "ollama"]
    assert llm_health(Settings()) == ("extractive (no LLM)", True, "built in")
    where, ok, detail = llm_health(Settings(llm="llamacpp", llamacpp_model_path="/nonexistent.gguf"))
    assert not ok and detail == "model file missing"


def test_an_exception_becomes_one_short_line():
    assert one_line(ValueError("first line\n  second line")) == "first line"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(RuntimeError("x " * 300), 20) == "x x x x x x x x x x "[:20]
    assert failure_reason(OSError("  spaced   out  ")) == "spaced out"


def test_a_citation_is_built_from_a_span_of_its_chunk():
    chunk = seed_chunks()[1]
    start = chunk.start + 10
    c = Citation.of_span(2, chunk, start, start + 25, 0.5)
    assert c.quote == chunk.text[10:35] and c.passage_start == chunk.start and c.chunk_id == chunk.id


@pytest.mark.skipif(os.environ.get("RAG_TEST_WITHOUT_MODEL") != "1", reason="only in a run that hides the model")
def test_this_run_has_no_model_no_chroma_and_no_network():
    from rag.embed import packaged_model_path

    with pytest.raises(ModuleNotFoundError):
        packaged_model_path()
    with pytest.raises(ModuleNotFoundError):
        import chromadb  # noqa: F401
    with pytest.raises(OSError, match="no network"), socket.create_connection(("127.0.0.1", 9), timeout=1):
        pass
