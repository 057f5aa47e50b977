"""What a question asks for, and whether a sentence holds it.

`expected_type` reads the question's form ("How much did X pay", "Which UKIP MEP ...", "What did X
say ...", "Where ...") and names the kind of answer it wants: money, a figure, a count, a percent, a
date, a person, a name, a place, a quote. `holds(kind, sentence, question)` says whether a sentence
holds such a thing that the question does not already give. A news lead ("A UK Independence Party
MEP suggested ...") restates the question without the name asked for; the answerer uses `holds` to
reach for the sentence that has it. Heuristics for English news text, nothing more: no parsing, no
named-entity model.
"""

from __future__ import annotations

import re

from rag.lexical import analyze
from rag.text import capitalised_terms, person_like_names

SPEECH = re.compile(r"\b(said|says|claim\w*|argu\w*|warn\w*|not\w*|stat\w*|told|believ\w*|call\w*|"
                    r"hint\w*|voic\w*|suggest\w*|highlight\w*|point\w*|caution\w*|accus\w*|insist\w*|"
                    r"add\w*|advocat\w*|speculat\w*|expect\w*|predict\w*|admit\w*|announc\w*)\b", re.I)
FIGURE = re.compile(r"[$£€]\s?\d|\d+(?:\.\d+)?\s?(?:%|per ?cent|million|billion|bn|m\b|thousand)|\b\d[\d,.]*\b")
_MONEY = re.compile(r"[$£€¥]\s?\d|\b\d[\d,.]*\s?(?:m|bn)?\s?(?:pounds|dollars|euros|yen|rupees)\b", re.I)
_DATE = re.compile(r"\b(?:19|20)\d\d\b|\b(?:January|February|March|April|May|June|July|August|September|"
                   r"October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_TITLED = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Sir|Lord|Lady|Baroness|President|Chancellor|Minister) [A-Z][\w'-]+")
_PLACE = re.compile(r"\b(?:in|at|near|outside|from|between|to)\s+(?:the\s+)?([A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)*)")
_REASON = re.compile(r"\b(because|due to|thanks to|as a result|owing to|driven by|reasons?|since|so that|"
                     r"after|led to|caused?|allow\w*|enabl\w*)\b", re.I)
_QUOTE = re.compile(r"[\"“”]")
_NAMING = re.compile(r"\b(?:named|called|dubbed|known as|titled|branded)\s+[\"“‘']?[A-Z]"
                     r"|[\"“‘][A-Z][^\"”’]{0,40}[\"”’]")
_MONEY_VERBS = re.compile(r"\b(cost\w*|pa(?:y|id|ys)|worth|seek\w*|spen[dt]\w*|price\w*|fine[ds]?|earn\w*|"
                          r"rais\w*|sel?l\w*|sold|bid|offer\w*|compensation|damages|salary|invest\w*|charg\w*)\b")
_SAID = re.compile(r"^what (?:did|does|do|has|have|had|will|would) .+ "
                   r"(?:say|said|promise|tell|claim|warn|want|think|argue|suggest|believe|predict)\b")
_PERSON_NOUNS = {
    "businessman", "businesswoman", "executive", "executives", "mep", "mp", "mps", "leader", "producer", "lord",
    "secretary", "minister", "coach", "player", "manager", "chief", "boss", "director", "actor", "actress",
    "singer", "star", "president", "chancellor", "official", "judge", "man", "woman", "composer", "author",
    "writer", "presenter", "comedian", "chairman", "founder", "spokesman", "politician", "peer", "athlete",
    "striker", "captain", "champion", "musician", "rapper", "band", "analyst", "economist", "campaigner"}
_NP_END = re.compile(r"^(?:is|was|were|are|will|would|did|does|do|has|had|have|can|could|should|at|in|of|on|for|"
                     r"to|from|with|by|won|made|said|became|took|gave|led|ran|held|\w+ed)$", re.I)
_ORGANISATION_WORDS = {
    "party", "office", "committee", "council", "federation", "association", "company", "corporation", "bank",
    "group", "university", "club", "union", "league", "ministry", "department", "commission", "court", "house",
    "airlines", "airways", "motors", "motor", "exchange", "agency", "board", "service", "news", "times", "awards",
    "street", "road", "city", "united", "cup", "championships", "games", "party's", "inc", "plc", "ltd"}
_ASKS_DEFINITION = re.compile(
    r"^(?:what (?:kind|sort|type) of [\w -]+?|who|what) (?:is|was|are|were) (?P<subject>.+?)\??$", re.IGNORECASE)
_NUMBER_WORDS = {"two", "three", "four", "five", "six", "ten", "one"}


def which_head(question: str) -> str | None:
    """The head noun of "Which three Aer Lingus executives were ..." ("executives")."""
    found = re.match(r"(?:which|what)\s+([^,?]+)", question.strip(), re.I)
    if not found:
        return None
    words = []
    for word in found[1].split():
        if _NP_END.match(word):
            break
        words.append(word)
    words = [w for w in words if w.lower() not in _NUMBER_WORDS]
    return words[-1].lower() if words else None


def expected_type(question: str) -> str | None:
    q = question.lower().strip()
    if re.search(r"\b(percentage|per ?cent|percent)\b", q):
        return "percent"
    if q.startswith("how much") and _MONEY_VERBS.search(q):
        return "money"
    if q.startswith("how many"):
        return "count"
    if re.match(r"(how (much|big|large|long|far|old)|what (share|amount|price|figure|sum|fine))", q):
        return "figure"
    if q.startswith("when") or re.match(r"(what|which) (day|date|year|month)", q):
        return "date"
    if q.startswith(("who", "whose", "whom")) or re.search(r"\bwho (said|claimed|warned|argued)", q):
        return "person"
    if _SAID.match(q):
        return "quote"
    if q.startswith(("which", "what")) and which_head(q) in _PERSON_NOUNS:
        return "person"
    if re.match(r"(what is the name|what was the name|name the|what is .* called|what was .* called)\b", q):
        return "naming"
    if q.startswith("which"):
        return "name"
    if q.startswith("why") or re.match(r"what (made|makes|caused|causes|led|leads|drove|drives)\b", q):
        return "reason"
    if q.startswith("where"):
        return "place"
    return None


def _new_figures(sentence: str, question: str) -> bool:
    """A figure in the sentence that the question does not already give."""
    return any(m.group() not in question for m in FIGURE.finditer(sentence))


def _new_names(sentence: str, question: str) -> bool:
    """A capitalised name (not the sentence's first word) that the question does not mention."""
    asked = {t for g in name_groups(question) for t in g} | set(analyze(question))
    return any(not (set(analyze(term)) & asked) for term in capitalised_terms(sentence))


def _new_person(sentence: str, question: str) -> bool:
    """A person's name (the last two words of a capitalised run, or 'Mr Nattrass') none of whose words
    the question has: "Carib Chief Charles Williams" is new to a question about Carib Indians, "David
    Blunkett" is not new to one that says "Blunkett"."""
    asked = set(analyze(question))
    names = {" ".join(name.split()[-2:]) for name in person_like_names(sentence)
             if name.split()[-1] not in _ORGANISATION_WORDS}
    names |= {m.group().lower() for m in _TITLED.finditer(sentence)}
    return any(not (set(analyze(name)) & asked) for name in names)


def _new_place(sentence: str, question: str) -> bool:
    """A capitalised place after "in", "at", "near"... that the question does not mention."""
    asked = set(analyze(question))
    return any(not (set(analyze(m[1])) & asked) for m in _PLACE.finditer(sentence))


def _count_of(sentence: str, question: str) -> bool:
    """For "How many CSI:NY promotion packs ...": a number standing before the thing counted (any
    word of the noun phrase after "how many": "55,000 promotion packs")."""
    thing = re.match(r"how many\s+(.+)", question.strip(), re.I)
    words = []
    for word in (thing[1].split() if thing else []):
        if _NP_END.match(word):
            break
        words.append(word)
    stems = set(analyze(" ".join(words)))
    for m in FIGURE.finditer(sentence):
        if m.group() in question:
            continue
        after = set(analyze(sentence[m.end():m.end() + 40]))
        if not stems or stems & after:
            return True
    return False


def holds(kind: str | None, sentence: str, question: str) -> bool | None:
    """Whether the sentence holds the kind of thing asked for (None: the question asks for no kind)."""
    checks = {
        "percent": lambda: re.search(r"\d\s?(%|per ?cent)", sentence) is not None,
        "money": lambda: any(m.group() not in question for m in _MONEY.finditer(sentence)),
        "count": lambda: _count_of(sentence, question),
        "figure": lambda: _new_figures(sentence, question),
        "date": lambda: _DATE.search(sentence) is not None,
        "person": lambda: _new_person(sentence, question),
        "quote": lambda: _QUOTE.search(sentence) is not None,
        "naming": lambda: _NAMING.search(sentence) is not None and _new_names(sentence, question),
        "name": lambda: _new_names(sentence, question),
        "place": lambda: _new_place(sentence, question),
        "reason": lambda: _REASON.search(sentence) is not None,
    }
    return checks[kind]() if kind in checks else None


def type_bonus(kind: str | None, sentence: str, question: str, weight: float) -> float:
    """Reward a sentence holding the kind of thing asked for, and not only repeating the question."""
    found = holds(kind, sentence, question)
    if found is None:
        return 0.0
    if not found:
        return -3 * weight if kind in ("percent", "money") else -weight
    if kind in ("person", "place"):
        return weight * (1 + bool(SPEECH.search(sentence))) / 2
    return weight


def name_groups(question: str) -> list[set[str]]:
    """The names in the question (runs of capitalised words after its first word), as term sets.

    A name counts as present when any of its words is ("McConnell" for "Jack McConnell"); a
    possessive separates two names ("Nintendo's Wii" is Nintendo and Wii).
    """
    name = r"(?:[A-Z]|[a-z][A-Z])[\w’'&-]*"  # "Sacks", "iPod", "eBay"
    runs = re.findall(rf"(?<!^)(?<![.?!] )\b{name}(?:\s+{name})*", question.strip())
    parts = [p for run in runs for p in re.split(r"[’']s\s+", run)]
    groups = [set(analyze(part)) for part in parts]
    return [g for g in groups if g]


def figures(question: str) -> set[str]:
    return {t for t in analyze(question) if any(ch.isdigit() for ch in t)}


def asks_definition(question: str) -> bool:
    """ "What kind of company is ASML?", "Who is David Sacks?", "What is distillation?" """
    return _ASKS_DEFINITION.match(question.strip()) is not None


def defines(sentence: str, question: str) -> bool:
    """For "What kind of company is ASML?": the sentence says what the subject is ("ASML, a Dutch
    semiconductor equipment maker," or "Distillation is how ...")."""
    asked = _ASKS_DEFINITION.match(question.strip())
    if not asked:
        return False
    subject = re.escape(asked["subject"].strip())
    return re.search(rf"\b{subject}(?:[’']s)?,\s+(?:a|an|the)\s|\b{subject}\s+(?:is|was|are|were)\s+(?:a|an|the|how)\s",
                     sentence, re.IGNORECASE) is not None
