"""The default answerer: no LLM, never a word that is not in the documents.

From the retrieved chunks it scores every sentence against the question (embedding cosine plus
idf-weighted coverage of the question's terms, plus a bonus when the sentence has the kind of thing
the question asks for: a figure for "how much", a date for "when", a named speaker for "who"), and
answers with the best sentences quoted verbatim, each followed by its citation marker. When even the
best sentence scores under `abstain_threshold`, it says the documents do not say, with no citation,
and lists the nearest passages instead. It does not paraphrase, summarise or combine facts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rag.config import Settings
from rag.embed import Embedder
from rag.lexical import analyze
from rag.models import Answer, Citation, Hit
from rag.text import person_like_names, sentence_spans

_SPEECH = re.compile(r"\b(said|says|claim\w*|argu\w*|warn\w*|not\w*|stat\w*|told|believ\w*|call\w*|"
                     r"hint\w*|voic\w*|suggest\w*|highlight\w*|point\w*|caution\w*|accus\w*|insist\w*|"
                     r"add\w*|advocat\w*|speculat\w*|expect\w*|predict\w*|admit\w*|announc\w*)\b", re.I)
_FIGURE = re.compile(r"[$£€]\s?\d|\d+(?:\.\d+)?\s?(?:%|per ?cent|million|billion|bn|m\b|thousand)|\b\d[\d,.]*\b")
_DATE = re.compile(r"\b(?:19|20)\d\d\b|\b(?:January|February|March|April|May|June|July|August|September|"
                   r"October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_PREFILTER = 16
W_COSINE, W_COVERAGE, W_TYPE, W_NAMES, W_FIGURES = 0.55, 0.45, 0.06, 0.15, 0.15


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved chunk, located in its document, with its score."""

    hit: Hit
    start: int  # in the document
    end: int
    text: str
    coverage: float
    score: float = 0.0


def expected_type(question: str) -> str | None:
    q = question.lower().strip()
    if re.match(r"(how (much|many|big|large|long|far|old)|what (percentage|share|amount|price|figure))", q):
        return "figure"
    if q.startswith("when") or re.match(r"(what|which) (day|date|year|month)", q):
        return "date"
    if q.startswith(("who", "whose", "whom")) or re.search(r"\bwho (said|claimed|warned|argued)", q):
        return "person"
    return None


def _type_bonus(kind: str | None, sentence: str) -> float:
    if kind == "figure":
        return W_TYPE if _FIGURE.search(sentence) else -W_TYPE
    if kind == "date":
        return W_TYPE if _DATE.search(sentence) else -W_TYPE
    if kind == "person":
        named = bool(person_like_names(sentence))
        return W_TYPE * (named + bool(_SPEECH.search(sentence))) / 2 if named else -W_TYPE / 2
    return 0.0


def is_heading(text: str) -> bool:
    """A title or section line ("Accusations and Investigations"): no closing punctuation, short."""
    return len(text) < 80 and not text.rstrip("”\"')").endswith((".", "!", "?", ":", ";"))


def name_groups(question: str) -> list[set[str]]:
    """The names in the question (runs of capitalised words after its first word), as term sets.

    A name counts as present when any of its words is ("McConnell" for "Jack McConnell").
    """
    runs = re.findall(r"(?<!^)(?<![.?!] )\b[A-Z][\w’'&-]*(?:\s+[A-Z][\w’'&-]*)*", question.strip())
    groups = [set(analyze(run)) for run in runs]
    return [g for g in groups if g]


def figures(question: str) -> set[str]:
    return {t for t in analyze(question) if any(ch.isdigit() for ch in t)}


def coverage(question_terms: dict[str, float], sentence: str, title: str = "") -> float:
    """Share of the question's idf weight whose terms occur in the sentence (half for the title's).

    The title counts because news sentences lean on it: "He said fines of up to £2,500..." answers
    a question about the Scottish smoking ban only through its headline.
    """
    total = sum(question_terms.values())
    if not total:
        return 0.0
    present, in_title = set(analyze(sentence)), set(analyze(title))
    found = sum(w if t in present else w / 2 for t, w in question_terms.items() if t in present | in_title)
    return found / total


def question_weights(question: str, idf: Callable[[str], float]) -> dict[str, float]:
    return {t: idf(t) for t in dict.fromkeys(analyze(question))}


def _missing(names: list[set[str]], numbers: set[str], c: Candidate) -> float:
    """Penalty for the question's names and figures absent from the sentence, its lead-in and title."""
    offset = c.start - c.hit.chunk.start
    context = set(analyze(c.hit.chunk.text[max(0, offset - 200):offset + len(c.text)] + " " + c.hit.chunk.title))
    penalty = W_NAMES * sum(1 for g in names if not g & context) / len(names) if names else 0.0
    if numbers:
        penalty += W_FIGURES * len(numbers - set(analyze(c.text))) / len(numbers)
    return penalty


def candidates(hits: Sequence[Hit], terms: dict[str, float]) -> list[Candidate]:
    """Every distinct sentence of the hits, in the document's coordinates, with its coverage."""
    seen: set[tuple[str, int]] = set()
    found = []
    for hit in hits:
        c = hit.chunk
        for s, e in sentence_spans(c.text):
            key = (c.source, c.start + s)
            text = c.text[s:e]
            if key in seen or len(text) < 12 or is_heading(text):
                continue
            seen.add(key)
            found.append(Candidate(hit, c.start + s, c.start + e, text, coverage(terms, text, c.title)))
    return found


def score_sentences(question: str, qvec: np.ndarray, hits: Sequence[Hit], embedder: Embedder,
                    idf: Callable[[str], float]) -> list[Candidate]:
    """Candidates scored and sorted best first (only the lexically best few are embedded)."""
    terms = question_weights(question, idf)
    pool = candidates(hits, terms)
    pool.sort(key=lambda c: (-c.coverage, c.hit.rank))
    pool = pool[:_PREFILTER]
    if not pool:
        return []
    cosines = embedder.encode_cached([c.text for c in pool]) @ qvec
    kind = expected_type(question)
    names, numbers = name_groups(question), figures(question)
    scored = [Candidate(c.hit, c.start, c.end, c.text, c.coverage,
                        W_COSINE * float(cos) + W_COVERAGE * c.coverage + _type_bonus(kind, c.text)
                        - _missing(names, numbers, c))
              for c, cos in zip(pool, cosines, strict=True)]
    return sorted(scored, key=lambda c: -c.score)


def pick(scored: list[Candidate], settings: Settings) -> list[Candidate]:
    """The best sentence, plus close runners-up that add question terms it lacks."""
    best = scored[0]
    chosen = [best]
    covered = set(analyze(best.text))
    for c in scored[1:]:
        if len(chosen) >= settings.max_answer_sentences or c.score < best.score - 0.08:
            break
        new_terms = set(analyze(c.text)) - covered
        if c.coverage >= best.coverage * 0.6 and new_terms:
            chosen.append(c)
            covered |= new_terms
    return sorted(chosen, key=lambda c: (c.hit.chunk.source, c.start))


def to_citation(n: int, c: Candidate) -> Citation:
    chunk = c.hit.chunk
    return Citation(n=n, source=chunk.source, title=chunk.title, page=chunk.page, start=c.start, end=c.end,
                    quote=c.text, score=c.score, chunk_id=chunk.id, passage=chunk.text,
                    passage_start=chunk.start)


def nearest(hits: Sequence[Hit], scored: list[Candidate], limit: int = 3) -> tuple[Citation, ...]:
    if scored:
        return tuple(to_citation(i, c) for i, c in enumerate(scored[:limit], start=1))
    return tuple(Citation(n=i, source=h.chunk.source, title=h.chunk.title, page=h.chunk.page,
                          start=h.chunk.start, end=h.chunk.end, quote=h.chunk.text[:300], score=h.score,
                          chunk_id=h.chunk.id, passage=h.chunk.text, passage_start=h.chunk.start)
                 for i, h in enumerate(hits[:limit], start=1))


def abstention_text(question: str) -> str:
    return f"The documents do not say. No passage answers “{question.strip()}”; the nearest passages follow."


def extractive_answer(question: str, qvec: np.ndarray, hits: Sequence[Hit], embedder: Embedder,
                      idf: Callable[[str], float], settings: Settings) -> Answer:
    """Quote the sentences that answer the question, or abstain; see the module docstring."""
    scored = score_sentences(question, qvec, hits, embedder, idf)
    if not scored or scored[0].score < settings.abstain_threshold:
        return Answer(question=question, text=abstention_text(question), abstained=True,
                      nearest=nearest(hits, scored), hits=tuple(hits))
    citations = tuple(to_citation(n, c) for n, c in enumerate(pick(scored, settings), start=1))
    text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Answer(question=question, text=text, abstained=False, citations=citations, hits=tuple(hits))
