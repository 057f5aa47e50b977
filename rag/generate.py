"""LLM answering: prompt, stream, check every citation, and fall back to the extractive answer.

`llm_answer` streams the model's answer (each piece goes to `on_token` as it arrives), parses its
`[n]` markers (dropping those that point to no source), checks each sentence against the passages it
cites (rag.cite) and renumbers the sources in order of first citation. The extractive answer is
returned instead, with a notice saying why, when the model fails (unreachable, timeout, error), answers
nothing, or has no sentence its citations support. "The documents do not say" with no citation is an
abstention. `rewrite_question` turns a follow-up into a standalone question for retrieval.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from langchain_core.language_models import BaseChatModel

from rag import cite
from rag.config import Settings
from rag.embed import Embedder
from rag.followup import standalone_question
from rag.models import Answer, Citation, Hit, SentenceCheck
from rag.prompts import build_messages, build_rewrite_messages
from rag.qa import abstention_text, nearest

TokenFn = Callable[[str], None]
FALLBACK_SEPARATOR = "\n\n(Showing the extractive answer instead.)\n"  # streamed before a fallback
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_REWRITE_PREFIX = re.compile(r"^(?:standalone question|question|rewritten question)\s*:\s*", re.IGNORECASE)


def model_name(model: BaseChatModel) -> str:
    """The answerer name shown with answers (set by rag.llm; the model type otherwise)."""
    return str(model.name or getattr(model, "_llm_type", type(model).__name__))


def model_where(model: BaseChatModel) -> str:
    return str((model.metadata or {}).get("rag_where") or model_name(model))


def failure_notice(model: BaseChatModel, exc: BaseException) -> str:
    detail = " ".join(str(exc).split())[:200] or "no detail"
    return (f"The LLM ({model_where(model)}) did not answer ({type(exc).__name__}: {detail}); "
            f"showing the extractive answer.")


def _piece(chunk: Any) -> str:
    content = getattr(chunk, "content", chunk)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content
                       if isinstance(p, str | dict))
    return ""


def stream_text(model: BaseChatModel, messages: list[Any], on_token: TokenFn | None) -> str:
    """The model's whole reply, passing each piece to `on_token` as it arrives."""
    parts = []
    for chunk in model.stream(messages):
        piece = _piece(chunk)
        if piece:
            parts.append(piece)
            if on_token:
                on_token(piece)
    return _THINK.sub("", "".join(parts)).strip()


def fallback(extractive: Answer, notice: str, on_token: TokenFn | None, streamed: bool) -> Answer:
    """The extractive answer with `notice`; streamed after what the LLM already printed, if anything."""
    if on_token:
        if streamed:
            on_token(FALLBACK_SEPARATOR)
        on_token(extractive.text)
    return replace(extractive, notices=extractive.notices + (notice,))


def llm_answer(question: str, hits: Sequence[Hit], history: Sequence[tuple[str, str]], model: BaseChatModel,
               embedder: Embedder, settings: Settings, extractive: Answer, on_token: TokenFn | None) -> Answer:
    """Answer `question` from `hits` with the LLM, every sentence checked; see the module docstring."""
    streamed = False

    def emit(piece: str) -> None:
        nonlocal streamed
        streamed = True
        if on_token:
            on_token(piece)

    try:
        raw = stream_text(model, build_messages(question, hits, history), emit)
    except Exception as exc:  # any model failure (connection, timeout, server error) -> extractive
        return fallback(extractive, failure_notice(model, exc), on_token, streamed)
    if not raw:
        notice = f"The LLM ({model_where(model)}) returned an empty answer; showing the extractive answer."
        return fallback(extractive, notice, on_token, streamed)
    clean, parsed, removed = cite.parse_markers(raw, len(hits))
    if not any(cites for _, cites in parsed) and cite.says_documents_do_not_say(clean):
        return _abstained(question, hits, model, extractive, removed)
    checked = cite.check_sentences(parsed, hits, embedder)
    if not any(c.status == "supported" for c in checked):
        return fallback(extractive, _unsupported_notice(checked, removed), on_token, streamed)
    return _checked_answer(question, hits, model, clean, checked, removed)


def _unsupported_notice(checked: Sequence[cite.Checked], removed: int) -> str:
    uncited = sum(1 for c in checked if not c.citations)
    why = [f"{len(checked)} sentence{'s' * (len(checked) != 1)}"]
    if uncited:
        why.append(f"{uncited} citing no source")
    if removed:
        why.append(f"{removed} citation{'s' * (removed != 1)} to sources that do not exist removed")
    return (f"No sentence of the LLM answer is supported by the passages it cites ({', '.join(why)}); "
            f"showing the extractive answer instead.")


def _abstained(question: str, hits: Sequence[Hit], model: BaseChatModel, extractive: Answer,
               removed: int) -> Answer:
    return Answer(question=question, text=abstention_text(question), abstained=True,
                  nearest=extractive.nearest or extractive.citations or nearest(hits, []), answerer=model_name(model),
                  removed_markers=removed, hits=tuple(hits))


def _checked_answer(question: str, hits: Sequence[Hit], model: BaseChatModel, clean: str,
                    checked: Sequence[cite.Checked], removed: int) -> Answer:
    order = list(dict.fromkeys(n for c in checked for n in c.citations))
    mapping = {old: new for new, old in enumerate(order, start=1)}
    sentences = tuple(
        SentenceCheck(text=f"{c.text} {cite.format_markers([mapping[n] for n in c.citations])}".strip(),
                      citations=tuple(mapping[n] for n in c.citations), status=c.status,
                      score=round(c.score, 4), reason=c.reason)
        for c in checked)
    citations = tuple(_citation(mapping[old], hits[old - 1], checked, old) for old in order)
    notices: tuple[str, ...] = ()
    if removed:
        notices = (f"Removed {removed} citation marker{'s' * (removed != 1)} that pointed to no source.",)
    return Answer(question=question, text=cite.renumber(clean, mapping), abstained=False,
                  citations=citations, answerer=model_name(model), sentences=sentences,
                  citation_precision=cite.citation_precision(checked), removed_markers=removed,
                  notices=notices, hits=tuple(hits))


def _citation(n: int, hit: Hit, checked: Sequence[cite.Checked], old: int) -> Citation:
    """Source `old` as citation `n`: its sentence that best matches the answer sentences citing it."""
    best = max((s for c in checked for s in c.supports if s.n == old), key=lambda s: (s.facts_ok, s.score))
    chunk = hit.chunk
    return Citation(n=n, source=chunk.source, title=chunk.title, page=chunk.page, start=chunk.start + best.start,
                    end=chunk.start + best.end, quote=chunk.text[best.start:best.end], score=best.score,
                    chunk_id=chunk.id, passage=chunk.text, passage_start=chunk.start, location=chunk.location)


def _clean_rewrite(text: str) -> str:
    text = _THINK.sub("", text or "").strip()
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return _REWRITE_PREFIX.sub("", line).strip().strip("\"'“”‘’` ").strip()


def rewrite_question(model: BaseChatModel, question: str, history: Sequence[tuple[str, str]],
                     notices: list[str]) -> str:
    """The follow-up `question` rewritten by the LLM into a standalone one (keyword rewrite on failure)."""
    try:
        reply = model.invoke(build_rewrite_messages(question, history))
    except Exception as exc:  # unreachable or failing model: rewrite without it
        detail = " ".join(str(exc).split())[:200] or "no detail"
        notices.append(f"The LLM ({model_where(model)}) could not rewrite the follow-up question "
                       f"({type(exc).__name__}: {detail}); searched with the keyword rewrite.")
        return standalone_question(question, history)
    rewritten = _clean_rewrite(_piece(reply))
    if not rewritten or len(rewritten) > 3 * len(question) + 300:
        return standalone_question(question, history)
    return rewritten
