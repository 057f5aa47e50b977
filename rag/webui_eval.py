"""The Evaluate tab: run a question set from evals/ (or an uploaded one) and show how it scored."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.errors import RagError
from rag.eval_report import write_report
from rag.evaluate import load_questions, run_eval
from rag.service import Engine
from rag.webui_fit import fit_choices, fit_warning, indexed_documents


def question_sets(evals_dir: Path) -> list[str]:
    return sorted(p.name for p in evals_dir.glob("*.jsonl"))


def run_set(engine: Engine, path: Path, limit: int | None = None,
            progress: Callable[[int, int], None] | None = None, llm: str | None = None, top_k: int | None = None,
            ) -> tuple[str, str | None, list[list[Any]], list[str] | None]:
    """(summary markdown, chart path, per-question rows, report files) for one question set."""
    try:
        questions, errors = load_questions(path)
    except (OSError, RagError) as exc:
        return f"Cannot read {path.name}: {exc}", None, [], None
    if not questions:
        return f"No usable questions in {path.name}. " + " ".join(errors[:3]), None, [], None
    run = run_eval(engine.settings, questions, engine=engine, limit=limit, progress=progress, llm=llm, top_k=top_k)
    out = Path(tempfile.mkdtemp(prefix="rag-eval-"))
    paths = write_report(run, out)
    summary = "| metric | value |\n|---|---|\n" + "\n".join(
        f"| {name} | {value:.3f} |" if isinstance(value, float) else f"| {name} | {value} |"
        for name, value in run.summary.items())
    if errors:
        summary += "\n\nSkipped lines: " + "; ".join(errors[:5])
    rows = [[r.get("id"), r.get("question"), "pass" if r.get("passed") else "FAIL",
             str(r.get("answer_text", ""))[:300], ", ".join(r.get("cited_sources") or [])] for r in run.rows]
    rows.sort(key=lambda r: r[2] == "pass")
    files = [str(paths[name]) for name in ("report.md", "results.jsonl", "summary.json", "report.png")]
    return summary, str(paths["report.png"]), rows, files


def _results_area(gr: Any) -> list[Any]:
    """Where a run shows: summary, chart, per-question table and report files."""
    with gr.Row():
        summary = gr.Markdown(elem_id="eval-summary")
        chart = gr.Image(label="Metrics", type="filepath", elem_id="eval-chart")
    table = gr.Dataframe(headers=["id", "question", "result", "answer", "cited sources"], interactive=False,
                         wrap=True, elem_id="eval-table")
    report = gr.File(label="Report files", file_count="multiple", elem_id="eval-report")
    return [summary, chart, table, report]


def evaluate_tab(settings: Settings, gr: Any, engine_for: Callable[[Settings], Engine], answerer: Any,
                 top_k: Any) -> tuple[list[Any], Callable[[dict[str, str]], tuple[Any, str]]]:
    """The tab; runs use the answerer and top-k of the chat's Settings panel. Returns the set chooser and
    its warning line, and their update for the indexed documents ({path: title}): the sets about indexed
    documents first, the best one chosen (see rag.webui_fit)."""
    sets = question_sets(settings.evals_dir)
    with gr.Row():
        chosen = gr.Dropdown(sets, value=sets[0] if sets else None, label="Question set in evals/",
                             elem_id="eval-set")
        uploaded = gr.File(file_types=[".jsonl"], label="…or upload one (JSON Lines)")
        limit = gr.Number(value=0, precision=0, label="Only the first N questions (0 = all)", elem_id="eval-limit")
    fit_line = gr.Markdown(elem_id="eval-fit")
    run = gr.Button("Run evaluation (answerer and top-k from the Chat tab's settings)", variant="primary",
                    elem_id="run-eval")
    results = _results_area(gr)

    def go(name: str | None, upload: Any, n: float | None, llm: str, k: float,
           progress: Any = gr.Progress()) -> Any:
        path = Path(upload if isinstance(upload, str) else getattr(upload, "name", "")) if upload else (
            settings.evals_dir / name if name else None)
        if path is None:
            return "Pick or upload a question set.", None, [], None

        def step(done: int, total: int) -> None:
            progress((done, total), desc="Answering questions", unit="questions")

        return run_set(engine_for(settings), path, int(n or 0) or None, step, llm, int(k))

    run.click(go, [chosen, uploaded, limit, answerer, top_k], results)

    def warn(name: str | None) -> str:
        return fit_warning(settings.evals_dir, indexed_documents(engine_for(settings)), name)

    def update(indexed: dict[str, str]) -> tuple[Any, str]:
        choices, first, warning = fit_choices(settings.evals_dir, indexed)
        return gr.Dropdown(choices=choices, value=first), warning

    chosen.input(warn, [chosen], [fit_line], show_progress="hidden")
    return [chosen, fit_line], update
