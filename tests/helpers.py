"""What tests share besides fixtures: paths, settings, a free port, an engine over given documents, and
a fake embedder for unit tests (no model, no Chroma, no network). Import it as `from helpers import ...`."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = "000_1b21a7c2e01bd4ee.txt"
SHARED = ROOT.parent / "shared"
BBC = Path(os.environ.get("RAG_BBC_CORPUS", SHARED / "corpora" / "bbc"))
CHROMA = Path(sys.executable).parent / "chroma"


def make_settings(tmp: Path, docs: Path, **extra: Any) -> Any:
    from rag.config import Settings

    return Settings(docs_dir=docs, index_dir=tmp / "index", **extra)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def engine_over(tmp: Path, embedder: Any, files: Mapping[str, str] | Sequence[Path], **settings: Any) -> Any:
    """An indexed engine over a fresh documents folder in `tmp` holding `files`: {name: text}, or paths
    to copy (the seed article: `[SEEDS / SEED_FILE]`)."""
    from rag.service import Engine

    docs = tmp / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    if isinstance(files, Mapping):
        for name, text in files.items():
            (docs / name).write_text(text, encoding="utf-8")
    else:
        for path in files:
            shutil.copy(path, docs / Path(path).name)
    engine = Engine(make_settings(tmp, docs, **settings), embedder)
    engine.index()
    return engine


class FakeEmbedder:
    """An `Embedder` for unit tests: a bag of hashed words, L2-normalised (texts sharing words are
    close), with no model. `calls` records every batch it encoded."""

    identity = "fake-bag-of-words"
    dimension = 64

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        for word in text.lower().split():
            v[int(hashlib.md5(word.strip(".,?!\"'").encode()).hexdigest(), 16) % self.dimension] += 1.0
        norm = float(np.linalg.norm(v))
        return v / norm if norm else v

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dimension)


def bbc_files(n: int, sections: Sequence[str] = ("business", "politics", "sport", "tech", "entertainment"),
              ) -> list[Path]:
    """n BBC articles spread over the sections; where the corpus is absent (a checkout without
    ../shared), n generated news-like articles instead, so the tests run rather than skip."""
    corpus = BBC if BBC.exists() else _generated_corpus(sections, n // len(sections) + 1)
    files: list[Path] = []
    for section in sections:
        files += sorted((corpus / section).glob("*.txt"))[: n // len(sections) + 1]
    return files[:n]


def _generated_corpus(sections: Sequence[str], per_section: int) -> Path:
    rng = random.Random(7)
    words = ("market", "minister", "league", "software", "festival", "shares", "election", "striker",
             "network", "album", "profits", "budget", "coach", "phone", "director", "growth", "council")
    root = Path(tempfile.mkdtemp(prefix="rag-generated-corpus-"))
    for section in sections:
        (root / section).mkdir()
        for i in range(per_section):
            title = f"{section.title()} report {i}: {rng.choice(words)} and {rng.choice(words)}"
            sentences = [f"The {rng.choice(words)} said {rng.randint(2, 900)} {rng.choice(words)}s were "
                         f"affected in {section} this week, number {i}." for _ in range(12)]
            (root / section / f"{i:03d}.txt").write_text(title + "\n\n" + " ".join(sentences) + "\n")
    return root


class ServerProcess:
    """A server run as a subprocess on a free loopback port, its output in a log file; ready when
    `ready_path` answers 200, and startable again on the same port. Subclasses give `command()`."""

    name = "server"
    ready_path = "/"
    poll_seconds = 0.2
    stop_seconds = 20.0

    def __init__(self, log: Path) -> None:
        self.log_path = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self, wait: float = 60.0) -> None:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=self.env())
        deadline = time.monotonic() + wait
        while True:
            # our process must be the one answering, not something else left on the port
            assert self.proc.poll() is None, f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
            try:
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{self.name} did not answer in {wait} s:\n{self.log_tail()}"
            time.sleep(self.poll_seconds)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=self.stop_seconds)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


class ChromaServer(ServerProcess):
    """`chroma run --path … --host 127.0.0.1 --port …`, startable again on the same port and path."""

    name = "chroma run"
    ready_path = "/api/v2/heartbeat"

    def __init__(self, path: Path, log: Path) -> None:
        super().__init__(log)
        self.path = path

    def command(self) -> list[str]:
        return [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)]

    def env(self) -> dict[str, str]:
        return {**os.environ, "NO_COLOR": "1"}

    def start(self, wait: float = 60.0) -> None:
        if not CHROMA.exists():
            pytest.skip(f"the chroma CLI is not installed next to {sys.executable}")
        super().start(wait)

    def collections(self) -> set[str]:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.HttpClient(host="127.0.0.1", port=self.port,
                                     settings=ChromaSettings(anonymized_telemetry=False))
        return {c if isinstance(c, str) else c.name for c in client.list_collections()}
