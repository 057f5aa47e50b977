"""One test per defect of the adversarial pass (issue 17), each of which failed before its fix.

The end-to-end probes against a real `rag serve` are in test_security.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


def rag(*args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k == "RAG_MODEL_CACHE"}
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=cwd, capture_output=True, text=True,
                          env={**base, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout[-500:], result.stderr[-2000:])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# 1. login turns itself off without a word ------------------------------------------------------------
@pytest.mark.parametrize("env, says", [
    ({"RAG_UI_USERNAME": "admin", "RAG_UI_PASSWORD": ""}, "ui_username is set but ui_password is not"),
    ({"RAG_UI_USERNAME": "admin", "RAG_UI_PASSWORD": "   "}, "ui_username is set but ui_password is not"),
    ({"RAG_UI_PASSWORD": "s3cret"}, "ui_password is set but ui_username is not"),
    ({"RAG_UI_PASWORD": "s3cret"}, "did you mean ui_password?"),
])
def test_half_set_login_or_unknown_variable_refuses_in_one_line(tmp_path, env, says):
    assert says in one_error_line(rag("info", cwd=tmp_path, env=env))


def test_misspelt_key_in_rag_toml_names_the_nearest_setting(tmp_path):
    (tmp_path / "rag.toml").write_text('ui_username = "admin"\nui_pasword = "s3cret"\n')
    line = one_error_line(rag("info", cwd=tmp_path))
    assert "'ui_pasword'" in line and "did you mean ui_password?" in line


def test_login_set_in_full_or_not_at_all_is_accepted():
    from pydantic import SecretStr

    from rag.config import Settings

    assert Settings(ui_username="ann", ui_password=SecretStr("pw")).ui_password is not None
    assert Settings(ui_password=SecretStr("")).ui_password is None  # blank and alone: no login, no error


# 9. tracebacks where a line is due ------------------------------------------------------------------
@pytest.mark.parametrize("content", [b'top_k = \n', b'top_k = 5\n[unclosed\n', b'llm_model = "caf\xe9"\n'])
def test_malformed_rag_toml_is_one_line(tmp_path, content):
    (tmp_path / "rag.toml").write_bytes(content)
    assert "rag.toml cannot be read" in one_error_line(rag("info", cwd=tmp_path))
