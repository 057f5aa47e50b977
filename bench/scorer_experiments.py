"""Model and feature choices for the fitted answer scorer, by cross-validation grouped by question set.

Reads the examples `python -m rag.train` collected (bench/out/scorer-examples.pkl) and prints, for
each variant, the out-of-fold figures at the CV-chosen pool size, gap and threshold:
- logistic regression on rag.features (what ships);
- the same plus spaCy's entity and speaker features on the candidate sentences (bench/spacy_features.py);
- without the features of a few families, to see which carry weight.
Also the sentence model's first-place rate (its best sentence holds the keys, when one in the pool does).

    .venv/bin/python bench/scorer_experiments.py [--spacy]
"""

from __future__ import annotations

import copy
import pickle
import sys

import numpy as np
from common import OUT

from rag import fit
from rag.features import SENTENCE_FEATURES


def first_place(examples, size: int = 16) -> float:
    scores = fit.sentence_oof(examples, size)
    hits = []
    for e, parts in zip(examples, scores, strict=True):
        for p, s in zip(e.parts, parts, strict=True):
            y = fit.sentence_labels(p, size, e.answerable)
            if y.any():
                hits.append(bool(y[int(np.argmax(s))]))
    return float(np.mean(hits))


def keep_extra_columns() -> None:
    """Make rag.fit's truncation keep the columns appended after SENTENCE_FEATURES (the pool-relative
    features are recomputed from the first columns)."""
    base = fit.truncated

    def truncated(part, size):
        cut = base(part, size)
        return np.concatenate([cut, part.matrix[:size, len(SENTENCE_FEATURES):]], axis=1) if len(cut) else cut
    fit.truncated = truncated


def with_spacy(examples):
    """Examples with rag's features plus spaCy's (kept through truncation)."""
    from spacy_features import entity_rows

    keep_extra_columns()
    out = copy.deepcopy(examples)
    for e in out:
        for p in e.parts:
            if len(p.matrix):
                extra = np.array(entity_rows(p.texts, p.text, p.kind), np.float32)
                p.matrix = np.concatenate([p.matrix, extra], axis=1)
    return out


def without(examples, names: tuple[str, ...]):
    """Examples with these features zeroed (a constant column carries nothing)."""
    out = copy.deepcopy(examples)
    cols = [SENTENCE_FEATURES.index(n) for n in names]
    for e in out:
        for p in e.parts:
            p.matrix[:, cols] = 0.0
    return out


def main() -> None:
    examples = pickle.loads((OUT / "scorer-examples.pkl").read_bytes())
    fit.POOL_SIZES, fit.GAPS = (16,), (0.5, 1.5)
    variants = {"logistic regression (shipped features)": examples}
    if "--spacy" in sys.argv:
        variants["+ spaCy entities and speakers"] = with_spacy(examples)
    variants["- dense similarity"] = without(examples, ("cos", "cos_clause", "cos_gap", "cos_order"))
    variants["- asked clause"] = without(examples, ("cos_clause", "coverage_clause", "clause_gap"))
    variants["- answer type"] = without(examples, ("holds", "lacks") + tuple(
        n for n in SENTENCE_FEATURES if n.startswith(("holds_", "lacks_"))))
    variants["- restating"] = without(examples, ("restates", "new_share"))
    for name, found in variants.items():
        report = fit.cross_validate(found)
        print(f"| {name} | {first_place(found):.3f} | " + " | ".join(
            f"{report['summary'][k]:.3f}" for k in ("accuracy", "abstention", "false_abstention", "balanced")) + " |")


if __name__ == "__main__":
    main()
