"""Indexing throughput: in-process model vs the same model served by Infinity, and loading workers.

    .venv/bin/python bench/bench_embed.py [--files 300] [--workers 0,1,2] [--infinity] [--rounds 2]

Indexes the first --files BBC articles into a fresh embedded index once per configuration and round
(configurations interleaved, so the machine's changing load falls on all of them alike) and prints
seconds and chunks per second, with the load average, per run and as medians. Configurations:
in-process with each --workers value; with --infinity also the served model (`.venv-infinity`'s
`infinity_emb v2` on a free loopback port, the packaged all-MiniLM-L6-v2, started and stopped here)
with workers 0. Model loading is outside the timed part (each embedder is warmed up first).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import ROOT, bbc_corpus, machine, record, settings_for


def _docs(n: int, into: Path) -> Path:
    files = sorted(p for p in bbc_corpus().rglob("*.txt"))[:n]
    for path in files:
        shutil.copy(path, into / f"{path.parent.name}-{path.name}")
    return into


def _start_infinity(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    from rag.embed import packaged_model_path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = ROOT / ".venv-infinity" / "bin" / "infinity_emb"
    env = {**os.environ, "DO_NOT_TRACK": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}
    proc = subprocess.Popen([str(binary), "v2", "--model-id", str(packaged_model_path()), "--port", str(port),
                             "--host", "127.0.0.1", "--no-model-warmup"],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2):
                return proc, url
        except OSError:
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.5)
    raise SystemExit("infinity_emb did not start")


def _run(docs: Path, name: str, extra: dict[str, Any]) -> dict[str, Any]:
    from rag.embed import embedder_for
    from rag.indexer import build_index

    index = Path(tempfile.mkdtemp(prefix="rag-bench-embed-")) / "index"
    settings = settings_for(docs, index, embed_backend="torch", **extra)
    embedder = embedder_for(settings)
    embedder.encode_documents(["warm up the model"] * 64)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    report = build_index(settings, embedder=embedder)
    seconds = time.perf_counter() - started
    shutil.rmtree(index.parent, ignore_errors=True)
    row = {"config": name, "chunks": report.chunks_total, "seconds": round(seconds, 1),
           "chunks_per_second": round(report.chunks_total / seconds, 1),
           "load_1min_before": round(load_before, 2), "load_1min_after": round(os.getloadavg()[0], 2)}
    print(f"  {name:<28} {row['chunks']} chunks  {seconds:6.1f} s  {row['chunks_per_second']:5.1f} chunks/s  "
          f"load {load_before:.1f} -> {row['load_1min_after']:.1f}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=300, help="BBC articles to index (default 300)")
    parser.add_argument("--workers", default="0,1,2", help="index_workers values, comma-separated")
    parser.add_argument("--infinity", action="store_true", help="also through a local Infinity server")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each configuration (default 2)")
    args = parser.parse_args()
    print(machine(), flush=True)
    work = Path(tempfile.mkdtemp(prefix="rag-bench-embed-docs-"))
    docs = _docs(args.files, work)
    configs = {f"in-process, workers={w}": {"index_workers": int(w)} for w in args.workers.split(",")}
    server = None
    try:
        if args.infinity:
            server, url = _start_infinity(work / "infinity.log")
            configs["served (Infinity), workers=0"] = {"embed_api_url": url}
        rows = [_run(docs, name, extra) for _ in range(args.rounds) for name, extra in configs.items()]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(r["chunks_per_second"] for r in rows if r["config"] == name)
               for name in configs}
    base = medians[next(iter(configs))]
    for name, value in medians.items():
        print(f"median {name:<28} {value:5.1f} chunks/s  ({value / base:.2f}x the first)")
    record("bench_embed", {"files": args.files, "runs": rows, "median_chunks_per_second": medians,
                           "machine": machine()})


if __name__ == "__main__":
    main()
