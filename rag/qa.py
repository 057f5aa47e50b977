"""The default answerer: no LLM, never a word that is not in the documents.

From the retrieved chunks it scores every sentence against the question: embedding cosine plus
idf-weighted coverage of the question's terms, plus a bonus when the sentence has the kind of thing
the question asks for (a figure for "how much", a date for "when", a named speaker for "who"; see
rag.qtype), minus a share for each of the question's names that the sentence, its lead-in and its
title lack (a larger share when the question asks for a figure: the Mac mini's price does not
answer "How much is the iPod nano?"). It answers with the best sentences quoted verbatim, each
followed by its citation marker. When the best sentence only restates the question, the sentence
holding the asked-for name or figure is quoted with it; a sentence opening with "This" or "He" is
quoted with the one before it, so the reader sees what it refers to. When even the best sentence
scores under `abstain_threshold`, or the question asks for a figure and no sentence to quote holds
one, it says the documents do not say, with no citation, and lists the nearest passages instead.
It does not paraphrase, summarise or combine facts.
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
from rag.pipeline import Draft, History, Retrieved, TokenFn
from rag.qtype import defines, expected_type, figures, holds, name_groups, type_bonus
from rag.text import is_heading, quotable_spans, sentence_spans

_PREFILTER = 12  # sentences embedded per question part; 16 gave the same answers on all 327 eval questions
RUNNER_UP_GAP = 0.08  # a runner-up this close to the best is quoted too if it adds question words
KEY_TERM_GAP = 0.2  # ... this close, if it has the question's rarest word and the chosen ones do not
OTHER_GAP = 0.25  # how far below the best an answer-bearing sentence of another document may score
LATER_PART_FACTOR = 0.7  # share of abstain_threshold for a later part of a question, or an answer-bearing sentence
W_COSINE, W_COVERAGE, W_TYPE, W_NAMES, W_FIGURES, W_DEFINES = 0.55, 0.45, 0.06, 0.15, 0.15, 0.2
W_NAMES_FIGURE = 0.3  # a figure belongs to a subject: another subject's price is not the asked one's
FIGURE_KINDS = ("money", "figure", "percent", "count")
_ANAPHOR = re.compile(r"^(?:This|These|That|Those|It|Its|He|She|They|Such|The move|The company)\b")


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved chunk, located in its document, with its score."""

    hit: Hit
    start: int  # in the document
    end: int
    text: str
    coverage: float
    score: float = 0.0


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


def _missing(names: list[set[str]], numbers: set[str], c: Candidate, w_names: float = W_NAMES) -> float:
    """Penalty for the question's names and figures absent from the sentence, its lead-in and title."""
    offset = c.start - c.hit.chunk.start
    context = set(analyze(c.hit.chunk.text[max(0, offset - 200):offset + len(c.text)] + " " + c.hit.chunk.title))
    penalty = w_names * sum(1 for g in names if not g & context) / len(names) if names else 0.0
    if numbers:
        penalty += W_FIGURES * len(numbers - set(analyze(c.text))) / len(numbers)
    return penalty


def candidates(hits: Sequence[Hit], terms: dict[str, float]) -> list[Candidate]:
    """Every distinct sentence of the hits, in the document's coordinates, with its coverage."""
    seen: set[tuple[str, int]] = set()
    found = []
    for hit in hits:
        c = hit.chunk
        for s, e in quotable_spans(c.text):
            key = (c.source, c.start + s)
            text = c.text[s:e]
            if key in seen:
                continue
            seen.add(key)
            found.append(Candidate(hit, c.start + s, c.start + e, text, coverage(terms, text, c.title)))
    return found


def score_sentences(question: str, qvec: np.ndarray, hits: Sequence[Hit], embedder: Embedder,
                    idf: Callable[[str], float]) -> list[Candidate]:
    """Candidates scored and sorted best first (only the lexically best few are embedded)."""
    terms = question_weights(question, idf)
    pool = candidates(hits, terms)
    defining = {(c.hit.chunk.source, c.start) for c in pool if defines(c.text, question)}
    pool.sort(key=lambda c: (-c.coverage - ((c.hit.chunk.source, c.start) in defining), c.hit.rank))
    pool = pool[:_PREFILTER]
    if not pool:
        return []
    cosines = embedder.encode_documents([c.text for c in pool]) @ qvec
    kind = expected_type(question)
    names, numbers = name_groups(question), figures(question)
    scored = [Candidate(c.hit, c.start, c.end, c.text, c.coverage,
                        W_COSINE * float(cos) + W_COVERAGE * c.coverage + type_bonus(kind, c.text, question, W_TYPE)
                        + W_DEFINES * ((c.hit.chunk.source, c.start) in defining)
                        - _missing(names, numbers, c, W_NAMES_FIGURE if kind in FIGURE_KINDS else W_NAMES))
              for c, cos in zip(pool, cosines, strict=True)]
    return sorted(scored, key=lambda c: -c.score)


def _answer_bearing(scored: list[Candidate], question: str, floor: float) -> Candidate | None:
    """When the best sentence only restates the question ("A UK Independence Party MEP suggested..."),
    the sentence that holds the asked-for name or figure: from the same document if it scores `floor`,
    from another if it scores within OTHER_GAP of the best."""
    kind = expected_type(question)
    best = scored[0]
    if holds(kind, best.text, question) is not False:
        return None
    for c in scored[1:]:
        near = c.score >= floor if c.hit.chunk.source == best.hit.chunk.source else c.score >= best.score - OTHER_GAP
        if near and c.coverage > 0 and holds(kind, c.text, question):
            return c
    return None


def pick(scored: list[Candidate], settings: Settings, question: str, idf: Callable[[str], float]) -> list[Candidate]:
    """The best sentence, plus close runners-up that add question terms it lacks, plus the sentence
    holding the asked-for name or figure when the best one lacks it."""
    best = scored[0]
    chosen = [best]
    if (bearing := _answer_bearing(scored, question, settings.abstain_threshold * LATER_PART_FACTOR)) is not None:
        chosen.append(bearing)
    covered = set(analyze(best.text))
    key_term = max(analyze(question), key=lambda t: (idf(t), t), default="")
    for c in scored[1:]:
        if len(chosen) >= settings.max_answer_sentences or c.score < best.score - KEY_TERM_GAP:
            break
        new_terms = set(analyze(c.text)) - covered
        close = c.score >= best.score - RUNNER_UP_GAP and c.coverage >= best.coverage * 0.6 and new_terms
        rarest = key_term in new_terms and c.hit.chunk.source == best.hit.chunk.source
        if close or rarest:  # or, in the same document, it has the question's rarest word the others lack
            chosen.append(c)
            covered |= new_terms
    return sorted(chosen, key=lambda c: (c.hit.chunk.source, c.start))


def with_antecedent(c: Candidate) -> Candidate:
    """A sentence that opens with "This", "He", "It"... quoted together with the sentence before it
    (same passage), so the reader sees what it refers to."""
    chunk = c.hit.chunk
    offset = c.start - chunk.start
    before = [(s, e) for s, e in sentence_spans(chunk.text[:offset]) if e <= offset]
    if not _ANAPHOR.match(c.text) or not before or is_heading(chunk.text[before[-1][0]:before[-1][1]]):
        return c
    start = chunk.start + before[-1][0]
    return Candidate(c.hit, start, c.end, chunk.text[start - chunk.start:c.end - chunk.start], c.coverage, c.score)


def merged(chosen: Sequence[Candidate]) -> list[Candidate]:
    """In document order, without sentences already inside another quote."""
    ordered = sorted(chosen, key=lambda c: (c.hit.chunk.source, c.start, -c.end))
    kept: list[Candidate] = []
    for c in ordered:
        if kept and kept[-1].hit.chunk.source == c.hit.chunk.source and c.end <= kept[-1].end:
            continue
        kept.append(c)
    return kept


def to_citation(n: int, c: Candidate) -> Citation:
    return Citation.of_span(n, c.hit.chunk, c.start, c.end, c.score, quote=c.text)


def nearest(hits: Sequence[Hit], scored: list[Candidate], limit: int = 3) -> tuple[Citation, ...]:
    """The best-scored sentences, or (none scored) the first hits' openings, shown with an abstention."""
    if scored:
        return tuple(to_citation(i, c) for i, c in enumerate(scored[:limit], start=1))
    return tuple(Citation.of_span(i, h.chunk, h.chunk.start, h.chunk.end, h.score, quote=h.chunk.text[:300])
                 for i, h in enumerate(hits[:limit], start=1))


def abstention_text(question: str) -> str:
    return f"The documents do not say. No passage answers “{question.strip()}”; the nearest passages follow."


_COMPOUND = re.compile(r",?\s+(?:and|but)\s+(?=(?:what|why|which|who|whom|how|when|where|did|does|is|was)\b)",
                       re.IGNORECASE)


_PRONOUN = re.compile(r"\b(it|its|they|them|their|he|she|his|her|this|that)\b", re.IGNORECASE)


def question_parts(question: str) -> list[str]:
    """A compound question split into its parts ("What is X, and why Y?" -> two questions)."""
    parts = [p.strip(" ,") for p in _COMPOUND.split(question) if p.strip(" ,")]
    if len(parts) < 2:
        return [question]
    lead = " ".join(sorted(t for g in name_groups(parts[0]) for t in g if not any(ch.isdigit() for ch in t)))
    return [parts[0].rstrip("?") + "?"] + [
        f"{p.rstrip('?')} ({lead})?" if lead and _PRONOUN.search(p) else p for p in parts[1:]]


def gives_the_figure(question: str, picked: Sequence[Candidate]) -> bool:
    """False when the question asks for a figure ("How much did Microsoft pay ...?") and none of the
    sentences to quote holds one: quoting "Microsoft bought Giant Company Software" would not answer."""
    kind = expected_type(question)
    return kind not in FIGURE_KINDS or any(holds(kind, c.text, question) for c in picked)


@dataclass(frozen=True)
class Pick:
    """What the rules chose for a question: the sentences to quote (none: abstain) and the first
    scored part's candidates, best first."""

    chosen: list[Candidate]
    scored: list[Candidate]


def rules_pick(retrieved: Retrieved, embedder: Embedder, settings: Settings) -> Pick:
    """The sentences the rules quote for `retrieved.question`, part by part; see `extractive_answer`."""
    question, hits = retrieved.question, retrieved.read
    parts = question_parts(question)
    vectors = [retrieved.vector] if len(parts) == 1 else list(embedder.encode_queries(parts))
    chosen: list[Candidate] = []
    best_scored: list[Candidate] = []
    for i, (part, vector) in enumerate(zip(parts, vectors, strict=True)):
        scored = score_sentences(part, vector, hits, embedder, retrieved.idf)
        best_scored = best_scored or scored
        # a later part ("..., and which other companies were hit?") is short and leans on the first:
        # once an earlier part is answered, it needs less evidence of its own
        threshold = settings.abstain_threshold * (LATER_PART_FACTOR if i and chosen else 1.0) \
            + settings.unseen_word_penalty * len(set(retrieved.unseen) & set(analyze(part)))
        if scored and scored[0].score >= threshold:
            picked = pick(scored, settings, part, retrieved.idf)
            if not gives_the_figure(part, picked):
                continue
            chosen += [c for c in picked if (c.hit.chunk.source, c.start) not in
                       {(x.hit.chunk.source, x.start) for x in chosen}]
    return Pick(chosen, best_scored)


def extractive_answer(retrieved: Retrieved, embedder: Embedder, settings: Settings) -> Answer:
    """Quote the sentences of `retrieved.read` that answer the question, or abstain; see the module docstring.

    A compound question is answered part by part, from the same retrieved passages; the answer holds
    the parts the documents answer (it abstains only when they answer none). Each of the unseen
    question words (used by no chunk) raises the bar by `unseen_word_penalty`. `embedder` encodes the
    question parts and the sentences (a `CachedEmbedder` keeps the sentences of popular passages).
    """
    question, hits = retrieved.question, retrieved.read
    found = rules_pick(retrieved, embedder, settings)
    if not found.chosen:
        return Answer(question=question, text=abstention_text(question), abstained=True,
                      nearest=nearest(hits, found.scored), hits=tuple(hits))
    chosen = merged([with_antecedent(c) for c in found.chosen])
    citations = tuple(to_citation(n, c) for n, c in enumerate(chosen, start=1))
    text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
    return Answer(question=question, text=text, abstained=False, citations=citations, hits=tuple(hits))


class ExtractiveAnswerer:
    """The default `Answerer` (no LLM): `extractive_answer`, whose quotes need no citation check.

    >>> ExtractiveAnswerer(Settings(), embedder).answer(retrieved, (), None).answer.text   # doctest: +SKIP
    """

    name = "extractive"

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder

    def answer(self, retrieved: Retrieved, history: History = (), on_token: TokenFn | None = None) -> Draft:
        return self.drafted(extractive_answer(retrieved, self.embedder, self.settings), on_token)

    def drafted(self, result: Answer, on_token: TokenFn | None) -> Draft:
        if on_token:  # the quotes one by one, as an LLM's reply would arrive
            for piece in re.split(r"(?<=\]) ", result.text):
                on_token(piece + " ")
        return Draft(self.name, text=result.text, answer=result)
