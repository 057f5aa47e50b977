"""LLM answering: `LLMAnswerer` prompts a chat model and streams its reply; `rewrite_question` turns a
follow-up into a standalone question for retrieval.

Each piece of the reply goes to `on_token` as it arrives. The reply is a `Draft`: the check step
(`rag.check`) checks its citations and falls back to the extractive answer when the model failed
(unreachable, timeout, error; `Draft.failure` says so), answered nothing, or is not supported.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel

from rag.errors import one_line
from rag.followup import standalone_question
from rag.pipeline import Draft, History, Retrieved, TokenFn
from rag.prompts import build_messages, build_rewrite_messages

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)
_REWRITE_PREFIX = re.compile(r"^(?:standalone question|question|rewritten question)\s*:\s*", re.IGNORECASE)


def model_name(model: BaseChatModel) -> str:
    """The answerer name shown with answers (set by rag.llm; the model type otherwise)."""
    return str(model.name or getattr(model, "_llm_type", type(model).__name__))


def model_where(model: BaseChatModel) -> str:
    return str((model.metadata or {}).get("rag_where") or model_name(model))


def failure_notice(model: BaseChatModel, exc: BaseException) -> str:
    return (f"The LLM ({model_where(model)}) did not answer ({type(exc).__name__}: {one_line(exc)}); "
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


class LLMAnswerer:
    """An `Answerer` backed by a LangChain chat model: its reply streamed to `on_token` as it arrives,
    left for the check step (`rag.check`) to verify.

    >>> LLMAnswerer(get_chat_model(settings)).answer(retrieved, history, print)   # doctest: +SKIP
    """

    def __init__(self, model: BaseChatModel) -> None:
        self.model = model
        self.name = model_name(model)

    def answer(self, retrieved: Retrieved, history: History, on_token: TokenFn | None) -> Draft:
        streamed = False

        def emit(piece: str) -> None:
            nonlocal streamed
            streamed = True
            if on_token:
                on_token(piece)

        where = model_where(self.model)
        try:
            raw = stream_text(self.model, build_messages(retrieved.question, retrieved.hits, history), emit)
        except Exception as exc:  # any model failure (connection, timeout, server error) -> extractive
            return Draft(self.name, failure=failure_notice(self.model, exc), streamed=streamed, where=where)
        return Draft(self.name, text=raw, streamed=streamed, where=where)


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
        notices.append(f"The LLM ({model_where(model)}) could not rewrite the follow-up question "
                       f"({type(exc).__name__}: {one_line(exc)}); searched with the keyword rewrite.")
        return standalone_question(question, history)
    rewritten = _clean_rewrite(_piece(reply))
    if not rewritten or len(rewritten) > 3 * len(question) + 300:
        return standalone_question(question, history)
    return rewritten
