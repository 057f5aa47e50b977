"""Example questions and question sets that fit the index; thumbs up/down into evals/feedback.jsonl; a chat
exported as Markdown. Plain functions, no browser."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import shutil
from pathlib import Path

import pytest

from helpers import ROOT, SEED_FILE
from rag.webui_feedback import (
    Turn,
    answer_keys,
    append_line,
    chat_turns,
    conversation_markdown,
    feedback_record,
    turn_index,
)
from rag.webui_fit import example_questions, fit_choices, fit_warning, ranked_sets

SEED_ONLY = {SEED_FILE: "The world of artificial intelligence"}


@pytest.fixture
def evals(tmp_path: Path) -> Path:
    folder = tmp_path / "evals"
    folder.mkdir()
    for name in ("bbc-heldout.jsonl", "bbc.jsonl", "seed.jsonl"):
        shutil.copy(ROOT / "evals" / name, folder / name)
    return folder


def test_examples_on_the_seed_index_are_about_the_seed_article(evals):
    seed = [json.loads(line) for line in (evals / "seed.jsonl").read_text().splitlines()]
    about_seed = {q["question"] for q in seed if SEED_FILE in q.get("sources", [])}
    examples = example_questions(evals, SEED_ONLY)
    assert len(examples) == 6 and set(examples) <= about_seed


def test_without_fitting_questions_examples_come_from_titles(evals):
    indexed = {"survey.docx": "Harbour annual report", "uploads/review.pptx": "Quarterly review"}
    assert example_questions(evals, indexed) == ["What does “Harbour annual report” say?",
                                                 "What does “Quarterly review” say?"]
    mixed = example_questions(evals, {**SEED_ONLY, **indexed})
    assert mixed[1:3] == ["What does “Harbour annual report” say?", "What does “Quarterly review” say?"]
    assert len(mixed) == 6, "the seed article's questions fill the rest"
    assert example_questions(evals, {}) == []


def test_question_sets_about_indexed_documents_come_first_with_a_warning_for_the_others(evals):
    fits = ranked_sets(evals, SEED_ONLY)
    assert fits[0].name == "seed.jsonl" and fits[0].missing == 0
    choices, chosen, warning = fit_choices(evals, SEED_ONLY)
    assert chosen == "seed.jsonl" and warning == "" and choices[0][1] == "seed.jsonl"
    bbc = fit_warning(evals, SEED_ONLY, "bbc-heldout.jsonl")
    held_out = [json.loads(line) for line in (evals / "bbc-heldout.jsonl").read_text().splitlines()]
    naming = sum(1 for q in held_out if q.get("sources"))
    assert bbc.startswith(f"⚠ {naming} of {len(held_out)} questions name documents that are not indexed")
    assert fit_warning(evals, SEED_ONLY, "../seed.jsonl") == "", "only files of the evals folder"


MESSAGES = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": [{"type": "text", "text": "a1"}]},
            {"role": "user", "content": "q2"}, {"role": "assistant", "content": '<div class="error">⚠ x</div>'},
            {"role": "user", "content": "q3"},
            {"role": "assistant", "content": '<div class="abstained">⚠ The documents do not say.</div>'}]
CITED = {"n": 1, "source": "survey.docx", "title": "Harbour annual report", "page": None, "start": 83,
         "end": 150, "quote": "The harbour survey counted 412 grey seals on Skerry Island in 2024.", "score": 0.9,
         "location": "heading “Harbour Survey Results”"}


def test_a_rated_message_maps_to_its_answered_turn():
    assert [turn_index(MESSAGES, i) for i in range(6)] == [None, 0, None, None, None, 1]
    turns = chat_turns(MESSAGES, [("q1", "a1"), ("q3", "The documents do not say.")], [[CITED], []])
    assert [t.abstained for t in turns] == [False, True] and turns[0].citations == [CITED]


def test_thumbs_up_keeps_the_answer_as_a_passing_question():
    from rag.eval_score import keys_found
    from rag.evaluate import parse_question

    turn = Turn("How many grey seals did the survey count?",
                "The harbour survey counted 412 grey seals on Skerry Island in 2024. [1]", False, [CITED])
    record = feedback_record(turn, liked=True, now=dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC))
    question = parse_question(record)
    assert question.answer_keys and all(keys_found(turn.text, question.answer_keys))
    assert "412" in question.answer_keys and question.sources == ("survey.docx",)
    assert record["answer_given"] == turn.text and record["date"] == "2026-12-02T06:00:00+00:00"
    assert answer_keys("Sacks said export controls work.", "Who claimed what about export controls?") == ["Sacks"]


def test_thumbs_down_needs_the_right_answer_or_says_the_documents_do_not():
    turn = Turn("Who captains the Marigold?", "Paul Dunmore [1]", False, [CITED])
    with pytest.raises(ValueError):
        feedback_record(turn, liked=False, keys="  ")
    down = feedback_record(turn, liked=False, keys="Ines Okafor, Marigold", source="survey.docx")
    assert (down["answer_keys"], down["sources"], down["answerable"]) == (["Ines Okafor", "Marigold"],
                                                                          ["survey.docx"], True)
    none = feedback_record(turn, liked=False, unanswerable=True)
    assert none["answerable"] is False and none["answer_keys"] == [] and none["verdict"] == "down"


def _append_many(path: str, worker: int) -> None:
    for i in range(25):
        append_line(Path(path), {"id": f"w{worker}-{i}", "question": "x" * 5000, "answer_keys": ["y"]})


def test_concurrent_writers_never_corrupt_the_file(tmp_path):
    path = tmp_path / "feedback.jsonl"
    path.write_text('{"id": "cut", "question": "a line cut by a crash"')  # no newline at its end
    workers = [multiprocessing.get_context("spawn").Process(target=_append_many, args=(str(path), w))
               for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 4 * 25
    assert all(json.loads(line)["question"] == "x" * 5000 for line in lines[1:])


def test_a_conversation_exports_as_markdown_with_its_quotes():
    turns = [Turn("How many seals?", "The harbour survey counted 412 grey seals [1]", False, [CITED]),
             Turn("Who won?", "The documents do not say.", True, [])]
    text = conversation_markdown(turns, dt.datetime(2026, 12, 2, 6, 0))
    assert "## 1. How many seals?" in text and "The harbour survey counted 412 grey seals [1]" in text
    assert "- [1] Harbour annual report — survey.docx, heading “Harbour Survey Results”, characters 83–150" in text
    assert "  > The harbour survey counted 412 grey seals on Skerry Island in 2024." in text
    assert "## 2. Who won?" in text
