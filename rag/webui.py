"""The Gradio app: Chat, Documents and Evaluate tabs over one shared engine.

`build_demo(settings)` wires the components to the handlers in rag.webui_handlers; `launch` starts it
with the page's CSS and the small script that turns a click on a citation link into opening that
source in the side panel. One engine (embedder + index handle) serves every session; the queue is on.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from rag import webui_extras as extras
from rag import webui_handlers as h
from rag.backends import ui_choices
from rag.config import Settings
from rag.errors import ConfigError, RagError
from rag.health import health_lines
from rag.safety import admin_refusal
from rag.service import Engine, get_engine
from rag.webui_eval import evaluate_tab
from rag.webui_fit import indexed_documents

CSS = """
#source-panel mark { background: #fde68a; padding: 0 2px; }
#source-panel .where { color: #666; font-size: 0.9em; margin-bottom: 0.5em; }
#source-panel .passage { white-space: pre-wrap; line-height: 1.5; }
.abstained { border-left: 4px solid #f59e0b; padding-left: 8px; font-style: italic; }
.unsupported { text-decoration: underline wavy #dc2626; }
.weak { text-decoration: underline dotted #f59e0b; }
sup.flag { color: #dc2626; font-size: 0.75em; }
.error { color: #b91c1c; }
.answerer, .notice { color: #666; font-size: 0.85em; margin-top: 4px; }
a.cite { text-decoration: none; font-weight: bold; }
"""

# A click on a citation link in the chat puts its number in a hidden box and presses a hidden button.
HEAD = """
<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a.cite, a[href^='#cite-']");
  if (!link) return;
  event.preventDefault();
  const n = (link.getAttribute("href") || "").replace("#cite-", "");
  const box = document.querySelector("#cite-n textarea, #cite-n input");
  box.value = n;
  box.dispatchEvent(new Event("input", { bubbles: true }));
  setTimeout(() => document.querySelector("#cite-open").click(), 50);
}, true);
</script>
"""


_ready: set[int] = set()


def _engine(settings: Settings) -> Engine:
    """The shared engine; its index is built on the first request if there is none yet."""
    engine = get_engine(settings)
    if id(engine) not in _ready:
        try:
            engine.ensure_index()
            _ready.add(id(engine))
        except RagError:
            pass  # e.g. no documents yet: the chat says so, the Documents tab can add some
    return engine


def _side_column(settings: Settings, gr: Any) -> tuple[Any, Any, Any, Any]:
    """The source panel, and the settings a user may change per question (answerer, top-k), with health."""
    panel = gr.HTML(h.source_panel(None), elem_id="source-panel", label="Source")
    with gr.Accordion("Settings", open=True, elem_id="settings"):
        answerer = gr.Dropdown(ui_choices(settings), value=settings.llm, label="Answerer", elem_id="answerer")
        top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages retrieved (top-k)", elem_id="top-k")
        health = gr.Markdown(elem_id="health")
    return panel, answerer, top_k, health


def _new_chat() -> tuple[list, list, list, str, str, None]:
    """A new conversation: no messages, history, citations, detail line, open source or export."""
    return [], [], [], "", h.source_panel(None), None


def _chat_tab(settings: Settings, gr: Any) -> Any:
    history, citations = gr.State([]), gr.State([])  # (question, answer) pairs; each answer's citations
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(height=480, elem_id="chat", label="Chat", sanitize_html=True)
            with gr.Row():
                question = gr.Textbox(placeholder="Ask a question about the documents", show_label=False,
                                      scale=5, elem_id="question", lines=1, max_lines=4)
                ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                clear = gr.Button("New chat", scale=1, elem_id="new-chat")
            detail = gr.Markdown(elem_id="detail")
            examples, update_examples = extras.examples_box(settings, gr, question)
            export = extras.feedback_controls(settings, gr, chatbot, history, citations, _engine)
        with gr.Column(scale=2):
            panel, answerer, top_k, health = _side_column(settings, gr)
    cite_n = gr.Textbox(visible="hidden", elem_id="cite-n")
    cite_open = gr.Button(visible="hidden", elem_id="cite-open")

    def respond(q: str, messages: list, hist: list, cites: list, llm: str, k: int) -> Any:
        engine = _engine(settings)
        for msgs, new_hist, cited, line in h.chat(engine, q, messages or [], hist, llm, int(k)):
            if len(new_hist) > len(hist):  # the turn is complete: keep its citations by turn number
                cites = [*(list(cites) + [[]] * len(hist))[:len(hist)], cited]
            yield msgs, new_hist, cites, line, ""

    def check() -> str:
        return "  \n".join(h.escape(line) for line in health_lines(settings))

    outputs = [chatbot, history, citations, detail, question]
    inputs = [question, chatbot, history, citations, answerer, top_k]
    turn_state = [chatbot, history, citations]
    ask.click(respond, inputs, outputs, api_name="ask").then(check, None, [health], show_progress="hidden").then(
        extras.export_update, turn_state, [export], show_progress="hidden")
    question.submit(respond, inputs, outputs, api_name="ask_on_enter").then(
        extras.export_update, turn_state, [export], show_progress="hidden")
    cite_open.click(h.open_citation, [cite_n, citations], [panel], show_progress="hidden")
    cleared = [chatbot, history, citations, detail, panel, export]
    clear.click(_new_chat, None, cleared)
    chatbot.clear(_new_chat, None, cleared)  # the chatbot's own trash button forgets the history too
    return check, health, answerer, top_k, (examples, update_examples)


def _documents_widgets(gr: Any) -> tuple[Any, ...]:
    """(table, refresh, uploads, add, rebuild, to_remove, remove, status) of the Documents tab."""
    table = gr.Dataframe(headers=["path", "title", "chunks", "indexed"], interactive=False, elem_id="docs-table")
    refresh = gr.Button("Refresh list")
    # no file_types: Gradio would refuse other types itself and keep the file in its cache; add_files refuses
    # them in one line and deletes every upload's copy
    uploads = gr.File(file_count="multiple", label=f"Add documents ({' '.join(h.SUPPORTED)})", elem_id="upload")
    with gr.Row():
        add = gr.Button("Add and index", variant="primary", elem_id="add-docs")
        rebuild = gr.Button("Rebuild index", elem_id="rebuild")
    with gr.Row():
        to_remove = gr.Dropdown([], label="Document to remove", allow_custom_value=False)
        remove = gr.Button("Remove document", variant="stop")
    status = gr.Textbox(label="Status", lines=3, interactive=False, elem_id="docs-status")
    return table, refresh, uploads, add, rebuild, to_remove, remove, status


def _documents_tab(settings: Settings, gr: Any) -> tuple[Any, list[Any]]:
    table, refresh, uploads, add, rebuild, to_remove, remove, status = _documents_widgets(gr)

    def listing() -> tuple[Any, Any]:
        rows = h.documents_table(_engine(settings))
        return rows, gr.update(choices=[r[0] for r in rows], value=None)

    def add_files(files: list | None, progress: Any = gr.Progress(), request: Any = None) -> Any:
        data = [(Path(getattr(f, "orig_name", None) or _name(f)).name, _taken(_name(f))) for f in files or []]
        if refusal := admin_refusal(settings, request):
            return (refusal, *listing(), None)
        message = h.add_uploads(_engine(settings), data, _progress(progress))
        return (message, *listing(), None)

    def rebuild_all(progress: Any = gr.Progress(), request: Any = None) -> Any:
        refusal = admin_refusal(settings, request)
        return (refusal or h.index_now(_engine(settings), True, _progress(progress)), *listing())

    def remove_one(source: str, request: Any = None) -> Any:
        refusal = admin_refusal(settings, request)
        return (refusal or h.remove_document(_engine(settings), source), *listing())

    for admin in (add_files, rebuild_all, remove_one):  # Gradio passes the request to a parameter typed so
        admin.__annotations__["request"] = gr.Request
    refresh.click(listing, None, [table, to_remove])
    private = {"api_visibility": "private"}  # hidden from the API page; admin_refusal is what guards them
    add.click(add_files, [uploads], [status, table, to_remove, uploads], **private)
    rebuild.click(rebuild_all, None, [status, table, to_remove], **private)
    remove.click(remove_one, [to_remove], [status, table, to_remove], **private)
    return listing, [table, to_remove]


def _taken(path: str) -> bytes:
    """An uploaded file's bytes; Gradio's copy is deleted (it would stay downloadable from its cache)."""
    file = Path(path)
    data = file.read_bytes()
    file.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        file.parent.rmdir()  # Gradio's folder for this upload, now empty
    return data


def _name(f: Any) -> str:
    return f if isinstance(f, str) else str(getattr(f, "name", f))


def _progress(progress: Any) -> Any:
    def update(done: int, total: int, chunks: int, message: str) -> None:
        if total:
            progress((done, total), desc=f"Indexing: {chunks} chunks embedded", unit="files")

    return update


def _evaluate_tab(settings: Settings, gr: Any, answerer: Any, top_k: Any) -> tuple[list[Any], Any]:
    return evaluate_tab(settings, gr, _engine, answerer, top_k)


def build_demo(settings: Settings | None = None) -> Any:
    """The app for `settings`; nothing heavy happens until the first request."""
    import gradio as gr

    settings = settings or Settings()
    with gr.Blocks(title="rag — ask your documents") as demo:
        gr.Markdown("## Ask your documents\nEvery answer cites the passages it rests on; "
                    "click a citation to read it in place.")
        with gr.Tab("Chat"):
            check, health, answerer, top_k, (examples, update_examples) = _chat_tab(settings, gr)
        with gr.Tab("Documents"):
            listing, listed = _documents_tab(settings, gr)
        with gr.Tab("Evaluate"):
            set_outputs, update_sets = _evaluate_tab(settings, gr, answerer, top_k)

        def fit_collection() -> tuple[Any, ...]:  # example questions and question sets for what is indexed
            indexed = indexed_documents(_engine(settings))
            return (update_examples(indexed), *update_sets(indexed))

        fitted = [examples, *set_outputs]
        demo.load(listing, None, listed).then(check, None, [health], show_progress="hidden").then(
            fit_collection, None, fitted, show_progress="hidden")
        listed[0].change(fit_collection, None, fitted, show_progress="hidden")  # documents added or removed
    demo.queue(default_concurrency_limit=8)
    return demo


def launch(demo: Any, settings: Settings, **kwargs: Any) -> Any:
    """Start the app on settings.ui_host:ui_port (login required when a username and password are set)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    auth = None
    if settings.ui_username and settings.ui_password:
        auth = (settings.ui_username, settings.ui_password.get_secret_value())
    return demo.launch(server_name=settings.ui_host, server_port=settings.ui_port, share=False, auth=auth,
                       css=CSS, head=HEAD, show_error=False, **kwargs)


def serve(settings: Settings, demo: Any = None) -> None:
    """`rag serve` / `python ui.py`: build the index if there is none, load the model, then serve
    (`demo`, or a new app for `settings`) until Ctrl-C."""
    check_port_free(settings.ui_host, settings.ui_port)
    engine = get_engine(settings)
    report = engine.ensure_index(progress=_print_progress, notice=lambda why: print(why, flush=True))
    if report:
        print(report.summary(), flush=True)
    _ready.add(id(engine))
    engine.embedder.encode_queries(["warm up"])
    print(f"Chat running on http://{settings.ui_host}:{settings.ui_port} (Ctrl-C to stop)", flush=True)
    launch(demo or build_demo(settings), settings)


def check_port_free(host: str, port: int) -> None:
    """ConfigError in one line when the UI's address cannot be listened on (before any slow start-up)."""
    import socket

    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); is another server using it? "
                              "Pick another port with --port or ui_port") from None


def _print_progress(done: int, total: int, chunks: int, message: str) -> None:
    if total:
        print(f"\rBuilding the index: {done}/{total} files, {chunks} chunks", end="", flush=True)
        if done == total:
            print(flush=True)
