"""Load test of the web chat: many concurrent users while another process indexes new documents.

    .venv/bin/python bench/bench_load.py [--clients 20] [--duration 60] [--files 200] [--add 100]

Copies --files BBC articles into a temporary documents folder, indexes them (`rag index`), starts
`rag serve` on a free loopback port, then --clients gradio_client threads ask questions through the
chat's "/ask" endpoint (extractive answerer, top-k 5) for --duration seconds, at most --max-requests
in all. --index-after seconds in, --add more articles are copied in and an incremental `rag index`
runs in a separate process against the same index. Every request must come back with an answer or an
abstention: an exception, a timeout (--request-timeout) or an error message in the chat counts as an
error. Prints requests, errors, throughput and p50/p95 latency (overall, and while the indexer ran),
the indexer's outcome and the server's peak RSS; appends them to bench/out/bench_load.jsonl.
Everything listens on 127.0.0.1 only; the temporary folder is removed at the end.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_ui import free_port, peak_rss_mb, wait_served
from common import BBC_QUESTIONS, ROOT, bbc_corpus, percentiles, questions_of, record

SECTIONS = ("business", "entertainment", "politics", "sport", "tech")


@dataclass
class Result:
    started: float  # seconds since the load began
    latency_ms: float
    error: str | None


def pick_files(corpus: Path, first: int, count: int) -> list[Path]:
    """`count` articles starting at the `first`-th, taken in turn from each section."""
    per = [sorted((corpus / s).glob("*.txt")) for s in SECTIONS]
    ordered = [files[i] for i in range(max(map(len, per))) for files in per if i < len(files)]
    return ordered[first:first + count]


def copy_in(files: list[Path], corpus: Path, docs: Path) -> None:
    for f in files:
        target = docs / f.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, target)


def check_answer(output: Any) -> str | None:
    """None when the final chat message is an answer or an abstention, else what went wrong."""
    try:
        messages = output[0]
        content = str(messages[-1]["content"])
    except (TypeError, IndexError, KeyError) as exc:
        return f"malformed output: {type(exc).__name__}"
    if 'class="error"' in content:
        return "error message: " + content[:160]
    if "answered by" not in content:
        return "no final answer: " + content[:160]
    return None


class Load:
    """The client threads: each asks questions in a loop until the deadline or the request budget."""

    def __init__(self, url: str, questions: list[str], clients: int, max_requests: int, timeout: float):
        self.url, self.questions, self.timeout = url, questions, timeout
        self.clients, self.budget = clients, max_requests
        self.results: list[Result] = []
        self.lock = threading.Lock()
        self.t0 = 0.0
        self.deadline = 0.0

    def _take(self) -> bool:
        with self.lock:
            if self.budget <= 0 or time.perf_counter() >= self.deadline:
                return False
            self.budget -= 1
            return True

    def worker(self, client: Any, seed: int) -> None:
        rng = random.Random(seed)
        while self._take():
            question = rng.choice(self.questions)
            started = time.perf_counter()
            job = None
            try:
                job = client.submit(question, [], "extractive", 5, api_name="/ask")
                error = check_answer(job.result(timeout=self.timeout))
            except TimeoutError:
                error = f"timeout after {self.timeout:g} s"
                if job is not None:
                    job.cancel()
            except Exception as exc:  # every failure is counted, none stops the load
                error = f"{type(exc).__name__}: {str(exc)[:160]}"
            with self.lock:
                self.results.append(Result(started - self.t0, (time.perf_counter() - started) * 1000, error))

    def run(self, duration: float, during: Any) -> None:
        """Start the clients, call during(load) once they run, wait for all of them to finish."""
        from gradio_client import Client

        connected: list[Any] = [None] * self.clients

        def connect(i: int) -> None:
            connected[i] = Client(self.url, verbose=False)

        openers = [threading.Thread(target=connect, args=(i,)) for i in range(self.clients)]
        for t in openers:
            t.start()
        for t in openers:
            t.join()
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + duration
        threads = [threading.Thread(target=self.worker, args=(c, i), daemon=True) for i, c in enumerate(connected)]
        for t in threads:
            t.start()
        during(self)
        for t in threads:
            t.join(duration + self.timeout + 60)


def server_view(url: str, probes: list[dict[str, Any]]) -> dict[str, Any]:
    """What the server sees: the documents it lists, and how many probe questions (whose gold sources
    are among the added files) it answers with all their answer keys."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    table = client.predict(api_name="/listing")[0]
    rows = table.get("data", []) if isinstance(table, dict) else table
    answered = 0
    for item in probes:
        content = html.unescape(str(client.predict(item["question"], [], "extractive", 5, api_name="/ask")[0][-1]))
        answered += all(key.lower() in content.lower() for key in item["answer_keys"])
    return {"documents_listed": len(rows), "added_questions_answered": f"{answered}/{len(probes)}",
            "probes": [p["id"] for p in probes]}


def fresh_process_view(env: dict[str, str], probes: list[dict[str, Any]]) -> str:
    """The probes asked through `rag ask --json` in a new process (a fresh index handle), for comparison."""
    answered = 0
    for item in probes:
        out = subprocess.run([sys.executable, "-m", "rag", "ask", "--json", item["question"]], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
        text = json.loads(out.stdout)["text"] if out.returncode == 0 else ""
        answered += all(key.lower() in text.lower() for key in item["answer_keys"])
    return f"{answered}/{len(probes)}"


def probe_questions(corpus: Path, added: list[Path]) -> list[dict[str, Any]]:
    names = {p.relative_to(corpus).as_posix() for p in added}
    items = []
    for line in (ROOT / "evals" / "bbc.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if item.get("sources") and set(item["sources"]) <= names and item.get("answer_keys"):
            items.append(item)
    return items[:5]


def run_index(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rag", "index"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=5000, help="stop after this many requests")
    parser.add_argument("--request-timeout", type=float, default=120.0)
    parser.add_argument("--files", type=int, default=200, help="articles indexed before the load")
    parser.add_argument("--add", type=int, default=100, help="articles indexed during the load (0: none)")
    parser.add_argument("--index-after", type=float, default=2.0, help="seconds into the load")
    parser.add_argument("--index-timeout", type=float, default=1200.0, help="the indexer is killed after")
    args = parser.parse_args()
    corpus = bbc_corpus()
    questions = questions_of(ROOT / "evals" / "bbc.jsonl", BBC_QUESTIONS)
    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-load-"))
    docs = tmp / "docs"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAG_DOCS_DIR": str(docs), "RAG_INDEX_DIR": str(tmp / "index"),
           "RAG_UI_HOST": "127.0.0.1", "RAG_UI_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1"}
    server = indexer = None
    try:
        copy_in(pick_files(corpus, 0, args.files), corpus, docs)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "rag", "index"], env=env, cwd=ROOT, check=True, capture_output=True)
        initial_index_s = time.perf_counter() - t
        print(f"indexed {args.files} files in {initial_index_s:.0f} s", flush=True)
        log = (tmp / "server.log").open("w")
        server = subprocess.Popen([sys.executable, "-m", "rag", "serve"], env=env, cwd=ROOT, stdout=log,
                                  stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        wait_served(url, timeout=300)
        added = pick_files(corpus, args.files, args.add)
        probes = probe_questions(corpus, added) if args.add else []
        before = server_view(url, probes)
        load = Load(url, questions, args.clients, args.max_requests, args.request_timeout)
        indexing: dict[str, Any] = {}

        def start_indexer(running: Load) -> None:
            nonlocal indexer
            if not args.add:
                return
            time.sleep(args.index_after)
            copy_in(added, corpus, docs)
            indexing["start"] = time.perf_counter() - running.t0
            indexer = run_index(env)
            try:
                out, err = indexer.communicate(timeout=args.index_timeout)
                indexing["code"], indexing["summary"] = indexer.returncode, (out.strip().splitlines() or [""])[-1]
                indexing["stderr_tail"] = err.strip().splitlines()[-1:] if indexer.returncode else []
            except subprocess.TimeoutExpired:
                indexer.kill()
                indexer.communicate()
                indexing["code"], indexing["summary"] = None, f"killed after {args.index_timeout:g} s"
            indexing["end"] = time.perf_counter() - running.t0

        print(f"{args.clients} clients for {args.duration:g} s; indexing {args.add} more files from "
              f"{args.index_after:g} s", flush=True)
        load.run(args.duration, start_indexer)
        results = load.results
        after = server_view(url, probes)
        after["fresh_process_answered"] = fresh_process_view(env, probes) if probes else None
        errors = Counter(r.error.split(":")[0] for r in results if r.error)
        ok = [r.latency_ms for r in results]
        lo, hi = indexing.get("start", 0.0), indexing.get("end", 0.0)
        during = [r.latency_ms for r in results if lo <= r.started <= hi]
        load_s = max((r.started + r.latency_ms / 1000 for r in results), default=0.0)
        for r in [r for r in results if r.error][:5]:
            print("  error:", r.error, flush=True)
        if errors:
            print("server log tail:", *(tmp / "server.log").read_text().splitlines()[-15:], sep="\n  ")
        record("bench_load", {
            "clients": args.clients, "duration_s": args.duration, "files": args.files, "added": args.add,
            "initial_index_s": round(initial_index_s, 1),
            "requests": len(results), "errors": sum(errors.values()), "error_kinds": dict(errors),
            "requests_per_s": round(len(results) / load_s, 2) if load_s else None,
            "latency": percentiles(ok) if ok else None,
            "latency_while_indexing": percentiles(during) if during else None,
            "indexer": {"exit_code": indexing.get("code"), "summary": indexing.get("summary"),
                        "stderr": indexing.get("stderr_tail"), "started_s": round(lo, 1),
                        "ended_s": round(hi, 1)} if args.add else None,
            "server_view_before": before, "server_view_after": after,
            "server_peak_rss_mb": round(peak_rss_mb(server.pid), 1),
        })
    finally:
        for proc in (indexer, server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
