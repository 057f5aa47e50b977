"""Find and read documents: .txt .md (text), .html/.htm (visible text only), .pdf (text per page).

`scan` walks the documents folder (recursively, sorted, no hidden files, no symlink loops), hashes
every supported file and groups byte-identical ones, so a document is indexed once under its first
path and its other paths are reported. `load` decodes one file into a `Document`; a file that cannot
be used raises `SkipFile` with a one-line reason. Nothing here raises for a single bad file through
`load_all`. Not handled: OCR of scanned PDFs, office formats, archives.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import NoDocumentsError, RagError
from rag.models import Document

SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")
_BLOCK = 1 << 20
Warn = Callable[[str], None]


class SkipFile(RagError):
    """This file cannot be indexed; the message says why in a few words."""


@dataclass(frozen=True)
class SourceFile:
    """A supported file found by `scan`; `aliases` are other paths with byte-identical content."""

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


def _walk(root: Path) -> Iterator[Path]:
    """Files under root, sorted, skipping hidden entries and directories already visited."""
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_dir():
                    stack.append(path)
                    continue
            except OSError:
                pass
            yield path
    return


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, rel: str, max_bytes: float) -> tuple[int, float] | Skipped:
    """(size, mtime) of a usable file, or why it is skipped."""
    if path.suffix.lower() not in SUPPORTED:
        return Skipped(rel, f"unsupported type {path.suffix or '(no extension)'}")
    try:
        st = path.stat()
    except OSError as exc:
        return Skipped(rel, f"unreadable: {exc.strerror or exc}")
    if not path.is_file():
        return Skipped(rel, "not a regular file")
    if st.st_size == 0:
        return Skipped(rel, "empty file")
    if st.st_size > max_bytes:
        return Skipped(rel, f"larger than {max_bytes / 1e6:.0f} MB")
    if not os.access(path, os.R_OK):
        return Skipped(rel, "permission denied")
    return st.st_size, st.st_mtime


def scan(docs_dir: Path, max_file_mb: float = 100.0) -> tuple[list[SourceFile], list[Skipped]]:
    """Supported files under docs_dir (duplicates grouped) and the files skipped, with reasons."""
    if not docs_dir.is_dir():
        raise NoDocumentsError(f"documents folder {docs_dir} does not exist")
    groups: dict[str, list[tuple[str, Path, int, float]]] = {}
    skipped: list[Skipped] = []
    for path in _walk(docs_dir):
        rel = path.relative_to(docs_dir).as_posix()
        checked = _check(path, rel, max_file_mb * 1e6)
        if isinstance(checked, Skipped):
            skipped.append(checked)
            continue
        try:
            sha = _sha256(path)
        except OSError as exc:
            skipped.append(Skipped(rel, f"unreadable: {exc.strerror or exc}"))
            continue
        groups.setdefault(sha, []).append((rel, path, *checked))
    files = []
    for sha, members in groups.items():
        members.sort()
        rel, path, size, mtime = members[0]
        files.append(SourceFile(rel, path, size, sha, mtime, tuple(m[0] for m in members[1:])))
    return sorted(files, key=lambda f: f.path), sorted(skipped, key=lambda s: s.path)


def decode_text(raw: bytes, name: str, warn: Warn) -> str:
    """UTF-8 (BOM stripped), else the detected encoding with a warning; binary data is refused."""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return raw.decode("utf-16").replace("\r\n", "\n")
        except UnicodeDecodeError:
            pass
    if raw.count(b"\x00") > max(8, len(raw) // 1000):
        raise SkipFile("binary content")
    nuls = raw.count(b"\x00")
    if nuls:
        warn(f"{name}: removed {nuls} NUL bytes")
        raw = raw.replace(b"\x00", b"")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        matches = list(from_bytes(raw))
        if not matches:
            raise SkipFile("binary content (no text encoding fits)") from None
        best = _prefer_western(matches)
        text = str(best)
        warn(f"{name}: not valid UTF-8, decoded as {best.encoding}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _looks_binary(text):
        raise SkipFile("binary content")
    return text


_WESTERN = ("cp1252", "latin_1", "iso8859_15")


def _prefer_western(matches: list[Any]) -> Any:
    """Among equally plausible decodings (short texts often tie), take the most common Western one."""
    best = matches[0]
    for match in matches:
        if match.encoding in _WESTERN and match.chaos <= best.chaos and match.coherence >= best.coherence - 0.1:
            return match
    return best


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\t\f\v")
    return control > len(sample) * 0.05


def _first_line(text: str, fallback: str) -> str:
    """The first non-empty line, without markdown '#', cut at a word to about 120 characters."""
    line = re.sub(r"^#+\s*", "", next((ln.strip() for ln in text.splitlines() if ln.strip()), fallback))
    if len(line) <= 120:
        return line
    return line[:120].rsplit(" ", 1)[0] + "…"


def load(file: SourceFile, warn: Warn = lambda message: None) -> Document:
    """Read one file into a Document; raises SkipFile when it holds no usable text."""
    suffix = file.abs_path.suffix.lower()
    try:
        if suffix == ".pdf":
            from rag.load_pdf import read_pdf

            text, pages = read_pdf(file.abs_path)
            title = _first_line(text, file.path)
        else:
            raw = file.abs_path.read_bytes()
            text = decode_text(raw, file.path, warn)
            pages = ()
            if suffix in (".html", ".htm"):
                from rag.load_html import html_to_text

                title, text = html_to_text(text)
                title = title or _first_line(text, file.path)
            else:
                title = _first_line(text, file.path)
    except PermissionError:
        raise SkipFile("permission denied") from None
    except OSError as exc:
        raise SkipFile(f"unreadable: {exc.strerror or exc}") from None
    if not text.strip():
        raise SkipFile("no text")
    return Document(path=file.path, title=title, text=text, sha=file.sha, pages=pages, aliases=file.aliases)


def load_all(docs_dir: Path, max_file_mb: float = 100.0,
             warn: Warn = lambda message: None) -> tuple[list[Document], list[Skipped]]:
    """scan + load every file; a bad file becomes a Skipped, never an exception."""
    files, skipped = scan(docs_dir, max_file_mb)
    docs = []
    for file in files:
        try:
            docs.append(load(file, warn))
        except SkipFile as exc:
            skipped.append(Skipped(file.path, str(exc)))
        except Exception as exc:  # a parser bug must not stop the run
            skipped.append(Skipped(file.path, f"unreadable: {type(exc).__name__}: {str(exc)[:120]}"))
    return docs, skipped
