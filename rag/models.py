"""The frozen records that flow through the pipeline: Document -> Chunk -> Hit -> Citation -> Answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

SentenceStatus = Literal["supported", "weak", "unsupported"]


@dataclass(frozen=True)
class Document:
    """One loaded file. `path` is relative to the documents folder, POSIX style."""

    path: str
    title: str
    text: str
    sha: str
    pages: tuple[tuple[int, int, int], ...] = ()  # (page number, start, end) for PDFs
    aliases: tuple[str, ...] = ()  # other paths holding identical content
    sections: tuple[tuple[str, int, int], ...] = ()  # (location, start, end): "slide 3", "sheet S, row 7", ...


@dataclass(frozen=True)
class Chunk:
    """A span of a document: `document.text[start:end] == text`."""

    id: str
    source: str
    title: str
    text: str
    start: int
    end: int
    ordinal: int
    page: int | None = None
    doc_sha: str = ""
    location: str = ""  # where a reader finds it besides the page: "slide 3", "sheet Sales, row 7", a heading
    sentence_vectors: str = field(default="", repr=False, compare=False)  # see rag.sentvec; "" when not stored


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score, its 1-based rank and the scores of each retriever."""

    chunk: Chunk
    score: float
    rank: int
    dense: float | None = None
    lexical: float | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {"rank": self.rank, "source": c.source, "title": c.title, "page": c.page, "location": c.location,
                "start": c.start,
                "end": c.end, "score": round(self.score, 6), "dense": self.dense, "lexical": self.lexical}


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: the exact quote and where it stands in its document."""

    n: int
    source: str
    title: str
    page: int | None
    start: int
    end: int
    quote: str
    score: float
    chunk_id: str = ""
    passage: str = ""  # the surrounding chunk text, for display
    passage_start: int = 0  # where `passage` starts in the document
    location: str = ""  # the chunk's location ("slide 3", "sheet Sales, row 7", 'heading “Results”')

    @property
    def where(self) -> str:
        """The page or location a reader looks for: "page 4", "slide 3", "" when neither is known."""
        return self.location or (f"page {self.page}" if self.page else "")

    @classmethod
    def of_span(cls, n: int, chunk: Chunk, start: int, end: int, score: float, quote: str | None = None) -> Citation:
        """Citation `n`: the text of `chunk` from `start` to `end` (document offsets), or `quote` if given."""
        if quote is None:
            quote = chunk.text[start - chunk.start:end - chunk.start]
        return cls(n=n, source=chunk.source, title=chunk.title, page=chunk.page, start=start, end=end, quote=quote,
                   score=score, chunk_id=chunk.id, passage=chunk.text, passage_start=chunk.start,
                   location=chunk.location)


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of an answer, the sources it cites and whether they support it."""

    text: str
    citations: tuple[int, ...]
    status: SentenceStatus
    score: float
    reason: str = ""  # why it is not supported ("the source names Rover"; weak: 'the source does not say "weaken"')


@dataclass(frozen=True)
class Answer:
    """What `rag.answer` returns; `to_dict` is the JSON of `rag ask --json`."""

    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    nearest: tuple[Citation, ...] = ()
    answerer: str = "extractive"
    standalone_question: str = ""
    sentences: tuple[SentenceCheck, ...] = ()
    citation_precision: float | None = None
    removed_markers: int = 0
    notices: tuple[str, ...] = ()
    hits: tuple[Hit, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    confidence: float | None = None  # fitted extractive scorer: probability that the quoted answer holds

    @property
    def unsupported_count(self) -> int:
        return sum(1 for s in self.sentences if s.status == "unsupported")

    def to_dict(self) -> dict[str, Any]:
        def citation(c: Citation) -> dict[str, Any]:
            d = asdict(c)
            d["score"] = round(c.score, 4)
            return d

        return {
            "question": self.question,
            "standalone_question": self.standalone_question or self.question,
            "text": self.text,
            "abstained": self.abstained,
            "answerer": self.answerer,
            "citations": [citation(c) for c in self.citations],
            "nearest": [citation(c) for c in self.nearest],
            "sentences": [asdict(s) for s in self.sentences],
            "citation_precision": self.citation_precision,
            "unsupported": self.unsupported_count,
            "removed_markers": self.removed_markers,
            "notices": list(self.notices),
            "retrieved": [h.to_dict() for h in self.hits],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "confidence": None if self.confidence is None else round(self.confidence, 4),
        }
