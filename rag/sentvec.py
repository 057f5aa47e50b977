"""Sentence vectors stored with their chunk, so that answering need not embed sentences.

The extractive answerer scores a question against the quotable sentences of the retrieved chunks
(`rag.text.quotable_spans`), and embedding them takes most of a first-time answer (about 100 ms for
the 12 best with ONNX Runtime on two cores; 300 ms for 16 with PyTorch on one). With
`Settings.sentence_vectors` on, `rag index` embeds each of those sentences on its own, as the
answerer would, and stores the vectors in the chunk's metadata (float16, base64: about 0.8 KB per
sentence); at answer time they go straight into the embedder's cache. The vectors differ only by
float16 rounding and batching noise (on the BBC set all 94 answers were identical); the cost moves
to indexing (about twice the embedding time). Chunks indexed without them are simply embedded at
answer time, as before.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from rag.embed import CachedEmbedder, Embedder
from rag.models import Chunk, Hit
from rag.text import quotable_spans


def sentences(chunk_text: str) -> list[str]:
    return [chunk_text[s:e] for s, e in quotable_spans(chunk_text)]


def pack(vectors: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vectors, dtype=np.float16).tobytes()).decode("ascii")


def unpack(packed: str, dimension: int) -> np.ndarray:
    return np.frombuffer(base64.b64decode(packed), dtype=np.float16).reshape(-1, dimension).astype(np.float32)


def with_sentence_vectors(chunks: Sequence[Chunk], embedder: Embedder) -> list[Chunk]:
    """The chunks, each carrying the packed vectors of its quotable sentences (one encode call; a
    sentence repeated in the overlap of two chunks is encoded once: 9% fewer characters on BBC)."""
    texts = [sentences(c.text) for c in chunks]
    unique = list(dict.fromkeys(t for ts in texts for t in ts))
    vectors = dict(zip(unique, embedder.encode_documents(unique), strict=True))
    dimension = embedder.dimension
    return [replace(chunk, sentence_vectors=pack(np.array([vectors[t] for t in ts], np.float32).reshape(-1, dimension)))
            for chunk, ts in zip(chunks, texts, strict=True)]


def remember_stored(hits: Sequence[Hit], embedder: CachedEmbedder) -> None:
    """Put the stored sentence vectors of the hits' chunks into the embedder's cache."""
    for hit in hits:
        packed = hit.chunk.sentence_vectors
        if not packed:
            continue
        texts = sentences(hit.chunk.text)
        vectors = unpack(packed, embedder.dimension)
        if len(vectors) == len(texts):  # written by this version's sentence splitter
            embedder.remember(texts, vectors)
