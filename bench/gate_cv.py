"""Cross-validate the abstention gate over the rules (issue 15), leave one question set out.

Reads bench/out/gate-rows.json (bench/gate_collect.py). For each group (seed, bbc, bbc-train, each
bbc-heldout batch) a logistic regression is fitted on the other groups' answered questions (label:
the rules' answer holds every key); its threshold is the highest that keeps false abstention (the
rules' own refusals plus the gate's) at or under `--max-fa` on those training groups, judged on their
own out-of-fold probabilities (inner leave-one-group-out). The held-out group is then scored:
accuracy, unanswerable abstention, false abstention, AUC of the gate on its answered questions.

    PYTHONPATH=. .venv/bin/python bench/gate_cv.py [--features best,margin,fitted] [--max-fa 0.10]
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
from gate_collect import GATE_FEATURES, logit

from rag.train import OUT

THRESHOLDS = np.arange(0.0, 0.951, 0.01)


def fitted_oof() -> dict[str, float]:
    """Per training question, the shipped scorer's answer probability out of fold (max over its parts):
    rag.fit's leave-one-group-out on the cached examples (bench/out/scorer-examples.pkl, `python -m
    rag.train`), at the shipped pool size and gap. The shipped parameters saw every training question,
    so their own probability would leak the label into the gate's cross-validation."""
    import pickle

    from rag.fit import answer_oof, answer_rows, sentence_oof
    from rag.scorer import shipped

    examples = pickle.loads((OUT / "scorer-examples.pkl").read_bytes())
    scorer = shipped()
    scores = sentence_oof(examples, scorer.pool_size)
    x, y, owner = answer_rows(examples, scores, scorer.pool_size, scorer.gap)
    best: dict[str, float] = {e.id: 0.0 for e in examples}
    for i, p in zip(owner, answer_oof(examples, x, y, owner), strict=True):
        best[examples[i].id] = max(best[examples[i].id], float(p))
    return best


def fit(x: np.ndarray, y: np.ndarray, c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(x, y)


def oof(rows: list[dict], x: np.ndarray, c: float) -> np.ndarray:
    """Out-of-fold gate probabilities of the answered rows (nan for rules' abstentions)."""
    groups = np.array([r["group"] for r in rows])
    answered = np.array([r["row"] is not None for r in rows])
    y = np.array([r.get("target", r["correct"]) for r in rows])
    probs = np.full(len(rows), np.nan)
    for g in sorted(set(groups)):
        train, test = answered & (groups != g), answered & (groups == g)
        if test.any():
            probs[test] = fit(x[train], y[train], c).predict_proba(x[test])[:, 1]
    return probs


def figures(rows: list[dict], probs: np.ndarray, threshold: float) -> dict[str, float]:
    ans = [i for i, r in enumerate(rows) if r["answerable"]]
    un = [i for i, r in enumerate(rows) if not r["answerable"]]
    kept = [r["row"] is not None and probs[i] >= threshold for i, r in enumerate(rows)]
    return {"accuracy": float(np.mean([kept[i] and rows[i]["correct"] for i in ans])),
            "rules_accuracy": float(np.mean([rows[i]["correct"] for i in ans])),
            "abstention": float(np.mean([not kept[i] for i in un])) if un else float("nan"),
            "rules_abstention": float(np.mean([rows[i]["row"] is None for i in un])) if un else float("nan"),
            "false_abstention": float(np.mean([not kept[i] for i in ans])),
            "rules_false_abstention": float(np.mean([rows[i]["row"] is None for i in ans])),
            "answerable": len(ans), "unanswerable": len(un)}


def choose(rows: list[dict], probs: np.ndarray, max_fa: float) -> float:
    """The highest threshold whose false abstention on `rows` is at most `max_fa`."""
    ok = [t for t in THRESHOLDS if figures(rows, probs, float(t))["false_abstention"] <= max_fa + 1e-9]
    return float(max(ok)) if ok else 0.0


def auc(rows: list[dict], probs: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    idx = [i for i, r in enumerate(rows) if r["row"] is not None]
    y = [rows[i]["correct"] for i in idx]
    return float(roc_auc_score(y, probs[idx])) if 0 < sum(y) < len(y) else float("nan")


def cross_validate(rows: list[dict], features: list[str], c: float, max_fa: float) -> dict[str, Any]:
    cols = [GATE_FEATURES.index(f) for f in features]
    x = np.array([[r["row"][j] for j in cols] if r["row"] else [0.0] * len(cols) for r in rows])
    groups = np.array([r["group"] for r in rows])
    answered = np.array([r["row"] is not None for r in rows])
    y = np.array([r["correct"] for r in rows])
    target = np.array([r.get("target", r["correct"]) for r in rows])
    outer = np.full(len(rows), np.nan)
    report: dict[str, Any] = {"by_group": {}}
    for g in sorted(set(groups)):
        train_idx = [i for i in range(len(rows)) if groups[i] != g]
        inner = oof([rows[i] for i in train_idx], x[train_idx], c)
        threshold = choose([rows[i] for i in train_idx], inner, max_fa)
        model = fit(x[answered & (groups != g)], target[answered & (groups != g)], c)
        test = answered & (groups == g)
        outer[test] = model.predict_proba(x[test])[:, 1]
        held = [rows[i] for i in range(len(rows)) if groups[i] == g]
        held_probs = outer[groups == g]
        report["by_group"][g] = {"threshold": threshold, **figures(held, held_probs, threshold),
                                 "auc": auc(held, held_probs)}
        for i in np.where(groups == g)[0]:
            rows[i]["kept"] = bool(answered[i] and outer[i] >= threshold)
    kept = np.array([r["kept"] for r in rows])
    ans, un = np.array([r["answerable"] for r in rows]), ~np.array([r["answerable"] for r in rows])
    report["pooled"] = {"accuracy": float((kept & y)[ans].mean()), "rules_accuracy": float(y[ans].mean()),
                        "abstention": float((~kept)[un].mean()), "rules_abstention": float((~answered)[un].mean()),
                        "false_abstention": float((~kept)[ans].mean()),
                        "rules_false_abstention": float((~answered)[ans].mean()), "auc": auc(rows, outer)}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default=",".join(GATE_FEATURES))
    parser.add_argument("--c", type=float, default=1.0)
    parser.add_argument("--max-fa", type=float, default=0.10)
    parser.add_argument("--label", choices=("correct", "answerable"), default="correct",
                        help="what the gate is fitted to: the rules' answer holds every key, or the question is "
                             "answerable (the figures still count accuracy by keys)")
    parser.add_argument("--in-sample-fitted", action="store_true",
                        help="keep the shipped scorer's probability (fitted on these very questions) as a feature")
    args = parser.parse_args()
    rows = json.loads((OUT / "gate-rows.json").read_text())
    if not args.in_sample_fitted:  # the shipped scorer saw these questions: use its out-of-fold probability
        oof_fitted = fitted_oof()
        for r in rows:
            if r["row"]:
                r["row"][GATE_FEATURES.index("fitted")] = logit(oof_fitted[r["id"]])
    for r in rows:
        r["target"] = r["correct"] if args.label == "correct" else r["answerable"]
    report = cross_validate(rows, args.features.split(","), args.c, args.max_fa)
    print(f"features: {args.features}  C={args.c}  max false abstention {args.max_fa}")
    print("| group | answerable / unanswerable | threshold | accuracy rules → gate | abstention rules → gate "
          "| false abstention rules → gate | AUC |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for g, f in report["by_group"].items():
        print(f"| {g} | {f['answerable']} / {f['unanswerable']} | {f['threshold']:.2f} | {f['rules_accuracy']:.3f} → "
              f"{f['accuracy']:.3f} | {f['rules_abstention']:.3f} → {f['abstention']:.3f} | "
              f"{f['rules_false_abstention']:.3f} → {f['false_abstention']:.3f} | {f['auc']:.3f} |")
    p = report["pooled"]
    print(f"| pooled | | | {p['rules_accuracy']:.3f} → {p['accuracy']:.3f} | {p['rules_abstention']:.3f} → "
          f"{p['abstention']:.3f} | {p['rules_false_abstention']:.3f} → {p['false_abstention']:.3f} | {p['auc']:.3f} |")


if __name__ == "__main__":
    main()
