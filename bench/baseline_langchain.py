"""The baseline to beat: the plain LangChain RAG-tutorial retrieval pipeline, scored like `rag eval`.

    .venv/bin/python bench/baseline_langchain.py evals/bbc.jsonl [--docs DIR] [--rag-run RUN_DIR]

Pipeline (as in the LangChain tutorial): the documents' text (read by rag.load, so both sides see
the same text and paths) -> RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200,
add_start_index=True) -> the same all-MiniLM-L6-v2 through HuggingFaceEmbeddings -> Chroma
(langchain_chroma, in memory) -> similarity_search(question, k=4). It has no answerer, so it is
scored on what it can be: retrieval (hit@4, MRR) and key recall in the retrieved text, with the
same scoring functions as `rag eval`. With --rag-run, prints a markdown table of a `rag eval` run
beside it (rag's hit@4 read from the gold ranks of its rows) for bench/compare.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from common import OUT, percentiles, record

K = 4


def load_documents(docs: Path) -> tuple[list[Any], dict[str, str]]:
    """LangChain Documents of the folder, and the paths of duplicate files -> the copy loaded."""
    from langchain_core.documents import Document as LCDocument

    from rag.load import SkipFile, load, scan

    files, _ = scan(docs)
    out = []
    for f in files:
        try:
            doc = load(f)
        except SkipFile:
            continue
        out.append(LCDocument(page_content=doc.text, metadata={"source": doc.path, "title": doc.title}))
    return out, {alias: f.path for f in files for alias in f.aliases}


def build(docs: Path, persist: Path | None = None) -> tuple[Any, dict[str, Any]]:
    """The tutorial's vector store over `docs`; with `persist`, kept there and reused when present."""
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag.embed import packaged_model_path

    t0 = time.perf_counter()
    documents, aliases = load_documents(docs)
    embeddings = HuggingFaceEmbeddings(model_name=str(packaged_model_path()), model_kwargs={"device": "cpu"})
    store = Chroma(collection_name="baseline", embedding_function=embeddings,
                   persist_directory=str(persist) if persist else None)
    if persist and store._collection.count():
        return store, {"documents": len(documents), "chunks": store._collection.count(),
                       "index_seconds": f"reused {persist}", "aliases": aliases}
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    splits = splitter.split_documents(documents)
    for i in range(0, len(splits), 1000):
        store.add_documents(splits[i:i + 1000])
    figures = {"documents": len(documents), "chunks": len(splits),
               "index_seconds": round(time.perf_counter() - t0, 1), "aliases": aliases}
    return store, figures


def evaluate(store: Any, questions: list[Any], aliases: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from rag.eval_score import gold_rank, gold_set, key_recall, keys_found, reciprocal_rank

    store.similarity_search("warm up", k=K)
    rows = []
    for q in questions:
        t0 = time.perf_counter()
        found = store.similarity_search(q.question, k=K)
        ms = (time.perf_counter() - t0) * 1000
        retrieved = [d.metadata["source"] for d in found]
        context = "\n".join(d.page_content for d in found)
        gold = gold_set(q.sources, aliases)
        rank = gold_rank(retrieved, gold)
        rows.append({"id": q.id, "question": q.question, "answerable": q.answerable, "retrieved": retrieved,
                     "sources": sorted(gold), "gold_rank": rank, "rr": reciprocal_rank(rank),
                     "context_recall": key_recall(context, q.answer_keys),
                     "all_keys_in_context": all(keys_found(context, q.answer_keys)) if q.answer_keys else None,
                     "latency_ms": round(ms, 2)})
    scored = [r for r in rows if r["answerable"] and r["sources"]]
    keyed = [r for r in rows if r["answerable"] and r["context_recall"] is not None]
    summary = {
        f"hit@{K}": round(sum(r["gold_rank"] is not None for r in scored) / len(scored), 4) if scored else None,
        "mrr": round(sum(r["rr"] for r in scored) / len(scored), 4) if scored else None,
        "context_recall": round(sum(r["context_recall"] for r in keyed) / len(keyed), 4) if keyed else None,
        "all_keys_in_context": round(sum(r["all_keys_in_context"] for r in keyed) / len(keyed), 4) if keyed else None,
        "questions": len(rows), "answerable_with_gold": len(scored),
        **{f"search_{k}": v for k, v in percentiles([r["latency_ms"] for r in rows]).items()},
    }
    return rows, summary


def side_by_side(baseline: dict[str, Any], rag_run: Path) -> str:
    """Markdown rows: metric | LangChain baseline | rag (from a `rag eval` run folder)."""
    rag_summary = json.loads((rag_run / "summary.json").read_text())["metrics"]
    rows = [json.loads(line) for line in (rag_run / "results.jsonl").read_text().splitlines() if line.strip()]
    scored = [r for r in rows if r["answerable"] and r["sources"]]
    rag_hit4 = sum(1 for r in scored if r["gold_rank"] and r["gold_rank"] <= K) / len(scored) if scored else None
    keyed = [r for r in rows if r["answerable"] and r["context_recall"] is not None]
    rag_all_keys = sum(r["context_recall"] == 1.0 for r in keyed) / len(keyed) if keyed else None

    def f(v: Any) -> str:
        return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    def ms(v: Any) -> str:
        return "–" if v is None else f"{v:.0f}"

    lines = ["| metric | LangChain baseline | rag |", "|---|---:|---:|",
             f"| hit@{K} | {f(baseline[f'hit@{K}'])} | {f(rag_hit4)} |",
             f"| hit@k (rag k={rag_summary.get('k')}) | – | {f(rag_summary.get('hit@k'))} |",
             f"| MRR | {f(baseline['mrr'])} | {f(rag_summary.get('mrr'))} |",
             f"| key recall in retrieved text | {f(baseline['context_recall'])} | "
             f"{f(rag_summary.get('context_recall'))} |",
             f"| all keys in retrieved text | {f(baseline['all_keys_in_context'])} | {f(rag_all_keys)} |",
             f"| key recall in the answer | – (no answerer) | {f(rag_summary.get('key_recall'))} |",
             f"| accuracy | – | {f(rag_summary.get('accuracy'))} |",
             f"| citation precision | – | {f(rag_summary.get('citation_precision'))} |",
             f"| abstention (unanswerable) | – (never abstains) | {f(rag_summary.get('abstention'))} |",
             f"| false abstention | – | {f(rag_summary.get('false_abstention'))} |",
             f"| latency p50 / p95, ms | {ms(baseline['search_p50_ms'])} / {ms(baseline['search_p95_ms'])} (search) | "
             f"{ms(rag_summary.get('latency_p50_ms'))} / {ms(rag_summary.get('latency_p95_ms'))} (answer) |"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=Path, help="question set (JSON Lines)")
    parser.add_argument("--docs", type=Path, default=None, help="documents (default: the BBC corpus)")
    parser.add_argument("--persist", type=Path, default=None, help="keep the vector store here; reuse it if present")
    parser.add_argument("--build-only", action="store_true", help="build (and persist) the store, score nothing")
    parser.add_argument("--rag-run", type=Path, default=None, help="a `rag eval` run folder to show beside it")
    args = parser.parse_args()

    from common import bbc_corpus

    from rag.evaluate import load_questions

    questions, errors = load_questions(args.questions)
    for e in errors:
        print(f"skipped {e}")
    docs = args.docs or bbc_corpus()
    store, figures = build(docs, args.persist)
    if args.build_only:
        print(json.dumps({k: v for k, v in figures.items() if k != "aliases"}))
        return
    aliases = figures.pop("aliases")
    rows, summary = evaluate(store, questions, aliases)
    out = OUT / f"baseline-{args.questions.stem}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    record("baseline_langchain", {"question_set": str(args.questions), "docs": str(docs), **figures, **summary})
    if args.rag_run:
        print(side_by_side(summary, args.rag_run))


if __name__ == "__main__":
    main()
