"""`rag eval`: run a question set through `rag.answer` and score retrieval, answers, citations, abstention.

A question set is JSON Lines, one question per line:

    {"id": "r1-cost", "question": "How much did R1 cost?", "answer_keys": ["$5.6 million"],
     "sources": ["000_1b21a7c2e01bd4ee.txt"], "answerable": true, "notes": "optional"}

`answer_keys` must all occur in a correct answer (case-insensitive); the optional `answer_any` lists
alternatives of which at least one must occur too (SQuAD's annotator answers); `sources` are gold paths relative
to the documents folder (any one counts); `answerable` defaults to true. Bad lines are reported with
their line number and skipped. `QATask` is the question set as an eval task (its `evaluate` says
whether one answer passes); `run_eval` runs it; `rag.eval_report` writes and compares the results.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag import eval_report as report
from rag.config import Settings
from rag.errors import ConfigError, EvalSetError, LLMError, QuestionError, SkipFile
from rag.eval_report import EvalRun
from rag.eval_score import (
    DocText,
    below_minimums,
    citation_checks,
    gold_rank,
    gold_set,
    key_recall,
    keys_found,
    parse_minimums,
    reciprocal_rank,
    summarize,
)
from rag.load import load, scan
from rag.models import Answer
from rag.progress import progress_bar
from rag.service import answer, get_engine

ProgressFn = Callable[[int, int], None]  # questions done, questions in the run


@dataclass(frozen=True)
class Question:
    """One line of a question set."""

    id: str
    question: str
    answer_keys: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    answerable: bool = True
    notes: str = ""
    answer_any: tuple[str, ...] = ()  # alternatives: a correct answer contains at least one


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"'{name}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def parse_question(data: Any) -> Question:
    """A `Question` from one decoded JSON line; ValueError says what is wrong with it."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    qid, text = data.get("id"), data.get("question")
    if not isinstance(qid, str | int) or isinstance(qid, bool) or not str(qid).strip():
        raise ValueError("missing 'id'")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("missing 'question'")
    answerable = data.get("answerable", True)
    if not isinstance(answerable, bool):
        raise ValueError("'answerable' must be true or false")
    notes = data.get("notes") or ""
    return Question(id=str(qid).strip(), question=text.strip(),
                    answer_keys=_strings(data.get("answer_keys", []), "answer_keys"),
                    answer_any=_strings(data.get("answer_any", []), "answer_any"),
                    sources=_strings(data.get("sources", []), "sources"),
                    answerable=answerable, notes=notes if isinstance(notes, str) else json.dumps(notes))


def load_questions(path: Path | str) -> tuple[list[Question], list[str]]:
    """The questions of a JSON Lines file and one message per bad line ("file:line: why")."""
    path = Path(path)
    try:
        lines = path.read_bytes().removeprefix(b"\xef\xbb\xbf").splitlines()
    except OSError as exc:
        raise EvalSetError(f"cannot read the question set {path}: {exc}") from exc
    questions: list[Question] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")  # one bad byte costs its line, not the whole set
            q = parse_question(json.loads(line))
            if q.id in seen:
                raise ValueError(f"duplicate id {q.id!r}")
        except json.JSONDecodeError as exc:
            errors.append(f"{path.name}:{number}: invalid JSON ({exc.msg})")
            continue
        except UnicodeDecodeError:
            errors.append(f"{path.name}:{number}: not UTF-8")
            continue
        except ValueError as exc:
            errors.append(f"{path.name}:{number}: {exc}")
            continue
        seen.add(q.id)
        questions.append(q)
    return questions, errors


class DocumentTexts:
    """`source -> text` of the documents folder as the loader reads it (loaded once, cached)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._files: dict[str, Any] | None = None
        self._texts: dict[str, str | None] = {}

    def __call__(self, source: str) -> str | None:
        if source not in self._texts:
            self._texts[source] = self._load(source)
        return self._texts[source]

    def _load(self, source: str) -> str | None:
        if self._files is None:
            files, _ = scan(self.settings.docs_dir, self.settings.max_file_mb, self.settings.follow_outside_links)
            self._files = {f.path: f for f in files}
        found = self._files.get(source)
        if found is None:
            return None
        try:
            return load(found).text
        except SkipFile:
            return None


class QATask:
    """A question set as an eval task: `evaluate` says whether an answer passes, `score` gives every metric."""

    def __init__(self, questions: Sequence[Question], doc_text: DocText,
                 aliases: dict[str, str] | None = None) -> None:
        self.questions = list(questions)
        self.doc_text = doc_text
        self.aliases = aliases or {}

    def __len__(self) -> int:
        return len(self.questions)

    def __getitem__(self, i: int) -> Question:
        return self.questions[i]

    def evaluate(self, q: Question, answer: Answer) -> bool:
        """Answerable: not abstained, every key and one of `answer_any` in the answer. Unanswerable: abstained."""
        if not q.answerable:
            return answer.abstained
        return not answer.abstained and all(keys_found(answer.text, q.answer_keys, q.answer_any))

    def score(self, q: Question, answer: Answer | None, latency_ms: float, error: str = "") -> dict[str, Any]:
        """The row of results.jsonl for one question (`answer` None when it raised `error`)."""
        gold = gold_set(q.sources, self.aliases)
        retrieved = [h.chunk.source for h in answer.hits] if answer else []
        rank = gold_rank(retrieved, gold)
        context = "\n".join(h.chunk.text for h in answer.hits) if answer else ""
        abstained = answer.abstained if answer else False
        wanted = list(q.answer_keys) + (["one of: " + " | ".join(q.answer_any)] if q.answer_any else [])
        found = (keys_found(answer.text, q.answer_keys, q.answer_any) if answer and not abstained
                 else [False] * len(wanted))
        # an answerable question naming no gold source: its citations are checked for support only;
        # an unanswerable one has none, so every citation it draws counts against precision
        known_gold = gold if gold or not q.answerable else None
        checks = citation_checks(answer, known_gold, self.doc_text) if answer else []
        return {
            "id": q.id, "question": q.question, "answerable": q.answerable,
            "passed": self.evaluate(q, answer) if answer else False,
            "abstained": abstained, "answer_text": answer.text if answer else "",
            "cited_sources": list(dict.fromkeys(c.source for c in answer.citations)) if answer else [],
            "retrieved": retrieved, "sources": sorted(gold), "answer_keys": list(q.answer_keys),
            "answer_any": list(q.answer_any),
            "gold_rank": rank, "rr": reciprocal_rank(rank) if gold else None,
            "key_recall": sum(found) / len(found) if found else None,
            "missing_keys": [k for k, ok in zip(wanted, found, strict=True) if not ok],
            "context_recall": key_recall(context, q.answer_keys, q.answer_any),
            "citations_ok": checks,
            "citation_precision": sum(checks) / len(checks) if checks else None,
            "latency_ms": round(latency_ms, 2), "error": error, "notes": q.notes,
            "answer": answer.to_dict() if answer else None,
        }


def alias_map(engine: Any) -> dict[str, str]:
    """Duplicate file paths -> the path the index kept, read from the index."""
    collection = engine.retriever.refresh()
    if collection is None:
        return {}
    docs = engine.retriever.store.documents(collection)
    return {alias: src for src, doc in docs.items() for alias in doc.aliases}


def run_eval(settings: Settings, questions: Sequence[Question], *, engine: Any = None,
             top_k: int | None = None, limit: int | None = None, llm: str | None = None,
             progress: ProgressFn | None = None) -> EvalRun:
    """Answer every question with `rag.answer` (builds the index if there is none) and score it."""
    engine = engine or get_engine(settings)
    engine.ensure_index()
    chosen = list(questions)[:limit] if limit else list(questions)
    task = QATask(chosen, DocumentTexts(engine.settings), alias_map(engine))
    started, t_run = time.strftime("%Y-%m-%dT%H:%M:%S"), time.perf_counter()
    rows = []
    for done, q in enumerate(task.questions, start=1):
        t0 = time.perf_counter()
        result, error = None, ""
        try:
            result = answer(q.question, engine=engine, llm=llm, top_k=top_k)
        except (QuestionError, LLMError) as exc:
            error = str(exc)
        rows.append(task.score(q, result, (time.perf_counter() - t0) * 1000, error))
        if progress:
            progress(done, len(task))
    k = top_k or engine.settings.top_k
    meta = {"started": started, "seconds": round(time.perf_counter() - t_run, 2), "k": k,
            "llm": llm or engine.settings.llm, "docs_dir": str(engine.settings.docs_dir),
            "index_dir": str(engine.settings.index_dir)}
    return EvalRun(summarize(rows, k), rows, meta)


def run_cli(settings: Settings, questions: list[Path], *, top_k: int | None = None, limit: int | None = None,
            out: Path | None = None, compare: bool = False, minimum: list[str] | None = None) -> int:
    """`rag eval`: run, report, gate; or `rag eval --compare RUN_A RUN_B`. Returns the exit code."""
    minimums = parse_minimums(minimum or [])
    if compare:
        if len(questions) != 2:
            raise ConfigError("--compare takes two run folders: rag eval --compare RUN_A RUN_B")
        before, after = report.load_run(questions[0]), report.load_run(questions[1])
        report.print_comparison(before, after)
        return report.print_gate(below_minimums(after.summary, minimums))
    if not questions:
        raise ConfigError("give a question set, e.g. rag eval evals/seed.jsonl")
    chosen: list[Question] = []
    errors: list[str] = []
    for path in questions:
        qs, errs = load_questions(path)
        ids = {q.id for q in chosen}
        errors += errs + [f"{path.name}: id {q.id!r} also in an earlier set; skipped" for q in qs if q.id in ids]
        chosen += [q for q in qs if q.id not in ids]
    report.print_errors(errors)
    if not chosen:
        raise EvalSetError(f"no usable question in {', '.join(map(str, questions))}")
    engine = get_engine(settings)
    with progress_bar("Indexing", transient=True) as bar:
        engine.ensure_index(bar)
    with progress_bar("Evaluating") as bar:
        run = run_eval(settings, chosen, engine=engine, top_k=top_k, limit=limit, progress=bar)
    run.errors = errors
    run.meta["questions"] = [str(p) for p in questions]
    out = out or Path("runs") / f"eval-{questions[0].stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    paths = report.write_report(run, out)
    report.print_summary(run, paths)
    return report.print_gate(below_minimums(run.summary, minimums))
