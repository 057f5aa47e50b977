"""Find and read documents: .txt .md (text), .html/.htm (visible text only), .pdf (text per page).

`scan` walks the documents folder (recursively, sorted, no hidden entries, each real directory once so
symlink loops end), hashes every supported file and groups byte-identical ones: a document is indexed
once under its lexicographically first path and its other paths become `aliases`. `load` decodes one
file into a `Document`; a file that cannot be used raises `SkipFile` with a one-line reason, and
`load_all` turns every failure of a single file into a `Skipped`, never an exception.

Text files are decoded by rag.load_text (UTF-8, else the encoding charset-normalizer detects). HTML and
PDF parsing live in rag.load_html and rag.load_pdf; Word, PowerPoint, Excel, CSV, EPUB, e-mail, JSON and
XML in rag.load_office and rag.load_structured.
Left out: OCR of scanned PDFs, archives, streaming of huge files (each is read whole).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rag.errors import NoDocumentsError, SkipFile, one_line
from rag.limits import FileLimits, load_bounded
from rag.load_html import html_to_text
from rag.load_office import read_office
from rag.load_pdf import read_pdf
from rag.load_text import Warn, read_text
from rag.models import Document

OFFICE = (".docx", ".pptx", ".xlsx", ".xlsm", ".xls", ".csv", ".epub", ".eml", ".msg", ".json", ".xml")
SUPPORTED = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", *OFFICE)
_MARKDOWN = (".md", ".markdown")
_HTML = (".html", ".htm")
_BLOCK = 1 << 20  # bytes hashed per read
_TITLE_MAX = 200


@dataclass(frozen=True)
class SourceFile:
    """A supported file found by `scan`; `aliases` are other paths with byte-identical content."""

    path: str  # relative to the documents folder, POSIX style
    abs_path: Path
    size: int
    sha: str  # sha256 of the raw bytes
    mtime: float
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A file left out, with one short line saying why."""

    path: str
    reason: str


def _ignore(message: str) -> None:
    """The default `warn`: drop the message."""


def _os_reason(exc: OSError) -> str:
    return "permission denied" if isinstance(exc, PermissionError) else f"unreadable: {exc.strerror or exc}"


_OUTSIDE = "a link to a place outside the documents folder, not followed (follow_outside_links allows it)"


def _leads_outside(entry: os.DirEntry[str], root: Path) -> bool:
    """True for a symbolic link whose target (after every link) is not inside the folder `root`."""
    if not entry.is_symlink():
        return False
    target = Path(os.path.realpath(entry.path))
    return target != root and root not in target.parents


def _walk(root: Path, outside_links: bool = False) -> Iterator[tuple[Path, str | None]]:
    """(path, None) for every non-hidden file under root; (path, reason) for a folder it cannot list and,
    unless `outside_links`, for a link leading out of root (never followed)."""
    seen: set[tuple[int, int]] = set()
    real_root = Path(os.path.realpath(root))
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:  # a symlink back to a folder already walked
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(folder), key=lambda e: e.name, reverse=True)
        except OSError as exc:
            yield folder, _os_reason(exc)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if not outside_links and _leads_outside(entry, real_root):
                yield Path(entry.path), _OUTSIDE
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:  # e.g. a symlink that loops on itself; stat() reports it below
                is_dir = False
            if is_dir:
                stack.append(Path(entry.path))
            else:
                yield Path(entry.path), None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, max_bytes: float, max_file_mb: float) -> tuple[int, float] | str:
    """(size, mtime) of a usable file, or why it is skipped."""
    if path.suffix.lower() not in SUPPORTED:
        return f"unsupported type {path.suffix or '(no extension)'}"
    try:
        st = path.stat()
    except OSError as exc:  # a broken or looping symlink
        return _os_reason(exc)
    if not path.is_file():
        return "not a regular file"
    if st.st_size == 0:
        return "empty file"
    if st.st_size > max_bytes:
        return f"larger than {max_file_mb:g} MB"
    if not os.access(path, os.R_OK):
        return "permission denied"
    return st.st_size, st.st_mtime


def _printable(rel: str) -> str:
    """A file name whose bytes are not UTF-8, shown with U+FFFD in place of the bad bytes."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _describe(path: Path, rel: str, max_file_mb: float) -> tuple[int, float, str] | str:
    """(size, mtime, sha) of a usable file, or why it is skipped."""
    if rel != _printable(rel):
        return "file name is not valid UTF-8; rename it"
    checked = _check(path, max_file_mb * 1e6, max_file_mb)
    if isinstance(checked, str):
        return checked
    try:
        return (*checked, _sha256(path))
    except OSError as exc:
        return _os_reason(exc)


def scan(docs_dir: Path, max_file_mb: float = 100.0,
         outside_links: bool = False) -> tuple[list[SourceFile], list[Skipped]]:
    """Supported files under docs_dir (duplicates grouped) and the files skipped, with reasons; links
    leading out of docs_dir are skipped unless `outside_links`."""
    if not docs_dir.is_dir():
        raise NoDocumentsError(f"documents folder {docs_dir} does not exist or is not a folder")
    groups: dict[str, list[tuple[str, Path, int, float]]] = {}
    skipped: list[Skipped] = []
    for path, problem in _walk(docs_dir, outside_links):
        rel = path.relative_to(docs_dir).as_posix()
        found = problem or _describe(path, rel, max_file_mb)
        if isinstance(found, str):
            skipped.append(Skipped(_printable(rel), found))
        else:
            size, mtime, sha = found
            groups.setdefault(sha, []).append((rel, path, size, mtime))
    files = []
    for sha, members in groups.items():
        members.sort()
        rel, path, size, mtime = members[0]
        files.append(SourceFile(rel, path, size, sha, mtime, tuple(m[0] for m in members[1:])))
    return sorted(files, key=lambda f: f.path), sorted(skipped, key=lambda s: s.path)




def _first_line(text: str, markdown: bool) -> str:
    """The first non-empty line (without markdown '#'), cut at a word to at most _TITLE_MAX characters."""
    first = re.search(r"\S", text)
    if first is None:
        return ""
    start = first.start()
    end = text.find("\n", start, start + 4 * _TITLE_MAX)
    line = text[start:end if end >= 0 else start + 4 * _TITLE_MAX]
    line = " ".join((line.lstrip("#") if markdown else line).split())
    if len(line) <= _TITLE_MAX:
        return line
    cut = line[:_TITLE_MAX - 1]
    if " " in cut[_TITLE_MAX // 2:]:
        cut = cut.rsplit(" ", 1)[0]
    return cut + "…"


def _read_pdf(path: Path) -> tuple[str, tuple[tuple[int, int, int], ...]]:
    try:
        return read_pdf(path)
    except (SkipFile, OSError):
        raise
    except Exception as exc:  # pypdf raises many kinds on a broken file
        raise SkipFile(f"unreadable PDF: {one_line(exc, 120)}") from exc


def _read_office(file: SourceFile, warn: Warn) -> tuple[str, str, tuple[tuple[str, int, int], ...]]:
    suffix = file.abs_path.suffix.lower()
    text, title, sections = read_office(file.abs_path, suffix, lambda: read_text(file.abs_path, file.path, warn))
    prose = suffix in (".docx", ".pptx", ".epub", ".eml", ".msg")  # a table's first row is no title: the name is
    return text, title or (_first_line(text, markdown=False) if prose else ""), sections


def _read(file: SourceFile, warn: Warn) -> tuple[str, str, tuple[tuple[int, int, int], ...]]:
    """(text, title, pages) of one file."""
    suffix = file.abs_path.suffix.lower()
    if suffix == ".pdf":
        text, pages = _read_pdf(file.abs_path)
        return text, _first_line(text, markdown=False), pages
    text = read_text(file.abs_path, file.path, warn)
    title = ""
    if suffix in _HTML:
        title, text = html_to_text(text)
    return text, title or _first_line(text, markdown=suffix in _MARKDOWN), ()


def load(file: SourceFile, warn: Warn = _ignore, limits: FileLimits | None = None) -> Document:
    """Read one file into a Document; raises SkipFile (and nothing else) when it holds no usable text.
    With `limits`, a PDF or office file is read in a worker process within them (see rag.limits)."""
    if limits is not None and file.abs_path.suffix.lower() in (".pdf", *OFFICE):
        return load_bounded(file, warn, limits)
    sections: tuple[tuple[str, int, int], ...] = ()
    try:
        if file.abs_path.suffix.lower() in OFFICE:
            text, title, sections = _read_office(file, warn)
            pages: tuple[tuple[int, int, int], ...] = ()
        else:
            text, title, pages = _read(file, warn)
    except SkipFile:
        raise
    except OSError as exc:
        raise SkipFile(_os_reason(exc)) from None
    except Exception as exc:  # a parser bug must not stop an index run
        raise SkipFile(one_line(f"unreadable: {type(exc).__name__}: {exc}", 160)) from exc
    if not text or text.isspace():
        raise SkipFile("no text")
    return Document(path=file.path, title=title or Path(file.path).name, text=text, sha=file.sha,
                    pages=pages, aliases=file.aliases, sections=sections)


def load_all(docs_dir: Path, max_file_mb: float = 100.0,
             warn: Warn = _ignore) -> tuple[list[Document], list[Skipped]]:
    """scan + load every file; a bad file becomes a Skipped, never an exception."""
    files, skipped = scan(docs_dir, max_file_mb)
    docs = []
    for file in files:
        try:
            docs.append(load(file, warn))
        except SkipFile as exc:
            skipped.append(Skipped(file.path, str(exc)))
        except Exception as exc:  # load converts everything already; this is the last guard
            skipped.append(Skipped(file.path, one_line(f"unreadable: {type(exc).__name__}: {exc}", 160)))
    return docs, sorted(skipped, key=lambda s: s.path)
