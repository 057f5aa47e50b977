"""What makes `supported` mean verified: every word of a claim that carries meaning is found in its source.

`unverified(claim, source, before, after, passage)` reads the claim (a spaCy Doc, rag.claims.parse) and
returns why the source does not verify it, in a few words ('the source does not say "weaken"'), or None.
rag.cite then shows the sentence as `weak`, never `supported`: a claim that says something its source
does not say is not verified, even when nothing in the source contradicts it (`unsupported` stays for a
contradiction found, or no match at all). The words read, and where each must be found:

- predicate words (verbs, adjectives, adverbs): in the cited sentence or its neighbours (the sentence
  before and after), as the same lemma, word, Snowball stem (also without a derivational suffix:
  "chairs" for "chairman"), alias or synonym (rag.lexicon.SYNONYMS): "weaken" on "will remain strong"
  is not found. Other common nouns are not required (the object check, rag.objects, reads them);
- the head of a subject: in the cited sentence or the sentences before it (who a pronoun or a
  description stands for is said earlier, not later): "Conservationists believe" on "Officials
  believe"; a description that refers back ("the firm") is not read, an acronym may stand for the
  initials of a name ("SNP");
- who the claim says it is according to ("according to Dell", "told Reuters"): in the cited sentence
  or the one before it, not only somewhere in the passage;
- other names: anywhere in the passage.

Not read (a function of the claim's structure, not a fact): stop words, auxiliaries, the verbs that
attribute speech ("said", "claimed", "warned"), hedges ("probably", "reportedly"), titles ("Mr"),
figures and dates (rag.cite checks them exactly), and every word of a claim the source holds verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from rag.lexical import analyze
from rag.lexicon import TITLES, alias, synonyms_of
from rag.text import tokens

Token = Any  # spacy.tokens.Token
CONTENT = {"VERB", "ADJ", "ADV", "NOUN", "PROPN"}
# What a claim says happened, and how: these must be found. A common noun not found (other than a subject)
# is left to the object check (rag.objects): requiring it too cost faithful paraphrase far more often.
PREDICATES = {"VERB", "ADJ", "ADV"}
# verbs that attribute what follows to someone, not facts of their own
SPEECH = frozenset("say tell claim report write add note warn argue suggest insist believe state announce point "
                   "accord explain describe quote hint highlight stress comment reply respond caution".split())
HEDGES = frozenset("probably possibly reportedly apparently allegedly roughly approximately potentially likely "
                   "currently".split())
SUBJECTS = {"nsubj", "nsubjpass", "csubj"}
DERIVATIONS = ("man", "ment", "ation", "ion", "er", "or", "ive", "al", "ance", "ence", "ity", "ness", "ship", "ly")


def _stems(word: str) -> set[str]:
    """Snowball stems of the word and of it without a derivational suffix: chairman, chairs -> chair."""
    bases = [word] + [word[:-len(x)] for x in DERIVATIONS if word.endswith(x) and len(word) - len(x) >= 4]
    return {"~" + s for b in bases for s in analyze(b)}


def keys(t: Token) -> set[str]:
    """What stands for t in another text: its lemma, word, alias, stems and synonyms."""
    words = {t.lemma_.lower(), t.lower_}
    out = words | {alias(w) for w in words} | set().union(*(_stems(w) for w in words))
    return out | {f"={g}" for w in words for g in synonyms_of(w)}


def present(docs: Iterable[Any]) -> set[str]:
    """The keys of every word of the docs."""
    return set().union(*(keys(t) for doc in docs for t in doc))


def _read(t: Token) -> bool:
    """True for a word that carries meaning of its own (see the module docstring)."""
    lemma = t.lemma_.lower()
    return (t.pos_ in CONTENT and t.is_alpha and not t.is_stop and t.lower_ not in TITLES
            and lemma not in SPEECH and lemma not in HEDGES and lemma != "be")


def _is_subject(t: Token) -> bool:
    """t heads the subject of a clause ("Altman" of "CEO Sam Altman"; its other words count as names);
    not a description that refers back ("the firm", "its chief": who it is was said before)."""
    refers_back = t.pos_ != "PROPN" and any(c.dep_ in ("det", "poss") and c.lower_ not in ("a", "an")
                                            for c in t.children)
    return t.dep_ in SUBJECTS and not refers_back


def initials(words: Sequence[str]) -> set[str]:
    """The initials of every run of capitalised words: "the Scottish National Party" -> sn, snp, np."""
    out, run = set(), ""
    for w in [*words, ""]:
        if w[:1].isupper() and w.isalpha():
            run += w[0].lower()
            out |= {run[i:] for i in range(len(run) - 1)}
        else:
            run = ""
    return out


def _attributed(t: Token) -> bool:
    """t names who a claim cites: "according to X", "told X", "in X" after a speech verb."""
    for a in [t, *t.ancestors]:
        if a.dep_ == "pobj" and a.head.lower_ == "to" and a.head.head.lower_ == "according":
            return True
        if a.dep_ in ("dative", "dobj", "pobj") and (a.head.lemma_.lower() in SPEECH or (
                a.head.lower_ == "in" and a.head.head.lemma_.lower() in SPEECH)) and a.pos_ == "PROPN":
            return True
    return False


def _is_name(t: Token) -> bool:
    return t.pos_ == "PROPN" or (t.i > 0 and t.text[:1].isupper())


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", text)


def unverified(claim: Any, source: Any, before: Sequence[Any] = (), after: Sequence[Any] = (),
               passage: str = "") -> str | None:
    """Why the source does not verify the claim (Docs: the cited sentence, the sentences before it, the
    one after it; `passage`: the cited passage's text), or None when every word is found."""
    near = present([source, *before[-1:], *after[:1]])
    cited_by = present([source, *before[-1:]])  # who a claim is according to: said here, or just before
    earlier = present([source, *before]) | initials(_words(" ".join(d.text for d in [*before, source])))
    named = {alias(w) for w in tokens(passage)} | initials(_words(passage)) | near
    for t in claim:
        if not _read(t):
            continue
        if _attributed(t) and not keys(t) & cited_by:
            return f"the source does not cite {t.text}"
        if _is_subject(t) and not keys(t) & earlier:
            return f"the source does not name {t.text} here" if _is_name(t) else f'the source does not say "{t.text}"'
        if _is_name(t) and not _is_subject(t):
            if not keys(t) & named:
                return f"the passage does not name {t.text}"
        elif t.pos_ in PREDICATES and not keys(t) & near:
            return f'the source does not say "{t.text}"'
    return None
