"""Web UI start-up and streaming: time to first served page, time to first streamed token, total.

    .venv/bin/python bench/bench_ui.py [--runs 5]

Starts `rag serve` on the seed documents (index built beforehand, so start-up measures the app, not
indexing) on a free loopback port, polls until the page is served, then asks the seed question through
gradio_client several times and times the first streamed update and the final answer. Also reports
the server's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import ROOT, record

QUESTION = "Who claimed what about export controls?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_served(url: str, timeout: float = 180) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{url} not served within {timeout} s")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-ui-"))
    shutil.copytree(ROOT / "seeds", tmp / "docs")
    port = free_port()
    env = {**os.environ, "RAG_DOCS_DIR": str(tmp / "docs"), "RAG_INDEX_DIR": str(tmp / "index"),
           "RAG_UI_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "rag", "index"], env=env, check=True, capture_output=True)
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "rag", "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_served(url)
        startup = time.perf_counter() - started
        from gradio_client import Client

        client = Client(url, verbose=False)
        first, total = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            job = client.submit(QUESTION, [], "extractive", 5, api_name="/ask")
            seen_first = None
            for _update in job:
                seen_first = seen_first or time.perf_counter() - t0
            job.result()
            total.append((time.perf_counter() - t0) * 1000)
            first.append((seen_first or total[-1] / 1000) * 1000)
        record("ui", {"startup_to_first_page_s": round(startup, 2),
                      "first_token_ms_median": round(statistics.median(first), 1),
                      "answer_ms_median": round(statistics.median(total), 1),
                      "runs": args.runs, "server_peak_rss_mb": round(peak_rss_mb(server.pid), 1)})
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
