"""The fitted answer scorer: which retrieved sentences answer a question, and how likely the best do.

`AnswerScorer` applies the two logistic regressions fitted by `python -m rag.train` (parameters in
rag/scorer.json, numpy only): the sentence model scores each candidate sentence from its features
(rag.features), and the answer model turns the scored pool into a probability that the answer
quoted from it holds what was asked. `learned_answer` is the extractive answerer built on them: for
each part of the question it quotes the best sentence and those scoring within the fitted gap of it
(at most `max_sentences`), when the probability reaches the fitted threshold; otherwise it says the
documents do not say. It quotes verbatim, as rag.qa does, and reuses its helpers (question parts,
antecedents, citations); it neither paraphrases nor combines facts. `uses_fitted` says which
questions it answers: all with `extractive_scorer = "fitted"`, those that give context first with
"auto" (the default); the rules of rag.qa answer the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings
from rag.embed import Embedder
from rag.features import (
    ANSWER_FEATURES,
    SENTENCE_FEATURES,
    answer_row,
    pool_features,
    prefiltered,
    question_row,
    read_question,
)
from rag.lexical import analyze
from rag.models import Answer, Hit
from rag.pipeline import Draft, History, Retrieved, TokenFn
from rag.qa import (
    Candidate,
    ExtractiveAnswerer,
    abstention_text,
    merged,
    nearest,
    question_parts,
    to_citation,
    with_antecedent,
)
from rag.text import sentence_spans

PARAMS = Path(__file__).with_name("scorer.json")


@dataclass(frozen=True)
class Linear:
    """A fitted logistic regression over standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    bias: float

    @classmethod
    def of(cls, fitted: dict[str, Any], names: Sequence[str]) -> Linear:
        if list(fitted["features"]) != list(names):
            raise ValueError("rag/scorer.json was fitted on other features: run `python -m rag.train`")
        return cls(np.array(fitted["mean"]), np.array(fitted["scale"]), np.array(fitted["coef"]), fitted["bias"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.bias


@dataclass(frozen=True)
class AnswerScorer:
    """The shipped parameters: both models, the pool size, the companion gap, the threshold."""

    sentence: Linear
    answer: Linear
    pool_size: int
    gap: float
    threshold: float
    max_sentences: int

    @classmethod
    def load(cls, path: Path = PARAMS) -> AnswerScorer:
        fitted = json.loads(path.read_text())
        return cls(Linear.of(fitted["sentence"], SENTENCE_FEATURES), Linear.of(fitted["answer"], ANSWER_FEATURES),
                   int(fitted["pool_size"]), float(fitted["gap"]), float(fitted["threshold"]),
                   int(fitted["max_sentences"]))

    def probability(self, matrix: np.ndarray, logits: np.ndarray, question: Sequence[float]) -> float:
        return float(1 / (1 + np.exp(-self.answer.logits(answer_row(matrix, logits, question)))))

    def quoted(self, logits: np.ndarray, limit: int) -> list[int]:
        """The best candidate and those within `gap` of it, best first."""
        order = np.argsort(-logits)[:min(limit, self.max_sentences)]
        return [int(i) for i in order if logits[i] >= logits[order[0]] - self.gap]


@lru_cache(maxsize=1)
def shipped() -> AnswerScorer:
    return AnswerScorer.load()


@dataclass(frozen=True)
class Scored:
    """One question part scored: its candidates (score = sentence probability) and answer probability."""

    pool: list[Candidate]
    probability: float
    quoted: list[Candidate]


def score_part(part: str, vector: np.ndarray, hits: Sequence[Hit], embedder: Embedder,
               idf: Callable[[str], float], unseen: Sequence[str], scorer: AnswerScorer) -> Scored:
    asked = read_question(part, idf, len(set(unseen) & set(analyze(part))))
    pool = prefiltered(asked, hits, scorer.pool_size)
    if not pool:
        return Scored([], 0.0, [])
    clause_vec = vector if asked.clause == asked.question else embedder.encode_queries([asked.clause])[0]
    matrix = pool_features(asked, pool, embedder.encode_documents([c.text for c in pool]), vector, clause_vec)
    logits = scorer.sentence.logits(matrix)
    ranked = [replace(c, score=float(1 / (1 + np.exp(-s)))) for c, s in zip(pool, logits, strict=True)]
    quoted = [ranked[i] for i in scorer.quoted(logits, len(ranked))]
    return Scored(sorted(ranked, key=lambda c: -c.score), scorer.probability(matrix, logits, question_row(asked)),
                  quoted)


def learned_answer(retrieved: Retrieved, embedder: Embedder, settings: Settings,
                   scorer: AnswerScorer | None = None) -> Answer:
    """Quote the sentences of `retrieved.read` the fitted scorer picks, or abstain; see the module docstring."""
    scorer = scorer or shipped()
    threshold = scorer.threshold if settings.answer_threshold is None else settings.answer_threshold
    question, hits = retrieved.question, retrieved.read
    parts = question_parts(question)
    vectors = [retrieved.vector] if len(parts) == 1 else list(embedder.encode_queries(parts))
    scored = [score_part(p, v, hits, embedder, retrieved.idf, retrieved.unseen, scorer)
              for p, v in zip(parts, vectors, strict=True)]
    confidence = max(s.probability for s in scored)
    chosen: dict[tuple[str, int], Candidate] = {}
    for s in scored:
        if s.probability >= threshold:
            chosen.update({(c.hit.chunk.source, c.start): c for c in s.quoted[:settings.max_answer_sentences]})
    if not chosen:
        return Answer(question=question, text=abstention_text(question), abstained=True, confidence=confidence,
                      nearest=nearest(hits, scored[0].pool), hits=tuple(hits))
    quotes = merged([with_antecedent(c) for c in chosen.values()])
    citations = tuple(to_citation(n, c) for n, c in enumerate(quotes, start=1))
    text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Answer(question=question, text=text, abstained=False, citations=citations, hits=tuple(hits),
                  confidence=confidence)


def gives_context(question: str) -> bool:
    """The question first gives context, then asks: two or more sentences ("The Brit Awards were held on
    Wednesday. Which band was named best British group?")."""
    return len(list(sentence_spans(question))) >= 2


def uses_fitted(settings: Settings, question: str) -> bool:
    """Whether the fitted scorer answers `question` (else the rules): always with "fitted", never with
    "rules", with "auto" when the question gives context first."""
    return settings.extractive_scorer == "fitted" or (settings.extractive_scorer == "auto" and gives_context(question))


class FittedAnswerer(ExtractiveAnswerer):
    """The extractive `Answerer` with the fitted scorer for the questions `uses_fitted` gives it and the
    rules for the others (`extractive_scorer = "fitted"` or "auto")."""

    def answer(self, retrieved: Retrieved, history: History = (), on_token: TokenFn | None = None) -> Draft:
        if not uses_fitted(self.settings, retrieved.question):
            return super().answer(retrieved, history, on_token)
        return self.drafted(learned_answer(retrieved, self.embedder, self.settings), on_token)
