"""Plain-text views for the terminal: an answer with its numbered sources, and `rag info`."""

from __future__ import annotations

import time

from rag.backends import listing
from rag.chroma_client import store_error
from rag.config import Settings
from rag.health import encoder_status, health_lines
from rag.models import Answer, Citation
from rag.safety import quoted_parts
from rag.store import Store

_STATUS_MARK = {"supported": "", "weak": " (?)", "unsupported": " (!)"}


def _where(c: Citation) -> str:
    where = f", {c.where}" if c.where else ""
    return f"{c.source}{where}, chars {c.start}-{c.end}"


def answer_as_text(answer: Answer, streamed: bool = False) -> str:
    """The answer (unless it was already streamed), then its sources, notices and checks."""
    lines: list[str] = []
    if not streamed:
        lines.append(_marked_text(answer))
    lines.append("")
    if answer.abstained:
        lines.append("Nearest passages:")
        lines += [f"  - {_where(c)}: {c.quote}" for c in answer.nearest]
    else:
        lines.append("Sources:")
        lines += [f"  [{c.n}] {c.title} — {_where(c)}\n      “{c.quote}”" for c in answer.citations]
    if answer.sentences and streamed:
        lines += [f"  (!) not supported by its citation{_why(s.reason)}: {s.text}" for s in answer.sentences
                  if s.status == "unsupported"]
    if answer.sentences:
        bad = answer.unsupported_count
        lines.append(f"Checked: {len(answer.sentences) - bad} of {len(answer.sentences)} sentences supported"
                     f" by their citations (answer by {answer.answerer}).")
    if answer.standalone_question and answer.standalone_question != answer.question:
        lines.append(f"Searched as: {answer.standalone_question}")
    lines += [f"Note: {n}" for n in answer.notices]
    return "\n".join(lines)


def _why(reason: str) -> str:
    return f" ({reason})" if reason else ""


def _marked_text(answer: Answer) -> str:
    """The answer's sentences, each unsupported one followed by (!) and why: "(! the source names Rover)",
    each weak one by (?) and why, when a word is not found: '(? the source does not say "weaken")'."""
    if not answer.sentences:  # an extractive answer: its quotes in quotation marks, "[2]" inside is their text
        parts = quoted_parts(answer)
        return " ".join(f"“{quote}” [{n}]" for quote, n in parts) if parts else answer.text
    return " ".join(s.text + (f" ({_STATUS_MARK[s.status].strip(' ()')} {s.reason})" if s.status != "supported"
                              and s.reason else _STATUS_MARK[s.status]) for s in answer.sentences)


def _age(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"


def info_text(settings: Settings) -> str:
    """Documents, chunks, model, index location and age, health, then the effective settings."""
    lines: list[str] = []
    try:
        store = Store(settings)
        collection = store.active()
        if collection is None:
            lines.append(f"Index: none yet at {store.location} (run `rag index`).")
        else:
            docs = store.documents(collection)
            meta = collection.metadata or {}
            age = time.time() - float(meta.get("updated_at") or meta.get("created_at") or time.time())
            lines += [f"Index: {store.location} (collection {collection.name})",
                      f"Documents: {len(docs)}   Chunks: {collection.count()}   Updated {_age(age)} ago",
                      f"Embedding model: {meta.get('embed_model')} ({meta.get('embed_dim')} dimensions)",
                      f"Chunking: {meta.get('chunk_size')} chars, {meta.get('chunk_overlap')} overlap"]
    except Exception as exc:  # e.g. a Chroma server that does not answer: the health lines say more
        lines = [f"Index: cannot be read: {store_error(settings, exc)}"]
    lines.append(f"Question encoder: {encoder_status(settings)}")
    lines += health_lines(settings)
    lines += ["Answerers (llm):", *listing()]
    lines.append("")
    lines.append("Settings (env RAG_* over rag.toml over defaults):")
    lines += [f"  {name} = {value}    # {desc}" for name, value, desc in settings.public_items()]
    return "\n".join(lines)
