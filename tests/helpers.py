"""What tests share besides fixtures: paths, settings, a free port, an engine over given documents, and
a fake embedder for unit tests (no model, no Chroma, no network). Import it as `from helpers import ...`."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import socket
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = "000_1b21a7c2e01bd4ee.txt"
SHARED = ROOT.parent / "shared"
BBC = Path(os.environ.get("RAG_BBC_CORPUS", SHARED / "corpora" / "bbc"))


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
