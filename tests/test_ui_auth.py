"""The UI listens on loopback by default, and with a username/password every route needs login."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from pydantic import SecretStr

from helpers import free_port, make_settings


def _status(url: str, data: bytes | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_default_host_is_loopback():
    from rag.config import Settings

    assert Settings.model_fields["ui_host"].default == "127.0.0.1"


@pytest.fixture
def locked_app(tmp_path, seed_docs):
    from rag.webui import build_demo, launch

    settings = make_settings(tmp_path, seed_docs, ui_port=free_port(), ui_username="ann",
                             ui_password=SecretStr("s3cret"))
    demo = build_demo(settings)
    launch(demo, settings, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{settings.ui_port}"
    demo.close()


def test_every_route_needs_login(locked_app):
    for route in ("/config", "/gradio_api/info", "/gradio_api/queue/join", "/gradio_api/upload", "/gradio_api/file=x"):
        assert _status(locked_app + route) in (401, 403, 405), route
    assert _status(locked_app + "/gradio_api/queue/join", data=b"{}") in (401, 403)
    page = urllib.request.urlopen(locked_app + "/", timeout=30).read().decode()
    assert "login" in page.lower() or "auth_required" in page.lower()
    assert _status(locked_app + "/login", data=b"username=ann&password=wrong") in (400, 401)
    assert _status(locked_app + "/login", data=b"username=ann&password=s3cret") == 200
