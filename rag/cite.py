"""The sentences of an LLM answer checked against the passages they cite.

Its markers are parsed first (rag.cite_markers: each sentence with the source numbers it cites).
`check_sentences` then scores every answer sentence against each sentence of the source chunks it cites:

    score = W_COSINE * cosine(answer sentence, source sentence) + W_OVERLAP * overlap

where overlap is the share of the answer sentence's (stemmed) content words found in the source
sentence. Facts must match exactly: every number of the answer sentence ("$5.6 million" -> 5.6,
"R1" -> r1) and every word of a multi-word name ("David Sacks") must occur in the source sentence or
its neighbours, else the pair is `unsupported` whatever its score. The sentence is then

- `supported`:   score >= SUPPORTED, cosine >= MIN_COSINE and at least MIN_WORDS content words;
- `weak`:        score >= WEAK (or a supported-looking sentence that is too short to be a claim, or
                 that names something, e.g. a firm, that no cited passage mentions);
- `unsupported`: anything else, and every sentence that cites nothing.

Number words count as numbers ("eight" -> 8) and month and day names must match too. A sentence that
would be `supported` or `weak` is then read for who did what, which way (rag.claims: the actor, who it
is according to, negation, opposite words, the object of a shared verb, two roles turned round) against its best source
sentence, and is `unsupported` when they clash. Nothing clashing, it is `supported` only when verified:
every word of it that carries meaning stands in the source (rag.claims.unverified, rag.verify), else it is
`weak`. Every sentence not supported carries its reason in a few words when there is one ("the source
names Rover", "the source says scrapping", "the source does not say 6.5", 'the source does not say
"weaken"').

A sentence citing several sources takes the status of the best one. Nothing here raises on arbitrary
model output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from rag import claims
from rag.cite_markers import ParsedSentence, says_documents_do_not_say
from rag.embed import Embedder
from rag.lexical import analyze
from rag.models import Hit, SentenceStatus
from rag.objects import Similar, similarity_of
from rag.text import STOPWORDS, capitalised_terms, person_like_names, sentence_spans, tokens

SUPPORTED = 0.60  # lowest score of a supported sentence (a close paraphrase scores ~0.7-0.9)
WEAK = 0.42  # lowest score of a weak sentence (same topic, claim not clearly stated)
MIN_COSINE = 0.50  # a supported sentence must also mean much the same as its source sentence
MIN_WORDS = 3  # content words a sentence needs to be a checkable claim ("PWNED" is not one)
W_COSINE, W_OVERLAP = 0.5, 0.5


@dataclass(frozen=True)
class Support:
    """How well one cited source supports one answer sentence: its best sentence and the score."""

    n: int  # source number (1-based index into the hits)
    start: int  # the source sentence, in the chunk's text
    end: int
    score: float
    cosine: float
    facts_ok: bool
    status: SentenceStatus
    reason: str = ""  # why the source does not support the sentence, when it does not
    unverified: bool = False  # weak only because a word of it is not found in the source (rag.verify)


@dataclass(frozen=True)
class Checked:
    """One answer sentence with its status, best score and the support of each source it cites."""

    text: str
    citations: tuple[int, ...]
    status: SentenceStatus
    score: float
    supports: tuple[Support, ...] = ()
    reason: str = ""  # for a sentence not supported: why, in a few words
    unverified: bool = False  # weak only because a word of it is not found in its source: a close paraphrase


_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split()) if i >= 2}
_NUMBER_WORDS |= {w: str(10 * i) for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)}
CALENDAR = frozenset("january february march april june july august september october november december "
                     "monday tuesday wednesday thursday friday saturday sunday".split())


_SCALES = {"m": "m", "mn": "m", "million": "m", "millions": "m", "b": "bn", "bn": "bn", "billion": "bn",
           "billions": "bn", "tn": "tn", "trn": "tn", "trillion": "tn"}


def _number_key(token: str) -> str:
    token = token.lstrip("$£€").rstrip("%")
    m = re.match(r"\d+(?:\.\d+)?", token)
    return m.group() if m else token


def _facts(text: str) -> list[tuple[str, str]]:
    """(number, number with its scale or '') of each figure, and (name, '') of each month or day."""
    words, found = tokens(text), []
    for i, t in enumerate(words):
        if re.search(r"\d", t):
            key = _number_key(t.replace(",", ""))
            suffix = t.replace(",", "").lstrip("$£€")[len(key):]
            scale = _SCALES.get(suffix) or (_SCALES.get(words[i + 1], "") if i + 1 < len(words) else "")
            found.append((key, key + scale if scale and key[:1].isdigit() else ""))
        elif t in _NUMBER_WORDS:
            found.append((_NUMBER_WORDS[t], ""))
        elif t in CALENDAR:
            found.append((t, ""))
    return found


def fact_numbers(text: str) -> set[str]:
    """Figures a text states: '$5.6 million' -> 5.6 and 5.6m, '589bn' -> 589 and 589bn, 'R1' -> r1,
    'eight' -> 8; and its month and day names ('january')."""
    return {k for pair in _facts(text) for k in pair if k}


def claim_numbers(text: str) -> set[str]:
    """Figures a claim states, with their scale when it gives one: "$589 million" -> 589m only."""
    return {scaled or key for key, scaled in _facts(text)}


def name_words(text: str) -> set[str]:
    """The words of multi-word names ("David Sacks" -> david, sacks), stop words left out."""
    return {w for name in person_like_names(text) for w in tokens(name) if w not in STOPWORDS}


def _status(score: float, cosine: float, facts_ok: bool, words: int) -> SentenceStatus:
    if not facts_ok:
        return "unsupported"
    if score >= SUPPORTED and cosine >= MIN_COSINE:
        return "supported" if words >= MIN_WORDS else "weak"
    return "weak" if score >= WEAK else "unsupported"


def _source_sentences(hit: Hit) -> list[tuple[int, int]]:
    return list(sentence_spans(hit.chunk.text)) or [(0, len(hit.chunk.text))]


def _support(n: int, claim: str, claim_vec: np.ndarray, hit: Hit, vecs: np.ndarray,
             similar: Similar | None = None) -> Support:
    """The best sentence of source `n` for `claim` (facts checked against it and its neighbours), then
    read for a clash of actor or direction (rag.claims)."""
    text = hit.chunk.text
    spans = _source_sentences(hit)
    terms = set(analyze(claim))
    numbers, names = claim_numbers(claim), name_words(claim)
    cands = []
    for i, (s, e) in enumerate(spans):
        window = text[spans[max(0, i - 1)][0]:spans[min(len(spans) - 1, i + 1)][1]]
        facts_ok = numbers <= fact_numbers(window) and names <= set(tokens(window))
        overlap = len(terms & set(analyze(text[s:e]))) / len(terms) if terms else 0.0
        cosine = float(vecs[i] @ claim_vec)
        score = W_COSINE * cosine + W_OVERLAP * overlap
        status = _status(score, cosine, facts_ok, len(terms))
        cands.append((i, Support(n, s, e, score, cosine, facts_ok, status, _low(status))))
    cands.sort(key=lambda c: (c[1].facts_ok, c[1].score), reverse=True)
    i, best = cands[0]
    if best.status != "unsupported":
        before = [text[s:e] for s, e in spans[max(0, i - 3):i]]
        clash = claims.contradiction(claim, text[best.start:best.end], before, text, similar)
        if clash:
            return replace(best, status="unsupported", reason=clash)
        after = [text[s:e] for s, e in spans[i + 1:i + 2]]
        gap = claims.unverified(claim, text[best.start:best.end], before, after, text)
        return replace(best, status="weak", reason=gap, unverified=True) if gap else best
    if best.facts_ok:
        return best
    window = text[spans[max(0, i - 1)][0]:spans[min(len(spans) - 1, i + 1)][1]]
    return replace(best, reason=_missing_facts(numbers, names, window))


def _low(status: SentenceStatus) -> str:
    return "the source does not say this" if status == "unsupported" else ""


def _missing_facts(numbers: set[str], names: set[str], window: str) -> str:
    missing_numbers = sorted(numbers - fact_numbers(window))
    if missing_numbers:
        return f"the source does not say {', '.join(missing_numbers[:2])}"  # e.g. "6.5", "589m", "march"
    missing = sorted(names - set(tokens(window)))
    return f"the source does not name {' '.join(missing[:2]).title()}"


def _foreign_name(claim: str, passages: list[str]) -> str:
    """Something the claim names (a capitalised word) that none of its passages mention, or ''."""
    present = set().union(*(tokens(p) for p in passages)) if passages else set()
    return next((t for t in capitalised_terms(claim) if t.isalpha() and t not in present), "")


def check_sentences(sentences: Sequence[ParsedSentence], hits: Sequence[Hit], embedder: Embedder) -> list[Checked]:
    """Every answer sentence scored against the sources it cites; see the module docstring."""
    needed = sorted({n for _, cites in sentences for n in cites if 1 <= n <= len(hits)})
    spans = {n: _source_sentences(hits[n - 1]) for n in needed}
    texts = [hits[n - 1].chunk.text[s:e] for n in needed for s, e in spans[n]]
    claims = [text for text, _ in sentences]
    vecs = embedder.encode_documents(claims + texts) if claims else np.zeros((0, 1), dtype=np.float32)
    source_vecs, offset = {}, len(claims)
    for n in needed:
        source_vecs[n] = vecs[offset:offset + len(spans[n])]
        offset += len(spans[n])
    similar = similarity_of(embedder)
    return [_check(i, text, cites, hits, vecs, source_vecs, similar) for i, (text, cites) in enumerate(sentences)]


def _check(i: int, text: str, cites: tuple[int, ...], hits: Sequence[Hit], vecs: np.ndarray,
           source_vecs: dict[int, np.ndarray], similar: Similar) -> Checked:
    cites = tuple(n for n in cites if n in source_vecs)
    if not cites:
        status: SentenceStatus = "weak" if says_documents_do_not_say(text) else "unsupported"
        return Checked(text, (), status, 0.0, reason="" if status == "weak" else "cites no source")
    supports = tuple(_support(n, text, vecs[i], hits[n - 1], source_vecs[n], similar) for n in cites)
    order = {"supported": 2, "weak": 1, "unsupported": 0}
    if foreign := _foreign_name(text, [hits[n - 1].chunk.text for n in cites]):
        why = f"the passages do not name {foreign.title()}"
        supports = tuple(replace(s, status="weak", reason=why) if s.status == "supported" else s for s in supports)
    best = max(supports, key=lambda s: (order[s.status], s.score))
    return Checked(text, cites, best.status, best.score, supports, best.reason if best.status != "supported" else "",
                   best.status == "weak" and best.unverified)


class EmbeddingChecker:
    """The default `CitationChecker`: `check_sentences` with one embedder (see the module docstring)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def check(self, sentences: Sequence[ParsedSentence], hits: Sequence[Hit]) -> list[Checked]:
        return check_sentences(sentences, hits, self.embedder)


def citation_precision(checked: Sequence[Checked]) -> float | None:
    """Share of (sentence, cited source) pairs in which the source supports the sentence."""
    pairs = [s for c in checked for s in c.supports]
    if not pairs:
        return None
    return sum(1 for s in pairs if s.status == "supported") / len(pairs)
