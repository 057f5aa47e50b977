"""Follow-up questions made standalone, without an LLM.

When a question leans on the conversation ("What did he hint at?"), the previous question's key
terms and the names in the previous answer are carried into the question used for retrieval. A
question that stands on its own is returned unchanged. (With an LLM, rag.generate rewrites instead.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.text import STOPWORDS, capitalised_terms, content_words

History = Sequence[tuple[str, str]]  # (question, answer text) pairs, oldest first

_LEANS = re.compile(
    r"\b(he|she|it|they|them|him|his|her|hers|its|their|theirs|that|this|those|these|there|then|"
    r"the company|the firm|the same)\b|^(and|what about|how about|why|and why)\b", re.IGNORECASE)
_MARKER = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")


def leans_on_history(question: str) -> bool:
    return bool(_LEANS.search(question.strip()))


def standalone_question(question: str, history: History) -> str:
    """The question with the context it leans on, for retrieval; unchanged when it stands alone."""
    if not history or not leans_on_history(question):
        return question
    last_question, last_answer = history[-1]
    names = [t for t in capitalised_terms(_MARKER.sub("", last_answer)) if t not in STOPWORDS]
    carried = list(dict.fromkeys(content_words(last_question) + names))
    own = set(content_words(question))
    extra = [w for w in carried if w not in own][:12]
    return f"{question.strip()} ({' '.join(extra)})" if extra else question
