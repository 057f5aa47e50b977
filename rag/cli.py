"""The `rag` command: index, ask, info, eval, serve. Heavy modules load inside the commands.

Every expected failure (`RagError`) prints one line on stderr and exits 1; bad flags exit 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from rag.backends import backend_names
from rag.errors import RagError
from rag.progress import progress_bar

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Ask questions of your documents; every answer cites the passages it rests on.")

DocsOpt = Annotated[Path | None, typer.Option("--docs", help="Documents folder (default: settings).")]
IndexOpt = Annotated[Path | None, typer.Option("--index", help="Index folder (default: settings).")]
TopKOpt = Annotated[int | None, typer.Option("-k", "--top-k", min=1, max=50, help="Chunks to retrieve.")]
LlmOpt = Annotated[str | None, typer.Option(help=f"Answerer: {backend_names()}.")]
RebuildOpt = Annotated[bool, typer.Option("--rebuild", help="Build a fresh index, then switch to it.")]
OutOpt = Annotated[Path | None, typer.Option(help="Folder for results.jsonl, summary.json, report.md/png.")]
CompareOpt = Annotated[bool, typer.Option("--compare", help="Compare two run folders: rag eval --compare A B.")]
FILES = "files · {task.fields[chunks]} chunks"
MinOpt = Annotated[list[str] | None, typer.Option("--min", help="METRIC=VALUE; exit 1 when a metric is below.")]


def say(text: str, err: bool = False) -> None:
    """typer.echo, with escape sequences and control characters (from documents, file names) removed."""
    from rag.safety import terminal_safe

    typer.echo(terminal_safe(text), err=err)


def load_settings(**overrides: Any) -> Any:
    from rag.config import read_settings

    settings = read_settings()
    given = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=given) if given else settings


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn RagError into one line on stderr and exit code 1."""
    try:
        yield
    except RagError as exc:
        say(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None


def _write(piece: str) -> None:
    from rag.safety import terminal_safe

    sys.stdout.write(terminal_safe(piece))
    sys.stdout.flush()


def print_index_report(report: Any, err: bool = False) -> None:
    lines = [f"Built a fresh index: {report.rebuilt}."] if report.rebuilt else []
    lines += [f"skipped {s.path}: {s.reason}" for s in report.skipped]
    lines += [f"warning: {w}" for w in report.warnings]
    lines += [f"duplicate: {path} has the same content as {', '.join(aliases)} (indexed once)"
              for path, aliases in report.duplicates.items()]
    for line in [*lines, report.summary()]:
        say(line, err=err)


@app.command()
def index(docs: DocsOpt = None, index_dir: IndexOpt = None,
          rebuild: RebuildOpt = False,
          wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for another indexer to finish "
                                                          "(default 0: say who holds the lock and stop).")] = 0.0,
          ) -> None:
    """Index the documents folder (incremental: only new and changed files are embedded)."""
    with user_errors():
        from rag.service import get_engine

        engine = get_engine(load_settings(docs_dir=docs, index_dir=index_dir))
        with progress_bar("Indexing", FILES) as update:
            report = engine.index(rebuild=rebuild, progress=update, wait=wait)
        print_index_report(report)


@app.command()
def ask(question: Annotated[str, typer.Argument(help="The question to answer.")],
        docs: DocsOpt = None, index_dir: IndexOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the Answer as JSON.")] = False,
        k: TopKOpt = None, llm: LlmOpt = None,
        base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
        model: Annotated[str | None, typer.Option(help="LLM model name.")] = None,
        ) -> None:
    """Answer a question from the documents (builds the index first if there is none)."""
    with user_errors():
        from rag.service import answer, get_engine

        settings = load_settings(docs_dir=docs, index_dir=index_dir, llm=llm, llm_base_url=base_url,
                                 llm_model=model)
        engine = get_engine(settings)
        with progress_bar("Building the index", FILES) as update:  # none, damaged or outdated: build it first
            report = engine.ensure_index(update, notice=lambda why: say(why, err=True))
        if report:
            print_index_report(report, err=True)
        streaming = not as_json and settings.llm != "extractive"
        result = answer(question, engine=engine, top_k=k, on_token=_write if streaming else None)
        if as_json:
            from rag.safety import json_safe

            typer.echo(json_safe(json.dumps(result.to_dict(), ensure_ascii=False, indent=2)))
        else:
            from rag.render import answer_as_text

            say(answer_as_text(result, streamed=streaming))


@app.command()
def info(docs: DocsOpt = None, index_dir: IndexOpt = None) -> None:
    """Show the index (documents, chunks, model, location, age), health and effective settings."""
    with user_errors():
        from rag.render import info_text

        say(info_text(load_settings(docs_dir=docs, index_dir=index_dir)))


@app.command()
def serve(docs: DocsOpt = None, index_dir: IndexOpt = None,
          host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
          port: Annotated[int | None, typer.Option(help="Port (default 7860).")] = None) -> None:
    """Start the web chat (builds the index first if there is none)."""
    with user_errors():
        from rag.webui import serve as serve_ui

        serve_ui(load_settings(docs_dir=docs, index_dir=index_dir, ui_host=host, ui_port=port))


@app.command("eval")
def evaluate(
    questions: Annotated[list[Path] | None, typer.Argument(help="Question set(s), JSON Lines.")] = None,
    docs: DocsOpt = None, index_dir: IndexOpt = None,
    llm: LlmOpt = None, k: TopKOpt = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N questions.")] = None,
    out: OutOpt = None, compare: CompareOpt = False, minimum: MinOpt = None,
) -> None:
    """Run a question set through rag.answer and score retrieval, answers, citations and abstention."""
    with user_errors():
        from rag.evaluate import run_cli

        code = run_cli(load_settings(docs_dir=docs, index_dir=index_dir, llm=llm), list(questions or []),
                       top_k=k, limit=limit, out=out, compare=compare, minimum=list(minimum or []))
        raise typer.Exit(code)


def main() -> None:  # pragma: no cover
    app()
