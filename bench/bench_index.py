"""Index throughput on the BBC corpus, and its ratio to a plain `SentenceTransformer.encode`.

    .venv/bin/python bench/bench_index.py [--docs DIR] [--index DIR] [--keep]

Indexes the corpus (2,225 files) into a fresh index (a temporary folder unless --index), then encodes
the very same chunk texts with a bare SentenceTransformer (same model, same batch size) in the same
process, and prints files, chunks, seconds, chunks per second and index time / encode time (the
pipeline's overhead over embedding alone; target at most 1.3x). --keep leaves the index in place
(default bench/out/bbc-index with --keep) for bench_answer.py and `rag eval`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from common import BBC_INDEX, bbc_corpus, record, settings_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=None, help="documents (default: the BBC corpus)")
    parser.add_argument("--index", type=Path, default=None, help="index folder, must not exist yet")
    parser.add_argument("--keep", action="store_true", help=f"keep the index (default {BBC_INDEX})")
    args = parser.parse_args()
    docs = args.docs or bbc_corpus()
    index = args.index or (BBC_INDEX if args.keep else Path(tempfile.mkdtemp(prefix="rag-bench-")) / "index")
    if index.exists() and any(index.iterdir()):
        raise SystemExit(f"{index} is not empty; remove it or pass another --index")

    from rag.embed import SentenceTransformerEmbedder as Embedder
    from rag.indexer import build_index
    from rag.store import Store

    settings = settings_for(docs, index)
    embedder = Embedder(settings.embed_model, settings.embed_batch_size)
    embedder.encode(["warm up the model"])  # model load is not indexing time
    last = [time.perf_counter()]

    def progress(done: int, total: int, chunks: int, _msg: str) -> None:
        if time.perf_counter() - last[0] > 30 or done == total:
            last[0] = time.perf_counter()
            print(f"  {done}/{total} files, {chunks} chunks", flush=True)

    t0 = time.perf_counter()
    report = build_index(settings, embedder=embedder, progress=progress)
    index_s = time.perf_counter() - t0
    store = Store(settings)
    active = store.active()
    assert active is not None
    texts = [c.text for c in store.all_chunks(active)]

    t0 = time.perf_counter()
    embedder.model.encode(texts, batch_size=settings.embed_batch_size, normalize_embeddings=True,
                          convert_to_numpy=True, show_progress_bar=False)
    encode_s = time.perf_counter() - t0
    files = len(report.added) + len(report.changed)
    record("bench_index", {
        "docs": str(docs), "files_scanned": files + len(report.skipped) + sum(map(len, report.duplicates.values())),
        "files_indexed": report.documents_total, "duplicates": sum(map(len, report.duplicates.values())),
        "skipped": len(report.skipped), "chunks": report.chunks_total, "index_seconds": round(index_s, 1),
        "chunks_per_second": round(report.chunks_total / index_s, 1),
        "plain_encode_seconds": round(encode_s, 1),
        "plain_encode_chunks_per_second": round(len(texts) / encode_s, 1),
        "ratio_index_to_encode": round(index_s / encode_s, 3), "index_dir": str(index),
    })
    if not args.keep and args.index is None:
        shutil.rmtree(index.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
