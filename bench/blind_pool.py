"""The split of the BBC articles between the blind set of issue 15 and the answerer's training data.

    .venv/bin/python bench/blind_pool.py [--blind FILE ...] [--train FILE ...]   # --blind: bbc-blind4 to 8 by default

Pool: every BBC file (`*.txt` under the corpus, paths relative to it) that no set written before
issue 15 (`seed.jsonl`, `bbc.jsonl`, `bbc-heldout.jsonl`) names as a source, sorted, then shuffled
with `random.Random(2026)`. The first 600 are the blind set's to choose from, the rest are reserved
for training sets. The list is computed from those three sets only, so that adding the blind or a
training set to evals/ does not move it. Checks that each blind set names only files of its part
(`sources`, and the article each near-miss question's `notes` names), that no two blind sets share an article
and no training set shares one with a blind set (nor a near-duplicate: another file with the same
title line or the same body), and that each training set names only files of the reserved part; exit status 1 when
one does not. Each new blind set takes articles of the blind part that no earlier one uses.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from itertools import combinations
from pathlib import Path

from common import ROOT, bbc_corpus

EARLIER_SETS = ("seed.jsonl", "bbc.jsonl", "bbc-heldout.jsonl")
BLIND_SHARE = 600
SEED = 2026
BLIND_SETS = ("bbc-blind4.jsonl", "bbc-blind5.jsonl", "bbc-blind6.jsonl", "bbc-blind7.jsonl",
              "bbc-blind8.jsonl")
NEAR_MISS = re.compile(r"near miss, ((?:business|entertainment|politics|sport|tech)/\d{3})")


def named_sources(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {s for line in lines if line.strip() for s in json.loads(line).get("sources", [])}


def named_files(path: Path) -> set[str]:
    """The gold sources and each near-miss question's article (its `notes`: "near miss, sport/012")."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    noted = {f"{m}.txt" for row in rows for m in NEAR_MISS.findall(str(row.get("notes", "")))}
    return named_sources(path) | noted


def twin_keys(corpus: Path, files: set[str]) -> dict[str, tuple[str, str]]:
    """Each file's title line and body (the text after it, whitespace collapsed), lower-cased: the BBC
    corpus holds some articles twice under two names, a few of them with another title."""
    keys = {}
    for f in files:
        lines = (corpus / f).read_text(encoding="utf-8", errors="replace").strip().lower().splitlines()
        keys[f] = (lines[0].strip(), " ".join(" ".join(lines[1:]).split()))
    return keys


def shared(corpus: Path, first: set[str], second: set[str]) -> set[str]:
    """Files of `first` that are in `second` or have the title or the body of one of its files."""
    theirs = twin_keys(corpus, second).values()
    titles, bodies = {t for t, _ in theirs}, {b for _, b in theirs if b}
    return (first & second) | {f for f, (title, body) in twin_keys(corpus, first).items()
                               if title in titles or body in bodies}


def pool(corpus: Path) -> list[str]:
    """The shuffled pool: blind part first (`[:BLIND_SHARE]`), reserved part after."""
    used = set().union(*(named_sources(ROOT / "evals" / name) for name in EARLIER_SETS))
    files = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.txt"))
    free = [f for f in files if f not in used]
    random.Random(SEED).shuffle(free)
    return free


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blind", type=Path, nargs="*", default=[ROOT / "evals" / n for n in BLIND_SETS])
    parser.add_argument("--train", type=Path, nargs="*", default=[], help="training sets to check")
    args = parser.parse_args()
    corpus = bbc_corpus()
    free = pool(corpus)
    blind, reserved = set(free[:BLIND_SHARE]), set(free[BLIND_SHARE:])
    print(f"pool {len(free)} files: {len(blind)} for the blind set, {len(reserved)} reserved for training")
    named = {path: named_files(path) for path in args.blind + args.train}
    bad = 0
    for path, allowed in [(b, blind) for b in args.blind] + [(t, reserved) for t in args.train]:
        outside = sorted(named[path] - allowed)
        bad += len(outside)
        print(f"{path.name}: {len(named[path])} files named, {len(outside)} outside its part"
              + (f": {', '.join(outside[:10])}" if outside else ""))
    pairs = list(combinations(args.blind, 2)) + [(t, b) for t in args.train for b in args.blind]
    for first, second in pairs:
        common = sorted(shared(corpus, named[first], named[second]))
        bad += len(common)
        print(f"{first.name} and {second.name}: {len(common)} articles shared (same file, title or body)"
              + (f": {', '.join(common[:10])}" if common else ""))
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
