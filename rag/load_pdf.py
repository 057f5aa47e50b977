"""Text of a PDF, page by page (pypdf), with each page's character span kept."""

from __future__ import annotations

from pathlib import Path

from rag.load import SkipFile


def read_pdf(path: Path) -> tuple[str, tuple[tuple[int, int, int], ...]]:
    """(text, ((page number, start, end), ...)); pages joined by a blank line."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkipFile("encrypted PDF (needs a password)")
        page_texts = [(page.extract_text() or "").replace("\r\n", "\n").strip() for page in reader.pages]
    except SkipFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        reason = "encrypted PDF (needs a password)" if "decrypt" in str(exc).lower() else str(exc)[:100]
        raise SkipFile(f"unreadable PDF: {reason}") from None
    if not any(page_texts):
        raise SkipFile("PDF has no text layer (scanned?); OCR it first")
    parts: list[str] = []
    pages: list[tuple[int, int, int]] = []
    pos = 0
    for number, page_text in enumerate(page_texts, start=1):
        if not page_text:
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        parts.append(page_text)
        pages.append((number, pos, pos + len(page_text)))
        pos += len(page_text)
    return "".join(parts), tuple(pages)
