"""The check step: a drafted answer's citations checked, and the answer it becomes.

An answerer that quotes (extractive) hands over a finished `Answer`: its quotes are exact spans of the
passages. A drafted reply (an LLM's) has its `[n]` markers parsed (those pointing to no source are
dropped and counted), each sentence checked against the passages it cites by the `CitationChecker`,
and the sources renumbered in order of first citation. "The documents do not say" with no citation is
an abstention. The extractive answer is returned instead, with a notice saying why, when the answerer
failed, wrote nothing, or has no sentence its citations support (a sentence `weak` only because a word
of it is not found in its source, a close paraphrase, counts as supported here: it is shown, marked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag import cite, cite_markers
from rag.models import Answer, Citation, Hit, SentenceCheck
from rag.pipeline import CitationChecker, Draft, Retrieved, TokenFn
from rag.qa import abstention_text, nearest

FALLBACK_SEPARATOR = "\n\n(Showing the extractive answer instead.)\n"  # streamed before a fallback


def check_citations(draft: Draft, retrieved: Retrieved, extractive: Answer, checker: CitationChecker,
                    on_token: TokenFn | None) -> Answer:
    """The answer `draft` becomes once its citations are checked; see the module docstring."""
    if draft.answer is not None:
        return draft.answer
    if draft.failure or not draft.text:
        notice = draft.failure or f"The LLM ({draft.where}) returned an empty answer; showing the extractive answer."
        return fallback(extractive, notice, on_token, draft.streamed)
    hits = retrieved.hits
    clean, parsed, removed = cite_markers.parse_markers(draft.text, len(hits))
    if not any(cites for _, cites in parsed) and cite_markers.says_documents_do_not_say(clean):
        return _abstained(retrieved.question, hits, draft.answerer, extractive, removed)
    checked = checker.check(parsed, hits)
    if not any(c.status == "supported" or c.unverified for c in checked):  # a close paraphrase is shown, weak
        return fallback(extractive, _unsupported_notice(checked, removed), on_token, draft.streamed)
    return _checked_answer(retrieved.question, hits, draft.answerer, clean, checked, removed)


def fallback(extractive: Answer, notice: str, on_token: TokenFn | None, streamed: bool) -> Answer:
    """The extractive answer with `notice`; streamed after what the LLM already printed, if anything."""
    if on_token:
        if streamed:
            on_token(FALLBACK_SEPARATOR)
        on_token(extractive.text)
    return replace(extractive, notices=extractive.notices + (notice,))


def _unsupported_notice(checked: Sequence[cite.Checked], removed: int) -> str:
    uncited = sum(1 for c in checked if not c.citations)
    why = [f"{len(checked)} sentence{'s' * (len(checked) != 1)}"]
    if uncited:
        why.append(f"{uncited} citing no source")
    if removed:
        why.append(f"{removed} citation{'s' * (removed != 1)} to sources that do not exist removed")
    return (f"No sentence of the LLM answer is supported by the passages it cites ({', '.join(why)}); "
            f"showing the extractive answer instead.")


def _abstained(question: str, hits: Sequence[Hit], answerer: str, extractive: Answer, removed: int) -> Answer:
    return Answer(question=question, text=abstention_text(question), abstained=True,
                  nearest=extractive.nearest or extractive.citations or nearest(hits, []), answerer=answerer,
                  removed_markers=removed, hits=tuple(hits))


def _checked_answer(question: str, hits: Sequence[Hit], answerer: str, clean: str,
                    checked: Sequence[cite.Checked], removed: int) -> Answer:
    order = list(dict.fromkeys(n for c in checked for n in c.citations))
    mapping = {old: new for new, old in enumerate(order, start=1)}
    sentences = tuple(
        SentenceCheck(text=f"{c.text} {cite_markers.format_markers([mapping[n] for n in c.citations])}".strip(),
                      citations=tuple(mapping[n] for n in c.citations), status=c.status,
                      score=round(c.score, 4), reason=c.reason)
        for c in checked)
    citations = tuple(_citation(mapping[old], hits[old - 1], checked, old) for old in order)
    notices: tuple[str, ...] = ()
    if removed:
        notices = (f"Removed {removed} citation marker{'s' * (removed != 1)} that pointed to no source.",)
    return Answer(question=question, text=cite_markers.renumber(clean, mapping), abstained=False,
                  citations=citations, answerer=answerer, sentences=sentences,
                  citation_precision=cite.citation_precision(checked), removed_markers=removed,
                  notices=notices, hits=tuple(hits))


def _citation(n: int, hit: Hit, checked: Sequence[cite.Checked], old: int) -> Citation:
    """Source `old` as citation `n`: its sentence that best matches the answer sentences citing it."""
    best = max((s for c in checked for s in c.supports if s.n == old), key=lambda s: (s.facts_ok, s.score))
    chunk = hit.chunk
    return Citation.of_span(n, chunk, chunk.start + best.start, chunk.start + best.end, best.score)
