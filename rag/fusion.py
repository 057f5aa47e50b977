"""How the dense and BM25 candidates of a search are fused into one ranking.

Reciprocal rank fusion of the two lists, plus two terms that bring back the passage, not just the
article (issue 15, point 5):

- a third ranking, by phrase: the BM25 candidates that hold, adjacent, the question's adjacent word
  pairs ("Jonathan Rosenberg", "professional gaming", "control order"), the pairs few candidates hold
  weighing most. BM25 scores those words apart, so a chunk that names the person the question names
  can rank below an opening chunk that only shares the topic's words;
- a document term: each candidate gains `document_weight` times the best fused score among its
  document's candidates, so the other chunks of a strongly matched article (a quote four paragraphs
  below the lead) rank above weak chunks of other articles.

Both weights are settings (0 turns a term off, which gives plain fusion); `bench/tune_recall.py`
chose them on the training question sets. `Retriever.search` uses `fuse` to choose which k chunks
come back and hands them on in plain-fusion order. Left out: anything learned per question or word.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from rag.text import STOPWORDS, normalize

_WORD = re.compile(r"[\w$£€%]+(?:[.,'][\w%]+)*")


def rrf_fuse(rankings: Sequence[Sequence[str]], k: int, weights: Sequence[float] = ()) -> dict[str, float]:
    """Reciprocal rank fusion: score(id) = sum over rankings of weight / (k + rank) (weights default 1)."""
    fused: dict[str, float] = {}
    for n, ranking in enumerate(rankings):
        weight = weights[n] if n < len(weights) else 1.0
        for rank, chunk_id in enumerate(ranking, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (k + rank)
    return fused


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def word_pairs(text: str) -> set[tuple[str, str]]:
    """Adjacent pairs of content words (stop words skipped, Snowball-stemmed): "Lord Walker of
    Gestingthorpe" -> {(lord, walker), (walker, gestingthorp)}. Faster than `lexical.analyze`, which
    the candidates of every search would cost ~10 ms."""
    words = [w.removesuffix("'s") for w in _WORD.findall(normalize(text))]
    stems = _stemmer().stemWords([w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())])
    return set(zip(stems, stems[1:], strict=False))


def phrase_ranking(question: str, texts: Mapping[str, str]) -> list[str]:
    """The ids of `texts` (the BM25 candidates, best first) holding the question's word pairs, by the
    summed weight of the pairs they hold (ties keep the order given). A pair's weight is its
    Robertson-Sparck Jones idf among these texts, log((n - df + 0.5) / (df + 0.5)), counted only when
    positive: a pair that half the candidates hold ("AI models" in an article on AI) picks out none."""
    wanted = word_pairs(question)
    if not wanted:
        return []
    held = {i: wanted & word_pairs(t) for i, t in texts.items()}
    df = Counter(pair for pairs in held.values() for pair in pairs)
    n = len(texts)
    weight = {pair: math.log((n - count + 0.5) / (count + 0.5)) for pair, count in df.items()}
    score = {i: sum(max(weight[p], 0.0) for p in pairs) for i, pairs in held.items()}
    return sorted((i for i in texts if score[i] > 0), key=lambda i: -score[i])


def fuse(dense: Sequence[str], lexical: Sequence[str], phrase: Sequence[str], source_of: Mapping[str, str],
         k: int, phrase_weight: float, document_weight: float) -> dict[str, float]:
    """Fused score of every candidate: RRF of the dense, BM25 and (weighted) phrase rankings, plus
    `document_weight` times the best such score of the candidate's document (`source_of`; a
    candidate without a known source counts as its own document)."""
    fused = rrf_fuse([dense, lexical, phrase], k, (1.0, 1.0, phrase_weight))
    if not document_weight:
        return fused
    best: dict[str, float] = {}
    for chunk_id, score in fused.items():
        source = source_of.get(chunk_id, chunk_id)
        best[source] = max(best.get(source, 0.0), score)
    return {i: s + document_weight * best[source_of.get(i, i)] for i, s in fused.items()}
