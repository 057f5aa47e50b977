"""Text made safe for a terminal: what a document or a file name holds must never act on the screen.

`terminal_safe` removes terminal escape sequences whole (CSI such as colours "\\x1b[31m", OSC such as
"\\x1b]0;title" or "\\x1b]52;c;..." that writes the clipboard, and other ESC sequences) and every other
C0/C1 control character, keeping new lines and tabs. `json_safe` does the same job for JSON output
without changing the data: C1 characters, which `json.dumps(ensure_ascii=False)` leaves raw, are
written as \\u escapes. `quoted_parts` keeps a "[2]" inside a quoted passage from passing for a marker;
`admin_refusal` keeps the web UI's document actions for logged-in users.
Left out: bidirectional-override characters (shown as they are).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.models import Answer

# OSC/DCS/APC/PM strings run to BEL or ST; CSI to its final byte; other ESC sequences are two characters
ESCAPES = re.compile(r"\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b\[[0-?]*[ -/]*[@-~]|\x1b[ -/]*[0-~]?"
                     r"|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x1b\x9c]*(?:\x07|\x9c)?")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 (but tab and new line) and C1
_C1 = re.compile(r"[\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """`text` without escape sequences and control characters (new lines and tabs kept)."""
    return CONTROL.sub("", ESCAPES.sub("", text))


def json_safe(dumped: str) -> str:
    """A `json.dumps(..., ensure_ascii=False)` result with its raw C1 characters escaped (same data)."""
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


def quoted_parts(answer: Answer) -> list[tuple[str, int]] | None:
    """(quote, citation number) of each part of an extractive answer, whose text is its quotes each followed
    by its marker; None for any other answer. A "[2]" inside a quote is document text, not a marker:
    shown from these parts, it can never pass for a citation."""
    parts = [(c.quote, c.n) for c in answer.citations]
    if not parts or answer.text != " ".join(f"{quote} [{n}]" for quote, n in parts):
        return None
    return parts


def admin_refusal(settings: Settings, request: Any) -> str | None:
    """Why the web request may not add, remove or rebuild documents, or None when it may: these need a
    logged-in user (ui_username/ui_password), unless ui_open_documents lets anyone who reaches the UI."""
    if settings.ui_open_documents or getattr(request, "username", None):
        return None
    return ("Refused: adding, removing and rebuilding documents need a login. Set ui_username and ui_password "
            "(or ui_open_documents = true on a machine only you use), then restart.")
