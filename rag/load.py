"""TEMPORARY minimal loader (txt/md only) until the full one lands."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import NoDocumentsError, RagError
from rag.models import Document

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")


class SkipFile(RagError):
    pass


@dataclass(frozen=True)
class SourceFile:
    path: str
    abs_path: Path
    size: int
    sha: str
    mtime: float
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def scan(docs_dir: Path, max_file_mb: float = 100.0) -> tuple[list[SourceFile], list[Skipped]]:
    if not docs_dir.is_dir():
        raise NoDocumentsError(f"documents folder {docs_dir} does not exist")
    by_sha: dict[str, list[Path]] = {}
    skipped = []
    for p in sorted(docs_dir.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(docs_dir).as_posix()
        if p.suffix.lower() not in SUPPORTED:
            skipped.append(Skipped(rel, f"unsupported type {p.suffix}"))
            continue
        sha = hashlib.sha256(p.read_bytes()).hexdigest()
        by_sha.setdefault(sha, []).append(p)
    files = []
    for sha, paths in by_sha.items():
        p = paths[0]
        st = p.stat()
        files.append(SourceFile(p.relative_to(docs_dir).as_posix(), p, st.st_size, sha, st.st_mtime,
                                tuple(q.relative_to(docs_dir).as_posix() for q in paths[1:])))
    return sorted(files, key=lambda f: f.path), skipped


def load(file: SourceFile, warn: Callable[[str], None] = lambda m: None) -> Document:
    text = file.abs_path.read_text(encoding="utf-8").replace("\r\n", "\n")
    title = next((line.strip() for line in text.splitlines() if line.strip()), file.path)[:200]
    return Document(path=file.path, title=title, text=text, sha=file.sha, aliases=file.aliases)
