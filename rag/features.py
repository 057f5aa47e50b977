"""What the answer scorer sees of each candidate sentence: one row of numbers per sentence.

`Asked` holds what is read once from a question (its idf-weighted terms, the asked clause of a long
question, the kind of answer wanted, its names and figures). `sentence_row` turns one candidate
sentence of a retrieved chunk into the features named in `SENTENCE_FEATURES`: dense similarity to
the question and to its asked clause, idf coverage of both (in the sentence, its neighbours, the
title), whether it holds the kind of thing asked for (rag.qtype), names and figures of the question it
lacks, how much of it only restates the question, where it stands in its document, the rank and
scores of its passage. `pool_rows` adds what is relative to the other candidates of the question
(the gap to the best cosine and coverage). `answer_row` summarises a scored pool into the features
of "does the best sentence answer?" (`ANSWER_FEATURES`). Pure functions over qa.py's Candidates; no
model here (rag.scorer applies the fitted weights).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.lexical import analyze
from rag.models import Hit
from rag.qa import (
    _ANAPHOR,
    FIGURE_KINDS,
    W_COSINE,
    W_COVERAGE,
    W_DEFINES,
    W_NAMES,
    W_NAMES_FIGURE,
    W_TYPE,
    Candidate,
    _missing,
    candidates,
    coverage,
)
from rag.qtype import SPEECH, defines, expected_type, figures, holds, name_groups, type_bonus
from rag.text import sentence_spans

_WH = re.compile(r"\b(?:who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)
_QUOTE = re.compile(r"[\"“”]")
KIND_GROUPS = {"figure": FIGURE_KINDS, "person": ("person",), "quote": ("quote",), "date": ("date",),
               "name": ("name", "naming", "place"), "reason": ("reason",)}

SENTENCE_FEATURES = (
    "cos", "cos_clause", "coverage", "coverage_sentence", "coverage_clause", "coverage_neighbours",
    "coverage_title", "restates", "new_share", "holds", "lacks", "speech", "quote_marks",
    "names_missing", "figures_missing", "defines", "anaphor", "lead", "position", "length",
    "hit_rank", "hit_top_source", "dense", "lexical", "rule",
    *(f"holds_{k}" for k in KIND_GROUPS), *(f"lacks_{k}" for k in KIND_GROUPS),
    "cos_gap", "coverage_gap", "clause_gap", "cos_order", "source_share", "source_cos_gap", "source_clause_gap",
)
_BEST = ("cos", "coverage", "coverage_clause", "holds", "lacks", "names_missing", "dense", "lexical", "rule")
ANSWER_FEATURES = ("top", "second_gap", *(f"top_{name}" for name in _BEST), "best_rule", "unseen", "question_terms",
                   "asks_kind")


@dataclass(frozen=True)
class Asked:
    """What the scorer reads once from a question (or one part of a compound question)."""

    question: str
    clause: str  # the asked clause: "Which band was named best British group?" of a long quiz question
    terms: dict[str, float]  # analysed term -> idf
    clause_terms: dict[str, float]
    kind: str | None
    names: list[set[str]]
    numbers: set[str]
    unseen: int = 0  # question words no chunk uses


def asked_clause(question: str) -> str:
    """The clause that asks: the question's last sentence, from the comma-separated segment that opens
    with a question word ("The Brit Awards were held on Wednesday. Which band ...?" -> "Which band
    ...?"; "While Absa was negotiating, by how much ...?" -> "by how much ...?"); the whole question
    when that leaves fewer than two content words."""
    spans = list(sentence_spans(question))
    last = question[spans[-1][0]:] if spans else question
    segments = last.split(", ")
    opening = next((i for i, seg in enumerate(segments) if _WH.search(" ".join(seg.split()[:3]))), 0)
    clause = ", ".join(segments[opening:]).strip()
    return clause if len(analyze(clause)) >= 2 else question


def read_question(question: str, idf: Callable[[str], float], unseen: int = 0) -> Asked:
    clause = asked_clause(question)
    return Asked(question, clause, {t: idf(t) for t in dict.fromkeys(analyze(question))},
                 {t: idf(t) for t in dict.fromkeys(analyze(clause))}, expected_type(question),
                 name_groups(question), figures(question), unseen)


def _neighbours(c: Candidate) -> str:
    """The sentences before and after the candidate in its chunk."""
    chunk = c.hit.chunk
    offset, end = c.start - chunk.start, c.end - chunk.start
    spans = list(sentence_spans(chunk.text))
    before = [chunk.text[s:e] for s, e in spans if e <= offset][-1:]
    after = [chunk.text[s:e] for s, e in spans if s >= end][:1]
    return " ".join(before + after)


def _missing_names(asked: Asked, c: Candidate) -> float:
    offset = c.start - c.hit.chunk.start
    context = set(analyze(c.hit.chunk.text[max(0, offset - 200):offset + len(c.text)] + " " + c.hit.chunk.title))
    return sum(1 for g in asked.names if not g & context) / len(asked.names) if asked.names else 0.0


def _restating(asked: Asked, words: list[str]) -> tuple[float, float]:
    """(share of the sentence's terms that are the question's, share that are new)."""
    if not words:
        return 0.0, 0.0
    inside = sum(1 for w in words if w in asked.terms)
    return inside / len(words), 1 - inside / len(words)


def _kind_flags(kind: str | None, found: bool | None) -> list[float]:
    flags = []
    for group in KIND_GROUPS.values():
        flags.append(float(kind in group and found is True))
    for group in KIND_GROUPS.values():
        flags.append(float(kind in group and found is False))
    return flags


def sentence_row(asked: Asked, c: Candidate, cos: float, cos_clause: float, top_source: str) -> list[float]:
    """The features of one candidate, in `SENTENCE_FEATURES` order (less the pool-relative ones)."""
    chunk, words = c.hit.chunk, analyze(c.text)
    found = holds(asked.kind, c.text, asked.question)
    restates, new_share = _restating(asked, words)
    numbers_missing = len(asked.numbers - set(words)) / len(asked.numbers) if asked.numbers else 0.0
    hit: Hit = c.hit
    return [
        cos, cos_clause, coverage(asked.terms, c.text, chunk.title), coverage(asked.terms, c.text),
        coverage(asked.clause_terms, c.text, chunk.title), coverage(asked.terms, _neighbours(c)),
        coverage(asked.terms, chunk.title), restates, new_share, float(found is True), float(found is False),
        float(SPEECH.search(c.text) is not None), float(_QUOTE.search(c.text) is not None),
        _missing_names(asked, c), numbers_missing, float(defines(c.text, asked.question)),
        float(_ANAPHOR.match(c.text) is not None), float(c.start < 250), math.log1p(c.start / 100),
        math.log1p(len(c.text) / 100), math.log(hit.rank), float(chunk.source == top_source),
        hit.dense or 0.0, min((hit.lexical or 0.0) / 20, 1.5), _rule_score(asked, c, cos),
        *_kind_flags(asked.kind, found),
    ]


def _rule_score(asked: Asked, c: Candidate, cos: float) -> float:
    """The hand-set score of rag.qa (`score_sentences`), as one feature among the others."""
    weight = W_NAMES_FIGURE if asked.kind in FIGURE_KINDS else W_NAMES
    return (W_COSINE * cos + W_COVERAGE * c.coverage + type_bonus(asked.kind, c.text, asked.question, W_TYPE)
            + W_DEFINES * defines(c.text, asked.question) - _missing(asked.names, asked.numbers, c, weight))


def pool_rows(rows: Sequence[Sequence[float]] | np.ndarray, sources: Sequence[str]) -> np.ndarray:
    """The rows of a question's pool with the pool-relative features appended (`SENTENCE_FEATURES`):
    the gaps to the pool's best, and how much of the pool, and of its best, the sentence's document has."""
    base = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
    cos, cover, clause = base[:, 0], base[:, 2], base[:, 4]
    order = np.argsort(np.argsort(-cos)).astype(np.float32)
    same = np.array([[a == b for b in sources] for a in sources], dtype=bool).reshape(len(sources), len(sources))
    source_cos = np.array([cos[row].max() for row in same]) if len(sources) else cos
    source_clause = np.array([clause[row].max() for row in same]) if len(sources) else clause
    relative = np.stack([cos - cos.max(), cover - cover.max(), clause - clause.max(), np.log1p(order),
                         same.mean(axis=1), source_cos - cos.max(), source_clause - clause.max()], axis=1)
    return np.concatenate([base, relative], axis=1)


def prefiltered(asked: Asked, hits: Sequence[Hit], limit: int) -> list[Candidate]:
    """The `limit` candidates worth embedding: best coverage of the question or of its asked clause
    (a long question's context words are in no answer sentence), defining sentences first."""
    pool = candidates(hits, asked.terms)

    def lexical(c: Candidate) -> tuple[float, int]:
        clause = coverage(asked.clause_terms, c.text, c.hit.chunk.title)
        return -max(c.coverage, clause) - float(defines(c.text, asked.question)), c.hit.rank
    return sorted(pool, key=lexical)[:limit]


def pool_features(asked: Asked, pool: Sequence[Candidate], vectors: np.ndarray, qvec: np.ndarray,
                  clause_vec: np.ndarray) -> np.ndarray:
    """The feature matrix of a prefiltered pool (`vectors`: its sentences' embeddings)."""
    if not pool:
        return np.zeros((0, len(SENTENCE_FEATURES)), np.float32)
    top_source = min(pool, key=lambda c: c.hit.rank).hit.chunk.source
    cosines, clause_cosines = vectors @ qvec, vectors @ clause_vec
    rows = [sentence_row(asked, c, float(cos), float(cc), top_source)
            for c, cos, cc in zip(pool, cosines, clause_cosines, strict=True)]
    return pool_rows(rows, [c.hit.chunk.source for c in pool])


def question_row(asked: Asked) -> list[float]:
    """What counts for abstaining that is read from the question alone (last of `ANSWER_FEATURES`)."""
    return [float(asked.unseen), math.log1p(len(asked.terms)), float(asked.kind is not None)]


def answer_row(matrix: np.ndarray, logits: np.ndarray, question: Sequence[float]) -> np.ndarray:
    """The features of "does the best sentence answer?" (`ANSWER_FEATURES`) from a scored pool."""
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    order = np.argsort(-logits)
    best = matrix[order[0]]
    second = float(logits[order[0]] - logits[order[1]]) if len(order) > 1 else 5.0
    return np.array([logits[order[0]], min(second, 5.0), *(best[col[name]] for name in _BEST),
                     matrix[:, col["rule"]].max(), *question], np.float32)
