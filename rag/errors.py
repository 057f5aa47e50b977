"""Every error rag raises on purpose. Each carries a one-line message fit to show a user as is.

The CLI prints `str(error)` and exits non-zero; the UI shows it in the chat; nothing else is caught.
"""

from __future__ import annotations


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


class LLMError(RagError):
    """The configured LLM could not be reached or failed to answer."""


class QuestionError(RagError):
    """The question cannot be answered as asked (for example, it is empty)."""


class UploadError(RagError):
    """An uploaded file was refused (type, size or name)."""


class EvalSetError(RagError):
    """A question set cannot be read."""
