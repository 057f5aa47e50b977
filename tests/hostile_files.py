"""Hostile files made in the run: a PDF whose pages share one huge compressed content stream."""

from __future__ import annotations

import zlib
from pathlib import Path


def bomb_pdf(path: Path, pages: int = 6, mb: int = 70) -> int:
    """A small PDF whose `pages` pages all draw one content stream of `mb` MB (text, then path operators)."""
    body = b"BT /F1 12 Tf 72 720 Td (Hello from the bomb) Tj ET\n" + b"0 0 m\n" * (mb * 1_000_000 // 6)
    stream = zlib.compress(body, 9)
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    font = 4 + pages
    objs += [f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
             f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode() for _ in range(pages)]
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, obj in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return len(out)
