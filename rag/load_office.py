"""Office files as text in labelled blocks: .docx (by heading), .pptx (by slide), .xlsx/.xlsm/.xls and .csv
(a block per row, each row written with its header: "Region: North; Revenue: 1.2M").

`read_office` reads one file into (text, title, sections): the blocks are joined by blank lines and each
section is (label, start, end) over the text, so a chunk never spans two blocks and its citation can
name "slide 3", "sheet Sales, row 7" or 'heading “Results”'. E-books, e-mails, JSON and XML are read by
rag.load_structured. An encrypted or damaged file raises SkipFile with one line saying so.
Left out: images and charts, comments, headers and footers, text boxes of Word files, formulas whose
value was never computed (an .xlsx written by a program, not by Excel, stores no values for them).
"""

from __future__ import annotations

import csv
import datetime as dt
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rag.errors import SkipFile, one_line

Block = tuple[str, str]  # (label, text)
Sections = tuple[tuple[str, int, int], ...]
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_KIND = {".docx": "Word file", ".pptx": "PowerPoint file", ".xlsx": "Excel file", ".xlsm": "Excel file",
         ".xls": "Excel file", ".epub": "e-book"}
_LABEL_MAX = 80
L = TypeVar("L", str, int)


def join_blocks(blocks: Iterable[tuple[L, str]]) -> tuple[str, tuple[tuple[L, int, int], ...]]:
    """The blocks' texts joined by blank lines, and (label, start, end) of each non-empty one (the label
    of a PDF page is its number)."""
    parts: list[str] = []
    sections: list[tuple[L, int, int]] = []
    pos = 0
    for label, text in blocks:
        text = text.strip()
        if not text:
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        parts.append(text)
        sections.append((label, pos, pos + len(text)))
        pos += len(text)
    return "".join(parts), tuple(sections)


def short(text: str, limit: int = _LABEL_MAX) -> str:
    """One line of at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def cell_text(value: Any) -> str:
    """A spreadsheet value as people read it: 3.0 -> "3", a date without its midnight time."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ", "minutes")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return " ".join(str(value).split())


def as_sentence(line: str) -> str:
    """The line with a full stop at its end: the answerer quotes sentences, never heading-like lines."""
    return line if not line or line.endswith((".", "!", "?")) else line + "."


def row_text(header: Sequence[str], values: Sequence[str]) -> str:
    """"name: value" for every filled cell of a row, as one sentence; a column without a header is named
    by its number."""
    pairs = []
    for i, value in enumerate(values):
        if value:
            name = header[i] if i < len(header) and header[i] else f"column {i + 1}"
            pairs.append(f"{name}: {value}")
    return as_sentence("; ".join(pairs))


def table_blocks(rows: Iterable[tuple[int, list[str]]], label: Callable[[int], str]) -> Iterator[Block]:
    """A block per row (row number, cell texts) after the header (the first row with a filled cell)."""
    header: list[str] | None = None
    for number, values in rows:
        if not any(values):
            continue
        if header is None:
            header = values
            continue
        yield label(number), row_text(header, values)


def _header_only(rows: list[tuple[int, list[str]]], label: Callable[[int], str]) -> list[Block]:
    """table_blocks, or the header alone when the table has no other row (it still says what it holds)."""
    blocks = list(table_blocks(rows, label))
    if not any(text for _, text in blocks):
        filled = [(n, v) for n, v in rows if any(v)]
        if filled:
            return [(label(filled[0][0]), "; ".join(v for v in filled[0][1] if v))]
    return blocks


def check_container(path: Path, suffix: str) -> None:
    """SkipFile for an encrypted Office/EPUB file (an OLE container instead of a zip) or a damaged one."""
    kind = _KIND.get(suffix, "file")
    with path.open("rb") as handle:
        head = handle.read(8)
    if head == _OLE_MAGIC:
        raise SkipFile(f"encrypted {kind} (needs a password); save it without one")
    if not zipfile.is_zipfile(path):
        raise SkipFile(f"damaged or not a real {suffix} file (not a zip archive)")


def _table_label(heading: str, table: int) -> Callable[[int], str]:
    prefix = f"{heading}, " if heading else ""
    return lambda row: f"{prefix}table {table}, row {row}"


def _read_docx(path: Path) -> tuple[list[Block], str]:
    import docx
    from docx.table import Table

    document = docx.Document(str(path))
    blocks: list[Block] = []
    heading, label, tables = "", "", 0
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            tables += 1
            rows = [(n, [cell_text(c.text) for c in row.cells]) for n, row in enumerate(item.rows, start=1)]
            blocks += _header_only(rows, _table_label(label, tables))
            continue
        style = (item.style.name if item.style is not None else "") or ""
        if style == "Title" or style.startswith("Heading"):
            heading = heading or item.text.strip()
            label = f"heading “{short(item.text)}”" if item.text.strip() else label
        if blocks and blocks[-1][0] == label and "table" not in blocks[-1][0]:
            blocks[-1] = (label, f"{blocks[-1][1]}\n{item.text}")
        else:
            blocks.append((label, item.text))
    return blocks, document.core_properties.title or heading


def _shape_lines(shapes: Iterable[Any]) -> Iterator[str]:
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_lines(shape.shapes)
        elif getattr(shape, "has_table", False) and shape.has_table:
            rows = [(n, [cell_text(c.text) for c in row.cells]) for n, row in enumerate(shape.table.rows, 1)]
            yield from (text for _, text in _header_only(rows, str))
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame.text


def _read_pptx(path: Path) -> tuple[list[Block], str]:
    from pptx import Presentation

    deck = Presentation(str(path))
    blocks: list[Block] = []
    first_title = ""
    for number, slide in enumerate(deck.slides, start=1):
        lines = list(_shape_lines(slide.shapes))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            lines += [f"Notes: {notes}"] if notes else []
        title_shape = slide.shapes.title
        first_title = first_title or (title_shape.text_frame.text.strip() if title_shape is not None else "")
        blocks.append((f"slide {number}", "\n".join(line for line in lines if line.strip())))
    return blocks, deck.core_properties.title or first_title


def _sheet_blocks(name: str, rows: Iterable[Sequence[Any]]) -> list[Block]:
    numbered = [(n, [cell_text(v) for v in row]) for n, row in enumerate(rows, start=1)]
    return _header_only(numbered, lambda n: f"sheet {short(name, 40)}, row {n}")


def _read_xlsx(path: Path) -> tuple[list[Block], str]:
    from openpyxl import load_workbook

    book = load_workbook(str(path), read_only=True, data_only=True)
    try:
        blocks = [b for sheet in book.worksheets for b in _sheet_blocks(sheet.title, sheet.iter_rows(values_only=True))]
        return blocks, book.properties.title or ""
    finally:
        book.close()


def _read_xls(path: Path) -> tuple[list[Block], str]:
    import io

    import xlrd

    try:  # xlrd logs to stdout unless given a log file
        book = xlrd.open_workbook(str(path), on_demand=True, logfile=io.StringIO())
    except Exception as exc:  # xlrd raises XLRDError, but also IndexError and struct.error on a damaged file
        if "encrypt" in str(exc).lower():
            raise SkipFile("encrypted Excel file (needs a password); save it without one") from None
        raise SkipFile(f"damaged or not a real .xls file: {one_line(exc, 100)}") from None
    try:
        blocks: list[Block] = []
        for sheet in book.sheets():
            rows = ([_xls_value(sheet.cell(r, c), book.datemode) for c in range(sheet.ncols)]
                    for r in range(sheet.nrows))
            blocks += _sheet_blocks(sheet.name, rows)
        return blocks, ""
    finally:
        book.release_resources()


def _xls_value(cell: Any, datemode: int) -> Any:
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            return xlrd.xldate_as_datetime(cell.value, datemode)
        except (ValueError, OverflowError):
            return cell.value
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    return None if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR) else cell.value


def read_csv(text: str) -> list[Block]:
    """A block per row, "row N" being the line's record number (the header is row 1)."""
    sample = text[:65536]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = list(csv.reader(text.splitlines(), dialect))
    except csv.Error as exc:
        raise SkipFile(f"unreadable CSV: {exc}") from None
    return _header_only([(n, [cell_text(v) for v in row]) for n, row in enumerate(rows, 1)], lambda n: f"row {n}")


_READERS: dict[str, Callable[[Path], tuple[list[Block], str]]] = {
    ".docx": _read_docx, ".pptx": _read_pptx, ".xlsx": _read_xlsx, ".xlsm": _read_xlsx,
}


def read_office(path: Path, suffix: str, read_text: Callable[[], str]) -> tuple[str, str, Sections]:
    """(text, title, sections) of an office, e-book, e-mail, CSV, JSON or XML file; title may be ""."""
    if suffix in _READERS:
        check_container(path, suffix)
        blocks, title = _guarded(lambda: _READERS[suffix](path), suffix)
    elif suffix == ".xls":
        blocks, title = _read_xls(path)
    elif suffix == ".csv":
        blocks, title = read_csv(read_text()), ""
    else:
        from rag.load_structured import read_structured

        blocks, title = read_structured(path, suffix, read_text)
    text, sections = join_blocks(blocks)
    return text, short(title, 200), sections


def _guarded(read: Callable[[], tuple[list[Block], str]], suffix: str) -> tuple[list[Block], str]:
    """The reader's result; a damaged archive (missing part, bad XML) becomes one SkipFile line."""
    try:
        return read()
    except SkipFile:
        raise
    except Exception as exc:  # python-docx, python-pptx and openpyxl raise many kinds on a damaged archive
        raise SkipFile(f"damaged {_KIND.get(suffix, suffix)}: {one_line(exc, 100)}") from None
