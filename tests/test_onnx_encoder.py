"""Questions and answer sentences through ONNX Runtime: the same vectors as PyTorch, exported once,
and PyTorch whenever ONNX cannot be used."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from rag import onnx_encoder
from rag.embed import SentenceTransformerEmbedder

TEXTS = ["Who said the export controls had failed?", "DeepSeek said R1 cost $5.6 million to train.",
         "Nvidia lost almost $600bn in market value on Monday, the biggest one-day loss in US history. " * 8, "ok"]


def test_onnx_vectors_equal_the_pytorch_ones(embedder):
    assert embedder.onnx is not None, "the packaged model is exported and used"
    onnx_vectors = embedder.encode(TEXTS)
    torch_vectors = SentenceTransformerEmbedder("").encode(TEXTS)
    assert onnx_vectors.shape == torch_vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    assert (onnx_vectors * torch_vectors).sum(axis=1).min() > 0.9999
    assert [embedder.encode([t])[0] @ onnx_vectors[i] for i, t in enumerate(TEXTS)] == pytest.approx([1.0] * 4)


def test_the_model_is_exported_once_and_reused(tmp_path, monkeypatch):
    first = SentenceTransformerEmbedder("", onnx_cache=tmp_path)
    first.encode(["warm"])
    files = list(tmp_path.glob("embedder-*.onnx"))
    assert len(files) == 1 and not list(tmp_path.glob("*.part")), "one finished file, no leftovers"
    monkeypatch.setattr(onnx_encoder, "export", lambda *a: pytest.fail("exported again"))
    second = SentenceTransformerEmbedder("", onnx_cache=tmp_path)
    assert second.onnx is not None and second.encode(["again"]).shape == (1, 384)


def test_large_batches_stay_on_pytorch(embedder, monkeypatch):
    assert embedder.onnx is not None
    monkeypatch.setattr(embedder.onnx, "encode", lambda *a: pytest.fail("indexing batch went to ONNX"))
    texts = [f"chunk {i}" for i in range(SentenceTransformerEmbedder.SMALL_BATCH + 1)]
    assert embedder.encode(texts).shape == (33, 384)


def test_an_unusable_cache_falls_back_to_pytorch(tmp_path, caplog):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    e = SentenceTransformerEmbedder("", onnx_cache=blocker)
    with caplog.at_level(logging.WARNING, logger="rag.onnx_encoder"):
        vectors = e.encode(TEXTS[:2])
    assert e.onnx is None and vectors.shape == (2, 384)
    assert "using PyTorch" in caplog.text


def test_a_model_with_other_pooling_stays_on_pytorch(embedder, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling

    transformer = embedder.model[0]
    cls_model = SentenceTransformer(modules=[transformer, Pooling(384, pooling_mode="cls")], device="cpu")
    assert onnx_encoder.exportable(embedder.model)
    assert not onnx_encoder.exportable(cls_model)
    assert onnx_encoder.load(Path("unused"), tmp_path, lambda: cls_model) is None
    assert not list(tmp_path.iterdir())


def test_the_torch_backend_never_exports(tmp_path):
    from rag.config import Settings
    from rag.embed import embedder_for

    e = embedder_for(Settings(embed_backend="torch", model_cache=tmp_path))
    assert e.onnx is None and e.encode(["x"]).shape == (1, 384)
    assert embedder_for(Settings(model_cache=tmp_path)).onnx_cache == tmp_path


def _cached_file(cache: Path) -> Path:
    from rag.embed import packaged_model_path

    return onnx_encoder.cached_file(packaged_model_path(), cache)


def test_a_damaged_cache_file_is_exported_again(tmp_path, caplog):
    target = _cached_file(tmp_path)
    target.write_bytes(b"not an ONNX model, e.g. cut short by a full disk")
    e = SentenceTransformerEmbedder("", onnx_cache=tmp_path)
    with caplog.at_level(logging.WARNING, logger="rag.onnx_encoder"):
        vectors = e.encode(TEXTS[:2])
    assert e.onnx is not None and "exporting it again" in caplog.text
    assert target.stat().st_size > 1_000_000
    assert (vectors * SentenceTransformerEmbedder("").encode(TEXTS[:2])).sum(axis=1).min() > 0.9999


def test_a_cache_file_that_gives_other_vectors_is_not_used(embedder, tmp_path, caplog):
    """A loadable model with other weights (stale, or replaced after it was checked) must not answer
    questions: the kept probe vector catches it, PyTorch confirms, and the model is exported again."""
    import copy

    import torch

    SentenceTransformerEmbedder("", onnx_cache=tmp_path).encode(["checked once: the probe vector is kept"])
    target = _cached_file(tmp_path)
    assert onnx_encoder.probe_file(target).exists()
    other = copy.deepcopy(embedder.model)
    with torch.no_grad():
        other[0].auto_model.embeddings.word_embeddings.weight.mul_(0.5).add_(0.01)
    onnx_encoder.export(other, target)
    expected = onnx_encoder.pytorch_probe(embedder.model)
    tokenize = onnx_encoder.model_tokenizer(embedder.model)
    assert not onnx_encoder.agrees(onnx_encoder.OnnxEncoder(target, tokenize), expected)
    e = SentenceTransformerEmbedder("", onnx_cache=tmp_path)
    with caplog.at_level(logging.WARNING, logger="rag.onnx_encoder"):
        assert e.onnx is not None
    assert "differ from PyTorch" in caplog.text
    assert onnx_encoder.agrees(e.onnx, expected)


def test_the_file_tokenizer_cuts_text_as_sentence_transformers_does(embedder):
    from rag.embed import packaged_model_path

    from_file = onnx_encoder.file_tokenizer(packaged_model_path())
    assert from_file is not None
    assert onnx_encoder.same_tokens(from_file, onnx_encoder.model_tokenizer(embedder.model))
    texts = TEXTS + ["Nvidia " * 400, "\tTabs\nand newlines  ", "émigré façade Zürich 北京 😀"]
    got, want = from_file(texts), onnx_encoder.model_tokenizer(embedder.model)(texts)
    assert got["input_ids"].shape[1] == 256, "truncated at the model's max_seq_length"
    for name in onnx_encoder.INPUTS:
        assert np.array_equal(got[name], want[name]), name


def test_a_checked_model_answers_without_loading_torch(embedder, model_cache):
    """Once checked, a new process encodes questions with ONNX Runtime alone (rag ask, the chat)."""
    import subprocess
    import sys

    assert embedder.onnx is not None  # checked and exported in model_cache by this session
    script = ("import sys; from pathlib import Path; from rag.embed import SentenceTransformerEmbedder; "
              f"e = SentenceTransformerEmbedder('', onnx_cache=Path({str(model_cache)!r})); "
              "v = e.encode(['Who said the export controls had failed?']); "
              "print(e.dimension, round(float(v[0] @ v[0]), 4), 'torch' in sys.modules, "
              "'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == ["384", "1.0", "False", "False"]


def test_kept_tokens_that_no_longer_match_send_the_check_back_to_pytorch(embedder, tmp_path, monkeypatch):
    """Should the tokenizer change (another `tokenizers`), the file tokenizer is not trusted unchecked."""
    import json

    SentenceTransformerEmbedder("", onnx_cache=tmp_path).encode(["checked once"])
    kept = onnx_encoder.probe_file(_cached_file(tmp_path))
    data = json.loads(kept.read_text())
    data["tokens"][0][1] += 1
    kept.write_text(json.dumps(data))
    loaded, pytorch = [], embedder.model
    monkeypatch.setattr(SentenceTransformerEmbedder, "model", property(lambda self: loaded.append(1) or pytorch))
    again = SentenceTransformerEmbedder("", onnx_cache=tmp_path)
    assert again.onnx is not None and loaded, "checked against PyTorch again"
    assert json.loads(kept.read_text())["tokens"][0][1] == data["tokens"][0][1] - 1, "probe file rewritten"


def test_a_new_export_removes_the_ones_it_supersedes(tmp_path):
    """The same model folder exported under an older key (another torch, changed model files) is
    deleted once the new file is checked; another model's export stays."""
    import json

    from rag.embed import packaged_model_path

    def planted(key: str, model_dir: str) -> Path:
        onnx_file = tmp_path / f"embedder-{key}.onnx"
        onnx_file.write_bytes(b"an older export")
        onnx_encoder.probe_file(onnx_file).write_text(json.dumps({"probe": [], "model_dir": model_dir}))
        return onnx_file

    superseded = planted("0000000000000000", str(packaged_model_path()))
    other_model = planted("1111111111111111", "/models/another")
    SentenceTransformerEmbedder("", onnx_cache=tmp_path).encode(["export and check"])
    assert not superseded.exists() and not onnx_encoder.probe_file(superseded).exists()
    assert other_model.exists() and onnx_encoder.probe_file(other_model).exists()
    assert _cached_file(tmp_path).exists()
