"""The records and interfaces of the answer pipeline (`rag.service.answer` runs it).

    clean -> rewrite follow-up -> embed -> retrieve -> rerank -> read -> answer -> check citations -> Answer

One `Retrieved` record flows from the retrieve step on: the standalone question, its vector, the hits,
the passages the extractive answerer reads, the idf of the lexical index and the question's unseen
words. The parts that get swapped are Protocols:

- `Reranker` (rerank step): re-orders the hits; `KeepOrder`, the default, changes nothing.
- `Answerer` (answer step): writes a `Draft` from a `Retrieved`; `rag.qa.ExtractiveAnswerer` quotes,
  `rag.generate.LLMAnswerer` asks a chat model. Which LLMs exist is `rag.backends.BACKENDS`.
- `CitationChecker` (check step): scores each drafted sentence against the passages it cites;
  `rag.cite.EmbeddingChecker` is the default.
- `Embedder` lives in `rag.embed`.

`Timings` times the steps (the `timings` of `rag ask --json`). Nothing heavy is imported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from rag.models import Answer, Hit

if TYPE_CHECKING:
    from rag.cite import Checked
    from rag.cite_markers import ParsedSentence

TokenFn = Callable[[str], None]
History = Sequence[tuple[str, str]]  # (question, answer text) pairs, oldest first


@dataclass(frozen=True)
class Asked:
    """The question as cleaned (`text`), the standalone form used for retrieval, and notices so far."""

    text: str
    standalone: str
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Retrieved:
    """What the retrieve step found for `question` (the standalone question), flowing to the answerers.

    `hits` are the k passages retrieved (re-ordered by the reranker); `passages` what the extractive
    answerer reads (the hits, plus the opening passage of the top documents for a "what is X?");
    `idf` weighs a term by its rarity in the index; `unseen` are question words no passage uses.
    """

    question: str
    vector: np.ndarray = field(repr=False)
    hits: tuple[Hit, ...]
    idf: Callable[[str], float] = field(repr=False)
    unseen: tuple[str, ...] = ()
    passages: tuple[Hit, ...] = ()

    @property
    def read(self) -> tuple[Hit, ...]:
        """The passages to answer from: `passages` once the read step ran, else the hits."""
        return self.passages or self.hits


@dataclass(frozen=True)
class Draft:
    """An answerer's reply before the check step.

    `answer` is set when there is nothing to check (the extractive answerer quotes exact spans);
    otherwise `text` holds the reply with `[n]` markers over `Retrieved.hits`, or `failure` says why
    there is none (the check step then shows the extractive answer with that notice). `streamed`:
    some of the reply already went to the caller's `on_token`.
    """

    answerer: str
    text: str = ""
    answer: Answer | None = None
    failure: str = ""
    streamed: bool = False
    where: str = ""  # where the answerer runs, for notices ("openai at http://...")


class Reranker(Protocol):
    """Re-orders (or trims) the retrieved hits before they are answered from."""

    def rerank(self, retrieved: Retrieved) -> Retrieved: ...


class Answerer(Protocol):
    """Writes a draft answer from the retrieved passages (`on_token` gets the text as it is written)."""

    name: str

    def answer(self, retrieved: Retrieved, history: History, on_token: TokenFn | None) -> Draft: ...


class CitationChecker(Protocol):
    """Scores each drafted sentence against the hits it cites (1-based numbers into `hits`)."""

    def check(self, sentences: Sequence[ParsedSentence], hits: Sequence[Hit]) -> list[Checked]: ...


class KeepOrder:
    """The default `Reranker`: the fused retrieval order, unchanged."""

    def rerank(self, retrieved: Retrieved) -> Retrieved:
        return retrieved


class Timings:
    """Seconds per named step, from one context manager:

    >>> timings = Timings()
    >>> with timings("retrieve"):
    ...     pass
    >>> sorted(timings.done())
    ['retrieve', 'total']
    """

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, step: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - t

    def done(self) -> dict[str, float]:
        """The step times and the `total` since this object was made."""
        return {**self.seconds, "total": time.perf_counter() - self.started}
