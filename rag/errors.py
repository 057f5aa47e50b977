"""Every error rag raises on purpose. Each carries a one-line message fit to show a user as is.

The CLI prints `str(error)` and exits non-zero; the UI shows it in the chat; nothing else is caught.
`one_line` turns any other exception into such a line (for notices, skip reasons and health lines).
"""

from __future__ import annotations

import urllib.error


class RagError(Exception):
    """Base class: a problem the user can act on, described in one line."""


class ConfigError(RagError):
    """A setting or flag has a value rag cannot use."""


class NoDocumentsError(RagError):
    """The documents folder is missing or holds nothing that can be indexed."""


class IndexUnavailableError(RagError):
    """The index cannot be opened or read (missing, broken, or its server is down)."""


class IndexBusyError(RagError):
    """Another process is writing the index."""


class EmbeddingServerError(RagError):
    """The configured embeddings server could not be reached or failed to answer."""


class LLMError(RagError):
    """The configured LLM could not be reached or failed to answer."""


class QuestionError(RagError):
    """The question cannot be answered as asked (for example, it is empty)."""


class UploadError(RagError):
    """An uploaded file was refused (type, size or name)."""


class EvalSetError(RagError):
    """A question set cannot be read."""


class SkipFile(RagError):
    """This file cannot be indexed; the message says why in a few words (the index run goes on)."""


def one_line(error: BaseException | str, limit: int = 200) -> str:
    """An exception (or a text) as one short line: its first non-blank line, white space folded, cut
    to `limit` characters; an exception without a message gives its class name."""
    text = error if isinstance(error, str) else str(error)
    first = next((line for line in text.splitlines() if line.strip()), "")
    folded = " ".join(first.split())[:limit]
    return folded or ("" if isinstance(error, str) else type(error).__name__)


def failure_reason(exc: BaseException, limit: int = 160) -> str:
    """The useful line of a failure, for health lines: a URLError's reason, the cause of a RagError
    that wraps one, else `one_line`."""
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return failure_reason(exc.reason, limit) if isinstance(exc.reason, BaseException) else str(exc.reason)
    if isinstance(exc, RagError) and exc.__cause__ is not None:
        return failure_reason(exc.__cause__, limit)
    return one_line(exc, limit)
