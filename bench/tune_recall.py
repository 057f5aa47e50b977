"""Choose `phrase_weight` and `document_weight` (rag.fusion) on the training question sets, with a grouped check.

    .venv/bin/python bench/tune_recall.py [--bbc-index DIR]

For every answerable question of seed, bbc, bbc-heldout and bbc-train (never the blind sets), the
search's candidates are collected once as `Retriever.search` gets them (BM25 and dense, `candidates`
each, with the BM25 ones' texts); each weight pair of the grid is then scored by passage recall@k
(every answer key in the k chunks chosen by `rag.fusion.fuse`, as `bench_recall.py` counts it), ties
broken by the MRR of the covering rank (the k in plain-fusion order, as `Retriever.search` returns
them), then by the smaller weights. Grouped check: leave one
set out, choose on the other three, score the one left out; then the choice on all four, the
defaults to ship.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

from bench_recall import SETS, covering_rank, seed_index
from common import OUT, ROOT, bbc_corpus, machine, settings_for

PHRASE = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
DOCUMENT = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0)


def collect(name: str, settings: Any) -> list[dict[str, Any]]:
    """Per answerable question: its keys, the dense and BM25 candidate ids, the phrase ranking, texts, sources."""
    from rag.evaluate import load_questions
    from rag.fusion import phrase_ranking
    from rag.retrieve import Retriever

    retriever = Retriever(settings)
    collection = retriever.refresh()
    assert collection is not None and retriever._lexical is not None
    n = max(settings.candidates, settings.top_k)
    rows = []
    for q in load_questions(ROOT / SETS[name])[0]:
        if not q.answerable or not (q.answer_keys or q.answer_any):
            continue
        vector = retriever.embedder.encode_queries([q.question])[0]
        lexical = [i for i, _ in retriever._lexical.search(q.question, n)]
        dense = retriever.store.query(collection, vector, n)
        chunks = {c.id: c for c, _ in dense}
        chunks.update(retriever.store.get_chunks(collection, [i for i in lexical if i not in chunks]))
        rows.append({"set": name, "keys": q.answer_keys, "any": q.answer_any, "dense": [c.id for c, _ in dense],
                     "lexical": lexical, "text": {i: c.text for i, c in chunks.items()},
                     "source": {i: c.source for i, c in chunks.items()},
                     "phrase": phrase_ranking(q.question, {i: chunks[i].text for i in lexical if i in chunks})})
    return rows


def score(rows: list[dict[str, Any]], phrase_weight: float, document_weight: float, k: int, rrf_k: int
          ) -> tuple[float, float]:
    """(passage recall@k, MRR of the covering rank) of `rows` fused with these weights."""
    from rag.fusion import fuse, rrf_fuse

    ranks = []
    for r in rows:
        fused = fuse(r["dense"], r["lexical"], r["phrase"], r["source"], rrf_k, phrase_weight, document_weight)
        plain = rrf_fuse([r["dense"], r["lexical"]], rrf_k)
        top = sorted(sorted(fused, key=lambda i: -fused[i])[:k], key=lambda i: -plain[i])  # as Retriever.search
        ranks.append(covering_rank([r["text"][i] for i in top if i in r["text"]], r["keys"], r["any"]))
    return sum(x is not None for x in ranks) / len(rows), sum(1 / x for x in ranks if x) / len(rows)


def choose(rows: list[dict[str, Any]], k: int, rrf_k: int) -> tuple[float, float]:
    grid = itertools.product(PHRASE, DOCUMENT)
    return max(grid, key=lambda w: (*score(rows, w[0], w[1], k, rrf_k), -w[0] - w[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bbc-index", type=Path, default=OUT / "bbc-index")
    args = parser.parse_args()
    print(machine())
    rows: list[dict[str, Any]] = []
    for name in SETS:
        settings = (settings_for(ROOT / "seeds", seed_index()) if name == "seed"
                    else settings_for(bbc_corpus(), args.bbc_index))
        rows += collect(name, settings)
    k, rrf_k = settings.top_k, settings.rrf_k
    print(f"{len(rows)} answerable questions, k={k}, rrf_k={rrf_k}; recall / mrr")
    for held in SETS:
        train = [r for r in rows if r["set"] != held]
        test = [r for r in rows if r["set"] == held]
        wp, wd = choose(train, k, rrf_k)
        before, after = score(test, 0, 0, k, rrf_k), score(test, wp, wd, k, rrf_k)
        print(f"left out {held:12s} chose phrase={wp} document={wd} on the others: "
              f"{before[0]:.3f}/{before[1]:.3f} -> {after[0]:.3f}/{after[1]:.3f}")
    wp, wd = choose(rows, k, rrf_k)
    print(f"chosen on all four sets: phrase_weight={wp} document_weight={wd}")
    for name in SETS:
        test = [r for r in rows if r["set"] == name]
        before, after = score(test, 0, 0, k, rrf_k), score(test, wp, wd, k, rrf_k)
        print(f"  {name:12s} {before[0]:.3f}/{before[1]:.3f} -> {after[0]:.3f}/{after[1]:.3f}")
    print("grid on all four (recall):")
    print("phrase\\doc " + " ".join(f"{d:5}" for d in DOCUMENT))
    for p in PHRASE:
        print(f"{p:10} " + " ".join(f"{score(rows, p, d, k, rrf_k)[0]:.3f}" for d in DOCUMENT))


if __name__ == "__main__":
    main()
