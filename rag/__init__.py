"""rag: question answering over your documents, every answer cited and checked.

    >>> import rag
    >>> rag.answer("Who claimed what about export controls?").text   # doctest: +SKIP

`answer` is the one service function the CLI, the web UI and the evaluation call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Answer", "Citation", "Settings", "answer", "get_engine"]

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.models import Answer, Citation
    from rag.service import answer, get_engine


def __getattr__(name: str) -> Any:  # lazy, so `import rag` and `rag --help` stay instant
    if name in ("answer", "get_engine"):
        from rag import service

        return getattr(service, name)
    if name == "Settings":
        from rag.config import Settings

        return Settings
    if name in ("Answer", "Citation"):
        from rag import models

        return getattr(models, name)
    raise AttributeError(name)
