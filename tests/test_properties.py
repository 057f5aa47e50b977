"""Properties of the chunker and the sentence splitter, for any text (hypothesis).

The loader's never-raises property is in test_load.py and the citation-marker parser's in test_llm.py.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.chunk import chunk_document
from rag.models import Document
from rag.text import sentence_spans

pytestmark = pytest.mark.unit

# Prose-like pieces (abbreviations, initialisms, quotes, figures, long words, odd white space) mixed
# with arbitrary characters, so that sentence ends, long sentences and white space runs all occur.
_PIECES = ["The cat sat.", "Mr. Smith said so!", "U.S. firms", "“Really?” she asked.", "$5.6 million",
           " ", "  ", "\n", "\n\n", "\t", "\u00a0", "\u3000", "\u2028", "...", "…", "A", "x" * 120,
           "word " * 30, "Ends here. Next one", "e.g. this", "(1995).", "日本語の文。", "مرحبا بالعالم.",
           "🤖", "a\u0301", "\r\n", "\x0b\x0c"]
TEXT = st.one_of(
    st.lists(st.sampled_from(_PIECES) | st.text(max_size=12), max_size=120).map("".join),
    st.text(alphabet=st.sampled_from(list("ab .!?\n\t\"“”'()1A") + ["\u00a0"]), max_size=1500),
    st.text(max_size=400),
)
CASES = settings(max_examples=60, deadline=None)


def _doc(text: str, pages: tuple[tuple[int, int, int], ...] = ()) -> Document:
    return Document(path="f.txt", title="t", text=text, sha=hashlib.sha256(text.encode("utf-8", "surrogatepass"))
                    .hexdigest(), pages=pages)


def _page_ranges(text: str, cuts: list[int]) -> tuple[tuple[int, int, int], ...]:
    bounds = sorted({0, len(text), *(min(c, len(text)) for c in cuts)})
    return tuple((n + 1, a, b) for n, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)))


def _check_chunks(doc: Document, size: int, overlap: int) -> None:
    chunks = chunk_document(doc, size, overlap)
    text = doc.text
    covered = bytearray(len(text))
    pages = doc.pages or ((None, 0, len(text)),)
    for n, c in enumerate(chunks):
        assert text[c.start:c.end] == c.text, "offsets round-trip"
        assert c.ordinal == n
        assert 0 < len(c.text) <= size, "never empty, never over chunk_size"
        assert not c.text[0].isspace() and c.text.strip(), "starts at text (a cut sentence may end in a space)"
        page = next(p for p in pages if p[1] <= c.start and c.end <= p[2])  # inside one page
        assert c.page == page[0]
        assert c.source == doc.path and c.doc_sha == doc.sha
        covered[c.start:c.end] = b"\x01" * (c.end - c.start)
    for a, b in zip(chunks, chunks[1:], strict=False):
        if a.page == b.page:
            assert a.start < b.start and a.end < b.end, "in document order, each one reaching further"
            assert max(0, a.end - b.start) <= overlap, "consecutive chunks repeat at most chunk_overlap"
    missed = [i for i, ch in enumerate(text) if not covered[i] and not ch.isspace()]
    assert not missed, f"non-white-space characters in no chunk: {missed[:10]}"
    again = chunk_document(doc, size, overlap)
    assert [c.id for c in again] == [c.id for c in chunks], "ids are stable"
    assert len({c.id for c in chunks}) == len(chunks), "ids are unique"


@CASES
@given(text=TEXT, size=st.integers(20, 1000), overlap_share=st.floats(0, 1.5))
def test_chunks_round_trip_and_cover_the_text(text: str, size: int, overlap_share: float):
    _check_chunks(_doc(text), size, int(size * overlap_share))


@CASES
@given(text=TEXT, size=st.sampled_from([100, 300, 800]), overlap=st.sampled_from([0, 50, 150]),
       cuts=st.lists(st.integers(0, 2000), max_size=5))
def test_pdf_pages_are_chunked_page_by_page(text: str, size: int, overlap: int, cuts: list[int]):
    _check_chunks(_doc(text, _page_ranges(text, cuts)), size, overlap)


@settings(max_examples=150, deadline=None)
@given(text=TEXT, bounds=st.tuples(st.integers(0, 2000), st.integers(0, 2000)))
def test_sentence_spans_round_trip_inside_their_range(text: str, bounds: tuple[int, int]):
    start, end = sorted(min(b, len(text)) for b in bounds)
    spans = list(sentence_spans(text, start, end))
    last = start
    for s, e in spans:
        assert last <= s < e <= end, "ordered, non-empty, not overlapping, inside the range"
        assert not text[s].isspace() and not text[e - 1].isspace(), "stripped"
        last = e
    inside = {i for s, e in spans for i in range(s, e)}
    assert all(text[i].isspace() for i in range(start, end) if i not in inside), "all text in some sentence"
    assert list(sentence_spans(text)) == list(sentence_spans(text, 0, len(text)))
