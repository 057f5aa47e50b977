"""The split of the BBC articles between the blind set of issue 15 and the answerer's training data.

    .venv/bin/python bench/blind_pool.py [--blind evals/bbc-blind4.jsonl] [--train FILE ...]

Pool: every BBC file (`*.txt` under the corpus, paths relative to it) that no set written before
issue 15 (`seed.jsonl`, `bbc.jsonl`, `bbc-heldout.jsonl`) names as a source, sorted, then shuffled
with `random.Random(2026)`. The first 600 are the blind set's to choose from, the rest are reserved
for training sets. The list is computed from those three sets only, so that adding the blind or a
training set to evals/ does not move it. Checks that the blind set names only files of its part and
each training set only files of the reserved part; exit status 1 when one does not.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from common import ROOT, bbc_corpus

EARLIER_SETS = ("seed.jsonl", "bbc.jsonl", "bbc-heldout.jsonl")
BLIND_SHARE = 600
SEED = 2026


def named_sources(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {s for line in lines if line.strip() for s in json.loads(line).get("sources", [])}


def pool(corpus: Path) -> list[str]:
    """The shuffled pool: blind part first (`[:BLIND_SHARE]`), reserved part after."""
    used = set().union(*(named_sources(ROOT / "evals" / name) for name in EARLIER_SETS))
    files = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.txt"))
    free = [f for f in files if f not in used]
    random.Random(SEED).shuffle(free)
    return free


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blind", type=Path, default=ROOT / "evals" / "bbc-blind4.jsonl")
    parser.add_argument("--train", type=Path, nargs="*", default=[], help="training sets to check")
    args = parser.parse_args()
    free = pool(bbc_corpus())
    blind, reserved = set(free[:BLIND_SHARE]), set(free[BLIND_SHARE:])
    print(f"pool {len(free)} files: {len(blind)} for the blind set, {len(reserved)} reserved for training")
    bad = 0
    for path, allowed in [(args.blind, blind)] + [(t, reserved) for t in args.train]:
        outside = sorted(named_sources(path) - allowed)
        bad += len(outside)
        print(f"{path.name}: {len(named_sources(path))} files named, {len(outside)} outside its part"
              + (f": {', '.join(outside[:10])}" if outside else ""))
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
