"""Fitting and cross-validating the answer scorer (training time only: needs scikit-learn).

Two logistic regressions. The sentence model scores each candidate: positive when its quote holds
the most answer keys any candidate of the question holds (and at least one) from a gold source.
The answer model gives the probability that the answer composed from the best sentences holds every
key, from `ANSWER_FEATURES` of the scored pool; it is fitted on out-of-fold sentence scores, so it
sees scores as they are on unseen questions. Cross-validation leaves one group (question set, or
held-out batch) out at a time; the pool size and the companion gap (how far below the best a sentence
may score and still be quoted) are chosen on out-of-fold predictions.

The abstention threshold rule: the highest threshold (grid `THRESHOLDS`) whose out-of-fold false
abstention (answerable questions refused) on the training questions is at most `FALSE_ABSTENTION`
(0.10). In cross-validation each held-out group is judged at the threshold this rule gives on the
other groups' out-of-fold predictions (none of its labels choose its threshold); the shipped
threshold is the rule applied to every group's out-of-fold predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.features import ANSWER_FEATURES, SENTENCE_FEATURES, answer_row, pool_rows
from rag.trainset import Example, Part

POOL_SIZES = (12, 16, 24)
GAPS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
MAX_SENTENCES = 3
FALSE_ABSTENTION = 0.10  # the most answerable questions refused, out of fold, that a threshold may cost
THRESHOLDS = np.round(np.arange(0.01, 0.99, 0.01), 2)
GROUP_WEIGHTS: dict[str, float] = {}  # weight of a group's examples (1 when absent); {"seed": 4} was tried: worse
_RELATIVE = 7  # the last seven features are pool-relative (rag.features.pool_rows)
_BASE = len(SENTENCE_FEATURES) - _RELATIVE


def truncated(part: Part, size: int) -> np.ndarray:
    """The part's pool cut to `size`, its pool-relative features recomputed."""
    base = part.matrix[:size, :_BASE]
    if not len(base):
        return np.zeros((0, len(SENTENCE_FEATURES)), np.float32)
    return pool_rows(base, part.sources[:size])


def sentence_labels(part: Part, size: int, answerable: bool) -> np.ndarray:
    share = np.where(part.gold[:size], part.key_share[:size], 0.0)
    if not answerable or not len(share) or share.max() <= 0:
        return np.zeros(len(share), bool)
    return share >= share.max()


def _fit_lr(x: np.ndarray, y: np.ndarray, c: float = 1.0, weight: np.ndarray | None = None) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y, sample_weight=weight)
    return {"mean": mean.tolist(), "scale": scale.tolist(), "coef": model.coef_[0].tolist(),
            "bias": float(model.intercept_[0])}


def logits(model: dict[str, Any], x: np.ndarray) -> np.ndarray:
    return ((x - np.array(model["mean"])) / np.array(model["scale"])) @ np.array(model["coef"]) + model["bias"]


def _sentence_data(examples: Sequence[Example], size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs, ys, ws = [], [], []
    for e in examples:
        for p in e.parts:
            y = sentence_labels(p, size, e.answerable)
            if y.any():
                xs.append(truncated(p, size))
                ys.append(y)
                ws.append(np.full(len(y), GROUP_WEIGHTS.get(e.group, 1.0)))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


def compose(part: Part, scores: np.ndarray, gap: float) -> list[int]:
    """The candidates quoted: the best, and those within `gap` of it (at most MAX_SENTENCES)."""
    order = np.argsort(-scores)
    return [int(i) for i in order[:MAX_SENTENCES] if scores[i] >= scores[order[0]] - gap]


def part_outcome(part: Part, picked: list[int]) -> tuple[float, float]:
    """(share of keys the quotes hold together, share of quotes from a gold source)."""
    shares = part.key_share[picked]
    return float(min(1.0, shares.max() if len(shares) else 0.0)), float(part.gold[picked].mean())


def sentence_oof(examples: Sequence[Example], size: int, c: float = 1.0) -> list[list[np.ndarray]]:
    """Out-of-fold sentence logits, per example and part (each group scored by the others' model)."""
    groups = sorted({e.group for e in examples})
    scores: list[list[np.ndarray]] = [[] for _ in examples]
    for g in groups:
        x, y, w = _sentence_data([e for e in examples if e.group != g], size)
        model = _fit_lr(x, y, c, w)
        for i, e in enumerate(examples):
            if e.group == g:
                scores[i] = [logits(model, truncated(p, size)) if len(p.matrix) else np.zeros(0) for p in e.parts]
    return scores


def answer_rows(examples: Sequence[Example], scores: list[list[np.ndarray]], size: int, gap: float
                ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """ANSWER_FEATURES per part with a pool, its label (its quotes hold the keys) and its example index."""
    xs, ys, owner = [], [], []
    for i, (e, parts) in enumerate(zip(examples, scores, strict=True)):
        for p, s in zip(e.parts, parts, strict=True):
            if not len(s):
                continue
            xs.append(answer_row(truncated(p, size), s, p.question))
            share, _ = part_outcome(p, compose(p, s, gap))
            ys.append(e.answerable and share >= (1.0 if len(e.parts) == 1 else 0.5))
            owner.append(i)
    return np.array(xs), np.array(ys), owner


def answer_oof(examples: Sequence[Example], x: np.ndarray, y: np.ndarray, owner: list[int]) -> np.ndarray:
    """Out-of-fold answer probabilities, grouped as the sentence model's."""
    groups = np.array([examples[i].group for i in owner])
    probs = np.zeros(len(y))
    weight = np.array([GROUP_WEIGHTS.get(g, 1.0) for g in groups])
    for g in sorted(set(groups)):
        model = _fit_lr(x[groups != g], y[groups != g], weight=weight[groups != g])
        probs[groups == g] = 1 / (1 + np.exp(-logits(model, x[groups == g])))
    return probs


def part_results(examples: Sequence[Example], scores: list[list[np.ndarray]], gap: float
                 ) -> list[tuple[int, float, float]]:
    """(example index, key share, gold share) of each part with a pool, as `answer_rows` orders them."""
    return [(i, *part_outcome(p, compose(p, s, gap))) for i, e in enumerate(examples)
            for p, s in zip(e.parts, scores[i], strict=True) if len(s)]


def outcomes(examples: Sequence[Example], parts: list[tuple[int, float, float]], probs: np.ndarray,
             threshold: float) -> list[dict[str, Any]]:
    """Per question: answered, correct (every key quoted), share of gold quotes; as the answerer would."""
    by_example: dict[int, list[tuple[float, float]]] = {}
    for (i, share, gold), prob in zip(parts, probs, strict=True):
        if prob >= threshold:
            by_example.setdefault(i, []).append((share, gold))
    rows = []
    for i, e in enumerate(examples):
        answered = by_example.get(i, [])
        share = min(1.0, sum(a for a, _ in answered)) if len(e.parts) > 1 else max((a for a, _ in answered), default=0)
        rows.append({"id": e.id, "group": e.group, "answerable": e.answerable, "answered": bool(answered),
                     "correct": e.answerable and bool(answered) and share >= 1.0, "notes": e.notes,
                     "gold_quotes": float(np.mean([g for _, g in answered])) if answered else None})
    return rows


def summary(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    gold = [r["gold_quotes"] for r in answerable if r["gold_quotes"] is not None]
    accuracy = float(np.mean([r["correct"] for r in answerable])) if answerable else 0.0
    abstention = float(np.mean([not r["answered"] for r in unanswerable])) if unanswerable else 1.0
    return {"accuracy": round(accuracy, 4), "abstention": round(abstention, 4),
            "false_abstention": round(float(np.mean([not r["answered"] for r in answerable])), 4),
            "gold_quotes": round(float(np.mean(gold)), 4) if gold else 0.0,
            "balanced": round((accuracy + abstention) / 2, 4), "questions": len(rows)}


def threshold_rows(examples: Sequence[Example], scores: list[list[np.ndarray]], probs: np.ndarray,
                   gap: float) -> dict[float, list[dict[str, Any]]]:
    """Per threshold of `THRESHOLDS`, the out-of-fold outcome of every question."""
    parts = part_results(examples, scores, gap)
    return {float(t): outcomes(examples, parts, probs, float(t)) for t in THRESHOLDS}


def choose_threshold(by_threshold: dict[float, list[dict[str, Any]]], groups: set[str]) -> float:
    """The highest threshold whose false abstention on `groups`' questions is at most FALSE_ABSTENTION."""
    chosen = float(THRESHOLDS[0])
    for threshold, rows in by_threshold.items():
        if summary([r for r in rows if r["group"] in groups])["false_abstention"] <= FALSE_ABSTENTION:
            chosen = max(chosen, threshold)
    return chosen


def held_out_rows(by_threshold: dict[float, list[dict[str, Any]]], groups: list[str]
                  ) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Each group's rows at the threshold chosen on the other groups, and those thresholds."""
    thresholds = {g: choose_threshold(by_threshold, set(groups) - {g}) for g in groups}
    rows = [r for g in groups for r in by_threshold[thresholds[g]] if r["group"] == g]
    return rows, thresholds


def _oof(examples: Sequence[Example], size: int, gap: float, scores: list[list[np.ndarray]] | None = None
         ) -> tuple[list[list[np.ndarray]], np.ndarray, np.ndarray]:
    scores = sentence_oof(examples, size) if scores is None else scores
    x, y, owner = answer_rows(examples, scores, size, gap)
    return scores, y, answer_oof(examples, x, y, owner)


def cross_validate(examples: Sequence[Example]) -> dict[str, Any]:
    """Every (pool size, gap) scored out of fold, each group at its other-groups threshold; the best
    one's figures, per-group thresholds, predictions and the shipped threshold (rule on all groups)."""
    groups = sorted({e.group for e in examples})
    trials: list[dict[str, Any]] = []
    for size in POOL_SIZES:
        scores = sentence_oof(examples, size)
        for gap in GAPS:
            _, _, probs = _oof(examples, size, gap, scores)
            rows, _ = held_out_rows(threshold_rows(examples, scores, probs, gap), groups)
            trials.append({"pool_size": size, "gap": gap, **summary(rows)})
            print(trials[-1])
    chosen = max(trials, key=lambda t: (t["balanced"], -t["pool_size"]))
    size, gap = int(chosen["pool_size"]), float(chosen["gap"])
    scores, y, probs = _oof(examples, size, gap)
    by_threshold = threshold_rows(examples, scores, probs, gap)
    rows, thresholds = held_out_rows(by_threshold, groups)
    chosen["threshold"] = choose_threshold(by_threshold, set(groups))
    by_group = {g: {**summary([r for r in rows if r["group"] == g]), "threshold": thresholds[g]} for g in groups}
    return {"chosen": chosen, "trials": trials, "rows": rows, "summary": summary(rows), "by_group": by_group,
            "calibration": {"probability": probs.tolist(), "correct": y.astype(int).tolist()}}


def fit_all(examples: Sequence[Example], report: dict[str, Any]) -> dict[str, Any]:
    """The shipped parameters: both models fitted on every example, with the CV-chosen settings."""
    chosen = report["chosen"]
    size, gap = chosen["pool_size"], chosen["gap"]
    x, y, w = _sentence_data(examples, size)
    sentence = _fit_lr(x, y, weight=w)
    x, y, owner = answer_rows(examples, sentence_oof(examples, size), size, gap)
    answer = _fit_lr(x, y, weight=np.array([GROUP_WEIGHTS.get(examples[i].group, 1.0) for i in owner]))
    groups: dict[str, int] = {}
    for e in examples:
        groups[e.group] = groups.get(e.group, 0) + 1
    return {"version": 1, "pool_size": size, "gap": gap, "threshold": chosen["threshold"],
            "max_sentences": MAX_SENTENCES,
            "sentence": {"features": list(SENTENCE_FEATURES), **sentence},
            "answer": {"features": list(ANSWER_FEATURES), **answer},
            "trained_on": groups, "cv": report["summary"], "cv_by_group": report["by_group"]}
