"""Shared helpers of the hand-run benchmarks: corpus and index locations, machine line, timing figures.

Run every benchmark from the repository root with the project's venv, e.g.
`.venv/bin/python bench/bench_index.py`. Outputs go to bench/out/ (git-ignored).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BBC_INDEX = OUT / "bbc-index"  # the BBC index reused by bench_answer, `rag eval` and the baseline
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def bbc_corpus() -> Path:
    """The BBC corpus: $RAG_BBC_CORPUS, else ../shared/corpora/bbc next to the repository."""
    path = Path(os.environ.get("RAG_BBC_CORPUS", ROOT.parent / "shared" / "corpora" / "bbc"))
    if not path.is_dir():
        raise SystemExit(f"BBC corpus not found at {path}; set RAG_BBC_CORPUS")
    return path


def settings_for(docs: Path, index: Path, **extra: Any) -> Any:
    from rag.config import Settings

    return Settings(docs_dir=docs, index_dir=index, **extra)


def machine() -> str:
    """One line: date, CPU, cores, memory, load average (the figures depend on all of them)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal"))
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        mem = "?"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{time.strftime('%Y-%m-%d %H:%M')} · {cpu} · {os.cpu_count()} cores · {mem} · no GPU · "
            f"Python {platform.python_version()} · load average {load}")


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    from rag.eval_score import percentile

    return {"n": len(values_ms), "p50_ms": round(percentile(values_ms, 50), 1),
            "p95_ms": round(percentile(values_ms, 95), 1), "max_ms": round(max(values_ms), 1)}


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def questions_of(path: Path | None, fallback: Sequence[str]) -> list[str]:
    """The question texts of a question set, or `fallback` when the set is absent."""
    if path is None or not path.exists():
        return list(fallback)
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            texts.append(str(json.loads(line)["question"]))
        except (ValueError, KeyError, TypeError):
            continue
    return texts or list(fallback)


BBC_QUESTIONS = [
    "How much did the US economy grow?", "Who won the Australian Open?",
    "What did Tony Blair say about the election?", "Which film won the most Oscars?",
    "How many mobile phones were sold?", "What happened to the price of oil?",
    "Who is the chancellor?", "What did the report say about broadband in the UK?",
    "Why did the shares fall?", "When will the game be released?",
]


def record(name: str, figures: dict[str, Any]) -> None:
    """Print the figures and append them, with the machine line, to bench/out/<name>.jsonl."""
    OUT.mkdir(parents=True, exist_ok=True)
    line = {"bench": name, "machine": machine(), **figures}
    print(json.dumps(line, indent=2, ensure_ascii=False))
    with (OUT / f"{name}.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
