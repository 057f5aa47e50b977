"""The fitted answer scorer: its features, the shipped parameters, training on a few examples, and
answers from real indexes (answer-bearing over restating, abstention with its probability)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.features import ANSWER_FEATURES, SENTENCE_FEATURES, asked_clause, pool_rows, read_question
from rag.scorer import PARAMS, AnswerScorer, Linear
from rag.service import answer


@pytest.mark.parametrize(("question", "clause"), [
    ("The Brit Awards were held on Wednesday. Which band was named best British group?",
     "Which band was named best British group?"),
    ("While Absa was negotiating with Barclays, by how much did it predict its profits would climb?",
     "by how much did it predict its profits would climb?"),
    ("Who claimed what about export controls?", "Who claimed what about export controls?"),  # too short a clause
])
def test_the_asked_clause_of_a_long_question(question, clause):
    assert asked_clause(question) == clause


@pytest.mark.unit
@pytest.mark.parametrize(("question", "scorer", "fitted"), [
    ("The Brit Awards were held on Wednesday. Which band was named best British group?", "auto", True),
    ("Which band was named best British group?", "auto", False),
    ("What did Dr. Williams say about the plan?", "auto", False),  # an abbreviation ends no sentence
    ("Which band was named best British group?", "fitted", True),
    ("The Brit Awards were held on Wednesday. Which band was named best British group?", "rules", False),
])
def test_the_fitted_scorer_answers_the_questions_that_give_context_first_by_default(question, scorer, fitted):
    from rag.config import Settings
    from rag.scorer import uses_fitted

    assert Settings.model_fields["extractive_scorer"].default == "auto"
    assert uses_fitted(Settings(extractive_scorer=scorer), question) is fitted


def test_pool_relative_features_measure_the_gap_to_the_best():
    base = np.zeros((3, len(SENTENCE_FEATURES) - 7))
    base[:, 0] = [0.5, 0.7, 0.1]  # cos
    base[:, 2] = [0.2, 0.4, 0.9]  # coverage
    rows = pool_rows(base.tolist(), ["a.txt", "b.txt", "a.txt"])
    names = list(SENTENCE_FEATURES)
    assert rows.shape == (3, len(names))
    assert rows[:, names.index("cos_gap")].tolist() == pytest.approx([-0.2, 0.0, -0.6])
    assert rows[:, names.index("coverage_gap")].tolist() == pytest.approx([-0.7, -0.5, 0.0])
    assert rows[:, names.index("cos_order")].tolist() == pytest.approx(np.log1p([1, 0, 2]).tolist())
    assert rows[:, names.index("source_share")].tolist() == pytest.approx([2 / 3, 1 / 3, 2 / 3])
    assert rows[:, names.index("source_cos_gap")].tolist() == pytest.approx([-0.2, 0.0, -0.2])


def test_the_shipped_parameters_fit_todays_features():
    fitted = json.loads(PARAMS.read_text())
    assert fitted["sentence"]["features"] == list(SENTENCE_FEATURES)
    assert fitted["answer"]["features"] == list(ANSWER_FEATURES)
    scorer = AnswerScorer.load()
    assert 0 < scorer.threshold < 1 and scorer.pool_size >= 8
    assert set(fitted["trained_on"]) >= {"seed", "bbc"}, "the data list is recorded with the parameters"


def test_quoted_takes_the_best_and_those_within_the_gap():
    one = Linear(np.zeros(1), np.ones(1), np.ones(1), 0.0)
    scorer = AnswerScorer(one, one, 12, 1.0, 0.5, 3)
    assert scorer.quoted(np.array([0.2, 3.0, 2.5, -1.0, 2.1]), 5) == [1, 2, 4]
    assert scorer.quoted(np.array([0.2, 3.0, 2.5, -1.0, 2.1]), 2) == [1, 2]
    assert scorer.quoted(np.array([0.2, 3.0, 1.5]), 5) == [1]


def test_read_question_weights_terms_by_idf():
    asked = read_question("How much did DeepSeek say R1 cost?", lambda t: 2.0 if t == "deepseek" else 1.0)
    assert asked.terms["deepseek"] == 2.0 and asked.kind == "money"
    assert asked.clause == "How much did DeepSeek say R1 cost?"


def test_training_on_examples_gives_a_usable_scorer(tmp_path):
    """rag.fit on hand-made examples: the fitted scorer ranks the labelled sentence first."""
    pytest.importorskip("sklearn")
    from rag.fit import cross_validate, fit_all
    from rag.trainset import Example, Part

    rng = np.random.default_rng(0)
    examples = []
    for i in range(60):
        base = rng.normal(size=(8, len(SENTENCE_FEATURES) - 7))
        answer_at = int(rng.integers(8)) if i % 4 else None
        if answer_at is not None:
            base[answer_at, 0] += 3.0  # the answer sentence is the most similar
        share = np.zeros(8)
        if answer_at is not None:
            share[answer_at] = 1.0
        part = Part(pool_rows(base, ["s"] * 8), share, np.ones(8, bool), ["q"] * 8, ["t"] * 8, ["s"] * 8,
                    list(range(8)), [0.0, 1.0, 1.0])
        examples.append(Example(f"q{i}", f"g{i % 3}", answer_at is not None, True, [part]))
    report = cross_validate(examples)
    assert report["summary"]["accuracy"] > 0.5 and report["summary"]["abstention"] > 0.2  # chance: 0.125, 0
    assert all(0 < found["threshold"] < 1 for found in report["by_group"].values())
    params = fit_all(examples, report)
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps(params))
    scorer = AnswerScorer.load(path)
    logits = scorer.sentence.logits(examples[1].parts[0].matrix)
    assert examples[1].parts[0].key_share[int(np.argmax(logits))] == 1.0


def test_the_threshold_is_the_highest_keeping_false_abstention_within_budget():
    """rag.fit.choose_threshold: at most 10% of the given groups' answerable questions refused."""
    from rag.fit import choose_threshold

    def rows(refused: int, group: str) -> list[dict]:
        return [{"group": group, "answerable": True, "answered": i >= refused, "correct": i >= refused,
                 "gold_quotes": 1.0} for i in range(10)]

    by_threshold = {0.2: rows(0, "a") + rows(5, "b"), 0.4: rows(1, "a") + rows(9, "b"),
                    0.6: rows(2, "a") + rows(9, "b")}
    assert choose_threshold(by_threshold, {"a"}) == 0.4  # 0.6 refuses 20% of a's answerable questions
    assert choose_threshold(by_threshold, {"a", "b"}) == 0.01  # none keeps a and b within 10%: the lowest


BRITS = {"brits.txt": "Franz Ferdinand win at the Brits\n\nThe Brit Awards were held in London on Wednesday night, "
         "with performances from several acts. Scottish band Franz Ferdinand took the award for best British "
         "group, beating Coldplay and Keane. The ceremony was broadcast live on ITV. Joss Stone was named best "
         "British female solo artist.\n"}  # the answer-bearing sentence after the one restating a quiz question


def fitted(engine):
    """A sibling of `engine` (same index and embedder) answering with the fitted scorer."""
    from rag.service import Engine

    return Engine(engine.settings.model_copy(update={"extractive_scorer": "fitted"}), engine.embedder,
                  retriever=engine.retriever)


def test_the_answer_bearing_sentence_is_quoted_not_the_one_restating_the_question(tmp_path, embedder):
    from helpers import engine_over

    engine = engine_over(tmp_path, embedder, BRITS, extractive_scorer="fitted")
    result = answer("The Brit Awards were held on Wednesday. Which band was named best British group?",
                    engine=engine)
    assert not result.abstained and "Franz Ferdinand took the award" in result.text
    assert result.confidence is not None and result.confidence >= AnswerScorer.load().threshold


def test_by_default_a_question_giving_context_gets_the_fitted_scorer_and_a_plain_one_the_rules(tmp_path, embedder):
    from helpers import engine_over

    engine = engine_over(tmp_path, embedder, BRITS)
    quiz = answer("The Brit Awards were held on Wednesday. Which band was named best British group?", engine=engine)
    assert not quiz.abstained and "Franz Ferdinand took the award" in quiz.text
    assert quiz.confidence is not None, "the fitted scorer gives its probability"
    plain = answer("Which band was named best British group?", engine=engine)
    assert not plain.abstained and "Franz Ferdinand" in plain.text
    assert plain.confidence is None, "the rules give none"


def test_an_unanswerable_question_abstains_with_its_probability_below_the_threshold(seed_engine):
    result = answer("What is the capital of France?", engine=fitted(seed_engine))
    assert result.abstained and result.citations == ()
    assert result.confidence is not None and result.confidence < AnswerScorer.load().threshold
    assert result.to_dict()["confidence"] == pytest.approx(result.confidence, abs=1e-4)


def test_the_fitted_scorer_answers_from_the_seed_article(seed_engine):
    result = answer("How much did DeepSeek say R1 cost to develop?", engine=fitted(seed_engine))
    assert not result.abstained and "5.6 million" in result.text and result.confidence > 0.5
    assert answer("How much did DeepSeek say R1 cost to develop?", engine=seed_engine).confidence is None, \
        "the rules, the default, give no probability"


def test_the_chunks_next_to_the_top_documents_hits_are_read_too(seed_engine):
    from rag.service import read, retrieve

    engine = fitted(seed_engine)
    retriever = engine.retriever
    question = "How much did DeepSeek say R1 cost to develop?"
    hits = retriever.search(question, 2)
    more = retriever.neighbours(hits, reach=1)
    ordinals = {h.chunk.ordinal for h in hits}
    assert more and all(h.chunk.source == hits[0].chunk.source for h in more)
    assert {h.chunk.ordinal for h in more} <= {o + d for o in ordinals for d in (-1, 1)} - ordinals
    assert [h.rank for h in more] == list(range(len(hits) + 1, len(hits) + len(more) + 1)), "ranked after the hits"
    retrieved = read(engine, retrieve(engine, question, engine.embedder.encode_queries([question])[0], 2))
    assert [h.chunk.id for h in retrieved.read] == [h.chunk.id for h in hits + more]
    assert len(read(seed_engine, retrieve(seed_engine, question, retrieved.vector, 2)).read) == 2, \
        "the rules (the default's for a one-sentence question) read the hits only"
    quiz = "DeepSeek released R1 in January. How much did DeepSeek say R1 cost to develop?"
    quiz_vector = seed_engine.embedder.encode_queries([quiz])[0]
    assert len(read(seed_engine, retrieve(seed_engine, quiz, quiz_vector, 2)).read) > 2, \
        "by default a question giving context first is the fitted scorer's: the neighbours are read too"
    assert retriever.neighbours(hits, reach=0) == []
