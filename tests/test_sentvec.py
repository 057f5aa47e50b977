"""Sentence vectors stored at index time (`sentence_vectors = true`): same answers, no sentence
embedding when answering. Real Chroma, the real packaged model."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import make_settings
from rag.embed import SentenceTransformerEmbedder
from rag.models import Chunk
from rag.sentvec import pack, sentences, unpack
from rag.service import Engine, answer

QUESTIONS = ["Who claimed what about export controls?", "How much did DeepSeek say R1 cost to develop?",
             "What is the capital of France?"]


def test_packed_vectors_keep_their_cosines():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    back = unpack(pack(vectors), 384)
    assert back.shape == (5, 384)
    assert np.allclose(back @ vectors.T, vectors @ vectors.T, atol=2e-3)


@pytest.fixture(scope="module")
def engines(tmp_path_factory, embedder):
    """The seed article indexed twice: with stored sentence vectors (an embedder with a cold cache)
    and without."""
    import shutil

    from helpers import SEED_FILE, SEEDS

    built = {}
    for stored in (True, False):
        tmp = tmp_path_factory.mktemp(f"sentvec-{stored}")
        docs = tmp / "docs"
        docs.mkdir()
        shutil.copy(SEEDS / SEED_FILE, docs / SEED_FILE)
        cold = SentenceTransformerEmbedder("") if stored else embedder
        engine = Engine(make_settings(tmp, docs, sentence_vectors=stored), cold)
        engine.index()
        built[stored] = engine
    return built


def test_every_chunk_stores_one_vector_per_quotable_sentence(engines):
    engine = engines[True]
    chunks: list[Chunk] = engine.retriever.store.all_chunks(engine.retriever.refresh())
    assert chunks
    for chunk in chunks:
        assert len(unpack(chunk.sentence_vectors, engine.embedder.dimension)) == len(sentences(chunk.text))


def test_answers_embed_only_the_question_and_match_answers_without_stored_vectors(engines, monkeypatch):
    engine = engines[True]
    engine.embedder.encode_queries(["warm up"])  # load the model (its first call is not an answer's)
    encoded: list[str] = []
    real_encode = engine.embedder.encode

    def spy(texts: list[str]) -> np.ndarray:
        encoded.extend(texts)
        return real_encode(texts)

    monkeypatch.setattr(engine.embedder, "encode", spy)
    for question in QUESTIONS:
        encoded.clear()
        with_stored = answer(question, engine=engine)
        assert encoded == [question], "sentences came from the index, not the model"
        without = answer(question, engine=engines[False])
        assert with_stored.text == without.text
        assert [c.quote for c in with_stored.citations] == [c.quote for c in without.citations]


def test_a_sentence_in_two_overlapping_chunks_is_encoded_once(embedder, monkeypatch):
    from rag.sentvec import with_sentence_vectors

    shared = "The overlap sentence appears in both chunks."
    chunks = [Chunk(id=f"c{i}", source="a.txt", title="A", text=text, start=0, end=len(text), ordinal=i)
              for i, text in enumerate([f"First chunk opens here. {shared}", f"{shared} Second chunk ends here.", ""])]
    encoded: list[str] = []
    real_encode = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts: encoded.extend(texts) or real_encode(texts))
    first, second, empty = with_sentence_vectors(chunks, embedder)
    assert sorted(encoded) == sorted({*sentences(chunks[0].text), *sentences(chunks[1].text)})
    assert encoded.count(shared) == 1
    a, b = unpack(first.sentence_vectors, 384), unpack(second.sentence_vectors, 384)
    assert a.shape == b.shape == (2, 384) and np.array_equal(a[1], b[0])
    assert empty.sentence_vectors == "" and unpack(empty.sentence_vectors, 384).shape == (0, 384)
