"""SQuAD 2.0 (../shared/qa/squad2_500) as a `rag eval` question set over one file per paragraph.

    .venv/bin/python bench/squad_to_eval.py [--data DIR] [--docs DIR] [--out FILE]
    .venv/bin/rag eval bench/out/squad2/squad2.jsonl --docs bench/out/squad2/docs \
        --index bench/out/squad2/index --out runs/squad2

Writes each paragraph to `<docs>/<doc_id>.txt` (default bench/out/squad2/docs) and the questions to
`<out>` (default bench/out/squad2/squad2.jsonl), both git-ignored: the data is third-party and never
copied into the repository. An answerable question's annotator answers become `answer_any` (any one
of them in the answer counts) and its paragraph its gold source; an unanswerable one has neither,
as in the team's sets, and names its on-topic paragraph in `notes`. `notes` starts with
"answerable" or "unanswerable", so the report's table by kind splits the two.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "qa" / "squad2_500"
OUT = ROOT / "bench" / "out" / "squad2"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def eval_line(q: dict[str, Any]) -> dict[str, Any]:
    """One `rag eval` question from one SQuAD question (answers de-duplicated, empty ones dropped)."""
    answers = list(dict.fromkeys(a.strip() for a in q["answers"] if a.strip()))
    answerable = not q["is_impossible"] and bool(answers)
    return {"id": q["id"], "question": q["question"].strip(), "answer_keys": [],
            "answer_any": answers if answerable else [],
            "sources": [f"{q['context_id']}.txt"] if answerable else [], "answerable": answerable,
            "notes": f"{'answerable' if answerable else 'unanswerable'} (paragraph {q['context_id']})"}


def convert(data: Path, docs: Path, out: Path) -> tuple[int, int, int]:
    """Write the paragraphs and the question set; (paragraphs, questions, unanswerable)."""
    contexts = read_jsonl(data / "contexts.jsonl")
    questions = [eval_line(q) for q in read_jsonl(data / "questions.jsonl")]
    docs.mkdir(parents=True, exist_ok=True)
    for c in contexts:
        (docs / f"{c['doc_id']}.txt").write_text(c["text"] + "\n", encoding="utf-8")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    return len(contexts), len(questions), sum(not q["answerable"] for q in questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the squad2_500 folder")
    parser.add_argument("--docs", type=Path, default=OUT / "docs", help="where the paragraphs go")
    parser.add_argument("--out", type=Path, default=OUT / "squad2.jsonl", help="the question set to write")
    args = parser.parse_args()
    if not (args.data / "questions.jsonl").is_file():
        raise SystemExit(f"SQuAD data not found at {args.data} (expected questions.jsonl, contexts.jsonl)")
    paragraphs, questions, unanswerable = convert(args.data, args.docs, args.out)
    print(f"{paragraphs} paragraphs -> {args.docs}; {questions} questions ({unanswerable} unanswerable)"
          f" -> {args.out}")


if __name__ == "__main__":
    main()
