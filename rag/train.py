"""`python -m rag.train`: fit the answer scorer on the labelled question sets and write rag/scorer.json.

Needs the `train` extra (scikit-learn) and the indexes the sets are asked over: the seed article
(indexed into bench/out/seed-index on first use) and the BBC corpus (bench/out/bbc-index, built by
`rag index` with ../shared/corpora/bbc). Steps: collect the examples (rag.trainset; cached in
bench/out/scorer-examples.pkl, `--recollect` to redo), cross-validate grouped by question set (each
set, and each batch of the held-out set, is scored by a model fitted on the others), choose the pool
size, the companion gap and the abstention threshold on those out-of-fold predictions, fit on
everything and write the parameters. The blind sets (bbc-blind4, SQuAD) are never read here.
"""

from __future__ import annotations

import argparse
import json
import pickle
from pathlib import Path

from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TRAINING_SETS = ("seed.jsonl", "bbc.jsonl", "bbc-heldout.jsonl", "bbc-train.jsonl")  # the data list
PARAMS = Path(__file__).with_name("scorer.json")


def data_list(bbc_docs: Path, bbc_index: Path) -> list[tuple[Path, Settings]]:
    """(question set, settings of the index it is asked over) for every training set present."""
    found = []
    for name in TRAINING_SETS:
        path = ROOT / "evals" / name
        if not path.exists():
            continue
        if name == "seed.jsonl":
            settings = Settings(docs_dir=ROOT / "seeds", index_dir=OUT / "seed-index", extractive_scorer="fitted")
        elif not (bbc_index / "chroma").is_dir():
            raise SystemExit(f"no BBC index at {bbc_index}: build it with `rag index --docs {bbc_docs} "
                             f"--index {bbc_index}` (or copy one) first")
        else:
            settings = Settings(docs_dir=bbc_docs, index_dir=bbc_index, extractive_scorer="fitted")
        found.append((path, settings))
    return found


def load_examples(bbc_docs: Path, bbc_index: Path, recollect: bool = False) -> list:
    from rag.trainset import collect

    cache = OUT / "scorer-examples.pkl"
    if cache.exists() and not recollect:
        return pickle.loads(cache.read_bytes())
    found = collect(data_list(bbc_docs, bbc_index))
    OUT.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps(found))
    return found


def main(argv: list[str] | None = None) -> None:
    from rag.fit import cross_validate, fit_all

    parser = argparse.ArgumentParser(prog="python -m rag.train", description=__doc__.splitlines()[0])
    parser.add_argument("--bbc-docs", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    parser.add_argument("--bbc-index", type=Path, default=OUT / "bbc-index")
    parser.add_argument("--recollect", action="store_true", help="run retrieval again instead of the cache")
    parser.add_argument("--out", type=Path, default=PARAMS, help="where to write the fitted parameters")
    args = parser.parse_args(argv)
    examples = load_examples(args.bbc_docs, args.bbc_index, args.recollect)
    report = cross_validate(examples)
    params = fit_all(examples, report)
    args.out.write_text(json.dumps(params, indent=1) + "\n")
    (OUT / "scorer-cv.json").write_text(json.dumps(report))
    print(json.dumps(report["summary"], indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
