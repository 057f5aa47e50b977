"""Reliability plot of the fitted scorer's answer probability (the abstention probability).

Left: out-of-fold predictions of `python -m rag.train` (bench/out/scorer-cv.json): each question
part's probability that the quoted answer holds every key, binned, against how often it did.
Right, for each `rag eval` run folder given: the answered questions' confidence, binned, against
how often they passed. Writes bench/reliability.png and prints the bins.

    .venv/bin/python bench/reliability.py bench/out/run-bbc bench/out/run-bbc-heldout
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from common import OUT, ROOT

BINS = np.linspace(0, 1, 11)


def binned(probability: np.ndarray, outcome: np.ndarray) -> list[tuple[float, float, int]]:
    rows = []
    for low, high in zip(BINS[:-1], BINS[1:], strict=True):
        inside = (probability >= low) & ((probability < high) | (high == 1))
        if inside.any():
            rows.append((float(probability[inside].mean()), float(outcome[inside].mean()), int(inside.sum())))
    return rows


def run_points(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if not r["abstained"] and r["answer"].get("confidence") is not None]
    return np.array([r["answer"]["confidence"] for r in rows]), np.array([r["passed"] for r in rows], float)


def main(folders: list[Path]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cv = json.loads((OUT / "scorer-cv.json").read_text())["calibration"]
    series = {"cross-validation (out of fold)": (np.array(cv["probability"]), np.array(cv["correct"], float))}
    series |= {f"rag eval {f.name} (answered)": run_points(f) for f in folders}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
    for ax, names in zip(axes, (list(series)[:1], list(series)[1:]), strict=True):
        ax.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
        for name in names:
            points = binned(*series[name])
            print(name, [(round(p, 2), round(o, 2), n) for p, o, n in points])
            ax.plot([p for p, _, _ in points], [o for _, o, _ in points], "o-", label=name)
        ax.set_xlabel("predicted probability that the answer holds")
        ax.set_ylabel("observed share correct")
        ax.legend(fontsize=8)
    fig.suptitle("Fitted answer scorer: reliability of the abstention probability")
    fig.tight_layout()
    fig.savefig(ROOT / "bench" / "reliability.png", dpi=90)
    print("wrote bench/reliability.png")


if __name__ == "__main__":
    main([Path(a) for a in sys.argv[1:]])
