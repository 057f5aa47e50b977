"""Retrieval brings back the passage, not just the article (issue 15, point 5): `rag.fusion` on its own
(unit), and `Retriever.search` over a real Chroma index with the packaged model, where a producer's
quote sits deep in a long awards article among other awards articles."""

from __future__ import annotations

import pytest

from helpers import engine_over
from rag.fusion import fuse, phrase_ranking, rrf_fuse, word_pairs

QUOTE = "reward for every carpenter"
SCREEN_AWARDS = """Halvorsen film leads screen awards shortlist

Northern Light, the historical drama by the Norwegian director Erik Halvorsen, leads the shortlist for this year's \
National Screen Awards with nine nominations, the academy announced on Monday. Halvorsen is nominated for best \
director and the film for best film and best actress. The awards ceremony will be held at the Royal Festival Hall \
in London on 14 March.

Close behind with seven nominations is the courtroom thriller The Verdict Room, while the animated comedy Paper \
Moons received five. The academy said more than 6,000 members had voted in the first round, a record turnout for \
the awards, which are now in their 41st year. Halvorsen's previous film won two awards in 2019.

In the acting categories, first-time nominee Asha Rahman faces veterans Claire Dufresne and Margaret Oyelaran for \
best actress. The best actor race is between Tom Hollis, Rafael Costa and the late Peter Lindqvist, who is \
nominated posthumously for his final role.

The documentary category has been expanded from four to six films this year after complaints that too many strong \
entries were left out. Organisers have also introduced a new prize for visual effects, sponsored by a games company.

Northern Light was shot over two winters on an island off the Norwegian coast, with a budget of less than four \
million pounds raised from a regional film fund, a bank loan and the crew's own savings. Filming stopped twice when \
storms cut the island off for weeks. "This is a reward for every carpenter, driver and cook who stayed out on that \
rock with us when the money ran out," said Ingrid Halvorsen, the film's producer and the director's wife. The film \
has yet to find a distributor in America, and its sales agent said talks with three companies were continuing.

The ceremony will be broadcast live, and the academy said tickets for the public would go on sale next week. Last \
year's best film, The Long Field, went on to win two Oscars.
"""
TV_AWARDS = """Crime drama tops television awards list

The crime drama Harbour Street has been nominated for eight Television Awards, including best drama series and \
best actress for its star Ingrid Marsh. The awards ceremony takes place in London in May and will be hosted by \
comedian Ruth Delaney. Ingrid Marsh said the nominations were a surprise.

Soap operas and reality shows compete in a separate category decided by a public vote, which opens next week. Last \
year more than two million viewers voted in that category. The judges' awards, including best documentary and best \
comedy, are decided by a panel of critics and producers.

The nominations were announced at a breakfast event attended by broadcasters and actors. The awards have grown in \
recent years as streaming services entered the competition, and this year a streaming series has been nominated for \
best drama for the first time.
"""


def other_awards(field: str, n: int) -> str:
    return (f"{field.title()} awards nominations announced\n\n"
            f"The shortlist for this year's {field.title()} Awards was announced on Monday, with {n + 4} nominations "
            f"for the most successful entry. The awards ceremony will be held in London next month, the organisers "
            f"said.\n\nThe judges said the nominations showed the strength of British {field} this year. More than "
            f"{n + 2},000 members of the academy voted in the first round of the awards, a record turnout.\n\n"
            f"Last year's winners said the awards had changed their careers. The nominations for the public vote "
            f"category will be announced next week, and the ceremony will be broadcast live.\n")


@pytest.fixture(scope="module")
def awards_engine(tmp_path_factory, embedder):
    fields = ["music", "theatre", "book", "games", "radio", "comedy", "dance", "fashion", "design"]
    files = {"screen_awards.txt": SCREEN_AWARDS, "tv_awards.txt": TV_AWARDS}
    files |= {f"{field}_awards.txt": other_awards(field, n) for n, field in enumerate(fields)}
    return engine_over(tmp_path_factory.mktemp("awards"), embedder, files)


def test_the_one_passage_retrieved_for_a_question_naming_a_speaker_is_their_quote_deep_in_the_article(awards_engine):
    """BM25 scores "Ingrid" (also an actress in another article) and "Halvorsen" (also the director,
    named in the lead) apart, and the lead wins on dense similarity: plain fusion put the lead first."""
    hits = awards_engine.retriever.search("What did Ingrid Halvorsen say about the awards?", k=1)
    assert QUOTE in hits[0].chunk.text
    assert hits[0].chunk.source == "screen_awards.txt" and hits[0].chunk.ordinal >= 2  # not the lead: deep in


@pytest.mark.unit
def test_word_pairs_are_adjacent_content_words_stemmed():
    assert word_pairs("What did Lord Walker of Gestingthorpe say?") == {("lord", "walker"), ("walker", "gestingthorp")}
    assert word_pairs("Google's Jonathan Rosenberg") == {("googl", "jonathan"), ("jonathan", "rosenberg")}
    assert word_pairs("the") == set()


@pytest.mark.unit
def test_phrase_ranking_puts_the_rare_pair_first_and_ignores_pairs_most_candidates_hold():
    texts = {"a": "AI models are everywhere.", "b": "New AI models, said the firm.",
             "c": "He warned of copycat AI tools.", "d": "Copycat fears. AI models again.", "e": "Nothing here."}
    ranking = phrase_ranking("Who warned about copycat AI models?", texts)
    assert ranking[0] == "c"  # (warn, copycat) and (copycat, ai): held by one text each
    assert "e" not in ranking
    assert "a" not in ranking and "b" not in ranking  # (ai, model): three of five texts hold it, weight <= 0


@pytest.mark.unit
def test_fuse_without_its_terms_is_plain_reciprocal_rank_fusion():
    dense, lexical = ["a", "b", "c"], ["c", "d"]
    assert fuse(dense, lexical, ["d"], {}, 60, 0.0, 0.0) == rrf_fuse([dense, lexical], 60)


@pytest.mark.unit
def test_document_term_lifts_the_other_chunks_of_the_best_article_over_other_articles():
    dense, lexical = ["lead", "other1", "other2", "quote"], ["lead", "other2", "quote", "other1"]
    source = {"lead": "x.txt", "quote": "x.txt", "other1": "y.txt", "other2": "z.txt"}
    plain = fuse(dense, lexical, [], source, 60, 0.0, 0.0)
    lifted = fuse(dense, lexical, [], source, 60, 0.0, 1.5)
    assert sorted(plain, key=lambda i: -plain[i])[-1] == "quote"
    assert sorted(lifted, key=lambda i: -lifted[i])[:2] == ["lead", "quote"]


@pytest.mark.unit
def test_phrase_term_lifts_the_chunk_holding_the_name():
    dense, lexical = ["lead", "b", "quote"], ["b", "lead", "quote"]
    plain = fuse(dense, lexical, [], {}, 60, 1.0, 0.0)
    lifted = fuse(dense, lexical, ["quote"], {}, 60, 1.0, 0.0)
    assert max(plain, key=lambda i: plain[i]) != "quote"
    assert max(lifted, key=lambda i: lifted[i]) == "quote"
