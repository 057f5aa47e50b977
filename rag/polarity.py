"""Which way a claim goes: negation and opposite words, compared between a claim and its source.

`polarity_clash(claim, source)` finds a verb or predicate of both sentences (same lemma) that one of
them negates and the other does not. A word is negated by the negators of its own clause ("not",
"never", "no", "neither ... nor", "no longer", "yet to") and by those of every clause above it, and by
a negating head above it ("denied that ...", "refused to ...", "failed to ...", "ruled out ...", "... are
wrong"), and by "less than" before it ("less than impressed"); an even number of negations cancels out.
Direct objects are compared too ("ruled out legal action" vs "might take legal action").

A source that calls what it reports "wrong", "false" or "untrue" negates a claim that does not.

`direction_clash(claim, source)` finds a claim word whose opposite side (rag.lexicon.OPPOSITES) the
source uses while the source uses no word of its own side; a negated word ("did not rise") and "less
expensive" count as the other side; the parts of hyphenated modifiers ("lower-cost") and bounds on a figure
("less than 1%") are left out.

Both take spaCy Docs (rag.claims.parse) and return a few words saying why, or None.
"""

from __future__ import annotations

from typing import Any

from rag.lexicon import NEGATING_HEADS, NEGATORS, OPPOSITES, side_of

Token = Any
STOP_AT = {"ccomp", "xcomp", "advcl", "relcl", "acl", "conj", "parataxis", "csubj", "pcomp", "prep"}
VERDICTS = {"wrong", "false", "untrue", "mistaken", "incorrect"}  # a source calling its content untrue
SUBJECTS = {"nsubj", "nsubjpass", "csubj", "csubjpass"}
GENERIC = {"be", "have", "do", "say", "will", "would", "could", "may", "might", "can"}


def _marker(t: Token) -> int:
    low = t.lower_
    if low in ("neither", "nor"):
        return 0  # counted once per clause in _own
    if low == "yet":
        nxt = t.doc[t.i + 1] if t.i + 1 < len(t.doc) else None
        return int(nxt is not None and nxt.lower_ == "to")
    if low == "longer":
        return int(any(c.lower_ == "no" for c in t.children))
    if low == "no" and t.head.lower_ == "longer":
        return 0
    return int(low in NEGATORS and low != "without")


def _own(t: Token, skip: Token | None = None) -> int:
    """Negations in t's own clause (not in clauses below it, nor in the child `skip`)."""
    skipped = skip.i if skip is not None else -1  # spaCy makes a new Token object on each access: compare .i
    count, both, todo = 0, False, [c for c in t.children if c.i != skipped]
    while todo:
        c = todo.pop()
        if c.dep_ in STOP_AT:
            continue
        count += _marker(c)
        both = both or c.lower_ in ("neither", "nor")
        todo += list(c.children)
    negating = any(c.dep_ == "acomp" and c.lemma_.lower() in NEGATING_HEADS for c in t.children if c.i != skipped)
    return count + int(both) + int(negating)


def _negating(t: Token) -> bool:
    """A head that negates what it governs: "denied", "refused", "ruled out"."""
    lemma = t.lemma_.lower()
    return lemma in NEGATING_HEADS or (lemma == "rule" and any(c.lower_ == "out" for c in t.children))


def _litotes(t: Token) -> bool:
    """"less than impressed": a word compared down with "less than" says it is not so."""
    return t.head.lower_ == "less" and t.head.i < t.i and any(c.lower_ == "than" for c in t.children)


def _bound(t: Token) -> bool:
    """"less than 1%", "more than $5m": a bound on a figure, not a direction."""
    doc = t.doc
    return (t.lower_ in ("less", "more", "fewer") and t.i + 2 < len(doc) and doc[t.i + 1].lower_ == "than"
            and (doc[t.i + 2].like_num or doc[t.i + 2].text[:1] in "$£€" or doc[t.i + 2].text[:1].isdigit()))


def negated(t: Token) -> bool:
    """True when an odd number of negations bear on t (its clause and every clause above it)."""
    total, child = _own(t) + int(_litotes(t)), t
    for a in t.ancestors:
        if child.dep_ == "conj":
            break
        if child.dep_ in SUBJECTS:  # "the claim that X ... is wrong": only a negating predicate reaches X
            total += int(any(c.dep_ == "acomp" and c.lemma_.lower() in NEGATING_HEADS for c in a.children))
            break
        total += _own(a, skip=child) + int(_negating(a))
        child = a
    return total % 2 == 1


def _predicates(doc: Any) -> dict[str, Token]:
    """Verbs and predicate adjectives by lemma, and direct objects ("n:action") by theirs."""
    out = {}
    for t in doc:
        lemma = t.lemma_.lower()
        if t.pos_ in ("VERB", "ADJ", "AUX") and lemma not in GENERIC and t.dep_ != "amod":
            out[lemma] = t
            out.setdefault(t.lower_, t)  # "impressed" the adjective, "impressed" the verb (lemma "impress")
        elif t.dep_ == "dobj" and t.pos_ in ("NOUN", "PROPN"):
            out["n:" + lemma] = t
    return out


def polarity_clash(claim: Any, source: Any) -> str | None:
    """'the source negates "X"' / 'the source does not negate "X"' for a verb negated on one side only."""
    verdicts = {t.lemma_.lower(): t.text for t in source if t.lemma_.lower() in VERDICTS}
    if verdicts and not any(t.lemma_.lower() in VERDICTS for t in claim):  # "Suggestions that X ... are wrong"
        return f"the source says {next(iter(verdicts.values()))}"
    theirs = _predicates(source)
    for lemma, mine in _predicates(claim).items():
        if lemma in theirs and negated(mine) != negated(theirs[lemma]):
            word = theirs[lemma].text
            return f'the source negates "{word}"' if negated(theirs[lemma]) else f'the source does not negate "{word}"'
    return None


def _compound_part(t: Token) -> bool:
    doc = t.doc
    return (t.i + 1 < len(doc) and doc[t.i + 1].text == "-") or (t.i > 0 and doc[t.i - 1].text == "-")


def _sides(doc: Any) -> dict[tuple[int, int], Token]:
    """(pair, side) -> the first token of the doc on that side of an opposite pair."""
    out: dict[tuple[int, int], Token] = {}
    for t in doc:
        if not t.is_alpha or _compound_part(t) or _bound(t) or (
                t.lower_ in ("less", "more") and t.head.pos_ in ("ADJ", "ADV") and t.dep_ == "advmod"):
            continue
        flip = negated(t) != any(c.lower_ == "less" and c.dep_ == "advmod" for c in t.children)
        for pair, side in {*side_of(t.lemma_.lower()), *side_of(t.lower_)}:
            out.setdefault((pair, 1 - side if flip else side), t)
    return out


def direction_clash(claim: Any, source: Any) -> str | None:
    """'the source says X' for a claim word whose opposite the source uses (and not its own side)."""
    theirs = _sides(source)
    for (pair, side), _ in _sides(claim).items():
        if (pair, 1 - side) in theirs and (pair, side) not in theirs:
            return f"the source says {theirs[(pair, 1 - side)].text}"
    return None


__all__ = ["OPPOSITES", "direction_clash", "negated", "polarity_clash"]
