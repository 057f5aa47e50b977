"""Training examples for the answer scorer: every labelled question run through retrieval, its
candidate sentences turned into features (rag.features) and labelled by the answer keys they hold.

`collect` answers nothing: it runs what the answerer runs before scoring (retrieve, read the
question, prefilter and embed the candidates) and records, per question part, the feature matrix
and for each candidate the share of the answer keys its quote (with its antecedent) holds and
whether its source is gold. rag.train fits and cross-validates on these records.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings
from rag.eval_score import keys_found
from rag.evaluate import Question, alias_map, load_questions
from rag.features import Asked, pool_features, prefiltered, question_row, read_question
from rag.lexical import analyze
from rag.qa import Candidate, question_parts, with_antecedent

POOL_COLLECTED = 24  # candidates recorded per part; the shipped pool size is chosen among smaller ones


@dataclass
class Part:
    """One question part: its pool's features and, per candidate, what its quote would give."""

    matrix: np.ndarray
    key_share: np.ndarray  # share of the question's keys in the candidate's quote
    gold: np.ndarray  # the candidate's source is a gold source (or the question names none)
    quotes: list[str]
    texts: list[str]  # the candidate sentences themselves
    sources: list[str]
    starts: list[int]
    question: list[float] = field(default_factory=list)  # rag.features.question_row
    text: str = ""  # the question part
    kind: str | None = None  # what it asks for (rag.qtype.expected_type)


@dataclass
class Example:
    """One labelled question and its parts."""

    id: str
    group: str  # cross-validation group: the question set (held-out batches apart)
    answerable: bool
    keys_in_passages: bool  # all keys in the retrieved chunks' text
    parts: list[Part] = field(default_factory=list)
    notes: str = ""
    keys_in_read: bool = False  # all keys in the chunks the answerer reads (the hits and their neighbours)


def group_of(set_name: str, qid: str) -> str:
    """The CV group: the set's name, with bbc-heldout split into its three blind batches."""
    if set_name != "bbc-heldout":
        return set_name
    batch = qid.split("-")[1]
    return f"heldout-{'blind3' if batch.startswith('blind3') else batch}"


def _quote_share(q: Question, c: Candidate) -> float:
    found = keys_found(with_antecedent(c).text, q.answer_keys, q.answer_any)
    return sum(found) / len(found) if found else 0.0


def examples(engine: Any, path: Path) -> Iterator[Example]:
    """The examples of one question set answered over `engine`'s index (the pipeline's retrieve and
    read steps, as `rag.answer` runs them)."""
    from rag.service import read, retrieve

    questions, _ = load_questions(path)
    aliases = alias_map(engine)
    for q in questions:
        gold = {aliases.get(s, s) for s in q.sources}
        retrieved = read(engine, retrieve(engine, q.question, engine.embedder.encode_queries([q.question])[0], None))
        passages = " ".join(h.chunk.text for h in retrieved.hits)
        more = " ".join(h.chunk.text for h in retrieved.read)
        example = Example(q.id, group_of(path.stem, q.id), q.answerable,
                          all(keys_found(passages, q.answer_keys, q.answer_any)), notes=q.notes,
                          keys_in_read=all(keys_found(more, q.answer_keys, q.answer_any)))
        for part in question_parts(q.question):
            asked = read_question(part, retrieved.idf, len(set(retrieved.unseen) & set(analyze(part))))
            example.parts.append(_part(engine.sentences, q, asked, list(retrieved.read), gold))
        yield example


def _part(embedder: Any, q: Question, asked: Asked, read: list, gold: set[str]) -> Part:
    pool = prefiltered(asked, read, POOL_COLLECTED)
    qvec = embedder.encode_queries([asked.question])[0]
    clause_vec = qvec if asked.clause == asked.question else embedder.encode_queries([asked.clause])[0]
    vectors = embedder.encode_documents([c.text for c in pool]) if pool else np.zeros((0, embedder.dimension))
    matrix = pool_features(asked, pool, vectors, qvec, clause_vec)
    return Part(matrix, np.array([_quote_share(q, c) for c in pool]),
                np.array([not gold or c.hit.chunk.source in gold for c in pool]),
                [with_antecedent(c).text for c in pool], [c.text for c in pool], [c.hit.chunk.source for c in pool],
                [c.start for c in pool], question_row(asked), asked.question, asked.kind)


def collect(sets: list[tuple[Path, Settings]]) -> list[Example]:
    """Every example of every (question set, index settings) pair."""
    from rich.progress import track

    from rag.service import Engine

    found: list[Example] = []
    for path, settings in sets:
        engine = Engine(settings)
        engine.ensure_index()
        found += track(examples(engine, path), description=f"{path.name}", total=len(load_questions(path)[0]))
    return found
