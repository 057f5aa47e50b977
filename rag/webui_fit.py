"""What the web chat offers to fit the collection it serves: example questions and question sets.

An example question is an answerable question of a set in evals/ whose gold sources are indexed; when
those are fewer than asked for, questions are made from the titles of the indexed documents no example
is about yet, never about a document the index lacks. The question sets are ranked by the share of
their questions that name indexed documents, and a set that names others says so in one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.service import Engine


@dataclass(frozen=True)
class SetFit:
    """How well a question set fits the index: of its questions, how many name sources, and how many
    of those name only documents that are not indexed."""

    name: str
    questions: int
    naming: int
    missing: int

    @property
    def share(self) -> float:
        """Share of the questions naming sources whose sources are indexed (1.0 when none names any)."""
        return (self.naming - self.missing) / self.naming if self.naming else 1.0

    @property
    def label(self) -> str:
        if not self.naming:
            return f"{self.name} ({self.questions} questions)"
        return f"{self.name} ({self.naming - self.missing} of {self.questions} questions about indexed documents)"

    def warning(self) -> str:
        """One line when questions name documents the index does not hold, else ""."""
        if not self.missing:
            return ""
        return (f"⚠ {self.missing} of {self.questions} questions name documents that are not indexed: "
                "their scores say nothing about this collection.")


def read_set(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a question set; lines that are not JSON objects are left out."""
    items = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("question"), str):
            items.append(item)
    return items


def _sources(item: dict[str, Any]) -> list[str]:
    sources = item.get("sources") or []
    return [sources] if isinstance(sources, str) else [s for s in sources if isinstance(s, str)]


def indexed_documents(engine: Engine) -> dict[str, str]:
    """{path: title} of every indexed document, its other paths (identical copies) included."""
    store = engine.retriever.store
    collection = store.active()
    if collection is None:
        return {}
    found: dict[str, str] = {}
    for doc in store.documents(collection).values():
        for path in (doc.source, *doc.aliases):
            found[path] = doc.title
    return found


def set_fit(path: Path, indexed: dict[str, str] | set[str]) -> SetFit:
    items = read_set(path)
    naming = [item for item in items if _sources(item)]
    missing = sum(1 for item in naming if not any(s in indexed for s in _sources(item)))
    return SetFit(path.name, len(items), len(naming), missing)


def ranked_sets(evals_dir: Path, indexed: dict[str, str] | set[str]) -> list[SetFit]:
    """The question sets in evals_dir, those about indexed documents first (then by name)."""
    fits = [set_fit(path, indexed) for path in sorted(evals_dir.glob("*.jsonl"))]
    return sorted(fits, key=lambda f: (f.naming == 0 or f.missing == f.naming, -f.share, f.name))


def example_questions(evals_dir: Path, indexed: dict[str, str], limit: int = 6) -> list[str]:
    """Up to `limit` questions about indexed documents, taken in turn from each document: first the
    answerable questions of the best-fitting sets, then one made from the title of each other document."""
    by_document: dict[str, list[str]] = {}
    for fit in ranked_sets(evals_dir, indexed):
        for item in read_set(evals_dir / fit.name):
            gold = [s for s in _sources(item) if s in indexed]
            if gold and item.get("answerable", True):
                by_document.setdefault(indexed[gold[0]], []).append(str(item["question"]))
    for title in sorted(set(indexed.values()) - set(by_document)):
        by_document[title] = [f"What does “{title}” say?"]
    found: list[str] = []
    queues = list(by_document.values())
    while len(found) < limit and any(queues):
        for queue in queues:
            if queue and len(found) < limit and (question := queue.pop(0)) not in found:
                found.append(question)
    return found


def fit_choices(evals_dir: Path, indexed: dict[str, str]) -> tuple[list[tuple[str, str]], str | None, str]:
    """(dropdown choices as (label, file name), the preselected set, its warning line)."""
    fits = ranked_sets(evals_dir, indexed)
    choices = [(fit.label, fit.name) for fit in fits]
    first = fits[0] if fits else None
    return choices, first.name if first else None, first.warning() if first else ""


def fit_warning(evals_dir: Path, indexed: dict[str, str], name: str | None) -> str:
    """The warning line of the set `name` ("" when it fits or is not a file of evals_dir)."""
    if not name or Path(name).name != name or not (evals_dir / name).is_file():
        return ""
    return set_fit(evals_dir / name, indexed).warning()
