"""`supported` means verified (rag.verify, rag.roles): every word of a claim that carries meaning stands in
its source, else the claim is `weak` with a reason; two fillers of one verb turned round are `unsupported`.

The word-list tests need no model; the others parse with spaCy's small English model (the real one), and
one runs `rag.answer` end to end with a scripted LLM over the seed article.
"""

from __future__ import annotations

import pytest
from test_llm import scripted, with_model  # noqa: F401  (fixture)

from rag.claims import contradiction, unverified
from rag.lexicon import SYNONYMS, side_of, synonyms_of
from rag.render import answer_as_text
from rag.service import answer
from rag.verify import initials

DEMAND = ("Even with concerns about the potential shift in AI cost structures, the demand for AI chips will remain "
          "strong.")


@pytest.mark.unit
def test_synonym_groups_hold_no_opposites():
    for group in SYNONYMS:
        sides = [side for w in group for side in side_of(w)]
        assert not any((pair, 1 - side) in sides for pair, side in sides), sorted(group)
    assert synonyms_of("firm") == synonyms_of("company") and synonyms_of("firm")


@pytest.mark.unit
def test_initials_of_capitalised_runs():
    assert {"snp", "np"} <= initials("said the Scottish National Party on Monday".split())
    assert "tsn" not in initials("said the Scottish National".split())


@pytest.mark.parametrize("claim, source, why", [
    ("Demand for AI chips will weaken in the long term.", DEMAND, 'the source does not say "weaken"'),
    ("DeepSeek's success might slow the global AI arms race.", "DeepSeek's success might accelerate the global AI "
     "arms race.", 'the source does not say "slow"'),
    ("According to Dell, there have been rumours that the deal could be in trouble.", "There have been rumours "
     "that the deal could be in trouble.", "the source does not cite Dell"),
    ("Conservationists believe nuclear energy may be a better option.", "Officials believe nuclear energy may be a "
     "better option.", 'the source does not say "Conservationists"'),
])
def test_an_unverified_word_is_named(claim, source, why):
    assert unverified(claim, source, passage=source + " Dell makes computers.") == why


@pytest.mark.parametrize("claim, source", [
    (DEMAND, DEMAND),  # verbatim
    ("The demand for AI chips will stay strong.", DEMAND),  # a synonym from the list
    ("Shares in the firm climbed 5% on Monday.", "Shares in the company rose 5% on Monday."),
    ("Barry Sheerman, who chairs the committee, said so.", "said the chairman of the committee, Barry Sheerman."),
    ("The SNP says the issue should be decided in Scotland.", "The Scottish National Party says the issue should "
     "be decided in Scotland."),
    ("Analysts expect profits to rise.", "Analysts at Bernstein expect profits to rise, they said."),
])
def test_verbatim_synonyms_and_stems_are_verified(claim, source):
    assert unverified(claim, source, passage=source) is None


@pytest.mark.parametrize("claim, source, says", [
    ("Critics say the law would favour small companies over large ones.",
     "Critics say the law would favour large companies over small ones.", '"large companies" and "small ones"'),
    ("Revolution Studios is suing actor Bruce Willis over an injury.",
     "Actor Bruce Willis is suing Revolution Studios over an injury.", '"Actor Bruce Willis" and "Revolution Studios"'),
    ("Bruce Willis is being sued by Revolution Studios.",
     "Actor Bruce Willis is suing Revolution Studios over an injury.", "the other way round"),
])
def test_roles_turned_round_clash(claim, source, says):
    why = contradiction(claim, source)
    assert why and says in why, why


@pytest.mark.parametrize("claim, source", [
    ("Revolution Studios is being sued by actor Bruce Willis.", "Actor Bruce Willis is suing Revolution Studios."),
    ("Critics in Los Angeles and New York have voted Sideways best film.",
     "Sideways has already been voted best film by critics in Los Angeles and New York."),
    ("The law would favour large firms over small ones.", "Critics say the law would favour large companies over "
     "small ones."),
])
def test_active_passive_and_same_order_do_not_clash(claim, source):
    assert contradiction(claim, source) is None


def test_unverified_claim_is_weak_end_to_end(with_model):  # noqa: F811
    nvidia = "On January 27, Nvidia lost a staggering $589 billion in market capitalization in a single day."
    claim = DEMAND.replace("remain strong", "weaken")
    engine = with_model(scripted((nvidia, "$589 billion"), (claim, "remain strong")))
    result = answer("What happened to Nvidia and will demand for chips stay strong?", engine=engine, llm="openai")
    first, second = result.sentences
    assert first.status == "supported" and not first.reason
    assert second.status == "weak" and second.reason == 'the source does not say "weaken"', second
    assert '(? the source does not say "weaken")' in answer_as_text(result)
