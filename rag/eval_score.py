"""Pure scoring functions of the evaluation: one answer against one question, then a whole run.

Nothing here touches the index, the model or the disk: the caller passes the document texts (a
`source -> text` function) and the alias map, so every function is unit-tested on hand-made Answers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rag.errors import ConfigError
from rag.models import Answer, Citation, SentenceCheck
from rag.text import normalize

DocText = Callable[[str], str | None]  # source path -> the document text as loaded, or None

# (name, higher is better, description); the order of tables and charts.
METRICS: tuple[tuple[str, bool, str], ...] = (
    ("hit@k", True, "answerable questions with a gold source among the k retrieved chunks"),
    ("mrr", True, "mean reciprocal rank of the first chunk from a gold source"),
    ("context_recall", True, "share of answer keys found in the retrieved chunks' text"),
    ("key_recall", True, "share of answer keys found in the answer"),
    ("accuracy", True, "answerable questions answered with every key, not abstained"),
    ("citation_precision", True, "citations whose source is gold and whose quote is supported"
                                 " (answerable questions naming no source: quote supported)"),
    ("cited_answers", True, "answers (not abstentions) with at least one citation"),
    ("abstention", True, "unanswerable questions abstained on"),
    ("false_abstention", False, "answerable questions wrongly abstained on"),
    ("pass_rate", True, "questions passed (answerable: accurate; unanswerable: abstained)"),
    ("latency_p50_ms", False, "median time of one rag.answer call, ms"),
    ("latency_p95_ms", False, "95th percentile time of one rag.answer call, ms"),
)
HIGHER_IS_BETTER = {name: up for name, up, _ in METRICS}


def fold(text: str) -> str:
    """Case-, quote- and white-space-insensitive form used for matching answer keys."""
    return " ".join(normalize(text).split())


def keys_found(text: str, keys: Sequence[str], any_of: Sequence[str] = ()) -> list[bool]:
    """For each key, whether `text` contains it (case-insensitive); with `any_of` (alternatives, e.g.
    every annotator's answer), one more entry: whether `text` contains at least one of them."""
    folded = fold(text)
    found = [fold(k) in folded for k in keys]
    if any_of:
        found.append(any(fold(a) in folded for a in any_of))
    return found


def key_recall(text: str, keys: Sequence[str], any_of: Sequence[str] = ()) -> float | None:
    """Share of `keys` (and of the `any_of` group, counted as one key) in `text`; None when there are none."""
    if not keys and not any_of:
        return None
    found = keys_found(text, keys, any_of)
    return sum(found) / len(found)


def canonical(path: str, aliases: Mapping[str, str]) -> str:
    """A source path as the index knows it: POSIX, no leading './', duplicates mapped to the kept copy."""
    path = path.replace("\\", "/").removeprefix("./")
    return aliases.get(path, path)


def gold_set(sources: Iterable[str], aliases: Mapping[str, str]) -> set[str]:
    return {canonical(s, aliases) for s in sources}


def gold_rank(retrieved: Sequence[str], gold: set[str]) -> int | None:
    """1-based rank of the first retrieved chunk whose source is gold, or None."""
    return next((i for i, src in enumerate(retrieved, start=1) if src in gold), None)


def reciprocal_rank(rank: int | None) -> float:
    return 1.0 / rank if rank else 0.0


def quote_at_span(text: str | None, citation: Citation) -> bool:
    """True when the citation's quote is exactly the document text at its span."""
    if text is None:
        return False
    return text[citation.start:citation.end] == citation.quote


def supported_by_sentences(sentences: Sequence[SentenceCheck]) -> set[int]:
    """Citation numbers that at least one answer sentence cites with status "supported"."""
    return {n for s in sentences if s.status == "supported" for n in s.citations}


def citation_checks(answer: Answer, gold: set[str] | None, doc_text: DocText) -> list[bool]:
    """For each citation: its source is gold (unless `gold` is None: not known) and its quote is supported.

    LLM answers (with sentence checks) use the checker's statuses; extractive ones must quote the
    document verbatim at the cited span.
    """
    supported = supported_by_sentences(answer.sentences) if answer.sentences else None
    checks = []
    for c in answer.citations:
        ok = c.n in supported if supported is not None else quote_at_span(doc_text(c.source), c)
        checks.append((gold is None or c.source in gold) and ok)
    return checks


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def summarize(rows: Sequence[Mapping[str, Any]], k: int) -> dict[str, float]:
    """The run's metrics from its scored rows; a metric with no question to measure it is left out."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    with_gold = [r for r in answerable if r["sources"]]
    answered = [r for r in rows if not r["abstained"] and not r.get("error")]
    citations = [ok for r in rows for ok in r["citations_ok"]]
    latencies = [r["latency_ms"] for r in rows if not r.get("error")]
    values: dict[str, float | None] = {
        "hit@k": _mean(float(r["gold_rank"] is not None) for r in with_gold),
        "mrr": _mean(r["rr"] for r in with_gold),
        "context_recall": _mean(r["context_recall"] for r in answerable),
        "key_recall": _mean(r["key_recall"] for r in answerable),
        "accuracy": _mean(float(r["passed"]) for r in answerable),
        "citation_precision": _mean(float(ok) for ok in citations),
        "cited_answers": _mean(float(bool(r["cited_sources"])) for r in answered),
        "abstention": _mean(float(r["abstained"]) for r in unanswerable),
        "false_abstention": _mean(float(r["abstained"]) for r in answerable),
        "pass_rate": _mean(float(r["passed"]) for r in rows),
        "latency_p50_ms": percentile(latencies, 50) if latencies else None,
        "latency_p95_ms": percentile(latencies, 95) if latencies else None,
    }
    summary = {name: round(v, 4) for name, v in values.items() if v is not None}
    summary.update(questions=len(rows), answerable=len(answerable), unanswerable=len(unanswerable),
                   errors=sum(1 for r in rows if r.get("error")), k=k)
    return summary


def worst_first(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Failed questions first, then by retrieval miss, key recall and citation precision."""
    def badness(r: Mapping[str, Any]) -> tuple:
        cp = r["citation_precision"]
        return (r["passed"], r["gold_rank"] is not None or not r["sources"],
                r["key_recall"] if r["key_recall"] is not None else 1.0,
                cp if cp is not None else 1.0, -r["latency_ms"])
    return sorted(rows, key=badness)


def parse_minimums(items: Sequence[str]) -> dict[str, float]:
    """{"accuracy": 0.85} from ["accuracy=0.85"]; ConfigError on a malformed item or unknown metric."""
    found = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not sep or number != number:
            raise ConfigError(f"--min takes METRIC=VALUE, e.g. accuracy=0.85 (got {item!r})")
        if name not in HIGHER_IS_BETTER:
            raise ConfigError(f"unknown metric {name!r} in --min; metrics: {', '.join(HIGHER_IS_BETTER)}")
        found[name] = number
    return found


def below_minimums(summary: dict[str, float], minimums: dict[str, float]) -> list[str]:
    """One message per metric under its minimum (or not measured at all)."""
    failed = []
    for name, floor in minimums.items():
        value = summary.get(name)
        if value is None:
            failed.append(f"{name} was not measured (minimum {floor:g})")
        elif value < floor:
            failed.append(f"{name} = {value:g} is below the minimum {floor:g}")
    return failed
