"""`rag eval`: pure scorers on hand-made Answers, question-set parsing, and real runs on the seed engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import BBC, SEED_FILE, SEEDS
from rag.errors import ConfigError
from rag.eval_report import flipped, load_run, write_report
from rag.eval_score import (
    citation_checks,
    gold_rank,
    gold_set,
    key_recall,
    keys_found,
    parse_minimums,
    percentile,
    summarize,
)
from rag.evaluate import QATask, Question, load_questions, run_cli, run_eval
from rag.models import Answer, Chunk, Citation, Hit, SentenceCheck

TEXT = "Alpha beta. DeepSeek claims that developing R1 required only $5.6 million. Gamma."
QUOTE = "DeepSeek claims that developing R1 required only $5.6 million."
DOCS = {"a.txt": TEXT, "b.txt": "Other text entirely."}


def hit(source: str, rank: int, text: str = "x") -> Hit:
    return Hit(Chunk(f"{source}-{rank}", source, source, text, 0, len(text), 0), 1.0 / rank, rank)


def cite(n: int, source: str = "a.txt", quote: str = QUOTE, start: int | None = None) -> Citation:
    start = TEXT.index(QUOTE) if start is None else start
    return Citation(n, source, source, None, start, start + len(quote), quote, 0.9)


def extractive(text: str, *citations: Citation, hits: tuple[Hit, ...] = (), abstained: bool = False) -> Answer:
    return Answer("q", text, abstained, citations=citations, hits=hits)


# -- pure scorers ---------------------------------------------------------------------------------

def test_keys_are_matched_case_and_quote_insensitively():
    assert keys_found("DeepSeek’s R1 cost $5.6   Million", ["deepseek's", "$5.6 million", "OpenAI"]) == [
        True, True, False]
    assert key_recall("R1 cost $5.6 million", ["r1", "$5.6 million", "Nvidia", "meta"]) == 0.5
    assert key_recall("anything", []) is None


def test_gold_rank_and_aliases():
    assert gold_rank(["b.txt", "c.txt", "a.txt"], {"a.txt"}) == 3
    assert gold_rank(["b.txt"], {"a.txt"}) is None
    assert gold_set(["./copy/a.txt", "x.txt"], {"copy/a.txt": "a.txt"}) == {"a.txt", "x.txt"}


def test_extractive_citation_needs_gold_source_and_the_quote_at_its_span():
    ok = cite(1)
    shifted = cite(2, start=0)                      # right quote, wrong span
    other = cite(3, source="b.txt", quote="Other text entirely.", start=0)  # verbatim but not gold
    answer = extractive("...", ok, shifted, other)
    assert citation_checks(answer, {"a.txt"}, DOCS.get) == [True, False, False]
    assert citation_checks(extractive("..."), {"a.txt"}, DOCS.get) == []
    missing = cite(1, source="gone.txt")
    assert citation_checks(extractive("...", missing), {"gone.txt"}, DOCS.get) == [False]


def test_llm_citations_use_the_sentence_checks():
    answer = Answer("q", "R1 cost $5.6 million [1]. Nvidia fell [2].", False,
                    citations=(cite(1), cite(2, start=0)), answerer="openai",
                    sentences=(SentenceCheck("R1 cost $5.6 million [1].", (1,), "supported", 0.9),
                               SentenceCheck("Nvidia fell [2].", (2,), "unsupported", 0.1)))
    assert citation_checks(answer, {"a.txt"}, DOCS.get) == [True, False]


def test_task_evaluate_and_score_a_row():
    q = Question("q1", "How much did R1 cost?", ("$5.6 million", "R1"), ("a.txt",))
    task = QATask([q], DOCS.get)
    good = extractive(f"{QUOTE} [1]", cite(1), hits=(hit("b.txt", 1), hit("a.txt", 2, TEXT)))
    row = task.score(q, good, 12.5)
    assert task.evaluate(q, good) and row["passed"]
    assert row["gold_rank"] == 2 and row["rr"] == 0.5 and row["retrieved"] == ["b.txt", "a.txt"]
    assert row["key_recall"] == 1.0 and row["missing_keys"] == [] and row["context_recall"] == 1.0
    assert row["citation_precision"] == 1.0 and row["cited_sources"] == ["a.txt"]
    assert row["answer"] == good.to_dict()

    partial = task.score(q, extractive("R1 was cheap [1]", cite(1)), 1.0)
    assert not partial["passed"] and partial["key_recall"] == 0.5 and partial["missing_keys"] == ["$5.6 million"]
    # an abstention quotes the question, which must not count as finding the keys
    abstained = task.score(q, extractive("The documents do not say. No passage answers “R1 $5.6 million”",
                                         abstained=True), 1.0)
    assert not abstained["passed"] and abstained["key_recall"] == 0.0

    # a question naming no gold source: its citations are checked for support only
    sourceless = Question("q3", "How much did R1 cost?", ("$5.6 million",))
    assert task.score(sourceless, extractive("...", cite(1), cite(2, start=0)), 1.0)["citation_precision"] == 0.5

    unanswerable = Question("q2", "Capital of France?", answerable=False)
    assert task.score(unanswerable, extractive(f"{QUOTE} [1]", cite(1)), 1.0)["citation_precision"] == 0.0
    assert task.evaluate(unanswerable, extractive("The documents do not say.", abstained=True))
    assert not task.evaluate(unanswerable, extractive(f"{QUOTE} [1]", cite(1)))



def test_answer_any_needs_one_of_the_alternatives_besides_every_key():
    """`answer_any` (SQuAD: every annotator's answer) passes an answer holding any one alternative."""
    assert keys_found("It cost $5.6 million", ["cost"], ["5.6m", "$5.6 million"]) == [True, True]
    assert key_recall("It cost a lot", ["cost"], ["5.6m", "$5.6 million"]) == 0.5
    assert key_recall("anything", [], ["x"]) == 0.0
    q = Question("s1", "How much did R1 cost?", (), ("a.txt",), answer_any=("5.6m", "$5.6 million"))
    task = QATask([q], DOCS.get)
    good = extractive(f"{QUOTE} [1]", cite(1), hits=(hit("a.txt", 1, TEXT),))
    assert task.evaluate(q, good) and task.score(q, good, 1.0)["context_recall"] == 1.0
    wrong = task.score(q, extractive("R1 was cheap [1]", cite(1)), 1.0)
    assert not wrong["passed"] and wrong["missing_keys"] == ["one of: 5.6m | $5.6 million"]
    assert not task.evaluate(Question("s2", "?", ("R2",), answer_any=("$5.6 million",)), good)


def test_answer_any_is_read_from_the_question_set(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "s", "question": "Q?", "answer_any": ["63 days", "63"]}\n'
                    '{"id": "t", "question": "Q?", "answer_any": [""]}\n')
    questions, errors = load_questions(path)
    assert [q.answer_any for q in questions] == [("63 days", "63")] and "set.jsonl:2" in errors[0]

def test_summarize_and_percentile():
    task = QATask([], DOCS.get)
    rows = [
        task.score(Question("a", "?", ("$5.6 million",), ("a.txt",)),
                   extractive(f"{QUOTE} [1]", cite(1), hits=(hit("a.txt", 1),)), 100),
        task.score(Question("b", "?", ("Nvidia",), ("a.txt",)),
                   extractive("no [1]", cite(1, source="b.txt"), hits=(hit("b.txt", 1), hit("a.txt", 2))), 200),
        task.score(Question("c", "?", ("x",), ("a.txt",)), extractive("dnk", abstained=True), 300),
        task.score(Question("d", "?", answerable=False), extractive("dnk", abstained=True), 400),
        task.score(Question("e", "?", answerable=False), extractive(f"{QUOTE} [1]", cite(1)), 500),
    ]
    s = summarize(rows, k=5)
    assert s["hit@k"] == pytest.approx(2 / 3, abs=1e-3) and s["mrr"] == pytest.approx((1 + 0.5) / 3, abs=1e-3)
    assert s["accuracy"] == pytest.approx(1 / 3, abs=1e-3) and s["key_recall"] == pytest.approx(1 / 3, abs=1e-3)
    assert s["citation_precision"] == pytest.approx(1 / 3, abs=1e-3)  # "e" cites though unanswerable
    assert s["abstention"] == 0.5 and s["false_abstention"] == pytest.approx(1 / 3, abs=1e-3)
    assert s["cited_answers"] == 1.0 and s["pass_rate"] == pytest.approx(2 / 5, abs=1e-3)
    assert s["latency_p50_ms"] == 300 and s["latency_p95_ms"] == pytest.approx(480, abs=1e-3)
    assert (s["questions"], s["answerable"], s["unanswerable"], s["k"]) == (5, 3, 2, 5)
    assert "abstention" not in summarize(rows[:3], k=5), "unmeasured metrics are left out"
    assert percentile([5.0], 95) == 5.0


def test_the_report_groups_questions_by_kind():
    from rag.eval_report import by_kind

    def row(notes, passed, gold_rank=1, answerable=True):
        return {"notes": notes, "passed": passed, "gold_rank": gold_rank if answerable else None,
                "sources": ["a.txt"] if answerable else [], "abstained": not answerable and passed}

    rows = [row("figure", True), row("Figure, from the second paragraph", False, gold_rank=None),
            row("quote", False), row("unanswerable", True, answerable=False), row(None, True)]
    table = by_kind(rows)
    assert table[5:] == ["| figure | 2 | 1 (50%) | 1 of 2 | 0 |", "| quote | 1 | 0 (0%) | 1 of 1 | 0 |",
                         "| unanswerable | 1 | 1 (100%) | – | 1 |"]
    assert by_kind([row("figure", True), row(None, False)]) == [], "one kind: no table"


def test_minimums_are_parsed_strictly():
    assert parse_minimums(["accuracy=0.85", "hit@k=1"]) == {"accuracy": 0.85, "hit@k": 1.0}
    for bad in ("accuracy", "accuracy=high", "acuracy=0.5"):
        with pytest.raises(ConfigError):
            parse_minimums([bad])


# -- question sets --------------------------------------------------------------------------------

def test_bad_lines_are_reported_with_their_line_number_and_the_rest_loads(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join([
        '{"id": "ok1", "question": "How much?", "answer_keys": ["$5.6 million"], "sources": ["a.txt"]}',
        '{"id": "broken", "question": ',
        '{"id": "noq"}',
        '',
        '{"id": "ok1", "question": "Again?"}',
        '{"id": "ab", "question": "Q?", "answerable": "no"}',
        '{"id": "keys", "question": "Q?", "answer_keys": [1]}',
        '[1, 2]',
        '{"id": 7, "question": "Unanswerable?", "answerable": false, "notes": "trap"}',
    ]), encoding="utf-8")
    questions, errors = load_questions(path)
    assert [q.id for q in questions] == ["ok1", "7"]
    assert questions[0] == Question("ok1", "How much?", ("$5.6 million",), ("a.txt",), True, "")
    assert not questions[1].answerable and questions[1].notes == "trap"
    assert [e.split(":")[1] for e in errors] == ["2", "3", "5", "6", "7", "8"]
    assert "invalid JSON" in errors[0] and "question" in errors[1] and "duplicate" in errors[2]


# -- real runs on the seed article ----------------------------------------------------------------

SEED_SET = [
    {"id": "cost", "question": "How much did DeepSeek say R1 cost to develop?", "answer_keys": ["$5.6 million"],
     "sources": [SEED_FILE]},
    {"id": "export", "question": "Who claimed what about export controls?", "answer_keys": ["Sacks"],
     "sources": [SEED_FILE]},
    {"id": "ceo", "question": "Who is the CEO of OpenAI?", "answer_keys": ["Altman"], "sources": [SEED_FILE]},
    {"id": "france", "question": "What is the capital of France?", "answerable": False},
]


@pytest.fixture
def seed_set(tmp_path) -> Path:
    path = tmp_path / "seed.jsonl"
    path.write_text("\n".join(json.dumps(q) for q in SEED_SET) + "\nnot json\n", encoding="utf-8")
    return path


@pytest.fixture
def seed_cli(seed_engine, monkeypatch):
    """run_cli on the session's seed engine (registered as the shared engine of its settings)."""
    from rag import service

    monkeypatch.setitem(service._engines, service.engine_key(seed_engine.settings), seed_engine)
    return seed_engine


def test_run_eval_scores_the_seed_set(seed_engine, seed_set):
    questions, errors = load_questions(seed_set)
    assert len(errors) == 1 and ":5:" in errors[0]
    calls = []
    run = run_eval(seed_engine.settings, questions, engine=seed_engine, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (4, 4)
    s = run.summary
    assert s["hit@k"] == 1.0 and s["accuracy"] == 1.0 and s["citation_precision"] == 1.0
    assert s["abstention"] == 1.0 and s["false_abstention"] == 0.0
    assert s["latency_p95_ms"] >= s["latency_p50_ms"] > 0
    for row in run.rows:
        assert {"id", "question", "passed", "answer_text", "cited_sources", "abstained", "answerable"} <= set(row)


def test_run_cli_writes_the_four_files_and_gates_on_minimums(seed_cli, seed_set, tmp_path, capsys):
    out = tmp_path / "run"
    code = run_cli(seed_cli.settings, [seed_set], out=out, minimum=["accuracy=0.9", "abstention=1"])
    assert code == 0
    assert {p.name for p in out.iterdir()} >= {"results.jsonl", "summary.json", "report.md", "report.png"}
    printed = capsys.readouterr()
    assert "accuracy" in printed.out and "seed.jsonl:5" in printed.err

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["cost", "export", "ceo", "france"]
    from rag.service import answer

    fresh = answer(SEED_SET[0]["question"], engine=seed_cli).to_dict()
    assert set(rows[0]["answer"]) == set(fresh)
    assert {k: v for k, v in rows[0]["answer"].items() if k != "timings"} == {
        k: v for k, v in fresh.items() if k != "timings"}
    assert rows[0]["retrieved"] == [h["source"] for h in fresh["retrieved"]]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["metrics"]["accuracy"] == 1.0 and summary["skipped_lines"]
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert "| france |" in (out / "report.md").read_text()

    gated = run_cli(seed_cli.settings, [seed_set], out=tmp_path / "r2", limit=1, minimum=["accuracy=1.01"])
    assert gated == 1
    assert "FAIL: accuracy = 1 is below the minimum 1.01" in capsys.readouterr().out
    assert json.loads((tmp_path / "r2" / "summary.json").read_text())["metrics"]["questions"] == 1


def test_compare_prints_deltas_and_flipped_questions(seed_engine, seed_set, tmp_path):
    questions = [q for q in load_questions(seed_set)[0] if q.id in ("cost", "ceo")]
    before = run_eval(seed_engine.settings, questions, engine=seed_engine)
    write_report(before, tmp_path / "a")
    # B: the same questions, but "ceo" now wants a key the documents cannot give
    changed = [Question(q.id, q.question, ("Altman", "Zebra"), q.sources) if q.id == "ceo" else q
               for q in questions]
    after = run_eval(seed_engine.settings, changed, engine=seed_engine)
    write_report(after, tmp_path / "b")
    broke, fixed = flipped(load_run(tmp_path / "a"), load_run(tmp_path / "b"))
    assert [r["id"] for r in broke] == ["ceo"] and fixed == []

    from rag.cli import app

    result = CliRunner().invoke(app, ["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "-0.500" in result.output
    assert "Now failing (1):" in result.output and "ceo: Who is the CEO of OpenAI?" in result.output
    gated = CliRunner().invoke(app, ["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "b"),
                                     "--min", "accuracy=0.9"])
    assert gated.exit_code == 1 and "below the minimum" in gated.output
    missing = CliRunner().invoke(app, ["eval", "--compare", str(tmp_path / "a"), str(tmp_path / "nope")])
    assert missing.exit_code == 1 and "not an evaluation run" in missing.output


def test_quotes_are_checked_against_the_loaded_file(seed_engine):
    from rag.evaluate import DocumentTexts

    texts = DocumentTexts(seed_engine.settings)
    assert texts(SEED_FILE) == (SEEDS / SEED_FILE).read_text(encoding="utf-8")
    assert texts("missing.txt") is None


# -- the gate CI runs: the team's seed question set, through the CLI, with its thresholds -----------

SEED_GATE = ["accuracy=0.85", "citation_precision=0.95", "abstention=1", "hit@k=1"]
MAX_FALSE_ABSTENTION = 0.15


def test_the_seed_question_set_meets_its_thresholds(seed_cli, tmp_path, capsys):
    """`rag eval evals/seed.jsonl --min ...` as CI runs it; the figures are printed for the log."""
    seed_set = Path(__file__).resolve().parents[1] / "evals" / "seed.jsonl"
    code = run_cli(seed_cli.settings, [seed_set], out=tmp_path / "seed-run",
                   minimum=SEED_GATE)
    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "seed-run" / "summary.json").read_text())["metrics"]
    with capsys.disabled():
        print("\nseed.jsonl:", {k: summary[k] for k in ("accuracy", "citation_precision", "abstention",
                                                      "false_abstention", "hit@k", "questions")})
    assert code == 0, printed
    assert summary["questions"] >= 40 and summary["false_abstention"] <= MAX_FALSE_ABSTENTION


QUESTION_SETS = [("seed.jsonl", SEEDS, 40), ("bbc.jsonl", BBC, 60), ("bbc-heldout.jsonl", BBC, 160),
                 ("bbc-blind4.jsonl", BBC, 150), ("bbc-blind5.jsonl", BBC, 150),
                 ("bbc-blind6.jsonl", BBC, 120), ("bbc-blind7.jsonl", BBC, 230),
                 ("bbc-blind8.jsonl", BBC, 180),
                 ("bbc-train.jsonl", BBC, 240)]


@pytest.mark.parametrize(("name", "docs", "at_least"), QUESTION_SETS)
def test_the_team_question_sets_are_sound(name, docs, at_least):
    """Every line loads, ids are unique, at least 10 questions are unanswerable, and every answer key
    is in every gold source (a key the documents lack would make a right answer score as wrong)."""
    if not docs.exists():
        pytest.skip(f"{docs} is not on this machine")
    questions, errors = load_questions(Path(__file__).resolve().parents[1] / "evals" / name)
    assert errors == [] and len(questions) >= at_least
    assert len({q.id for q in questions}) == len(questions)
    assert sum(not q.answerable for q in questions) >= 10
    for q in questions:
        if not q.answerable:
            assert not q.answer_keys and not q.sources, q.id
            continue
        assert q.answer_keys and q.sources, q.id
        for source in q.sources:
            text = (docs / source).read_text(encoding="utf-8", errors="replace")
            assert all(keys_found(text, q.answer_keys)), (q.id, source)
    if docs == BBC:
        assert {s.split("/")[0] for q in questions for s in q.sources} == {
            "business", "entertainment", "politics", "sport", "tech"}
