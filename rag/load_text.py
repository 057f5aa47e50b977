"""Text files decoded to a str: .txt, .md and .html, and the .csv and .json rag.load_office reads.

`read_text` reads one file whole and returns its text with "\\n" line ends. UTF-8 is tried first (a BOM
is stripped; a UTF-16 BOM is honoured); a few NUL bytes are removed with a warning, many mean binary
content. Text that is not UTF-8 is decoded with the encoding charset-normalizer detects on a sample of
about 1 MiB around the first non-UTF-8 byte (a Western encoding wins a tie), with a warning naming the
file. Binary content raises SkipFile.
Left out: UTF-16/32 text without a BOM (seen as binary), the HTML <meta charset> (the bytes decide),
streaming of huge files (each is read whole).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rag.errors import SkipFile

_SAMPLE = 1 << 20  # bytes of a non-UTF-8 file its encoding is detected on
_WESTERN = ("cp1252", "latin_1", "iso8859_15")
Warn = Callable[[str], None]


def read_text(path: Path, name: str, warn: Warn) -> str:
    """The file's text with "\\n" line ends; the raw bytes are freed before the newline pass."""
    text = _decode(path.read_bytes(), name, warn)
    return text.replace("\r\n", "\n").replace("\r", "\n")  # no copy when there is nothing to replace


def _decode(raw: bytes, name: str, warn: Warn) -> str:
    """UTF-8 (BOM stripped), else the detected encoding with a warning; binary data is refused."""
    text: str | None = None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError:
            text = None
    if text is None:
        nuls = raw.count(b"\x00")
        if nuls > max(8, len(raw) // 1000):
            raise SkipFile("binary content")
        if nuls:
            warn(f"{name}: removed {nuls} NUL bytes")
            raw = raw.replace(b"\x00", b"")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            text = _decode_detected(raw, exc.start, name, warn)
    if _looks_binary(text):
        raise SkipFile("binary content")
    return text


def _decode_detected(raw: bytes, bad: int, name: str, warn: Warn) -> str:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(_sample(raw, bad)))
    if not matches:
        raise SkipFile("binary content")
    encoding = _prefer_western(matches).encoding
    warn(f"{name}: not valid UTF-8, decoded as {encoding}")
    return raw.decode(encoding, errors="replace")  # the sample decided; stray bytes elsewhere become U+FFFD


def _sample(raw: bytes, bad: int) -> bytes:
    """About _SAMPLE bytes holding the first non-UTF-8 byte, cut just after newlines where there are any
    (a newline is never inside a multi-byte character of the legacy encodings)."""
    if len(raw) <= _SAMPLE:
        return raw
    lo = max(0, bad - _SAMPLE // 4)
    hi = lo + _SAMPLE
    lo = raw.rfind(b"\n", max(0, lo - 4096), lo) + 1 or lo
    cut = raw.rfind(b"\n", hi - 4096, hi)
    return raw[lo:cut + 1 if cut > bad else hi]


def _prefer_western(matches: list[Any]) -> Any:
    """Among equally plausible decodings (short texts often tie), take the most common Western one."""
    best = matches[0]
    for match in matches:
        close = match.coherence >= best.coherence - 0.1
        if match.encoding in _WESTERN and match.chaos <= best.chaos and close:
            return match
    return best


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    control = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f\v")
    return control > len(sample) * 0.05
