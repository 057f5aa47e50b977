"""The loader on a messy folder of real files: nothing lost, nothing raises, every skip explained."""

from __future__ import annotations

import contextlib
import os
import random
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.errors import NoDocumentsError
from rag.load import SkipFile, load, load_all, scan
from rag.models import Document


def _pdf(path: Path, pages: list[str] | None, encrypt: str | None = None) -> None:
    """A reportlab PDF with one line of text per page; None makes one page with only a rectangle."""
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


@dataclass
class Loaded:
    root: Path
    docs: dict[str, Document]
    reasons: dict[str, str]
    warnings: list[str]


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    docs = tmp_path_factory.mktemp("messy") / "docs"
    (docs / "a" / "b").mkdir(parents=True)
    (docs / "a" / "b" / "deep.txt").write_text("Deep title\n\nThe okapi lives in the Ituri forest.\n")
    (docs / "empty.txt").write_bytes(b"")
    (docs / "blank.txt").write_text(" \n\t\n   \n")
    (docs / "blob.txt").write_bytes(random.Random(7).randbytes(8192) + b"\x00" * 64)
    (docs / "latin1.txt").write_bytes("Café crème in Zürich costs 5 francs.\n".encode("latin-1"))
    (docs / "crlf.txt").write_bytes("\ufeffWindows line one\r\nline two\r\n".encode())
    (docs / "hash.txt").write_text("# not a heading in plain text\nbody\n")
    (docs / "one.md").write_text("# Markdown heading\n\nDuplicated body text about lemurs.\n")
    (docs / "a" / "copy.md").write_text("# Markdown heading\n\nDuplicated body text about lemurs.\n")
    (docs / "page.html").write_text(
        "<html><head><title>The Page</title><style>.x{color:red}</style></head><body>"
        "<script>alert(1)</script><h1>Heading</h1><p>Visible <b>words</b> here.</p><p>Second   para</p>"
        "<noscript>hidden fallback</noscript><svg><text>vector label</text></svg></body></html>")
    (docs / "untitled.html").write_text("<body><h1>Only a heading</h1><div>and a div</div></body>")
    _pdf(docs / "two.pdf", ["First page about aardvarks.", "Second page about pangolins."])
    _pdf(docs / "scan.pdf", None)
    _pdf(docs / "locked.pdf", ["Secret page."], encrypt="s3cret")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")
    (docs / "report.odt").write_bytes(b"PK\x03\x04 not really")
    os.symlink(docs, docs / "a" / "loop")  # a directory loop
    os.symlink(docs / "a", docs / "a" / "b" / "up")  # another way back up
    (docs / "dangling.txt").symlink_to(docs / "missing.txt")
    os.mkfifo(docs / "fifo.txt")  # cannot be read as a file, even by root
    (docs / "long.txt").write_text("word " * 200_000)  # a single 1 MB line
    (docs / "long_title.md").write_text("# " + "lengthy " * 100 + "\n\nbody\n")
    (docs / ".hidden.txt").write_text("never indexed")
    (docs / ".git").mkdir()
    (docs / ".git" / "notes.txt").write_text("never indexed either")
    warnings: list[str] = []
    loaded, skipped = load_all(docs, warn=warnings.append)
    reasons = {s.path: s.reason for s in skipped}
    assert len(reasons) == len(skipped), "each path is reported once"
    return Loaded(docs, {d.path: d for d in loaded}, reasons, warnings)


def test_nested_text_files_load_with_first_line_titles(messy: Loaded):
    deep = messy.docs["a/b/deep.txt"]
    assert deep.title == "Deep title" and "okapi" in deep.text and deep.pages == ()
    assert messy.docs["hash.txt"].title == "# not a heading in plain text", "'#' is stripped in markdown only"
    crlf = messy.docs["crlf.txt"]
    assert crlf.text == "Windows line one\nline two\n" and crlf.title == "Windows line one"


def test_latin1_is_decoded_with_a_warning_naming_the_file(messy: Loaded):
    assert messy.docs["latin1.txt"].text.startswith("Café crème in Zürich")
    assert any(w.startswith("latin1.txt: not valid UTF-8, decoded as") for w in messy.warnings)


def test_duplicates_are_indexed_once_with_their_other_paths(messy: Loaded):
    doc = messy.docs["a/copy.md"]
    assert doc.aliases == ("one.md",) and "one.md" not in messy.docs and "one.md" not in messy.reasons
    assert doc.title == "Markdown heading"


def test_long_lines_and_long_titles(messy: Loaded):
    assert len(messy.docs["long.txt"].text) == 1_000_000
    assert len(messy.docs["long.txt"].title) <= 200
    title = messy.docs["long_title.md"].title
    assert title.startswith("lengthy lengthy") and len(title) <= 200 and title.endswith("…")


def test_html_keeps_visible_text_only(messy: Loaded):
    page = messy.docs["page.html"]
    assert page.title == "The Page"
    assert "Visible words here." in page.text and "Second para" in page.text
    for hidden in ("alert", "color", "hidden fallback", "vector label", "The Page"):
        assert hidden not in page.text
    assert messy.docs["untitled.html"].title == "Only a heading"
    assert messy.docs["untitled.html"].text == "Only a heading\nand a div"


def test_pdf_pages_have_offsets_into_the_text(messy: Loaded):
    pdf = messy.docs["two.pdf"]
    assert [p[0] for p in pdf.pages] == [1, 2]
    (_, s1, e1), (_, s2, e2) = pdf.pages
    assert "aardvarks" in pdf.text[s1:e1] and "pangolins" not in pdf.text[s1:e1]
    assert "pangolins" in pdf.text[s2:e2] and pdf.text[e1:s2] == "\n\n"
    assert pdf.title == "First page about aardvarks."


def test_every_unusable_file_is_reported_with_a_reason(messy: Loaded):
    r = messy.reasons
    assert r["empty.txt"] == "empty file"
    assert r["blank.txt"] == "no text"
    assert r["blob.txt"] == "binary content"
    assert r["scan.pdf"] == "PDF has no text layer (scanned?); OCR it first"
    assert r["locked.pdf"].startswith("encrypted PDF")
    assert r["broken.pdf"].startswith("unreadable PDF: ")
    assert r["report.odt"] == "unsupported type .odt"
    assert r["dangling.txt"].startswith("unreadable")
    assert r["fifo.txt"] == "not a regular file"
    assert all("\n" not in reason for reason in r.values())


def test_hidden_entries_and_symlink_loops_are_not_followed(messy: Loaded):
    seen = list(messy.docs) + list(messy.reasons)
    assert not any(".hidden" in p or ".git" in p for p in seen)
    assert not any("/loop/" in p or "/up/" in p for p in seen), "each real folder is walked once"
    expected = {"a/b/deep.txt", "a/copy.md", "crlf.txt", "hash.txt", "latin1.txt", "long.txt",
                "long_title.md", "page.html", "two.pdf", "untitled.html"}
    assert set(messy.docs) == expected


def test_scan_is_deterministic(messy: Loaded):
    first, second = scan(messy.root), scan(messy.root)
    assert first == second
    assert [f.path for f in first[0]] == sorted(f.path for f in first[0])
    assert all(len(f.sha) == 64 and f.size > 0 for f in first[0])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode (the FIFO covers root)")
def test_unreadable_file_is_skipped(tmp_path: Path):
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "secret.txt").chmod(0)
    _, skipped = load_all(tmp_path)
    assert skipped == [type(skipped[0])("secret.txt", "permission denied")]


def test_few_nul_bytes_are_removed_with_a_warning(tmp_path: Path):
    (tmp_path / "nul.txt").write_bytes(b"Some text" + b"\x00" + b" with one NUL byte in a long line." * 20)
    warnings: list[str] = []
    docs, _ = load_all(tmp_path, warn=warnings.append)
    assert "\x00" not in docs[0].text and docs[0].text.startswith("Some text with")
    assert warnings == ["nul.txt: removed 1 NUL bytes"]


def test_encoding_of_a_big_file_is_detected_where_utf8_breaks(tmp_path: Path):
    ascii_part = ("plain ascii line\n" * 180_000).encode()  # about 3 MB before the first Latin-1 byte
    (tmp_path / "big.txt").write_bytes(ascii_part + "Déjà vu à Zürich.\n".encode("latin-1") * 1000)
    warnings: list[str] = []
    docs, _ = load_all(tmp_path, warn=warnings.append)
    assert docs[0].text.endswith("Déjà vu à Zürich.\n") and len(warnings) == 1


def test_a_big_file_loads_without_copies_piling_up(tmp_path: Path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"a fairly ordinary line of text\r\n" * 300_000)  # about 10 MB
    (file,), _ = scan(tmp_path)
    tracemalloc.start()
    try:
        doc = load(file)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(doc.text) == 31 * 300_000
    assert peak < 2.5 * file.size, f"peak {peak / 1e6:.1f} MB for a {file.size / 1e6:.1f} MB file"


def test_size_limit_and_odd_file_names(tmp_path: Path):
    (tmp_path / "big.md").write_text("x" * 3000)
    (tmp_path / os.fsdecode(b"bad\xffname.txt")).write_text("content")
    files, skipped = scan(tmp_path, max_file_mb=0.002)
    assert files == []
    assert [(s.path, s.reason) for s in skipped] == [
        ("bad\ufffdname.txt", "file name is not valid UTF-8; rename it"),
        ("big.md", "larger than 0.002 MB"),
    ]


def test_missing_folder_is_a_clear_error(tmp_path: Path):
    with pytest.raises(NoDocumentsError, match="does not exist"):
        scan(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NoDocumentsError):
        load_all(tmp_path / "file.txt")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=3000),
       suffix=st.sampled_from([".txt", ".txt", ".md", ".html", ".pdf"]))
def test_loader_never_raises_on_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, data: bytes,
                                                suffix: str):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / f"f{suffix}").write_bytes(data)
    docs, skipped = load_all(folder)
    assert len(docs) + len(skipped) == 1
    files, _ = scan(folder)
    for file in files:
        with contextlib.suppress(SkipFile):  # the only exception load may raise
            load(file)
