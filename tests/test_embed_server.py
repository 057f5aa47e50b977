"""Integration: served embeddings through a real Infinity server on loopback (issue 18).

`infinity_emb v2 --model-id <the packaged all-MiniLM-L6-v2> --port <free port>` serves the same model
rag loads in-process, offline. Infinity pins numpy<2 and sentence-transformers<4, so `make install-test`
installs it into its own venv, `.venv-infinity` (found there, or next to this Python).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from helpers import ROOT, SEED_FILE, ServerProcess, bbc_files, make_settings
from rag import indexer
from rag.embed import packaged_model_path
from rag.embed_http import HttpEmbedder
from rag.errors import EmbeddingServerError, RagError
from rag.health import health_lines
from rag.service import Engine, answer
from rag.store import Store

pytestmark = [pytest.mark.embed_server, pytest.mark.timeout(900)]

EXPORT_QUESTION = "Who claimed what about export controls?"


def _infinity() -> Path | None:
    for candidate in (Path(sys.executable).parent / "infinity_emb", ROOT / ".venv-infinity" / "bin" / "infinity_emb"):
        if candidate.exists():
            return candidate
    return None


class InfinityServer(ServerProcess):
    """`infinity_emb v2` on 127.0.0.1 serving the packaged model; startable again on the same port."""

    name = "infinity_emb"
    ready_path = "/models"
    poll_seconds = 0.5
    stop_seconds = 30.0

    def command(self) -> list[str]:
        binary = _infinity()
        assert binary is not None
        return [str(binary), "v2", "--model-id", str(packaged_model_path()), "--port", str(self.port),
                "--host", "127.0.0.1", "--no-model-warmup"]

    def env(self) -> dict[str, str]:
        return {**os.environ, "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0",
                "PYTHONUNBUFFERED": "1"}

    def start(self, wait: float = 600.0) -> None:
        if _infinity() is None:
            if os.environ.get("CI"):
                pytest.fail("infinity_emb is not installed (make install-test puts it in .venv-infinity)")
            pytest.skip("infinity_emb is not installed (make install-test puts it in .venv-infinity)")
        super().start(wait)


@pytest.fixture(scope="module")
def infinity(tmp_path_factory) -> Iterator[InfinityServer]:
    server = InfinityServer(tmp_path_factory.mktemp("infinity") / "infinity.log")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def served(tmp_path: Path, docs: Path, server: InfinityServer, **extra):
    return make_settings(tmp_path, docs, embed_api_url=server.url, embed_api_retries=1, **extra)


def rag_cli(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(HF_HUB_OFFLINE="1", RAG_DOCS_DIR=str(settings.docs_dir), RAG_INDEX_DIR=str(settings.index_dir))
    if settings.embed_api_url:
        env.update(RAG_EMBED_API_URL=settings.embed_api_url, RAG_EMBED_API_RETRIES="1")
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_served_vectors_equal_the_in_process_model(infinity, embedder):
    texts = ["DeepSeek says R1 cost $5.6 million to train.", "The quagga herd crossed the Limpopo river."]
    client = HttpEmbedder(infinity.url, batch_size=1, concurrency=2)
    vectors = client.encode_documents(texts)
    local = embedder.encode_documents(texts)
    assert vectors.shape == (2, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(vectors * local, axis=1)) > 0.999, "the same model, served"
    assert client.identity.startswith("api:") and client.dimension == 384


def test_index_and_answer_through_the_server_with_citations(tmp_path, seed_docs, infinity):
    settings = served(tmp_path, seed_docs, infinity)
    engine = Engine(settings)
    report = engine.index()
    assert report.added == [SEED_FILE] and report.chunks_embedded > 0
    result = answer(EXPORT_QUESTION, engine=engine)
    assert "Sacks" in result.text and result.citations
    assert any("export controls" in c.quote for c in result.citations)
    meta = Store(settings).active().metadata
    assert str(meta["embed_model"]).startswith("api:") and meta["embed_dim"] == 384

    embeddings = next(line for line in health_lines(settings) if line.startswith("Embeddings:"))
    assert embeddings.startswith(f"Embeddings: {infinity.url} — OK (serving "), embeddings
    info = rag_cli(settings, "info")
    assert info.returncode == 0 and f"Embeddings: {infinity.url} — OK" in info.stdout, info.stderr
    asked = rag_cli(settings, "ask", "--json", EXPORT_QUESTION)
    assert asked.returncode == 0, asked.stderr
    assert "Sacks" in json.loads(asked.stdout)["text"]


def test_server_stopped_mid_index_says_one_line_and_the_next_run_continues(
        tmp_path, seed_docs, infinity, monkeypatch):
    settings = served(tmp_path, seed_docs, infinity)
    engine = Engine(settings)
    engine.index()
    for path in bbc_files(12):
        shutil.copy(path, seed_docs / f"{path.parent.name}-{path.name}")
    monkeypatch.setattr(indexer, "_EMBED_BATCH_CHUNKS", 8)  # several batches, so the stop falls between two

    def stop_after_first_batch(done: int, total: int, chunks: int, message: str) -> None:
        if chunks and infinity.proc is not None:
            infinity.stop()

    try:
        with pytest.raises(EmbeddingServerError) as err:
            engine.index(progress=stop_after_first_batch)
        message = str(err.value)
        assert "\n" not in message and infinity.url in message and "does not answer" in message
        written = Store(settings).documents(Store(settings).active())
        assert 1 < len(written) < 13, "the first batch was kept, the rest not yet written"

        down = rag_cli(settings, "index")
        assert down.returncode == 1 and infinity.url in _one_line(down.stderr)
        info = rag_cli(settings, "info")
        assert f"Embeddings: {infinity.url} — NOT ANSWERING" in info.stdout, info.stdout
    finally:
        if infinity.proc is None:
            infinity.start()
    resumed = engine.index()
    assert sorted(resumed.added) == sorted(set(p.name for p in seed_docs.iterdir()) - set(written))
    assert resumed.documents_total == 13 and not resumed.rebuilt


def test_an_index_built_by_the_server_refuses_the_in_process_model(tmp_path, seed_docs, infinity, embedder):
    settings = served(tmp_path, seed_docs, infinity)
    Engine(settings).index()
    local = settings.model_copy(update={"embed_api_url": None})
    engine = Engine(local, embedder)
    with pytest.raises(RagError) as err:
        engine.ensure_index()
    message = str(err.value)
    assert "\n" not in message and "api:" in message and str(packaged_model_path()) in message
    with pytest.raises(RagError):
        answer(EXPORT_QUESTION, engine=engine)
    refused = rag_cli(local, "index")
    assert refused.returncode == 1 and "api:" in _one_line(refused.stderr)
    assert Store(settings).active().metadata["embed_model"].startswith("api:"), "nothing was mixed in"
