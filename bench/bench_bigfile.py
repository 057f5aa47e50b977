"""One very large text file: peak memory (RSS) and time to load and chunk it, or to index it whole.

    .venv/bin/python bench/bench_bigfile.py [--mb 50] [--load-only | --embed] [--keep DIR]

Writes a prose-like text file of --mb megabytes (sentences with varying words, names, figures and
curly quotes in paragraphs, plus a few very long lines: a 1 MB paragraph without a line break, a
200 kB run without a space, a long table row) into a temporary documents folder, then

  --load-only (default): in a fresh child process that has imported only rag.load and rag.chunk, runs
      scan + load + chunk_document over it exactly as `rag index` does, and reports the child's RSS
      after its imports (baseline), its peak RSS (VmHWM) after loading and after chunking, the times
      and the number of chunks;
  --embed: runs the real `rag index` in a subprocess on it and reports that process's peak RSS
      (wait4 rusage), its wall time and the chunks it wrote. 50 MB is about 75,000 chunks: at
      ~15 chunks/s on a 2-core CPU that is over an hour; try --mb 2 first.

Figures are printed and appended to bench/out/bench_bigfile.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, record

_SUBJECTS = ["The company", "Ms Okafor", "The minister", "Analysts at Barclays", "The committee", "Dr Nguyen",
             "The city council", "A spokesperson for the union", "Shareholders", "The researchers", "Mr Müller"]
_VERBS = ["said", "reported", "warned", "announced", "estimated", "claimed", "denied", "confirmed"]
_OBJECTS = ["profits rose by {n}% in the {q} quarter", "{n} jobs would be cut by {y}",
            "the project cost £{m} million, far more than planned", "sales of {n},{k:03d} units were expected",
            "the vote on {d} {mon} had been postponed", "the network’s revenue reached ${m}.{n} billion",
            "it was “too early to tell” whether the scheme worked", "prices fell for the {o} month running",
            "about {n} people attended the meeting in {city}", "the U.S. market grew {n}.{k} times faster"]
_TAILS = ["", "", " according to a statement", " on Tuesday", " — a figure disputed by critics",
          " (see page {n})", ", despite earlier reports", " after a long delay"]
_CITIES = ["Leeds", "Lagos", "Kraków", "Osaka", "São Paulo", "Glasgow", "Nairobi", "Lyon"]
_MONTHS = ["January", "March", "May", "July", "September", "November"]


def _sentence(rng: random.Random) -> str:
    values = {"n": rng.randint(2, 99), "k": rng.randint(0, 999), "m": rng.randint(1, 900),
              "y": rng.randint(1990, 2030), "q": rng.choice(["first", "second", "third", "fourth"]),
              "d": rng.randint(1, 28), "mon": rng.choice(_MONTHS), "city": rng.choice(_CITIES),
              "o": rng.choice(["second", "third", "fifth", "ninth"])}
    body = rng.choice(_OBJECTS).format(**values) + rng.choice(_TAILS).format(**values)
    return f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} that {body}."


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _long_lines(rng: random.Random) -> list[str]:
    """A 1 MB paragraph with no line break, a 200 kB 'word' with no space, a 100 kB table row."""
    blob = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(200_000))
    row = " | ".join(f"{rng.randint(0, 10**6)}" for _ in range(14_000))
    return [_paragraph(rng, 12_000)[:1_000_000], f"data:{blob}", row]


def write_text(path: Path, mb: float, seed: int = 7) -> int:
    """A prose-like UTF-8 file of about `mb` megabytes (1e6 bytes); returns its size."""
    rng = random.Random(seed)
    target, written, every = int(mb * 1e6), 0, int(5e6)
    specials = _long_lines(rng)
    next_special = every // 2
    with path.open("w", encoding="utf-8") as out:
        out.write("A very large report\n\n")
        while written < target:
            block = "\n\n".join(_paragraph(rng, rng.randint(2, 9)) for _ in range(200)) + "\n\n"
            if written >= next_special:
                block += specials[(next_special // every) % len(specials)] + "\n\n"
                next_special += every
            written += out.write(block)
    return path.stat().st_size


# The child of --load-only: only the loader and the chunker are imported before the baseline.
_CHILD = r"""
import json, sys, time
from pathlib import Path
from rag.chunk import chunk_document
from rag.load import load, scan

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")

docs, size, overlap = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
base = status("VmRSS")
t0 = time.perf_counter()
files, skipped = scan(docs)
doc = load(files[0])
t1 = time.perf_counter()
peak_load = status("VmHWM")
chunks = chunk_document(doc, size, overlap)
t2 = time.perf_counter()
ok = all(doc.text[c.start:c.end] == c.text for c in chunks[:: max(1, len(chunks) // 1000)])
print(json.dumps({"baseline_rss_mb": base, "peak_after_load_mb": peak_load, "peak_mb": status("VmHWM"),
                  "text_chars": len(doc.text), "str_kind_bytes_per_char": 1 if doc.text.isascii() else
                  (2 if max(map(ord, set(doc.text[:2_000_000]))) < 65536 else 4),
                  "load_s": t1 - t0, "chunk_s": t2 - t1, "chunks": len(chunks), "offsets_ok": ok,
                  "skipped": [s.reason for s in skipped]}))
"""


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[int, str, str, float, float]:
    """Run cmd; (exit code, stdout, stderr, wall seconds, peak RSS MB of that process from wait4)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"), wall,
                usage.ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=50.0, help="file size in MB (default 50)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--load-only", action="store_true", help="load + chunk only (the default)")
    mode.add_argument("--embed", action="store_true", help="the full `rag index` (slow: ~1 h for 50 MB)")
    parser.add_argument("--chunk-size", type=int, default=800)
    parser.add_argument("--chunk-overlap", type=int, default=150)
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="rag-bench-bigfile-"))
    docs = tmp / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "RAG_DOCS_DIR": str(docs),
           "RAG_INDEX_DIR": str(tmp / "index"), "RAG_CHUNK_SIZE": str(args.chunk_size),
           "RAG_CHUNK_OVERLAP": str(args.chunk_overlap), "RAG_MAX_FILE_MB": str(max(100.0, args.mb * 2))}
    try:
        t0 = time.perf_counter()
        size = write_text(docs / "big.txt", args.mb)
        print(f"wrote {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s", flush=True)
        figures: dict = {"mode": "embed" if args.embed else "load-only", "file_mb": round(size / 1e6, 1),
                         "chunk_size": args.chunk_size, "chunk_overlap": args.chunk_overlap}
        if args.embed:
            code, out, err, wall, peak = run_measured([sys.executable, "-m", "rag", "index"], env)
            if code:
                raise SystemExit(f"rag index failed ({code}):\n{err[-3000:]}")
            found = re.search(r"Index: (\d+) documents, (\d+) chunks", out)
            chunks = int(found[2]) if found else None
            figures |= {"wall_s": round(wall, 1), "peak_rss_mb": round(peak, 1), "chunks": chunks,
                        "chunks_per_s": round(chunks / wall, 1) if chunks else None}
        else:
            cmd = [sys.executable, "-c", _CHILD, str(docs), str(args.chunk_size), str(args.chunk_overlap)]
            code, out, err, wall, peak = run_measured(cmd, env)
            if code:
                raise SystemExit(f"load + chunk failed ({code}):\n{err[-3000:]}")
            child = json.loads(out)
            figures |= {k: round(v, 2) if isinstance(v, float) else v for k, v in child.items()}
            figures |= {"peak_above_baseline_mb": round(child["peak_mb"] - child["baseline_rss_mb"], 1),
                        "wait4_peak_rss_mb": round(peak, 1), "wall_s": round(wall, 1)}
        record("bench_bigfile", figures)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
