"""A ~20 MB text file is loaded and chunked without holding many copies of it (peak RSS, in a subprocess).

bench/bench_bigfile.py measures the same at 50 MB and runs the full `rag index` on request.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

_CHILD = r"""
import json, sys
from pathlib import Path
from rag.chunk import chunk_document
from rag.load import load, scan

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {key} in /proc/self/status")

base = status("VmRSS")
files, skipped = scan(Path(sys.argv[1]))
doc = load(files[0])
after_load = status("VmHWM")
chunks = chunk_document(doc, 800, 150)
every = max(1, len(chunks) // 2000)
print(json.dumps({"base": base, "load": after_load - base, "total": status("VmHWM") - base,
                  "chars": len(doc.text), "chunks": len(chunks), "skipped": len(skipped),
                  "ok": all(doc.text[c.start:c.end] == c.text for c in chunks[::every])}))
"""


def _write_prose(path: Path, mb: int) -> int:
    """About `mb` MB of varied sentences with curly quotes (so the text is a 2-byte-per-character str,
    the common worst case), a 1 MB line without a break and a 100 kB run without a space."""
    rng = random.Random(3)
    names = ["Ms Okafor", "The minister", "Dr Nguyen", "Analysts", "The council", "Mr Müller"]
    sentences = [f"{rng.choice(names)} said profits rose by {rng.randint(1, 99)}% in {rng.randint(1990, 2030)}, "
                 f"calling it “{rng.choice(['remarkable', 'a fluke', 'expected'])}” — for now." for _ in range(4000)]
    paragraphs = "\n\n".join(" ".join(sentences[i:i + 5]) for i in range(0, len(sentences), 5)) + "\n\n"
    long_line = " ".join(sentences)[:1_000_000] + "\n\n" + "x7" * 50_000 + "\n\n"
    with path.open("w", encoding="utf-8") as out:
        out.write(long_line)
        while out.tell() < mb * 1_000_000:
            out.write(paragraphs)
    return path.stat().st_size


def test_twenty_megabytes_load_and_chunk_in_bounded_memory(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    size_mb = _write_prose(docs / "big.txt", 20) / 1e6
    out = subprocess.run([sys.executable, "-c", _CHILD, str(docs)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    assert got["skipped"] == 0 and got["ok"] and got["chunks"] > 20_000
    assert got["chars"] > 0.85 * size_mb * 1e6  # (“—” are 3 bytes each in the file)
    # Loading holds the bytes (1x) and the 2-byte text (2x) at most once each: 3x; one more copy is 5x.
    assert got["load"] < 4 * size_mb + 30, got
    # Chunking adds the chunk texts (~1.2x the text) and the sentence offsets: ~6x in all (measured);
    # a loader or chunker holding a few extra copies of the text would pass 600 MB.
    assert got["total"] < 600, got
    print(f"{size_mb:.1f} MB file: load peak +{got['load']:.0f} MB, load+chunk peak +{got['total']:.0f} MB")
