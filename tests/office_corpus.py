"""A corpus of office, e-book, e-mail and data files built in the test run (nothing binary is committed).

`build_corpus(folder)` writes one file per format, each holding one fact nobody else states, and
returns the questions with the words their answer must hold and the location its citation must name.
`build_broken(folder)` writes a damaged and, where the format has one, an encrypted file of each kind.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


@dataclass(frozen=True)
class Fact:
    file: str
    question: str
    answer: str  # words the answer must hold
    location: str  # what the citation must name ("slide 3", "sheet Revenue, row 4", ...)


FACTS = (
    Fact("survey.docx", "How many grey seals did the harbour survey count on Skerry Island?", "412",
         "heading “Harbour Survey Results”"),
    Fact("survey.docx", "Who is the captain of the vessel Marigold?", "Ines Okafor",
         "heading “Fleet”, table 1, row 3"),
    Fact("review.pptx", "How many units did the Osprey project ship in March?", "7,300", "slide 3"),
    Fact("revenue.xlsx", "What was the Q3 revenue of Zephyr Mills?", "4.8 million", "sheet Revenue, row 3"),
    Fact("offices.xls", "In which city is the head office of Lumen Bakery?", "Bergen", "sheet Offices, row 3"),
    Fact("birds.csv", "What is the wingspan of the Andean condor?", "3.2 m", "row 3"),
    Fact("keeper.epub", "How long did Marta Quill keep the Brannock lighthouse?", "31 years",
         "chapter 2 “The Lighthouse Keeper”"),
    Fact("meeting.eml", "In which room will the moved board meeting be held?", "Copper Room", ""),
    Fact("fleet.json", "What is the home port of the ship Kestrel?", "Aberdeen", "key “ships”"),
    Fact("catalog.xml", "Who wrote the book Salt and Stone?", "Ada Mirren", "element 3 <book>"),
    Fact("tides.pdf", "How high was the spring tide at Porthkennack?", "6.4 metres", "page 2"),
)


def _docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Harbour annual report"
    document.add_heading("Introduction", level=1)
    document.add_paragraph("This report describes the work of the harbour trust during the year.")
    document.add_heading("Harbour Survey Results", level=1)
    document.add_paragraph("The harbour survey counted 412 grey seals on Skerry Island in 2024.")
    document.add_heading("Fleet", level=1)
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ("Vessel", "Captain", "Tonnage"), strict=True):
        cell.text = text
    for row in (("Heron", "Paul Dunmore", "120"), ("Marigold", "Ines Okafor", "85")):
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
    document.save(str(path))


def _pptx(path: Path) -> None:
    from pptx import Presentation

    deck = Presentation()
    for title, body in (("Quarterly review", "Results of the first quarter."),
                        ("Hiring", "Four engineers joined the platform team."),
                        ("Osprey project", "The Osprey project shipped 7,300 units in March.")):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.slides[2].notes_slide.notes_text_frame.text = "Mention the supplier delay."
    deck.save(str(path))


REVENUE = (("Company", "Quarter", "Revenue"), ("Zephyr Mills", "Q2", "3.1 million"),
           ("Zephyr Mills", "Q3", "4.8 million"), ("Alder Foods", "Q3", "2.2 million"))


def _xlsx(path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["Prepared by the finance team"])
    sheet = book.create_sheet("Revenue")
    for row in REVENUE:
        sheet.append(list(row))
    book.save(str(path))


def xls_bytes(rows: tuple[tuple[str, ...], ...], sheet_name: str) -> bytes:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet(sheet_name)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _epub(path: Path) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("keeper-1")
    book.set_title("Stories of the coast")
    book.set_language("en")
    chapters = []
    for n, (heading, text) in enumerate((("The Village", "The village sat below the cliffs."),
                                         ("The Lighthouse Keeper",
                                          "Marta Quill kept the Brannock lighthouse for 31 years.")), 1):
        chapter = epub.EpubHtml(title=heading, file_name=f"chap{n}.xhtml", lang="en")
        chapter.content = f"<html><body><h1>{heading}</h1><p>{text}</p></body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    epub.write_epub(str(path), book)


def _eml(path: Path) -> None:
    message = EmailMessage()
    message["Subject"] = "Board meeting moved"
    message["From"] = "Clara Voss <clara@example.org>"
    message["To"] = "board@example.org"
    message["Date"] = "Mon, 04 May 2026 09:00:00 +0000"
    message.set_content("Hello all,\n\nThe board meeting has moved to Thursday 14 May in the Copper Room.\n")
    message.add_attachment(b"agenda", maintype="application", subtype="octet-stream", filename="agenda.bin")
    path.write_bytes(bytes(message))


def _pdf(path: Path) -> None:
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    pdf.drawString(72, 720, "Tide tables for the south coast.")
    pdf.showPage()
    pdf.drawString(72, 720, "The spring tide at Porthkennack reached 6.4 metres in April.")
    pdf.save()


FLEET = ('{"title": "Fleet register", "ships": [{"name": "Kestrel", "home_port": "Aberdeen", "crew": 14},'
         ' {"name": "Puffin", "home_port": "Oban", "crew": 9}]}')
CATALOG = ("<catalog><title>Library catalogue</title><book id=\"bk1\"><title>Tidal Charts</title>"
           "<author>Owen Hale</author></book><book id=\"bk2\"><title>Salt and Stone</title>"
           "<author>Ada Mirren</author></book></catalog>")


def build_corpus(folder: Path) -> tuple[Fact, ...]:
    """One file per format in `folder`; the facts they hold."""
    folder.mkdir(parents=True, exist_ok=True)
    _docx(folder / "survey.docx")
    _pptx(folder / "review.pptx")
    _xlsx(folder / "revenue.xlsx")
    (folder / "offices.xls").write_bytes(xls_bytes(
        (("Company", "Head office", "Staff"), ("Fjord Ropes", "Oslo", "40"), ("Lumen Bakery", "Bergen", "12")),
        "Offices"))
    (folder / "birds.csv").write_text("Species,Habitat,Wingspan\nWandering albatross,Southern Ocean,3.5 m\n"
                                      "Andean condor,Andes,3.2 m\n", encoding="utf-8")
    _epub(folder / "keeper.epub")
    _eml(folder / "meeting.eml")
    (folder / "fleet.json").write_text(FLEET, encoding="utf-8")
    (folder / "catalog.xml").write_text(CATALOG, encoding="utf-8")
    _pdf(folder / "tides.pdf")
    return FACTS


def _encrypt_ooxml(plain: Path, target: Path) -> None:
    from msoffcrypto.format.ooxml import OOXMLFile

    with plain.open("rb") as source, target.open("wb") as out:
        OOXMLFile(source).encrypt("secret", out)


def _encrypted_epub(target: Path) -> None:
    with zipfile.ZipFile(target, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", "<container/>")
        archive.writestr("META-INF/encryption.xml", '<encryption><EncryptedData><CipherData>'
                         '<CipherReference URI="OEBPS/chap1.xhtml"/></CipherData></EncryptedData></encryption>')
        archive.writestr("OEBPS/chap1.xhtml", b"\x93\x11\xfe" * 50)


def _encrypted_eml(target: Path) -> None:
    message = EmailMessage()
    message["Subject"] = "Secret"
    message["From"] = "a@example.org"
    message.set_content(b"\x30\x82\x01\x00" * 20, maintype="application", subtype="pkcs7-mime",
                        params={"smime-type": "enveloped-data"}, filename="smime.p7m")
    target.write_bytes(bytes(message))


def _encrypted_xls(data: bytes) -> bytes:
    """The workbook with the record after its first BOF (INTERFACEHDR, 2 bytes) made a FILEPASS record, as
    Excel writes first in a password-protected workbook (same length: the OLE container stays valid)."""
    bof = data.find(b"\x09\x08\x10\x00")
    assert data[bof + 20:bof + 24] == b"\xe1\x00\x02\x00", "xlwt wrote another record after BOF"
    return data[:bof + 20] + b"\x2f\x00" + data[bof + 22:]


def _encrypted_pdf(plain: Path, target: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(str(plain)))
    writer.encrypt("secret")
    writer.write(str(target))


def build_broken(folder: Path, good: Path) -> dict[str, str]:
    """Damaged and encrypted files made from the good corpus in `good`; {file name: word its skip line holds}."""
    folder.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}
    for name in ("survey.docx", "review.pptx", "revenue.xlsx", "keeper.epub", "tides.pdf", "offices.xls"):
        stem, suffix = name.split(".")
        data = (good / name).read_bytes()
        (folder / f"{stem}-damaged.{suffix}").write_bytes(data[: len(data) // 3])
        expected[f"{stem}-damaged.{suffix}"] = "damaged" if suffix != "pdf" else "unreadable"
    for name in ("survey.docx", "review.pptx", "revenue.xlsx"):
        stem, suffix = name.split(".")
        _encrypt_ooxml(good / name, folder / f"{stem}-encrypted.{suffix}")
        expected[f"{stem}-encrypted.{suffix}"] = "encrypted"
    _encrypted_epub(folder / "keeper-encrypted.epub")
    _encrypted_eml(folder / "meeting-encrypted.eml")
    _encrypted_pdf(good / "tides.pdf", folder / "tides-encrypted.pdf")
    (folder / "offices-encrypted.xls").write_bytes(_encrypted_xls((good / "offices.xls").read_bytes()))
    expected.update({"keeper-encrypted.epub": "encrypted", "meeting-encrypted.eml": "encrypted",
                     "tides-encrypted.pdf": "encrypted", "offices-encrypted.xls": "encrypted"})
    damaged = {"meeting-damaged.eml": b"\x00\x01 not a message \xff" * 40,
               "fleet-damaged.json": b'{"ships": [{"name": "Kestrel",', "catalog-damaged.xml": b"<catalog><book>",
               "outlook-damaged.msg": b"not an outlook file" * 10, "birds-damaged.csv": b"\x00\xff\x01" * 300}
    for name, data in damaged.items():
        (folder / name).write_bytes(data)
    expected.update({"meeting-damaged.eml": "e-mail", "fleet-damaged.json": "JSON", "catalog-damaged.xml": "XML",
                     "outlook-damaged.msg": "Outlook", "birds-damaged.csv": "binary"})
    return expected
