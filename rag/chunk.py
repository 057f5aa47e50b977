"""Sentence-aware chunking with exact character offsets.

A chunk is a run of whole sentences of one document (one page, for PDFs) of at most `chunk_size`
characters; consecutive chunks repeat up to `chunk_overlap` characters of trailing sentences. A
sentence longer than `chunk_size` is cut at white space. A document with sections (a slide, a
spreadsheet row, a heading's text: see rag.load_office) is chunked one section at a time, and each chunk
carries its section's label as `location`. Every chunk satisfies
`document.text[chunk.start:chunk.end] == chunk.text`. Ids are derived from the content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from rag.models import Chunk, Document
from rag.text import sentence_spans


def chunk_id(doc_sha: str, start: int, end: int) -> str:
    return hashlib.sha1(f"{doc_sha}:{start}:{end}".encode()).hexdigest()[:20]


def _pieces(text: str, start: int, end: int, size: int) -> Iterator[tuple[int, int]]:
    """Sentence spans of text[start:end], long sentences cut at white space to at most `size`."""
    for s, e in sentence_spans(text, start, end):
        while e - s > size:
            cut = text.rfind(" ", s + size // 2, s + size)
            cut = cut if cut > s else s + size
            yield s, cut
            s = cut
            while s < e and text[s].isspace():
                s += 1
        if e > s:
            yield s, e


def _windows(spans: list[tuple[int, int]], size: int, overlap: int) -> Iterator[tuple[int, int]]:
    """Group consecutive spans into windows of at most `size` chars, overlapping by whole spans."""
    i = 0
    while i < len(spans):
        j = i + 1
        while j < len(spans) and spans[j][1] - spans[i][0] <= size:
            j += 1
        yield spans[i][0], spans[j - 1][1]
        if j >= len(spans):
            return
        back = j  # step back over trailing spans, but only as far as still leaves room for span j:
        while (back - 1 > i and spans[j - 1][1] - spans[back - 1][0] <= overlap  # else the next window
               and spans[j][1] - spans[back - 1][0] <= size):  # would lie inside this one
            back -= 1
        i = back


def _page_ranges(doc: Document) -> list[tuple[int | None, str, int, int]]:
    """(page, location, start, end) of each part a chunk must stay inside: a PDF page, a section, or all."""
    if doc.pages:
        return [(page, "", start, end) for page, start, end in doc.pages]
    if doc.sections:
        return [(None, location, start, end) for location, start, end in doc.sections]
    return [(None, "", 0, len(doc.text))]


def chunk_document(doc: Document, size: int = 800, overlap: int = 150) -> list[Chunk]:
    """Split `doc` into chunks; see the module docstring for the guarantees."""
    chunks: list[Chunk] = []
    for page, location, page_start, page_end in _page_ranges(doc):
        spans = list(_pieces(doc.text, page_start, page_end, size))
        for start, end in _windows(spans, size, overlap):
            chunks.append(Chunk(
                id=chunk_id(doc.sha, start, end), source=doc.path, title=doc.title,
                text=doc.text[start:end], start=start, end=end, ordinal=len(chunks), page=page,
                doc_sha=doc.sha, location=location,
            ))
    return chunks
