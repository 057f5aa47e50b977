"""The web chat's handlers: plain functions and generators over `rag.answer`, testable without a browser.

Everything that came from a document is HTML-escaped (and markdown-neutralised) before it is shown:
a document can never inject markup or script into the page. Uploads are checked for type, size and
name, and are saved only inside the documents folder.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rag.errors import RagError, UploadError
from rag.load import SUPPORTED
from rag.models import Answer, Citation
from rag.safety import quoted_parts
from rag.service import Engine, answer

Message = dict[str, str]
# one pass, so no entity is escaped twice ("'" -> "&#x27;" -> "&&#35;x27;" showed as "&#x27;")
_INERT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
                       **{c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+-!|~"}})
_MARKER = re.compile(r"\[(\d+)\]")
_STATUS_LABEL = {"weak": "weakly supported", "unsupported": "not supported by its citation"}


def escape(text: str) -> str:
    """Document text made inert: HTML escaped, markdown characters turned into entities."""
    return text.translate(_INERT)


def _cite_link(turn: int, n: int) -> str:
    return f'<sup><a href="#cite-{turn}-{n}" class="cite" title="Open source {n}">[{n}]</a></sup>'


def _linked(text: str, turn: int) -> str:
    """Escaped text whose [n] markers become superscript links."""
    parts = _MARKER.split(text)
    return "".join(_cite_link(turn, int(part)) if i % 2 else escape(part) for i, part in enumerate(parts))


def answer_html(result: Answer, turn: int = 0) -> str:
    """The assistant message of answer number `turn`: answer with citation links, or an abstention
    with the nearest passages (each one a link too); a footer says who answered and how it searched."""
    if result.abstained:
        nearest = "".join(f"<li>{_cite_link(turn, c.n)} <i>{escape(c.source)}</i>: {escape(c.quote[:300])}</li>"
                          for c in result.nearest)
        body = f'<div class="abstained">⚠ {escape(result.text)}</div>'
        if nearest:
            body += f"<div><b>Nearest passages</b><ul>{nearest}</ul></div>"
    elif result.sentences:
        body = " ".join(_sentence_html(s.text, s.citations, s.status, turn, s.reason) for s in result.sentences)
    elif parts := quoted_parts(result):  # extractive: a "[1]" inside a quote is document text, not a link
        body = " ".join(escape(quote) + _cite_link(turn, n) for quote, n in parts)
    else:
        body = _linked(result.text, turn)
    notes = "".join(f'<div class="notice">ℹ {escape(n)}</div>' for n in result.notices)
    footer = f"answered by {escape(result.answerer)}"
    if result.unsupported_count:
        footer += f" · {result.unsupported_count} sentence(s) not supported by their citations"
    if result.standalone_question and result.standalone_question != result.question:
        footer += f" · searched as “{escape(result.standalone_question)}”"
    return f'{body}{notes}<div class="answerer">{footer}</div>'


def _sentence_html(text: str, cited: Sequence[int], status: str, turn: int, reason: str = "") -> str:
    """One answer sentence; an unsupported one is flagged with why ("⚠ unsupported: the source names Rover")."""
    links = "".join(_cite_link(turn, n) for n in cited)
    if status == "supported":
        return f"{escape(text)}{links}"
    label = _STATUS_LABEL[status] + (f": {reason}" if reason else "")
    why = f": {escape(reason)}" if reason else ""
    flag = f' <sup class="flag" title="{escape(label)}">⚠ unsupported{why}</sup>' if status == "unsupported" else ""
    return f'<span class="{status}" title="{escape(label)}">{escape(text)}</span>{links}{flag}'


def source_panel(citation: Citation | None) -> str:
    """Side panel: title, path, page, and the quote highlighted inside its passage."""
    if citation is None:
        return '<div class="panel-empty">Click a citation to see its source.</div>'
    passage, quote = citation.passage or citation.quote, citation.quote
    at = citation.start - citation.passage_start
    if not (at >= 0 and passage[at:at + len(quote)] == quote):
        at = passage.find(quote)
    if at >= 0:
        shown = (escape(passage[:at]) + f'<mark id="quote">{escape(quote)}</mark>'
                 + escape(passage[at + len(quote):]))
    else:
        shown = f'<mark id="quote">{escape(quote)}</mark>'
    page = f" · {escape(citation.where)}" if citation.where else ""
    return (f'<div class="source" data-n="{citation.n}"><h3>[{citation.n}] {escape(citation.title)}</h3>'
            f'<div class="where">{escape(citation.source)}{page} · characters {citation.start}–{citation.end}'
            f'</div><div class="passage">{shown}</div></div>')


def detail_line(result: Answer) -> str:
    """Which answerer, the standalone question used for retrieval, and the timing."""
    parts = [f"Answered by **{escape(result.answerer)}**"]
    if result.standalone_question and result.standalone_question != result.question:
        parts.append(f"searched as: _{escape(result.standalone_question)}_")
    if result.sentences:
        parts.append(f"{result.unsupported_count} unsupported of {len(result.sentences)} sentences")
    parts.append(f"{result.timings.get('total', 0.0) * 1000:.0f} ms")
    return " · ".join(parts)


def stream_answer(engine: Engine, question: str, history: Sequence[tuple[str, str]], llm: str | None,
                  top_k: int | None) -> Iterator[str | Answer]:
    """Pieces of text as they are produced, then the final Answer (errors become RagError)."""
    pieces: queue.Queue[Any] = queue.Queue()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["answer"] = answer(question, history=list(history), engine=engine, llm=llm, top_k=top_k,
                                   on_token=pieces.put)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            pieces.put(None)

    threading.Thread(target=work, daemon=True).start()
    while (piece := pieces.get()) is not None:
        yield piece
    if "error" in box:
        raise box["error"]
    yield box["answer"]


def chat(engine: Engine, question: str, messages: list[Message], history: list[tuple[str, str]],
         llm: str | None = None, top_k: int | None = None) -> Iterator[tuple[list[Message], list, list, str]]:
    """Stream one turn: yields (messages, history, citations of this answer as dicts, detail line).

    The answer is turn number len(history); its citation links say so (`#cite-<turn>-<n>`).
    """
    turn = len(history)
    question = question if isinstance(question, str) else ""  # null over the API: "Please type a question."
    messages = [*messages, {"role": "user", "content": escape(question)}, {"role": "assistant", "content": ""}]
    text = ""
    try:
        for piece in stream_answer(engine, question, history, llm, top_k):
            if isinstance(piece, Answer):
                messages[-1] = {"role": "assistant", "content": answer_html(piece, turn)}
                cited = [asdict(c) for c in (piece.nearest if piece.abstained else piece.citations)]
                yield messages, [*history, (question, piece.text)], cited, detail_line(piece)
                return
            text += piece
            messages[-1] = {"role": "assistant", "content": escape(text) + " ▌"}
            yield messages, history, [], "Answering…"
    except RagError as exc:
        messages[-1] = {"role": "assistant", "content": f'<div class="error">⚠ {escape(str(exc))}</div>'}
        yield messages, history, [], ""


def open_citation(ref: int | str | None, citations: Sequence[Sequence[dict[str, Any]]]) -> str:
    """The side panel for `ref`, "<turn>-<n>" (or "<n>" for the latest answer); `citations` holds
    each answer's citations, by turn."""
    found = re.fullmatch(r"\s*#?(?:cite-)?(?:(\d+)-)?(\d+)\s*", str(ref or ""))
    if not found or not citations:
        return source_panel(None)
    turn = int(found[1]) if found[1] is not None else len(citations) - 1
    n = int(found[2])
    cited = citations[turn] if turn < len(citations) else []
    match = next((c for c in cited if c["n"] == n), None)
    return source_panel(Citation(**match) if match else None)


def documents_table(engine: Engine) -> list[list[Any]]:
    """Rows of (path, title, chunks, indexed at) for the indexed documents."""
    store = engine.retriever.store
    collection = store.active()
    if collection is None:
        return []
    rows = []
    for doc in sorted(store.documents(collection).values(), key=lambda d: d.source):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(doc.indexed_at)) if doc.indexed_at else ""
        title = doc.title if len(doc.title) <= 80 else doc.title[:79] + "…"
        rows.append([doc.source, title, doc.chunks, when])
    return rows


def safe_name(name: str) -> str:
    """A plain file name for an upload, or UploadError: no paths, no NUL, no hidden files."""
    if "\x00" in name:
        raise UploadError("file names with NUL bytes are refused")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in Path(name.replace("\\", "/")).parts:
        raise UploadError(f"refused {name!r}: paths are not allowed in upload names")
    plain = Path(name.replace("\\", "/")).name
    base = re.sub(r"[^\w.\- ]", "_", plain).strip(" ")
    if not base or base.startswith("."):
        raise UploadError(f"refused {name!r}: not a usable file name")
    if Path(base).suffix.lower() not in SUPPORTED:
        raise UploadError(f"refused {base}: only {' '.join(SUPPORTED)} files are accepted")
    return base


def save_upload(docs_dir: Path, name: str, data: bytes, max_mb: float) -> Path:
    """Save an uploaded file under docs_dir/uploads; refuses bad names, types and sizes."""
    base = safe_name(name)
    if len(data) > max_mb * 1e6:
        raise UploadError(f"refused {base}: {len(data) / 1e6:.1f} MB is over the {max_mb:g} MB limit")
    folder = (docs_dir / "uploads").resolve()
    target = (folder / base).resolve()
    if folder not in target.parents:
        raise UploadError(f"refused {name!r}: it would be saved outside the documents folder")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def add_uploads(engine: Engine, uploads: Sequence[tuple[str, bytes]],
                progress: Callable[[int, int, int, str], None] | None = None) -> str:
    """Save the uploads, then index incrementally; a message line per refused file, and an upload that
    cannot be indexed is deleted again (it would stay on disk, out of the list, unremovable from here)."""
    lines, saved = [], []
    for name, data in uploads:
        try:
            saved.append(save_upload(engine.settings.docs_dir, name, data, engine.settings.upload_max_mb))
        except UploadError as exc:
            lines.append(str(exc))
    if saved:
        lines.append(index_now(engine, False, progress, drop=saved))
    return "\n".join(lines) or "Nothing to add."


def index_now(engine: Engine, rebuild: bool, progress: Callable[[int, int, int, str], None] | None = None,
              drop: Sequence[Path] = ()) -> str:
    """Index; the summary after a line per skipped file saying why (those in `drop` are deleted)."""
    try:
        report = engine.index(rebuild=rebuild, progress=progress, wait=30)
    except RagError as exc:
        return f"Indexing failed: {exc}"
    lines = []
    for skip in report.skipped:
        path = engine.settings.docs_dir.resolve() / skip.path
        if path in drop:
            path.unlink(missing_ok=True)
            lines.append(f"removed {skip.path} again: it cannot be indexed ({skip.reason})")
        else:
            lines.append(f"skipped {skip.path}: {skip.reason}")
    return "\n".join([*lines, report.summary()])


def remove_document(engine: Engine, source: str) -> str:
    """Delete a document's file (inside the documents folder only), then its chunks."""
    if not source:
        return "Pick a document to remove."
    root = engine.settings.docs_dir.resolve()
    path = (root / source).resolve()
    if root not in path.parents:
        return f"Refused: {source} is not inside the documents folder."
    if path.exists():
        path.unlink()
    return f"Removed {source}. " + index_now(engine, False)
