"""Scale run: the BBC corpus copied up to ten times (about 22,000 documents), growing one index.

    nohup .venv/bin/python bench/bench_scale.py > bench/out/scale.log 2>&1 &

Copy N of every file gets a last line "copy N" (identical files would be indexed once). At each step
(default 1, 2, 5 and 10 copies) the new copies are added and indexed incrementally into the same
index, then it records: documents, chunks, the step's and the cumulative index time, the index size
on disk and warm `rag.answer` p50/p95 over the question set. Each step is appended to
bench/out/bench_scale.jsonl as soon as it is measured, so an interrupted run keeps what it reached.
After the first step it prints an estimate of the whole run.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Any

from common import BBC_QUESTIONS, OUT, ROOT, bbc_corpus, dir_size_mb, percentiles, questions_of, record, settings_for


def add_copies(src: Path, docs: Path, first: int, last: int) -> int:
    """Write copies first..last of the corpus under docs/copyNN/; returns the files written."""
    written = 0
    for n in range(first, last + 1):
        for f in sorted(src.rglob("*.txt")):
            if f.name.lower() == "readme.txt":
                continue
            target = docs / f"copy{n:02d}" / f.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read_bytes().rstrip() + f"\n\ncopy {n}\n".encode())
            written += 1
    return written


def reusing_embedder(settings: Any, source_index: Path | None) -> Any:
    """The embedder, or (with `source_index`) one that takes the vector of a chunk text already
    embedded in that index (same model, same chunker) and encodes only the texts it lacks.

    Copies differ from the original only in their last line, so almost every chunk of every copy has
    a vector there: the run then measures loading, chunking, writing, the BM25 rebuild, the index size
    and query latency at scale for real, and the model's forward pass only for the new texts; the
    embedding time of distinct text is estimated from the measured encode rate (see main).
    """
    from rag.embed import SentenceTransformerEmbedder as Embedder
    from rag.store import Store

    class ReusingEmbedder(Embedder):
        vectors: dict[str, Any] = {}
        reused = encoded = 0

        def encode(self, texts: list[str]) -> Any:
            import numpy as np

            missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
            self.reused += len(texts) - len(missing)
            self.encoded += len(missing)
            for text, vector in zip(missing, super().encode(missing) if missing else [], strict=True):
                self.vectors[text] = vector
            if not texts:
                return super().encode(texts)
            return np.stack([self.vectors[t] for t in texts])

    embedder = ReusingEmbedder(settings.embed_model, settings.embed_batch_size)
    if source_index is not None:
        from common import settings_for as _settings_for

        store = Store(_settings_for(settings.docs_dir, source_index))
        collection = store.active()
        if collection is None:
            raise SystemExit(f"no index at {source_index}")
        got = collection.get(include=["documents", "embeddings"])
        embedder.vectors = {text: vector for text, vector in zip(got["documents"], got["embeddings"], strict=True)}
        print(f"{len(embedder.vectors)} chunk vectors available from {source_index}", flush=True)
    return embedder


class Progress:
    """Prints the indexer's progress at most once a minute."""

    def __init__(self, step: int, t0: float, started: float) -> None:
        self.step, self.t0, self.started, self.last = step, t0, started, t0

    def __call__(self, done: int, total: int, chunks: int, _msg: str) -> None:
        now = time.perf_counter()
        if now - self.last > 60:
            self.last = now
            print(f"  step {self.step}x: {done}/{total} files, {chunks} chunks, "
                  f"{chunks / (now - self.t0):.1f} chunks/s, {(now - self.started) / 60:.1f} min since start",
                  flush=True)


def query_latency(engine: Any, questions: list[str]) -> dict[str, float]:
    from rag.service import answer

    for q in questions[:3]:
        answer(q, engine=engine)
    times = []
    for q in questions:
        t = time.perf_counter()
        answer(q, engine=engine)
        times.append((time.perf_counter() - t) * 1000)
    return percentiles(times)


def plain_encode_rate(embedder: Any, n: int = 128) -> float:
    """Chunks/s of plain encode of n 1,000-character texts (new texts, so nothing is reused)."""
    texts = [f"{i} " + "The quick brown fox jumps over the lazy dog near the river bank. " * 15 for i in range(n)]
    t0 = time.perf_counter()
    embedder.encode(texts)
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", default="1,2,5,10", help="numbers of copies to measure at")
    parser.add_argument("--work", type=Path, default=OUT / "scale", help="folder for the copies and the index")
    parser.add_argument("--questions", type=Path, default=ROOT / "evals" / "bbc.jsonl")
    parser.add_argument("--reuse-vectors", type=Path, default=None, metavar="INDEX",
                        help="take the vectors of chunk texts already embedded in INDEX (e.g. bench/out/bbc-index) "
                             "and encode only new texts; the report then gives the embedding time as an estimate")
    parser.add_argument("--encode-rate", type=float, default=None,
                        help="chunks/s of plain encode on this machine, for the estimate (default: measured)")
    args = parser.parse_args()
    steps = sorted(int(s) for s in args.steps.split(","))
    src = bbc_corpus()
    if args.work.exists():
        shutil.rmtree(args.work)
    docs, index = args.work / "docs", args.work / "index"
    questions = questions_of(args.questions, BBC_QUESTIONS)

    from rag.service import Engine

    settings = settings_for(docs, index)
    engine = Engine(settings, embedder=reusing_embedder(settings, args.reuse_vectors))
    engine.embedder.encode(["warm up the model"])
    encode_rate = args.encode_rate or plain_encode_rate(engine.embedder)
    have, cumulative, started = 0, 0.0, time.perf_counter()
    for step in steps:
        files = add_copies(src, docs, have + 1, step)
        engine.embedder.reused = 0  # counts this step's indexing only
        t0 = time.perf_counter()
        progress = Progress(step, t0, started)
        report = engine.index(progress=progress)
        seconds = time.perf_counter() - t0
        cumulative += seconds
        reused = engine.embedder.reused
        figures = {"copies": step, "files_added": files, "documents": report.documents_total,
                   "chunks": report.chunks_total, "chunks_embedded": report.chunks_embedded,
                   "step_index_seconds": round(seconds, 1), "cumulative_index_seconds": round(cumulative, 1),
                   "step_chunks_per_second": round(report.chunks_embedded / seconds, 1),
                   "vectors_reused": reused, "encode_rate_chunks_per_second": round(encode_rate, 1),
                   "step_estimated_seconds_without_reuse": round(seconds + reused / encode_rate, 1),
                   "index_size_mb": round(dir_size_mb(index), 1),
                   **{f"answer_{k}": v for k, v in query_latency(engine, questions).items()}}
        record("bench_scale", figures)
        if step == steps[0] and step < steps[-1]:
            rate = report.chunks_embedded / seconds
            eta = (steps[-1] - step) * report.chunks_total / step / rate
            print(f"estimate: {steps[-1]}x is about {steps[-1] * report.chunks_total // step} chunks; "
                  f"at {rate:.0f} chunks/s the remaining steps take about {eta / 60:.0f} min", flush=True)
        have = step
    print(f"done in {(time.perf_counter() - started) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
