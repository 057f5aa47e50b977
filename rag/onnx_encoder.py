"""Small batches (a question, the sentences an answer scores) encoded with ONNX Runtime.

The same model and the same vectors (cosine to PyTorch's above 0.99999), about 1.5x faster on one
core (PyTorch's eager kernels cost most on small tensors), and it can use both cores of a small
machine without the slowdown PyTorch's thread pool shows under load. The model is exported once with
`torch.onnx` (needs the `onnx` package) into `cache_dir`, under a name keyed by the model's files and
the torch version, and checked: it must give PyTorch's vector for a probe sentence, and the model's
`tokenizer.json` (read with `tokenizers`) must cut sentences into PyTorch's tokens. That vector and
those tokens are kept beside the file (`.probe.json`); a later process checks against them and then
needs neither torch nor transformers to answer (`rag ask` starts in seconds, and the chat holds no
PyTorch model until it indexes). A file that gives another vector (damaged, stale) is checked
against PyTorch again and, failing that, exported again; a new export deletes the ones of the same
model folder it supersedes (made with another torch, or before the model's files changed). Only
models built of the sentence-transformers modules Transformer -> mean Pooling [-> Normalize] are
exported; any other model, or a failed export, stays on PyTorch (`load` returns None and says why
in the log). Indexing batches stay on PyTorch: there ONNX Runtime gains only about 1.2x.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SUPPORTED = ["Transformer", "Pooling", "Normalize"]
PROBE = "A sentence to check that the exported model encodes as PyTorch does."
MAX_THREADS = 4  # more threads only add overhead on batches of four sentences
# texts on which the file tokenizer must match the model's: plain, too long (truncated), odd spacing
# and punctuation, accents and CJK, a near-empty one
TOKENIZER_PROBES = [PROBE, "Nvidia lost almost $600bn in market value on Monday. " * 40,
                    "  DeepSeek’s R1—“cheap”,   (allegedly) 5.6m dollars!  ", "Café naïve 東京 Ünïcödé", "ok"]
Tokenize = Callable[[list[str]], dict[str, np.ndarray]]  # texts -> input_ids, attention_mask, token_type_ids


class OnnxEncoder:
    """Encodes like `SentenceTransformer.encode(..., normalize_embeddings=True)`.

    On up to MAX_THREADS cores, with spinning off: unlike PyTorch's spinning thread pool (see
    `rag.embed.Embedder`), idle workers sleep, so a busy machine does not punish it. 16 sentences,
    2 cores: 212 ms on one thread, 139 ms on two; with both cores kept busy by other processes,
    408 ms and 211 ms (medians, `bench/RESULTS.md`).
    """

    def __init__(self, onnx_file: Path, tokenize: Tokenize) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = min(MAX_THREADS, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads sleep
        self.tokenize = tokenize
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Longest texts first, in batches of similar length (as sentence-transformers does)."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        vectors: np.ndarray | None = None
        for i in range(0, len(texts), batch_size):
            rows = order[i:i + batch_size]
            features = self.tokenize([texts[j] for j in rows])
            feed = {name: features[name].astype(np.int64) for name in self.inputs}
            tokens = self.session.run(None, feed)[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            if vectors is None:
                vectors = np.zeros((len(texts), pooled.shape[1]), np.float32)
            vectors[rows] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        assert vectors is not None, "encode needs at least one text"
        return vectors


def tokenized(model: SentenceTransformer, texts: list[str]) -> dict[str, Any]:
    """The model's own tokenizer output (`preprocess` since sentence-transformers 6, `tokenize` before)."""
    preprocess = getattr(model, "preprocess", None) or model.tokenize
    return dict(preprocess(texts))


def model_tokenizer(model: SentenceTransformer) -> Tokenize:
    """The tokenizer sentence-transformers uses (needs the model loaded, with torch)."""
    return lambda texts: {name: tensor.numpy() for name, tensor in tokenized(model, texts).items()
                          if name in INPUTS}


def file_tokenizer(model_dir: Path) -> Tokenize | None:
    """The model folder's `tokenizer.json` set as sentence-transformers sets it (truncated at
    `max_seq_length`, padded to the longest text), without torch or transformers; None if the folder
    has no such files. `_ready` checks it against `model_tokenizer` before it is trusted."""
    try:
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        pad_token = json.loads((model_dir / "tokenizer_config.json").read_text()).get("pad_token", "[PAD]")
        pad_id = tokenizer.token_to_id(pad_token)
    except Exception:
        return None
    if not config.get("max_seq_length") or pad_id is None:
        return None
    tokenizer.enable_truncation(max_length=int(config["max_seq_length"]))
    tokenizer.enable_padding(pad_id=pad_id, pad_token=pad_token)

    def tokenize(texts: list[str]) -> dict[str, np.ndarray]:
        encodings = tokenizer.encode_batch(texts)
        return {"input_ids": np.array([e.ids for e in encodings]),
                "attention_mask": np.array([e.attention_mask for e in encodings]),
                "token_type_ids": np.array([e.type_ids for e in encodings])}

    return tokenize


def same_tokens(first: Tokenize, second: Tokenize) -> bool:
    a, b = first(TOKENIZER_PROBES), second(TOKENIZER_PROBES)
    return all(np.array_equal(a[name], b[name]) for name in INPUTS)


def exportable(model: SentenceTransformer) -> bool:
    """Transformer -> mean Pooling [-> Normalize]: the pipeline `OnnxEncoder.encode` reproduces."""
    if [type(module).__name__ for module in model] not in (SUPPORTED, SUPPORTED[:2]):
        return False
    pooling: Any = model[1]
    mode = getattr(pooling, "pooling_mode", None)  # sentence-transformers >= 6; older ones have a getter
    return (mode if mode is not None else pooling.get_pooling_mode_str()) == "mean"


def cache_key(model_dir: Path) -> str:
    """Changes when any file of the model, or the torch that exports it, changes."""
    digest = hashlib.sha256(version("torch").encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(model_dir)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def export(model: SentenceTransformer, target: Path) -> None:
    """Write the model's transformer (token embeddings out) as ONNX, atomically."""
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    sample = tokenized(model, ["an example sentence"])
    args = tuple(sample[name] for name in INPUTS)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".onnx.part")
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            transformer: Any = model[0]
            torch.onnx.export(TokenEmbeddings(transformer.auto_model.eval()), args, tmp,
                              input_names=list(INPUTS), output_names=["token_embeddings"],
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*INPUTS, "token_embeddings"]},
                              opset_version=17, dynamo=False)
        os.chmod(tmp, 0o644)  # the cache may be shared; mkstemp made it private
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def cached_file(model_dir: Path, cache_dir: Path) -> Path:
    """Where the model's export lives (or will) in `cache_dir`."""
    return cache_dir.expanduser() / f"embedder-{cache_key(model_dir)}.onnx"


def status(model_dir: Path, cache_dir: Path) -> str:
    """For `rag info`: the exported model in use, or that the first question will export it."""
    target = cached_file(model_dir, cache_dir)
    if target.exists():
        return f"ONNX Runtime ({target}, {target.stat().st_size / 1e6:.0f} MB)"
    return f"ONNX Runtime, once exported into {cache_dir} (on first use, about 12 s)"


def probe_file(target: Path) -> Path:
    """Beside the exported model: PyTorch's vector for PROBE, and its tokens for TOKENIZER_PROBES
    (when the file tokenizer gave the same)."""
    return target.with_suffix(".probe.json")


def agrees(encoder: OnnxEncoder, expected: np.ndarray) -> bool:
    """Whether the ONNX model gives the expected (PyTorch's) vector for the probe sentence: a stale
    or damaged file, or an export that went wrong, would silently change every answer."""
    return float(encoder.encode([PROBE], 1)[0] @ expected) > 0.999


def pytorch_probe(model: SentenceTransformer) -> np.ndarray:
    return np.asarray(model.encode([PROBE], normalize_embeddings=True, convert_to_numpy=True)[0], np.float32)


def _checked_earlier(model_dir: Path, target: Path) -> OnnxEncoder | None:
    """The encoder, without torch, when the file tokenizer still gives the tokens and the file the
    probe vector that were kept when PyTorch checked them."""
    try:
        kept = json.loads(probe_file(target).read_text())
        tokenize = file_tokenizer(model_dir) if kept.get("tokens") else None
        if tokenize is None or not target.exists():
            return None
        if not np.array_equal(tokenize(TOKENIZER_PROBES)["input_ids"], np.asarray(kept["tokens"])):
            return None
        encoder = OnnxEncoder(target, tokenize)
        return encoder if agrees(encoder, np.asarray(kept["probe"], np.float32)) else None
    except Exception:  # no probe file yet, unreadable, or a damaged model: check against PyTorch
        return None


def _keep_probe(target: Path, model_dir: Path, vector: np.ndarray, tokens: np.ndarray | None) -> None:
    """Write the probe file atomically; a read-only cache only means every process checks with PyTorch."""
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".probe.part")
        with os.fdopen(fd, "w") as out:
            json.dump({"probe": vector.tolist(), "tokens": None if tokens is None else tokens.tolist(),
                       "model_dir": str(model_dir)}, out)
        os.chmod(tmp, 0o644)
        os.replace(tmp, probe_file(target))
    except OSError as exc:
        log.info("could not keep the probe vector beside %s (%s)", target, exc)
        return
    _remove_superseded(target, model_dir)


def _remove_superseded(target: Path, model_dir: Path) -> None:
    """Delete the exports of the same model folder made before this one (another torch, or the
    model's files changed): 90 MB each. Exports of other models, and files of older rag versions
    (no probe file), are left alone."""
    for other in target.parent.glob("embedder-*.probe.json"):
        if other == probe_file(target):
            continue
        try:
            if json.loads(other.read_text()).get("model_dir") == str(model_dir):
                other.with_name(other.name.removesuffix(".probe.json") + ".onnx").unlink(missing_ok=True)
                other.unlink()
        except (OSError, ValueError, AttributeError):
            continue


def _ready(model: SentenceTransformer, model_dir: Path, target: Path) -> OnnxEncoder:
    if not target.exists():
        log.info("exporting the embedding model to ONNX (once): %s", target)
        export(model, target)
    reference, from_file = model_tokenizer(model), file_tokenizer(model_dir)
    same = from_file is not None and same_tokens(from_file, reference)
    encoder = OnnxEncoder(target, from_file if same and from_file else reference)
    expected = pytorch_probe(model)
    if not agrees(encoder, expected):
        raise ValueError("its vectors differ from PyTorch's")
    _keep_probe(target, model_dir, expected, reference(TOKENIZER_PROBES)["input_ids"] if same else None)
    return encoder


def load(model_dir: Path, cache_dir: Path, model: Callable[[], SentenceTransformer]) -> OnnxEncoder | None:
    """The ONNX encoder of the model in `model_dir`, exported into `cache_dir` on first use (again if
    the file there is unreadable or gives other vectors); None to stay on PyTorch, with the reason
    logged. `model()` (the PyTorch model) is called only when the file has not been checked before."""
    target = cached_file(model_dir, cache_dir)
    if (encoder := _checked_earlier(model_dir, target)) is not None:
        return encoder
    pytorch = model()
    if not exportable(pytorch):
        log.info("embedding model %s is not Transformer + mean pooling: encoding with PyTorch", model_dir)
        return None
    for attempt in range(2):
        existed = target.exists()
        try:
            return _ready(pytorch, model_dir, target)
        except Exception as exc:  # no onnx package, read-only cache, a damaged file: PyTorch still works
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        if attempt or not existed:
            break
        log.warning("discarding %s (%s); exporting it again", target, problem)
        try:
            target.unlink(missing_ok=True)
        except OSError:
            break
    log.warning("ONNX Runtime not used for question encoding (%s); using PyTorch", problem)
    return None
