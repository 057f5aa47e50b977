"""Plain-text helpers shared by the chunker, the answerer and the citation checker.

Sentence spans keep character offsets into the original text, so every quote can be found again.
Tokens are lower-cased words and numbers; stop words are dropped for "content words".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "inc", "ltd", "co", "corp", "vs", "etc", "eg",
    "ie", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no",
    "gov", "gen", "col", "lt", "sgt", "rep", "sen", "rev", "fig", "approx", "est", "mt", "ft",
}
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and an opening character,
# or at a line break.
_END = re.compile(r"""[.!?…]+["'”’)\]]*(?=\s+["'“‘(\[]?[A-Z0-9£$€])|\n+""")
_WORD = re.compile(r"[\w$£€%]+(?:[.,'’][\w%]+)*", re.UNICODE)
_NUMBER = re.compile(r"\d")

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves s t don didn doesn isn wasn weren won shouldn wouldn
    according said says say tell told know much many whose whats kind sort""".split()
)


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the '.' at `dot` closes an abbreviation or an initialism such as 'U.S.'."""
    j = dot
    while j > 0 and (text[j - 1].isalpha() or text[j - 1] == "."):
        j -= 1
    word = text[j:dot]
    if not word:
        return False
    if word.lower().replace(".", "") in _ABBREVIATIONS:
        return True
    if j > 0 and not (text[j - 1].isspace() or text[j - 1] in "(\"“'‘"):
        return False  # "Jay-Z." ends a sentence; only a free-standing letter is an initial
    # single letters and dotted initialisms: "J.", "U.S", "e.g"
    return len(word) == 1 or ("." in word and all(len(p) <= 2 for p in word.split(".")))


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield (start, end) of each sentence of text[start:end], stripped of surrounding white space."""
    end = len(text) if end is None else end
    pos = start
    for match in _END.finditer(text, start, end):
        stop = match.end()
        if match.group().startswith(".") and "\n" not in match.group() and _is_abbreviation(
            text, match.start()
        ):
            continue
        yield from _stripped(text, pos, stop)
        pos = stop
    yield from _stripped(text, pos, end)


def _stripped(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def normalize(text: str) -> str:
    """NFKC, curly quotes made straight, lower-cased: for matching, never for display."""
    text = unicodedata.normalize("NFKC", text)
    return text.translate(str.maketrans("‘’“”–—", "''\"\"--")).lower()


def tokens(text: str) -> list[str]:
    """Lower-cased word and number tokens; possessive 's removed ("DeepSeek's" -> "deepseek")."""
    out = []
    for word in _WORD.findall(normalize(text)):
        word = re.sub(r"'s$", "", word).strip("'.,")
        if word:
            out.append(word)
    return out


def content_words(text: str) -> list[str]:
    """Tokens that carry meaning: no stop words, no single letters."""
    return [t for t in tokens(text) if t not in STOPWORDS and (len(t) > 1 or t.isdigit())]


def numbers(text: str) -> set[str]:
    """Numeric tokens ("5.6", "589", "27"), for checking that figures match."""
    return {t.replace(",", "") for t in tokens(text) if _NUMBER.search(t)}


_NAME = re.compile(r"\b[A-Z][a-z]+(?:[ -](?:[A-Z][a-z]+|[A-Z]\.))*(?: [A-Z][a-z]+)\b")


def person_like_names(text: str) -> set[str]:
    """Runs of two or more capitalised words ("David Sacks", "Christophe Fouquet"), lower-cased."""
    return {m.group().lower() for m in _NAME.finditer(text)}


def capitalised_terms(text: str) -> set[str]:
    """Capitalised words not at a sentence start, lower-cased: names of people, firms, places."""
    found = set()
    for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w’'-]*[A-Za-z0-9])", text):
        word = normalize(m.group(1))
        word = re.sub(r"'s$", "", word)
        if word not in STOPWORDS:
            found.add(word)
    return found


def is_heading(text: str) -> bool:
    """A title or section line ("Accusations and Investigations"): no closing punctuation, short."""
    return len(text) < 80 and not text.rstrip("”\"')").endswith((".", "!", "?", ":", ";"))


def quotable_spans(text: str) -> list[tuple[int, int]]:
    """The sentences an extractive answer may quote: not headings, at least 12 characters."""
    return [(s, e) for s, e in sentence_spans(text) if e - s >= 12 and not is_heading(text[s:e])]
