"""Collect the abstention gate's training rows (issue 15): the rules' answer to every training
question, whether it holds every key, and the gate's features. Writes bench/out/gate-rows.json;
bench/gate_cv.py cross-validates on it.

    PYTHONPATH=. .venv/bin/python bench/gate_collect.py --bbc-index bench/out/bbc-index

The gate sees only the rules' pick (rag.qa.rules_pick; the rules choose the sentences, the gate would
decide only whether to quote them): `GATE_FEATURES` are the rules' best score and its margin over
the runner-up, the fitted answer model's probability over the same passages (rag.scorer), whether
the fitted scorer's best sentence is among the rules' quotes, the question's unseen words, whether
it asks for a kind of thing and whether the quote holds or lacks it, the question's names and
figures the quote lacks, how much of the best sentence restates the question, the quote's coverage
of the question and of its asked clause, the rank, dense and lexical scores of its passage, the
number of question parts and of quotes. Training sets only (rag.train.TRAINING_SETS); the blind
sets are never read.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from rag.features import _missing_names, _restating, read_question
from rag.lexical import analyze
from rag.pipeline import Retrieved
from rag.qa import Pick, coverage, question_parts
from rag.qtype import holds
from rag.scorer import score_part, shipped
from rag.train import OUT, ROOT, data_list

GATE_FEATURES = ("best", "margin", "fitted", "agrees", "unseen", "asks_kind", "holds", "lacks", "names_missing",
                 "figures_missing", "restates", "coverage", "clause_coverage", "hit_rank", "dense", "lexical",
                 "parts", "quoted")


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def gate_row(found: Pick, retrieved: Retrieved, embedder: Any) -> list[float]:
    """The features of the rules' pick, in `GATE_FEATURES` order (the whole question read)."""
    scored = found.scored
    top = scored[0] if scored else found.chosen[0]
    asked = read_question(retrieved.question, retrieved.idf,
                          len(set(retrieved.unseen) & set(analyze(retrieved.question))))
    fitted = score_part(retrieved.question, retrieved.vector, retrieved.read, embedder, retrieved.idf,
                        retrieved.unseen, shipped())
    text = " ".join(c.text for c in found.chosen)
    kind_found = holds(asked.kind, text, asked.question)
    numbers_missing = len(asked.numbers - set(analyze(text))) / len(asked.numbers) if asked.numbers else 0.0
    first = (fitted.pool[0].hit.chunk.source, fitted.pool[0].start) if fitted.pool else None
    agrees = any((c.hit.chunk.source, c.start) == first for c in found.chosen)
    hit = top.hit
    return [top.score, top.score - scored[1].score if len(scored) > 1 else 0.5, logit(fitted.probability),
            float(agrees), float(asked.unseen), float(asked.kind is not None), float(kind_found is True),
            float(kind_found is False), _missing_names(asked, top), numbers_missing,
            _restating(asked, analyze(top.text))[0], coverage(asked.terms, text, hit.chunk.title),
            coverage(asked.clause_terms, text, hit.chunk.title), math.log(hit.rank), hit.dense or 0.0,
            min((hit.lexical or 0.0) / 20, 1.5), float(len(question_parts(retrieved.question))),
            float(len(found.chosen))]


def collect(bbc_docs: Path, bbc_index: Path) -> list[dict]:
    """One row per training question: group, answerable, the rules' outcome, the features (None when
    the rules abstain)."""
    from rich.progress import track

    from rag.eval_score import keys_found
    from rag.evaluate import load_questions
    from rag.qa import extractive_answer, rules_pick
    from rag.service import Engine, read, retrieve
    from rag.trainset import group_of

    rows = []
    for path, fitted_settings in data_list(bbc_docs, bbc_index):
        settings = fitted_settings.model_copy(update={"extractive_scorer": "rules"})
        engine = Engine(settings)
        engine.ensure_index()
        for q in track(load_questions(path)[0], description=path.name):
            vector = engine.embedder.encode_queries([q.question])[0]
            retrieved = read(engine, retrieve(engine, q.question, vector, None))
            found = rules_pick(retrieved, engine.sentences, settings)
            answer = extractive_answer(retrieved, engine.sentences, settings)
            correct = q.answerable and not answer.abstained and all(
                keys_found(answer.text, q.answer_keys, q.answer_any))
            rows.append({"id": q.id, "group": group_of(path.stem, q.id), "answerable": q.answerable,
                         "abstained": answer.abstained, "correct": bool(correct), "notes": q.notes,
                         "row": gate_row(found, retrieved, engine.sentences) if found.chosen else None})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bbc-docs", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    parser.add_argument("--bbc-index", type=Path, default=OUT / "bbc-index")
    args = parser.parse_args()
    rows = collect(args.bbc_docs, args.bbc_index)
    (OUT / "gate-rows.json").write_text(json.dumps(rows))
    print(f"{len(rows)} rows -> {OUT / 'gate-rows.json'}")


if __name__ == "__main__":
    main()
