"""Crash safety of `rag index`: SIGKILL at random points, and two indexers at once.

The killed indexer is the real `rag` command (rag.cli.app) in a subprocess, with markers printed to
stdout at each stage (embedding, each Chroma write or delete, the BM25 rebuild, the switch of a
`--rebuild`, the deletion of the old generation), so a kill lands at a chosen stage plus a random delay.
The seed and every kill point are printed: `CRASH_TEST_SEED=<seed>` replays a failing run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest

from helpers import ROOT, SEED_FILE, SEEDS, make_settings
from rag.chroma_client import forget_local_client
from rag.chunk import chunk_document
from rag.config import Settings
from rag.indexer import build_index, index_lock
from rag.lexical import LexicalIndex, lexical_cache_dir, lexical_key, load_lexical
from rag.load import load, scan
from rag.service import Engine, answer
from rag.store import Store

QUESTION = "How much did DeepSeek say R1 cost to develop?"
WORDS = ("harbour ferry lantern orchard granite meadow copper violin glacier tram bakery compass "
         "falcon quarry willow beacon cellar tundra saddle pepper marble canal thistle ember").split()

# rag.cli.app with a line on stdout before each step worth killing in. Small batches make a small
# corpus take several embedding and write calls; a small call limit (as if documents were longer than
# Chroma takes in one call, over 5000 chunks) makes documents span calls.
DRIVER = textwrap.dedent("""
    import sys

    from chromadb.api.client import Client
    from chromadb.api.models.Collection import Collection

    import rag.indexer
    import rag.service
    import rag.store
    from rag.embed import SentenceTransformerEmbedder
    from rag.store import Store

    def mark(stage, fn):
        def marked(*args, **kwargs):
            print("STAGE", stage, flush=True)
            return fn(*args, **kwargs)
        return marked

    rag.indexer._EMBED_BATCH_CHUNKS = int(sys.argv[1])
    rag.store._WRITE_BATCH = int(sys.argv[2])
    if int(sys.argv[3]):
        Client.get_max_batch_size = lambda self, limit=int(sys.argv[3]): limit
    rag.service.build_index = mark("start", rag.service.build_index)
    SentenceTransformerEmbedder.encode = mark("embed", SentenceTransformerEmbedder.encode)
    Collection.upsert = mark("upsert", Collection.upsert)
    Collection.delete = mark("delete", Collection.delete)
    rag.indexer.build_lexical = mark("bm25", rag.indexer.build_lexical)
    Store.activate = mark("activate", Store.activate)
    Client.delete_collection = mark("drop", Client.delete_collection)

    from rag.cli import app

    app(sys.argv[4:], prog_name="rag")
""")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return {**env, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


def rag(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=cwd, capture_output=True, text=True,
                          env=_env(), timeout=600)


def rag_popen(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "rag", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())


def _note(rng: random.Random, title: str) -> str:
    """A short generated document: 1 to 4 paragraphs, so 1 to about 4 chunks."""
    paragraphs = [" ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))).capitalize() + "."
                           for _ in range(rng.randint(3, 6))) for _ in range(rng.randint(1, 4))]
    return f"{title}\n\n" + "\n\n".join(paragraphs) + "\n"


class Corpus:
    """The documents folder, and the chunk ids of every version of every file it ever held."""

    def __init__(self, root: Path, rng: random.Random, n: int) -> None:
        self.docs, self.rng, self.serial = root / "docs", rng, 0
        (self.docs / "notes").mkdir(parents=True)
        shutil.copy(SEEDS / SEED_FILE, self.docs / SEED_FILE)
        self.versions: dict[str, tuple[str, set[str]]] = {}  # doc sha -> (path, chunk ids)
        for _ in range(n):
            self.add()

    def notes(self) -> list[Path]:
        return sorted((self.docs / "notes").glob("*.txt"))

    def add(self) -> str:
        self.serial += 1
        path = self.docs / "notes" / f"note_{self.serial:03d}.txt"
        path.write_text(_note(self.rng, f"Note {self.serial}"))
        return path.name

    def mutate(self) -> str:
        added = [self.add() for _ in range(self.rng.randint(1, 3))]
        edited = self.rng.sample(self.notes(), self.rng.randint(1, 2))
        for path in edited:
            path.write_text(_note(self.rng, f"{path.stem} edited {self.rng.random():.6f}"))
        removed = self.rng.sample(self.notes(), self.rng.randint(0, 1))
        for path in removed:
            path.unlink()
        return f"+{added} ~{[p.name for p in edited]} -{[p.name for p in removed]}"

    def record(self, settings: Settings) -> None:
        for f in scan(self.docs)[0]:
            if f.sha not in self.versions:
                chunks = chunk_document(load(f), settings.chunk_size, settings.chunk_overlap)
                self.versions[f.sha] = (f.path, {c.id for c in chunks})


def check_index(settings: Settings, corpus: Corpus, embedder, complete: bool, split: bool = False) -> str:
    """Every indexed document whole (all its chunks, one version, or two whole ones when the kill fell between
    writing an edit and deleting the old version) or, if it was written in several calls (`split`), known to
    be part-written; Chroma's metadata, its vectors and BM25 agreeing on the chunk
    ids; with `complete`, exactly the folder's current documents, all whole."""
    chroma = settings.index_dir / "chroma"
    forget_local_client(chroma)
    try:
        store = Store(settings)
        collection = store.active()
        if collection is None:
            assert not complete, "a finished run leaves an active index"
            return "no active index"
        chunks = store.all_chunks(collection)
        by_source: dict[str, list] = defaultdict(list)
        for c in chunks:
            by_source[c.source].append(c)
        documents, partial = store.documents(collection), []
        for source, cs in by_source.items():
            shas = {c.doc_sha for c in cs}
            if len(shas) == 2:  # killed between writing an edit's new chunks and deleting the old: both answer
                assert not complete and documents[source].doc_sha == "", f"{source}: two versions, not known"
                assert all(c.id in corpus.versions[c.doc_sha][1] for c in cs)
                partial.append(source)
                continue
            assert len(shas) == 1, f"{source}: chunks of {len(shas)} versions in the index"
            path, ids = corpus.versions[shas.pop()]
            assert path == source
            if {c.id for c in cs} != ids:
                assert split and not complete, f"{source}: {len(cs)} of its {len(ids)} chunks are indexed"
                assert documents[source].doc_sha == "", f"{source}: part-written but not known to be"
                partial.append(source)
        ids = {c.id for c in chunks}
        assert collection.count() == len(ids)
        dense = store.query(collection, embedder.encode_queries(["harbour ferry"])[0], len(ids))
        assert {c.id for c, _ in dense} == ids, "the vectors and the metadata disagree"
        cached = LexicalIndex.load(lexical_cache_dir(settings), lexical_key(collection))
        assert cached is None or set(cached.ids) == ids, "the cached BM25 side has other chunks"
        assert set(load_lexical(store, collection).ids) == ids
        if complete:
            files = {f.path: f.sha for f in scan(corpus.docs)[0]}
            assert {s: cs[0].doc_sha for s, cs in by_source.items()} == files
            generations = [c if isinstance(c, str) else c.name for c in store.client.list_collections()]
            assert sorted(generations) == sorted([collection.name, f"{store.prefix}-pointer"])
        assert not list(settings.index_dir.glob("chroma.broken-*")), "a kill must not damage the index"
        return f"{len(by_source)} documents ({len(partial)} part-written), {len(ids)} chunks"
    finally:
        forget_local_client(chroma)


def answers_with_citations(data: dict) -> None:
    assert "$5.6 million" in data["text"] and data["citations"], data["text"]


def kill_indexer(args: list[str], cwd: Path, stage: str, nth: int, delay: float, batches: tuple[int, int],
                 log: Path) -> str:
    """Run the marked `rag index`; SIGKILL it `delay` s after its `nth` `stage` marker (or let it finish)."""
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", DRIVER, *map(str, batches), "index", *args], cwd=cwd,
                                stdout=subprocess.PIPE, stderr=err, text=True, env=_env())
        watchdog = threading.Timer(300, proc.kill)
        watchdog.start()
        seen, stages = 0, []
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                if line.startswith("STAGE "):
                    stages.append(line.split()[1])
                    if stages[-1] == stage and (seen := seen + 1) == nth:
                        time.sleep(delay)
                        proc.kill()
                        break
            code = proc.wait(60)
        finally:
            watchdog.cancel()
            proc.stdout.close()
    if code == -9:
        return f"killed after {len(stages)} steps (last {stages[-3:]})"
    assert code == 0, f"the indexer failed before its kill point: {log.read_text()[-2000:]}"
    return f"finished before {stage} #{nth} (steps: {len(stages)})"


# (command, stage): "time" is a random moment of embedding and writing; the first kill is of the first run
PLANS = [("index", "upsert"), ("index", "upsert"), ("index", "embed"), ("index", "delete"), ("index", "bm25"),
         ("index", "time"), ("rebuild", "upsert"), ("rebuild", "activate"), ("rebuild", "drop"), ("rebuild", "time")]


@pytest.mark.slow
def test_indexer_killed_ten_times_at_random_points_leaves_a_whole_index(tmp_path, embedder):
    seed = int(os.environ.get("CRASH_TEST_SEED", "20250601"))
    rng = random.Random(seed)
    print(f"\nCRASH_TEST_SEED={seed}")
    corpus = Corpus(tmp_path, rng, 18)
    settings = make_settings(tmp_path, corpus.docs)
    index = ["--docs", str(corpus.docs), "--index", str(settings.index_dir)]
    plans = PLANS[:1] + rng.sample(PLANS[1:], len(PLANS) - 1)
    started, split = time.perf_counter(), False
    for i, (mode, stage) in enumerate(plans):
        change = corpus.mutate() if i else "first run"
        corpus.record(settings)
        limit = 2 if i and (mode, stage) == ("index", "upsert") else 0
        batches = (rng.choice([4, 8]), 2 if stage == "upsert" else rng.choice([2, 3, 1000]), limit)
        split = split or bool(limit)
        nth = rng.randint(1, 3) if stage in ("embed", "upsert", "delete") else 1
        delay = rng.uniform(0, {"time": 1.5, "embed": 0.3}.get(stage, 0.05))
        args = index + (["--rebuild"] if mode == "rebuild" else [])
        t = time.perf_counter()
        what = kill_indexer(args, tmp_path, "embed" if stage == "time" else stage, nth, delay, batches,
                            tmp_path / f"kill{i}.log")
        print(f"[{i}] {mode} {change}; kill at {stage} #{nth} +{delay:.2f}s, batches {batches}: {what}"
              f" ({time.perf_counter() - t:.1f} s)")
        t = time.perf_counter()
        print(f"    after the kill: {check_index(settings, corpus, embedder, False, split)}")

        if i % 3 == 0:  # the real command answers (building the index first if the kill left none)
            asked = rag("ask", *index, "--json", QUESTION, cwd=tmp_path)
            assert asked.returncode == 0, asked.stderr
            assert "Traceback" not in asked.stderr
            answers_with_citations(json.loads(asked.stdout))
            print(f"    rag ask answered ({time.perf_counter() - t:.1f} s)")
        else:  # in-process, cheaper: a fresh engine on the index as the kill left it
            engine = Engine(settings, embedder)
            assert engine.ensure_index() is None, "an index killed mid-update is still usable as it is"
            answers_with_citations(answer(QUESTION, engine=engine).to_dict())
            forget_local_client(settings.index_dir / "chroma")
        if i % 2 == 1:  # the next run completes
            report = build_index(settings, embedder=embedder)
            print(f"    next run: {report.summary()} ({time.perf_counter() - t:.1f} s)")
        print(f"    then: {check_index(settings, corpus, embedder, i % 2 == 1, split)}")

    final = rag("index", *index, cwd=tmp_path)
    assert final.returncode == 0 and "Traceback" not in final.stderr, final.stderr
    print(f"final rag index: {final.stdout.strip().splitlines()[-1]}")
    print(f"    {check_index(settings, corpus, embedder, True)}")
    print(f"{len(plans)} kills in {time.perf_counter() - started:.0f} s")


def _busy_line(stderr: str) -> str:
    assert len(stderr.splitlines()) == 1 and "Traceback" not in stderr, stderr
    return stderr.strip()


def test_a_second_indexer_refuses_in_one_line_or_waits_for_the_first(tmp_path, embedder):
    rng = random.Random(7)
    corpus = Corpus(tmp_path, rng, 5)
    settings = make_settings(tmp_path, corpus.docs)
    index = ["--docs", str(corpus.docs), "--index", str(settings.index_dir)]

    lock = index_lock(settings)  # an indexer is running (held in-process: deterministic)
    try:
        busy = rag_popen("index", *index, cwd=tmp_path)
        asker = rag_popen("ask", *index, "--json", QUESTION, cwd=tmp_path)  # no index: must build, so waits
        _, busy_err = busy.communicate(timeout=300)
        assert busy.returncode == 1
        assert _busy_line(busy_err).startswith("error: another indexer is running on")
        assert asker.stderr is not None
        first_line = next(line for line in asker.stderr if line.strip() and "Loading" not in line)
        assert first_line == "No index yet: building it first.\n"
        time.sleep(1)
        assert asker.poll() is None, "rag ask waits for the lock"
    finally:
        lock.release()
    out, err = asker.communicate(timeout=300)
    assert asker.returncode == 0 and "Traceback" not in err, err
    answers_with_citations(json.loads(out))

    corpus.mutate()
    corpus.record(settings)
    first, second = rag_popen("index", *index, cwd=tmp_path), rag_popen("index", "--rebuild", *index, cwd=tmp_path)
    results = [(p, *p.communicate(timeout=300)) for p in (first, second)]
    for proc, out, err in results:
        assert "Traceback" not in out + err, err
        if proc.returncode:
            assert proc.returncode == 1
            assert _busy_line(err).startswith("error: another indexer is running on")
        else:
            assert "chunks embedded" in out
    assert 0 in {first.returncode, second.returncode}
    check_index(settings, corpus, embedder, True)
