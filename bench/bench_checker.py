"""Citation checker benchmark: labelled claims played through a real OpenAI-compatible server.

Each probe of bench/checker_probes.jsonl is a question, the document whose passage the claim cites
(`source`, with an `anchor` phrase of the cited sentence), the claim, and a label: faithful (verbatim,
paraphrase) or falsified in one named way (number, date, actor, organisation, direction, negation,
source_named, other_passage). For each probe a tiny scripted server on loopback answers
/v1/chat/completions (streamed, as OpenAI does) with three sentences: the claim, cited with the `[n]`
of the prompt's source that holds the anchor, then two other sentences of that source, quoted and cited.
rag asks it through its real `openai` backend (`rag.answer(..., llm="openai")`), and the status the
checker gave the claim is scored:

- falsified kinds: share NOT shown `supported` (target >= 95% in every kind);
- faithful kinds: share marked `unsupported` (target <= 10%), and share `supported`;
- checking time: `rag.cite.check_sentences` on the three-sentence answer, p50/p95, and the part of it
  spent reading claims (`rag.claims.contradiction` and `.unverified`; target: checking adds <= 50 ms p50 on the BBC
  index). Loading the NLP model (once per process) is timed apart, and each engine answers one
  unscored question first.

Probes whose passage is not among the retrieved sources are reported and left out; an
`other_passage` probe whose fact stands in the cited passage is reported as invalid.

    .venv/bin/python bench/bench_checker.py                  # development probes, seed + BBC
    .venv/bin/python bench/bench_checker.py --split heldout  # the first held-out probes (scored: spent)
    .venv/bin/python bench/bench_checker.py --split heldout2 # the second held-out part (scored: spent)
    .venv/bin/python bench/bench_checker.py --split heldout3 # the third held-out part (score once)

The BBC index is bench/out/bbc-index (copy the lead's; see bench/common.py).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import BBC_INDEX, OUT, ROOT, bbc_corpus, machine, percentiles, settings_for

PROBES = ROOT / "bench" / "checker_probes.jsonl"
_SOURCE = re.compile(r'<source id="(\d+)"[^>]*path="([^"]*)"[^>]*>\n(.*?)\n</source>', re.DOTALL)


class Script:
    """What the server answers: the current probe's claim cited on the source holding its anchor."""

    def __init__(self) -> None:
        self.probe: dict[str, Any] = {}
        self.cited: str | None = None  # the cited source's text, once the prompt was seen

    def reply(self, prompt: str) -> str:
        from rag.text import sentence_spans

        self.cited = None
        for n, path, text in _SOURCE.findall(prompt):
            if path == self.probe["source"] and self.probe["anchor"] in text:
                self.cited = text
                fillers = [text[s:e].strip() for s, e in sentence_spans(text)
                           if self.probe["anchor"] not in text[s:e] and len(text[s:e].split()) >= 6]
                return " ".join([f"{self.probe['claim']} [{n}]"] + [f"{f} [{n}]" for f in fillers[:2]])
        return "The documents do not say."


def serve(script: Script) -> tuple[ThreadingHTTPServer, str]:
    """The scripted OpenAI-compatible server on a free loopback port; (server, base URL)."""
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._json({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
            text = script.reply(prompt)
            if not body.get("stream"):
                self._json({"id": "x", "object": "chat.completion", "model": "scripted", "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in re.split(r"(?<= )", text) + [None]:
                delta = {"content": piece} if piece is not None else {}
                chunk = {"id": "x", "object": "chat.completion.chunk", "model": "scripted", "choices": [
                    {"index": 0, "delta": delta, "finish_reason": None if piece is not None else "stop"}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def _json(self, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


class CheckTimer:
    """Wraps rag.cite.check_sentences (and rag.claims.contradiction and .unverified, where they exist): the time of each
    check, the part of it spent reading claims, and what the check returned."""

    def __init__(self) -> None:
        import rag.cite

        self.original = rag.cite.check_sentences
        self.calls: list[tuple[float, float, list[Any]]] = []
        self.reading = 0.0
        rag.cite.check_sentences = self  # type: ignore[assignment]
        try:
            import rag.claims
        except ImportError:  # today's checker, before rag.claims
            return
        for name in ("contradiction", "unverified"):  # unverified: since the verified-words check
            if hasattr(rag.claims, name):
                setattr(rag.claims, name, self._timed(getattr(rag.claims, name)))

    def _timed(self, read: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return read(*args, **kwargs)
            finally:
                self.reading += time.perf_counter() - t

        return timed

    def __call__(self, *args: Any, **kwargs: Any) -> list[Any]:
        t, reading = time.perf_counter(), self.reading
        out = self.original(*args, **kwargs)
        self.calls.append((time.perf_counter() - t, self.reading - reading, out))
        return out


def load_nlp_ms() -> float | None:
    """Time to load the claim reader's model (paid once per process, before the first check)."""
    try:
        from rag.claims import warm_up
    except ImportError:
        return None
    t = time.perf_counter()
    warm_up()
    return round((time.perf_counter() - t) * 1000, 1)


def engine_for(corpus: str, base_url: str, tmp: Path, bbc_index: Path, bbc_docs: Path | None) -> Any:
    from rag.service import Engine

    extra = {"llm": "openai", "llm_base_url": base_url, "llm_model": "scripted", "llm_retries": 0,
             "llm_timeout": 30}
    if corpus == "seed":
        docs = tmp / "seed-docs"
        docs.mkdir()
        for f in (ROOT / "seeds").glob("*.txt"):
            shutil.copy(f, docs / f.name)
        engine = Engine(settings_for(docs, tmp / "seed-index", **extra))
        engine.index()
        return engine
    if not bbc_index.exists():
        raise SystemExit(f"no BBC index at {bbc_index}: copy the lead's (cp -r) or run bench/bench_index.py --keep")
    return Engine(settings_for(bbc_docs or bbc_corpus(), bbc_index, **extra))


def play(probe: dict[str, Any], engine: Any, script: Script, timer: CheckTimer) -> dict[str, Any]:
    from rag.service import answer

    script.probe = probe
    before = len(timer.calls)
    result = answer(probe["question"], engine=engine, llm="openai")
    row = {"id": probe["id"], "label": probe["label"], "kind": probe["kind"], "corpus": probe["corpus"]}
    if script.cited is None:
        return {**row, "status": "not_retrieved"}
    if probe.get("fact_anchor") and probe["fact_anchor"] in script.cited:
        return {**row, "status": "invalid"}
    seconds, reading, checked = timer.calls[before]
    first = checked[0]
    return {**row, "status": first.status, "reason": getattr(first, "reason", ""),
            "check_ms": round(seconds * 1000, 2), "reading_ms": round(reading * 1000, 2),
            "sentences": len(checked), "answerer": result.answerer}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [r for r in rows if r["status"] in ("supported", "weak", "unsupported")]
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in scored:
        by_kind[f"{r['label']}:{r['kind']}"].append(r)
    kinds = {}
    for key, items in sorted(by_kind.items()):
        n = len(items)
        counts = Counter(r["status"] for r in items)
        figure = ({"caught": round(1 - counts["supported"] / n, 3)} if key.startswith("falsified")
                  else {"unsupported": round(counts["unsupported"] / n, 3),
                        "supported": round(counts["supported"] / n, 3)})
        kinds[key] = {"n": n, **figure, "counts": dict(counts)}
    fals = [r for r in scored if r["label"] == "falsified"]
    faith = [r for r in scored if r["label"] == "faithful"]
    total = {"falsified_caught": round(sum(r["status"] != "supported" for r in fals) / max(1, len(fals)), 3),
             "faithful_unsupported": round(sum(r["status"] == "unsupported" for r in faith) / max(1, len(faith)), 3),
             "faithful_supported": round(sum(r["status"] == "supported" for r in faith) / max(1, len(faith)), 3),
             "left_out": dict(Counter(r["status"] for r in rows if r not in scored))}
    times = {f"{c}:{part}": percentiles([r[f"{part}_ms"] for r in scored if r["corpus"] == c])
             for c in ("seed", "bbc") if sum(r["corpus"] == c for r in scored) > 2 for part in ("check", "reading")}
    return {"kinds": kinds, "total": total, "check_time": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "heldout", "heldout2", "heldout3", "all"), default="dev")
    parser.add_argument("--corpus", choices=("seed", "bbc", "all"), default="all")
    parser.add_argument("--misses", action="store_true", help="print every probe scored wrong")
    parser.add_argument("--bbc-index", type=Path, default=BBC_INDEX, help="the BBC index (default %(default)s)")
    parser.add_argument("--bbc-docs", type=Path, help="the documents of that index (default: the BBC corpus)")
    args = parser.parse_args()
    probes = [json.loads(line) for line in PROBES.read_text(encoding="utf-8").splitlines() if line.strip()]
    probes = [p for p in probes if args.split in ("all", p["split"]) and args.corpus in ("all", p["corpus"])]
    script = Script()
    server, base_url = serve(script)
    timer = CheckTimer()
    nlp_load_ms = load_nlp_ms()
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for corpus in ("seed", "bbc"):
                todo = [p for p in probes if p["corpus"] == corpus]
                if not todo:
                    continue
                engine = engine_for(corpus, base_url, Path(tmp), args.bbc_index, args.bbc_docs)
                play(todo[0], engine, script, timer)  # warm-up: first answer of the engine, not scored
                rows += [play(p, engine, script, timer) for p in todo]
    finally:
        server.shutdown()
    report = {"machine": machine(), "split": args.split, "probes": len(probes), "bbc_index": str(args.bbc_index),
              **summary(rows),
              "nlp_load_ms": nlp_load_ms}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"checker-{args.split}.json").write_text(json.dumps({**report, "rows": rows}, indent=1))
    print(json.dumps(report, indent=1))
    if args.misses:
        for r in rows:
            wrong = (r["label"] == "falsified" and r["status"] == "supported") or (
                r["label"] == "faithful" and r["status"] == "unsupported")
            if wrong or r["status"] in ("not_retrieved", "invalid"):
                p = next(p for p in probes if p["id"] == r["id"])
                print(f"{r['id']} {r['kind']:13} {r['status']:13} {r.get('reason', '')!s:30} {p['claim']}")


if __name__ == "__main__":
    main()
