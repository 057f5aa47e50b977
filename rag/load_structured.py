"""E-books, e-mails, JSON and XML as labelled text blocks (see rag.load_office for what a block is).

.epub: a block per chapter of the reading order (ebooklib), labelled by its first heading.
.eml (the standard library's e-mail parser) and .msg (extract-msg): Subject, From, To, Date, then the
body (the plain-text part, else the HTML one as text); attachments are named, not read.
.json: a block per top-level key or list item, leaves written "path: value" and a flat record on one
line ("name: Acme; revenue: 12"). .xml: a block per child of the root element, "tag: text" per element.
Encrypted e-books (DRM) and e-mails (S/MIME, PGP) and damaged files raise SkipFile with one line.
Left out: e-mail attachments' content, XML attributes other than on elements without text, JSON Lines.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from rag.errors import SkipFile, one_line
from rag.load_html import html_to_text
from rag.load_office import Block, as_sentence, check_container, short

_ENCRYPTED_MAIL = ("multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime")
_TEXT_SUFFIXES = (".xhtml", ".html", ".htm", ".xml")


def _epub_encrypted(path: Path) -> bool:
    """True when META-INF/encryption.xml lists a chapter (not only obfuscated fonts)."""
    with zipfile.ZipFile(path) as archive:
        try:
            listed = archive.read("META-INF/encryption.xml").decode("utf-8", "replace")
        except KeyError:
            return False
    return any(f'{suffix}"' in listed for suffix in _TEXT_SUFFIXES)


def _read_epub(path: Path) -> tuple[list[Block], str]:
    import warnings

    import ebooklib
    from bs4 import BeautifulSoup
    from ebooklib import epub

    check_container(path, ".epub")
    if _epub_encrypted(path):
        raise SkipFile("encrypted e-book (DRM); only DRM-free e-books can be read")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = epub.read_epub(str(path), options={"ignore_ncx": True})
    blocks: list[Block] = []
    for idref, *_ in book.spine:
        item = book.get_item_with_id(idref)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or isinstance(item, epub.EpubNav):
            continue
        markup = item.get_content().decode("utf-8", "replace")
        heading = BeautifulSoup(markup, "html.parser").find(["h1", "h2", "h3"])
        _, text = html_to_text(markup)
        name = short(heading.get_text(" ", strip=True)) if heading else ""
        number = len(blocks) + 1
        blocks.append((f"chapter {number} “{name}”" if name else f"chapter {number}", text))
    titles = book.get_metadata("DC", "title")
    return blocks, str(titles[0][0]) if titles else ""


def _mail_block(subject: str, sender: str, to: str, date: str, body: str, attachments: list[str]) -> Block:
    head = [f"{name}: {value}" for name, value in
            (("Subject", subject), ("From", sender), ("To", to), ("Date", date)) if value]
    if attachments:
        head.append("Attachments (not read): " + ", ".join(attachments))
    return "", "\n".join(head) + "\n\n" + body.strip()


def _eml_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    return html_to_text(content)[1] if part.get_content_type() == "text/html" else str(content)


def _read_eml(path: Path) -> tuple[list[Block], str]:
    with path.open("rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    if not message.keys() or message.defects and not message.get("From") and not message.get("Subject"):
        raise SkipFile("damaged or not an e-mail message (no headers)")
    if message.get_content_type() in _ENCRYPTED_MAIL and message.get_param("smime-type") != "signed-data":
        raise SkipFile("encrypted e-mail (S/MIME or PGP); only its recipient's key can read it")
    attachments = [str(p.get_filename()) for p in message.iter_attachments() if p.get_filename()]
    subject = str(message.get("Subject", "") or "")
    block = _mail_block(subject, str(message.get("From", "")), str(message.get("To", "")),
                        str(message.get("Date", "")), _eml_body(message), attachments)
    return [block], subject


def _read_msg(path: Path) -> tuple[list[Block], str]:
    import extract_msg

    try:
        message: Any = extract_msg.openMsg(str(path))
    except Exception as exc:  # extract-msg and olefile raise many kinds on a file that is not a .msg
        raise SkipFile(f"damaged or not an Outlook message: {one_line(exc, 100)}") from None
    try:
        if "SMIME" in str(getattr(message, "classType", "")).upper() and not getattr(message, "body", None):
            raise SkipFile("encrypted e-mail (S/MIME); only its recipient's key can read it")
        body = message.body or ""
        if not body.strip() and getattr(message, "htmlBody", None):
            body = html_to_text(message.htmlBody.decode("utf-8", "replace"))[1]
        names = [str(a.getFilename() or "") for a in getattr(message, "attachments", [])]
        subject = str(message.subject or "")
        block = _mail_block(subject, str(message.sender or ""), str(message.to or ""),
                            str(message.date or ""), body, [n for n in names if n])
        return [block], subject
    finally:
        message.close()


def _scalar(value: Any) -> str:
    return json.dumps(value) if value is None or isinstance(value, bool) else " ".join(str(value).split())


def _json_lines(value: Any, path: str) -> Iterator[str]:
    """"path: value" lines; a record of scalars on one line, a list of scalars joined by commas."""
    name = f"{path}: " if path else ""
    if isinstance(value, dict):
        if value and all(not isinstance(v, dict | list) for v in value.values()):
            fields = "; ".join(f"{k}: {_scalar(v)}" for k, v in value.items())
            yield as_sentence((f"{path} — " if path else "") + fields)
            return
        for key, inner in value.items():
            yield from _json_lines(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            yield as_sentence(name + ", ".join(_scalar(v) for v in value))
            return
        for i, inner in enumerate(value, start=1):
            yield from _json_lines(inner, f"{path}[{i}]")
    else:
        yield as_sentence(name + _scalar(value))


def _read_json(text: str) -> tuple[list[Block], str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SkipFile(f"unreadable JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if isinstance(data, dict):
        blocks = [(f"key “{short(str(k), 60)}”", "\n".join(_json_lines(v, str(k)))) for k, v in data.items()]
        title = next((str(data[k]) for k in ("title", "name") if isinstance(data.get(k), str)), "")
    elif isinstance(data, list):
        blocks = [(f"item {i}", "\n".join(_json_lines(v, ""))) for i, v in enumerate(data, start=1)]
        title = ""
    else:
        blocks, title = [("", _scalar(data))], ""
    return blocks, title


def _local(tag: Any) -> str:
    return str(tag).rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _words(text: str | None) -> str:
    return " ".join((text or "").split())


def _xml_lines(element: Any) -> Iterator[str]:
    """"tag: text" lines; an element whose children hold only text is one record line, like a table row:
    "book — id=bk2; title: Salt and Stone; author: Ada Mirren"."""
    name, children, text = _local(element.tag), list(element), _words(element.text)
    fields = [f"{_local(k)}={v}" for k, v in element.attrib.items()] + ([text] if text else [])
    if children and all(len(child) == 0 for child in children):
        fields += [f"{_local(c.tag)}: {_words(c.text)}" for c in children if _words(c.text)]
        yield as_sentence(f"{name} — " + "; ".join(fields))
    else:
        if fields:
            yield as_sentence(f"{name}: " + "; ".join(fields))
        for child in children:
            yield from _xml_lines(child)
    for child in children:
        if _words(child.tail):
            yield _words(child.tail)


def _read_xml(path: Path) -> tuple[list[Block], str]:
    from xml.etree import ElementTree

    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise SkipFile(f"unreadable XML: {exc}") from None
    children = list(root) or [root]
    blocks = [(f"element {i} <{_local(child.tag)}>", "\n".join(_xml_lines(child)))
              for i, child in enumerate(children, start=1)]
    title = next((" ".join(n.text.split()) for n in root.iter() if _local(n.tag) == "title" and n.text), "")
    return blocks, title


def read_structured(path: Path, suffix: str, read_text: Callable[[], str]) -> tuple[list[Block], str]:
    """(blocks, title) of an .epub, .eml, .msg, .json or .xml file."""
    if suffix == ".epub":
        return _read_epub(path)
    if suffix == ".eml":
        return _read_eml(path)
    if suffix == ".msg":
        return _read_msg(path)
    if suffix == ".json":
        return _read_json(read_text())
    if suffix == ".xml":
        return _read_xml(path)
    raise SkipFile(f"unsupported type {suffix}")
