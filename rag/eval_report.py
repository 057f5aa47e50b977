"""Reports of an evaluation run: results.jsonl, summary.json, report.md, report.png, terminal tables,
and the comparison of two runs (`rag eval --compare RUN_A RUN_B`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rag.errors import EvalSetError
from rag.eval_score import HIGHER_IS_BETTER, METRICS, worst_first


@dataclass
class EvalRun:
    """A scored run: `summary` metrics, one row per question, and what was run (`meta`)."""

    summary: dict[str, float]
    rows: list[dict[str, Any]]
    meta: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # question-set lines that were skipped


RATE_METRICS = [name for name, _, _ in METRICS if not name.endswith("_ms")]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def write_report(run: EvalRun, out_dir: Path | str) -> dict[str, Path]:
    """Write the four files of a run into `out_dir` (created); returns their paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("results.jsonl", "summary.json", "report.md", "report.png")}
    with paths["results.jsonl"].open("w", encoding="utf-8") as f:
        for row in run.rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = {"metrics": run.summary, "run": run.meta, "skipped_lines": run.errors}
    paths["summary.json"].write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["report.md"].write_text(markdown(run), encoding="utf-8")
    chart(run, paths["report.png"])
    return paths


def _cell(text: Any, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("|", "\\|")


def markdown(run: EvalRun) -> str:
    """report.md: what was run, the metrics, then every question, worst first."""
    s, m = run.summary, run.meta
    head = ", ".join(str(q) for q in m.get("questions", [])) or "question set"
    lines = [f"# Evaluation: {head}", "",
             f"{m.get('started', '')} · answerer {m.get('llm', '?')} · k={s.get('k')} · "
             f"{s.get('questions')} questions ({s.get('answerable')} answerable, {s.get('unanswerable')} "
             f"unanswerable, {s.get('errors', 0)} errors) · documents {m.get('docs_dir', '?')} · "
             f"{m.get('seconds', '?')} s", "",
             "## Metrics", "", "| metric | value | meaning |", "|---|---:|---|"]
    lines += [f"| {name} | {_fmt(s.get(name))} | {desc} |" for name, _, desc in METRICS]
    lines += ["", "## Questions, worst first", "",
              "| id | passed | gold rank | key recall | citation precision | ms | question | missing keys | answer |",
              "|---|---|---:|---:|---:|---:|---|---|---|"]
    for r in worst_first(run.rows):
        answer = r["error"] and f"error: {r['error']}" or r["answer_text"]
        rank = r["gold_rank"] if r["sources"] else "–"
        lines.append(f"| {_cell(r['id'], 40)} | {'yes' if r['passed'] else '**no**'} | {rank or 'miss'} | "
                     f"{_fmt(r['key_recall'])} | {_fmt(r['citation_precision'])} | {r['latency_ms']:.0f} | "
                     f"{_cell(r['question'], 100)} | {_cell(', '.join(r['missing_keys']), 60)} | {_cell(answer)} |")
    lines += by_kind(run.rows)
    if run.errors:
        lines += ["", "## Skipped lines of the question set", ""] + [f"- {_cell(e, 300)}" for e in run.errors]
    return "\n".join(lines) + "\n"


def kind_of(row: dict[str, Any]) -> str:
    """The first word of a question's `notes` ("figure", "quote", "paraphrase"...); "" without notes."""
    words = str(row.get("notes") or "").lower().split()
    return words[0].strip(",.;:") if words else ""


def by_kind(rows: Sequence[dict[str, Any]]) -> list[str]:
    """report.md's table of the questions grouped by kind, largest group first: which kinds fail."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if kind := kind_of(row):
            groups.setdefault(kind, []).append(row)
    if len(groups) < 2:
        return []
    lines = ["", "## By kind (first word of `notes`)", "",
             "| kind | questions | passed | gold retrieved | abstained |", "|---|---:|---:|---:|---:|"]
    for kind, group in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        passed = sum(bool(r["passed"]) for r in group)
        answerable = [r for r in group if r["sources"]]
        retrieved = f"{sum(bool(r['gold_rank']) for r in answerable)} of {len(answerable)}" if answerable else "–"
        lines.append(f"| {_cell(kind, 30)} | {len(group)} | {passed} ({passed / len(group):.0%}) | {retrieved} | "
                     f"{sum(bool(r['abstained']) for r in group)} |")
    return lines


def chart(run: EvalRun, path: Path) -> None:
    """report.png: the rate metrics as bars (0-1) and the latency percentiles beside them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    rates, lat = fig.subplots(1, 2, width_ratios=[3, 1])
    names = [n for n in RATE_METRICS if n in run.summary]
    values = [run.summary[n] for n in names]
    colors = ["tab:blue" if HIGHER_IS_BETTER[n] else "tab:orange" for n in names]
    bars = rates.barh(names[::-1], values[::-1], color=colors[::-1])
    rates.bar_label(bars, fmt="%.2f", padding=2)
    rates.set_xlim(0, 1.12)
    rates.set_title(f"{run.summary.get('questions')} questions, k={run.summary.get('k')} "
                    "(orange: lower is better)")
    ms = [n for n in ("latency_p50_ms", "latency_p95_ms") if n in run.summary]
    lat_bars = lat.bar([n.split("_")[1] for n in ms], [run.summary[n] for n in ms], color="tab:gray")
    lat.bar_label(lat_bars, fmt="%.0f")
    lat.set_title("latency per question, ms")
    fig.savefig(path, dpi=100)


def print_summary(run: EvalRun, paths: dict[str, Path] | None = None) -> None:
    console = _console()
    s = run.summary
    table = Table(title=f"{s.get('questions')} questions ({s.get('answerable')} answerable, "
                        f"{s.get('unanswerable')} unanswerable), k={s.get('k')}, answerer {run.meta.get('llm')}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("meaning")
    for name, _, desc in METRICS:
        if name in s:
            table.add_row(name, _fmt(s[name]), desc)
    console.print(table)
    failed = [r for r in worst_first(run.rows) if not r["passed"]]
    if failed:
        console.print(f"{len(failed)} failed: " + ", ".join(str(r["id"]) for r in failed[:15])
                      + (" …" if len(failed) > 15 else ""))
    if paths:
        console.print(f"Wrote {paths['report.md'].parent}/: " + ", ".join(p.name for p in paths.values()))


def print_errors(errors: Sequence[str]) -> None:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    for e in errors:
        console.print(f"skipped {e}", markup=False)


def print_gate(failures: list[str]) -> int:
    """Print the failed minimums; the exit code (1 when any)."""
    console = _console()
    for f in failures:
        console.print(f"FAIL: {f}", markup=False)
    return 1 if failures else 0


def load_run(path: Path | str) -> EvalRun:
    """A run written by `write_report`, from its folder (or its summary.json / results.jsonl)."""
    folder = Path(path)
    folder = folder.parent if folder.is_file() else folder
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        rows = [json.loads(line) for line in (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
                if line.strip()]
    except (OSError, ValueError) as exc:
        raise EvalSetError(f"{path} is not an evaluation run folder ({exc})") from exc
    meta = {**summary.get("run", {}), "path": str(folder)}
    return EvalRun(summary.get("metrics", {}), rows, meta, summary.get("skipped_lines", []))


def flipped(before: EvalRun, after: EvalRun) -> tuple[list[dict], list[dict]]:
    """(now failing, now passing): rows of `after` whose `passed` differs from `before`."""
    was = {r["id"]: r["passed"] for r in before.rows}
    broke = [r for r in after.rows if was.get(r["id"]) is True and not r["passed"]]
    fixed = [r for r in after.rows if was.get(r["id"]) is False and r["passed"]]
    return broke, fixed


def print_comparison(before: EvalRun, after: EvalRun) -> None:
    console = _console()
    table = Table(title=f"A = {before.meta.get('path')}  B = {after.meta.get('path')}")
    for col in ("metric", "A", "B", "B - A"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for name, up, _ in METRICS:
        a, b = before.summary.get(name), after.summary.get(name)
        if a is None and b is None:
            continue
        delta = "–" if a is None or b is None else f"{b - a:+.3f}" if abs(b - a) < 10 else f"{b - a:+.1f}"
        if a is not None and b is not None and b != a:
            delta = f"[{'green' if (b > a) == up else 'red'}]{delta}[/]"
        table.add_row(name, _fmt(a), _fmt(b), delta)
    console.print(table)
    broke, fixed = flipped(before, after)
    for label, rows in (("Now failing", broke), ("Now passing", fixed)):
        console.print(f"{label} ({len(rows)}):")
        for r in rows:
            console.print(f"  {r['id']}: {r['question']}", markup=False)
    shared = {r["id"] for r in before.rows} & {r["id"] for r in after.rows}
    only = len(before.rows) - len(shared), len(after.rows) - len(shared)
    if any(only):
        console.print(f"Questions only in A: {only[0]}, only in B: {only[1]}.")
