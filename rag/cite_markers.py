"""Citation markers in an LLM answer: found, attached to their sentences, renumbered.

`parse_markers` finds `[n]`, `[1, 2]`, `[1][2]` and `[1-3]` markers, drops (and counts) those that point
to no source, and attaches the rest to the sentence they close; in the clean text each sentence's
markers stand together at its end as `[1, 2]`. `renumber` maps the markers of a clean text to new source
numbers, `format_markers` writes them, and `says_documents_do_not_say` spots an answer that says the
documents do not hold the answer. Nothing here raises on arbitrary model output.
Left out: whether a cited source supports its sentence (rag.cite), ranges wider than MAX_RANGE (invalid),
markers in other forms ("(1)", "^1", "[source 1]").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.text import normalize, sentence_spans

MAX_RANGE = 20  # "[1-3]" is expanded; wider ranges are treated as invalid

_MARKER = re.compile(r"[ \t]*\[\s*(\d{1,6}(?:\s*(?:[,;]|[-–])\s*\d{1,6})*)\s*\](?:[ \t]*(?=[.,;:!?]))?")
_ABSTAIN = re.compile(r"\b(?:documents?|sources?|passages?) do(?:es)? not (?:say|mention|contain|state)")

ParsedSentence = tuple[str, tuple[int, ...]]  # (sentence without markers, source numbers it cites)


def format_markers(numbers: Sequence[int]) -> str:
    return f"[{', '.join(str(n) for n in numbers)}]" if numbers else ""


def _marker_numbers(group: str) -> list[int]:
    """'1, 2' -> [1, 2]; '1-3' -> [1, 2, 3]; a too-wide range -> [0] (invalid)."""
    found: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group):
        ends = [int(x) for x in re.split(r"\s*[-–]\s*", part) if x]
        if len(ends) == 2 and 0 <= ends[1] - ends[0] <= MAX_RANGE:
            found += range(ends[0], ends[1] + 1)
        elif len(ends) == 1:
            found.append(ends[0])
        else:
            found.append(0)
    return found


def _strip_markers(text: str, n_sources: int) -> tuple[str, list[tuple[int, list[int]]], int]:
    """Text without markers, the (position, valid numbers) of each marker, and the invalid count."""
    parts: list[str] = []
    anchors: list[tuple[int, list[int]]] = []
    removed, pos, length = 0, 0, 0
    for m in _MARKER.finditer(text):
        piece = text[pos:m.start()]
        parts.append(piece)
        length += len(piece)
        nums = _marker_numbers(m.group(1))
        valid = list(dict.fromkeys(n for n in nums if 1 <= n <= n_sources))
        removed += len(nums) - len(valid)
        if valid:
            anchors.append((length, valid))
        pos = m.end()
        if piece[-1:].isalnum() and text[pos:pos + 1].isalnum():
            parts.append(" ")
            length += 1
    parts.append(text[pos:])
    return "".join(parts), anchors, removed


def parse_markers(text: str, n_sources: int) -> tuple[str, list[ParsedSentence], int]:
    """(clean text, sentences with the sources they cite, number of invalid citations removed).

    In the clean text each sentence's valid markers stand together at its end as `[1, 2]`; a marker
    belongs to the sentence it follows (or the first sentence when it comes first).
    """
    plain, anchors, removed = _strip_markers(text or "", max(0, n_sources))
    spans = list(sentence_spans(plain))
    cited: list[list[int]] = [[] for _ in spans]
    for at, nums in anchors:
        if not spans:
            removed += len(nums)
            continue
        index = max([i for i, (s, _) in enumerate(spans) if s < at] or [0])
        cited[index] += [n for n in nums if n not in cited[index]]
    out, pos = [], 0
    for (_, e), nums in zip(spans, cited, strict=True):
        out.append(plain[pos:e] + (" " + format_markers(nums) if nums else ""))
        pos = e
    out.append(plain[pos:])
    sentences = [(plain[s:e], tuple(nums)) for (s, e), nums in zip(spans, cited, strict=True)]
    return "".join(out).strip(), sentences, removed


def renumber(text: str, mapping: dict[int, int]) -> str:
    """Markers of a clean text renumbered by `mapping` (numbers not in it are dropped)."""
    def sub(m: re.Match[str]) -> str:
        nums = [mapping[n] for n in _marker_numbers(m.group(1)) if n in mapping]
        return " " + format_markers(nums) if nums else ""

    return _MARKER.sub(sub, text)


def says_documents_do_not_say(sentence: str) -> bool:
    return bool(_ABSTAIN.search(normalize(sentence)))
