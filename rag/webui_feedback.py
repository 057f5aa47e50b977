"""Answers people can correct, and conversations they can take away.

A thumbs up or down on an answer becomes a question of `evals/feedback.jsonl` in the eval format (with
the answer given, the verdict and the date), so `rag eval evals/feedback.jsonl` tracks what users
reported: thumbs down carries the right answer's key words (and, optionally, its source) or says the
documents do not answer; thumbs up keeps the answer as a passing question (its names and figures as
keys). Lines are appended under a file lock in one write each: concurrent users never interleave.
`conversation_markdown` writes a chat as Markdown with every citation and its quote.
Left out: editing or deleting feedback from the page (the file is plain JSON Lines).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.text import STOPWORDS

FEEDBACK_FILE = "feedback.jsonl"
_KEY = re.compile(r"[$£€]?\d[\d,.]*\d(?:\s?(?:%|per cent|million|billion|bn|m|k)\b)?|[$£€]?\d%?"
                  r"|[A-Z][\w'’-]+(?:\s+(?:(?:of|de|van|von)\s+)?[A-Z][\w'’-]+)*")


@dataclass(frozen=True)
class Turn:
    """One answered question of a chat, as the page holds it."""

    question: str
    text: str
    abstained: bool
    citations: list[dict[str, Any]] = field(default_factory=list)


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)
    return str(content)


def _answered(message: dict[str, Any]) -> bool:
    return message.get("role") == "assistant" and 'class="error"' not in _message_text(message)


def chat_turns(messages: Sequence[dict[str, Any]], history: Sequence[Sequence[str]],
               citations: Sequence[Sequence[dict[str, Any]]]) -> list[Turn]:
    """The answered turns: history[i] and citations[i] belong to the i-th answer that is not an error."""
    answers = [m for m in messages if _answered(m)]
    turns = []
    for i, (question, text) in enumerate(history):
        html = _message_text(answers[i]) if i < len(answers) else ""
        cited = list(citations[i]) if i < len(citations) else []
        turns.append(Turn(str(question), str(text), 'class="abstained"' in html, cited))
    return turns


def turn_index(messages: Sequence[dict[str, Any]], index: Any) -> int | None:
    """Which answered turn the message at `index` is (None for a question or an error message)."""
    position = index[0] if isinstance(index, list | tuple) else index
    if not isinstance(position, int) or not 0 <= position < len(messages) or not _answered(messages[position]):
        return None
    return sum(1 for m in messages[:position] if _answered(m))


def answer_keys(answer: str, question: str, limit: int = 3) -> list[str]:
    """Names and figures of the answer that the question does not already hold (what makes it right)."""
    asked = question.lower()
    keys: list[str] = []
    for match in _KEY.finditer(answer):
        key = match.group().strip(" ,.")
        if len(key) > 1 and key.lower() not in asked and key not in keys and key.lower() not in STOPWORDS:
            keys.append(key)
    if not keys:  # no name or figure: the answer's longest word the question lacks
        words = [w for w in re.findall(r"\w+", answer) if w.lower() not in asked]
        keys = sorted(words, key=len, reverse=True)[:1]
    return keys[:limit]


def feedback_record(turn: Turn, liked: bool, keys: str = "", source: str = "", unanswerable: bool = False,
                    now: dt.datetime | None = None) -> dict[str, Any]:
    """The eval-format line for a verdict on `turn`; ValueError when a thumbs down gives no right answer."""
    now = now or dt.datetime.now(dt.UTC)
    record: dict[str, Any] = {"id": f"feedback-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
                              "question": turn.question}
    if liked:
        cited = [str(c["source"]) for c in turn.citations[:1]]
        record.update(answer_keys=[] if turn.abstained else answer_keys(turn.text, turn.question),
                      sources=[] if turn.abstained else cited, answerable=not turn.abstained)
    else:
        given = [k.strip() for k in re.split(r"[,;\n]", keys) if k.strip()]
        if not given and not unanswerable:
            raise ValueError("say in a few words what the right answer is, or that the documents do not say")
        record.update(answer_keys=[] if unanswerable else given,
                      sources=[source.strip()] if source.strip() and not unanswerable else [],
                      answerable=not unanswerable)
    verdict = "up" if liked else "down"
    record.update(notes=f"feedback: thumbs {verdict}", verdict=verdict, answer_given=turn.text,
                  date=now.isoformat(timespec="seconds"))
    return record


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line under a lock (`path`.lock), in one write, synced to disk."""
    from filelock import FileLock

    line = json.dumps(record, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=30):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and _last_byte(path, size) != b"\n":  # a line cut by a crash or an editor: keep it apart
                line = "\n" + line
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(size - 1)
        return handle.read(1)


def _where(citation: dict[str, Any]) -> str:
    where = citation.get("location") or (f"page {citation['page']}" if citation.get("page") else "")
    return f"{citation.get('source', '')}{', ' + where if where else ''}"


def conversation_markdown(turns: Sequence[Turn], when: dt.datetime | None = None) -> str:
    """The chat as Markdown: each question, its answer, and its numbered sources with their quotes."""
    when = when or dt.datetime.now(dt.UTC)
    lines = [f"# Conversation exported {when:%Y-%m-%d %H:%M} UTC", ""]
    for n, turn in enumerate(turns, start=1):
        lines += [f"## {n}. {turn.question}", "", turn.text, ""]
        if turn.citations:
            lines += ["Nearest passages (not an answer):" if turn.abstained else "Sources:", ""]
        for c in turn.citations:
            quote = " ".join(str(c.get("quote", "")).split())
            lines += [f"- [{c.get('n')}] {c.get('title', '')} — {_where(c)}, characters "
                      f"{c.get('start')}–{c.get('end')}", f"  > {quote}"]
        lines.append("")
    return "\n".join(lines)


def export_file(turns: Sequence[Turn]) -> str | None:
    """A Markdown file of the chat, for the download button (None when nothing was answered yet)."""
    if not turns:
        return None
    folder = Path(tempfile.mkdtemp(prefix="rag-chat-"))
    path = folder / f"conversation-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}.md"
    path.write_text(conversation_markdown(turns), encoding="utf-8")
    return str(path)
