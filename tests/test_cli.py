"""The `rag` command as a user runs it: a subprocess, real index, real model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from helpers import ROOT, SEED_FILE


def rag(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=300)


def test_help_is_instant(tmp_path):
    started = time.perf_counter()
    result = rag("--help", cwd=tmp_path)
    assert result.returncode == 0 and "index" in result.stdout and "ask" in result.stdout
    probe = subprocess.run([sys.executable, "-c", "import sys, rag.cli; print('torch' in sys.modules, "
                            "'gradio' in sys.modules, 'chromadb' in sys.modules)"],
                           capture_output=True, text=True, cwd=ROOT)
    assert probe.stdout.split() == ["False", "False", "False"]
    assert time.perf_counter() - started < 30


def test_ask_builds_the_index_then_answers_as_text_and_json(tmp_path, seed_docs):
    env = {"RAG_DOCS_DIR": str(seed_docs), "RAG_INDEX_DIR": str(tmp_path / "index")}
    text = rag("ask", "How much did DeepSeek say R1 cost to develop?", cwd=tmp_path, env=env)
    assert text.returncode == 0, text.stderr
    assert "$5.6 million" in text.stdout and "[1]" in text.stdout
    assert f"{SEED_FILE}, chars" in text.stdout, "sources show path and span"

    out = rag("ask", "--json", "-k", "3", "What is the capital of France?", cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["abstained"] is True and data["citations"] == []
    assert len(data["retrieved"]) == 3

    info = rag("info", cwd=tmp_path, env=env)
    assert info.returncode == 0
    assert "Documents: 1" in info.stdout and "all-MiniLM-L6-v2" in info.stdout
    assert "top_k = 5" in info.stdout
    assert "Question encoder: ONNX Runtime (" in info.stdout and "embedder-" in info.stdout, "exported by ask"

    again = rag("index", cwd=tmp_path, env=env)
    assert again.returncode == 0 and "0 chunks embedded" in again.stdout


def test_errors_are_one_line_and_nonzero(tmp_path):
    missing = rag("index", "--docs", str(tmp_path / "nope"), "--index", str(tmp_path / "i"), cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("error:") and len(missing.stderr.strip().splitlines()) == 1

    empty = tmp_path / "empty"
    empty.mkdir()
    none = rag("index", "--docs", str(empty), "--index", str(tmp_path / "i"), cwd=tmp_path)
    assert none.returncode == 1 and "no documents" in none.stderr

    bad_flag = rag("ask", "-k", "0", "q", cwd=tmp_path)
    assert bad_flag.returncode == 2

    bad_env = rag("info", cwd=tmp_path, env={"RAG_TOP_K": "many"})
    assert bad_env.returncode == 1 and "top_k" in bad_env.stderr


def test_settings_env_over_toml_over_defaults(tmp_path, monkeypatch):
    from rag.config import Settings

    monkeypatch.chdir(tmp_path)
    assert Settings().top_k == 5
    (tmp_path / "rag.toml").write_text('top_k = 7\nchunk_size = 500\n')
    assert Settings().top_k == 7 and Settings().chunk_size == 500
    monkeypatch.setenv("RAG_TOP_K", "9")
    assert Settings().top_k == 9 and Settings().chunk_size == 500
    assert all(field.description for field in Settings.model_fields.values())


def test_serve_on_a_port_in_use_is_one_line(tmp_path, seed_docs):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = rag("serve", "--port", str(port), cwd=tmp_path,
                     env={"RAG_DOCS_DIR": str(seed_docs), "RAG_INDEX_DIR": str(tmp_path / "index")})
    assert result.returncode != 0
    assert f"127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "index").exists() or not any((tmp_path / "index").iterdir()), "nothing built first"
