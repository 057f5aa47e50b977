"""The loader on a messy folder of real files: nothing lost, nothing raises, every skip explained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.errors import NoDocumentsError
from rag.load import load_all, scan


def _pdf(path: Path, pages: list[str] | None, encrypt: str | None = None) -> None:
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path))
    for text in pages or [""]:
        if text:
            c.drawString(72, 720, text)
        else:
            c.rect(72, 600, 200, 100, fill=1)
        c.showPage()
    c.save()
    if encrypt:
        from pypdf import PdfReader, PdfWriter

        writer = PdfWriter(clone_from=PdfReader(str(path)))
        writer.encrypt(user_password=encrypt, owner_password=encrypt)
        with path.open("wb") as handle:
            writer.write(handle)


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "a" / "b").mkdir(parents=True)
    (docs / "a" / "b" / "deep.txt").write_text("Deep title\n\nThe okapi lives in the Ituri forest.\n")
    (docs / "empty.txt").write_bytes(b"")
    (docs / "blob.txt").write_bytes(bytes(range(256)) * 40)
    (docs / "latin1.txt").write_bytes("Café crème in Zürich costs 5 francs.\n".encode("latin-1"))
    (docs / "one.md").write_text("# Markdown heading\n\nDuplicated body text about lemurs.\n")
    (docs / "a" / "copy.md").write_text("# Markdown heading\n\nDuplicated body text about lemurs.\n")
    (docs / "page.html").write_text(
        "<html><head><title>The Page</title><style>.x{color:red}</style></head><body>"
        "<script>alert(1)</script><h1>Heading</h1><p>Visible <b>words</b> here.</p>"
        "<noscript>hidden fallback</noscript></body></html>")
    _pdf(docs / "two.pdf", ["First page about aardvarks.", "Second page about pangolins."])
    _pdf(docs / "scan.pdf", None)
    _pdf(docs / "locked.pdf", ["Secret page."], encrypt="s3cret")
    (docs / "report.docx").write_bytes(b"PK\x03\x04 not really")
    (docs / "a" / "loop").symlink_to(docs, target_is_directory=True)
    (docs / "dangling.txt").symlink_to(docs / "missing.txt")
    (docs / "long.txt").write_text("word " * 200_000)
    (docs / ".hidden.txt").write_text("never indexed")
    return docs


def test_messy_folder_loads_what_is_readable_and_reports_the_rest(messy: Path):
    warnings: list[str] = []
    docs, skipped = load_all(messy, warn=warnings.append)
    by_path = {d.path: d for d in docs}
    reasons = {s.path: s.reason for s in skipped}

    assert "a/b/deep.txt" in by_path and by_path["a/b/deep.txt"].title == "Deep title"
    assert by_path["latin1.txt"].text.startswith("Café crème in Zürich")
    assert any("latin1.txt" in w and "UTF-8" in w for w in warnings)
    assert by_path["a/copy.md"].aliases == ("one.md",) and "one.md" not in by_path
    assert by_path["a/copy.md"].title == "Markdown heading"

    page = by_path["page.html"]
    assert page.title == "The Page" and "Visible words here." in page.text
    assert "alert" not in page.text and "color" not in page.text and "hidden fallback" not in page.text

    pdf = by_path["two.pdf"]
    assert [p[0] for p in pdf.pages] == [1, 2]
    (_, s1, e1), (_, s2, e2) = pdf.pages
    assert "aardvarks" in pdf.text[s1:e1] and "pangolins" in pdf.text[s2:e2]
    assert len(by_path["long.txt"].text) == 1_000_000

    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["blob.txt"]
    assert "no text layer" in reasons["scan.pdf"]
    assert "encrypted" in reasons["locked.pdf"]
    assert "unsupported" in reasons["report.docx"]
    assert "dangling.txt" in reasons
    assert not any(".hidden" in p for p in list(by_path) + list(reasons))
    assert not any(p.startswith("a/loop/") for p in by_path), "the symlink loop is not followed twice"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_skipped(tmp_path: Path):
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "secret.txt").chmod(0)
    _, skipped = load_all(tmp_path)
    assert skipped[0].reason == "permission denied"


def test_nul_bytes_are_removed_with_a_warning(tmp_path: Path):
    (tmp_path / "nul.txt").write_bytes(b"Some text" + b"\x00" + b" with one NUL byte in a long line." * 20)
    warnings: list[str] = []
    docs, _ = load_all(tmp_path, warn=warnings.append)
    assert "\x00" not in docs[0].text and any("NUL" in w for w in warnings)


def test_missing_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(NoDocumentsError, match="does not exist"):
        scan(tmp_path / "nope")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=3000), suffix=st.sampled_from([".txt", ".md", ".html", ".pdf"]))
def test_loader_never_raises_on_arbitrary_bytes(tmp_path_factory, data: bytes, suffix: str):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / f"f{suffix}").write_bytes(data)
    docs, skipped = load_all(folder)
    assert len(docs) + len(skipped) == 1
