"""Text of a PDF, page by page (pypdf), with each page's character span kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.errors import SkipFile, one_line
from rag.limits import FileLimits, current_limits
from rag.load_office import join_blocks


def _page_texts(reader: Any, limits: FileLimits) -> list[str]:
    """Each page's text; SkipFile past the page limit, or once the pages' content streams together
    decompress to more than the content limit (pages sharing one stream count it each time)."""
    if len(reader.pages) > limits.pdf_pages:
        raise SkipFile(f"PDF of {len(reader.pages)} pages is over the {limits.pdf_pages} page limit (pdf_max_pages)")
    left, texts = limits.pdf_content_mb * 1e6, []
    for page in reader.pages:
        contents = page.get_contents()
        left -= len(contents.get_data()) if contents is not None else 0
        if left < 0:
            raise SkipFile(f"PDF content over {limits.pdf_content_mb:g} MB once decompressed (pdf_max_content_mb)")
        texts.append((page.extract_text() or "").replace("\r\n", "\n").strip())
    return texts


def read_pdf(path: Path) -> tuple[str, tuple[tuple[int, int, int], ...]]:
    """(text, ((page number, start, end), ...)); pages joined by a blank line."""
    from pypdf import PdfReader, apply_configuration
    from pypdf.errors import LimitReachedError, PdfReadError

    limits = current_limits()
    most = int(limits.pdf_content_mb * 1e6)
    try:
        with apply_configuration(zlib_maximum_output_length=most, lzw_maximum_output_length=most,
                                 run_length_maximum_output_length=most, maximum_declared_stream_length=most):
            reader = PdfReader(str(path))
            if reader.is_encrypted and not reader.decrypt(""):
                raise SkipFile("encrypted PDF (needs a password)")
            page_texts = _page_texts(reader, limits)
    except SkipFile:
        raise
    except LimitReachedError as exc:
        raise SkipFile(f"PDF over a safety limit ({str(exc)[:80]}; pdf_max_content_mb)") from None
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        reason = "encrypted PDF (needs a password)" if "decrypt" in str(exc).lower() else one_line(exc, 100)
        raise SkipFile(f"unreadable PDF: {reason}") from None
    if not any(page_texts):
        raise SkipFile("PDF has no text layer (scanned?); OCR it first")
    return join_blocks(enumerate(page_texts, start=1))
