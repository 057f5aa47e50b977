"""The Chat tab's example questions, thumbs up/down with its correction form, and the export button.

Wiring only: the handlers are the plain functions of rag.webui_fit and rag.webui_feedback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from rag.config import Settings
from rag.service import Engine
from rag.webui_feedback import FEEDBACK_FILE, Turn, append_line, chat_turns, export_file, feedback_record, turn_index
from rag.webui_fit import example_questions, indexed_documents

EngineFor = Callable[[Settings], Engine]


def examples_box(settings: Settings, gr: Any, question: Any) -> tuple[Any, Callable[[dict[str, str]], Any]]:
    """A list of example questions (click one to put it in the question box), and its update for the
    indexed documents ({path: title})."""
    box = gr.Dataset(components=[question], samples=[], label="Example questions (click one to ask it)",
                     elem_id="examples", samples_per_page=6)
    box.click(lambda sample: sample[0] if sample else "", box, question, show_progress="hidden")

    def update(indexed: dict[str, str]) -> Any:
        return gr.Dataset(samples=[[q] for q in example_questions(settings.evals_dir, indexed)])

    return box, update


def like_handler(settings: Settings, engine_for: EngineFor) -> Callable[..., tuple[dict | None, bool, str, list[str]]]:
    """on_like(messages, history, citations, index, liked) -> (pending turn, show form, status, sources)."""

    def on_like(messages: list, history: list, citations: list, index: Any, liked: Any
                ) -> tuple[dict | None, bool, str, list[str]]:
        number = turn_index(messages or [], index)
        turns = chat_turns(messages or [], history or [], citations or [])
        if number is None or number >= len(turns):
            return None, False, "Only a finished answer can be rated.", []
        turn = turns[number]
        if liked is True or liked == "Like":
            append_line(settings.evals_dir / FEEDBACK_FILE, feedback_record(turn, liked=True))
            return None, False, f"Thanks: kept as a passing question in {FEEDBACK_FILE}.", []
        if liked not in (False, "Dislike"):  # a thumb clicked again is taken back: nothing to do
            return None, False, "", []
        sources = sorted(indexed_documents(engine_for(settings)))
        return asdict(turn), True, "", sources

    return on_like


def save_correction(settings: Settings, pending: dict | None, keys: str, source: str | None,
                    unanswerable: bool) -> tuple[bool, str]:
    """(keep the form open, status line) after the correction form's Save."""
    if not pending:
        return False, "Rate an answer first."
    try:
        record = feedback_record(Turn(**pending), liked=False, keys=keys or "", source=source or "",
                                 unanswerable=bool(unanswerable))
    except ValueError as exc:
        return True, f"⚠ {exc}."
    append_line(settings.evals_dir / FEEDBACK_FILE, record)
    return False, (f"Thanks: saved to {FEEDBACK_FILE} as question {record['id']}; "
                   f"`rag eval evals/{FEEDBACK_FILE}` checks it from now on.")


def feedback_controls(settings: Settings, gr: Any, chatbot: Any, history: Any, citations: Any,
                      engine_for: EngineFor) -> Any:
    """Thumbs on every answer, the correction form, and the export button; returns the button."""
    status = gr.Markdown(elem_id="feedback-status")
    pending = gr.State(None)
    with gr.Group(visible=False, elem_id="feedback-form") as form:
        gr.Markdown("**What is the right answer?** A few key words it must hold (comma-separated).")
        keys = gr.Textbox(show_label=False, placeholder="e.g. Sacks, export controls", elem_id="feedback-keys")
        source = gr.Dropdown([], value=None, label="Which document holds it (optional)", allow_custom_value=True,
                             elem_id="feedback-source")
        none = gr.Checkbox(label="The documents do not answer this", elem_id="feedback-none")
        save = gr.Button("Save correction", elem_id="feedback-save", size="sm")
    export = gr.DownloadButton("Export conversation (Markdown)", value=None, elem_id="export-chat", size="sm")
    on_like = like_handler(settings, engine_for)

    def liked(messages: list, hist: list, cites: list, data: gr.LikeData) -> Any:
        turn, show, line, sources = on_like(messages, hist, cites, data.index, data.liked)
        return turn, gr.Group(visible=show), line, gr.Dropdown(choices=sources, value=None), "", False

    liked.__annotations__["data"] = gr.LikeData  # the class itself: Gradio passes LikeData by this hint
    def saved(turn: dict | None, words: str, where: str | None, unanswerable: bool) -> Any:
        keep_open, line = save_correction(settings, turn, words, where, unanswerable)
        return gr.Group(visible=keep_open), line, turn if keep_open else None

    chatbot.like(liked, [chatbot, history, citations], [pending, form, status, source, keys, none])
    save.click(saved, [pending, keys, source, none], [form, status, pending])
    return export


def export_update(messages: list, history: list, citations: list) -> str | None:
    """The download button's file after a turn: the chat so far as Markdown (None before any answer)."""
    return export_file(chat_turns(messages or [], history or [], citations or []))
