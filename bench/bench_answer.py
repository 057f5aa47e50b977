"""Warm `rag.answer` latency on the BBC index, and peak memory of `rag ask` and of the UI process.

    .venv/bin/python bench/bench_answer.py [--docs DIR] [--index DIR] [--questions evals/bbc.jsonl]
                                           [--rounds N] [--no-memory]

Latency: one engine, warmed up with a few questions of its own, then every question of the set (or a
built-in list) answered `--rounds` times; p50/p95 of the wall time of `rag.answer` for the first time
each question is asked and for the repeats (apart: repeats reuse cached sentence vectors), plus the
median of each stage. Memory: ru_maxrss of a `rag ask --json` subprocess (cold: loads the model and the index), and
of `rag serve` after it answers HTTP (and, when the UI exposes one, one question) - measured only
when rag/webui.py exists. The index (default bench/out/bbc-index) is built first if missing.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import BBC_INDEX, BBC_QUESTIONS, ROOT, bbc_corpus, percentiles, questions_of, record, settings_for

RAG = ROOT / ".venv" / "bin" / "rag"


WARM_UP = ["What is this about?", "Who said that?", "How much did it cost?", "When did it happen?"]


def latency(settings: Any, questions: list[str], rounds: int) -> dict[str, Any]:
    """Round 1 asks each question for the first time (its sentences are encoded then, unless an earlier
    question read the same passages); later rounds repeat them (sentence vectors come from the cache).
    Both are reported apart: a pooled figure would hide the first-time cost behind the repeats."""
    from rag.service import answer, get_engine

    engine = get_engine(settings)
    t0 = time.perf_counter()
    engine.ensure_index()
    build_s = time.perf_counter() - t0
    for q in WARM_UP:  # loads the model and warms torch, without seeing the measured questions
        answer(q, engine=engine)
    first, repeat, stages = [], [], {}
    abstained = 0
    for round_no in range(rounds):
        for q in questions:
            t = time.perf_counter()
            result = answer(q, engine=engine)
            (repeat if round_no else first).append((time.perf_counter() - t) * 1000)
            abstained += result.abstained
            for name, seconds in result.timings.items():
                stages.setdefault(f"{'repeat' if round_no else 'first'} {name}", []).append(seconds * 1000)
    return {"index_ready_seconds": round(build_s, 1), "questions": len(questions), "rounds": rounds,
            **{f"first_answer_{k}": v for k, v in percentiles(first).items()},
            **{f"repeat_answer_{k}": v for k, v in (percentiles(repeat) if repeat else {}).items()},
            "stage_median_ms": {k: round(statistics.median(v), 2) for k, v in stages.items()},
            "abstained_share": round(abstained / (len(first) + len(repeat)), 3)}


def _reap(proc: subprocess.Popen, block: bool = True) -> float | None:
    """ru_maxrss of the exited child in MB (wait4, so never proc.wait/poll, which would reap it first)."""
    pid, _, usage = os.wait4(proc.pid, 0 if block else os.WNOHANG)
    if not pid:
        return None
    proc.returncode = 0
    return round(usage.ru_maxrss / 1024, 1)  # kB on Linux


def ask_memory(docs: Path, index: Path, question: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(RAG), "ask", "--json", "--docs", str(docs), "--index", str(index), question],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"rag_ask_maxrss_mb": _reap(proc), "rag_ask_cold_seconds": round(time.perf_counter() - t0, 1)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ask_ui(url: str, question: str) -> str:
    """Ask one question through the UI's API when it has an obvious endpoint; what happened."""
    try:
        from gradio_client import Client

        client = Client(url, verbose=False)
        api = client.view_api(print_info=False, return_format="dict") or {}
        names = [n for n in api.get("named_endpoints", {}) if any(w in n for w in ("ask", "chat", "respond"))]
        if not names:
            return "no question endpoint found"
        client.predict(question, api_name=names[0])
        return f"asked via {names[0]}"
    except Exception as exc:  # the UI is someone else's; a failed question must not lose the figure
        return f"question failed: {str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}"


def serve_memory(docs: Path, index: Path, question: str, timeout: float = 300) -> dict[str, Any]:
    if not (ROOT / "rag" / "webui.py").exists():
        return {"rag_serve_maxrss_mb": None, "rag_serve_note": "rag/webui.py does not exist yet"}
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([str(RAG), "serve", "--docs", str(docs), "--index", str(index), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.perf_counter()
    note, peak = "did not answer HTTP in time", None
    while time.perf_counter() - t0 < timeout and peak is None:
        try:
            urllib.request.urlopen(url, timeout=2)
            note = _ask_ui(url, question)
            break
        except OSError:
            time.sleep(1)
            peak = _reap(proc, block=False)
    ready = time.perf_counter() - t0
    if peak is None:
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        deadline = time.time() + 30
        while peak is None and time.time() < deadline:
            time.sleep(0.5)
            peak = _reap(proc, block=False)
        if peak is None:
            proc.kill()
            peak, note = _reap(proc), note + " (killed after SIGINT)"
    else:
        note = "exited before answering HTTP"
    return {"rag_serve_maxrss_mb": peak, "rag_serve_ready_seconds": round(ready, 1), "rag_serve_note": note}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, default=None, help="documents (default: the BBC corpus)")
    parser.add_argument("--index", type=Path, default=BBC_INDEX, help=f"index folder (default {BBC_INDEX})")
    parser.add_argument("--questions", type=Path, default=ROOT / "evals" / "bbc.jsonl")
    parser.add_argument("--rounds", type=int, default=2, help="times each question is answered")
    parser.add_argument("--no-memory", action="store_true", help="skip the subprocess memory figures")
    args = parser.parse_args()
    docs = args.docs or bbc_corpus()
    questions = questions_of(args.questions, BBC_QUESTIONS)
    figures: dict[str, Any] = {"docs": str(docs), "index": str(args.index),
                               "question_set": str(args.questions) if args.questions.exists() else "built-in"}
    figures.update(latency(settings_for(docs, args.index), questions, args.rounds))
    if not args.no_memory:
        figures.update(ask_memory(docs, args.index, questions[0]))
        figures.update(serve_memory(docs, args.index, questions[0]))
    record("bench_answer", figures)


if __name__ == "__main__":
    main()
