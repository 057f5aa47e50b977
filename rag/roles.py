"""Who did what to whom, turned round: two entities of one sentence in swapped slots of the same verb.

`role_clash(claim, source)` finds a verb both sentences hold (same lemma) and compares what fills two of
its slots in each: the doer and the one done to ("Revolution Studios is suing Bruce Willis" on "Bruce
Willis is suing Revolution Studios"), or the one done to and the one it is preferred over or compared
with ("favour small companies over large ones" on "favour large companies over small ones"). A passive
is read by its logical roles: "Sideways was voted best film by critics" has critics as the doer. The
claim is turned round when each of its two fillers shares more words with the source's other slot than
with its own ("one"/"ones" stands for the other filler's noun). Returns a few words saying why, or None.

Leaves out: a slot either sentence leaves empty (rag.objects compares a single swapped filler), and
entities spread over two sentences.
"""

from __future__ import annotations

from typing import Any

from rag.objects import _filler_words, _keys, _phrase

Token = Any  # spacy.tokens.Token
SECOND = {"over", "than", "instead", "before"}  # "favour X over Y", "more X than Y", "X instead of Y"


def _slots(verb: Token) -> dict[str, Token]:
    """'doer', 'done_to' and 'second' of a verb, by logical role (a passive's subject is done to)."""
    out: dict[str, Token] = {}
    passive = any(c.dep_ == "nsubjpass" for c in verb.children)
    for c in verb.children:
        if c.dep_ == "nsubj":
            out["doer"] = c
        elif c.dep_ in ("nsubjpass", "dobj"):
            out["done_to"] = c
        elif c.dep_ == "agent" or (passive and c.dep_ == "prep" and c.lower_ == "by"):
            out.update(("doer", p) for p in c.children if p.dep_ == "pobj")
    for t in [verb] + ([out["done_to"]] if "done_to" in out else []):
        for c in t.children:
            if c.dep_ == "prep" and c.lower_ in SECOND:
                out.update(("second", p) for p in c.subtree if p.dep_ == "pobj")
    return out


def _words(filler: Token, other: Token) -> set[str]:
    """Keys of a filler's own words; "ones" takes the other filler's noun."""
    words = _filler_words(filler)
    if filler.lemma_.lower() == "one":
        words = [w for w in words if w.i != filler.i] + [other]
    return set().union(*(_keys(w) for w in words)) if words else set()


def _turned(mine: tuple[Token, Token], theirs: tuple[Token, Token]) -> bool:
    a, b = _words(mine[0], mine[1]), _words(mine[1], mine[0])
    a2, b2 = _words(theirs[0], theirs[1]), _words(theirs[1], theirs[0])
    cross_a, cross_b = len(a & b2), len(b & a2)
    return bool(cross_a and cross_b) and cross_a + cross_b > len(a & a2) + len(b & b2)


def role_clash(claim: Any, source: Any) -> str | None:
    """'the source has X and Y the other way round' for two slots of a shared verb filled in reverse."""
    for t in claim:
        if t.pos_ != "VERB":
            continue
        mine = _slots(t)
        for s in (s for s in source if s.pos_ == "VERB" and s.lemma_.lower() == t.lemma_.lower()):
            theirs = _slots(s)
            for first, second in (("doer", "done_to"), ("done_to", "second")):
                if {first, second} <= mine.keys() & theirs.keys() and _turned(
                        (mine[first], mine[second]), (theirs[first], theirs[second])):
                    return (f'the source has "{_phrase(_filler_words(theirs[first]))}" and '
                            f'"{_phrase(_filler_words(theirs[second]))}" the other way round')
    return None
