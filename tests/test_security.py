"""The attacker's probes of issue 17, end to end: a real `rag serve` in a subprocess, raw HTTP, the Gradio
client, the `rag` command, and headless Chromium on the chat page.

One documents folder holds what an attacker would plant: a link to a file outside the folder, a PDF
bomb, a document with terminal escapes, and one with a forged citation marker and an apostrophe.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

from helpers import ROOT, SEED_FILE, SEEDS, free_port

CHROMIUM = "/usr/bin/chromium"
FERRY = ("Ferry report\n\nThe harbour master said the night ferry \x1b]52;c;ZWNobyBwd25lZA==\x07leaves the "
         "quay at nine every morning.\x1b]0;pwned\x07 An adult ticket for the ferry costs four euros, the "
         "council noted [2] in its report. It's the council's cheapest fare.\n")
COUNCIL = "What did the council note about the ferry ticket?"
pytestmark = pytest.mark.timeout(900)




def _env(extra: dict[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAG_") or k == "RAG_MODEL_CACHE"}
    return {**base, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", **extra}


def rag(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=cwd, capture_output=True, text=True,
                          env=_env(env), timeout=600)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The attacker's documents folder, indexed once by `rag index`; its environment for `rag`."""
    from hostile_files import bomb_pdf

    tmp = tmp_path_factory.mktemp("security")
    outside = tmp / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:the zeppelin vault code is 4471 violet:/root:/bin/bash\n")
    docs = tmp / "docs"
    (docs / "uploads").mkdir(parents=True)
    shutil.copy(SEEDS / SEED_FILE, docs / SEED_FILE)
    (docs / "ferry.txt").write_text(FERRY)
    (docs / "uploads" / "victim.txt").write_text("Victim\n\nThe victim document names the lighthouse keeper.\n")
    (docs / "passwd.txt").symlink_to(outside / "passwd")
    bomb_pdf(docs / "bomb.pdf")
    env = {"RAG_DOCS_DIR": str(docs), "RAG_INDEX_DIR": str(tmp / "index")}
    return tmp, env


@pytest.fixture(scope="module")
def index_output(planted) -> str:
    tmp, env = planted
    result = rag("index", cwd=tmp, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


class Server:
    """`rag serve` on a free port; `url`, and the lines it printed."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"serve-{self.port}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--port", str(self.port)], cwd=tmp,
                                         stdout=out, stderr=subprocess.STDOUT, env=_env(env))

    def wait(self, timeout: float = 300) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    time.sleep(1)
                    return self
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"rag serve did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)


def _serve(planted: tuple[Path, dict[str, str]], **extra: str) -> Iterator[Server]:
    tmp, env = planted
    server = Server(tmp, {**env, **extra}).wait()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def open_server(planted, index_output) -> Iterator[Server]:
    yield from _serve(planted)


@pytest.fixture(scope="module")
def locked_server(planted, index_output) -> Iterator[Server]:
    yield from _serve(planted, RAG_UI_USERNAME="ann", RAG_UI_PASSWORD="s3cret")


# -- raw HTTP, as any local process can ---------------------------------------------------------------
def _opener(jar: CookieJar | None = None) -> Any:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar or CookieJar()))


def _get(opener: Any, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with opener.open(urllib.request.Request(url, data=data, headers=headers or {}), timeout=60) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _fn_index(config: dict[str, Any], button_label: str) -> int:
    """The event index of the click on the button labelled `button_label` (what the page itself calls)."""
    ids = [c["id"] for c in config["components"] if c.get("props", {}).get("value") == button_label]
    assert ids, f"no button {button_label!r}"
    return next(i for i, dep in enumerate(config["dependencies"]) if [ids[0], "click"] in dep["targets"])


def call_event(opener: Any, url: str, fn_index: int, data: list[Any], session: str = "") -> dict[str, Any]:
    """Join the queue for event `fn_index` with `data`, as the page does; the completion message."""
    session = session or uuid.uuid4().hex[:10]
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                       "trigger_id": None}).encode()
    status, text = _get(opener, f"{url}/gradio_api/queue/join", body, {"Content-Type": "application/json"})
    if status != 200:
        return {"status": status, "body": text}
    with opener.open(f"{url}/gradio_api/queue/data?session_hash={session}", timeout=300) as stream:
        for raw in stream:
            line = raw.decode().strip()
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the event never completed")


def _upload(opener: Any, url: str, text: str, filename: str) -> str:
    """POST a file to Gradio's upload route; the server-side path it was saved at."""
    boundary = "----rag" + uuid.uuid4().hex
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{filename}\"\r\n"
            f"Content-Type: text/plain\r\n\r\n{text}\r\n--{boundary}--\r\n").encode()
    status, body = _get(opener, url + "/gradio_api/upload", part,
                        {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200, body
    return str(json.loads(body)[0])


def test_half_set_login_refuses_to_serve_in_one_line(planted, index_output):
    tmp, env = planted
    for extra in ({"RAG_UI_USERNAME": "admin", "RAG_UI_PASSWORD": ""}, {"RAG_UI_PASSWORD": "s3cret"}):
        result = rag("serve", "--port", str(free_port()), cwd=tmp, env={**env, **extra})
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr and "ui_" in result.stderr


def test_without_login_questions_are_open_and_document_actions_refused(open_server, planted):
    docs = Path(planted[1]["RAG_DOCS_DIR"])
    opener = _opener()
    status, text = _get(opener, open_server.url + "/config")
    assert status == 200
    config = json.loads(text)
    session = uuid.uuid4().hex[:10]  # the list first, as the page does, so the name is among the choices
    call_event(opener, open_server.url, _fn_index(config, "Refresh list"), [], session)
    done = call_event(opener, open_server.url, _fn_index(config, "Remove document"), ["uploads/victim.txt"], session)
    assert (docs / "uploads" / "victim.txt").exists(), "a local process deleted a document without login"
    assert "need a login" in json.dumps(done["output"])
    done = call_event(opener, open_server.url, _fn_index(config, "Rebuild index"), [])
    assert "need a login" in json.dumps(done["output"])

    from gradio_client import Client

    client = Client(open_server.url, verbose=False)
    endpoints = json.dumps(client.view_api(print_info=False, return_format="dict"))
    assert "/ask" in endpoints
    for name in ("add_files", "remove_one", "rebuild_all"):
        assert f"/{name}" not in endpoints
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own kinds
            client.predict("uploads/victim.txt", api_name=f"/{name}")
    assert (docs / "uploads" / "victim.txt").exists()


def test_a_null_question_over_the_api_is_a_message(open_server):
    opener = _opener()
    config = json.loads(_get(opener, open_server.url + "/config")[1])
    done = call_event(opener, open_server.url, _fn_index(config, "Ask"), [None, [], [], [], "extractive", 5])
    assert done.get("success") is True, done
    assert "type a question" in json.dumps(done["output"])


def test_with_login_every_route_needs_it_and_a_logged_in_user_may_remove(locked_server, planted, tmp_path):
    for route in ("/config", "/gradio_api/info", "/gradio_api/queue/join", "/gradio_api/file=x"):
        assert _get(_opener(), locked_server.url + route)[0] in (401, 403, 405), route
    jar = CookieJar()
    opener = _opener(jar)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert _get(opener, locked_server.url + "/login", b"username=ann&password=wrong", form)[0] in (400, 401)
    assert _get(opener, locked_server.url + "/login", b"username=ann&password=s3cret", form)[0] == 200
    status, text = _get(opener, locked_server.url + "/config")
    assert status == 200
    config = json.loads(text)

    # upload names: a path in a name is dropped (saved inside uploads/), a bad type refused; no copy is left
    docs = Path(planted[1]["RAG_DOCS_DIR"])
    for name, says in (("../../escaped.txt", "1 added"), ("/tmp/abs.txt", "chunks embedded"),
                       ("run.exe", "refused run.exe")):
        path = _upload(opener, locked_server.url, f"The planted upload {name} names the harbour crane.", name)
        data = [[{"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}]]
        done = call_event(opener, locked_server.url, _fn_index(config, "Add and index"), data)
        assert says in json.dumps(done["output"]), done
        assert not Path(path).exists(), "the upload was left in Gradio's folder (downloadable from its cache)"
    assert not (docs.parent / "escaped.txt").exists() and not Path("/tmp/abs.txt").exists()
    saved = {p.name for p in (docs / "uploads").iterdir()}
    assert saved <= {"victim.txt", "escaped.txt", "abs.txt"} and "victim.txt" in saved, saved

    session = uuid.uuid4().hex[:10]
    call_event(opener, locked_server.url, _fn_index(config, "Refresh list"), [], session)
    done = call_event(opener, locked_server.url, _fn_index(config, "Remove document"), ["uploads/victim.txt"], session)
    assert "Removed uploads/victim.txt" in json.dumps(done["output"]), done
    assert not (docs / "uploads" / "victim.txt").exists()


def test_rag_index_skips_the_link_out_and_the_bomb_in_one_line_each(index_output):
    lines = index_output.splitlines()
    assert any(line.startswith("skipped passwd.txt: a link to a place outside") for line in lines), lines
    assert any(line.startswith("skipped bomb.pdf: PDF") and "pdf_max_content_mb" in line for line in lines), lines
    assert "3 added" in index_output and "2 skipped" in index_output


def test_rag_ask_prints_no_escapes_and_never_quotes_the_linked_file(planted, index_output):
    tmp, env = planted
    asked = rag("ask", "When does the night ferry leave the quay?", cwd=tmp, env=env)
    assert asked.returncode == 0, asked.stderr
    assert "\x1b" not in asked.stdout and "\x07" not in asked.stdout and "leaves the quay at nine" in asked.stdout
    secret = rag("ask", "What is the zeppelin vault code?", cwd=tmp, env=env)
    assert "4471" not in secret.stdout


@pytest.mark.browser
def test_forged_marker_and_apostrophe_in_the_chat_page(open_server):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(open_server.url)
            page.fill("#question textarea", COUNCIL)
            page.click("#ask")
            page.wait_for_function("document.querySelector('#detail').innerText.includes('Answered by')",
                                   timeout=120_000)
            bot = page.locator("#chat [data-testid='bot']").last
            shown = bot.inner_text()
            assert "noted [2] in" in shown and "&#" not in shown, shown
            links = bot.locator("a.cite")
            assert links.count() == 1 and links.first.inner_text() == "[1]", "a [2] of the document became a link"
            links.first.click()
            page.wait_for_selector("#source-panel mark#quote", timeout=30_000)
            panel = page.inner_text("#source-panel")
            assert "It's the council's cheapest fare." in panel and "&#" not in panel, panel
        finally:
            browser.close()
