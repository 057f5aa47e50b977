"""The Gradio app: Chat, Documents and Evaluate tabs over one shared engine.

`build_demo(settings)` wires the components to the handlers in rag.webui_handlers; `launch` starts it
with the page's CSS and the small script that turns a click on a citation link into opening that
source in the side panel. One engine (embedder + index handle) serves every session; the queue is on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rag import webui_handlers as h
from rag.config import Settings
from rag.service import Engine, get_engine

CSS = """
#source-panel mark { background: #fde68a; padding: 0 2px; }
#source-panel .where { color: #666; font-size: 0.9em; margin-bottom: 0.5em; }
#source-panel .passage { white-space: pre-wrap; line-height: 1.5; }
.abstained { border-left: 4px solid #f59e0b; padding-left: 8px; font-style: italic; }
.unsupported { text-decoration: underline wavy #dc2626; }
.weak { text-decoration: underline dotted #f59e0b; }
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


def _engine(settings: Settings) -> Engine:
    return get_engine(settings)


def _chat_tab(settings: Settings, gr: Any) -> None:
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(height=480, elem_id="chat", label="Chat", sanitize_html=True)
            with gr.Row():
                question = gr.Textbox(placeholder="Ask a question about the documents", show_label=False,
                                      scale=5, elem_id="question", lines=1, max_lines=4)
                ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
            detail = gr.Markdown(elem_id="detail")
            examples = h.example_questions(settings.evals_dir)
            if examples:
                gr.Examples(examples=[[q] for q in examples], inputs=[question], label="Examples")
            with gr.Row():
                answerer = gr.Dropdown(["extractive", *([settings.llm] if settings.llm != "extractive" else [])],
                                       value=settings.llm, label="Answerer", scale=1)
                top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages retrieved (top-k)", scale=2)
                clear = gr.Button("New chat", scale=1)
        with gr.Column(scale=2):
            panel = gr.HTML(h.source_panel(None), elem_id="source-panel", label="Source")
            health = gr.Markdown(elem_id="health")
    history, citations = gr.State([]), gr.State([])
    cite_n = gr.Textbox(visible="hidden", elem_id="cite-n")
    cite_open = gr.Button(visible="hidden", elem_id="cite-open")

    def respond(q: str, messages: list, hist: list, llm: str, k: int) -> Any:
        if not (q or "").strip():
            yield messages, hist, [], "Please type a question.", ""
            return
        for msgs, new_hist, cited, line in h.chat(_engine(settings), q, messages, hist, llm, int(k)):
            yield msgs, new_hist, cited, line, ""

    outputs = [chatbot, history, citations, detail, question]
    inputs = [question, chatbot, history, answerer, top_k]
    ask.click(respond, inputs, outputs, api_name="ask")
    question.submit(respond, inputs, outputs, api_name="ask_on_enter")
    cite_open.click(h.open_citation, [cite_n, citations], [panel])
    clear.click(lambda: ([], [], [], "", h.source_panel(None)), None, [chatbot, history, citations, detail, panel])
    from rag.health import health_lines

    chatbot.change(lambda: " · ".join(health_lines(settings)), None, [health], queue=False, show_progress="hidden")


def _documents_tab(settings: Settings, gr: Any) -> tuple[Any, list[Any]]:
    table = gr.Dataframe(headers=["path", "title", "chunks", "indexed"], interactive=False, elem_id="docs-table")
    refresh = gr.Button("Refresh list")
    uploads = gr.File(file_count="multiple", file_types=[s for s in h.SUPPORTED], label="Add documents",
                      elem_id="upload")
    with gr.Row():
        add = gr.Button("Add and index", variant="primary", elem_id="add-docs")
        rebuild = gr.Button("Rebuild index", elem_id="rebuild")
    with gr.Row():
        to_remove = gr.Dropdown([], label="Document to remove", allow_custom_value=False)
        remove = gr.Button("Remove document", variant="stop")
    status = gr.Textbox(label="Status", lines=3, interactive=False, elem_id="docs-status")

    def listing() -> tuple[Any, Any]:
        rows = h.documents_table(_engine(settings))
        return rows, gr.update(choices=[r[0] for r in rows])

    def add_files(files: list | None, progress: Any = gr.Progress()) -> Any:
        files = files or []
        data = [(Path(getattr(f, "orig_name", None) or _name(f)).name, Path(_name(f)).read_bytes()) for f in files]
        message = h.add_uploads(_engine(settings), data, _progress(progress))
        return (message, *listing())

    def rebuild_all(progress: Any = gr.Progress()) -> Any:
        return (h.index_now(_engine(settings), True, _progress(progress)), *listing())

    def remove_one(source: str) -> Any:
        return (h.remove_document(_engine(settings), source), *listing())

    refresh.click(listing, None, [table, to_remove])
    add.click(add_files, [uploads], [status, table, to_remove])
    rebuild.click(rebuild_all, None, [status, table, to_remove])
    remove.click(remove_one, [to_remove], [status, table, to_remove])
    return listing, [table, to_remove]


def _name(f: Any) -> str:
    return f if isinstance(f, str) else str(getattr(f, "name", f))


def _progress(progress: Any) -> Any:
    def update(done: int, total: int, chunks: int, message: str) -> None:
        if total:
            progress((done, total), desc=f"Indexing: {chunks} chunks embedded", unit="files")

    return update


def _evaluate_tab(settings: Settings, gr: Any) -> None:
    from rag.webui_eval import evaluate_tab

    evaluate_tab(settings, gr, _engine)


def build_demo(settings: Settings | None = None) -> Any:
    """The app for `settings`; nothing heavy happens until the first request."""
    import gradio as gr

    settings = settings or Settings()
    with gr.Blocks(title="rag — ask your documents") as demo:
        gr.Markdown("## Ask your documents\nEvery answer cites the passages it rests on; "
                    "click a citation to read it in place.")
        with gr.Tab("Chat"):
            _chat_tab(settings, gr)
        with gr.Tab("Documents"):
            listing, listed = _documents_tab(settings, gr)
        with gr.Tab("Evaluate"):
            _evaluate_tab(settings, gr)
        demo.load(listing, None, listed)
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


def serve(settings: Settings) -> None:
    """`rag serve`: build the index if there is none, load the model, then serve until Ctrl-C."""
    engine = get_engine(settings)
    report = engine.ensure_index()
    if report:
        print(report.summary())
    engine.embedder.encode(["warm up"])
    print(f"Chat running on http://{settings.ui_host}:{settings.ui_port} (Ctrl-C to stop)", flush=True)
    launch(build_demo(settings), settings)
