"""A missing, emptied, damaged or outdated index: one clear line, the damaged one moved aside, a rebuild,
then answers with citations. In-process through Engine.ensure_index, and as a user runs `rag`."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import ROOT, SEED_FILE, SEEDS, make_settings
from rag.chroma_client import forget_local_client
from rag.config import Settings
from rag.indexer import build_index
from rag.service import Engine, answer
from rag.store import SCHEMA_VERSION, Store

QUESTION = "How much did DeepSeek say R1 cost to develop?"


def _sqlite(index_dir: Path) -> Path:
    return index_dir / "chroma" / "chroma.sqlite3"


def _metadata(index_dir: Path, drop: str = "", **changes: object) -> None:
    """Change the active generation's metadata as an older rag or other settings would have left it."""
    settings = Settings(index_dir=index_dir)
    collection = Store(settings).active()
    assert collection is not None
    meta = {k: v for k, v in (collection.metadata or {}).items() if k not in ("hnsw:space", drop)}
    collection.modify(metadata={**meta, **changes})
    assert drop not in (Store(settings).active().metadata or {})
    forget_local_client(index_dir / "chroma")


def _emptied(index_dir: Path) -> None:
    for child in index_dir.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()


def _chroma_is_a_file(index_dir: Path) -> None:
    shutil.rmtree(index_dir / "chroma")
    (index_dir / "chroma").write_text("not a folder\n")


NO_INDEX = "No index yet: building it first."
DAMAGED, OUTDATED = "damaged", "outdated"

# name -> (what is done to the index folder, the kind of notice, (part of) the reason given)
CASES = {
    "deleted": (shutil.rmtree, NO_INDEX, None),
    "emptied": (_emptied, NO_INDEX, None),
    "sqlite-0-bytes": (lambda d: os.truncate(_sqlite(d), 0), NO_INDEX, None),
    "sqlite-half": (lambda d: os.truncate(_sqlite(d), _sqlite(d).stat().st_size // 2), DAMAGED,
                    "database disk image is malformed"),
    "sqlite-garbage": (lambda d: _sqlite(d).write_bytes(random.Random(3).randbytes(_sqlite(d).stat().st_size)),
                       DAMAGED, "file is not a database"),
    "chroma-is-a-file": (_chroma_is_a_file, DAMAGED, "File exists"),
    "older-schema": (lambda d: _metadata(d, schema=SCHEMA_VERSION - 1), OUTDATED,
                     f"index format {SCHEMA_VERSION - 1} is not the current {SCHEMA_VERSION}"),
    "unversioned": (lambda d: _metadata(d, drop="schema"), OUTDATED,
                    f"the index has no format version (made by an older rag; the current format is {SCHEMA_VERSION})"),
    "other-model": (lambda d: _metadata(d, embed_model="/models/bge-small-en-v1.5", embed_dim=512), OUTDATED,
                    "embed_model changed from '/models/bge-small-en-v1.5' to"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> tuple[Path, Path]:
    """A documents folder and a good index of it, built once; each test damages a copy."""
    root = tmp_path_factory.mktemp("built")
    docs = root / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / SEED_FILE, docs / SEED_FILE)
    settings = make_settings(root, docs)
    build_index(settings, embedder=embedder)
    forget_local_client(settings.index_dir / "chroma")
    return docs, settings.index_dir


def _damaged_copy(built: tuple[Path, Path], tmp_path: Path, case: str) -> Settings:
    docs, index_dir = built
    settings = make_settings(tmp_path, docs)
    shutil.copytree(index_dir, settings.index_dir)
    CASES[case][0](settings.index_dir)
    return settings


def _assert_kept_aside(settings: Settings, case: str, moved_to: str | None = None) -> None:
    broken = sorted(settings.index_dir.glob("chroma.broken-*"))
    if CASES[case][1] != DAMAGED:
        assert not broken, "only a damaged index is moved aside"
        return
    assert len(broken) == 1, "the damaged index is kept for inspection"
    assert moved_to is None or str(broken[0]) == moved_to
    assert broken[0].is_file() or (broken[0] / "chroma.sqlite3").exists()


def _answers_with_citations(data: dict) -> None:
    assert "$5.6 million" in data["text"] and data["citations"], data["text"]
    assert data["citations"][0]["source"] == SEED_FILE


@pytest.mark.parametrize("case", list(CASES))
def test_ensure_index_explains_rebuilds_and_answers(built, tmp_path, embedder, case):
    settings = _damaged_copy(built, tmp_path, case)
    engine = Engine(settings, embedder)
    notices: list[str] = []
    report = engine.ensure_index(notice=notices.append)
    assert report is not None and report.chunks_total > 0
    assert len(notices) == 1 and "\n" not in notices[0]
    _, kind, why = CASES[case]
    if kind == DAMAGED:
        assert notices[0].startswith(f"The index is damaged: the index at {settings.index_dir / 'chroma'} cannot be")
        assert why in notices[0] and notices[0].endswith("Moving it aside and building a fresh one.")
        assert report.repaired and report.rebuilt and "it was moved to" in report.rebuilt
    elif kind == OUTDATED:
        assert notices[0].startswith(f"The index must be rebuilt ({why}")
        assert notices[0].endswith("): rebuilding it first.")
    else:
        assert notices == [NO_INDEX]
    _assert_kept_aside(settings, case)
    _answers_with_citations(answer(QUESTION, engine=engine).to_dict())
    assert engine.ensure_index() is None, "the rebuilt index is used as it is"


def rag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False")
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.mark.parametrize(("case", "command"), [("sqlite-half", "ask"), ("sqlite-garbage", "index"),
                                               ("sqlite-0-bytes", "ask"), ("older-schema", "index")])
def test_rag_command_says_it_in_one_line_and_rebuilds(built, tmp_path, embedder, case, command):
    settings = _damaged_copy(built, tmp_path, case)
    where = ["--docs", str(settings.docs_dir), "--index", str(settings.index_dir)]
    result = rag(command, *where, *(["--json", QUESTION] if command == "ask" else []), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    report = (result.stderr if command == "ask" else result.stdout).splitlines()
    built_line = next(line for line in report if line.startswith("Built a fresh index: "))
    _, kind, why = CASES[case]
    if command == "ask":  # the notice, then the index report on stderr; the answer alone on stdout
        first = next(line for line in report if line.startswith(("No index", "The index")))
        if kind == DAMAGED:
            assert first.startswith("The index is damaged: ") and why in first
            assert first.endswith("Moving it aside and building a fresh one.")
        elif kind == OUTDATED:
            assert first == f"The index must be rebuilt ({why}): rebuilding it first."
        else:
            assert first == NO_INDEX
        _answers_with_citations(json.loads(result.stdout))
    else:
        _answers_with_citations(answer(QUESTION, engine=Engine(settings, embedder)).to_dict())
    if kind == DAMAGED:
        assert why in built_line and "; it was moved to " in built_line
        _assert_kept_aside(settings, case, built_line.rsplit("; it was moved to ", 1)[1].rstrip("."))
    elif kind == OUTDATED:
        assert built_line == f"Built a fresh index: {why}."
    else:
        assert built_line == "Built a fresh index: no index yet."
