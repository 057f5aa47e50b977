"""Shared fixtures: real documents, the real packaged embedder, real Chroma on tmp_path."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = "000_1b21a7c2e01bd4ee.txt"
SHARED = ROOT.parent / "shared"
BBC = Path(os.environ.get("RAG_BBC_CORPUS", SHARED / "corpora" / "bbc"))


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory) -> Path:
    """The embedding model exported to ONNX once per run, shared by every engine and subprocess."""
    path = tmp_path_factory.mktemp("model-cache")
    os.environ["RAG_MODEL_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def embedder(model_cache):
    """The default embedder: the packaged model, questions and sentences through ONNX Runtime."""
    from rag.embed import Embedder

    return Embedder("", onnx_cache=model_cache)


def make_settings(tmp: Path, docs: Path, **extra):
    from rag.config import Settings

    return Settings(docs_dir=docs, index_dir=tmp / "index", **extra)


@pytest.fixture
def seed_docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / SEED_FILE, docs / SEED_FILE)
    return docs


@pytest.fixture(scope="session")
def seed_engine(tmp_path_factory, embedder):
    """An engine over the seed article, indexed once for the session."""
    from rag.service import Engine

    tmp = tmp_path_factory.mktemp("seed")
    docs = tmp / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / SEED_FILE, docs / SEED_FILE)
    engine = Engine(make_settings(tmp, docs), embedder)
    engine.index()
    return engine


def bbc_files(n: int, sections=("business", "politics", "sport", "tech", "entertainment")) -> list[Path]:
    """n BBC articles spread over the sections; where the corpus is absent (a checkout without
    ../shared), n generated news-like articles instead, so the tests run rather than skip."""
    corpus = BBC if BBC.exists() else _generated_corpus(sections, n // len(sections) + 1)
    files: list[Path] = []
    for section in sections:
        files += sorted((corpus / section).glob("*.txt"))[: n // len(sections) + 1]
    return files[:n]


def _generated_corpus(sections: tuple[str, ...], per_section: int) -> Path:
    import random
    import tempfile

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
