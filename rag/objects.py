"""What a claim says was done to what: the objects of a shared verb, compared between claim and source.

`object_clash(claim, source, similar)` starts from each predicate of the claim (a word with a subject,
or the root) that the source sentence holds too (same lemma, or a word of the same side of a
rag.lexicon.OPPOSITES pair: "fell" for "dropped"), and walks down both parses together through the words
they share. At each shared word it compares what fills the same slot: the direct object, attribute,
dative, object predicate, and the object of each preposition (slots keyed by the preposition: "to",
"of", "such as"). A claim filler none of whose content words the cited sentence holds, in a slot whose
source filler holds no content word of the claim, is a swapped object: "provides links to Carfax" on
"provides links to Amazon.com" -> "the source says Amazon.com"; "due to its use of the latest hardware"
on "due to its use of distillation techniques" -> "the source says distillation techniques". A clause
the verb governs (ccomp) with another head is compared by its names only.

Counts as present (faithful paraphrase stays safe): the same lemma, stem or alias (rag.lexicon.ALIASES)
anywhere in the cited sentence, a word of the same OPPOSITES side; and, for a claim filler without a
name, a source filler that means much the same: `similar(a, b)` (the embedder's cosine, given by
rag.cite) of the two phrases or of their head words at least SAME_MEANING. A name the source does not
hold is never excused so.

Leaves out: subjects (rag.claims.actor_clash), figures and dates (rag.cite), opposite words and negation
(rag.polarity), a slot the source leaves empty (the claim adds a detail: the embedding score weighs it).
Takes spaCy Docs (rag.claims.parse); returns a few words saying why, or None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rag.lexical import analyze
from rag.lexicon import alias, side_of

Token = Any  # spacy.tokens.Token
Similar = Callable[[str, str], float]
# Cosine (all-MiniLM-L6-v2) of the two fillers, or of their head words, from which a reworded object counts
# as the same. MiniLM rates single-word synonyms low (scheme/programme 0.37, stake/share 0.35, jobs/posts
# 0.40), unlike the swaps this check is for (hardware/techniques 0.23, chips/software 0.22); hand-set on
# such pairs (tests/test_objects.py), not fitted: the development probes hold one common-noun swap.
SAME_MEANING = 0.35
FILLERS = {"dobj", "attr", "dative", "oprd", "pobj"}
WALK = {"acomp", "xcomp", "ccomp", "advcl", "conj", "relcl", "acl", "pcomp"}  # clauses walked into
CORE = {"compound", "amod", "nmod", "poss", "conj", "appos", "nummod"}  # a filler's own words
CONTENT = {"NOUN", "PROPN", "ADJ"}


def _keys(t: Token) -> set[str]:
    """What stands for t when looking for it in another sentence: lemma, word, alias, stem, lexicon sides."""
    sides = {f"side:{pair}:{side}" for pair, side in side_of(t.lemma_.lower())}
    return {t.lemma_.lower(), t.lower_, alias(t.lower_)} | {"~" + s for s in analyze(t.text)} | sides


def _present_words(doc: Any) -> set[str]:
    return set().union(*(_keys(t) for t in doc))


def _holds(words: set[str], t: Token) -> bool:
    """True when `words` (_present_words of a sentence) hold t, its stem, alias or a same-side word."""
    return bool(_keys(t) & words)


def _is_name(t: Token) -> bool:
    return t.pos_ == "PROPN" or (t.i > 0 and t.text[:1].isupper() and t.is_alpha)


def _filler_words(head: Token) -> list[Token]:
    """The content words of a filler: its head (whatever the tagger made of it) and its own modifiers,
    not its prepositional phrases or clauses ("links in a webpage" -> links)."""
    out, todo = [], [head]
    while todo:
        t = todo.pop()
        if (t.i == head.i or t.pos_ in CONTENT) and any(c.isalpha() for c in t.text) and not t.is_stop:
            out.append(t)
        todo += [c for c in t.children if c.dep_ in CORE]
    return sorted(out, key=lambda t: t.i)


def _slots(t: Token) -> dict[str, list[Token]]:
    """Slot -> its fillers: "dobj", "attr", ...; "prep:to" -> t's prepositions "to" (walked into)."""
    out: dict[str, list[Token]] = {}
    for c in t.children:
        if c.dep_ in FILLERS:
            out.setdefault(c.dep_, []).append(c)
        elif c.dep_ in ("prep", "agent"):
            before = [w.lower_ for w in c.children if w.dep_ == "amod" and w.i < c.i]  # "such as"
            out.setdefault("prep:" + " ".join([*before, c.lower_]), []).append(c)
    return out


def _same(a: Token, b: Token) -> bool:
    return a.lemma_.lower() == b.lemma_.lower() or alias(a.lower_) == alias(b.lower_)


def _phrase(words: list[Token]) -> str:
    """The words as the sentence has them ("Oracle and Broadcom"), at most the last four if far apart."""
    words = words[-4:]
    span = words[0].doc[words[0].i:words[-1].i + 1]
    return span.text.replace('"', "") if len(span) <= len(words) + 2 else " ".join(t.text for t in words)


class _Reader:
    """One claim against one source sentence: the words each holds, and the meaning test."""

    def __init__(self, claim: Any, source: Any, similar: Similar | None) -> None:
        self.claim_words, self.source_words = _present_words(claim), _present_words(source)
        self.similar = similar

    def swapped(self, mine: Token, theirs: list[Token]) -> str | None:
        """'the source says X' when the claim filler `mine` is absent and every source filler differs."""
        words = _filler_words(mine)
        if not words or any(_holds(self.source_words, t) for t in words):
            return None
        named = any(_is_name(t) for t in words)
        for other in theirs:
            their_words = _filler_words(other)
            if not their_words or any(_holds(self.claim_words, t) for t in their_words):
                return None
            if not named and self._same_meaning(mine, words, other, their_words):
                return None
        return f"the source says {_phrase(_filler_words(theirs[0]))}" if theirs else None

    def _same_meaning(self, mine: Token, words: list[Token], theirs: Token, their_words: list[Token]) -> bool:
        if self.similar is None:
            return False
        phrases = self.similar(_phrase(words), _phrase(their_words))
        return max(phrases, self.similar(mine.text, theirs.text)) >= SAME_MEANING

    def names_differ(self, mine: Token, theirs: Token) -> str | None:
        """For clauses with different heads: a claim name the source lacks while the source's clause
        names someone the claim does not."""
        my_names = [t for t in mine.subtree if _is_name(t)]
        their_names = [t for t in theirs.subtree if _is_name(t)]
        if (my_names and their_names and not any(_holds(self.source_words, t) for t in my_names)
                and not any(_holds(self.claim_words, t) for t in their_names)):
            return f"the source says {_phrase(their_names)}"
        return None

    def compare(self, mine: Token, theirs: Token, depth: int = 0) -> str | None:
        """Why `theirs` (a source word the claim word `mine` shares) has other objects, walking down."""
        if depth > 6:
            return None
        my_slots, their_slots = _slots(mine), _slots(theirs)
        for key, fillers in my_slots.items():
            others = their_slots.get(key, [])
            for filler in fillers if others else ():
                twins = others if key.startswith("prep:") else [o for o in others if _same(filler, o)]
                reason = self.walk(filler, twins, depth) if twins else self.swapped(filler, others)
                if reason:
                    return reason
        return self._clauses(mine, theirs, depth)

    def _clauses(self, mine: Token, theirs: Token, depth: int) -> str | None:
        for c in mine.children:
            if c.dep_ not in WALK:
                continue
            others = [o for o in theirs.children if o.dep_ == c.dep_]
            twins = [o for o in others if _same(c, o)]
            if twins:
                reason = self.walk(c, twins, depth)
            elif c.dep_ == "ccomp" and len(others) == 1:
                reason = self.names_differ(c, others[0])
            else:
                reason = None
            if reason:
                return reason
        return None

    def walk(self, mine: Token, twins: list[Token], depth: int) -> str | None:
        """A clash only when every source twin of `mine` clashes."""
        reasons = [self.compare(mine, t, depth + 1) for t in twins]
        return reasons[0] if all(reasons) else None


def _predicate_twins(t: Token, source: Any) -> list[Token]:
    sides = set(side_of(t.lemma_.lower()))
    return [s for s in source if s.pos_ in ("VERB", "AUX", "ADJ") and (
        _same(t, s) or (t.pos_ == "VERB" and s.pos_ == "VERB" and sides & set(side_of(s.lemma_.lower()))))]


def similarity_of(embedder: Any) -> Similar:
    """`similar` for object_clash: the cosine of two short phrases with an rag.embed.Embedder."""
    def similar(a: str, b: str) -> float:
        va, vb = embedder.encode_documents([a, b])
        return float(va @ vb)
    return similar


def object_clash(claim: Any, source: Any, similar: Similar | None = None) -> str | None:
    """'the source says X' for an object of a verb both sentences hold that the source fills otherwise."""
    reader = _Reader(claim, source, similar)
    for t in claim:
        if t.pos_ not in ("VERB", "AUX", "ADJ") or not (t.dep_ == "ROOT" or any(
                c.dep_ in ("nsubj", "nsubjpass") for c in t.children)):
            continue
        twins = _predicate_twins(t, source)
        if twins and (reason := reader.walk(t, twins, 0)):
            return reason
    return None
