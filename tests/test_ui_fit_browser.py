"""The web chat fitted to its collection, in headless Chromium: example questions about the indexed
documents, an Evaluate tab that preselects a fitting set, thumbs down with a correction that `rag eval`
then runs, a conversation exported as Markdown, and the office formats through an upload."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from office_corpus import build_broken, build_corpus
from test_ui_browser import CHROMIUM, ask, browser, open_citation, shoot, upload  # noqa: F401  (browser is a fixture)
from typer.testing import CliRunner

from helpers import ROOT, SEED_FILE, SEEDS, free_port, make_settings

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def app(tmp_path_factory, embedder):
    from rag.service import get_engine
    from rag.webui import build_demo, launch

    tmp = tmp_path_factory.mktemp("ui-fit")
    docs, evals = tmp / "docs", tmp / "evals"
    docs.mkdir()
    evals.mkdir()
    shutil.copy(SEEDS / SEED_FILE, docs / SEED_FILE)
    for name in ("bbc-heldout.jsonl", "bbc.jsonl", "seed.jsonl"):  # the BBC sets name documents not indexed
        shutil.copy(ROOT / "evals" / name, evals / name)
    settings = make_settings(tmp, docs, ui_port=free_port(), evals_dir=evals, ui_open_documents=True)
    engine = get_engine(settings)
    engine.embedder = engine.retriever.embedder = embedder
    engine.ensure_index()
    demo = build_demo(settings)
    launch(demo, settings, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{settings.ui_port}", settings
    demo.close()


@pytest.fixture
def page(browser, app):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(app[0])
    page.wait_for_function("document.querySelector('#examples') && "
                           "document.querySelector('#examples').innerText.includes('?')", timeout=60_000)
    yield page
    page.close()


def _seed_questions() -> set[str]:
    lines = (ROOT / "evals" / "seed.jsonl").read_text().splitlines()
    return {q["question"] for q in map(json.loads, lines) if SEED_FILE in q.get("sources", [])}


def test_example_questions_are_about_the_seed_article(page):
    samples = page.locator("#examples button, #examples tr.tr-body, #examples .gallery-item")
    shown = [t.strip() for t in samples.all_inner_texts() if t.strip()]
    seed = _seed_questions()  # a long question is shown cut, with "..."
    assert len(shown) == 6 and all(any(q.startswith(t.removesuffix("...")) for q in seed) for t in shown), shown
    samples.first.click()
    page.wait_for_function("document.querySelector('#question textarea').value !== ''", timeout=30_000)
    assert page.input_value("#question textarea").startswith(shown[0].removesuffix("..."))
    shoot(page, "fit-examples")


def test_evaluate_preselects_a_fitting_set_warns_about_others_and_runs(page):
    page.get_by_role("tab", name="Evaluate").click()
    chosen = page.locator("#eval-set input")
    assert "seed.jsonl" in chosen.input_value()
    assert page.inner_text("#eval-fit").strip() == ""
    page.fill("#eval-limit input", "2")
    page.click("#run-eval")
    page.wait_for_function("document.querySelector('#eval-summary').innerText.includes('questions')",
                           timeout=180_000)
    page.wait_for_function("document.querySelector('#eval-table').innerText.includes('seed-02')", timeout=30_000)
    rows = page.inner_text("#eval-table")
    assert "seed-01" in rows and "seed-03" not in rows, "the first two questions of seed.jsonl"
    chosen.click()
    page.get_by_role("option", name="bbc-heldout.jsonl").click()
    page.wait_for_function("document.querySelector('#eval-fit').innerText.includes('not indexed')", timeout=30_000)
    assert "questions name documents that are not indexed" in page.inner_text("#eval-fit")
    shoot(page, "fit-evaluate")


def test_thumbs_down_with_a_correction_writes_a_line_rag_eval_runs(page, app, monkeypatch):
    from rag.cli import app as cli

    settings = app[1]
    feedback = settings.evals_dir / "feedback.jsonl"
    ask(page, "Who hinted that OpenAI might take legal action?")
    page.locator("#chat [data-testid='bot']").last.hover()
    page.locator("#chat button[aria-label='Dislike'], #chat button[title='Dislike']").last.click()
    page.wait_for_selector("#feedback-form", state="visible", timeout=30_000)
    page.fill("#feedback-keys textarea, #feedback-keys input", "Sam Altman, legal action")
    page.locator("#feedback-source input").fill(SEED_FILE)
    page.keyboard.press("Enter")
    page.click("#feedback-save")
    page.wait_for_function("document.querySelector('#feedback-status').innerText.includes('saved')",
                           timeout=30_000)
    record = json.loads(feedback.read_text().splitlines()[-1])
    assert record["answer_keys"] == ["Sam Altman", "legal action"] and record["sources"] == [SEED_FILE]
    assert record["question"] == "Who hinted that OpenAI might take legal action?" and record["answer_given"]
    monkeypatch.setenv("RAG_DOCS_DIR", str(settings.docs_dir))
    monkeypatch.setenv("RAG_INDEX_DIR", str(settings.index_dir))
    result = CliRunner().invoke(cli, ["eval", str(feedback), "--out", str(settings.index_dir.parent / "fb-run")])
    assert result.exit_code == 0, result.output
    summary = json.loads((settings.index_dir.parent / "fb-run" / "summary.json").read_text())
    assert summary, result.output
    shoot(page, "fit-thumbs-down")


def _download(page, selector: str) -> str:
    """The file a click on `selector` downloads; the button gets its file just after the answer shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(12):
        try:
            with page.expect_download(timeout=5_000) as info:
                page.click(selector)
            return str(info.value.path())
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"{selector} downloaded nothing in a minute")


def test_export_downloads_markdown_with_the_answer_and_its_quotes(page):
    ask(page, "How much did DeepSeek say R1 cost to develop?")
    answer = page.locator("#chat [data-testid='bot']").last.inner_text()
    assert "5.6 million" in answer
    text = Path(_download(page, "#export-chat")).read_text(encoding="utf-8")
    assert "## 1. How much did DeepSeek say R1 cost to develop?" in text and "$5.6 million" in text
    assert f"— {SEED_FILE}, characters" in text and "\n  > " in text


def test_the_format_corpus_through_an_upload(page, app, tmp_path):
    build_corpus(tmp_path / "good")
    build_broken(tmp_path / "bad", tmp_path / "good")
    files = [*sorted((tmp_path / "good").iterdir()), tmp_path / "bad" / "survey-encrypted.docx",
             tmp_path / "bad" / "revenue-damaged.xlsx"]
    status = upload(page, files, timeout_ms=300_000)
    assert "10 added" in status and "2 skipped" in status, status
    table = page.inner_text("#docs-table")
    assert "uploads/review.pptx" in table and "uploads/revenue.xlsx" in table
    page.get_by_role("tab", name="Chat").click()
    ask(page, "How many units did the Osprey project ship in March?")
    bot = page.locator("#chat [data-testid='bot']").last
    assert "7,300" in bot.inner_text()
    assert "uploads/review.pptx · slide 3" in open_citation(page, bot.locator("a.cite").first)
    ask(page, "What was the Q3 revenue of Zephyr Mills?")
    assert "4.8 million" in page.locator("#chat [data-testid='bot']").last.inner_text()
    shoot(page, "fit-formats-upload")
