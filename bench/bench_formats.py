"""Indexing speed per document format: the same BBC articles written as .txt, .pdf, .docx, .pptx, .xlsx,
.xls, .csv, .epub, .eml, .json and .xml, read alone and indexed alone (files per second for each kind).

    .venv/bin/python bench/bench_formats.py [--files 40]

Each format gets the same `--files` articles (a title and its paragraphs): a Word file with a heading
per article and a paragraph each, a deck with a slide per paragraph, a sheet (and a CSV, JSON and XML
file) with a row per paragraph (number, first words, text), an e-book with a chapter per paragraph, an
e-mail with the article as its body. "read" is `rag.load.load` alone (parsing, in this process; the
median of three passes); "index" is a fresh
`build_index` of that format's folder (read + chunk + embed + write), the model loaded beforehand.
Needs the test extras (xlwt, reportlab build the .xls and .pdf files).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape

from common import bbc_corpus, record, settings_for

Article = tuple[str, list[str]]


def articles(n: int) -> list[Article]:
    files = sorted(bbc_corpus().glob("*/*.txt"))[:: max(1, 2225 // n)][:n]
    found = []
    for path in files:
        lines = [line.strip() for line in path.read_text(encoding="latin-1").splitlines() if line.strip()]
        found.append((lines[0], lines[1:]))
    return found


def _rows(article: Article) -> list[list[str]]:
    return [["Paragraph", "Opening", "Text"]] + [[str(i), " ".join(p.split()[:4]), p]
                                                 for i, p in enumerate(article[1], 1)]


def write_docx(path: Path, article: Article) -> None:
    import docx

    document = docx.Document()
    document.add_heading(article[0], level=1)
    for paragraph in article[1]:
        document.add_paragraph(paragraph)
    document.save(str(path))


def write_pptx(path: Path, article: Article) -> None:
    from pptx import Presentation

    deck = Presentation()
    for paragraph in article[1]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = article[0]
        slide.placeholders[1].text = paragraph
    deck.save(str(path))


def write_xlsx(path: Path, article: Article) -> None:
    from openpyxl import Workbook

    book = Workbook()
    for row in _rows(article):
        book.active.append(row)
    book.save(str(path))


def write_xls(path: Path, article: Article) -> None:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Article")
    for r, row in enumerate(_rows(article)):
        for c, value in enumerate(row):
            sheet.write(r, c, value[:32000])
    book.save(str(path))


def write_csv(path: Path, article: Article) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(_rows(article))


def write_epub(path: Path, article: Article) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier(path.stem)
    book.set_title(article[0])
    chapters = []
    for n, paragraph in enumerate(article[1], 1):
        chapter = epub.EpubHtml(title=f"Part {n}", file_name=f"c{n}.xhtml")
        chapter.content = f"<html><body><h1>Part {n}</h1><p>{escape(paragraph)}</p></body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = chapters
    epub.write_epub(str(path), book)


def write_eml(path: Path, article: Article) -> None:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = article[0], "news@example.org", "reader@example.org"
    message.set_content("\n\n".join(article[1]))
    path.write_bytes(bytes(message))


def write_json(path: Path, article: Article) -> None:
    header, *rows = _rows(article)
    path.write_text(json.dumps({"title": article[0], "paragraphs": [dict(zip(header, r, strict=True)) for r in rows]}))


def write_xml(path: Path, article: Article) -> None:
    body = "".join(f"<p><n>{i}</n><text>{escape(p)}</text></p>" for i, p in enumerate(article[1], 1))
    path.write_text(f"<article><title>{escape(article[0])}</title>{body}</article>", encoding="utf-8")


def write_pdf(path: Path, article: Article) -> None:
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    story = [Paragraph(escape(article[0]), styles["Title"])]
    story += [Paragraph(escape(p), styles["BodyText"]) for p in article[1]]
    SimpleDocTemplate(str(path)).build(story)


def write_txt(path: Path, article: Article) -> None:
    path.write_text(article[0] + "\n\n" + "\n\n".join(article[1]), encoding="utf-8")


WRITERS = {".txt": write_txt, ".pdf": write_pdf, ".docx": write_docx, ".pptx": write_pptx, ".xlsx": write_xlsx,
           ".xls": write_xls, ".csv": write_csv, ".epub": write_epub, ".eml": write_eml, ".json": write_json,
           ".xml": write_xml}


def measure(folder: Path, embedder: object) -> dict[str, float]:
    from rag.indexer import build_index
    from rag.load import load, scan

    files, _ = scan(folder)
    runs = []
    for _ in range(3):  # the median of three reads: the machine is shared
        t0 = time.perf_counter()
        for file in files:
            load(file)
        runs.append(time.perf_counter() - t0)
    read_s = sorted(runs)[1]
    settings = settings_for(folder, folder.parent / f"index{folder.name}")
    t0 = time.perf_counter()
    report = build_index(settings, embedder=embedder)  # type: ignore[arg-type]
    index_s = time.perf_counter() - t0
    return {"files": len(files), "skipped": len(report.skipped), "chunks": report.chunks_total,
            "read_files_per_s": round(len(files) / read_s, 1), "index_s": round(index_s, 1),
            "index_files_per_s": round(len(files) / index_s, 2),
            "chunks_per_s": round(report.chunks_total / index_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=40, help="articles per format (default 40)")
    args = parser.parse_args()
    from rag.embed import Embedder

    root = Path(tempfile.mkdtemp(prefix="rag-bench-formats-"))
    chosen = articles(args.files)
    embedder = Embedder(settings_for(root, root / "i").embed_model)
    embedder.encode(["warm up the model"])  # model load is not indexing time
    figures: dict[str, dict[str, float]] = {}
    for suffix, write in WRITERS.items():
        folder = root / suffix.strip(".")
        folder.mkdir()
        for n, article in enumerate(chosen):
            write(folder / f"a{n:03d}{suffix}", article)
        figures[suffix] = measure(folder, embedder)
        print(suffix, figures[suffix], flush=True)
    record("bench_formats", {"articles": len(chosen), "per_format": figures, "folder": str(root)})


if __name__ == "__main__":
    main()
