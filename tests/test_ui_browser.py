"""The real app on a free port, driven in headless Chromium (Debian `chromium`, Playwright)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import ROOT, SEED_FILE, SEEDS, free_port, make_settings

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "artifacts"
pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists() and os.environ.get("CI") != "true":
    pytest.skip("Debian chromium is not installed (CI installs it)", allow_module_level=True)




@pytest.fixture(scope="module")
def app(tmp_path_factory, embedder):
    from rag.service import get_engine
    from rag.webui import build_demo, launch

    tmp = tmp_path_factory.mktemp("ui")
    docs = tmp / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / SEED_FILE, docs / SEED_FILE)
    (docs / "evil.txt").write_text("Evil page\n\nThe marmoset ledger says <script>alert(1)</script> and "
                                   "<img src=x onerror=alert(2)> <b>bold</b> are only text.\n")
    evals = tmp / "evals"
    evals.mkdir()
    shutil.copy(ROOT / "evals" / "seed.jsonl", evals / "seed.jsonl")
    settings = make_settings(tmp, docs, ui_port=free_port(), evals_dir=evals, ui_open_documents=True)
    engine = get_engine(settings)
    engine.embedder = embedder
    engine.retriever.embedder = embedder
    engine.ensure_index()
    demo = build_demo(settings)
    launch(demo, settings, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{settings.ui_port}", tmp
    demo.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@pytest.fixture
def page(browser, app):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(app[0])
    yield page
    assert not dialogs, f"a script from a document ran: {dialogs}"
    page.close()


def ask(page, question: str) -> None:
    """Ask, then wait until one more answer is there, complete."""
    before = page.locator("#chat [data-testid='bot']").count()
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_function(
        "n => document.querySelectorAll(\"#chat [data-testid='bot']\").length > n && "
        "!document.querySelector('#chat').innerText.includes('▌') && "
        "document.querySelector('#detail').innerText.includes('Answered by')", arg=before, timeout=120_000)


def upload(page, files: list[Path], timeout_ms: int = 120_000) -> str:
    """Add `files` through the Documents tab; the status line once they are indexed."""
    page.get_by_role("tab", name="Documents").click()
    page.set_input_files("#upload input[type=file]", [str(f) for f in files])
    page.wait_for_timeout(2000)
    page.click("#add-docs")
    page.wait_for_function("document.querySelector('#docs-status textarea').value.includes('chunks embedded')",
                           timeout=timeout_ms)
    return page.input_value("#docs-status textarea")


def open_citation(page, link) -> str:
    """Click a citation link of an answer; the source panel's text once its quote is marked."""
    link.click()
    page.wait_for_selector("#source-panel mark#quote", timeout=30_000)
    return page.inner_text("#source-panel")


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_ask_click_citation_and_see_the_quote(page):
    ask(page, "Who claimed what about export controls?")
    bot = page.locator("#chat [data-testid='bot']").last
    assert "Sacks" in bot.inner_text()
    link = bot.locator("a.cite").first
    assert link.inner_text() == "[1]" and link.evaluate("a => a.parentElement.tagName") == "SUP"
    assert SEED_FILE in open_citation(page, link)
    assert "repealing certain export controls" in page.inner_text("#source-panel mark#quote")
    shoot(page, "chat-citation")


def test_uploaded_document_is_indexed_and_cited(page, app, tmp_path):
    fact = tmp_path / "zorblax.txt"
    fact.write_text("Zorblax report\n\nThe Zorblax festival of 2031 will be held in the town of Quimperlé.\n")
    upload(page, [fact])
    assert "uploads/zorblax.txt" in page.inner_text("#docs-table")
    shoot(page, "documents-upload")
    page.get_by_role("tab", name="Chat").click()
    ask(page, "Where will the Zorblax festival be held?")
    bot = page.locator("#chat [data-testid='bot']").last
    assert "Quimperlé" in bot.inner_text()
    assert "uploads/zorblax.txt" in open_citation(page, bot.locator("a.cite").first)
    shoot(page, "upload-answer")


def test_document_markup_shows_as_text_and_no_script_runs(page):
    ask(page, "What does the marmoset ledger say?")
    panel = open_citation(page, page.locator("#chat [data-testid='bot'] a.cite").last)
    assert "<script>alert(1)</script>" in panel and "<b>bold</b>" in panel
    assert page.locator("#source-panel script, #source-panel img, #source-panel b").count() == 0
    shoot(page, "escaped-markup")
