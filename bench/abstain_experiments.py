"""Three attempts to lift the fitted scorer's abstention (issue 15), cross-validated; none shipped.

Reads the cached training examples of `python -m rag.train` (bench/out/scorer-examples.pkl: seed,
bbc, bbc-heldout, bbc-train; never a blind set). Every figure is out of fold, leaving one question set
(or held-out batch) out, each held-out group judged at the threshold rag.fit's rule chooses on the
other groups (false abstention at most 10%), at the shipped pool size and gap. Judged rows are always
the real questions; what an experiment adds only ever trains.

    PYTHONPATH=. .venv/bin/python bench/abstain_experiments.py augment|article|curve

- `augment`: synthetic near misses. Each answerable question is copied as unanswerable with its
  pools stripped of the candidates that hold a key (`sentence`), of every candidate from a gold
  source (`document`), or both; the copies train the answer model at weight 1, 0.5 or 0.25.
- `article`: two answer features read from the whole article of the best sentence (the highest idf
  of an asked-clause term the article lacks, the idf share of question terms it lacks), and a
  gradient-boosted answer model (scikit-learn) in place of the logistic one, each with and without.
- `curve`: a learning curve; the training folds keep a random share of the unanswerable (or
  answerable) questions, five draws each.
"""

from __future__ import annotations

import argparse
import collections
import copy
import math
import pickle
import sys
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
from common import bbc_corpus

from rag.features import asked_clause
from rag.fit import (
    _fit_lr,
    answer_rows,
    held_out_rows,
    logits,
    sentence_oof,
    summary,
    threshold_rows,
)
from rag.lexical import analyze
from rag.scorer import shipped
from rag.train import OUT, ROOT
from rag.trainset import Example, Part

REPORTED = ("seed", "heldout-blind2", "heldout-blind3", "bbc-train")


def _kept(part: Part, keep: np.ndarray) -> Part:
    idx = np.flatnonzero(keep)
    kept = copy.copy(part)
    kept.matrix, kept.key_share, kept.gold = part.matrix[idx], part.key_share[idx], part.gold[idx]
    for name in ("quotes", "texts", "sources", "starts"):
        setattr(kept, name, [getattr(part, name)[i] for i in idx])
    return kept


def near_misses(examples: Sequence[Example], strip: str) -> list[Example]:
    """Each answerable example copied as unanswerable, its pools stripped as `strip` says."""
    drop: dict[str, Callable[[Part], np.ndarray]] = {
        "sentence": lambda p: p.key_share <= 0, "document": lambda p: ~p.gold,
        "both": lambda p: (p.key_share <= 0) & ~p.gold}
    copies = []
    for e in examples:
        if e.answerable:
            twin = copy.copy(e)
            twin.answerable, twin.id = False, f"{e.id}#near-miss"
            twin.parts = [_kept(p, drop[strip](p)) for p in e.parts]
            copies.append(twin)
    return copies


@cache
def _articles() -> tuple[dict[str, set[str]], Callable[[str], float]]:
    bbc = bbc_corpus()
    files = {str(f.relative_to(bbc)): f for f in bbc.rglob("*.txt")}
    files.update({f.name: f for f in (ROOT / "seeds").iterdir() if f.is_file()})
    terms = {name: set(analyze(f.read_text(errors="ignore"))) for name, f in files.items()}
    df = collections.Counter(t for words in terms.values() for t in words)
    return terms, lambda t: math.log((len(terms) + 1) / (df.get(t, 0) + 1))


def article_features(part: Part, scores: np.ndarray) -> list[float]:
    """Highest idf of an asked-clause term the best sentence's article lacks; idf share of all lacked."""
    terms, idf = _articles()
    article = terms.get(part.sources[int(np.argmax(scores))], set())
    clause, question = set(analyze(asked_clause(part.text))), set(analyze(part.text))
    total = sum(idf(t) for t in question) or 1.0
    return [max((idf(t) for t in clause - article), default=0.0), sum(idf(t) for t in question - article) / total]


def judged(examples: list[Example], extra: Sequence[Example] = (), weight: float = 1.0, article: bool = False,
           model: str = "lr", keep: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> dict:
    """Out-of-fold summary of the real `examples`, the answer model also trained on `extra`."""
    scorer = shipped()
    size, gap = scorer.pool_size, scorer.gap
    everything = examples + list(extra)
    scores = sentence_oof(everything, size)
    x, y, owner = answer_rows(everything, scores, size, gap)
    if article:  # answer_rows' order: each part with a pool, example by example
        x = np.hstack([x, [article_features(p, s) for e, parts in zip(everything, scores, strict=True)
                           for p, s in zip(e.parts, parts, strict=True) if len(s)]])
    who = np.array(owner)
    groups = np.array([everything[i].group for i in who])
    real = who < len(examples)
    trains = keep(y, np.array([everything[i].answerable for i in who])) if keep else np.ones(len(y), bool)
    probs = np.zeros(len(y))
    for g in sorted(set(groups)):
        train, test = (groups != g) & trains, (groups == g) & real
        if model == "lr":
            fitted = _fit_lr(x[train], y[train], weight=np.where(real[train], 1.0, weight))
            probs[test] = 1 / (1 + np.exp(-logits(fitted, x[test])))
        else:
            from sklearn.ensemble import HistGradientBoostingClassifier
            gbt = HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200, min_samples_leaf=20)
            probs[test] = gbt.fit(x[train], y[train]).predict_proba(x[test])[:, 1]
    names = sorted({e.group for e in examples})
    rows, _ = held_out_rows(threshold_rows(examples, scores[:len(examples)], probs[real], gap), names)
    return {"all": summary(rows), **{g: summary([r for r in rows if r["group"] == g]) for g in REPORTED}}


def show(label: str, result: dict) -> None:
    line = lambda s: f"{s['accuracy']:.3f} / {s['abstention']:.3f} / {s['false_abstention']:.3f}"  # noqa: E731
    print(f"{label:<28} all {line(result['all'])}   " + "   ".join(f"{g} {line(result[g])}" for g in REPORTED))
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("augment", "article", "curve"))
    args = parser.parse_args()
    examples: list[Example] = pickle.loads((OUT / "scorer-examples.pkl").read_bytes())
    print("accuracy / abstention / false abstention, out of fold")
    show("as shipped", judged(examples))
    if args.experiment == "augment":
        trials = [("sentence", 1.0), ("sentence", 0.5), ("sentence", 0.25), ("document", 1.0), ("both", 1.0)]
        for strip, weight in trials:
            show(f"near misses {strip} x{weight}", judged(examples, near_misses(examples, strip), weight))
    elif args.experiment == "article":
        for article, model in [(False, "gbt"), (True, "lr"), (True, "gbt")]:
            show(f"{model}{' + article' if article else ''}", judged(examples, article=article, model=model))
    else:
        for share_u, share_a in [(0.25, 1.0), (0.5, 1.0), (0.75, 1.0), (1.0, 0.5)]:
            draws = []
            for seed in range(5):
                rng = np.random.default_rng(seed)
                keep = lambda y, ans, r=rng, u=share_u, a=share_a: r.random(len(y)) < np.where(ans, a, u)  # noqa: E731
                draws.append(judged(examples, keep=keep)["all"])
            mean = {k: float(np.mean([d[k] for d in draws])) for k in ("accuracy", "abstention", "false_abstention")}
            print(f"unanswerable kept {share_u:.2f}, answerable kept {share_a:.2f}: "
                  f"{mean['accuracy']:.3f} / {mean['abstention']:.3f} / {mean['false_abstention']:.3f}")


if __name__ == "__main__":
    main()
